// Name registries: strings to dense small integers, one registry per ID space.
//
// Every registry is an ordinary object. Nothing here is process-global: two builders (or two
// tests) that each make their own `Naming` never see each other's IDs.

import { DispatchError } from './errors.js';

/** Longest accepted name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 128;
/** Number of IDs a registry can hand out (IDs are 0 … MAX_IDS − 1, so they fit in 16 bits). */
export const MAX_IDS = 65535;

/** One ID space: names map to 0, 1, 2, … in order of first use. Case-sensitive. */
export class Names {
  readonly #ids = new Map<string, number>();
  readonly #names: string[] = [];

  /** @param kind what the names are ("message", "channel", …); used in error texts only. */
  constructor(readonly kind: string) {}

  /**
   * The ID of `name`, creating it on first use.
   *
   * @param name - a non-empty string of at most MAX_NAME_BYTES UTF-8 bytes
   * @returns its ID
   * @throws DispatchError ERR_DISPATCH_NAME (empty, too long, or the registry is full)
   */
  id(name: string): number {
    const found = this.#ids.get(name);
    if (found !== undefined) return found;
    if (typeof name !== 'string' || name.length === 0) {
      throw new DispatchError('ERR_DISPATCH_NAME', `A ${this.kind} name must be a non-empty string (got ${describe(name)}).`);
    }
    const bytes = utf8Length(name);
    if (bytes > MAX_NAME_BYTES) {
      throw new DispatchError(
        'ERR_DISPATCH_NAME',
        `The ${this.kind} name "${name.slice(0, 32)}…" is ${bytes} bytes long; at most ${MAX_NAME_BYTES} are allowed.`,
      );
    }
    const id = this.#names.length;
    if (id >= MAX_IDS) {
      throw new DispatchError('ERR_DISPATCH_NAME', `Too many ${this.kind} names: the limit is ${MAX_IDS}.`);
    }
    this.#names.push(name);
    this.#ids.set(name, id);
    return id;
  }

  /**
   * Looks a name up; never creates an ID.
   *
   * @param name - the name
   * @returns its ID, or undefined when it is not registered
   */
  find(name: string): number | undefined {
    return this.#ids.get(name);
  }

  /**
   * The name of an ID.
   *
   * @param id - the ID
   * @returns its name, or `"{id}"` when no name has that ID
   */
  name(id: number): string {
    const n = Number.isInteger(id) && id >= 0 ? this.#names[id] : undefined;
    return n ?? `{${id}}`;
  }

  /** How many names this registry holds; every ID is below this. */
  get size(): number {
    return this.#names.length;
  }

  /**
   * All names.
   *
   * @returns a copy, indexed by ID
   */
  names(): readonly string[] {
    return this.#names.slice();
  }
}

/** The four independent ID spaces one dispatcher (and the builder behind it) uses. */
export class Naming {
  /** Message names. */
  readonly messages = new Names('message');
  /** Channel names. */
  readonly channels = new Names('channel');
  /** Payload type names. */
  readonly types = new Names('type');
  /** Subsystem names. */
  readonly subsystems = new Names('subsystem');
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function describe(v: unknown): string {
  return typeof v === 'string' ? '""' : typeof v;
}
