#!/usr/bin/env node
// Builds the addon with cmake-js from CMakeLists.txt into build-cmake/ (the node-gyp build in
// build/ is not touched): build-cmake/Release/node_libevent.node and
// build-cmake/compile_commands.json.
//   node scripts/build-cmake.mjs               configure and build
//   node scripts/build-cmake.mjs --configure   configure only (enough for clang-tidy)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const cmake = spawnSync('cmake', ['--version'], { encoding: 'utf8' });
if (cmake.error || cmake.status !== 0) {
  process.stderr.write(
    '\nnode-libevent: cmake is not installed (the CMake build needs it; npm install does not).\n' +
      '  Debian/Ubuntu:  sudo apt-get install cmake\n  Fedora/RHEL:    sudo dnf install cmake\n\n',
  );
  process.exit(1);
}

const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const command = process.argv.includes('--configure') ? 'configure' : 'build';
const r = spawnSync(
  process.execPath,
  [cmakeJs, command, '--directory', root, '--out', path.join(root, 'build-cmake'), `--CDNODE_EXECUTABLE=${process.execPath}`],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);
