// Spec §6.7: a bootstrap tracker in the style of Tor's btrack, fed by an "or" subsystem over two
// channels (orconn, ocirc) with immediate delivery: each channel's alert flushes it on the
// publisher's stack, so effects are visible as soon as publish() returns.
import { afterEach, describe, expect, it } from 'vitest';
import { defineMessage, type Publisher, type Pubsub } from '../../lib/pubsub/index.js';
import { SubsystemManager, type SubsystemDef } from '../../lib/subsys/index.js';

interface OrconnStateMsg {
  gid: number;
  chan: number;
  proxyType: number;
  state: number;
}
interface OrconnStatusMsg {
  gid: number;
  status: number;
  reason: number;
}
interface OcircChanMsg {
  gid: number;
  chan: number;
  onehop: boolean;
}
interface OcircStateMsg {
  gid: number;
  state: number;
  onehop: boolean;
}

const orconnState = defineMessage<OrconnStateMsg>('orconn_state', 'orconn_state');
const orconnStatus = defineMessage<OrconnStatusMsg>('orconn_status', 'orconn_status');
const ocircChan = defineMessage<OcircChanMsg>('ocirc_chan', 'ocirc_chan');
const ocircState = defineMessage<OcircStateMsg>('ocirc_state', 'ocirc_state');

// OR connection states and statuses (numbering as in Tor).
const CONNECTING = 1;
const TLS_HANDSHAKING = 3;
const OR_HANDSHAKING_V3 = 7;
const OPEN = 8;
const CLOSED = 3;

/** The "or" subsystem (level 20): owns the message types and publishes on both channels. */
function orSubsystem(disposed: Map<string, number>) {
  const pubs: {
    state?: Publisher<OrconnStateMsg>;
    status?: Publisher<OrconnStatusMsg>;
    chan?: Publisher<OcircChanMsg>;
    circState?: Publisher<OcircStateMsg>;
  } = {};
  const count = (type: string) => () => disposed.set(type, (disposed.get(type) ?? 0) + 1);
  const def: SubsystemDef = {
    name: 'or',
    level: 20,
    addPubsub(con) {
      con.registerType<OrconnStateMsg>('orconn_state', {
        dispose: count('orconn_state'),
        format: (m) => `<gid=${m.gid} chan=${m.chan} proxy_type=${m.proxyType} state=${m.state}>`,
      });
      con.registerType('orconn_status', { dispose: count('orconn_status') });
      con.registerType('ocirc_chan', { dispose: count('ocirc_chan') });
      con.registerType('ocirc_state', { dispose: count('ocirc_state') });
      pubs.state = con.addPub('orconn', orconnState);
      pubs.status = con.addPub('orconn', orconnStatus);
      pubs.chan = con.addPub('ocirc', ocircChan);
      pubs.circState = con.addPub('ocirc', ocircState);
    },
  };
  return { def, pubs };
}

const ANY_STEPS: Record<number, [number, string]> = {
  [CONNECTING]: [5, 'conn'],
  [TLS_HANDSHAKING]: [10, 'conn_done'],
  [OR_HANDSHAKING_V3]: [14, 'handshake'],
  [OPEN]: [15, 'handshake_done'],
};
const AP_STEPS: Record<number, [number, string]> = {
  [CONNECTING]: [80, 'ap_conn'],
  [TLS_HANDSHAKING]: [85, 'ap_conn_done'],
  [OR_HANDSHAKING_V3]: [89, 'ap_handshake'],
  [OPEN]: [90, 'ap_handshake_done'],
};

