// Delivery policies and mainloop integration (spec §6.5, L1–L12) on a real event base.
import { afterEach, describe, expect, it } from 'vitest';
import { EV, EVLOOP, EventBase, type Event } from '../../lib/loop/index.js';
import { Mainloop } from '../../lib/mainloop/index.js';
import { defineMessage, PubsubBuilder, PubsubConfigError, type Publisher } from '../../lib/pubsub/index.js';

const ping = defineMessage<number>('ping', 'num');
const pong = defineMessage<number>('pong', 'num');
const other = defineMessage<number>('other_msg', 'num');

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

function newBase(): EventBase {
  const base = new EventBase();
  cleanups.push(() => {
    if (!base.freed) base.free();
  });
  return base;
}

/** A zero-delay probe: made active now, it runs after everything already active. */
function probe(base: EventBase, log: string[], name: string): Event {
  const ev = base.timer((_fd, _what, self) => {
    log.push(name);
    self.free();
  });
  return ev.active(EV.TIMEOUT);
}

/** src publishes ping on "main" and other_msg on "side"; sink subscribes to both. */
function simple(base: EventBase) {
  const log: string[] = [];
  const disposed: number[] = [];
  const b = new PubsubBuilder();
  const src = b.connector('src');
  src.registerType<number>('num', { dispose: (n) => disposed.push(n) });
  const pub = src.addPub('main', ping);
  const pubSide = src.addPub('side', other);
  const sink = b.connector('sink');
  sink.addSub('main', ping, (n) => log.push(`ping ${n}`));
  sink.addSub('side', other, (n) => log.push(`side ${n}`));
  const ml = new Mainloop(base).connect(b);
  cleanups.push(() => ml.disconnect());
  return { ml, pub, pubSide, log, disposed };
}

