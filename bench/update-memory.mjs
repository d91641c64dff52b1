#!/usr/bin/env node
// Do replaced code generations become garbage? --generations loads (default 30) of a module
// holding two 8 MiB constants (bench/versions/mem-big.{cjs,mjs}: a Float64Array, counted in
// arrayBuffers, and an array of 2^20 doubles, counted in heapUsed), keeping a reference only
// to the latest generation, as an update host does, with one technique per process:
//   esm        import('./mem-big.mjs?v=N'): a new URL each time, so a new module record
//   cjs-cache  require() + `delete require.cache[file]` only (the classic "uncache")
//   loader     this project's loadVersionModule (dist/update/loader.js): evicts from
//              require.cache and from the parents' `children`
//   host       a running UpdateHost updated mem-big.cjs -> mem-big.cjs (the whole path:
//              loader, contexts, handlers, the in-place rewrite of its one event)
// After the loads, a few full collections (--expose-gc is required), then heapUsed,
// arrayBuffers and rss, and the number of generations whose constant is still alive (each
// evaluation leaves a WeakRef on globalThis).
//
// node --expose-gc bench/update-memory.mjs --technique loader   one technique, JSON line
// (bench/run-update.mjs runs each technique in its own process)
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const versionsDir = path.join(here, 'versions');
const TECHNIQUES = ['esm', 'cjs-cache', 'loader', 'host'];

const { values: opt } = parseArgs({
  options: {
    technique: { type: 'string' },
    generations: { type: 'string', default: '30' },
  },
});
const generations = Number(opt.generations);
if (!(generations >= 1)) throw new Error('--generations must be at least 1');

const MiB = 2 ** 20;
const mem = () => {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed / MiB, arrayBuffers: m.arrayBuffers / MiB, rss: m.rss / MiB };
};
const alive = () => (globalThis.__memProbes ?? []).filter((w) => w.deref() !== undefined).length;

async function settle() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
}

async function one(technique) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  const cjsFile = path.join(versionsDir, 'mem-big.cjs');
  const esmUrl = pathToFileURL(path.join(versionsDir, 'mem-big.mjs')).href;
  // Everything the technique needs is loaded before the baseline.
  const { loadVersionModule } = await import('../dist/update/loader.js');
  const { EventBase } = await import('../dist/index.js');
  const { UpdateHost } = await import('../dist/update/index.js');
  const req = createRequire(import.meta.url);
  let host;
  if (technique === 'host') {
    host = new UpdateHost({ base: new EventBase(), versionsDir });
  }
  await settle();
  const before = mem();

  let latest; // the only reference the "host" keeps: the running generation
  const perGeneration = [];
  for (let n = 1; n <= generations; n++) {
    if (technique === 'esm') {
      latest = await import(`${esmUrl}?v=${n}`);
    } else if (technique === 'cjs-cache') {
      latest = req(cjsFile);
      delete req.cache[cjsFile];
    } else if (technique === 'loader') {
      latest = loadVersionModule(cjsFile, versionsDir).exports;
    } else if (technique === 'host') {
      if (n === 1) await host.start('mem-big.cjs');
      else {
        const r = await host.requestUpdate('mem-big.cjs');
        if (!r.ok) throw new Error(`update ${n} failed: ${r.error?.message}`);
      }
      latest = host.context;
    } else {
      throw new Error(`unknown technique '${technique}' (one of ${TECHNIQUES.join(', ')})`);
    }
    if (n % 5 === 0 || n === 1) {
      await settle();
      perGeneration.push({ n, ...mem(), alive: alive() });
    }
  }
  await settle();
  const after = mem();
  const result = {
    technique,
    generations,
    loaded: (globalThis.__memProbes ?? []).length,
    alive: alive(),
    before,
    after,
    delta: Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]])),
    perGeneration,
    node: process.version,
  };
  void latest;
  if (host) host.base.free();
  return result;
}

if (!opt.technique) throw new Error(`--technique is required (one of ${TECHNIQUES.join(', ')})`);
process.stdout.write(JSON.stringify(await one(opt.technique)) + '\n');
