import { describe, expect, it, vi } from 'vitest';
import {
  DispatchConfig,
  DispatchError,
  Dispatcher,
  MessageHeader,
  Naming,
  flushImmediately,
  type AlertFn,
  type Receiver,
} from '../../lib/dispatch/index.js';

/** A config where every listed message is on `channel` with `type`. */
function configFor(msgs: number[], channel = 0, type = 0): DispatchConfig {
  const cfg = new DispatchConfig();
  for (const m of msgs) {
    expect(cfg.setMessageChannel(m, channel)).toBe(true);
    expect(cfg.setMessageType(m, type)).toBe(true);
  }
  return cfg;
}

describe('Dispatcher core (spec §6.2)', () => {
  it('D1: an empty configuration builds a dispatcher with one idle channel', () => {
    const d = new Dispatcher(new DispatchConfig());
    expect(d.channelCount).toBe(1);
    expect(d.flush(0)).toBe(0);
    expect(d.pending(0)).toBe(0);
  });

  it('D2: nothing is delivered before a flush; then only the right receiver gets it', () => {
    const cfg = configFor([0, 1]);
    const r1: number[] = [];
    const r2: number[] = [];
    cfg.addReceiver(0, 0, (p) => r1.push(p as number));
    cfg.addReceiver(1, 0, (p) => r2.push(p as number));
    const d = new Dispatcher(cfg);

    expect(d.send(new MessageHeader(0, 0, 0, 0), 7)).toBe(true);
    expect(r1).toEqual([]);
    expect(d.pending(0)).toBe(1);
    expect(d.flush(0)).toBe(1);
    expect(r1).toEqual([7]);
    expect(r2).toEqual([]);
    expect(d.pending(0)).toBe(0);
  });

  it('D3: a receiver registered twice runs twice', () => {
    const cfg = configFor([1]);
    let total = 0;
    const recv: Receiver = (p) => {
      total += (p as number) * 10;
    };
    cfg.addReceiver(1, 0, recv);
    cfg.addReceiver(1, 0, recv);
    const d = new Dispatcher(cfg);
    d.send(new MessageHeader(0, 0, 1, 0), 7);
    d.flush(0);
    expect(total).toBe(140);
    expect(d.receiversOf(1)).toHaveLength(2);
  });

  it('D4: a type without format function formats as "<>"', () => {
    const cfg = configFor([0]);
    const seen: string[] = [];
    let d!: Dispatcher;
    cfg.addReceiver(0, 0, (p, h) => seen.push(d.format(h.type, p)));
    d = new Dispatcher(cfg);
    d.send(new MessageHeader(0, 0, 0, 0), { x: 1 });
    d.flush(0);
    expect(seen).toEqual(['<>']);
    expect(d.format(99, 'anything')).toBe('<>');
  });

  it('D5: a message without receivers is disposed at once, never queued, and alerts nobody', () => {
    const cfg = configFor([0, 1], 1, 2);
    cfg.addReceiver(1, 0, () => {});
    const dispose = vi.fn();
    cfg.setTypeFns(2, { dispose });
    const d = new Dispatcher(cfg);
    const alert = vi.fn();
    d.setAlert(1, alert);

    expect(d.send(new MessageHeader(0, 1, 0, 2), 'payload')).toBe(true);
    expect(dispose).toHaveBeenCalledTimes(1);
    expect(dispose).toHaveBeenCalledWith('payload');
    expect(d.pending(1)).toBe(0);
    expect(alert).not.toHaveBeenCalled();
    expect(d.flush(1)).toBe(0);
    expect(dispose).toHaveBeenCalledTimes(1);
  });

  it('D6: an alert that flushes delivers before send returns; format uses the type function', () => {
    const cfg = configFor([5], 2, 3);
    cfg.setTypeFns(3, { format: (p) => `[${(p as number[]).join(', ')}]` });
    const got: unknown[] = [];
    cfg.addReceiver(5, 0, (p) => got.push(p));
    const d = new Dispatcher(cfg);
    d.setAlert(2, (disp, ch) => disp.flush(ch));
    expect(d.channelCount).toBe(3);

    const payload = [13, 37];
    d.send(new MessageHeader(0, 2, 5, 3), payload);
    expect(got).toEqual([payload]);
    expect(d.pending(2)).toBe(0);
    expect(d.format(3, payload)).toBe('[13, 37]');
    expect(d.describe(new MessageHeader(0, 2, 5, 3), payload)).toBe('{5} ([13, 37]) from {0} on {2}');
  });

  it('D7: type functions may be registered again only with the identical pair', () => {
    const cfg = new DispatchConfig();
    const dispose = (): void => {};
    const format = (): string => 'x';
    expect(cfg.setTypeFns(0, { dispose, format })).toBe(true);
    expect(cfg.setTypeFns(0, { dispose })).toBe(false);
    expect(cfg.setTypeFns(0, { format })).toBe(false);
    expect(cfg.setTypeFns(0, { dispose, format: () => 'y' })).toBe(false);
    expect(cfg.setTypeFns(0, { dispose, format })).toBe(true);
    const d = new Dispatcher(cfg);
    expect(d.typeFnsOf(0)).toEqual({ dispose, format });
  });

  it('D8: a message keeps its first type and channel; the same value again is fine', () => {
    const cfg = new DispatchConfig();
    expect(cfg.setMessageType(4, 1)).toBe(true);
    expect(cfg.setMessageType(4, 1)).toBe(true);
    expect(cfg.setMessageType(4, 2)).toBe(false);
    expect(cfg.setMessageChannel(4, 3)).toBe(true);
    expect(cfg.setMessageChannel(4, 3)).toBe(true);
    expect(cfg.setMessageChannel(4, 0)).toBe(false);
    const d = new Dispatcher(cfg);
    expect(d.routeOf(4)).toEqual({ channel: 3, type: 1 });
  });

  it('D9: sparse IDs with gaps in the middle build; queues cover the highest channel', () => {
    const cfg = new DispatchConfig();
    cfg.setMessageChannel(0, 1);
    cfg.setMessageType(0, 0);
    cfg.setMessageChannel(7, 9);
    cfg.setMessageType(7, 4);
    cfg.setMessageChannel(30, 2);
    cfg.setMessageType(30, 1);
    cfg.addReceiver(7, 3, () => {});
    cfg.setTypeFns(12, { format: () => 't12' });
    const d = new Dispatcher(cfg);
    expect(d.channelCount).toBe(10);
    expect(d.routeOf(7)).toEqual({ channel: 9, type: 4 });
    expect(d.routeOf(3)).toBeUndefined();
    expect(d.format(12, null)).toBe('t12');
    d.send(new MessageHeader(3, 9, 7, 4), 1);
    expect(d.pending(9)).toBe(1);
  });

  it('D9: reserveChannels adds queues for channels no message uses', () => {
    const cfg = configFor([0], 1);
    cfg.reserveChannels(5);
    expect(new Dispatcher(cfg).channelCount).toBe(5);
  });

  it('D10: setting an alert on a channel it does not have throws and changes nothing', () => {
    const cfg = configFor([0], 1);
    cfg.addReceiver(0, 0, () => {});
    const d = new Dispatcher(cfg);
    const alert = vi.fn();
    d.setAlert(1, alert);
    expect(() => d.setAlert(2, () => {})).toThrow(DispatchError);
    expect(() => d.setAlert(-1, () => {})).toThrow(/channels 0 to 1/);
    d.send(new MessageHeader(0, 1, 0, 0), 1);
    expect(alert).toHaveBeenCalledTimes(1);
  });

  it('D11: flushing an unknown channel is a no-op that returns 0', () => {
    const cfg = configFor([0]);
    cfg.addReceiver(0, 0, () => {});
    const d = new Dispatcher(cfg);
    d.send(new MessageHeader(0, 0, 0, 0), 1);
    expect(d.flush(5)).toBe(0);
    expect(d.flush(-1)).toBe(0);
    expect(d.flush(0.5)).toBe(0);
    expect(d.pending(0)).toBe(1);
  });

  it('D12: a header with the wrong type or channel is rejected and not queued', () => {
    const cfg = configFor([0], 1, 1);
    cfg.reserveChannels(3);
    const recv = vi.fn();
    const dispose = vi.fn();
    cfg.addReceiver(0, 0, recv);
    cfg.setTypeFns(1, { dispose });
    cfg.setTypeFns(2, { dispose });
    const d = new Dispatcher(cfg);
    const naming = new Naming();
    naming.messages.id('m0');
    expect(() => d.send(new MessageHeader(0, 1, 0, 2, naming), 'x')).toThrow(
      /Message m0 \(0\) was sent with type 2, but it is configured with type 1/,
    );
    expect(() => d.send(new MessageHeader(0, 2, 0, 1), 'x')).toThrow(/channel 2, but it is configured on channel 1/);
    expect(() => d.send(new MessageHeader(0, 1, 9, 1), 'x')).toThrow(/not configured/);
    expect(() => d.send(new MessageHeader(0, 1, -3, 1), 'x')).toThrow(/Invalid message ID -3/);
    expect(d.pending(1)).toBe(0);
    expect(d.pending(2)).toBe(0);
    d.flush(1);
    d.flush(2);
    expect(recv).not.toHaveBeenCalled();
    // The payload stays the caller's when a send is refused.
    expect(dispose).not.toHaveBeenCalled();
  });

  it('D13: a message without receivers is dropped and disposed whichever way it is sent', () => {
    const cfg = configFor([0, 1], 0, 0);
    const dispose = vi.fn();
    cfg.setTypeFns(0, { dispose });
    cfg.addReceiver(1, 0, () => {});
    const d = new Dispatcher(cfg);
    const h = new MessageHeader(2, 0, 0, 0);
    expect(d.send(h, 'a')).toBe(true);
    expect(d.send(h, 'b')).toBe(true);
    expect(dispose.mock.calls).toEqual([['a'], ['b']]);
    expect(d.pending(0)).toBe(0);
  });

  it('rejects receivers on a message that has no channel or type', () => {
    const cfg = new DispatchConfig();
    cfg.setMessageType(0, 0);
    cfg.addReceiver(0, 0, () => {});
    expect(() => new Dispatcher(cfg)).toThrow(/Message 0 has receivers but no channel/);
  });

  it('refuses invalid IDs in the configuration', () => {
    const cfg = new DispatchConfig();
    expect(() => cfg.setMessageType(-1, 0)).toThrow(DispatchError);
    expect(() => cfg.setMessageChannel(0, 65535)).toThrow(/Invalid channel ID 65535/);
    expect(() => cfg.addReceiver(1.5, 0, () => {})).toThrow(/Invalid message ID 1.5/);
    expect(() => cfg.addReceiver(1, 0, 'nope' as unknown as Receiver)).toThrow(/not a function/);
  });
});

