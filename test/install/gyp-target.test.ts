// binding.gyp is the one source list: CMakeLists.txt reads it through scripts/gyp-target.mjs.
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupScratch, repo, scratch } from './helpers.js';

// @ts-expect-error a plain .mjs script without declarations
const { gypTarget } = (await import('../../scripts/gyp-target.mjs')) as { gypTarget(file?: string): Record<string, string[]> };

afterAll(cleanupScratch);

describe('scripts/gyp-target.mjs', () => {
  it('lists every native/*.cc file, so neither build can miss one', () => {
    const listed = [...gypTarget().sources!].sort();
    const onDisk = readdirSync(path.join(repo, 'native'))
      .filter((f) => f.endsWith('.cc'))
      .map((f) => `native/${f}`)
      .sort();
    expect(listed).toEqual(onDisk);
  });

  it('reads comments the way gyp does: # outside strings only', () => {
    const file = path.join(scratch('gyp'), 'binding.gyp');
    writeFileSync(
      file,
      `{
  # a comment with "quotes" and 'apostrophes'
  "targets": [{
    "target_name": "x",  # trailing comment
    "sources": ["a#b.cc", 'single.cc', "esc\\"aped#.cc"],
    "defines": ["A=1"]   # "not a string"
  }]
}`,
    );
    const t = gypTarget(file);
    expect(t.sources).toEqual(['a#b.cc', 'single.cc', 'esc"aped#.cc']);
    expect(t.defines).toEqual(['A=1']);
  });
});
