import type { MessageHeader } from '../dispatch/index.js';
import { pubsubUsageError } from './errors.js';

declare const payloadType: unique symbol;

/**
 * A typed message declaration. `T` exists only for the compiler: it ties publishers and
 * subscribers of this message to one payload type (invariantly, so a `MessageDef<Cat>` is not
 * a `MessageDef<Animal>`). `typeName` is the runtime type whose dispose/format functions apply.
 */
export interface MessageDef<T> {
  /** The message name. */
  readonly name: string;
  /** The payload type name. */
  readonly typeName: string;
  /** Only for the compiler: makes T invariant. */
  readonly [payloadType]?: (payload: T) => T;
}

/** The payload type of a MessageDef. */
export type PayloadOf<M> = M extends MessageDef<infer T> ? T : never;

/**
 * A subscriber's hook. It gets a read-only view of the payload (the message owns it and disposes
 * it after the last hook) and the header saying who sent it on which channel.
 */
export type Hook<T> = (payload: Readonly<T>, header: MessageHeader) => void;

/**
 * Declares a message; register it with `con.addPub` and `con.addSub`.
 *
 * @param name - the message name
 * @param typeName - the payload type's name (its dispose/format functions come from registerType)
 * @returns the frozen declaration
 * @throws TypeError ERR_INVALID_ARG_VALUE (an empty name)
 * @example
 * ```ts
 * const Temperature = defineMessage<number>('temperature', 'celsius');
 * ```
 */
export function defineMessage<T>(name: string, typeName: string): MessageDef<T> {
  if (typeof name !== 'string' || name.length === 0) throw pubsubUsageError(new TypeError('A message name must be a non-empty string.'), 'ERR_INVALID_ARG_VALUE');
  if (typeof typeName !== 'string' || typeName.length === 0) {
    throw pubsubUsageError(new TypeError(`The type name of message "${name}" must be a non-empty string.`), 'ERR_INVALID_ARG_VALUE');
  }
  return Object.freeze({ name, typeName });
}
