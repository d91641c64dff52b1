// Loads a version's code so that it can later be garbage-collected.
//
// Node's ESM cache cannot be emptied: re-importing with a query string keeps every version
// alive. CommonJS can be freed, but only if the module leaves require.cache *and* its parent's
// `children` array (both keep it reachable). So versions are CommonJS (TypeScript compiled to
// CommonJS, or plain JS), and every module loaded from the versions directory is evicted right
// after loading: the version object returned here is then the only path to its code.
import { readFileSync, realpathSync } from 'node:fs';
import Module, { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';
import v8 from 'node:v8';

import { UpdateError } from './errors.js';
// The host's own instance of this entry point, handed to versions that require it (read only
// at load time, so the import cycle with index.ts is harmless).
import * as updateEntry from './index.js';

type CjsModule = NodeJS.Module & { parent?: CjsModule | null };

/** A version module loaded and already evicted from require's cache. */
export interface LoadedModule {
  /** What the module exported. */
  exports: unknown;
  /** Every module file evicted from the cache (the version and what it loaded from versionsDir). */
  files: string[];
}

/** Options of {@link loadVersionModule}. */
export interface LoadOptions {
  /**
   * Compile every function of the files the load evaluates while loading them, instead of at
   * each function's first call (V8's lazy compilation). The update host loads a version when
   * the update is asked for, outside the pause, and its main(ctx), the functions main calls
   * and the handlers then run for the first time inside the pause: compiled eagerly, their
   * compilation happens in the load instead. Default false.
   */
  eagerCompile?: boolean;
}

/** This package's own compiled modules: a version may `require('node-libevent/update')` (for defineVersion). */
const packageDist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist') + path.sep;
const updateEntryFile = path.join(packageDist, 'update', 'index.js');

/**
 * A cache entry that makes `require('node-libevent/update')` in a version return the host's own
 * module: the same classes and the same addon, never a second copy loaded beside it.
 */
function hostEntryModule(): NodeJS.Module {
  const m = new Module(updateEntryFile) as NodeJS.Module & { filename: string; loaded: boolean };
  m.filename = updateEntryFile;
  m.loaded = true;
  m.exports = updateEntry;
  return m;
}

/**
 * Loads a version's CommonJS module so that it can be collected later: it and every module it
 * loaded from `versionsDir` are evicted from require's cache at once.
 *
 * @param file - the version's absolute path, inside versionsDir
 * @param versionsDir - the real path of the versions directory
 * @param options - `eagerCompile`: compile every function of the load now (see LoadOptions)
 * @returns the exports and the evicted files
 * @throws UpdateError ERR_VERSION_TYPESCRIPT, ERR_VERSION_ESM, ERR_OUTSIDE_VERSIONS_DIR (phase 'load');
 *   whatever the module throws while loading
 */
export function loadVersionModule(file: string, versionsDir: string, options: LoadOptions = {}): LoadedModule {
  refuseUncollectable(file);
  const req = createRequire(path.join(versionsDir, '__node-libevent-loader__.js'));
  const cache = req.cache;
  const inDir = (f: string) => f.startsWith(versionsDir + path.sep);
  // A stale entry (from a load that threw half-way) must not be reused.
  for (const key of Object.keys(cache)) if (inDir(key)) delete cache[key];
  let files: string[] = [];
  const restore = confineResolution(inDir, versionsDir);
  const previousEntry = cache[updateEntryFile];
  cache[updateEntryFile] = hostEntryModule();
  try {
    const exports = (options.eagerCompile === true ? compilingEagerly(() => req(file)) : req(file)) as unknown;
    if (types.isModuleNamespaceObject(exports)) throw esmRefusal(file, 'it loaded as an ES module');
    return { exports, files };
  } finally {
    restore();
    files.push(...evict(cache, inDir));
    if (previousEntry) cache[updateEntryFile] = previousEntry;
    else delete cache[updateEntryFile];
  }
}

/** The process was started with V8's lazy compilation off: everything compiles eagerly already. */
const lazyOffAtStart = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a === '--no-lazy' || a === '--lazy=false');

/**
 * Runs `load` with V8's lazy compilation switched off, and switches it back on afterwards
 * (also when `load` throws). V8 reads the flag when it compiles a script, so every function of
 * every file evaluated meanwhile gets its bytecode at once; code compiled afterwards is lazy
 * again. The flag is process-wide: a worker thread compiling at the same moment compiles
 * eagerly too, which costs it time, never correctness.
 */
