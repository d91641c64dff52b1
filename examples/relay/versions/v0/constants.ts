// Constant tables of the relay (Tor's #defines and static tables). They are state items
// declared with `migrate: false`, so every version runs with its own tables, never with a
// copy of its predecessor's (Kitsune's lesson with the authority table).
import type { TrustedDirectoryKey } from '../../protocol/consensus.js';
import { CIRCUIT_WINDOW, STREAM_WINDOW } from '../../protocol/sendme.js';

/** A trusted directory key from its hex public key. */
export const dirKey = (name: string, publicKeyHex: string): TrustedDirectoryKey => ({ name, publicKey: Buffer.from(publicKeyHex, 'hex') });

export function tables() {
  return {
    version: 'v0',
    /** Link protocol versions we offer in VERSIONS, highest preferred. */
    linkVersions: [3, 4],
    cellQueueHighwater: 256,
    cellQueueLowwater: 64,
    /** A link's output buffer is refilled from its active circuits below this, up to the high mark. */
    orConnLowwater: 16 * 1024,
    orConnHighwater: 32 * 1024,
    /** SENDME windows (1000/100 per circuit, 500/50 per stream) and 0.2.1.18's threshold: `<`, one cell late. */
    circuitWindow: { ...CIRCUIT_WINDOW, inclusiveThreshold: false },
    streamWindow: { ...STREAM_WINDOW, inclusiveThreshold: false },
    maxRelayEarly: 8,
    maxCircIdAttempts: 64,
    keepalivePeriod: 300,
    /** Seconds a link with no circuits may stay open. */
    idleLinkTimeout: 270,
    /** Trusted directory signing keys (name and raw Ed25519 public key), as Tor's authority table. */
    trustedDirKeys: [dirKey('A', '1d36db8cb35ee9fea81ed722009205f1cec26f0bb65708c5d5ee50637a54a456')],
    /** Largest directory response read (bytes); a longer one is dropped unread. */
    maxDirResponseBytes: 1024 * 1024,
    destroyReason: {
      NONE: 0, PROTOCOL: 1, INTERNAL: 2, REQUESTED: 3, HIBERNATING: 4, RESOURCELIMIT: 5, CONNECTFAILED: 6,
      OR_IDENTITY: 7, OR_CONN_CLOSED: 8, FINISHED: 9, TIMEOUT: 10, DESTROYED: 11, NOSUCHSERVICE: 12,
    },
    endReason: { MISC: 1, RESOLVEFAILED: 2, CONNECTREFUSED: 3, EXITPOLICY: 4, DESTROY: 5, DONE: 6, TIMEOUT: 7, HIBERNATING: 9, INTERNAL: 10, RESOURCELIMIT: 11, CONNRESET: 12, TORPROTOCOL: 13 },
    /** END reason names by value, for logs and the status report (unknown values are accepted). */
    endReasonNames: ['', 'MISC', 'RESOLVEFAILED', 'CONNECTREFUSED', 'EXITPOLICY', 'DESTROY', 'DONE', 'TIMEOUT', '', 'HIBERNATING', 'INTERNAL', 'RESOURCELIMIT', 'CONNRESET', 'TORPROTOCOL'],
    /** 0.2.1 numbering: BUILDING 0, ONIONSKIN_PENDING 1, OR_WAIT 2, OPEN 3. */
    circState: { BUILDING: 0, ONIONSKIN_PENDING: 1, OR_WAIT: 2, OPEN: 3 },
    orconnState: { CONNECTING: 1, HANDSHAKING: 7, OPEN: 8 },
    connType: { OR_LISTENER: 3, OR: 4, EXIT: 5, DIR: 9 },
    /** The onion (CREATE) queue handed to the cpuworker; longer ones are refused. */
    maxOnionQueue: 0 as number,
    /** Which periodic events this version runs: name -> [handler name, first run after (s)]. */
    periodicEvents: {
      second_elapsed: ['secondElapsed', 1],
      fetch_networkstatus: ['fetchNetworkstatus', 0],
      check_descriptor: ['checkDescriptor', 0],
    } as Record<string, [string, number]>,
  };
}

export type Tables = ReturnType<typeof tables>;
