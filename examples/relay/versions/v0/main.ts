// A relay version's main(ctx): build the runtime namespace R from this version's modules,
// register every callback by name, declare every state item, declare the subsystems, and on
// a fresh start create the listener and the periodic events. On an update the same code runs
// in updating mode: state comes from the previous version (through the transforms this
// version declares) and live events are rebound by the host to the handlers named here.
import type { VersionContext } from 'node-libevent/update';
import type { Callback } from 'node-libevent';
import type * as Constants from './constants.js';
import type * as Cells from './cells.js';
import type * as Link from './link.js';
import type * as Circuit from './circuit.js';
import type * as Relay from './relay.js';
import type * as Periodic from './periodic.js';
import type * as Directory from './directory.js';
import type * as Bus from './bus.js';
import type * as State from './state.js';
import { evolve } from './state.js';
import type { RelayOptions } from './types.js';

export interface Modules {
  constants: typeof Constants;
  /** A version's state table, and the version that last changed it. */
  state: Pick<typeof State, 'items' | 'changedIn'>;
  cells: typeof Cells;
  link: typeof Link;
  circuit: typeof Circuit;
  relay: typeof Relay;
  periodic: typeof Periodic;
  directory: typeof Directory;
  bus: typeof Bus;
  main: { run(ctx: VersionContext, modules: Modules, version: string): void };
  /** `constants.tables()`, built when the version loaded (load.ts). */
  tables?: Constants.Tables;
}

/** The relay's runtime for one loaded version: its modules' functions and the state items. */
export interface R {
  ctx: VersionContext;
  lib: VersionContext['lib'];
  version: string;
  T: Constants.Tables;
  S: any;
  h: Record<string, Callback>;
  cells: ReturnType<typeof Cells.create>;
  link: ReturnType<typeof Link.create>;
  circ: ReturnType<typeof Circuit.create>;
  relay: ReturnType<typeof Relay.create>;
  periodic: ReturnType<typeof Periodic.create>;
  dir: ReturnType<typeof Directory.create>;
  bus: ReturnType<typeof Bus.create>;
  now(): number;
  log(line: string): void;
}

export function run(ctx: VersionContext, M: Modules, version: string): void {
  const T = M.tables ?? M.constants.tables();
  const R = { ctx, lib: ctx.lib, version, T, S: {}, now: () => Date.now() / 1000, log: (line: string) => void process.stderr.write(`relay ${version}: ${line}\n`) } as unknown as R;
  R.cells = M.cells.create(R);
  R.link = M.link.create(R);
  R.circ = M.circuit.create(R);
  R.relay = M.relay.create(R);
  R.periodic = M.periodic.create(R);
  R.dir = M.directory.create(R);
  R.bus = M.bus.create(R);
  R.h = ctx.handlers({ ...R.link.handlers, ...R.circ.handlers, ...R.relay.handlers, ...R.periodic.handlers, ...R.dir.handlers });

  const env = { options: ctx.isUpdating() ? ({} as RelayOptions) : readOptions(), tables: T, ctx, h: R.h };
  // A version that did not change the state table inherits its predecessor's, whose
  // transforms convert from an older shape: they must not run again.
  const items = M.state.changedIn === version ? M.state.items : evolve(M.state.items, {});
  const declared: [string, unknown][] = [];
  for (const [key, item] of Object.entries(items)) {
    if (item.retire) {
      ctx.retire(key);
      continue;
    }
    const init = key === 'tables' ? () => T : item.init ? () => item.init!(env) : undefined;
    declared.push([key, ctx.state(key, init, { ...(item.transform ? { transform: item.transform } : {}), ...(item.migrate === false ? { migrate: false } : {}) })]);
  }
  // Made in one step: adding two dozen keys one by one to {} leaves V8 a dictionary-mode
  // object, and every S().circuits, S().stats... on the per-cell path was a hash lookup.
  R.S = Object.fromEntries(declared);
  ctx.subsystems([...R.bus.subsystems()].sort((a, b) => a.level - b.level), R.bus.options());
  R.S.versionLog.push({ version, at: Date.now() });
  if (!ctx.isUpdating()) R.periodic.startAll();
  else {
    R.periodic.reconcile();
    R.link.resumeAfterUpdate();
  }
}

function readOptions(): RelayOptions {
  const text = process.env.RELAY_OPTIONS;
  if (!text) throw new Error('RELAY_OPTIONS is not set');
  return JSON.parse(text) as RelayOptions;
}
