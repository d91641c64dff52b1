// examples/buffered-echo.mjs (the README's echo server) runs as written, through dist/.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

it('examples/buffered-echo.mjs echoes 1 MiB exactly to two clients at once', async () => {
  const child = spawn(process.execPath, [path.join(root, 'examples', 'buffered-echo.mjs')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(/:(\d+)/.exec(d.toString())?.[1])));
      child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
    const payload = Buffer.alloc(1 << 20, 'abcdefgh');
    const echo = () =>
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let n = 0;
        const s = net.connect(port, '127.0.0.1', () => s.write(payload));
        s.on('data', (d) => {
          chunks.push(d);
          if ((n += d.length) >= payload.length) s.end();
        });
        s.on('close', () => resolve(Buffer.concat(chunks)));
        s.on('error', reject);
      });
    const [a, b] = await Promise.all([echo(), echo()]);
    expect(a.equals(payload)).toBe(true);
    expect(b.equals(payload)).toBe(true);
  } finally {
    child.kill();
  }
});
