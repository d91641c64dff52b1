import { describe, expect, it, vi } from 'vitest';
import { defineMessage, PubsubBuilder, type Publisher, type Pubsub } from '../../lib/pubsub/index.js';

interface Payload {
  readonly text: string;
}

const message1 = defineMessage<Payload>('message1', 'string');
const message2 = defineMessage<Payload>('message2', 'string');
const message3 = defineMessage<Payload>('message3', 'string');
const message4 = defineMessage<Payload>('message4', 'string');
const message5 = defineMessage<Payload>('message5', 'string');

/** The fixture of spec §6.3 (Tor's test_pubsub_msg setup). */
function fixture() {
  const disposed: Payload[] = [];
  const received: Record<string, Payload[]> = {};
  const counters = [0, 0, 0, 0, 0];
  const copies: string[] = [];
  const note = (who: string) => (p: Payload) => {
    (received[who] ??= []).push(p);
  };
  const b = new PubsubBuilder();

  const types = b.connector('types');
  types.registerType<Payload>('string', { dispose: (p) => disposed.push(p), format: (p) => `"${p.text}"` });

  const sys1 = b.connector('sys1');
  const sys2 = b.connector('sys2');
  const sys3 = b.connector('sys3');
  const pub1 = sys1.addPub('main', message1);
  const pub2 = sys1.addPub('main', message2);
  const pub3 = sys1.addPub('main', message3);
  const pub4 = sys2.addPub('other', message4);
  const pub5 = sys3.addPub('main', message5);
  sys2.addSub('main', message1, note('sys2:m1'));
  sys2.addSub('main', message2, note('sys2:m2'), { stub: true });
  sys2.addSub('main', message3, note('sys2:m3'));
  sys3.addSub('main', message3, note('sys3:m3'));
  b.connector('sys4').addSub('main', message3, note('sys4:m3'));
  sys1.addSub('other', message4, note('sys1:m4'));
  sys3.addSub('other', message4, note('sys3:m4'));
  for (let i = 0; i < 5; i++) {
    b.connector(`sys${i + 4}`).addSub('main', message5, () => {
      counters[i]!++;
    });
  }
  for (let i = 0; i < 995; i++) {
    b.connector(`xsys-${i}`).addSub('main', message5, (p) => {
      copies.push(p.text);
    });
  }
  const pubsub = b.finalize();
  return { pubsub, pub1, pub2, pub3, pub4, pub5, disposed, received, counters, copies };
}

const msg = (text: string): Payload => ({ text });

