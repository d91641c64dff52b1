// Loads a version's code so that it can later be garbage-collected.
//
// Node's ESM cache cannot be emptied: re-importing with a query string keeps every version
// alive. CommonJS can be freed, but only if the module leaves require.cache *and* its parent's
// `children` array (both keep it reachable). So versions are CommonJS (TypeScript compiled to
// CommonJS, or plain JS), and every module loaded from the versions directory is evicted right
// after loading: the version object returned here is then the only path to its code.
import { realpathSync } from 'node:fs';
import Module, { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';

import { UpdateError } from './errors.js';

type CjsModule = NodeJS.Module & { parent?: CjsModule | null };

export interface LoadedModule {
  exports: unknown;
  /** Every module file evicted from the cache (the version and what it loaded from versionsDir). */
  files: string[];
}

export function loadVersionModule(file: string, versionsDir: string): LoadedModule {
  const req = createRequire(path.join(versionsDir, '__node-libevent-loader__.js'));
  const cache = req.cache;
  const inDir = (f: string) => f.startsWith(versionsDir + path.sep);
  // A stale entry (from a load that threw half-way) must not be reused.
  for (const key of Object.keys(cache)) if (inDir(key)) delete cache[key];
  let files: string[] = [];
  const restore = confineResolution(inDir, versionsDir);
  try {
    return { exports: req(file) as unknown, files };
  } finally {
    restore();
    files.push(...evict(cache, inDir));
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
    if (!inDir(real)) {
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