describe('Dispatcher queues, ordering and ownership', () => {
  function setup(nMsgs = 3) {
    const cfg = new DispatchConfig();
    const log: string[] = [];
    const disposed: unknown[] = [];
    for (let m = 0; m < nMsgs; m++) {
      cfg.setMessageChannel(m, 0);
      cfg.setMessageType(m, 0);
    }
    cfg.setTypeFns(0, { dispose: (p) => disposed.push(p) });
    return { cfg, log, disposed };
  }

  it('keeps FIFO order across ring growth and wrap-around', () => {
    const { cfg } = setup(1);
    const got: number[] = [];
    cfg.addReceiver(0, 0, (p) => got.push(p as number));
    const d = new Dispatcher(cfg);
    const h = new MessageHeader(0, 0, 0, 0);
    let next = 0;
    let expected = 0;
    // Interleave sends and partial flushes so the head wraps while the ring grows several times.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < round + 3; i++) d.send(h, next++);
      const n = d.flush(0, round + 1);
      expect(n).toBe(round + 1);
    }
    d.flush(0);
    for (const v of got) expect(v).toBe(expected++);
    expect(expected).toBe(next);
  });

  it('disposes every payload exactly once: delivered, dropped, or queued at close()', () => {
    const { cfg, disposed } = setup(2);
    cfg.addReceiver(0, 0, () => {});
    const d = new Dispatcher(cfg);
    const delivered = { id: 'delivered' };
    const dropped = { id: 'dropped' };
    const queued = [{ id: 'q1' }, { id: 'q2' }];
    d.send(new MessageHeader(0, 0, 0, 0), delivered);
    d.flush(0);
    d.send(new MessageHeader(0, 0, 1, 0), dropped);
    for (const q of queued) d.send(new MessageHeader(0, 0, 0, 0), q);
    expect(disposed).toEqual([delivered, dropped]);
    d.close();
    expect(disposed).toEqual([delivered, dropped, ...queued]);
    d.close();
    expect(disposed).toHaveLength(4);
  });

  it('after close() sends dispose the payload and return false, and alerts are gone', () => {
    const { cfg, disposed } = setup(1);
    const recv = vi.fn();
    cfg.addReceiver(0, 0, recv);
    const d = new Dispatcher(cfg);
    const alert = vi.fn();
    d.setAlert(0, alert);
    d.close();
    expect(d.closed).toBe(true);
    expect(d.send(new MessageHeader(0, 0, 0, 0), 'late')).toBe(false);
    expect(disposed).toEqual(['late']);
    expect(d.flush(0)).toBe(0);
    expect(alert).not.toHaveBeenCalled();
    expect(recv).not.toHaveBeenCalled();
  });

  it('closing from inside a receiver still disposes the message being delivered once', () => {
    const { cfg, disposed } = setup(1);
    let d!: Dispatcher;
    const seen: unknown[] = [];
    cfg.addReceiver(0, 0, (p) => {
      seen.push(p);
      d.close();
    });
    cfg.addReceiver(0, 0, (p) => seen.push(`second:${String(p)}`));
    d = new Dispatcher(cfg);
    const h = new MessageHeader(0, 0, 0, 0);
    d.send(h, 'a');
    d.send(h, 'b');
    expect(d.flush(0)).toBe(1);
    expect(seen).toEqual(['a', 'second:a']);
    expect(disposed.sort()).toEqual(['a', 'b']);
  });

  it('alerts only on the empty → non-empty transition, after the append', () => {
    const { cfg } = setup(1);
    cfg.addReceiver(0, 0, () => {});
    const d = new Dispatcher(cfg);
    const pendingAtAlert: number[] = [];
    const arg = { tag: 'user data' };
    d.setAlert(
      0,
      (disp, ch, a) => {
        expect(disp).toBe(d);
        expect(ch).toBe(0);
        expect(a).toBe(arg);
        pendingAtAlert.push(disp.pending(ch));
      },
      arg,
    );
    const h = new MessageHeader(0, 0, 0, 0);
    d.send(h, 1);
    d.send(h, 2);
    d.send(h, 3);
    expect(pendingAtAlert).toEqual([1]);
    d.flush(0, 2);
    d.send(h, 4); // queue was not empty: no alert (Tor's behaviour; the mainloop re-activates)
    expect(pendingAtAlert).toEqual([1]);
    d.flush(0);
    d.send(h, 5);
    expect(pendingAtAlert).toEqual([1, 1]);
    d.setAlert(0, null);
    d.flush(0);
    d.send(h, 6);
    expect(pendingAtAlert).toEqual([1, 1]);
  });

  it('a flush delivers messages sent during it, counting them against max (drain, not snapshot)', () => {
    const cfg = new DispatchConfig();
    for (const m of [0, 1]) {
      cfg.setMessageChannel(m, 0);
      cfg.setMessageType(m, 0);
    }
    const order: string[] = [];
    let d!: Dispatcher;
    cfg.addReceiver(0, 0, (p) => {
      order.push(`A${String(p)}`);
      d.send(new MessageHeader(0, 0, 1, 0), p);
    });
    cfg.addReceiver(1, 1, (p) => order.push(`B${String(p)}`));
    d = new Dispatcher(cfg);
    const a = new MessageHeader(1, 0, 0, 0);
    d.send(a, 1);
    d.send(a, 2);
    expect(d.flush(0)).toBe(4);
    expect(order).toEqual(['A1', 'A2', 'B1', 'B2']);
    order.length = 0;
    d.send(a, 3);
    expect(d.flush(0, 1)).toBe(1);
    expect(order).toEqual(['A3']);
    expect(d.pending(0)).toBe(1);
  });

  it('an alert that flushes gives depth-first delivery on the sender stack', () => {
    const cfg = new DispatchConfig();
    for (const m of [0, 1]) {
      cfg.setMessageChannel(m, 0);
      cfg.setMessageType(m, 0);
    }
    const order: string[] = [];
    let d!: Dispatcher;
    cfg.addReceiver(0, 1, () => {
      order.push('R1(A)');
      d.send(new MessageHeader(1, 0, 1, 0), null);
      order.push('R1 done');
    });
    cfg.addReceiver(0, 2, () => order.push('R2(A)'));
    cfg.addReceiver(1, 3, () => order.push('R3(B)'));
    d = new Dispatcher(cfg);
    d.setAlert(0, (disp, ch) => disp.flush(ch));
    d.send(new MessageHeader(0, 0, 0, 0), null);
    expect(order).toEqual(['R1(A)', 'R3(B)', 'R1 done', 'R2(A)']);
  });
});