describe('delivery policies (spec §6.5)', () => {
  it('L1: immediate delivers before publish returns', () => {
    const { ml, pub, log, disposed } = simple(newBase());
    ml.setDeliveryPolicy('main', 'immediate');
    expect(ml.deliveryPolicy('main')).toBe('immediate');
    pub.publish(1);
    expect(log).toEqual(['ping 1']);
    expect(disposed).toEqual([1]);
    expect(ml.pending('main')).toBe(0);
  });

  it('L2: prompt waits for the loop, then one event delivers the whole burst in order', () => {
    const base = newBase();
    const { ml, pub, log } = simple(base);
    ml.setDeliveryPolicy('main', 'prompt');
    pub.publish(1);
    pub.publish(2);
    pub.publish(3);
    expect(log).toEqual([]);
    expect(ml.pending('main')).toBe(3);
    // The channel's event became active with the first publish; a probe made active after the
    // burst runs after it. All three before the probe = one callback delivered the burst.
    probe(base, log, 'probe');
    expect(base.loop(EVLOOP.ONCE)).toBe(0);
    expect(log).toEqual(['ping 1', 'ping 2', 'ping 3', 'probe']);
    expect(ml.pending('main')).toBe(0);
  });

  it('L3: never delivers nothing while the loop spins; flush delivers in FIFO order', () => {
    const base = newBase();
    const { ml, pub, log } = simple(base);
    ml.setDeliveryPolicy('main', 'never');
    for (const n of [1, 2, 3]) pub.publish(n);
    base.loop(EVLOOP.NONBLOCK);
    base.loop(EVLOOP.NONBLOCK);
    expect(log).toEqual([]);
    expect(ml.flush('main')).toBe(3);
    expect(log).toEqual(['ping 1', 'ping 2', 'ping 3']);
  });

  it('L4: a channel without a policy behaves like never', () => {
    const base = newBase();
    const { ml, pubSide, log } = simple(base);
    expect(ml.deliveryPolicy('side')).toBe('never');
    pubSide.publish(7);
    base.loop(EVLOOP.NONBLOCK);
    expect(log).toEqual([]);
    expect(ml.pending('side')).toBe(1);
    ml.flush('side');
    expect(log).toEqual(['side 7']);
  });

  it('L5: a channel not known at connect time is rejected', () => {
    const { ml } = simple(newBase());
    expect(() => ml.setDeliveryPolicy('nope', 'prompt')).toThrow(/Unknown channel "nope"/);
    ml.pubsub!.naming.channels.id('late');
    expect(() => ml.setDeliveryPolicy('late', 'prompt')).toThrow(/not known when the mainloop connected/);
    expect(() => ml.setDeliveryPolicy('main', 'sometimes' as never)).toThrow(/Unknown delivery policy/);
  });

  it('L6: a builder that fails its checks leaves nothing connected, after tearing down the old one', () => {
    const base = newBase();
    const { ml, pub, disposed } = simple(base);
    pub.publish(5);
    const bad = new PubsubBuilder();
    bad.connector('lonely').addPub('main', ping);
    expect(() => ml.connect(bad)).toThrow(PubsubConfigError);
    expect(ml.connected).toBe(false);
    expect(ml.pubsub).toBeNull();
    expect(disposed).toEqual([5]);
    expect(pub.publish(6)).toBe(false);
    expect(() => ml.setDeliveryPolicy('main', 'prompt')).toThrow(/not connected/);
  });

  it('L7: connecting again tears the old system down first', () => {
    const base = newBase();
    const { ml, pub, log, disposed } = simple(base);
    ml.setDeliveryPolicy('main', 'prompt');
    pub.publish(1);
    pub.publish(2);
    const order: string[] = [];
    const b2 = new PubsubBuilder();
    const s2 = b2.connector('src2');
    s2.registerType<number>('num', {
      dispose: () => order.push('new disposed'),
    });
    const pub2 = s2.addPub('main', ping);
    b2.connector('sink2').addSub('main', ping, (n) => order.push(`new ping ${n}`));
    const oldPubsub = ml.pubsub!;
    ml.connect(b2);
    expect(oldPubsub.closed).toBe(true);
    expect(disposed).toEqual([1, 2]);
    expect(pub.publish(3)).toBe(false);
    expect(ml.pubsub).not.toBe(oldPubsub);
    expect(ml.deliveryPolicy('main')).toBe('never');
    ml.setDeliveryPolicy('main', 'immediate');
    pub2.publish(4);
    base.loop(EVLOOP.NONBLOCK);
    expect(log).toEqual([]); // the old system's pending event was cancelled
    expect(order).toEqual(['new ping 4', 'new disposed']);
  });

  it('L8: disconnect disposes queued messages once and cancels pending deliveries', () => {
    const base = newBase();
    const { ml, pub, pubSide, log, disposed } = simple(base);
    ml.setDeliveryPolicy('main', 'prompt');
    pub.publish(1);
    pub.publish(2);
    pubSide.publish(3);
    ml.disconnect();
    expect(disposed.sort()).toEqual([1, 2, 3]);
    const extra: string[] = [];
    probe(base, extra, 'loop ran');
    base.loop(EVLOOP.NONBLOCK);
    expect(extra).toEqual(['loop ran']);
    expect(log).toEqual([]);
    expect(disposed).toHaveLength(3);
    expect(() => ml.disconnect()).not.toThrow();
  });

  function chain(base: EventBase) {
    const order: string[] = [];
    const b = new PubsubBuilder();
    const pubA = b.connector('a').addPub('c', ping);
    const r1 = b.connector('r1');
    let pubB!: Publisher<number>;
    pubB = r1.addPub('c', pong);
    r1.addSub('c', ping, (n) => {
      order.push(`R1(A${n})`);
      pubB.publish(n);
    });
    b.connector('r2').addSub('c', ping, (n) => order.push(`R2(A${n})`));
    b.connector('r3').addSub('c', pong, (n) => order.push(`R3(B${n})`));
    const ml = new Mainloop(base).connect(b);
    cleanups.push(() => ml.disconnect());
    return { ml, pubA, order };
  }

  it('L9: immediate delivery is depth-first', () => {
    const { ml, pubA, order } = chain(newBase());
    ml.setDeliveryPolicy('c', 'immediate');
    pubA.publish(1);
    expect(order).toEqual(['R1(A1)', 'R3(B1)', 'R2(A1)']);
  });

  it('L10: prompt delivery is FIFO; a message published by a hook waits for the next pass', () => {
    const base = newBase();
    const { ml, pubA, order } = chain(base);
    ml.setDeliveryPolicy('c', 'prompt');
    pubA.publish(1);
    base.loop(EVLOOP.ONCE);
    expect(order).toEqual(['R1(A1)', 'R2(A1)', 'R3(B1)']);
    expect(ml.pending('c')).toBe(0);
  });

  it('L10: a message a hook publishes during a prompt flush waits for a later callback, behind ready events', () => {
    const base = newBase();
    const { ml, pubA, order } = chain(base);
    ml.setDeliveryPolicy('c', 'prompt');
    // A persistent 0 ms timer that is ready by then: B must queue behind it, not be delivered
    // by the callback that delivered A. (That the loop polls in between is shown by L11.)
    let passes = 0;
    const tick = base.timer(() => {
      passes++;
      order.push(`tick${passes}`);
    }, { persist: true });
    tick.add(0);
    pubA.publish(1);
    base.loop(EVLOOP.NONBLOCK);
    base.loop(EVLOOP.NONBLOCK);
    tick.free();
    const a = order.indexOf('R2(A1)');
    const bIdx = order.indexOf('R3(B1)');
    expect(a).toBeGreaterThanOrEqual(0);
    expect(bIdx).toBeGreaterThan(a);
    expect(order.slice(a, bIdx).some((x) => x.startsWith('tick'))).toBe(true);
  });

  it('L11: channels publishing to each other forever do not starve timers (exclusive loop)', () => {
    const base = newBase();
    const b = new PubsubBuilder();
    const left = b.connector('left');
    const right = b.connector('right');
    const pubPing = left.addPub('ch1', ping);
    const pubPong = right.addPub('ch2', pong);
    let pings = 0;
    let pongs = 0;
    // Safety net: if the flushes starved the loop, stop it instead of hanging the test run.
    const STARVED = 1_000_000;
    right.addSub('ch1', ping, (n) => {
      if (++pings === STARVED) base.loopbreak();
      pubPong.publish(n + 1);
    });
    left.addSub('ch2', pong, (n) => {
      pongs++;
      pubPing.publish(n + 1);
    });
    const ml = new Mainloop(base).connect(b);
    cleanups.push(() => ml.disconnect());
    ml.setDeliveryPolicy('ch1', 'prompt');
    ml.setDeliveryPolicy('ch2', 'prompt');
    let fired = 0;
    const timer = base.timer(() => {
      if (++fired === 5) base.loopbreak();
    }, { persist: true });
    timer.add(10);
    pubPing.publish(0);
    const t0 = performance.now();
    base.dispatch();
    timer.free();
    expect(fired).toBe(5);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(pings).toBeLessThan(STARVED);
    expect(pings).toBeGreaterThan(10);
    expect(pongs).toBeGreaterThan(10);
    expect(Math.abs(pings - pongs)).toBeLessThanOrEqual(1);
  });

  it('L11: the same ping-pong leaves Node timers working under run()', async () => {
    const base = newBase();
    const b = new PubsubBuilder();
    const pubPing = b.connector('left').addPub('ch1', ping);
    const pubPong = b.connector('right').addPub('ch2', pong);
    let exchanges = 0;
    let atNodeTimer = -1;
    const ml = new Mainloop(base);
    cleanups.push(() => ml.disconnect());
    const stop = () => {
      ml.disconnect();
      base.loopbreak();
    };
    b.connector('right').addSub('ch1', ping, (n) => void pubPong.publish(n + 1));
    b.connector('left').addSub('ch2', pong, (n) => {
      if (++exchanges === 1) {
        // Armed while the exchange is running: can Node's timer still get through?
        setTimeout(() => {
          atNodeTimer = exchanges;
        }, 20);
      }
      // Stop once Node's timer has fired and the exchange went on after it; the cap stops a
      // starved loop instead of hanging the test run.
      if ((atNodeTimer >= 0 && exchanges >= atNodeTimer + 100) || exchanges === 1_000_000) stop();
      else pubPing.publish(n + 1);
    });
    ml.connect(b);
    ml.setDeliveryPolicy('ch1', 'prompt');
    ml.setDeliveryPolicy('ch2', 'prompt');
    pubPing.publish(0);
    await base.run();
    // Starved, Node's timer never fires (-1) and the cap ends the run. How many exchanges fit
    // into its 20 ms is timing: a loaded machine can stall this process past it after one.
    expect(atNodeTimer).toBeGreaterThanOrEqual(1);
    expect(exchanges).toBe(atNodeTimer + 100);
  });

  it('L12: setting a policy on a channel that holds messages schedules them (prompt)', () => {
    const base = newBase();
    const { ml, pub, log } = simple(base);
    pub.publish(1);
    pub.publish(2);
    ml.setDeliveryPolicy('main', 'prompt');
    pub.publish(3); // queue not empty: no alert, but the backlog was scheduled
    expect(log).toEqual([]);
    base.loop(EVLOOP.NONBLOCK);
    expect(log).toEqual(['ping 1', 'ping 2', 'ping 3']);
  });

  it('L12: switching to immediate with a backlog keeps FIFO order, then delivers immediately', () => {
    const base = newBase();
    const { ml, pub, log } = simple(base);
    pub.publish(1);
    ml.setDeliveryPolicy('main', 'immediate');
    pub.publish(2);
    expect(log).toEqual([]);
    base.loop(EVLOOP.NONBLOCK);
    expect(log).toEqual(['ping 1', 'ping 2']);
    pub.publish(3);
    expect(log).toEqual(['ping 1', 'ping 2', 'ping 3']);
  });

  it('a limited flush on a prompt channel reschedules the rest', () => {
    const base = newBase();
    const { ml, pub, log } = simple(base);
    ml.setDeliveryPolicy('main', 'never');
    for (const n of [1, 2, 3, 4]) pub.publish(n);
    ml.setDeliveryPolicy('main', 'prompt');
    expect(ml.flush('main', 1)).toBe(1);
    expect(log).toEqual(['ping 1']);
    base.loop(EVLOOP.NONBLOCK);
    expect(log).toEqual(['ping 1', 'ping 2', 'ping 3', 'ping 4']);
  });

  it('switching to never cancels a scheduled delivery', () => {
    const base = newBase();
    const { ml, pub, log } = simple(base);
    ml.setDeliveryPolicy('main', 'prompt');
    pub.publish(1);
    ml.setDeliveryPolicy('main', 'never');
    base.loop(EVLOOP.NONBLOCK);
    expect(log).toEqual([]);
    expect(ml.pending('main')).toBe(1);
  });
});

