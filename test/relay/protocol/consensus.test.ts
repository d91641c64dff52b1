import { describe, expect, it } from 'vitest';

import {
  consensusEntryOf,
  consensusParam,
  formatDirTime,
  ed25519KeyPairFromSeed,
  generateEd25519KeyPair,
  parseConsensus,
  parseDescriptor,
  parseDirTime,
  signConsensus,
  signDescriptor,
  type Consensus,
  type RelayDescriptor,
} from '../../../examples/relay/protocol/consensus.js';
import { isProtocolError } from '../../../examples/relay/protocol/errors.js';
import { generateX25519KeyPair, nodeIdOf } from '../../../examples/relay/protocol/ntor.js';
import { expectCode } from './helpers.js';

const NOW = parseDirTime('2026-12-01 12:00:00');

function relay(nickname: string, port: number, flagsWanted: string[]) {
  const identity = generateEd25519KeyPair();
  const descriptor: RelayDescriptor = {
    nickname,
    identity: identity.publicKey,
    address: '127.0.0.1',
    orPort: port,
    ntorOnionKey: generateX25519KeyPair().publicKey,
    flagsWanted,
    bandwidth: 1_000_000,
    published: NOW - 60,
  };
  return { identity, descriptor };
}

describe('relay descriptors', () => {
  it('sign → parse round-trips and checks the self-signature', () => {
    const { identity, descriptor } = relay('guard1', 9001, ['Guard', 'Fast']);
    const text = signDescriptor(descriptor, identity.privateKey);
    expect(text).toMatch(/^router guard1 127\.0\.0\.1 9001\nidentity-ed25519 [A-Za-z0-9+/]{43}\n/);
    expect(text).not.toMatch(/=/);
    expect(parseDescriptor(text)).toEqual(descriptor);
  });

  it('refuses a changed descriptor, another key’s signature and malformed text', () => {
    const { identity, descriptor } = relay('mid1', 9002, []);
    const text = signDescriptor(descriptor, identity.privateKey);
    expectCode(() => parseDescriptor(text.replace('9002', '9003')), 'ERR_DIR_SIGNATURE');
    expectCode(() => parseDescriptor(signDescriptor(descriptor, generateEd25519KeyPair().privateKey)), 'ERR_DIR_SIGNATURE');
    expectCode(() => parseDescriptor(text.replace('router mid1', 'router bad_name!')), 'ERR_DIR_MALFORMED');
    expectCode(() => parseDescriptor(text.slice(0, -1)), 'ERR_DIR_MALFORMED');
    expectCode(() => parseDescriptor(text.split('\n').slice(1).join('\n')), 'ERR_DIR_MALFORMED');
    expectCode(() => parseDescriptor(text.replace(/ntor-onion-key \S+/, 'ntor-onion-key AAAA')), 'ERR_DIR_MALFORMED');
    expectCode(() => parseDescriptor(''), 'ERR_DIR_MALFORMED');
    for (let cut = 0; cut < text.length; cut += 11) {
      for (const junk of ['\u0000', ' ', '\n', '=', 'x']) {
        try {
          parseDescriptor(text.slice(0, cut) + junk + text.slice(cut + 1));
        } catch (e) {
          expect(isProtocolError(e), String(e)).toBe(true);
        }
      }
    }
  });
});