describe('publish and flush (spec §6.3)', () => {
  it('M1: nothing is delivered before a flush; flush(main, 1000) delivers once', () => {
    const { pubsub, pub1, received, disposed } = fixture();
    const p = msg('hello');
    expect(pub1.publish(p)).toBe(true);
    expect(received['sys2:m1']).toBeUndefined();
    expect(pubsub.pending('main')).toBe(1);
    expect(pubsub.flush('main', 1000)).toBe(1);
    expect(received['sys2:m1']).toEqual([p]);
    expect(disposed).toEqual([p]);
  });

  it('M2: a message with only a stub subscriber reaches nobody and is disposed at publish', () => {
    const { pubsub, pub2, received, disposed } = fixture();
    const p = msg('to the stub');
    expect(pub2.publish(p)).toBe(true);
    expect(disposed).toEqual([p]);
    expect(pubsub.pending('main')).toBe(0);
    pubsub.flush('main');
    expect(received['sys2:m2']).toBeUndefined();
    expect(disposed).toEqual([p]);
  });

  it('M3: flush(main, 10) delivers exactly 10 of 100; close() disposes the other 90 once each', () => {
    const { pubsub, pub1, received, disposed } = fixture();
    const sent = Array.from({ length: 100 }, (_, i) => msg(`m${i}`));
    for (const p of sent) pub1.publish(p);
    expect(pubsub.flush('main', 10)).toBe(10);
    expect(received['sys2:m1']).toEqual(sent.slice(0, 10));
    expect(disposed).toEqual(sent.slice(0, 10));
    expect(pubsub.pending('main')).toBe(90);
    pubsub.close();
    expect(received['sys2:m1']).toHaveLength(10);
    expect(disposed).toEqual(sent);
    expect(new Set(disposed).size).toBe(100);
  });

  describe('M4–M9: alert functions', () => {
    function withAlerts() {
      const f = fixture();
      const alerts = { main: 0, other: 0 };
      const seen: [unknown, number, unknown][] = [];
      const mainArg = { name: 'main-arg' };
      const otherArg = { name: 'other-arg' };
      f.pubsub.setAlert(
        'main',
        (d, ch, arg) => {
          alerts.main++;
          seen.push([d, ch, arg]);
        },
        mainArg,
      );
      f.pubsub.setAlert(
        'other',
        (d, ch, arg) => {
          alerts.other++;
          seen.push([d, ch, arg]);
        },
        otherArg,
      );
      return { ...f, alerts, seen, mainArg, otherArg };
    }

    it('walks through Tor’s alertfns sequence', () => {
      const { pubsub, pub1, pub3, pub4, received, alerts, seen, mainArg, otherArg } = withAlerts();
      // M4: two publishes on main → one alert (empty → non-empty only); none on other.
      pub3.publish(msg('a'));
      pub3.publish(msg('b'));
      expect(alerts).toEqual({ main: 1, other: 0 });
      // M5: message4 goes to other.
      pub4.publish(msg('c'));
      expect(alerts).toEqual({ main: 1, other: 1 });
      // M6: flushing main runs message3's three subscribers for both messages.
      pubsub.flush('main');
      const m3 = ['sys2:m3', 'sys3:m3', 'sys4:m3'].map((k) => received[k]?.length ?? 0);
      expect(m3).toEqual([2, 2, 2]);
      expect(alerts.main).toBe(1);
      // M7: main is empty again, so the next publish alerts again.
      pub1.publish(msg('d'));
      expect(alerts).toEqual({ main: 2, other: 1 });
      // M8: flushing main leaves other's message4 queued and undelivered.
      pubsub.flush('main');
      expect(received['sys1:m4']).toBeUndefined();
      expect(pubsub.pending('other')).toBe(1);
      pubsub.flush('other');
      expect(received['sys1:m4']).toHaveLength(1);
      expect(received['sys3:m4']).toHaveLength(1);
      // M9: each alert got its own dispatcher, channel ID and user data.
      const main = pubsub.channelId('main');
      const other = pubsub.channelId('other');
      expect(main).not.toBe(other);
      expect(seen).toEqual([
        [pubsub.dispatcher, main, mainArg],
        [pubsub.dispatcher, other, otherArg],
        [pubsub.dispatcher, main, mainArg],
      ]);
    });
  });

  it('M10: 1000 subscribers of one message all run', () => {
    const { pubsub, pub5, counters, copies, disposed } = fixture();
    const p = msg('hello world');
    pub5.publish(p);
    expect(pubsub.flush('main')).toBe(1);
    expect(counters).toEqual([1, 1, 1, 1, 1]);
    expect(copies).toHaveLength(995);
    expect(copies.every((c) => c === 'hello world')).toBe(true);
    expect(pubsub.dispatcher.receiversOf(pubsub.naming.messages.find('message5')!)).toHaveLength(1000);
    expect(disposed).toEqual([p]);
  });

  it('M11: before finalize a publisher is inert: false, nothing delivered, payload disposed', () => {
    const b = new PubsubBuilder();
    const disposed: Payload[] = [];
    const got: Payload[] = [];
    const a = b.connector('a');
    a.registerType<Payload>('string', { dispose: (p) => disposed.push(p) });
    const pub = a.addPub('main', message1);
    b.connector('b').addSub('main', message1, (p) => got.push(p));
    expect(pub.dispatcher).toBeNull();
    const early = msg('too early');
    expect(pub.publish(early)).toBe(false);
    expect(disposed).toEqual([early]);
    const pubsub = b.finalize();
    expect(pub.dispatcher).toBe(pubsub.dispatcher);
    pubsub.flush('main');
    expect(got).toEqual([]);
    // Without a registered type there is nothing to dispose with, and publishing still fails safely.
    const b2 = new PubsubBuilder();
    const pub2 = b2.connector('x').addPub('main', message1);
    expect(pub2.publish(msg('no type'))).toBe(false);
  });

  it('M12: after close() publishers are disconnected and publishing fails safely', () => {
    const { pubsub, pub1, pub4, received, disposed } = fixture();
    pubsub.close();
    expect(pubsub.closed).toBe(true);
    expect(pub1.dispatcher).toBeNull();
    const late = msg('late');
    expect(pub1.publish(late)).toBe(false);
    expect(pub4.publish(msg('late too'))).toBe(false);
    expect(disposed).toEqual([late, msg('late too')]);
    expect(received).toEqual({});
    expect(() => pubsub.close()).not.toThrow();
  });

  it('M13: without automatic delivery, a message published by a hook on the same channel is delivered in the same flush, after', () => {
    const a = defineMessage<number>('A', 'int');
    const bMsg = defineMessage<number>('B', 'int');
    const order: string[] = [];
    const builder = new PubsubBuilder();
    const src = builder.connector('src');
    const pubA = src.addPub('ch', a);
    const mid = builder.connector('mid');
    const pubB = mid.addPub('ch', bMsg);
    mid.addSub('ch', a, (n) => {
      order.push(`A${n}@mid`);
      pubB.publish(n * 10);
    });
    builder.connector('other').addSub('ch', a, (n) => order.push(`A${n}@other`));
    builder.connector('sink').addSub('ch', bMsg, (n) => order.push(`B${n}@sink`));
    const pubsub = builder.finalize();
    pubA.publish(1);
    expect(pubsub.flush('ch')).toBe(2);
    expect(order).toEqual(['A1@mid', 'A1@other', 'B10@sink']);

    // M14: messages published during a limited flush count towards its limit.
    order.length = 0;
    pubA.publish(2);
    pubA.publish(3);
    expect(pubsub.flush('ch', 3)).toBe(3);
    expect(order).toEqual(['A2@mid', 'A2@other', 'A3@mid', 'A3@other', 'B20@sink']);
    expect(pubsub.pending('ch')).toBe(1);
  });

  it('a subsystem subscribing twice gets both hooks, in registration order (B14)', () => {
    const m = defineMessage<number>('twice', 'int');
    const order: string[] = [];
    const b = new PubsubBuilder();
    const pub = b.connector('p').addPub('c', m);
    const s = b.connector('s');
    s.addSub('c', m, (n) => order.push(`first ${n}`));
    s.addSub('c', m, (n) => order.push(`second ${n}`));
    const pubsub = b.finalize();
    pub.publish(1);
    pub.publish(2);
    pubsub.flush('c');
    expect(order).toEqual(['first 1', 'second 1', 'first 2', 'second 2']);
  });

  it('hooks get the header naming sender, message and channel', () => {
    const m = defineMessage<number>('named', 'int');
    const b = new PubsubBuilder();
    const pub = b.connector('sender-sys').addPub('chan-x', m);
    const headers: string[] = [];
    b.connector('recv').addSub('chan-x', m, (_n, h) => headers.push(`${h.msgName}|${h.senderName}|${h.channelName}|${h.typeName}`));
    const pubsub = b.finalize();
    pub.publish(5);
    pubsub.flush('chan-x');
    expect(headers).toEqual(['named|sender-sys|chan-x|int']);
    expect(pubsub.dispatcher.describe(pub.header, 5)).toBe('named (<>) from sender-sys on chan-x');
  });

  it('unknown channel names are reported clearly', () => {
    const { pubsub } = fixture();
    expect(() => pubsub.flush('nope')).toThrow(/Unknown channel "nope"/);
  });
});

