// Compiles examples/relay (run by `npm run build` and `prepare`, after the library itself):
//   dist-examples/relay/      the programs (ES modules, like the library)
//   dist-examples/relay-cjs/  the relay versions and what they import, as CommonJS: the update
//                             host loads versions with require() and evicts them, so old
//                             versions can be collected (an ES module can never be unloaded).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
for (const project of ['tsconfig.json', 'tsconfig.versions.json']) {
  execFileSync(process.execPath, [tsc, '-p', path.join(here, project)], { stdio: 'inherit', cwd: root });
}
const cjs = path.join(root, 'dist-examples', 'relay-cjs');
mkdirSync(cjs, { recursive: true });
writeFileSync(path.join(cjs, 'package.json'), '{ "type": "commonjs" }\n');

// V8 compiles a function's body the first time it is called. A version's main(ctx) and the
// create()/tables() functions it calls run for the first time inside the update's pause, so
// their compilation was part of every pause (about half of the init phase on a loaded relay).
// A function expression in parentheses is compiled when its script is (V8's heuristic for
// immediately invoked functions): rewriting each top-level `function f(...) {...}` of the
// compiled versions as `var f = (function f(...) {...});` moves that work into the load phase,
// which runs when the request arrives, outside the pause. Files tsc formats otherwise are left
// as they are.
function eagerTopLevelFunctions(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const exported = new Set(lines.map((l) => /^exports\.(\w+) = \1;$/.exec(l)?.[1]).filter(Boolean));
  const out = [];
  let open;
  for (const line of lines) {
    const start = /^function (\w+)\((.*)\) \{$/.exec(line);
    if (start && open === undefined) {
      open = start[1];
      out.push(`var ${open} = (function ${open}(${start[2]}) {`);
    } else if (open !== undefined && line === '}') {
      // `exports.f = f;` ran earlier (tsc hoists it): point it at the function now.
      out.push('});', ...(exported.has(open) ? [`exports.${open} = ${open};`] : []));
      open = undefined;
    } else out.push(line);
  }
  if (open === undefined) writeFileSync(file, out.join('\n'));
}
for (const entry of readdirSync(path.join(cjs, 'versions'), { recursive: true, withFileTypes: true })) {
  if (entry.isFile() && entry.name.endsWith('.js')) eagerTopLevelFunctions(path.join(entry.parentPath ?? entry.path, entry.name));
}