describe('Dispatcher errors thrown by receivers', () => {
  function twoReceivers(first: Receiver) {
    const cfg = new DispatchConfig();
    cfg.setMessageChannel(0, 0);
    cfg.setMessageType(0, 0);
    const disposed: unknown[] = [];
    const second: unknown[] = [];
    cfg.setTypeFns(0, { dispose: (p) => disposed.push(p) });
    cfg.addReceiver(0, 4, first);
    cfg.addReceiver(0, 5, (p) => second.push(p));
    return { d: new Dispatcher(cfg), disposed, second, h: new MessageHeader(9, 0, 0, 0) };
  }

  it('with a handler: other receivers still run, payload disposed once, handler told who failed', () => {
    const boom = new Error('boom');
    const { d, disposed, second, h } = twoReceivers(() => {
      throw boom;
    });
    const handler = vi.fn();
    d.setErrorHandler(handler);
    d.send(h, 'p');
    expect(d.flush(0)).toBe(1);
    expect(second).toEqual(['p']);
    expect(disposed).toEqual(['p']);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(handler).toHaveBeenCalledWith(boom, { header: h, subsystem: 4, stage: 'receive' });
  });

  it('without a handler: rethrown after the flush finished, nothing lost', () => {
    const boom = new Error('boom');
    let calls = 0;
    const { d, disposed, second, h } = twoReceivers(() => {
      if (calls++ === 0) throw boom;
    });
    d.send(h, 'p1');
    d.send(h, 'p2');
    expect(() => d.flush(0)).toThrow(boom);
    expect(second).toEqual(['p1', 'p2']);
    expect(disposed).toEqual(['p1', 'p2']);
    expect(d.pending(0)).toBe(0);
  });

  it('several errors in one flush are rethrown together as an AggregateError', () => {
    const { d, disposed, h } = twoReceivers((p) => {
      throw new Error(`bad ${String(p)}`);
    });
    d.send(h, 1);
    d.send(h, 2);
    let caught: unknown;
    try {
      d.flush(0);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AggregateError);
    expect((caught as AggregateError).errors.map((e: Error) => e.message)).toEqual(['bad 1', 'bad 2']);
    expect(disposed).toEqual([1, 2]);
  });

  it('a throwing dispose function is reported and does not disturb the queue', () => {
    const cfg = new DispatchConfig();
    cfg.setMessageChannel(0, 0);
    cfg.setMessageType(0, 0);
    const got: unknown[] = [];
    cfg.addReceiver(0, 0, (p) => got.push(p));
    cfg.setTypeFns(0, {
      dispose: (p) => {
        if (p === 'bad') throw new Error('dispose failed');
      },
    });
    const d = new Dispatcher(cfg);
    const errors: [unknown, string, number | null][] = [];
    d.setErrorHandler((e, info) => errors.push([(e as Error).message, info.stage, info.subsystem]));
    const h = new MessageHeader(0, 0, 0, 0);
    d.send(h, 'bad');
    d.send(h, 'good');
    expect(d.flush(0)).toBe(2);
    expect(got).toEqual(['bad', 'good']);
    expect(errors).toEqual([['dispose failed', 'dispose', null]]);
  });

  it('a handler that throws has its error rethrown instead of swallowed', () => {
    const { d, second, h } = twoReceivers(() => {
      throw new Error('hook');
    });
    d.setErrorHandler(() => {
      throw new Error('handler');
    });
    d.send(h, 'x');
    expect(() => d.flush(0)).toThrow('handler');
    expect(second).toEqual(['x']);
    d.setErrorHandler(null);
    expect(d.errorHandler).toBeNull();
  });
});

