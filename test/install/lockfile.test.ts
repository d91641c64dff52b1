// The committed lockfile is exactly what `npm install` writes for package.json, so a
// contributor's install does not leave a diff (CI itself uses `npm ci`, which only reads it).
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cleanupScratch, repo, scratch } from './helpers.js';

afterAll(cleanupScratch);

it('package-lock.json is stable under npm install', () => {
  const dir = scratch('lock');
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(repo, f), path.join(dir, f));
  const r = spawnSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: dir,
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  expect(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')).toBe(readFileSync(path.join(repo, 'package-lock.json'), 'utf8'));
});
