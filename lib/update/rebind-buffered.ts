// Rebinding bufferevents and listeners in an update. Their callbacks are JS functions held by
// the BufferEvent/Listener objects (libevent only ever calls the addon's fixed trampolines), so
// rebinding swaps functions there: no libevent call, no byte of their buffers touched, their
// watermarks, timeouts, enabled bits and rate limits unchanged. Like events, every callback
// must be a handler the old version named with ctx.handlers(), and the new version must
// provide that name (or its rename); otherwise the update is refused before anything changes.
import {
  type AcceptCallback,
  type BufferEvent,
  type BufferEventCallbacks,
  type Listener,
  type ListenOptions,
  liveBuffered,
  type RawAcceptCallback,
} from '../buffer/index.js';
import type { Callback, EventBase } from '../loop/index.js';
import type { UpdateContext } from './context.js';
import { UpdateError } from './errors.js';
import type { Running, Strategy, VersionModule } from './types.js';

/** A bufferevent's read or write callback. */
export type BufferEventDataHandler = NonNullable<BufferEventCallbacks['read']>;
/** A bufferevent's event callback (CONNECTED, EOF, ERROR, TIMEOUT; `err` with ERROR). */
export type BufferEventEventHandler = NonNullable<BufferEventCallbacks['event']>;
/** A listener's error callback (EMFILE, ENFILE, ...). */
export type ListenerErrorHandler = NonNullable<ListenOptions['error']>;
/**
 * Everything ctx.handlers() may name, so that a live update can rebind it: event callbacks,
 * bufferevent read/write/event callbacks, and listener accept/error callbacks.
 */
export type Handler = Callback | BufferEventDataHandler | BufferEventEventHandler | AcceptCallback | RawAcceptCallback | ListenerErrorHandler;

/** The live bufferevents and listeners before prepare (what to rebind, what a rollback keeps). */
export interface BufferedSnapshot {
  bufferevents: BufferEvent[];
  listeners: Listener[];
}

export interface BufferedRebindPlan {
  bufferevents: BufferEvent[];
  callbacks: BufferEventCallbacks[];
  listeners: Listener[];
  listenerCallbacks: [accept: Listener['onAccept'], error: Listener['onError']][];
}

export function snapshotBuffered(base: EventBase): BufferedSnapshot {
  return liveBuffered(base);
}

/** Maps every callback of every live bufferevent and listener to the new version's handler. */
export function planBufferedRebind(before: BufferedSnapshot, old: Running, ctx: UpdateContext, module: VersionModule, strategy: Strategy): BufferedRebindPlan {
  const plan: BufferedRebindPlan = { bufferevents: [], callbacks: [], listeners: [], listenerCallbacks: [] };
  const live = before.bufferevents.filter((b) => !b.freed);
  const listeners = before.listeners.filter((l) => !l.freed);
  if (live.length + listeners.length === 0) return plan;
  if (strategy === 'rebase') {
    throw new UpdateError(
      'ERR_STRATEGY_UNSUPPORTED',
      'rewire',
      `the 'rebase' strategy would free ${live.length} bufferevent(s) and ${listeners.length} listener(s) with the old base; use 'inplace'`,
    );
  }
  const renames = module.renames ?? {};
  const resolved = new Map<unknown, unknown>();
  const map = <F>(fn: F | undefined, what: () => string): F | undefined => {
    if (fn === undefined) return undefined;
    const hit = resolved.get(fn);
    if (hit !== undefined) return hit as F;
    const name = old.ctx.nameOfHandler.get(fn as never);
    if (name === undefined) {
      throw new UpdateError('ERR_UNNAMED_CALLBACK', 'rewire', `${what()} runs a callback that ${old.module.version} did not register with ctx.handlers(), so ${module.version} cannot replace it`);
    }
    const newName = Object.hasOwn(renames, name) ? renames[name]! : name;
    const next = ctx.handlerByName.get(newName);
    if (next === undefined) {
      throw new UpdateError('ERR_MISSING_HANDLER', 'rewire', `${what()} runs handler '${name}' of ${old.module.version}, and ${module.version} provides no handler '${newName}'`);
    }
    resolved.set(fn, next);
    return next as F;
  };
  for (const bev of live) {
    const cbs = bev.callbacks;
    const what = (k: string) => () => `a bufferevent (fd ${bev.fd}) ${k} callback`;
    plan.bufferevents.push(bev);
    plan.callbacks.push({ read: map(cbs.read, what('read')), write: map(cbs.write, what('write')), event: map(cbs.event, what('event')) });
  }
  for (const l of listeners) {
    const what = (k: string) => () => `a listener (port ${l.port}) ${k} callback`;
    plan.listeners.push(l);
    plan.listenerCallbacks.push([map(l.onAccept, what('accept'))!, map(l.onError, what('error'))]);
  }
  return plan;
}

/** Applies a plan (cannot fail: every function was resolved in prepare). Returns the objects rebound. */
export function commitBufferedRebind(plan: BufferedRebindPlan): number {
  plan.bufferevents.forEach((b, k) => {
    if (!b.freed) b._rebind(plan.callbacks[k]!);
  });
  plan.listeners.forEach((l, k) => {
    if (!l.freed) l._rebind(...plan.listenerCallbacks[k]!);
  });
  return plan.bufferevents.length + plan.listeners.length;
}

/** Frees the bufferevents and listeners made after `before` (a rolled-back prepare or start). */
export function freeBufferedCreatedSince(base: EventBase, before: BufferedSnapshot): void {
  const had = new Set<unknown>([...before.bufferevents, ...before.listeners]);
  const now = liveBuffered(base);
  for (const x of [...now.bufferevents, ...now.listeners]) if (!had.has(x) && !x.freed) x.free();
}
