// What the benchmark runners share: shell probes, the fd limit, a private copy of the addon
// for the whole run, and writing one section of docs/benchmarks.md between its markers.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** stdout of a shell command, or '' when it fails. */
export function shell(cmd) {
  const r = spawnSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** The soft and hard limits on open files. */
export function fdLimits() {
  const num = (s) => (s === 'unlimited' ? Infinity : Number(s) || 1024);
  return { soft: num(shell('ulimit -n')), hard: num(shell('ulimit -Hn')) };
}

/**
 * Copies the addon into a temporary directory and points NODE_LIBEVENT_ADDON at the copy (read
 * by dist/loop/native.js, here and in child processes), so that a rebuild of build/ during a
 * long run cannot break it. Returns the directory, the copy and when the addon was built.
 */
export function pinAddon(prefix) {
  const addon = process.env.NODE_LIBEVENT_ADDON
    ? path.resolve(process.env.NODE_LIBEVENT_ADDON)
    : path.join(root, 'build/Release/node_libevent.node');
  if (!existsSync(addon)) throw new Error(`no addon at ${path.relative(root, addon)}: run node scripts/build-addon.mjs`);
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const pinned = path.join(dir, 'node_libevent.node');
  copyFileSync(addon, pinned);
  process.env.NODE_LIBEVENT_ADDON = pinned;
  return { dir, path: pinned, built: statSync(addon).mtime.toISOString() };
}

/** Replaces the `<!-- name:begin -->` … `<!-- name:end -->` section of `file` (or appends it). */
export function writeSection(file, name, section) {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  let text;
  if (!existsSync(file)) {
    text =
      '# Benchmarks\n\n' +
      'Each section below is written by its own script between its markers; re-running a script replaces only its section.\n\n' +
      section;
  } else {
    const old = readFileSync(file, 'utf8');
    const i = old.indexOf(begin);
    const j = old.indexOf(end);
    if (i >= 0 && j > i) {
      let after = old.slice(j + end.length);
      if (after.startsWith('\n')) after = after.slice(1);
      text = old.slice(0, i) + section + after;
    } else {
      text = old.replace(/\n*$/, '\n\n') + section;
    }
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}
