import { describe, expect, it } from 'vitest';
import { defineMessage, PubsubBuilder, PubsubConfigError } from '../../lib/pubsub/index.js';
import {
  defineSubsystem,
  MAX_LEVEL,
  MIN_LEVEL,
  SubsystemError,
  SubsystemManager,
  type SubsystemDef,
} from '../../lib/subsys/index.js';

/** Subsystems that log their callbacks into one shared array. */
function logged(log: string[], name: string, level: number, extra: Partial<SubsystemDef> = {}): SubsystemDef {
  return {
    name,
    level,
    initialize: () => log.push(`init ${name}`),
    shutdown: () => log.push(`shutdown ${name}`),
    ...extra,
  };
}

function errorOf(fn: () => unknown): SubsystemError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SubsystemError);
    return e as SubsystemError;
  }
  throw new Error('expected a SubsystemError');
}

describe('subsystem manager (spec §6.6)', () => {
  it('S1: a level outside -100…100 is rejected naming the subsystem, its position and the range', () => {
    expect(() => defineSubsystem({ name: 'high', level: 101 })).toThrow(
      'Subsystem "high" has an invalid level 101; levels are integers from -100 to 100 (inclusive).',
    );
    expect(errorOf(() => defineSubsystem({ name: 'low', level: -101 })).subsystem).toBe('low');
    expect(() => defineSubsystem({ name: 'half', level: 1.5 })).toThrow(/"half" has an invalid level 1.5/);
    const err = errorOf(() => new SubsystemManager([{ name: 'ok', level: 0 }, { name: 'bad', level: -101 }]));
    expect(err.message).toBe('Subsystem "bad" (at #1) has an invalid level -101; levels are integers from -100 to 100 (inclusive).');
    expect(err.subsystem).toBe('bad');
    expect(defineSubsystem({ name: 'edge', level: MIN_LEVEL }).level).toBe(-100);
    expect(defineSubsystem({ name: 'edge', level: MAX_LEVEL }).supported).toBe(true);
  });

  it('S2: a list out of level order is rejected with both levels, unless asked to sort', () => {
    const list = [
      { name: 'five', level: 5 },
      { name: 'three', level: 3 },
    ];
    const err = errorOf(() => new SubsystemManager(list));
    expect(err.subsystem).toBe('three');
    expect(err.message).toMatch(/Subsystem "three" \(at #1\) is in the wrong position: its level is 3, but the previous subsystem \("five"\) has level 5/);
    const sorted = new SubsystemManager(
      [
        { name: 'five', level: 5 },
        { name: 'three', level: 3 },
        { name: 'three-b', level: 3 },
      ],
      { sort: true },
    );
    expect(sorted.subsystems.map((s) => s.name)).toEqual(['three', 'three-b', 'five']);
  });

  it('S3: equal adjacent levels are fine', () => {
    const m = new SubsystemManager([
      { name: 'compress', level: -55 },
      { name: 'network', level: -55 },
    ]);
    expect(m.subsystems).toHaveLength(2);
  });

  it('rejects duplicate names, naming the subsystem', () => {
    const err = errorOf(
      () =>
        new SubsystemManager([
          { name: 'log', level: -90 },
          { name: 'log', level: -80 },
        ]),
    );
    expect(err.message).toBe('Subsystem "log" (at #1) has the same name as the subsystem at #0.');
    expect(err.subsystem).toBe('log');
  });

  it('S4: initialization goes low to high and skips unsupported subsystems', () => {
    const log: string[] = [];
    const m = new SubsystemManager([logged(log, 'A', -10), logged(log, 'B', 0, { supported: false }), logged(log, 'C', 10)]);
    m.init();
    expect(log).toEqual(['init A', 'init C']);
    expect(m.isInitialized('B')).toBe(false);
    expect(m.initializedNames()).toEqual(['A', 'C']);
  });

  it('S5: initUpTo then init initializes each subsystem once', () => {
    const log: string[] = [];
    const m = new SubsystemManager([logged(log, 'A', -10), logged(log, 'Z', 0), logged(log, 'C', 10)]);
    m.initUpTo(0);
    expect(log).toEqual(['init A', 'init Z']);
    m.init();
    expect(log).toEqual(['init A', 'init Z', 'init C']);
    m.init();
    expect(log).toHaveLength(3);
    expect(() => m.initUpTo(101)).toThrow(RangeError);
  });

  it('S6: a failing initialize is fatal and names the subsystem; later ones do not run', () => {
    const log: string[] = [];
    const boom = new Error('no entropy');
    const m = new SubsystemManager([
      logged(log, 'A', -10),
      logged(log, 'crypto', -5, {
        initialize: () => {
          throw boom;
        },
      }),
      logged(log, 'C', 10),
    ]);
    const err = errorOf(() => m.init());
    expect(err.message).toBe('Subsystem "crypto" (at #1, level -5) failed to initialize.');
    expect(err.subsystem).toBe('crypto');
    expect(err.cause).toBe(boom);
    expect(log).toEqual(['init A']);
    expect(m.initializedNames()).toEqual(['A']);
  });

  it('S7: addPubsub runs in list order, per name, only for initialized supported subsystems', () => {
    const ping = defineMessage<number>('ping', 'int');
    const order: string[] = [];
    const add = (name: string) => (con: { subsystem: string }) => {
      order.push(`${name}:${con.subsystem}`);
    };
    const m = new SubsystemManager([
      { name: 'pub', level: -20, addPubsub: (con) => (add('pub')(con), con.addPub('main', ping)) },
      { name: 'unsupported', level: -10, supported: false, addPubsub: add('unsupported') },
      { name: 'sub', level: 0, addPubsub: (con) => (add('sub')(con), con.addSub('main', ping, () => {})) },
      { name: 'late', level: 50, addPubsub: add('late') },
    ]);
    m.initUpTo(0);
    const b = new PubsubBuilder();
    m.addPubsub(b);
    expect(order).toEqual(['pub:pub', 'sub:sub']);
    expect(b.registrations.map((r) => `${r.subsystem} ${r.kind}`)).toEqual(['pub pub', 'sub sub']);
    const pubsub = b.finalize();
    const pubId = pubsub.naming.subsystems.find('pub');
    const subId = pubsub.naming.subsystems.find('sub');
    expect(pubsub.dispatcher.receiversOf(pubsub.naming.messages.find('ping')!).map((r) => r.subsystem)).toEqual([subId]);
    expect(pubId).toBeDefined();
    expect(pubsub.naming.subsystems.find('late')).toBeUndefined();
  });

  it('S7: a failing addPubsub is fatal and names the subsystem', () => {
    const boom = new Error('cannot');
    const m = new SubsystemManager([
      {
        name: 'broken',
        level: 3,
        addPubsub: () => {
          throw boom;
        },
      },
    ]);
    m.init();
    const err = errorOf(() => m.addPubsub(new PubsubBuilder()));
    expect(err.message).toBe('Subsystem "broken" (at #0, level 3) could not connect to publish-subscribe.');
    expect(err.cause).toBe(boom);
  });

  it('a refused registration does not hide the problems of other subsystems', () => {
    const m1 = defineMessage<number>('m1', 'int');
    const m1str = defineMessage<string>('m1', 'string');
    const orphan = defineMessage<number>('orphan', 'int');
    const m = new SubsystemManager([
      { name: 'a', level: 0, addPubsub: (con) => void con.addPub('main', m1) },
      { name: 'b', level: 1, addPubsub: (con) => con.addSub('main', m1str, () => {}) },
      { name: 'c', level: 2, addPubsub: (con) => con.addSub('main', orphan, () => {}) },
    ]);
    m.init();
    let err: unknown;
    try {
      m.buildPubsub();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PubsubConfigError);
    expect((err as PubsubConfigError).problems.map((p) => `${p.code} ${p.message}`)).toEqual([
      'inconsistent-types m1',
      'no-publishers orphan',
    ]);
  });

  it('S8: shutdown goes high to low, can be partial, and allows re-initialization', () => {
    const log: string[] = [];
    const m = new SubsystemManager([
      logged(log, 'A', -10),
      logged(log, 'B', 0, { supported: false }),
      logged(log, 'C', 10),
    ]);
    m.init();
    log.length = 0;
    m.shutdownDownTo(0);
    expect(log).toEqual(['shutdown C']);
    expect(m.initializedNames()).toEqual(['A']);
    m.init();
    m.shutdown();
    expect(log).toEqual(['shutdown C', 'init C', 'shutdown C', 'shutdown A']);
    expect(m.initializedNames()).toEqual([]);
    m.init();
    expect(log.slice(-2)).toEqual(['init A', 'init C']);
  });

  it('a failing shutdown still shuts down the others, then reports', () => {
    const log: string[] = [];
    const m = new SubsystemManager([
      logged(log, 'A', -10),
      logged(log, 'B', 5, {
        shutdown: () => {
          throw new Error('stuck');
        },
      }),
      logged(log, 'C', 10),
    ]);
    m.init();
    log.length = 0;
    const err = errorOf(() => m.shutdown());
    expect(err.message).toBe('Subsystem "B" (at #1, level 5) failed to shut down.');
    expect(log).toEqual(['shutdown C', 'shutdown A']);
    expect(m.initializedNames()).toEqual([]);
  });

  it('rejects non-function callbacks and nameless subsystems', () => {
    expect(() => defineSubsystem({ name: 'x', level: 0, initialize: 3 as never })).toThrow(/"x": initialize must be a function/);
    expect(() => defineSubsystem({ name: '', level: 0 })).toThrow(/has no name/);
  });
});