/** The "btrack" subsystem (level 55): two trackers, both subscribed to ocirc_chan. */
function btrackSubsystem(log: string[], bootstrap: string[]) {
  interface Conn {
    gid: number;
    chan: number;
    proxyType: number;
    state: number;
    launched: boolean;
    onehop: boolean;
  }
  let byGid: Map<number, Conn> | null = null;
  let byChan: Map<number, Conn> | null = null;
  let bestAny = -1;
  let bestAp = -1;
  let bootPercent = 0;

  const report = (step: [number, string] | undefined) => {
    if (step && step[0] > bootPercent) {
      bootPercent = step[0];
      bootstrap.push(`${step[0]} ${step[1]}`);
    }
  };
  const updateBest = (c: Conn) => {
    if (c.state > bestAny) {
      log.push(`ORCONN BEST_ANY state ${bestAny}->${c.state} gid=${c.gid}`);
      bestAny = c.state;
      report(ANY_STEPS[c.state]);
    }
    if (!c.onehop && c.state > bestAp) {
      log.push(`ORCONN BEST_AP state ${bestAp}->${c.state} gid=${c.gid}`);
      bestAp = c.state;
      report(AP_STEPS[c.state]);
    }
  };

  const def: SubsystemDef = {
    name: 'btrack',
    level: 55,
    initialize() {
      byGid = new Map();
      byChan = new Map();
    },
    shutdown() {
      byGid = byChan = null;
      bestAny = bestAp = -1;
      bootPercent = 0;
    },
    addPubsub(con) {
      // The OR connection tracker.
      con.addSub('orconn', orconnState, (m) => {
        let c = byGid!.get(m.gid);
        if (!c) {
          c = { gid: m.gid, chan: m.chan, proxyType: m.proxyType, state: m.state, launched: false, onehop: false };
          byGid!.set(m.gid, c);
        }
        Object.assign(c, { chan: m.chan, proxyType: m.proxyType, state: m.state });
        byChan!.set(m.chan, c);
        log.push(`ORCONN gid=${m.gid} chan=${m.chan} proxy_type=${m.proxyType} state=${m.state}`);
        if (c.launched) updateBest(c);
      });
      con.addSub('orconn', orconnStatus, (m) => {
        log.push(`ORCONN DELETE gid=${m.gid} status=${m.status} reason=${m.reason}`);
        const c = byGid!.get(m.gid);
        if (c) byChan!.delete(c.chan);
        byGid!.delete(m.gid);
      });
      con.addSub('ocirc', ocircChan, (m) => {
        const c = byChan!.get(m.chan);
        if (!c) return;
        log.push(`ORCONN LAUNCH chan=${m.chan} onehop=${m.onehop ? 1 : 0}`);
        c.launched = true;
        c.onehop = m.onehop;
        updateBest(c);
      });
      // The circuit tracker, in the same subsystem: the second receiver of ocirc_chan.
      con.addSub('ocirc', ocircChan, (m) => log.push(`OCIRC CHAN gid=${m.gid} chan=${m.chan} onehop=${m.onehop ? 1 : 0}`));
      con.addSub('ocirc', ocircState, (m) => log.push(`OCIRC STATE gid=${m.gid} state=${m.state}`));
    },
  };
  return { def, tracked: () => byGid };
}

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

function setup() {
  const log: string[] = [];
  const bootstrap: string[] = [];
  const disposed = new Map<string, number>();
  const or = orSubsystem(disposed);
  const btrack = btrackSubsystem(log, bootstrap);
  const manager = new SubsystemManager([or.def, btrack.def]);
  manager.init();
  const pubsub: Pubsub = manager.buildPubsub();
  // Immediate delivery on both channels.
  pubsub.setAlert('orconn', (d, ch) => d.flush(ch));
  pubsub.setAlert('ocirc', (d, ch) => d.flush(ch));
  cleanup = () => {
    pubsub.close();
    manager.shutdown();
  };
  const p = or.pubs as Required<typeof or.pubs>;
  return { log, bootstrap, disposed, pubsub, manager, tracked: btrack.tracked, ...p };
}

const state = (gid: number, chan: number, s: number): OrconnStateMsg => ({ gid, chan, proxyType: 0, state: s });

