import { describe, expect, it, vi } from 'vitest';
import {
  defineMessage,
  PubsubBuilder,
  PubsubConfigError,
  type Connector,
  type Hook,
  type PubsubFlags,
  type PubsubProblem,
} from '../../lib/pubsub/index.js';

const coconuts = defineMessage<number>('bunch_of_coconuts', 'int');
const bananas = defineMessage<string>('yes_we_have_no', 'string');

const intFns = { dispose: vi.fn(), format: (n: number) => `int:${n}` };
const stringFns = { format: (s: string) => `string:${s}` };
const onCoconuts: Hook<number> = () => {};
const onBananas: Hook<string> = () => {};

interface BaseOptions {
  sys2?: boolean;
  sys2Flags?: PubsubFlags;
  sys1PubFlags?: PubsubFlags;
  sys1SubFlags?: PubsubFlags;
  sys2PubFlags?: PubsubFlags;
  sys2SubFlags?: PubsubFlags;
}

/** Spec §2.6: sys1 publishes coconuts and subscribes bananas; sys2 the other way round. */
function base(opts: BaseOptions = {}) {
  const b = new PubsubBuilder();
  const sys1 = b.connector('sys1');
  sys1.registerType('int', intFns);
  const pubCoconuts = sys1.addPub('main', coconuts, opts.sys1PubFlags);
  sys1.addSub('main', bananas, onBananas, opts.sys1SubFlags);
  let pubBananas = null;
  if (opts.sys2 !== false) {
    const sys2 = b.connector('sys2');
    sys2.registerType('string', stringFns);
    pubBananas = sys2.addPub('main', bananas, opts.sys2PubFlags ?? opts.sys2Flags);
    sys2.addSub('main', coconuts, onCoconuts, opts.sys2SubFlags ?? opts.sys2Flags);
  }
  return { b, pubCoconuts, pubBananas };
}

function problemsOf(fn: () => unknown): readonly PubsubProblem[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PubsubConfigError);
    return (e as PubsubConfigError).problems;
  }
  throw new Error('expected a PubsubConfigError');
}

const texts = (ps: readonly PubsubProblem[]) => ps.map((p) => p.text);

