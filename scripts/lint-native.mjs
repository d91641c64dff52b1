#!/usr/bin/env node
// clang-tidy over the addon's sources (the list in binding.gyp), with the check set in
// .clang-tidy, using build-cmake/compile_commands.json from the CMake build. Exit status 1 on
// any finding, so CI keeps native/ clean.
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gypTarget } from './gyp-target.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tidy = process.env.CLANG_TIDY || 'clang-tidy';

const probe = spawnSync(tidy, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  process.stderr.write(
    `\nnode-libevent: ${tidy} is not installed.\n  Debian/Ubuntu:  sudo apt-get install clang-tidy\n  Fedora/RHEL:    sudo dnf install clang-tools-extra\n\n`,
  );
  process.exit(1);
}

// compile_commands.json for exactly the current sources and flags.
const configure = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-cmake.mjs'), '--configure'], {
  cwd: root,
  encoding: 'utf8',
});
if (configure.status !== 0) {
  process.stderr.write(configure.stdout + configure.stderr);
  process.exit(1);
}

const files = gypTarget().sources.map((f) => path.join(root, f));
const jobs = Math.max(1, Math.min(os.availableParallelism?.() ?? 2, files.length));
const queue = [...files];
let findings = 0;

function lintOne(file) {
  return new Promise((resolve) => {
    const child = spawn(tidy, ['-p', path.join(root, 'build-cmake'), '--quiet', file], { cwd: root });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      // clang-tidy prints "N warnings generated." for diagnostics it suppressed (system headers).
      const report = out
        .split('\n')
        .filter((l) => l && !/^\d+ warnings? (and \d+ errors? )?generated\.$/.test(l) && !/^Suppressed \d+ warnings/.test(l) && !/^Use -header-filter|^Error while processing/.test(l))
        .join('\n');
      if (code !== 0 || report.trim()) {
        findings++;
        process.stdout.write(`${report || `clang-tidy exited with ${code}`}\n`);
      }
      process.stdout.write(`${code === 0 && !report.trim() ? 'clean' : 'FINDINGS'}  ${path.relative(root, file)}\n`);
      resolve();
    });
  });
}

async function worker() {
  for (let f = queue.shift(); f; f = queue.shift()) await lintOne(f);
}

await Promise.all(Array.from({ length: jobs }, worker));
console.log(`clang-tidy: ${files.length - findings} of ${files.length} files clean`);
process.exit(findings ? 1 : 0);
