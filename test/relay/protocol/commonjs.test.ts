// Relay versions are loaded as CommonJS (lib/update), so the protocol layer must compile and run
// as CommonJS as well as ES modules: no import.meta, no top-level await, relative `.js` imports.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const out = mkdtempSync(path.join(os.tmpdir(), 'relay-protocol-cjs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the protocol layer as CommonJS', () => {
  it('compiles with module commonjs and runs a handshake and a relay cell through require()', () => {
    const config = path.join(out, 'tsconfig.json');
    writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(root, 'tsconfig.json'),
        compilerOptions: {
          module: 'commonjs',
          moduleResolution: 'node10',
          verbatimModuleSyntax: false,
          esModuleInterop: true,
          noEmit: false,
          declaration: false,
          sourceMap: false,
          rootDir: path.join(root, 'examples/relay/protocol'),
          outDir: path.join(out, 'dist'),
          typeRoots: [path.join(root, 'node_modules/@types')],
        },
        include: [path.join(root, 'examples/relay/protocol')],
      }),
    );
    const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', config], {
      encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    writeFileSync(path.join(out, 'dist', 'package.json'), '{"type":"commonjs"}');
    const p = createRequire(path.join(out, 'dist', 'index.js'))('./index.js');
    const onion = p.generateX25519KeyPair();
    const nodeId = p.nodeIdOf(Buffer.alloc(32, 7));
    const { onionskin, state } = p.ntorClientStart(nodeId, onion.publicKey);
    const server = p.ntorServerHandshake(onionskin, { nodeId, onionKeys: [onion] });
    const keys = p.ntorClientFinish(state, server.reply);
    const origin = new p.OriginCrypto();
    origin.addHop(keys);
    const relay = p.HopCrypto.fromKeys(server.keys);
    const body = p.encodeRelayCell({ command: p.RelayCommand.DATA, streamId: 1, data: Buffer.from('cjs') });
    origin.encryptForward(body);
    const cell = p.decodeCell(4, p.encodeCell(4, { circId: 0x80000001, command: p.CellCommand.RELAY, payload: body }));
    expect(p.relayReceiveForward(relay, cell.payload, false)).toBe(true);
    expect(p.decodeRelayCell(cell.payload).data.toString()).toBe('cjs');
  }, 120_000);
});
