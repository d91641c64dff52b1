import { expect } from 'vitest';

import { isProtocolError, type ProtocolError, type ProtocolErrorCode } from '../../../examples/relay/protocol/errors.js';

/** Runs fn, expects it to throw a ProtocolError with `code`, and returns the error. */
export function expectCode(fn: () => unknown, code: ProtocolErrorCode): ProtocolError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${code}`).toBeDefined();
  expect(isProtocolError(thrown), `expected a ProtocolError, got ${String(thrown)}`).toBe(true);
  expect((thrown as ProtocolError).code).toBe(code);
  return thrown as ProtocolError;
}