describe('flushImmediately', () => {
  function chain(alert: AlertFn) {
    const cfg = new DispatchConfig();
    for (const m of [0, 1, 2]) {
      cfg.setMessageChannel(m, 0);
      cfg.setMessageType(m, 0);
    }
    const disposed: unknown[] = [];
    cfg.setTypeFns(0, { dispose: (p) => disposed.push(p) });
    const order: string[] = [];
    let d!: Dispatcher;
    cfg.addReceiver(0, 1, (p) => {
      order.push(`R1(${String(p)}) pending=${d.pending(0)}`);
      d.send(new MessageHeader(1, 0, 1, 0), `B<${String(p)}`);
      order.push('R1 done');
    });
    cfg.addReceiver(0, 2, (p) => order.push(`R2(${String(p)})`));
    cfg.addReceiver(1, 3, (p) => {
      order.push(`R3(${String(p)})`);
      d.send(new MessageHeader(1, 0, 2, 0), `C<${String(p)}`);
    });
    cfg.addReceiver(2, 4, (p) => order.push(`R4(${String(p)})`));
    d = new Dispatcher(cfg);
    d.setAlert(0, alert);
    return { d, order, disposed };
  }

  it('behaves exactly like an alert that flushes (depth-first, everything disposed once)', () => {
    const viaFlush = chain((disp, ch) => disp.flush(ch));
    const viaImmediate = chain(flushImmediately);
    for (const { d } of [viaFlush, viaImmediate]) {
      expect(d.send(new MessageHeader(0, 0, 0, 0), 'A')).toBe(true);
      expect(d.pending(0)).toBe(0);
    }
    expect(viaImmediate.order).toEqual(['R1(A) pending=0', 'R3(B<A)', 'R4(C<B<A)', 'R1 done', 'R2(A)']);
    expect(viaImmediate.order).toEqual(viaFlush.order);
    expect(viaImmediate.disposed).toEqual(['C<B<A', 'B<A', 'A']);
    expect(viaImmediate.disposed).toEqual(viaFlush.disposed);
  });

  it('does not alert again while messages queued before it are still there', () => {
    const { d, order } = chain(flushImmediately);
    d.setAlert(0, null);
    d.send(new MessageHeader(0, 0, 2, 0), 'old');
    d.setAlert(0, flushImmediately);
    d.send(new MessageHeader(0, 0, 2, 0), 'new');
    expect(order).toEqual([]);
    expect(d.pending(0)).toBe(2);
    expect(d.flush(0)).toBe(2);
    expect(order).toEqual(['R4(old)', 'R4(new)']);
    d.send(new MessageHeader(0, 0, 2, 0), 'later');
    expect(order.at(-1)).toBe('R4(later)');
  });

  it('rethrows receiver errors after all receivers ran and the payload was disposed', () => {
    const cfg = new DispatchConfig();
    cfg.setMessageChannel(0, 0);
    cfg.setMessageType(0, 0);
    const seen: string[] = [];
    cfg.setTypeFns(0, { dispose: () => seen.push('disposed') });
    cfg.addReceiver(0, 0, () => {
      throw new Error('first fails');
    });
    cfg.addReceiver(0, 1, () => seen.push('second ran'));
    const d = new Dispatcher(cfg);
    d.setAlert(0, flushImmediately);
    expect(() => d.send(new MessageHeader(0, 0, 0, 0), 1)).toThrow('first fails');
    expect(seen).toEqual(['second ran', 'disposed']);
    const handled: string[] = [];
    d.setErrorHandler((e) => handled.push((e as Error).message));
    expect(d.send(new MessageHeader(0, 0, 0, 0), 2)).toBe(true);
    expect(handled).toEqual(['first fails']);
  });
});

