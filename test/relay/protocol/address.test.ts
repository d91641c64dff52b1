import { describe, expect, it } from 'vitest';

import { decodeIPv4, decodeIPv6, encodeIPv4, encodeIPv6, isIPv4 } from '../../../examples/relay/protocol/address.js';
import { expectCode } from './helpers.js';

describe('addresses in cells', () => {
  it('IPv4 round-trips and rejects bad text', () => {
    expect([...encodeIPv4('127.0.0.1')]).toEqual([127, 0, 0, 1]);
    expect(decodeIPv4(Buffer.from([10, 20, 30, 40]))).toBe('10.20.30.40');
    expect(isIPv4('256.0.0.1')).toBe(false);
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', 'a.b.c.d', '']) expectCode(() => encodeIPv4(bad), 'ERR_CELL_BAD_FIELD');
    expectCode(() => decodeIPv4(Buffer.alloc(3)), 'ERR_CELL_TRUNCATED');
  });

  it('IPv6 accepts :: and embedded IPv4, writes the RFC 5952 form', () => {
    const cases: Array<[string, string]> = [
      ['::1', '::1'],
      ['::', '::'],
      ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['fe80::', 'fe80::'],
      ['::ffff:1.2.3.4', '::ffff:102:304'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['2001:DB8::A', '2001:db8::a'],
    ];
    for (const [text, canonical] of cases) {
      const bytes = encodeIPv6(text);
      expect(bytes.length).toBe(16);
      expect(decodeIPv6(bytes), text).toBe(canonical);
      expect(encodeIPv6(canonical)).toEqual(bytes);
    }
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', ':::']) {
      expectCode(() => encodeIPv6(bad), 'ERR_CELL_BAD_FIELD');
    }
    expectCode(() => decodeIPv6(Buffer.alloc(15)), 'ERR_CELL_TRUNCATED');
  });
});
