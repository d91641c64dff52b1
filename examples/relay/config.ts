// The network's layout: who listens where. Every process gets the whole config (as JSON in
// its environment or from a file) and reads its own part, so the same programs could run on
// several machines by giving them real addresses. Port 0 means "pick a free one and report it":
// the launcher then passes the chosen ports on to the processes started after it.

export type RelayFlag = 'Guard' | 'Exit' | 'Fast' | 'Running' | 'Stable';

export interface RelayConfig {
  nickname: string;
  host: string;
  orPort: number;
  flags: RelayFlag[];
  /** Advertised bandwidth (bytes/s) in the descriptor; the consensus weight. */
  bandwidth: number;
}

export interface NetworkConfig {
  dirauth: { host: string; port: number };
  fileserver: { host: string; port: number };
  relays: RelayConfig[];
  clients: { nickname: string; host: string; socksPort: number }[];
  /** Seconds between consensus fetches by relays and clients. */
  consensusInterval: number;
}

export function defaultConfig(options: { clients?: number; socksPort?: number } = {}): NetworkConfig {
  const host = '127.0.0.1';
  const clients = options.clients ?? 1;
  return {
    dirauth: { host, port: 0 },
    fileserver: { host, port: 0 },
    relays: [
      { nickname: 'guard1', host, orPort: 0, flags: ['Guard', 'Fast', 'Running', 'Stable'], bandwidth: 50_000_000 },
      { nickname: 'middle1', host, orPort: 0, flags: ['Fast', 'Running'], bandwidth: 40_000_000 },
      { nickname: 'exit1', host, orPort: 0, flags: ['Exit', 'Fast', 'Running'], bandwidth: 30_000_000 },
    ],
    clients: Array.from({ length: clients }, (_, i) => ({ nickname: `client${i + 1}`, host, socksPort: i === 0 ? (options.socksPort ?? 0) : 0 })),
    consensusInterval: 5,
  };
}

/** Reads the config a launcher handed to this process. */
export function configFromEnv(): NetworkConfig {
  const text = process.env.RELAY_NETWORK_CONFIG;
  if (!text) throw new Error('RELAY_NETWORK_CONFIG is not set (start processes through the launcher, or set it to the network config JSON)');
  return JSON.parse(text) as NetworkConfig;
}

/** A child process announces that it is up, with what it listens on, as one line on stdout. */
export function announceReady(info: Record<string, unknown>): void {
  process.stdout.write(`READY ${JSON.stringify({ pid: process.pid, ...info })}\n`);
}
