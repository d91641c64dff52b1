// The published example runs as written (through the package's own entry points in dist/).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

it('examples/two-subsystems.mjs: two subsystems talk through prompt delivery on a running base', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'examples', 'two-subsystems.mjs')], { cwd: root });
  const lines = stdout.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('alarm: reading'))).toHaveLength(8);
  // readings above 24 C raise an alarm, which the sensor receives on the other channel
  expect(lines.filter((l) => l.startsWith('sensor: alarm at reading')).map((l) => l.split(' ')[4])).toEqual(['1', '3', '4', '6', '7']);
  expect(lines.at(-1)).toBe('done after 8 readings (run() returned 1)');
});
