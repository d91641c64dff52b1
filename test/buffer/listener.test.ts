// Listener and connect on every backend: mirrors libevent's regress_listener.c (randport,
// immediate disable, free inside the accept callback, the error callback) and the connect
// cases of regress_bufferevent.c (success, refused once with no read callback, nothing
// synchronous), plus EMFILE: the listener backs off instead of spinning (libevent#71).
import fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import { BEV, type BufferEvent, EV, EventBase, io, type Listener } from '../../lib/index.js';
import { bufferedStats, expectCode, loopFor, loopUntil, methods } from './helpers.js';

describe.each(methods)('Listener and connect (%s)', (method) => {
  const newBase = () => new EventBase({ method });

  it('accepts connections as bufferevents; connect() reports CONNECTED first; an echo round trip', () => {
    const base = newBase();
    const server: BufferEvent[] = [];
    const l = base.listen({ host: '127.0.0.1' }, (bev) => {
      server.push(bev);
      bev.setCallbacks({ read: (b) => b.writeBuffer(b.input) }); // echo without a copy
    });
    expect(l.port).toBeGreaterThan(0);
    const log: string[] = [];
    let reply = '';
    const c = base.connect('127.0.0.1', l.port, {
      event: (_b, what) => log.push('event ' + what.toString(16)),
      read: (b) => (reply += b.input.remove(1e6).toString()),
    });
    c.write('ping'); // queued before the connect completes
    expect(log).toEqual([]); // nothing runs inside connect()
    loopUntil(base, () => reply === 'ping');
    expect(log[0]).toBe('event ' + BEV.CONNECTED.toString(16));
    expect(server.length).toBe(1);
    c.free();
    for (const s of server) s.free();
    l.free();
    base.free();
    expect(bufferedStats()).toMatchObject({ bufferevents: 0, listeners: 0 });
  });

  it('connect to a port nobody listens on: one ERROR (no direction bit) with ECONNREFUSED, no read', () => {
    const base = newBase();
    const probe = base.listen({ host: '127.0.0.1' }, () => undefined);
    const port = probe.port;
    probe.free();
    const events: [number, string | undefined][] = [];
    let reads = 0;
    const c = base.connect('127.0.0.1', port, { event: (_b, what, err) => events.push([what, err?.code]), read: () => reads++ });
    expect(events).toEqual([]);
    loopUntil(base, () => events.length > 0);
    loopFor(base, 30);
    expect(events).toEqual([[BEV.ERROR, 'ECONNREFUSED']]);
    expect(reads).toBe(0);
    c.free();
    base.free();
  });

  it('connect validates its address in the addon and throws a synchronous failure', () => {
    const base = newBase();
    expectCode(() => base.connect('example.com', 80), Error, 'ERR_INVALID_ADDRESS');
    expectCode(() => base.connect('127.0.0.1', 70000), RangeError, 'ERR_SOCKET_BAD_PORT');
    expectCode(() => base.connect(5 as never, 1), TypeError, 'ERR_INVALID_ARG_TYPE');
    const err = (() => {
      try {
        base.connect('255.255.255.255', 9); // broadcast without SO_BROADCAST: refused at once
      } catch (e) {
        return e as { code?: string };
      }
    })();
    expect(['EACCES', 'ENETUNREACH']).toContain(err?.code);
    base.loop(2);
    expect(bufferedStats().bufferevents).toBe(0);
    base.free();
  });

  it('two listeners on port 0 get distinct ports; the third accept disables the listener', () => {
    const base = newBase();
    const accepted: BufferEvent[] = [];
    const l1 = base.listen({ host: '127.0.0.1' }, (bev, l) => {
      accepted.push(bev);
      if (accepted.length === 3) l.disable();
    });
    const l2 = base.listen({ host: '127.0.0.1' }, () => undefined);
    expect(l1.port).not.toBe(l2.port);
    const clients = [0, 1, 2, 3].map(() => base.connect('127.0.0.1', l1.port));
    loopUntil(base, () => accepted.length === 3);
    loopFor(base, 50);
    expect(accepted.length).toBe(3); // the fourth waits in the kernel's queue
    l1.enable();
    loopUntil(base, () => accepted.length === 4);
    for (const b of [...accepted, ...clients]) b.free();
    l1.free();
    l2.free();
    base.free();
  });

  it('disabling inside the accept callback stops the accept loop at once (immediate_close)', () => {
    const base = newBase();
    let n = 0;
    const got: BufferEvent[] = [];
    const l = base.listen({ host: '127.0.0.1', enabled: false }, (bev, self) => {
      n++;
      got.push(bev);
      self.disable();
    });
    const fds = [io.connect('127.0.0.1', l.port), io.connect('127.0.0.1', l.port)];
    loopFor(base, 30); // both connections complete in the kernel
    l.enable();
    loopFor(base, 50);
    expect(n).toBe(1);
    for (const b of got) b.free();
    for (const fd of fds) io.close(fd);
    l.free();
    base.free();
  });

  it('freeing the listener inside its accept callback is safe (close_accepted_fd)', () => {
    const base = newBase();
    const got: BufferEvent[] = [];
    const l = base.listen({ host: '127.0.0.1' }, (bev, self) => {
      got.push(bev);
      self.free();
    });
    const fds = [io.connect('127.0.0.1', l.port), io.connect('127.0.0.1', l.port)];
    loopUntil(base, () => got.length === 1);
    loopFor(base, 30);
    expect(got.length).toBe(1);
    expect(l.freed).toBe(true);
    expectCode(() => l.enable(), Error, 'ERR_LISTENER_FREED');
    for (const b of got) b.free();
    for (const fd of fds) io.close(fd);
    base.free();
  });

  it('raw listeners hand over the fd', () => {
    const base = newBase();
    const fds: number[] = [];
    const l = base.listen({ host: '127.0.0.1', raw: true }, (fd) => fds.push(fd));
    const c = io.connect('127.0.0.1', l.port);
    loopUntil(base, () => fds.length === 1);
    expect(typeof fds[0]).toBe('number');
    const bev = base.bufferevent(fds[0]!); // the caller decides what owns it
    bev.free();
    io.close(c);
    l.free();
    base.free();
  });

  it('a port in use is EADDRINUSE; bad options are refused in the addon', () => {
    const base = newBase();
    const l = base.listen({ host: '127.0.0.1', reuseAddr: false }, () => undefined);
    expectCode(() => base.listen({ host: '127.0.0.1', port: l.port, reuseAddr: false }, () => undefined), Error, 'EADDRINUSE');
    expectCode(() => base.listen({ host: '127.0.0.1', backlog: 0 }, () => undefined), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => base.listen({ host: '127.0.0.1', reusePort: 1 as never }, () => undefined), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => base.listen({}, 5 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    l.free();
    base.free();
  });

  it('on EMFILE it reports, backs off and stays idle instead of spinning, then accepts again', () => {
    const base = newBase();
    const errors: string[] = [];
    const got: BufferEvent[] = [];
    let l: Listener | undefined;
    l = base.listen({ host: '127.0.0.1', retryMs: 100, error: (err) => errors.push(err.code) }, (bev) => got.push(bev));
    const client = io.connect('127.0.0.1', l.port);
    const held: number[] = [];
    try {
      try {
        for (;;) held.push(fs.openSync('/dev/null', 'r'));
      } catch (err) {
        expect((err as { code?: string }).code).toBe('EMFILE');
      }
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      loopFor(base, 400);
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      // libevent alone: ~100k error callbacks in 100 ms at 100% CPU. Here: one per retry.
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(errors.length).toBeLessThanOrEqual(6);
      expect(new Set(errors)).toEqual(new Set(['EMFILE']));
      expect((cpu.user + cpu.system) / 1000).toBeLessThan(wall * 0.5);
      expect(l.acceptErrors).toBe(errors.length);
    } finally {
      for (const fd of held) fs.closeSync(fd);
    }
    loopUntil(base, () => got.length === 1);
    for (const b of got) b.free();
    io.close(client);
    l.free();
    base.free();
  });

  it('accepted and connecting sockets are closed after free() and one loop pass: no fd leaks', () => {
    const base = newBase();
    const openFds = () => fs.readdirSync('/proc/self/fd').length;
    const l = base.listen({ host: '127.0.0.1' }, (bev) => server.push(bev));
    const server: BufferEvent[] = [];
    const before = openFds();
    const clients = Array.from({ length: 50 }, () => base.connect('127.0.0.1', l.port));
    loopUntil(base, () => server.length === 50);
    expect(openFds()).toBe(before + 100);
    for (const b of [...clients, ...server]) b.free();
    base.loop(2 /* NONBLOCK */ | 1 /* ONCE */);
    expect(openFds()).toBe(before);
    l.free();
    base.free();
  });

  it('freeing the base frees its listeners and bufferevents', () => {
    const base = newBase();
    const l = base.listen({ host: '127.0.0.1' }, () => undefined);
    const c = base.connect('127.0.0.1', l.port, { enable: EV.READ });
    base.free();
    expectCode(() => l.enable(), Error, 'ERR_BASE_FREED');
    expectCode(() => c.write('x'), Error, 'ERR_BASE_FREED');
    expect(bufferedStats()).toMatchObject({ bufferevents: 0, listeners: 0 });
  });
});
