// Issue 12: documents refer only to files inside the repository. Every relative link of every
// tracked Markdown file resolves to a file or directory of this checkout, and nothing tracked
// (documents, comments, scripts) points at the notes outside it that the work started from.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
const markdown = tracked.filter((f) => f.endsWith('.md') && !f.startsWith('node_modules/'));

describe('documents stay inside the repository', () => {
  it('every relative Markdown link resolves inside the checkout', () => {
    expect(markdown).toContain('README.md');
    const broken: string[] = [];
    let checked = 0;
    for (const doc of markdown) {
      const text = readFileSync(path.join(repo, doc), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // an anchor, or a URL
        checked++;
        const resolved = path.resolve(repo, path.dirname(doc), target);
        if (!resolved.startsWith(repo + path.sep) || !existsSync(resolved)) broken.push(`${doc}: ${m[1]}`);
      }
    }
    expect(checked).toBeGreaterThan(5);
    expect(broken).toEqual([]);
  });

  it('no tracked file refers to the research notes outside the repository', () => {
    const outside = /shared\/research|\.\.\/shared\//;
    const hits = tracked
      .filter((f) => /\.(md|ts|cts|mts|mjs|cjs|js|cc|h|json|gyp|txt|sh)$/.test(f) && f !== 'test/docs/links.test.ts')
      .filter((f) => existsSync(path.join(repo, f)) && outside.test(readFileSync(path.join(repo, f), 'utf8')));
    expect(hits).toEqual([]);
  });
});