describe('btrack over immediate delivery (spec §6.7)', () => {
  it('BT1–BT3: launch and best-state tracking', () => {
    const { log, state: pubState, chan, pubsub } = setup();
    expect(pubsub.notes).toEqual([]);

    // BT1: a connection that no origin circuit uses yet gives no BEST line.
    pubState.publish(state(1, 1, CONNECTING));
    expect(log).toEqual(['ORCONN gid=1 chan=1 proxy_type=0 state=1']);

    // BT2: the channel gets a one-hop circuit: launch, best-any; the circuit tracker runs second.
    log.length = 0;
    chan.publish({ gid: 10, chan: 1, onehop: true });
    expect(log).toEqual(['ORCONN LAUNCH chan=1 onehop=1', 'ORCONN BEST_ANY state -1->1 gid=1', 'OCIRC CHAN gid=10 chan=1 onehop=1']);

    // BT3: a second connection for a multi-hop circuit: best-AP, and no new best-any (not better).
    log.length = 0;
    pubState.publish(state(2, 2, CONNECTING));
    expect(log).toEqual(['ORCONN gid=2 chan=2 proxy_type=0 state=1']);
    log.length = 0;
    chan.publish({ gid: 11, chan: 2, onehop: false });
    expect(log).toEqual(['ORCONN LAUNCH chan=2 onehop=0', 'ORCONN BEST_AP state -1->1 gid=2', 'OCIRC CHAN gid=11 chan=2 onehop=0']);
    expect(pubsub.pending('orconn') + pubsub.pending('ocirc')).toBe(0);
  });

  it('BT4: a closed connection is deleted and forgotten', () => {
    const { log, state: pubState, status, tracked } = setup();
    pubState.publish(state(1, 1, CONNECTING));
    expect(tracked()!.has(1)).toBe(true);
    log.length = 0;
    status.publish({ gid: 1, status: CLOSED, reason: 0 });
    expect(log).toEqual(['ORCONN DELETE gid=1 status=3 reason=0']);
    expect(tracked()!.has(1)).toBe(false);
  });

  it('BT5: bootstrap progress from a one-hop, then a multi-hop connection', () => {
    const { bootstrap, state: pubState, chan, circState, log } = setup();
    pubState.publish(state(1, 1, CONNECTING));
    chan.publish({ gid: 20, chan: 1, onehop: true });
    for (const s of [TLS_HANDSHAKING, OR_HANDSHAKING_V3, OPEN]) pubState.publish(state(1, 1, s));
    expect(bootstrap).toEqual(['5 conn', '10 conn_done', '14 handshake', '15 handshake_done']);

    pubState.publish(state(2, 2, CONNECTING));
    chan.publish({ gid: 21, chan: 2, onehop: false });
    for (const s of [TLS_HANDSHAKING, OR_HANDSHAKING_V3, OPEN]) pubState.publish(state(2, 2, s));
    expect(bootstrap.slice(4)).toEqual(['80 ap_conn', '85 ap_conn_done', '89 ap_handshake', '90 ap_handshake_done']);

    circState.publish({ gid: 21, state: 4, onehop: false });
    expect(log.at(-1)).toBe('OCIRC STATE gid=21 state=4');
  });

  it('disposes every payload once, on both channels, and none after teardown', () => {
    const { disposed, state: pubState, chan, status, pubsub, manager } = setup();
    pubState.publish(state(1, 1, CONNECTING));
    pubState.publish(state(1, 1, OPEN));
    chan.publish({ gid: 1, chan: 1, onehop: true });
    status.publish({ gid: 1, status: CLOSED, reason: 0 });
    expect(Object.fromEntries(disposed)).toEqual({ orconn_state: 2, ocirc_chan: 1, orconn_status: 1 });
    pubsub.close();
    manager.shutdown();
    cleanup = null;
    // Disconnected publishers still dispose what they are given, and deliver nothing.
    expect(chan.publish({ gid: 2, chan: 2, onehop: false })).toBe(false);
    expect(disposed.get('ocirc_chan')).toBe(2);
    expect(manager.initializedNames()).toEqual([]);
  });

  it('formats payloads with the registered formatter', () => {
    const { pubsub, state: pubState } = setup();
    expect(pubsub.dispatcher.describe(pubState.header, state(3, 4, OPEN))).toBe(
      'orconn_state (<gid=3 chan=4 proxy_type=0 state=8>) from or on orconn',
    );
  });
});
