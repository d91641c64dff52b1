// Compiles examples/relay (run by `npm run build` and `prepare`, after the library itself):
//   dist-examples/relay/      the programs (ES modules, like the library)
//   dist-examples/relay-cjs/  the relay versions and what they import, as CommonJS: the update
//                             host loads versions with require() and evicts them, so old
//                             versions can be collected (an ES module can never be unloaded).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
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