describe('Ed25519 keys from a seed', () => {
  it('derive RFC 8032 test vector 1, sign what verifies, and refuse a bad seed', () => {
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const pair = ed25519KeyPairFromSeed(seed);
    expect(pair.privateKey).toEqual(seed);
    expect(pair.publicKey.toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(ed25519KeyPairFromSeed(Buffer.alloc(32, 0x43)).publicKey).not.toEqual(pair.publicKey);
    const { descriptor } = relay('seeded', 9001, []);
    const text = signDescriptor({ ...descriptor, identity: pair.publicKey }, pair.privateKey);
    expect(parseDescriptor(text).identity).toEqual(pair.publicKey);
    expectCode(() => ed25519KeyPairFromSeed(Buffer.alloc(31)), 'ERR_DIR_MALFORMED');
  });
});

describe('consensus', () => {
  const dir = generateEd25519KeyPair();
  const trusted = [{ name: 'dir1', publicKey: dir.publicKey }];
  const relays = [relay('guard1', 9001, ['Guard']), relay('middle1', 9002, []), relay('exit1', 9003, ['Exit'])];
  const doc: Consensus = {
    validAfter: NOW - 600,
    freshUntil: NOW + 600,
    validUntil: NOW + 1800,
    params: { sendme_emit_min_version: 0, circwindow: 1000 },
    relays: relays.map((r) => consensusEntryOf(r.descriptor, ['Running', 'Valid', ...r.descriptor.flagsWanted, 'Bogus'])),
  };

  it('sign → parse round-trips with the trusted directory key', () => {
    const text = signConsensus(doc, [dir]);
    expect(text).toContain('params circwindow=1000 sendme_emit_min_version=0\n');
    const parsed = parseConsensus(text, { trusted, now: NOW });
    expect(parsed.signedBy).toEqual(['dir1']);
    expect(parsed.fresh).toBe(true);
    expect(parsed.params).toEqual({ circwindow: 1000, sendme_emit_min_version: 0 });
    expect(parsed.relays).toHaveLength(3);
    const exit = parsed.relays.find((r) => r.nickname === 'exit1')!;
    expect(exit.flags).toEqual(['Exit', 'Running', 'Valid']);
    expect(exit.identityDigest).toEqual(nodeIdOf(relays[2]!.identity.publicKey));
    expect(exit.ntorOnionKey).toEqual(relays[2]!.descriptor.ntorOnionKey);
    expect(exit.orPort).toBe(9003);
    expect(consensusParam(parsed, 'circwindow', 1000, 100, 1000)).toBe(1000);
    expect(consensusParam(parsed, 'missing', 7)).toBe(7);
    expect(consensusParam({ params: { circwindow: 5 } }, 'circwindow', 1000, 100, 1000)).toBe(100);
  });

  it('refuses a tampered consensus, untrusted signers, and a trusted key’s bad signature', () => {
    const text = signConsensus(doc, [dir]);
    expectCode(() => parseConsensus(text.replace(' 9002\n', ' 9009\n'), { trusted, now: NOW }), 'ERR_DIR_SIGNATURE');
    const stranger = signConsensus(doc, [generateEd25519KeyPair()]);
    expectCode(() => parseConsensus(stranger, { trusted, now: NOW }), 'ERR_DIR_UNTRUSTED');
    expectCode(() => parseConsensus(text, { trusted: [], now: NOW }), 'ERR_DIR_UNTRUSTED');
  });

  it('accepts either key during a rotation, and counts distinct signers for a threshold', () => {
    const next = generateEd25519KeyPair();
    const both = [...trusted, { name: 'dir1-next', publicKey: next.publicKey }];
    expect(parseConsensus(signConsensus(doc, [next]), { trusted: both, now: NOW }).signedBy).toEqual(['dir1-next']);
    const twice = signConsensus(doc, [dir, next, generateEd25519KeyPair()]);
    expect(parseConsensus(twice, { trusted: both, now: NOW, threshold: 2 }).signedBy).toEqual(['dir1', 'dir1-next']);
    expectCode(() => parseConsensus(signConsensus(doc, [dir]), { trusted: both, now: NOW, threshold: 2 }), 'ERR_DIR_UNTRUSTED');
  });

  it('checks the validity period', () => {
    const text = signConsensus(doc, [dir]);
    expectCode(() => parseConsensus(text, { trusted, now: NOW + 1801 }), 'ERR_DIR_EXPIRED');
    expectCode(() => parseConsensus(text, { trusted, now: NOW - 601 }), 'ERR_DIR_NOT_YET_VALID');
    expect(parseConsensus(text, { trusted, now: NOW + 1000 }).fresh).toBe(false);
    expect(parseConsensus(text, { trusted, now: NOW + 1850, skew: 60 }).fresh).toBe(false);
  });

  it('malformed documents get ERR_DIR_MALFORMED, never another error', () => {
    const text = signConsensus(doc, [dir]);
    const lines = text.split('\n');
    const variants = [
      text.replace('network-status-version 3', 'network-status-version 4'),
      text.replace('params circwindow=1000 sendme_emit_min_version=0', 'params sendme_emit_min_version=0 circwindow=1000'),
      text.replace('circwindow=1000', 'circwindow=99999999999'),
      text.replace(/valid-after \S+ \S+/, 'valid-after 2026-13-01 00:00:00'),
      text.replace(/fresh-until \S+ \S+/, `fresh-until ${formatDirTime(NOW + 99999)}`),
      text.replace(/\nw Bandwidth=\d+/, '\nw Bandwidth=lots'),
      text.replace(/\nr \S+ \S+ 127\.0\.0\.1/, '\nr x AAAA 127.0.0.1'),
      text.replace(/\nr (\S+) (\S+) 127\.0\.0\.1/, '\nr $1 $2 999.0.0.1'),
      lines.filter((l) => !l.startsWith('directory-signature')).join('\n'),
      text + 'trailing junk\n',
      text.slice(0, 100),
      '',
    ];
    for (const v of variants) expectCode(() => parseConsensus(v, { trusted, now: NOW }), 'ERR_DIR_MALFORMED');
    // byte-level garbage: always a coded error
    for (let cut = 0; cut < text.length; cut += 37) {
      try {
        parseConsensus(text.slice(0, cut) + '\u0000x' + text.slice(cut + 2), { trusted, now: NOW });
      } catch (e) {
        expect(isProtocolError(e)).toBe(true);
      }
    }
  });
});
