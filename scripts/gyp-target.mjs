#!/usr/bin/env node
// Prints one list from binding.gyp's first target, for builds that are not node-gyp:
//   node scripts/gyp-target.mjs sources      → native/addon.cc;native/errors.cc;…  (a CMake list)
//   node scripts/gyp-target.mjs defines --json
// binding.gyp stays the one place where sources, defines and C++ flags are listed, so the
// CMake build (CMakeLists.txt) cannot drift from the node-gyp one.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The text with Python comments (# to the end of a line, outside strings) removed. */
function stripComments(text) {
  let out = '';
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
      out += c;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

export function gypTarget(file = path.join(root, 'binding.gyp')) {
  // A .gyp file is a Python literal (strings, lists, dicts): without its comments it is also
  // a JavaScript expression.
  const gyp = Function(`"use strict"; return (${stripComments(readFileSync(file, 'utf8'))});`)();
  return gyp.targets[0];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const key = process.argv[2];
  const value = gypTarget()[key];
  if (!Array.isArray(value)) {
    process.stderr.write(`binding.gyp's first target has no list "${key}"\n`);
    process.exit(1);
  }
  process.stdout.write(process.argv.includes('--json') ? JSON.stringify(value) : value.join(';'));
}