describe('mainloop and hook errors', () => {
  function failing(base: EventBase) {
    const b = new PubsubBuilder();
    const disposed: number[] = [];
    const src = b.connector('src');
    src.registerType<number>('num', { dispose: (n) => disposed.push(n) });
    const pub = src.addPub('main', ping);
    b.connector('bad').addSub('main', ping, (n) => {
      if (n === 2) throw new Error('hook failed on 2');
    });
    const good: number[] = [];
    b.connector('good').addSub('main', ping, (n) => good.push(n));
    const ml = new Mainloop(base).connect(b);
    cleanups.push(() => ml.disconnect());
    ml.setDeliveryPolicy('main', 'prompt');
    return { ml, pub, disposed, good };
  }

  it('without a handler a prompt delivery error comes out of the loop, after the burst was delivered', () => {
    const base = newBase();
    const { pub, disposed, good } = failing(base);
    for (const n of [1, 2, 3]) pub.publish(n);
    expect(() => base.dispatch()).toThrow('hook failed on 2');
    expect(good).toEqual([1, 2, 3]);
    expect(disposed).toEqual([1, 2, 3]);
  });

  it('with a handler the loop goes on and the handler names the subscriber', () => {
    const base = newBase();
    const { ml, pub, good } = failing(base);
    const seen: string[] = [];
    ml.setErrorHandler((err, info) => seen.push(`${info.subscriber}: ${(err as Error).message}`));
    for (const n of [1, 2, 3]) pub.publish(n);
    expect(base.dispatch()).toBe(1);
    expect(good).toEqual([1, 2, 3]);
    expect(seen).toEqual(['bad: hook failed on 2']);
  });

  it('the handler carries over to the next connection', () => {
    const base = newBase();
    const ml = new Mainloop(base);
    cleanups.push(() => ml.disconnect());
    const seen: string[] = [];
    ml.setErrorHandler((err) => seen.push((err as Error).message));
    const b = new PubsubBuilder();
    const pub = b.connector('src').addPub('main', ping);
    b.connector('bad').addSub('main', ping, () => {
      throw new Error('boom');
    });
    ml.connect(b);
    ml.setDeliveryPolicy('main', 'immediate');
    expect(pub.publish(1)).toBe(true);
    expect(seen).toEqual(['boom']);
  });
});

