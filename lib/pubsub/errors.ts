/** What kind of configuration problem was found. */
export type PubsubProblemCode =
  | 'no-publishers' // subscribers but no publisher
  | 'no-subscribers' // publishers but no subscriber
  | 'same-subsystem' // one subsystem publishes and subscribes the message
  | 'inconsistent-channels' // registrations of one message name different channels
  | 'inconsistent-types' // registrations of one message name different payload types
  | 'exclusive-publisher' // more than one publish registration, one of them exclusive
  | 'exclusive-subscriber' // more than one subscribe registration, one of them exclusive
  | 'type-redefined'; // a type registered again with other dispose/format functions

/** One problem, with everything needed to find the registrations behind it. */
export interface PubsubProblem {
  /** What kind of problem. */
  readonly code: PubsubProblemCode;
  /** One sentence, e.g. `Message "x" has subscribers, but no publishers.` */
  readonly text: string;
  /** The message concerned (absent for type problems). */
  readonly message?: string;
  /** The type concerned (type problems, and type conflicts). */
  readonly type?: string;
  /** The subsystems involved, in registration order, without repeats. */
  readonly subsystems: readonly string[];
  /** The channels involved, without repeats. */
  readonly channels: readonly string[];
  /** One line per registration involved: `sys PUB: msg{type} on channel (flags) at file:line`. */
  readonly registrations: readonly string[];
}

/**
 * The publish–subscribe configuration is wrong. Thrown by `finalize` with every problem found
 * (not only the first), and by a registration call that conflicts with earlier ones (that
 * problem alone; `finalize` reports it again).
 */
export class PubsubConfigError extends Error {
  /** Always 'PubsubConfigError'. */
  override readonly name = 'PubsubConfigError';
  /** Always `'ERR_PUBSUB_CONFIG'`; `problems` says what is wrong. */
  readonly code = 'ERR_PUBSUB_CONFIG';
  /** @param problems - every problem found */
  constructor(
    /** Every problem found, in a stable order. */
    readonly problems: readonly PubsubProblem[],
  ) {
    super(formatProblems(problems));
  }
}

function formatProblems(problems: readonly PubsubProblem[]): string {
  const lines = [`The publish-subscribe configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:`];
  for (const p of problems) {
    lines.push(`  - ${p.text}`);
    for (const r of p.registrations) lines.push(`      ${r}`);
  }
  return lines.join('\n');
}

/** @internal A misuse of the pubsub layer's API (not a configuration problem): an Error with a `code`. */
export function pubsubUsageError<E extends Error>(err: E, code: string): E & { code: string } {
  return Object.assign(err, { code });
}
