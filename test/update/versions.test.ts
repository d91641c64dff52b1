// Issue 12, versions: defineVersion, the coded refusals of TypeScript sources and ES modules,
// and a version written in TypeScript (examples/live-update/src/v3.cts, compiled by the build)
// that a running host updates to.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { EV, EventBase, io } from '../../lib/index.js';
import { defineVersion, UpdateError, UpdateHost } from '../../lib/update/index.js';
import { updateMethods } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const esmDir = path.join(here, 'fixtures', 'esm-dir');
const exampleVersions = path.resolve(here, '..', '..', 'examples', 'live-update', 'versions');

function thrown(fn: () => unknown): UpdateError {
  try {
    fn();
  } catch (err) {
    return err as UpdateError;
  }
  throw new Error('did not throw');
}

describe('defineVersion', () => {
  it('returns the definition, frozen, with ctx typed', () => {
    const v = defineVersion({ version: 'v9', renames: { a: 'b' }, main: (ctx) => void ctx.isUpdating() });
    expect(v.version).toBe('v9');
    expect(Object.isFrozen(v)).toBe(true);
    expect(Object.isFrozen(v.renames)).toBe(true);
  });

  it.each([
    ['no version', { main() {} }],
    ['empty version', { version: '', main() {} }],
    ['no main', { version: 'v' }],
    ['renames not an object', { version: 'v', main() {}, renames: 'x' }],
    ['renames to a non-string', { version: 'v', main() {}, renames: { a: 1 } }],
  ])('refuses %s with ERR_VERSION_SHAPE', (_what, def) => {
    const err = thrown(() => defineVersion(def as never));
    expect(err).toBeInstanceOf(UpdateError);
    expect(err).toMatchObject({ code: 'ERR_VERSION_SHAPE', phase: 'load' });
  });
});

describe('versions the host refuses, before running them', () => {
  it.each([
    ['v.ts', 'ERR_VERSION_TYPESCRIPT', /compile it to CommonJS first/],
    ['v.mts', 'ERR_VERSION_TYPESCRIPT', /compile it to CommonJS first/],
    ['v.cts', 'ERR_VERSION_TYPESCRIPT', /update to the \.cjs file/],
    ['v.mjs', 'ERR_VERSION_ESM', /never frees an ES module/],
    ['v-esm.js', 'ERR_VERSION_ESM', /"type": "module"/],
  ])('%s: %s at start and on update, the running version untouched', async (file, code, hint) => {
    const base = new EventBase();
    const host = new UpdateHost({ base, versionsDir: esmDir });
    await expect(host.start(file)).rejects.toMatchObject({ code, phase: 'load', message: expect.stringMatching(hint) });
    await host.start('v-ok.cjs');
    const report = await host.requestUpdate(file);
    expect(report).toMatchObject({ ok: false, from: 'ok', error: { code, phase: 'load' } });
    expect(report.error!.message).toMatch(hint);
    expect(host.version).toBe('ok');
    host.close();
    base.free();
  });

  it("accepts TypeScript's `export default` compiled to CommonJS (exports.default)", async () => {
    const base = new EventBase();
    const host = new UpdateHost({ base, versionsDir: esmDir });
    await host.start('v-ok.cjs');
    expect(await host.requestUpdate('default-export.cjs')).toMatchObject({ ok: true, to: 'default-export' });
    host.close();
    base.free();
  });
});

/** Sends `text` on a fresh connection to `port` of `host`'s base and resolves with the reply line. */
function ask(host: UpdateHost, port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const fd = io.connect('127.0.0.1', port);
    const buf = new Uint8Array(1024);
    let got = '';
    io.write(fd, new TextEncoder().encode(text + '\n'));
    const ev = host.own(
      host.base.event(fd, EV.READ | EV.PERSIST, () => {
        for (let n = io.read(fd, buf); n > 0; n = io.read(fd, buf)) got += new TextDecoder().decode(buf.subarray(0, n));
        if (got.includes('\n')) {
          io.close(fd);
          ev.free();
          resolve(got.trim());
        }
      }),
    );
    ev.add();
  });
}

describe.each(updateMethods)('a version written in TypeScript, on %s', (method) => {
  it('examples/live-update: v1 (JS) -> v2 (JS, renames) -> v3 (compiled from v3.cts with defineVersion), state and listener kept', async () => {
    expect(existsSync(path.join(exampleVersions, 'v3.cjs')), 'versions/v3.cjs is built by `npm run build` (or npm install)').toBe(true);
    const probe = io.listen('127.0.0.1', 0); // a free port for the example's listener
    const port = io.localPort(probe);
    io.close(probe);
    const saved = process.env.PORT;
    process.env.PORT = String(port);
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir: exampleVersions });
    try {
      await host.start('v1.cjs');
      const running = host.run();
      expect(await ask(host, port, 'one')).toBe("v1: got 'one' (4 bytes in all)");
      expect(await host.requestUpdate('v2.cjs')).toMatchObject({ ok: true, to: 'v2', handlers: expect.arrayContaining([{ from: 'onAccept', to: 'onAccept', events: 1 }]) });
      expect(await ask(host, port, 'two')).toBe("v2: got 'two' (8 bytes, 2 reads in all; updated from v1)");
      const r3 = await host.requestUpdate('v3.cjs');
      expect(r3.error).toBeUndefined();
      expect(r3).toMatchObject({ ok: true, from: 'v2', to: 'v3' });
      expect(await ask(host, port, 'three')).toBe("v3: got 'THREE' (14 bytes in all; updated from v2)");
      host.close();
      expect(await running).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
      for (const ev of base._allEvents()) if (ev.fd >= 0 && !ev.freed) io.close(ev.fd);
      base.free();
    }
  });
});
