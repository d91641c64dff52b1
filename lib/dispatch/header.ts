import type { Naming } from './names.js';

/**
 * Who sent a message, on which channel, which message and of which payload type: Tor's message
 * template. A publisher builds one header once and links it to the dispatcher once
 * (`Dispatcher.link`), so a queued message costs two slots in its channel's ring (the link,
 * the payload) and nothing else.
 *
 * The numeric fields are what the dispatcher reads. The `…Name` getters resolve through the
 * naming the header was made with (or show `{id}` without one); they are for logs and errors.
 */
export class MessageHeader {
  /**
   * @param sender - the sending subsystem's ID
   * @param channel - the channel's ID
   * @param msg - the message's ID
   * @param type - the payload type's ID
   * @param naming - the registries the IDs come from (for the `…Name` getters), or null
   */
  constructor(
    /** The sending subsystem's ID. */
    readonly sender: number,
    /** The channel's ID. */
    readonly channel: number,
    /** The message's ID. */
    readonly msg: number,
    /** The payload type's ID. */
    readonly type: number,
    /** The registries the IDs come from, or null. */
    readonly naming: Naming | null = null,
  ) {}

  /** The sender's name, or `{id}`. */
  get senderName(): string {
    return this.naming ? this.naming.subsystems.name(this.sender) : `{${this.sender}}`;
  }
  /** The channel's name, or `{id}`. */
  get channelName(): string {
    return this.naming ? this.naming.channels.name(this.channel) : `{${this.channel}}`;
  }
  /** The message's name, or `{id}`. */
  get msgName(): string {
    return this.naming ? this.naming.messages.name(this.msg) : `{${this.msg}}`;
  }
  /** The payload type's name, or `{id}`. */
  get typeName(): string {
    return this.naming ? this.naming.types.name(this.type) : `{${this.type}}`;
  }

  /**
   * For logs.
   *
   * @returns `msg from sender on channel`
   */
  toString(): string {
    return `${this.msgName} from ${this.senderName} on ${this.channelName}`;
  }
}
