// defineVersion: the typed way to write a version. It returns its argument, checked, so a
// version in TypeScript gets `ctx` typed and a wrong shape fails when the module loads (in
// the update's load phase, before the update point) instead of at the point.
import { UpdateError } from './errors.js';
import type { VersionModule } from './types.js';

/**
 * Declares a version: `module.exports = defineVersion({ version, main, renames })` (CommonJS)
 * or `export = defineVersion({ … })` in TypeScript compiled to CommonJS.
 *
 * @param definition - `version` (a non-empty string), `main(ctx)`, and optional `renames`
 *   ({ oldHandlerName: newHandlerName }, from the previous version).
 * @returns the same object, frozen.
 * @throws UpdateError `ERR_VERSION_SHAPE` (phase 'load') when a field is missing or of the wrong type.
 * @example
 * ```ts
 * // src/v2.cts, compiled to versions/v2.cjs
 * import update = require('node-libevent/update');
 *
 * export = update.defineVersion({
 *   version: 'v2',
 *   renames: { onTick: 'onBeat' },
 *   main(ctx) {
 *     const h = ctx.handlers({ onBeat() {} });
 *     if (!ctx.isUpdating()) ctx.base.timer(h.onBeat, { persist: true }).add(1000);
 *   },
 * });
 * ```
 */
export function defineVersion<const V extends VersionModule>(definition: V): Readonly<V> {
  checkVersionShape(definition);
  if (definition.renames) Object.freeze(definition.renames);
  return Object.freeze(definition);
}

/** Throws ERR_VERSION_SHAPE unless `m` has the shape of a version module. */
export function checkVersionShape(m: unknown): asserts m is VersionModule {
  const v = m as Partial<VersionModule> | null;
  if (!v || (typeof v !== 'object' && typeof v !== 'function') || typeof v.version !== 'string' || v.version === '' || typeof v.main !== 'function') {
    throw new UpdateError('ERR_VERSION_SHAPE', 'load', 'a version module exports `version` (a non-empty string) and `main(ctx)`');
  }
  if (v.renames !== undefined) {
    if (typeof v.renames !== 'object' || v.renames === null || Array.isArray(v.renames)) {
      throw new UpdateError('ERR_VERSION_SHAPE', 'load', '`renames` must be an object { oldName: newName }');
    }
    for (const [from, to] of Object.entries(v.renames)) {
      if (typeof to !== 'string' || to === '') throw new UpdateError('ERR_VERSION_SHAPE', 'load', `renames['${from}'] must be a handler name (a non-empty string)`);
    }
  }
}
