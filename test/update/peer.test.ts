// The SO_PEERCRED helper (native/peercred.cc) the CLI uses: coded errors for bad arguments and
// for fds that are not connected Unix sockets; the right credentials for ones that are.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { io } from '../../lib/index.js';
import { peerCredentials } from '../../lib/update/peer.js';

describe('peerCredentials', () => {
  it('refuses arguments that are not fds with a coded error', () => {
    for (const bad of [undefined, null, 'x', -1, 1.5, 2 ** 31, NaN, {}]) {
      expect(() => peerCredentials(bad as number)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_/) }));
    }
  });

  it('reports ENOTSOCK for a pipe and EBADF for a closed fd', () => {
    const [r, w] = io.pipe();
    expect(() => peerCredentials(r)).toThrow(expect.objectContaining({ code: 'ENOTSOCK', syscall: 'getsockopt(SO_PEERCRED)' }));
    io.close(r);
    io.close(w);
    expect(() => peerCredentials(r)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('gives this process for both ends of a socketpair and for a Unix connection to our own listener', () => {
    const [a, b] = io.socketpair();
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
    expect(peerCredentials(a)).toMatchObject({ pid: process.pid, uid });
    expect(peerCredentials(b)).toMatchObject({ pid: process.pid, uid });
    io.close(a);
    io.close(b);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-peer-'));
    const l = io.listenUnix(path.join(dir, 's'));
    const c = io.connectUnix(path.join(dir, 's'));
    expect(peerCredentials(c)).toMatchObject({ pid: process.pid, uid });
    io.close(c);
    io.close(l);
    rmSync(dir, { recursive: true, force: true });
  });
});
