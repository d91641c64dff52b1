// Issue 12: the README's "Error codes" list is the set of codes the addon (native/*.cc, *.h) and
// the TypeScript layers (lib/**/*.ts) actually use, each with a one-line meaning; and no
// document names a code that nothing throws (or, for the example programs, that they do not).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(path.join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && ext.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Codes as string literals: "ERR_…" in C++, 'ERR_…' (or 'ABORT_ERR') in TypeScript. */
function sourceCodes(): Map<string, string> {
  const where = new Map<string, string>();
  const scan = (files: string[], re: RegExp) => {
    for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(re)) if (!where.has(m[1]!)) where.set(m[1]!, path.relative(repo, f));
  };
  scan(filesUnder('native', /\.(cc|h)$/), /"(ERR_[A-Z0-9_]+)"/g);
  scan(filesUnder('lib', /\.ts$/), /['"`](ERR_[A-Z0-9_]+|ABORT_ERR)['"`]/g);
  return where;
}

/** The README's list: bullets "- `CODE`[, `CODE`…]: meaning" under "## Error codes". */
function readmeList(): { codes: string[]; bullets: { codes: string[]; meaning: string }[] } {
  const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Error codes\n');
  expect(start, 'README has an "## Error codes" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const bullets: { codes: string[]; meaning: string }[] = [];
  for (const line of section.split('\n')) {
    const m = /^- ((?:`[A-Z0-9_]+`(?:, )?)+): (.*)$/.exec(line);
    if (!m) continue;
    bullets.push({ codes: [...m[1]!.matchAll(/`([A-Z0-9_]+)`/g)].map((c) => c[1]!), meaning: m[2]!.trim() });
  }
  return { codes: bullets.flatMap((b) => b.codes), bullets };
}

describe("README's error codes", () => {
  const sources = sourceCodes();

  it('the sources use codes (the scan works)', () => {
    expect(sources.get('ERR_INVALID_ARG_TYPE')).toMatch(/^native\//);
    expect(sources.get('ERR_ADDON_LOAD')).toBe('lib/loop/native.ts');
    expect(sources.size).toBeGreaterThan(80);
  });

  it('lists every code the addon and the layers use, once, each with a meaning', () => {
    const { codes, bullets } = readmeList();
    const missing = [...sources.keys()].filter((c) => !codes.includes(c)).map((c) => `${c} (${sources.get(c)})`);
    expect(missing, 'codes thrown but not in README.md "Error codes"').toEqual([]);
    const dup = codes.filter((c, i) => codes.indexOf(c) !== i);
    expect(dup, 'codes listed twice').toEqual([]);
    for (const b of bullets) expect(b.meaning.length, `meaning of ${b.codes.join(', ')}`).toBeGreaterThan(10);
  });

  it('lists no code that nothing throws', () => {
    const extra = readmeList().codes.filter((c) => !sources.has(c));
    expect(extra).toEqual([]);
  });

  it('no document names a code that does not exist', () => {
    // The example programs have codes of their own (the relay's protocol errors).
    const known = new Set(sources.keys());
    for (const f of filesUnder('examples', /\.(ts|cts|mts|mjs|cjs|js)$/)) for (const m of readFileSync(f, 'utf8').matchAll(/['"`](ERR_[A-Z0-9_]+)['"`]/g)) known.add(m[1]!);
    const docs = ['README.md', ...filesUnder('docs', /\.md$/).map((f) => path.relative(repo, f)), ...filesUnder('examples', /README\.md$/).map((f) => path.relative(repo, f))];
    const unknown: string[] = [];
    for (const doc of docs) {
      for (const m of readFileSync(path.join(repo, doc), 'utf8').matchAll(/\b(ERR_[A-Z0-9_]+)\b/g)) {
        if (!known.has(m[1]!)) unknown.push(`${m[1]} in ${doc}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});
