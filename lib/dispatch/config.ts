import { DispatchError } from './errors.js';
import type { MessageHeader } from './header.js';
import { MAX_IDS } from './names.js';

/**
 * Called once per delivered message, per registration. The payload is owned by the dispatcher
 * (it is disposed after the last receiver returns), so a receiver must copy what it keeps.
 */
export type Receiver = (payload: unknown, header: MessageHeader) => void;

/** Per-type functions. Missing ones default to "do nothing" and `"<>"`. */
export interface TypeFns {
  /** Releases what the payload owns. Runs exactly once per message: delivered, dropped or discarded. */
  readonly dispose?: ((payload: unknown) => void) | undefined;
  /** A short description of the payload, for logs and debugging. */
  readonly format?: ((payload: unknown) => string) | undefined;
}

/** One receiver registration, in the order it was added. */
export interface ReceiverRecord {
  /** The receiving subsystem's ID. */
  readonly subsystem: number;
  /** The receiver. */
  readonly fn: Receiver;
}

/**
 * The mutable first phase of a dispatcher: which channel and type each message uses, the
 * functions of each type, and the receivers of each message. IDs may be sparse (gaps are fine).
 * Conflicting settings are refused (the methods return false) and the first setting stays.
 */
export class DispatchConfig {
  /** @internal */ readonly msgType: (number | undefined)[] = [];
  /** @internal */ readonly msgChannel: (number | undefined)[] = [];
  /** @internal */ readonly typeFns: (TypeFns | undefined)[] = [];
  /** @internal */ readonly receivers: (ReceiverRecord[] | undefined)[] = [];
  /** @internal */ minChannels = 0;

  /**
   * Sets the type of `msg`.
   *
   * @param msg - message ID
   * @param type - type ID
   * @returns false (and nothing changes) if it already has another type
   * @throws DispatchError ERR_DISPATCH_ID
   */
  setMessageType(msg: number, type: number): boolean {
    checkId('message', msg);
    checkId('type', type);
    const old = this.msgType[msg];
    if (old === undefined) this.msgType[msg] = type;
    return old === undefined || old === type;
  }

  /**
   * Sets the channel of `msg`.
   *
   * @param msg - message ID
   * @param channel - channel ID
   * @returns false (and nothing changes) if it already has another channel
   * @throws DispatchError ERR_DISPATCH_ID
   */
  setMessageChannel(msg: number, channel: number): boolean {
    checkId('message', msg);
    checkId('channel', channel);
    const old = this.msgChannel[msg];
    if (old === undefined) this.msgChannel[msg] = channel;
    return old === undefined || old === channel;
  }

  /**
   * Sets the functions of `type`. Registering the same pair again is accepted; a pair that
   * differs in either function (a missing one counts as different) is refused with false.
   *
   * @param type - type ID
   * @param fns - `dispose` and `format`
   * @returns false when refused
   * @throws DispatchError ERR_DISPATCH_ID
   */
  setTypeFns(type: number, fns: TypeFns): boolean {
    checkId('type', type);
    const old = this.typeFns[type];
    if (old === undefined) {
      this.typeFns[type] = { dispose: fns.dispose, format: fns.format };
      return true;
    }
    return old.dispose === fns.dispose && old.format === fns.format;
  }

  /**
   * Appends a receiver for `msg`. The same receiver may be added twice; it then runs twice.
   *
   * @param msg - message ID
   * @param subsystem - the receiving subsystem's ID
   * @param fn - the receiver
   * @throws DispatchError ERR_DISPATCH_ID, ERR_DISPATCH_CONFIG (not a function)
   */
  addReceiver(msg: number, subsystem: number, fn: Receiver): void {
    checkId('message', msg);
    checkId('subsystem', subsystem);
    if (typeof fn !== 'function') throw new DispatchError('ERR_DISPATCH_CONFIG', `The receiver for message ${msg} is not a function.`);
    (this.receivers[msg] ??= []).push({ subsystem, fn });
  }

  /**
   * Makes the dispatcher have at least `n` channel queues, even for channels no message uses.
   *
   * @param n - a number of channels, 0 to MAX_IDS
   * @throws DispatchError ERR_DISPATCH_ID
   */
  reserveChannels(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > MAX_IDS) throw new DispatchError('ERR_DISPATCH_ID', `Cannot reserve ${n} channels.`);
    if (n > this.minChannels) this.minChannels = n;
  }
}

/** @internal */
export function checkId(kind: string, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= MAX_IDS) {
    throw new DispatchError('ERR_DISPATCH_ID', `Invalid ${kind} ID ${String(id)}: IDs are integers from 0 to ${MAX_IDS - 1}.`);
  }
}
