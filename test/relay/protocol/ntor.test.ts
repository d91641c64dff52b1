import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  NTOR_ONIONSKIN_LEN,
  NTOR_REPLY_LEN,
  generateX25519KeyPair,
  nodeIdOf,
  ntorClientFinish,
  ntorClientStart,
  ntorServerHandshake,
  type X25519KeyPair,
} from '../../../examples/relay/protocol/ntor.js';
import { expectCode } from './helpers.js';

// ---- A second computation, straight from tor-spec §5.1.4 / §5.2.2, sharing no code with ntor.ts:
// keys go through JWK instead of DER, HMACs are called one by one, HKDF-Expand is written out.
const b64u = (b: Buffer) => b.toString('base64url');
function dh(priv: X25519KeyPair, pub: Buffer): Buffer {
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: b64u(priv.privateKey), x: b64u(priv.publicKey) },
    format: 'jwk',
  });
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(pub) }, format: 'jwk' });
  return diffieHellman({ privateKey, publicKey });
}
const H = (msg: Buffer, key: string | Buffer) => createHmac('sha256', key).update(msg).digest();
function referenceClient(ID: Buffer, B: Buffer, x: X25519KeyPair, reply: Buffer) {
  const protoid = 'ntor-curve25519-sha256-1';
  const X = x.publicKey;
  const Y = reply.subarray(0, 32);
  const secret = Buffer.concat([dh(x, Y), dh(x, B), ID, B, X, Y, Buffer.from(protoid, 'latin1')]);
  const keySeed = H(secret, `${protoid}:key_extract`);
  const verify = H(secret, `${protoid}:verify`);
  const authInput = Buffer.concat([verify, ID, B, Y, X, Buffer.from(protoid), Buffer.from('Server')]);
  const auth = H(authInput, `${protoid}:mac`);
  const mExpand = Buffer.from(`${protoid}:key_expand`);
  let k = Buffer.alloc(0);
  const blocks: Buffer[] = [];
  for (let i = 1; blocks.length * 32 < 92; i++) {
    k = H(Buffer.concat([k, mExpand, Buffer.from([i])]), keySeed);
    blocks.push(k);
  }
  const material = Buffer.concat(blocks).subarray(0, 92);
  return {
    auth,
    Df: material.subarray(0, 20),
    Db: material.subarray(20, 40),
    Kf: material.subarray(40, 56),
    Kb: material.subarray(56, 72),
    KH: material.subarray(72, 92),
  };
}

function relayIdentity() {
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const onion = generateX25519KeyPair();
  return { nodeId: nodeIdOf(Buffer.from(ed)), onion, ed: Buffer.from(ed) };
}