describe('MessageLink (routes resolved once per sender)', () => {
  function oneMessage(receivers: Receiver[], dispose?: (p: unknown) => void) {
    const cfg = configFor([0, 1], 0, 0);
    cfg.setTypeFns(0, { dispose });
    receivers.forEach((fn, i) => cfg.addReceiver(0, i, fn));
    return new Dispatcher(cfg);
  }

  it('the same header gets the same link, whose send queues exactly like send(header)', () => {
    const got: [unknown, number][] = [];
    const d = oneMessage([(p, h) => got.push([p, h.sender])]);
    const alice = new MessageHeader(1, 0, 0, 0);
    const bob = new MessageHeader(2, 0, 0, 0);
    const la = d.link(alice);
    expect(d.link(alice)).toBe(la);
    expect(la.header).toBe(alice);
    // Two senders of one message, interleaved through both ways of sending.
    expect(la.send('a1')).toBe(true);
    expect(d.send(bob, 'b1')).toBe(true);
    expect(d.send(alice, 'a2')).toBe(true);
    expect(d.link(bob).send('b2')).toBe(true);
    expect(d.send(bob, 'b3')).toBe(true);
    expect(d.pending(0)).toBe(5);
    expect(d.queued(0).map(([h, p]) => [p, h.sender])).toEqual([
      ['a1', 1],
      ['b1', 2],
      ['a2', 1],
      ['b2', 2],
      ['b3', 2],
    ]);
    expect(d.flush(0)).toBe(5);
    expect(got).toEqual([
      ['a1', 1],
      ['b1', 2],
      ['a2', 1],
      ['b2', 2],
      ['b3', 2],
    ]);
  });

  it('a header that does not match the configuration is refused when linking', () => {
    const d = oneMessage([() => {}]);
    expect(() => d.link(new MessageHeader(0, 1, 0, 0))).toThrow(expect.objectContaining({ code: 'ERR_DISPATCH_HEADER' }));
    expect(() => d.link(new MessageHeader(0, 0, 0, 3))).toThrow(/configured with type 0/);
    expect(() => d.link(new MessageHeader(0, 0, 7, 0))).toThrow(/not configured/);
    expect(() => d.link(new MessageHeader(0, 0, -1, 0))).toThrow(expect.objectContaining({ code: 'ERR_DISPATCH_ID' }));
    // A refused header stays refused for send too, and nothing was queued.
    expect(() => d.send(new MessageHeader(0, 1, 0, 0), 'x')).toThrow(DispatchError);
    expect(d.pending(0)).toBe(0);
  });

  it('a link of a message nobody receives disposes at once; after close() it disposes and refuses', () => {
    const disposed: unknown[] = [];
    const alert = vi.fn();
    const d = oneMessage([() => {}], (p) => disposed.push(p));
    d.setAlert(0, alert);
    const unheard = d.link(new MessageHeader(0, 0, 1, 0));
    expect(unheard.send('u')).toBe(true);
    expect(disposed).toEqual(['u']);
    expect(alert).not.toHaveBeenCalled();
    const link = d.link(new MessageHeader(0, 0, 0, 0));
    expect(link.send('q')).toBe(true);
    expect(alert).toHaveBeenCalledTimes(1);
    d.close();
    expect(disposed).toEqual(['u', 'q']);
    expect(link.send('late')).toBe(false);
    expect(unheard.send('late2')).toBe(false);
    expect(disposed).toEqual(['u', 'q', 'late', 'late2']);
    expect(d.pending(0)).toBe(0);
    expect(alert).toHaveBeenCalledTimes(1);
  });

  it('after a throwing receiver or dispose the flush goes on with exactly the next step', () => {
    const log: string[] = [];
    const d = oneMessage(
      [
        (p) => log.push(`r0 ${String(p)}`),
        (p) => {
          log.push(`r1 ${String(p)}`);
          if (p === 2) throw new Error(`r1 ${String(p)}`);
        },
        (p) => log.push(`r2 ${String(p)}`),
      ],
      (p) => {
        log.push(`dispose ${String(p)}`);
        if (p === 3) throw new Error(`dispose ${String(p)}`);
      },
    );
    const errors: [string, number | null, string][] = [];
    d.setErrorHandler((e, info) => errors.push([(e as Error).message, info.subsystem, info.stage]));
    const link = d.link(new MessageHeader(0, 0, 0, 0));
    for (const p of [1, 2, 3, 4]) link.send(p);
    expect(d.flush(0, 3)).toBe(3);
    expect(log).toEqual([
      'r0 1', 'r1 1', 'r2 1', 'dispose 1',
      'r0 2', 'r1 2', 'r2 2', 'dispose 2',
      'r0 3', 'r1 3', 'r2 3', 'dispose 3',
    ]); // prettier-ignore
    expect(errors).toEqual([
      ['r1 2', 1, 'receive'],
      ['dispose 3', null, 'dispose'],
    ]);
    expect(d.pending(0)).toBe(1);
    expect(d.flush(0)).toBe(1);
    expect(log.slice(-4)).toEqual(['r0 4', 'r1 4', 'r2 4', 'dispose 4']);
  });
});