function compilingEagerly<T>(load: () => T): T {
  if (lazyOffAtStart) return load();
  v8.setFlagsFromString('--no-lazy');
  try {
    return load();
  } finally {
    v8.setFlagsFromString('--lazy');
  }
}

/**
 * Refuses, before anything runs, the versions Node would load in a way the host cannot handle:
 * TypeScript sources (Node 20 cannot run them; compile them to CommonJS first) and ES modules
 * (never collected: each update would keep the previous version's code alive forever).
 */
function refuseUncollectable(file: string): void {
  const ext = path.extname(file);
  if (ext === '.ts' || ext === '.mts' || ext === '.cts') {
    const out = ext === '.cts' ? '.cjs' : '.js';
    throw new UpdateError(
      'ERR_VERSION_TYPESCRIPT',
      'load',
      `${file} is TypeScript source: compile it to CommonJS first (tsc with "module": "nodenext" and a .cts file, or "module": "commonjs"; see docs/update.md) and update to the ${out} file`,
    );
  }
  if (ext === '.mjs') throw esmRefusal(file, 'it is a .mjs file');
  if (ext === '.js' && nearestPackageType(path.dirname(file)) === 'module') throw esmRefusal(file, 'the nearest package.json says "type": "module"');
}

function esmRefusal(file: string, why: string): UpdateError {
  return new UpdateError(
    'ERR_VERSION_ESM',
    'load',
    `${file} is an ES module (${why}): Node never frees an ES module, so every update to it would keep the previous version's code in memory. Write versions as CommonJS (.cjs, or .js under "type": "commonjs")`,
  );
}

/** The "type" of the package.json nearest to `dir`, as Node reads it for .js files. */
function nearestPackageType(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    let text: string | undefined;
    try {
      text = readFileSync(path.join(d, 'package.json'), 'utf8');
    } catch {
      // none here: look further up
    }
    if (text !== undefined) {
      try {
        const type = (JSON.parse(text) as { type?: unknown }).type;
        return typeof type === 'string' ? type : 'commonjs';
      } catch {
        return undefined; // Node itself fails on a broken package.json: let it say so
      }
    }
    if (path.dirname(d) === d) return undefined;
  }
}

type Resolver = (request: string, parent: CjsModule | undefined, ...rest: unknown[]) => string;

/**
 * While a version loads, every file CommonJS resolves (a package directory's `main`, and
 * everything the version requires) must lie inside versionsDir after resolving symlinks;
 * Node's built-in modules are fine. Refused before the file runs. Returns the undo.
 * (Module._resolveFilename is the one place every require of the load goes through.)
 */
function confineResolution(inDir: (f: string) => boolean, versionsDir: string): () => void {
  const allowed = (real: string) => inDir(real) || real.startsWith(packageDist);
  const M = Module as unknown as { _resolveFilename: Resolver };
  const original = M._resolveFilename;
  M._resolveFilename = function confined(this: unknown, request, parent, ...rest) {
    const resolved = original.call(this, request, parent, ...rest);
    if (isBuiltin(resolved)) return resolved;
    let real = resolved;
    try {
      real = realpathSync(resolved);
    } catch {
      // resolution found it, so it exists; keep the resolved name
    }
    if (!allowed(real)) {
      const by = parent?.filename ? ` (required by ${parent.filename})` : '';
      throw new UpdateError('ERR_OUTSIDE_VERSIONS_DIR', 'load', `'${request}'${by} resolves to ${real}, outside the versions directory ${versionsDir}`);
    }
    return resolved;
  };
  return () => {
    M._resolveFilename = original;
  };
}

function evict(cache: NodeJS.Dict<NodeJS.Module>, inDir: (f: string) => boolean): string[] {
  const evicted = new Set<CjsModule>();
  for (const [key, mod] of Object.entries(cache)) {
    if (!mod || !inDir(key)) continue;
    evicted.add(mod as CjsModule);
    delete cache[key];
  }
  // Unlink them from every parent that still lists them: modules outside versionsDir that
  // remain cached, and the loader's own parent (created by createRequire, never cached).
  const parents = new Set<CjsModule>();
  for (const mod of evicted) if (mod.parent) parents.add(mod.parent);
  for (const mod of Object.values(cache)) if (mod) parents.add(mod as CjsModule);
  for (const p of parents) {
    if (evicted.has(p)) continue;
    if (p.children.some((c) => evicted.has(c as CjsModule))) p.children = p.children.filter((c) => !evicted.has(c as CjsModule));
  }
  for (const mod of evicted) mod.children = [];
  return [...evicted].map((m) => m.filename);
}
