// Issue 12: examples/live-update/README.md runs as written. The test takes the README's shell
// block verbatim, runs it with bash from the repository root (stdin closed, PORT set to a free
// port so parallel runs do not collide) and checks each client line against the answer its
// comment promises, the CLI's reports, and that the host is gone afterwards with its socket.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = readFileSync(path.join(repo, 'examples', 'live-update', 'README.md'), 'utf8');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('examples/live-update/README.md', () => {
  it('its commands run verbatim and print what the comments say', async () => {
    const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'the README has a sh block').toBeTruthy();
    expect(existsSync(path.join(repo, 'examples', 'live-update', 'versions', 'v3.cjs')), 'versions/v3.cjs is built by npm run build').toBe(true);
    const port = await freePort();
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile('bash', ['-e', '-c', block!], { cwd: repo, env: { ...process.env, PORT: String(port) }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(); // stdin closed: the host must not need it
    });
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.split('\n');
    // Every client command's comment is the exact answer it must print.
    const promised = [...block!.matchAll(/client\.mjs \w+ +# (.*)$/gm)].map((m) => m[1]!.trim());
    expect(promised).toHaveLength(3);
    for (const answer of promised) expect(lines).toContain(answer);
    expect(out.stdout).toMatch(/^dry run v1 -> v2 at point 'loop' \(inplace\): would go through; discarded, v1 still runs$/m);
    expect(out.stdout).toMatch(/^ {2}events would be rebound: 1 \(onAccept 1\)$/m);
    expect(out.stdout).toMatch(/^host: dry run to v2 would go through; still v1$/m);
    expect(out.stdout).toMatch(/^updated v1 -> v2 at point 'loop'/m);
    expect(out.stdout).toMatch(/^updated v2 -> v3 at point 'loop'/m);
    expect(out.stdout).toMatch(/^ {2}updates: 2 done, 0 failed;/m);
    expect(out.stderr).toMatch(/^host: update v1 -> v2: state ready/m);
    const pid = Number(/^pid (\d+): running v3 for/m.exec(out.stdout)?.[1]);
    const socket = /control socket (\S+)$/m.exec(out.stdout)?.[1];
    expect(pid).toBeGreaterThan(0);
    // kill sent SIGTERM: the host ends and removes its control socket.
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(socket && existsSync(socket)).toBe(false);
  });
});
