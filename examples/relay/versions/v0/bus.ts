// Publish-subscribe inside the relay, on the project's subsys/pubsub/mainloop layers (Tor's
// `or` subsystem and btrack): the `or` subsystem publishes orconn_state / orconn_status when
// links change and ocirc_state / ocirc_chan / ocirc_cevent for circuits; btrack subscribes and
// keeps the best progress seen. orconn is delivered promptly; ocirc is flushed once a second
// by second_elapsed, so messages are usually queued when an update comes.
import type { Publisher } from 'node-libevent/pubsub';
import type { R } from './main.js';
import type { Circuit, OrConn } from './types.js';

export interface OrconnStateMsg { gid: number; state: number }
export interface OrconnStatusMsg { gid: number; status: string }
export interface OcircEventMsg { gid: number; evtype: string; reason: number }

export const CEVENT_RANK: Record<string, number> = { LAUNCHED: 1, EXTENDED: 2, BUILT: 3, FAILED: -1, CLOSED: -1 };

export function create(R: R) {
  const { defineMessage, defineSubsystem } = R.lib;
  const S = () => R.S;
  const OrconnState = defineMessage<OrconnStateMsg>('orconn_state', 'orconn_state_msg');
  const OrconnStatus = defineMessage<OrconnStatusMsg>('orconn_status', 'orconn_status_msg');
  const OcircCevent = defineMessage<OcircEventMsg>('ocirc_cevent', 'ocirc_cevent_msg');
  const pub: { orconnState?: Publisher<OrconnStateMsg>; orconnStatus?: Publisher<OrconnStatusMsg>; ocircCevent?: Publisher<OcircEventMsg> } = {};

  return {
    pub,
    messages: { OrconnState, OrconnStatus, OcircCevent },
    subsystems() {
      return [
        defineSubsystem({
          name: 'or',
          level: 20,
          addPubsub(con) {
            pub.orconnState = con.addPub('orconn', OrconnState);
            pub.orconnStatus = con.addPub('orconn', OrconnStatus);
            pub.ocircCevent = con.addPub('ocirc', OcircCevent);
          },
        }),
        defineSubsystem({
          name: 'btrack',
          level: 55,
          addPubsub(con) {
            con.addSub('orconn', OrconnState, (m) => {
              const b = S().btrack;
              b.events++;
              b.orconnStates.set(m.gid, m.state);
              if (m.state > b.orconnBest) b.orconnBest = m.state;
            });
            con.addSub('orconn', OrconnStatus, (m) => {
              const b = S().btrack;
              b.events++;
              b.orconnStates.delete(m.gid);
            });
            con.addSub('ocirc', OcircCevent, (m) => {
              const b = S().btrack;
              b.events++;
              const rank = CEVENT_RANK[m.evtype] ?? 0;
              if (rank > b.circBest) b.circBest = rank;
            });
          },
        }),
      ];
    },
    options() {
      return { policies: { orconn: 'prompt' as const, ocirc: 'never' as const } };
    },
    orconnState(c: OrConn): void {
      pub.orconnState?.publish({ gid: c.gid, state: c.state });
    },
    orconnStatus(c: OrConn, status: string): void {
      pub.orconnStatus?.publish({ gid: c.gid, status });
    },
    ocircEvent(circ: Circuit, evtype: string, reason: number): void {
      pub.ocircCevent?.publish({ gid: circ.gid, evtype, reason });
    },
    flushCircuitEvents(): void {
      R.ctx.mainloop.flush('ocirc');
    },
  };
}

/**
 * A new message between two new subsystems: one that publishes it and one that subscribes.
 * Later versions add messages this way (v2's descriptor_status, v12's clock_skew) without
 * touching the `or` and btrack subsystems every link and circuit message goes through.
 */
export function messagePair<T>(R: R, message: string, channel: string, publisher: SubsystemSlot, subscriber: SubsystemSlot, deliver: (m: T) => void) {
  const type = R.lib.defineMessage<T>(message, `${message}_msg`);
  let pub: Publisher<T> | undefined;
  return {
    subsystems: [
      R.lib.defineSubsystem({ ...publisher, addPubsub: (con) => void (pub = con.addPub(channel, type)) }),
      R.lib.defineSubsystem({ ...subscriber, addPubsub: (con) => void con.addSub(channel, type, (m) => deliver(m)) }),
    ],
    publish(m: T): void {
      pub?.publish(m);
    },
  };
}

/** A subsystem's name and level (its place in the initialization order). */
export interface SubsystemSlot { name: string; level: number }
