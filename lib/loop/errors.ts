// Errors thrown by the TypeScript layer carry a `code`, like the addon's and Node's own.
export type CodedError = Error & { code: string };

export function coded<E extends Error>(err: E, code: string): E & { code: string } {
  return Object.assign(err, { code });
}

export function typeError(code: string, message: string): CodedError {
  return coded(new TypeError(message), code);
}

export function rangeError(code: string, message: string): CodedError {
  return coded(new RangeError(message), code);
}

export function stateError(code: string, message: string): CodedError {
  return coded(new Error(message), code);
}

export function checkFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') {
    throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be a function, got ${value === null ? 'null' : typeof value}`);
  }
}
