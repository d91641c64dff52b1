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
  constructor(
    readonly sender: number,
    readonly channel: number,
    readonly msg: number,
    readonly type: number,
    readonly naming: Naming | null = null,
  ) {}

  get senderName(): string {
    return this.naming ? this.naming.subsystems.name(this.sender) : `{${this.sender}}`;
  }
  get channelName(): string {
    return this.naming ? this.naming.channels.name(this.channel) : `{${this.channel}}`;
  }
  get msgName(): string {
    return this.naming ? this.naming.messages.name(this.msg) : `{${this.msg}}`;
  }
  get typeName(): string {
    return this.naming ? this.naming.types.name(this.type) : `{${this.type}}`;
  }

  toString(): string {
    return `${this.msgName} from ${this.senderName} on ${this.channelName}`;
  }
}
