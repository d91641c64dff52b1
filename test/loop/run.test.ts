// Cooperative run mode: libevent serves its events inside Node's loop, and Node keeps working.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';

import { EV, EventBase, io } from '../../lib/index.js';
import { methods } from './helpers.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function echoRoundTrip(text: string): Promise<string> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    return await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => c.write(text));
      c.on('data', (d) => {
        resolve(d.toString());
        c.end();
      });
      c.on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe.each(methods)('run() on %s', (method) => {
  it('keeps Node timers, sockets, fs and promises working while it serves libevent events', async () => {
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    let bytesSeen = 0;
    const reader = base
      .event(a, EV.READ | EV.PERSIST, (fd) => {
        const buf = new Uint8Array(64);
        for (let n = io.read(fd, buf); n > 0; n = io.read(fd, buf)) bytesSeen += n;
      })
      .add();
    let ticks = 0;
    const ticker = base
      .timer(
        () => {
          ticks++;
          io.write(b, new Uint8Array([ticks & 0xff]));
        },
        { persist: true },
      )
      .add(5);

    const nodeSide = (async () => {
      const t0 = Date.now();
      await sleep(30);
      const slept = Date.now() - t0;
      const echoed = await echoRoundTrip('hello through libuv');
      const pkg = JSON.parse(await fs.readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string };
      const awaited = await Promise.resolve(42);
      // Let libevent tick a little more, then end its work: run() resolves when nothing is left.
      await sleep(20);
      ticker.del();
      reader.del();
      return { slept, echoed, name: pkg.name, awaited };
    })();

    expect(await base.run()).toBe(1);
    const r = await nodeSide;
    expect(r.slept).toBeGreaterThanOrEqual(29);
    expect(r.echoed).toBe('hello through libuv');
    expect(r.name).toBe('node-libevent');
    expect(r.awaited).toBe(42);
    expect(ticks).toBeGreaterThanOrEqual(5);
    expect(bytesSeen).toBeGreaterThanOrEqual(ticks - 1);
    io.close(a);
    io.close(b);
    base.free();
  });

  it('does not spin while waiting (sanity bound on CPU time)', async () => {
    const base = new EventBase({ method });
    let fired = 0;
    const t = base.timer(() => { if (++fired === 4) t.del(); }, { persist: true }).add(60);
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    await base.run();
    const wall = performance.now() - wall0;
    const cpu = process.cpuUsage(cpu0);
    expect(fired).toBe(4);
    expect(wall).toBeGreaterThanOrEqual(200);
    // A spinning loop would use ~100% of the wall time; idle waiting uses a few percent.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(wall * 0.5);
    base.free();
  });

  it('runs microtasks queued by a libevent callback before the next callback', async () => {
    const base = new EventBase({ method });
    const order: string[] = [];
    base.timer(() => {
      order.push('first');
      void Promise.resolve().then(() => order.push('microtask'));
      process.nextTick(() => order.push('tick'));
    }).add(1);
    base.timer(() => order.push('second')).add(30);
    expect(await base.run()).toBe(1);
    expect(order).toEqual(['first', 'tick', 'microtask', 'second']);
    base.free();
  });

  it('resolves 1 at once with nothing to do', async () => {
    const base = new EventBase({ method });
    expect(await base.run()).toBe(1);
    base.free();
  });

  it('ends with 0 on loopbreak() from Node, and on loopexit(ms) with a far timer pending', async () => {
    const base = new EventBase({ method });
    const far = base.timer(() => {}).add(10_000);
    setTimeout(() => base.loopbreak(), 20);
    expect(await base.run()).toBe(0);
    expect(base.gotBreak).toBe(true);
    expect(far.pending(EV.TIMEOUT)).toBe(EV.TIMEOUT);

    const t0 = performance.now();
    base.loopexit(40);
    expect(await base.run()).toBe(0);
    expect(base.gotExit).toBe(true);
    expect(base.gotBreak).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    base.free();
  });

  it('rejects with a callback error, keeps the base usable and loses no activation', async () => {
    const base = new EventBase({ method });
    const ran: string[] = [];
    const boom = new Error('boom');
    const a = base.timer(() => { ran.push('a'); throw boom; });
    const b = base.timer(() => ran.push('b'));
    a.active(EV.TIMEOUT);
    b.active(EV.TIMEOUT);
    await expect(base.run()).rejects.toBe(boom);
    expect(ran).toEqual(['a']);
    expect(b.pending()).toBe(EV.TIMEOUT);
    expect(await base.run()).toBe(1);
    expect(ran).toEqual(['a', 'b']);
    base.free();
  });

  it('refuses a second run, dispatch() during run, and a re-entrant loop from a callback', async () => {
    const base = new EventBase({ method });
    let inner: unknown;
    base.timer(() => {
      try {
        base.dispatch();
      } catch (err) {
        inner = err;
      }
    }).add(5);
    const running = base.run();
    expect(base.running).toBe(true);
    await expect(base.run()).rejects.toMatchObject({ code: 'ERR_LOOP_RUNNING' });
    expect(() => base.dispatch()).toThrow(expect.objectContaining({ code: 'ERR_LOOP_RUNNING' }));
    expect(await running).toBe(1);
    expect(inner).toMatchObject({ code: 'ERR_LOOP_REENTRANT' });
    expect(base.running).toBe(false);
    base.free();
  });

  it('settles with 0 when the base is freed from Node while running', async () => {
    const base = new EventBase({ method });
    base.timer(() => {}).add(10_000);
    setTimeout(() => base.free(), 10);
    expect(await base.run()).toBe(0);
    expect(base.freed).toBe(true);
    expect(() => base.numEvents()).toThrow(expect.objectContaining({ code: 'ERR_BASE_FREED' }));
  });

  it('can be followed by an exclusive dispatch() on the same base', async () => {
    const base = new EventBase({ method });
    let n = 0;
    base.timer(() => n++).add(1);
    expect(await base.run()).toBe(1);
    base.timer(() => n++).add(1);
    expect(base.dispatch()).toBe(1);
    expect(n).toBe(2);
    base.free();
  });
});
