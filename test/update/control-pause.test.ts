// The control socket writes nothing to a client while an update's pause runs: streamed log
// lines and the reply are queued and written once the loop runs again. A write inside the
// pause would wake the waiting CLI, which on a busy machine takes the CPU in the middle of it.
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { io } from '../../lib/index.js';
import { serve, sleep } from './control-helpers.js';
import { updateMethods, versionsDir } from './harness.js';

describe.each(updateMethods)('control socket during an update pause on %s', (method) => {
  it('sends the streamed log lines and the reply after the pause, all of them, in order', async () => {
    const s = await serve(method);
    const fd = io.connectUnix(s.socketPath);
    const probes: number[] = [];
    const buf = Buffer.alloc(65536);
    (globalThis as { __pauseProbe?: () => void }).__pauseProbe = () => probes.push(io.read(fd, buf));
    try {
      const request = JSON.stringify({ update: path.join(versionsDir, 'probe-pause.cjs'), stream: true }) + '\n';
      expect(io.write(fd, Buffer.from(request))).toBe(request.length);
      const chunks: Buffer[] = [];
      for (let i = 0; i < 200; i++) {
        await sleep(10);
        const n = io.read(fd, buf);
        if (n === 0) break;
        if (n > 0) chunks.push(Buffer.from(buf.subarray(0, n)));
      }
      // main(ctx) of the new version ran inside the pause, after the host had logged its
      // first line: nothing had reached the client yet.
      expect(probes).toEqual([-1]);
      const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
      const reply = lines.at(-1);
      expect(reply.ok).toBe(true);
      expect(reply.to).toBe('v1');
      // The first request of a process is preceded by the line of the rehearsal (rehearse.ts).
      const logs = lines
        .slice(0, -1)
        .map((l) => l.log as string)
        .filter((l) => !l.startsWith('rehearsed the update path'));
      expect(logs.length).toBeGreaterThanOrEqual(2);
      expect(logs[0]).toMatch(/loaded probe-pause\.cjs/);
      expect(logs.at(-1)).toMatch(/done in/);
    } finally {
      delete (globalThis as { __pauseProbe?: () => void }).__pauseProbe;
      io.close(fd);
      await s.stop();
    }
  });
});
