import { createHash, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { CellCommand, decodeCell, encodeCell, parseCell } from '../../../examples/relay/protocol/cell.js';
import {
  createFastClientFinish,
  createFastClientStart,
  createFastServer,
} from '../../../examples/relay/protocol/create-fast.js';
import { RelayCommand, decodeRelayCell, encodeRelayCell } from '../../../examples/relay/protocol/relay-cell.js';
import { HopCrypto, OriginCrypto, relayReceiveForward } from '../../../examples/relay/protocol/relay-crypto.js';
import { expectCode } from './helpers.js';

describe('CREATE_FAST', () => {
  it('both sides derive KDF-TOR keys in the order KH, Df, Db, Kf, Kb', () => {
    const { body, state } = createFastClientStart();
    const cell = parseCell(decodeCell(4, encodeCell(4, { circId: 0x80000003, command: CellCommand.CREATE_FAST, payload: body })));
    expect(cell.command).toBe('CREATE_FAST');
    const x = (cell as { x: Buffer }).x;
    const server = createFastServer(x);
    const created = parseCell({ circId: 0x80000003, command: CellCommand.CREATED_FAST, payload: Buffer.concat([server.reply, Buffer.alloc(469)]) });
    const keys = createFastClientFinish(state, (created as { reply: Buffer }).reply);
    expect(keys).toEqual(server.keys);
    // independently: K = SHA1(X|Y|00) | SHA1(X|Y|01) | ... written out
    const k0 = Buffer.concat([x, server.reply.subarray(0, 20)]);
    const k = Buffer.concat([0, 1, 2, 3, 4].map((i) => createHash('sha1').update(Buffer.concat([k0, Buffer.from([i])])).digest()));
    expect(server.reply.subarray(20)).toEqual(k.subarray(0, 20));
    expect(keys.Df).toEqual(k.subarray(20, 40));
    expect(keys.Db).toEqual(k.subarray(40, 60));
    expect(keys.Kf).toEqual(k.subarray(60, 76));
    expect(keys.Kb).toEqual(k.subarray(76, 92));
  });

  it('its keys drive a working one-hop circuit', () => {
    const { body, state } = createFastClientStart();
    const server = createFastServer(body);
    const origin = new OriginCrypto();
    origin.addHop(createFastClientFinish(state, server.reply));
    const guard = HopCrypto.fromKeys(server.keys);
    const cell = encodeRelayCell({ command: RelayCommand.DATA, streamId: 1, data: Buffer.from('fast') });
    origin.encryptForward(cell);
    expect(relayReceiveForward(guard, cell, false)).toBe(true);
    expect(decodeRelayCell(cell).data.toString()).toBe('fast');
  });

  it('refuses a wrong key hash and short bodies with codes', () => {
    const { body, state } = createFastClientStart();
    const { reply } = createFastServer(body);
    const bad = Buffer.from(reply);
    bad[25]! ^= 1;
    expect(expectCode(() => createFastClientFinish(state, bad), 'ERR_FAST_AUTH').destroyReason).toBe(1);
    expectCode(() => createFastClientFinish(state, reply.subarray(0, 39)), 'ERR_CELL_TRUNCATED');
    expectCode(() => createFastServer(randomBytes(19)), 'ERR_CELL_TRUNCATED');
    expectCode(() => parseCell({ circId: 5, command: CellCommand.CREATE_FAST, payload: Buffer.alloc(10) }), 'ERR_CELL_TRUNCATED');
    expectCode(() => parseCell({ circId: 5, command: CellCommand.CREATED_FAST, payload: Buffer.alloc(39) }), 'ERR_CELL_TRUNCATED');
  });
});
