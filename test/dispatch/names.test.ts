import { describe, expect, it } from 'vitest';
import { DispatchError, MAX_NAME_BYTES, Names, Naming } from '../../lib/dispatch/index.js';

describe('Names (spec §6.1)', () => {
  it('N1: hands out dense IDs in order of first use and returns the same ID again', () => {
    const names = new Names('message');
    expect(names.size).toBe(0);
    expect(names.id('that')).toBe(0);
    expect(names.id('is')).toBe(1);
    expect(names.id('that')).toBe(0);
    expect(names.id('not')).toBe(2);
    expect(names.id('is')).toBe(1);
    expect(names.id('not')).toBe(2);
    expect(names.size).toBe(3);
    expect(names.names()).toEqual(['that', 'is', 'not']);
    expect(names.name(1)).toBe('is');
  });

  it('N2: independent registries give their own IDs and do not share names', () => {
    const naming = new Naming();
    naming.messages.id('a');
    expect(naming.messages.id('shared')).toBe(1);
    expect(naming.channels.id('shared')).toBe(0);
    naming.messages.id('only-a-message');
    expect(naming.channels.find('only-a-message')).toBeUndefined();
    expect(naming.types.size).toBe(0);
    expect(naming.subsystems.size).toBe(0);

    // Two Naming instances are separate too: nothing is process-global.
    const other = new Naming();
    expect(other.messages.find('shared')).toBeUndefined();
    expect(other.messages.id('zzz')).toBe(0);
  });

  it('N3: lookups are case-sensitive and find() never creates', () => {
    const names = new Names('channel');
    names.id('hello');
    expect(names.find('hello')).toBe(0);
    expect(names.find('HELLO')).toBeUndefined();
    expect(names.size).toBe(1);
    expect(names.id('HELLO')).toBe(1);
  });

  it('N4: a 129-byte name is rejected with a clear error; 128 bytes are accepted', () => {
    const names = new Names('message');
    expect(names.id('x'.repeat(MAX_NAME_BYTES))).toBe(0);
    expect(() => names.id('y'.repeat(MAX_NAME_BYTES + 1))).toThrow(DispatchError);
    expect(() => names.id('y'.repeat(MAX_NAME_BYTES + 1))).toThrow(/message name .* is 129 bytes long; at most 128/);
    // Bytes, not UTF-16 units: 43 three-byte characters are 129 bytes.
    expect(() => names.id('\u20ac'.repeat(43))).toThrow(/129 bytes/);
    expect(names.id('\u20ac'.repeat(42))).toBe(1);
    expect(() => names.id('')).toThrow(/non-empty string/);
    expect(names.size).toBe(2);
  });

  it('N5: an ID with no name is shown as {id}', () => {
    const names = new Names('type');
    names.id('int');
    expect(names.name(0)).toBe('int');
    expect(names.name(100)).toBe('{100}');
    expect(names.name(-1)).toBe('{-1}');
  });
});