describe('build-time checks (spec §6.4)', () => {
  it('B1: the base fixture finalizes; publishers point at the dispatcher until close()', () => {
    const { b, pubCoconuts, pubBananas } = base();
    const pubsub = b.finalize();
    expect(pubsub.registrations).toHaveLength(4);
    expect(pubsub.registrations.map((r) => `${r.subsystem} ${r.kind} ${r.message}`)).toEqual([
      'sys1 pub bunch_of_coconuts',
      'sys1 sub yes_we_have_no',
      'sys2 pub yes_we_have_no',
      'sys2 sub bunch_of_coconuts',
    ]);
    expect(pubCoconuts.dispatcher).toBe(pubsub.dispatcher);
    expect(pubBananas!.dispatcher).toBe(pubsub.dispatcher);
    const intId = pubsub.naming.types.find('int')!;
    const stringId = pubsub.naming.types.find('string')!;
    expect(pubsub.dispatcher.typeFnsOf(intId)?.format).toBe(intFns.format);
    expect(pubsub.dispatcher.typeFnsOf(stringId)?.format).toBe(stringFns.format);
    expect(pubsub.dispatcher.format(intId, 3)).toBe('int:3');
    pubsub.close();
    expect(pubCoconuts.dispatcher).toBeNull();
    expect(pubBananas!.dispatcher).toBeNull();
  });

  it('B2/B18: a type registered again with other functions fails at once and at finalize', () => {
    const { b } = base();
    const sys3 = b.connector('sys3');
    let err: unknown;
    try {
      sys3.registerType('int', { format: (n: number) => `other ${n}` });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PubsubConfigError);
    expect((err as PubsubConfigError).problems[0]!.code).toBe('type-redefined');
    // Registering the identical functions again, from anywhere, is fine.
    expect(() => sys3.registerType('int', intFns)).not.toThrow();
    const problems = problemsOf(() => b.finalize());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'type-redefined', type: 'int', subsystems: ['sys1', 'sys3'] });
    expect(problems[0]!.text).toBe(
      'Type "int" is registered by subsystem "sys3" with other dispose/format functions than the ones subsystem "sys1" registered first.',
    );
    expect(problems[0]!.registrations).toHaveLength(2);
    expect(problems[0]!.registrations[1]).toMatch(/^sys3 TYPE: int at .*build\.test\.ts:\d+:\d+$/);
  });

  it('B3: a message nobody uses is only noted', () => {
    const onNote = vi.fn();
    const b = new PubsubBuilder({ onNote });
    b.naming.messages.id('unused');
    const s1 = b.connector('s1');
    s1.registerType('int', {});
    s1.addPub('main', coconuts);
    b.connector('s2').addSub('main', coconuts, onCoconuts);
    const pubsub = b.finalize();
    expect(pubsub.notes).toContain('Nobody is publishing or subscribing to message "unused".');
    expect(onNote).toHaveBeenCalledWith('Nobody is publishing or subscribing to message "unused".');
  });

  it('notes a type that was never registered', () => {
    const b = new PubsubBuilder();
    b.connector('s1').addPub('main', coconuts);
    b.connector('s2').addSub('main', coconuts, onCoconuts);
    expect(b.finalize().notes).toEqual(['Type "int" has no registered functions: its payloads are neither disposed nor formatted.']);
  });

  it('B4: every dangling message is reported, not only the first', () => {
    const { b } = base({ sys2: false });
    const problems = problemsOf(() => b.finalize());
    expect(texts(problems)).toEqual([
      'Message "bunch_of_coconuts" has publishers, but no subscribers.',
      'Message "yes_we_have_no" has subscribers, but no publishers.',
    ]);
    expect(problems.map((p) => [p.code, p.message, p.subsystems, p.channels])).toEqual([
      ['no-subscribers', 'bunch_of_coconuts', ['sys1'], ['main']],
      ['no-publishers', 'yes_we_have_no', ['sys1'], ['main']],
    ]);
  });

  it('B5: stub registrations satisfy the checks but register no hook', () => {
    const { b } = base({ sys2Flags: { stub: true } });
    const pubsub = b.finalize();
    const d = pubsub.dispatcher;
    const bananasId = pubsub.naming.messages.find('yes_we_have_no')!;
    const coconutsId = pubsub.naming.messages.find('bunch_of_coconuts')!;
    expect(d.receiversOf(bananasId).map((r) => pubsub.naming.subsystems.name(r.subsystem))).toEqual(['sys1']);
    expect(d.receiversOf(coconutsId)).toEqual([]);
    intFns.dispose.mockClear();
    const pub = base({ sys2Flags: { stub: true } });
    const ps2 = pub.b.finalize();
    expect(pub.pubCoconuts.publish(12)).toBe(true);
    expect(intFns.dispose).toHaveBeenCalledWith(12);
    expect(ps2.pending('main')).toBe(0);
  });

  it('B6/B18: another channel for a message fails at the call and at finalize', () => {
    const { b } = base();
    const problems1 = problemsOf(() => b.connector('problems').addPub('hithere', coconuts));
    expect(problems1[0]).toMatchObject({
      code: 'inconsistent-channels',
      message: 'bunch_of_coconuts',
      subsystems: ['sys1', 'problems'],
      channels: ['main', 'hithere'],
    });
    expect(problems1[0]!.text).toBe(
      'Message "bunch_of_coconuts" is published by subsystem "problems" with channel "hithere", but subsystem "sys1" registered it with channel "main".',
    );
    const problems = problemsOf(() => b.finalize());
    expect(texts(problems)).toEqual(['Message "bunch_of_coconuts" is associated with multiple inconsistent channels.']);
    expect(problems[0]!.channels).toEqual(['main', 'hithere']);
    expect(problems[0]!.subsystems).toEqual(['sys1', 'problems', 'sys2']);
  });

  it('B7/B18: another type for a message fails at the call and at finalize', () => {
    const { b } = base();
    const coconutsAsString = defineMessage<string>('bunch_of_coconuts', 'string');
    const first = problemsOf(() => b.connector('problems').addPub('main', coconutsAsString));
    expect(first[0]!.code).toBe('inconsistent-types');
    expect(first[0]!.text).toMatch(/with type "string", but subsystem "sys1" registered it with type "int"/);
    const problems = problemsOf(() => b.finalize());
    expect(texts(problems)).toEqual(['Message "bunch_of_coconuts" is associated with multiple inconsistent message types.']);
  });

  it('B8: a subsystem may not subscribe to its own message', () => {
    const { b } = base();
    b.connector('sys1').addSub('main', coconuts, onCoconuts);
    const problems = problemsOf(() => b.finalize());
    expect(texts(problems)).toEqual(['Message "bunch_of_coconuts" is published and subscribed by the same subsystem "sys1".']);
    expect(problems[0]!.subsystems).toEqual(['sys1']);
  });

  it('B9: several publishers and subscribers from different subsystems are fine', () => {
    const { b } = base();
    const sys3 = b.connector('sys3');
    sys3.addSub('main', coconuts, onCoconuts);
    sys3.addPub('main', bananas);
    const pubsub = b.finalize();
    const names = (m: string) =>
      pubsub.dispatcher.receiversOf(pubsub.naming.messages.find(m)!).map((r) => pubsub.naming.subsystems.name(r.subsystem));
    expect(names('bunch_of_coconuts')).toEqual(['sys2', 'sys3']);
    expect(names('yes_we_have_no')).toEqual(['sys1']);
  });

  it('B10: 100 receivers keep registration order', () => {
    const { b } = base();
    const other: Hook<number> = () => {};
    for (let i = 1; i <= 99; i++) b.connector(`system${i}`).addSub('main', coconuts, i % 7 === 0 ? other : onCoconuts);
    const pubsub = b.finalize();
    const recv = pubsub.dispatcher.receiversOf(pubsub.naming.messages.find('bunch_of_coconuts')!);
    expect(recv).toHaveLength(100);
    expect(pubsub.naming.subsystems.name(recv[0]!.subsystem)).toBe('sys2');
    expect(pubsub.naming.subsystems.name(recv[77]!.subsystem)).toBe('system77');
    expect(recv[77]!.fn).toBe(other);
    expect(recv[76]!.fn).toBe(onCoconuts);
    expect(recv[78]!.fn).toBe(onCoconuts);
  });

  it('B11: exclusive registrations that are alone of their kind are fine', () => {
    const { b } = base({
      sys1PubFlags: { exclusive: true },
      sys2PubFlags: { exclusive: true },
      sys2SubFlags: { exclusive: true },
    });
    const pubsub = b.finalize();
    for (const m of ['bunch_of_coconuts', 'yes_we_have_no']) {
      expect(pubsub.dispatcher.receiversOf(pubsub.naming.messages.find(m)!)).toHaveLength(1);
    }
  });

  it('B12: an exclusive registration with company fails, for publishers and subscribers', () => {
    const { b } = base({ sys1PubFlags: { exclusive: true }, sys1SubFlags: { exclusive: true } });
    const sys3 = b.connector('sys3');
    sys3.addPub('main', coconuts);
    sys3.addSub('main', bananas, onBananas);
    const problems = problemsOf(() => b.finalize());
    expect(texts(problems)).toEqual([
      'Message "bunch_of_coconuts" has multiple publishers, but at least one is marked as exclusive.',
      'Message "yes_we_have_no" has multiple subscribers, but at least one is marked as exclusive.',
    ]);
    expect(problems[0]!.subsystems).toEqual(['sys1', 'sys3']);
  });

  it('B13: an exclusive publisher registered twice by the same subsystem fails', () => {
    const { b } = base({ sys1PubFlags: { exclusive: true } });
    b.connector('sys1').addPub('main', coconuts, { exclusive: true });
    expect(texts(problemsOf(() => b.finalize()))).toEqual([
      'Message "bunch_of_coconuts" has multiple publishers, but at least one is marked as exclusive.',
    ]);
  });

  it('B14: one subsystem subscribing twice is allowed and both hooks are registered', () => {
    const { b } = base();
    const second: Hook<number> = () => {};
    b.connector('sys2').addSub('main', coconuts, second);
    const pubsub = b.finalize();
    const recv = pubsub.dispatcher.receiversOf(pubsub.naming.messages.find('bunch_of_coconuts')!);
    expect(recv.map((r) => r.fn)).toEqual([onCoconuts, second]);
  });

  it('B15: a failing message lists each of its registrations with flags and source location', () => {
    const { b } = base({ sys1PubFlags: { exclusive: true } });
    b.connector('sys3').addPub('main', coconuts, { stub: true });
    let err!: PubsubConfigError;
    try {
      b.finalize();
    } catch (e) {
      err = e as PubsubConfigError;
    }
    const regs = err.problems[0]!.registrations;
    expect(regs).toHaveLength(3);
    expect(regs[0]).toMatch(/^sys1 PUB: bunch_of_coconuts\{int\} on main \(EXCL\) at .*build\.test\.ts:\d+:\d+$/);
    expect(regs[1]).toMatch(/^sys3 PUB: bunch_of_coconuts\{int\} on main \(STUB\) at .*build\.test\.ts:\d+:\d+$/);
    expect(regs[2]).toMatch(/^sys2 SUB: bunch_of_coconuts\{int\} on main at /);
    expect(err.message).toContain('The publish-subscribe configuration has 1 problem:');
    expect(err.message).toContain(regs[1]);
  });

  it('B15b: registering formats no stack trace; a location is formatted once, when first read', () => {
    // A live update registers every subsystem again inside its pause: the call site is
    // captured there, but turned into text only when someone asks for it.
    const original = Error.prepareStackTrace;
    let formatted = 0;
    Error.prepareStackTrace = (err, frames) => {
      formatted++;
      return original ? original(err, frames) : `${err}\n${frames.map((f) => `    at ${f}`).join('\n')}`;
    };
    try {
      const { b } = base();
      const pubsub = b.finalize();
      expect(formatted).toBe(0);
      const [first] = pubsub.registrations;
      expect(first!.location).toMatch(/build\.test\.ts:\d+:\d+$/);
      expect(formatted).toBe(1);
      expect(first!.location).toBe(first!.location);
      expect(formatted).toBe(1);
      expect(pubsub.typeRegistrations[0]!.location).toMatch(/build\.test\.ts:\d+:\d+$/);
      expect(formatted).toBe(2);
    } finally {
      Error.prepareStackTrace = original;
    }
  });

  it('B16: finalize consumes the builder, on success and on failure', () => {
    const ok = base().b;
    ok.finalize();
    expect(ok.finalized).toBe(true);
    expect(() => ok.finalize()).toThrow(/already finalized/);
    const bad = base({ sys2: false }).b;
    expect(() => bad.finalize()).toThrow(PubsubConfigError);
    expect(() => bad.finalize()).toThrow(/already finalized/);
  });

  it('B17: connectors need no release, but one kept past finalize cannot register', () => {
    const b = new PubsubBuilder();
    const con: Connector = b.connector('late');
    b.finalize();
    expect(() => con.addPub('main', coconuts)).toThrow(/already finalized; subsystem "late"/);
    expect(() => con.registerType('int', {})).toThrow(/already finalized/);
    expect(() => b.connector('new')).toThrow(/already finalized/);
  });

  it('reports different problems of several messages in one error', () => {
    const b = new PubsubBuilder();
    const s1 = b.connector('s1');
    s1.addPub('main', coconuts, { exclusive: true });
    s1.addSub('main', coconuts, onCoconuts);
    b.connector('s2').addPub('main', coconuts);
    b.connector('s3').addSub('main', bananas, onBananas);
    const problems = problemsOf(() => b.finalize());
    expect(problems.map((p) => p.code)).toEqual(['same-subsystem', 'exclusive-publisher', 'no-publishers']);
  });

  it('rejects things that are not messages or hooks at the call', () => {
    const b = new PubsubBuilder();
    const c = b.connector('c');
    expect(() => c.addSub('main', coconuts, 42 as unknown as Hook<number>)).toThrow(/hook of subsystem "c".*not a function/);
    expect(() => c.addPub('main', { name: 'x' } as never)).toThrow(/not a message made by defineMessage/);
    expect(() => c.addPub('', coconuts)).toThrow(/channel name must be a non-empty string/);
    expect(() => defineMessage('', 'int')).toThrow(TypeError);
  });
});
