// Shared helpers for the install tests: a scratch copy of the package, a PATH with chosen
// tools hidden, and a runner for scripts/build-addon.mjs.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const scratchDirs: string[] = [];

export function scratch(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `nle-${prefix}-`));
  scratchDirs.push(dir);
  return dir;
}

export function cleanupScratch(): void {
  for (const d of scratchDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A copy of what the build needs (package.json, binding.gyp, native/, scripts/), with the
 * repository's node_modules linked in, so a build there cannot disturb the worktree's addon.
 */
export function projectCopy(): string {
  const dir = scratch('project');
  for (const f of ['package.json', 'binding.gyp']) cpSync(path.join(repo, f), path.join(dir, f));
  for (const d of ['native', 'scripts']) cpSync(path.join(repo, d), path.join(dir, d), { recursive: true });
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/**
 * A directory of symlinks to every program on PATH except those whose name matches `hidden`:
 * as if those packages were not installed. Node itself stays reachable through process.execPath.
 */
export function pathWithout(hidden: RegExp): string {
  const dir = scratch('bin');
  const seen = new Set<string>();
  for (const entry of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!entry || !existsSync(entry)) continue;
    for (const name of readdirSync(entry)) {
      if (seen.has(name) || hidden.test(name)) continue;
      const full = path.join(entry, name);
      try {
        if (!statSync(full).isFile()) continue;
      } catch {
        continue;
      }
      seen.add(name);
      symlinkSync(full, path.join(dir, name));
    }
  }
  return dir;
}

/** Compiler, make and Python names as Debian and Fedora install them. */
export const COMPILERS = /^(g\+\+|c\+\+|gcc|cc|clang|clang\+\+)(-[\d.]+)?$|^x86_64-linux-gnu-(g\+\+|gcc|c\+\+)(-[\d.]+)?$/;
export const MAKE = /^g?make$/;
export const PYTHON = /^python[\d.]*(-config)?$/;
export const PKG_CONFIG = /^(x86_64-linux-gnu-)?(pkg-config|pkgconf)$/;

/** Environment for a build script run: no inherited compiler or pkg-config overrides. */
export function buildEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['CXX', 'CC', 'PYTHON', 'npm_config_python', 'PKG_CONFIG_PATH', 'PKG_CONFIG_LIBDIR', 'NODE_LIBEVENT_ADDON']) delete env[k];
  for (const k of Object.keys(env)) if (/^npm_config_/i.test(k)) delete env[k];
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function runBuild(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  node: string = process.execPath,
): SpawnSyncReturns<string> {
  return spawnSync(node, [path.join(cwd, 'scripts', 'build-addon.mjs'), ...args], { cwd, env, encoding: 'utf8', timeout: 600_000 });
}

/** How many "node-libevent: …" lines (failures and progress lines) stderr has. */
export function messageCount(stderr: string): number {
  return (stderr.match(/^node-libevent: /gm) ?? []).length;
}

export function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