describe('errors thrown by hooks', () => {
  function twoHooks() {
    const m = defineMessage<string>('m', 'str');
    const b = new PubsubBuilder();
    const disposed: string[] = [];
    const p = b.connector('pub');
    p.registerType<string>('str', { dispose: (s) => disposed.push(s) });
    const pub: Publisher<string> = p.addPub('c', m);
    const after: string[] = [];
    b.connector('bad').addSub('c', m, (s) => {
      throw new Error(`bad hook saw ${s}`);
    });
    b.connector('good').addSub('c', m, (s) => after.push(s));
    const pubsub: Pubsub = b.finalize();
    return { pubsub, pub, disposed, after };
  }

  it('go to the error handler with names; the other hooks run; dispose once', () => {
    const { pubsub, pub, disposed, after } = twoHooks();
    const handler = vi.fn();
    pubsub.setErrorHandler(handler);
    pub.publish('x');
    pubsub.flush('c');
    expect(after).toEqual(['x']);
    expect(disposed).toEqual(['x']);
    expect(handler).toHaveBeenCalledTimes(1);
    const [err, info] = handler.mock.calls[0]!;
    expect((err as Error).message).toBe('bad hook saw x');
    expect(info).toMatchObject({ message: 'm', channel: 'c', sender: 'pub', subscriber: 'bad', stage: 'receive' });
  });

  it('with no handler are rethrown after the delivery finished', () => {
    const { pubsub, pub, disposed, after } = twoHooks();
    pubsub.setErrorHandler(() => {});
    pubsub.setErrorHandler(null);
    pub.publish('y');
    expect(() => pubsub.flush('c')).toThrow('bad hook saw y');
    expect(after).toEqual(['y']);
    expect(disposed).toEqual(['y']);
  });

  it('under immediate delivery the publisher sees the rethrown error, after all hooks ran', () => {
    const { pubsub, pub, disposed, after } = twoHooks();
    pubsub.setAlert('c', (d, ch) => d.flush(ch));
    expect(() => pub.publish('z')).toThrow('bad hook saw z');
    expect(after).toEqual(['z']);
    expect(disposed).toEqual(['z']);
    expect(pubsub.pending('c')).toBe(0);
  });
});
