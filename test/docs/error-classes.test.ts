// Issue 12: every error class of the layers carries a string `code`, like Node's own errors and
// the addon's, so callers tell failures apart without parsing messages. Each case makes the
// error through the public API the way a user meets it.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { DispatchError, Naming } from '../../lib/dispatch/index.js';
import { AbortError, EventBase } from '../../lib/index.js';
import { Mainloop } from '../../lib/mainloop/index.js';
import { defineMessage, PubsubBuilder, PubsubConfigError } from '../../lib/pubsub/index.js';
import { defineSubsystem, SubsystemError, SubsystemManager } from '../../lib/subsys/index.js';
import { UpdateError, UpdateHost, UpdateUnwind } from '../../lib/update/index.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('error classes carry a code', () => {
  it('PubsubConfigError: ERR_PUBSUB_CONFIG, from finalize()', () => {
    const b = new PubsubBuilder();
    b.connector('lonely').addPub('main', defineMessage<number>('unheard', 'int'));
    const err = thrown(() => b.finalize());
    expect(err).toBeInstanceOf(PubsubConfigError);
    expect(err).toMatchObject({ code: 'ERR_PUBSUB_CONFIG', problems: [{ code: 'no-subscribers' }] });
  });

  it('SubsystemError: ERR_SUBSYSTEM_INVALID for a bad definition, ERR_SUBSYSTEM_INIT/SHUTDOWN/PUBSUB for a failing callback', () => {
    expect(thrown(() => defineSubsystem({ name: '', level: 0 }))).toMatchObject({ name: 'SubsystemError', code: 'ERR_SUBSYSTEM_INVALID' });
    const a = defineSubsystem({ name: 'a', level: 0 });
    expect(thrown(() => new SubsystemManager([a, a]))).toMatchObject({ code: 'ERR_SUBSYSTEM_INVALID', subsystem: 'a' });
    const boom = new Error('boom');
    const failing = new SubsystemManager([
      defineSubsystem({
        name: 'flaky',
        level: 1,
        shutdown: () => {
          throw boom;
        },
        addPubsub: () => {
          throw boom;
        },
      }),
    ]);
    failing.init();
    expect(thrown(() => failing.addPubsub(new PubsubBuilder()))).toMatchObject({ code: 'ERR_SUBSYSTEM_PUBSUB', cause: boom });
    expect(thrown(() => failing.shutdown())).toMatchObject({ code: 'ERR_SUBSYSTEM_SHUTDOWN', cause: boom });
    const noInit = new SubsystemManager([
      defineSubsystem({
        name: 'broken',
        level: 1,
        initialize: () => {
          throw boom;
        },
      }),
    ]);
    const err = thrown(() => noInit.init());
    expect(err).toBeInstanceOf(SubsystemError);
    expect(err).toMatchObject({ code: 'ERR_SUBSYSTEM_INIT', subsystem: 'broken', cause: boom });
  });

  it('DispatchError, UpdateError, UpdateUnwind and AbortError', () => {
    expect(thrown(() => new Naming().messages.id(''))).toSatisfy((e) => e instanceof DispatchError && e.code === 'ERR_DISPATCH_NAME');
    expect(new UpdateError('ERR_VERSION_LOAD', 'load', 'x').code).toBe('ERR_VERSION_LOAD');
    expect(new UpdateUnwind('loop').code).toBe('ERR_UPDATE_UNWIND');
    expect(new AbortError(undefined).code).toBe('ABORT_ERR');
  });
});

describe('plain errors thrown by the layers carry a code too', () => {
  it('pubsub: bad message, bad hook, finalized builder, unknown channel', () => {
    expect(thrown(() => defineMessage('', 'int'))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    const b = new PubsubBuilder();
    const con = b.connector('s');
    expect(thrown(() => con.addSub('main', defineMessage<number>('m', 'int'), 42 as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => con.addPub('main', {} as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const m = defineMessage<number>('m', 'int');
    b.connector('p').addPub('main', m);
    b.connector('q').addSub('main', m, () => {});
    const pubsub = b.finalize();
    expect(thrown(() => b.finalize())).toMatchObject({ code: 'ERR_PUBSUB_FINALIZED' });
    expect(thrown(() => b.connector('late').addPub('main', m))).toMatchObject({ code: 'ERR_PUBSUB_FINALIZED' });
    expect(thrown(() => pubsub.setAlert('nowhere', null))).toMatchObject({ name: 'RangeError', code: 'ERR_UNKNOWN_CHANNEL' });
    expect(thrown(() => pubsub.dispatcher.setAlert(0, 42 as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('mainloop: not connected, unknown channel, unknown policy', () => {
    const base = new EventBase();
    try {
      const ml = new Mainloop(base);
      expect(thrown(() => ml.flush('main'))).toMatchObject({ code: 'ERR_NOT_CONNECTED' });
      const b = new PubsubBuilder();
      const m = defineMessage<number>('m', 'int');
      b.connector('p').addPub('main', m);
      b.connector('q').addSub('main', m, () => {});
      ml.connect(b);
      expect(thrown(() => ml.setDeliveryPolicy('nowhere', 'prompt'))).toMatchObject({ code: 'ERR_UNKNOWN_CHANNEL' });
      expect(thrown(() => ml.setDeliveryPolicy('main', 'soon' as never))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      ml.disconnect();
    } finally {
      base.free();
    }
  });

  it('subsys levels and the UpdateHost constructor', () => {
    const manager = new SubsystemManager([]);
    expect(thrown(() => manager.initUpTo(1000))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => manager.shutdownDownTo(1000))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new UpdateHost({ base: {} as never, versionsDir: '.' }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const base = new EventBase();
    try {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-codes-'));
      expect(thrown(() => new UpdateHost({ base, versionsDir: dir, strategy: 'fastest' as never }))).toMatchObject({ code: 'ERR_UNKNOWN_STRATEGY' });
    } finally {
      base.free();
    }
  });
});