describe('ntor', () => {
  it('NODEID is the SHA-1 of the Ed25519 identity key', () => {
    const r = relayIdentity();
    expect(r.nodeId).toEqual(createHash('sha1').update(r.ed).digest());
    expect(r.nodeId.length).toBe(20);
  });

  it('client and relay agree on keys, and match the independent computation', () => {
    for (let round = 0; round < 5; round++) {
      const r = relayIdentity();
      const { onionskin, state } = ntorClientStart(r.nodeId, r.onion.publicKey);
      expect(onionskin.length).toBe(NTOR_ONIONSKIN_LEN);
      expect(onionskin.subarray(0, 20)).toEqual(r.nodeId);
      expect(onionskin.subarray(20, 52)).toEqual(r.onion.publicKey);
      const server = ntorServerHandshake(onionskin, { nodeId: r.nodeId, onionKeys: [r.onion] });
      expect(server.reply.length).toBe(NTOR_REPLY_LEN);
      expect(server.onionKeyIndex).toBe(0);
      const client = ntorClientFinish(state, server.reply);
      expect(client).toEqual(server.keys);

      const ref = referenceClient(r.nodeId, r.onion.publicKey, state.ephemeral, server.reply);
      expect(server.reply.subarray(32)).toEqual(ref.auth);
      expect(client.Df).toEqual(ref.Df);
      expect(client.Db).toEqual(ref.Db);
      expect(client.Kf).toEqual(ref.Kf);
      expect(client.Kb).toEqual(ref.Kb);
      expect(client.KH).toEqual(ref.KH);
      expect([client.Df, client.Db, client.Kf, client.Kb, client.KH].map((k) => k.length)).toEqual([20, 20, 16, 16, 20]);
    }
  });

  it('a pending handshake is plain data: it finishes after a structuredClone (an update mid-extend)', () => {
    const r = relayIdentity();
    const { onionskin, state } = ntorClientStart(r.nodeId, r.onion.publicKey);
    const carried = structuredClone(state);
    const server = ntorServerHandshake(onionskin, structuredClone({ nodeId: r.nodeId, onionKeys: [r.onion] }));
    expect(ntorClientFinish(carried, server.reply)).toEqual(server.keys);
  });

  it('reproduces the published ntor test vector byte for byte', () => {
    // Fixed keys and expected bytes of the ntor known-answer test that arti's tor-proto crate
    // runs (crates/tor-proto/src/crypto/handshake/ntor.rs, `testvec`), values from Tor's
    // reference implementation ntor_ref.py: an external check, not our own computation.
    const h = (hex: string) => Buffer.from(hex, 'hex');
    const b = {
      privateKey: h('4820544f4c4420594f5520444f474954204b454550532048415050454e494e47'),
      publicKey: h('ccbc8541904d18af08753eae967874749e6149f873de937f57f8fd903a21c471'),
    };
    const x = {
      privateKey: h('706f6461792069207075742e2e2e2e2e2e2e2e4a454c4c59206f6e2074686973'),
      publicKey: h('e65dfdbef8b2635837fe2cebc086a8096eae3213e6830dc407516083d412b078'),
    };
    const y = {
      privateKey: h('70686520737175697272656c2e2e2e2e2e2e2e2e686173206869732067616d65'),
      publicKey: h('390480a14362761d6aec1fea840f6e9e928fb2adb7b25c670be1045e35133a37'),
    };
    const id = h('69546f6c64596f7541626f75745374616972732e');
    const { onionskin, state } = ntorClientStart(id, b.publicKey, x);
    expect(onionskin.toString('hex')).toBe(
      '69546f6c64596f7541626f75745374616972732eccbc8541904d18af08753eae967874749e6149f873de937f57f8fd903a21c471' +
        'e65dfdbef8b2635837fe2cebc086a8096eae3213e6830dc407516083d412b078',
    );
    const server = ntorServerHandshake(onionskin, { nodeId: id, onionKeys: [b] }, y);
    expect(server.reply.toString('hex')).toBe(
      '390480a14362761d6aec1fea840f6e9e928fb2adb7b25c670be1045e35133a37' +
        '1cbdf68b89923e1f85e8e18ee6e805ea333fe4849c790ffd2670bd80fec95cc8',
    );
    const keys = ntorClientFinish(state, server.reply);
    // the vector lists the first 72 bytes of key material: Df | Db | Kf | Kb
    expect(Buffer.concat([keys.Df, keys.Db, keys.Kf, keys.Kb]).toString('hex')).toBe(
      '0c62dee7f48893370d0ef896758d35729867beef1a5121df80e00f79ed349af39b51cae125719182f19d932a667dae1a' +
        'fbf2e336e6910e7822223e763afad0a13342157969dc6b79',
    );
    expect(server.keys).toEqual(keys);
  });

  it('accepts the previous onion key after a rotation', () => {
    const r = relayIdentity();
    const fresh = generateX25519KeyPair();
    const { onionskin, state } = ntorClientStart(r.nodeId, r.onion.publicKey);
    const server = ntorServerHandshake(onionskin, { nodeId: r.nodeId, onionKeys: [fresh, r.onion] });
    expect(server.onionKeyIndex).toBe(1);
    expect(ntorClientFinish(state, server.reply)).toEqual(server.keys);
  });

  it('a KEYID the relay does not hold is answered with a junk key and fails AUTH at the client', () => {
    const r = relayIdentity();
    const stale = generateX25519KeyPair();
    const { onionskin, state } = ntorClientStart(r.nodeId, stale.publicKey);
    const server = ntorServerHandshake(onionskin, { nodeId: r.nodeId, onionKeys: [r.onion] });
    expect(server.onionKeyIndex).toBe(-1);
    expect(server.reply.length).toBe(64);
    const err = expectCode(() => ntorClientFinish(state, server.reply), 'ERR_NTOR_AUTH');
    expect(err.destroyReason).toBe(1);
  });

  it('a tampered reply or the wrong relay fails AUTH', () => {
    const r = relayIdentity();
    const { onionskin, state } = ntorClientStart(r.nodeId, r.onion.publicKey);
    const { reply } = ntorServerHandshake(onionskin, { nodeId: r.nodeId, onionKeys: [r.onion] });
    const flipped = Buffer.from(reply);
    flipped[40]! ^= 1;
    expectCode(() => ntorClientFinish(state, flipped), 'ERR_NTOR_AUTH');
    // an impostor that knows the onion key's public half but not its private half
    const impostor = ntorServerHandshake(onionskin, {
      nodeId: r.nodeId,
      onionKeys: [{ publicKey: r.onion.publicKey, privateKey: generateX25519KeyPair().privateKey }],
    });
    expectCode(() => ntorClientFinish(state, impostor.reply), 'ERR_NTOR_AUTH');
  });

  it('refuses another NODEID, bad lengths and low-order points with codes', () => {
    const r = relayIdentity();
    const { onionskin, state } = ntorClientStart(r.nodeId, r.onion.publicKey);
    const other = relayIdentity();
    expectCode(() => ntorServerHandshake(onionskin, { nodeId: other.nodeId, onionKeys: [r.onion] }), 'ERR_NTOR_NODEID');
    expectCode(() => ntorServerHandshake(onionskin.subarray(0, 83), { nodeId: r.nodeId, onionKeys: [r.onion] }), 'ERR_NTOR_LENGTH');
    const zeroX = Buffer.concat([onionskin.subarray(0, 52), Buffer.alloc(32)]);
    expectCode(() => ntorServerHandshake(zeroX, { nodeId: r.nodeId, onionKeys: [r.onion] }), 'ERR_NTOR_DH');
    expectCode(() => ntorClientFinish(state, Buffer.alloc(63)), 'ERR_NTOR_LENGTH');
    expectCode(() => ntorClientFinish(state, Buffer.alloc(64)), 'ERR_NTOR_DH');
  });
});
