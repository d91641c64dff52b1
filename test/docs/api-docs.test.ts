// Issue 12: the TSDoc of every public export documents each parameter (`@param`) and what each
// call returns (`@returns`, unless it returns nothing, `this` for chaining, or a bare promise).
// The check reads typedoc's JSON model of the entry points (typedoc.json), so it sees exactly
// what the API reference shows; typedoc.json itself fails `npm run docs` on an export with no
// comment at all. Members inherited from Error and EventEmitter are Node's and left out.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Part {
  text?: string;
}
interface Reflection {
  name?: string;
  kind?: number;
  inheritedFrom?: unknown;
  children?: Reflection[];
  signatures?: Signature[];
}
interface Signature {
  kind: number;
  comment?: { summary?: Part[]; blockTags?: { tag: string }[] };
  parameters?: { name: string; comment?: { summary?: Part[] } }[];
  type?: { type: string; name?: string; typeArguments?: { type: string; name?: string }[] };
}

const KIND_PROJECT = 1;
const KIND_CONSTRUCTOR_SIGNATURE = 16384;
const said = (parts: Part[] | undefined) => (parts ?? []).some((p) => (p.text ?? '').trim() !== '');

function returnsNothing(t: Signature['type']): boolean {
  if (!t) return true;
  if (t.type === 'intrinsic' && (t.name === 'void' || t.name === 'undefined' || t.name === 'this')) return true;
  return t.type === 'reference' && t.name === 'Promise' && t.typeArguments?.[0]?.type === 'intrinsic' && t.typeArguments[0].name === 'void';
}

it('every public function and method documents its parameters and its result', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-apidocs-'));
  try {
    const json = path.join(dir, 'api.json');
    execFileSync(process.execPath, [path.join(repo, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--json', json, '--logLevel', 'Error'], { cwd: repo, stdio: 'pipe' });
    const root = JSON.parse(readFileSync(json, 'utf8')) as Reflection;
    const missing: string[] = [];
    let signatures = 0;
    const walk = (node: Reflection, trail: string[]): void => {
      if (node.inheritedFrom !== undefined) return;
      const name = [...trail, node.name ?? ''].join('.');
      for (const sig of node.signatures ?? []) {
        signatures++;
        for (const p of sig.parameters ?? []) if (!said(p.comment?.summary)) missing.push(`${name}: @param ${p.name}`);
        const returns = (sig.comment?.blockTags ?? []).some((t) => t.tag === '@returns');
        if (sig.kind !== KIND_CONSTRUCTOR_SIGNATURE && !returnsNothing(sig.type) && !returns) missing.push(`${name}: @returns`);
      }
      for (const c of node.children ?? []) walk(c, node.kind === KIND_PROJECT ? trail : [...trail, node.name ?? '']);
    };
    walk(root, []);
    expect(signatures, 'signatures seen').toBeGreaterThan(150);
    expect(missing).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
