// EvConn, the buffered connection of the relay network's client, directory and file server:
// writes are queued and written by the write event in batches (one write() for many small
// pieces), bytes arrive whole and in order, drained() follows each emptied batch, end() closes
// only after everything queued went out, and a full socket keeps the rest queued.
import { describe, expect, it } from 'vitest';

import type { Lib } from '../../examples/relay/common/lib.js';
import * as libSource from '../../lib/index.js';
import { EvConn } from '../../examples/relay/common/evconn.js';
import { methods } from '../loop/helpers.js';

// EvConn is typed against the built package, as the relay programs load it; the source is the same API.
const lib = libSource as unknown as Lib;
const { EventBase, EVLOOP, io } = lib;

/** Reads everything available on fd (non-blocking), appending to chunks; true at EOF. */
function drain(fd: number, chunks: Buffer[]): boolean {
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    const n = io.read(fd, buf);
    if (n === 0) return true;
    if (n < 0) return false;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
}

describe.each(methods)('EvConn on %s', (method) => {
  it('writes many small pieces queued in one callback with far fewer write() calls, in order', () => {
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    let drained = 0;
    const conn = new EvConn(lib, base, a, { data: () => {}, close: () => {}, drained: () => drained++ });
    const pieces = Array.from({ length: 500 }, (_, i) => Buffer.from(`cell ${i};`));
    for (const p of pieces) conn.write(p);
    expect(conn.pendingOut).toBe(Buffer.concat(pieces).length); // nothing written synchronously
    base.loop(EVLOOP.ONCE);
    expect(conn.pendingOut).toBe(0);
    expect(conn.writeCalls).toBe(1);
    expect(drained).toBe(1);
    const got: Buffer[] = [];
    drain(b, got);
    expect(Buffer.concat(got).toString()).toBe(Buffer.concat(pieces).toString());
    conn.close();
    io.close(b);
    base.free();
  });

  it('keeps what a full socket refused, sends it once the peer reads, and end() closes after it', () => {
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    let closed = 0;
    const conn = new EvConn(lib, base, a, { data: () => {}, close: () => closed++ });
    const total = 8 * 1024 * 1024; // far more than a socket buffer holds
    const payload = Buffer.alloc(total);
    for (let i = 0; i < total; i++) payload[i] = (i * 7 + (i >> 12)) & 0xff;
    for (let off = 0; off < total; off += 4096) conn.write(payload.subarray(off, off + 4096));
    conn.end();
    expect(closed).toBe(0);
    base.loop(EVLOOP.NONBLOCK);
    expect(conn.pendingOut).toBeGreaterThan(0); // the socket is full: the rest stays queued
    const got: Buffer[] = [];
    let eof = false;
    for (let i = 0; i < 100000 && !eof; i++) {
      eof = drain(b, got);
      base.loop(EVLOOP.NONBLOCK);
    }
    expect(eof).toBe(true);
    expect(closed).toBe(1);
    expect(Buffer.concat(got).equals(payload)).toBe(true);
    io.close(b);
    base.free();
  });

  it('a drained() handler that refills is called again after each batch, without recursion', () => {
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    let refills = 0;
    const conn: EvConn = new EvConn(lib, base, a, {
      data: () => {},
      close: () => {},
      drained: () => {
        if (++refills < 5) conn.write(Buffer.from(`batch ${refills}\n`));
      },
    });
    conn.write(Buffer.from('batch 0\n'));
    for (let i = 0; i < 10; i++) base.loop(EVLOOP.NONBLOCK);
    const got: Buffer[] = [];
    drain(b, got);
    expect(Buffer.concat(got).toString()).toBe('batch 0\nbatch 1\nbatch 2\nbatch 3\nbatch 4\n');
    expect(refills).toBe(5);
    conn.close();
    io.close(b);
    base.free();
  });

  it('delivers what the peer sent, then close() on EOF', () => {
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    const got: Buffer[] = [];
    let closed = 0;
    const conn = new EvConn(lib, base, a, { data: (c) => got.push(c), close: () => closed++ });
    io.write(b, Buffer.from('hello '));
    io.write(b, Buffer.from('world'));
    io.close(b);
    for (let i = 0; i < 5 && closed === 0; i++) base.loop(EVLOOP.NONBLOCK);
    expect(Buffer.concat(got).toString()).toBe('hello world');
    expect(closed).toBe(1);
    expect(conn.closed).toBe(true);
    base.free();
  });

  it('readPrefix: a framer\'s leftover goes in front of each read, large reads are handed over uncopied, nothing is lost', async () => {
    const { CellReader, encodeCell, CellCommand } = await import('../../examples/relay/protocol/cell.js');
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    const reader = new CellReader({ linkVersion: 4, copyPayloads: false });
    const seen: number[] = [];
    const chunks: Buffer[] = [];
    let closed = 0;
    new EvConn(lib, base, a, {
      readPrefix: (into) => reader.movePendingTo(into),
      data: (c) => {
        chunks.push(c);
        reader.feed(c);
        // Payloads are views: the chunk must stay as it was read while they are in use.
        for (let cell = reader.next(); cell; cell = reader.next()) seen.push(cell.payload.readUInt32BE(0));
      },
      close: () => closed++,
    });
    const cells = Array.from({ length: 400 }, (_, i) => {
      const payload = Buffer.alloc(509, i & 0xff);
      payload.writeUInt32BE(i, 0);
      return encodeCell(4, { circId: 0x8000_0001, command: CellCommand.RELAY, payload });
    });
    const wire = Buffer.concat(cells);
    // Writes that split cells: small ones (copied out) and large ones (handed over).
    const cuts = [1, 700, 5000, 100_000, 100_013, wire.length];
    let from = 0;
    for (const to of cuts) {
      let at = from;
      while (at < to) {
        const n = io.write(b, wire.subarray(at, to));
        if (n > 0) at += n;
        base.loop(EVLOOP.NONBLOCK);
      }
      from = to;
      for (let i = 0; i < 3; i++) base.loop(EVLOOP.NONBLOCK);
    }
    io.close(b);
    for (let i = 0; i < 20 && closed === 0; i++) base.loop(EVLOOP.NONBLOCK);
    expect(seen).toEqual(cells.map((_, i) => i));
    expect(reader.bufferedBytes).toBe(0);
    expect(closed).toBe(1);
    // At least one chunk was handed over in the Buffer it was read into (not a pool copy).
    expect(chunks.some((c) => c.length >= 64 * 1024 && c.buffer.byteLength === 256 * 1024)).toBe(true);
    base.free();
  });
});