describe('prepare, then commit or abandon (replacing a system without failing half-way)', () => {
  /** A system whose src publishes ping on "main", received into `log`. */
  function system(log: string[], tag: string) {
    const b = new PubsubBuilder();
    const pub = b.connector('src').addPub('main', ping);
    b.connector('sink').addSub('main', ping, (n) => log.push(`${tag} ${n}`));
    return { b, pub };
  }

  function liveEvents(base: EventBase): number {
    return base._allEvents().filter((ev) => !ev.freed).length;
  }

  it('prepare leaves the connected system untouched, and a bad policy leaves nothing behind', () => {
    const base = newBase();
    const log: string[] = [];
    const first = system(log, 'old');
    const ml = new Mainloop(base).connect(first.b);
    cleanups.push(() => ml.disconnect());
    ml.setDeliveryPolicy('main', 'immediate');
    const events = [...ml.events];
    const count = liveEvents(base);
    for (const [policies, code] of [
      [{ nosuch: 'prompt' }, 'ERR_UNKNOWN_CHANNEL'],
      [{ main: 'sometimes' }, 'ERR_INVALID_ARG_VALUE'],
    ] as const) {
      const next = system(log, 'new');
      expect(() => ml.prepare(next.b, policies as never)).toThrow(expect.objectContaining({ code }));
      expect(liveEvents(base)).toBe(count); // its channel events were freed again
      expect(next.pub.publish(9)).toBe(false); // and the system closed
    }
    const next = system(log, 'new');
    const prepared = ml.prepare(next.b, { main: 'prompt' });
    expect(prepared.state).toBe('prepared');
    expect(prepared.events).toHaveLength(1);
    expect(ml.pubsub).not.toBe(prepared.pubsub);
    expect([...ml.events]).toEqual(events);
    expect(ml.deliveryPolicy('main')).toBe('immediate');
    first.pub.publish(1);
    expect(log).toEqual(['old 1']);
    ml.abandon(prepared);
    ml.abandon(prepared); // idempotent
    expect(prepared.state).toBe('abandoned');
    expect(prepared.events.every((ev) => ev.freed)).toBe(true);
    expect(liveEvents(base)).toBe(count);
    expect(() => ml.commit(prepared)).toThrow(expect.objectContaining({ code: 'ERR_NOT_PREPARED' }));
    first.pub.publish(2);
    expect(log).toEqual(['old 1', 'old 2']);
  });

  it('commit swaps the prepared system in and sets its policies; a backlog is scheduled, not delivered inside', () => {
    const base = newBase();
    const log: string[] = [];
    const first = system(log, 'old');
    const ml = new Mainloop(base).connect(first.b);
    cleanups.push(() => ml.disconnect());
    const oldEvents = [...ml.events];
    const next = system(log, 'new');
    const prepared = ml.prepare(next.b, { main: 'prompt' });
    next.pub.publish(1); // queued in the prepared system: no policy is active before commit
    base.loop(EVLOOP.NONBLOCK);
    expect(log).toEqual([]);
    ml.commit(prepared);
    expect(prepared.state).toBe('committed');
    expect(ml.pubsub).toBe(prepared.pubsub);
    expect(oldEvents.every((ev) => ev.freed)).toBe(true);
    expect(first.pub.publish(5)).toBe(false); // the old system is closed
    expect(ml.deliveryPolicy('main')).toBe('prompt');
    expect(log).toEqual([]); // scheduled on the next pass, not run by commit
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log).toEqual(['new 1']);
    expect(() => ml.commit(prepared)).toThrow(expect.objectContaining({ code: 'ERR_NOT_PREPARED' }));
    expect(ml.pubsub).toBe(prepared.pubsub);
  });

  it("commit finishes the swap before it rethrows an old message's dispose error", () => {
    const base = newBase();
    const b = new PubsubBuilder();
    const src = b.connector('src');
    src.registerType<number>('num', {
      dispose: () => {
        throw new Error('dispose failed');
      },
    });
    const pub = src.addPub('main', ping);
    b.connector('sink').addSub('main', ping, () => {});
    const ml = new Mainloop(base).connect(b);
    cleanups.push(() => ml.disconnect());
    pub.publish(1); // queued ('never'): disposed when the old system closes
    const log: string[] = [];
    const next = system(log, 'new');
    const prepared = ml.prepare(next.b, { main: 'immediate' });
    expect(() => ml.commit(prepared)).toThrow('dispose failed');
    expect(ml.pubsub).toBe(prepared.pubsub);
    expect(prepared.state).toBe('committed');
    expect(ml.deliveryPolicy('main')).toBe('immediate');
    next.pub.publish(2);
    expect(log).toEqual(['new 2']);
  });

  it('commit refuses a connection prepared for another base, changing nothing', () => {
    const base = newBase();
    const other = new Mainloop(newBase());
    const log: string[] = [];
    const ml = new Mainloop(base).connect(system(log, 'old').b);
    cleanups.push(() => ml.disconnect());
    const before = ml.pubsub;
    const prepared = other.prepare(system(log, 'new').b);
    expect(() => ml.commit(prepared)).toThrow(expect.objectContaining({ code: 'ERR_NOT_PREPARED' }));
    expect(ml.pubsub).toBe(before);
    expect(prepared.state).toBe('prepared');
    other.abandon(prepared);
  });
});
