// v9 publish-subscribe: ocirc_cevent changes type (ocirc_cevent_msg -> ocirc_cevent_msg_v2:
// the reason's name travels with it). Messages of the old type still queued at the update
// (ocirc is flushed once a second, so there usually are some) are converted by a message
// transform. The subsystems of v2 and v6 are kept as they were.
import type { Publisher } from 'node-libevent/pubsub';
import { create as previous } from '../v6/bus.js';
import { CEVENT_RANK, type OcircEventMsg } from '../v0/bus.js';
import type { R } from '../v0/main.js';
import type { Circuit } from '../v0/types.js';

export interface OcircEventMsgV2 { gid: number; evtype: string; reason: number; reasonName: string }

export function create(R: R) {
  const base = previous(R);
  const OcircCevent = R.lib.defineMessage<OcircEventMsgV2>('ocirc_cevent', 'ocirc_cevent_msg_v2');
  const reasonName = (reason: number) => Object.entries(R.T.destroyReason).find(([, v]) => v === reason)?.[0] ?? `UNKNOWN_${reason}`;
  let pub: Publisher<OcircEventMsgV2> | undefined;
  return {
    ...base,
    subsystems() {
      // The inherited list with the old ocirc_cevent registrations swapped for the new type.
      return base.subsystems().map((sub) => {
        if (sub.name === 'or') {
          return R.lib.defineSubsystem({
            name: 'or',
            level: sub.level,
            addPubsub(con) {
              const real = con;
              sub.addPubsub!({
                ...real,
                subsystem: real.subsystem,
                registerType: real.registerType.bind(real),
                addSub: real.addSub.bind(real),
                addPub: ((channel: string, msg: { name: string }, flags?: object) => (msg.name === 'ocirc_cevent' ? undefined : real.addPub(channel, msg as never, flags))) as typeof real.addPub,
              });
              pub = real.addPub('ocirc', OcircCevent);
            },
          });
        }
        if (sub.name === 'btrack') {
          return R.lib.defineSubsystem({
            name: 'btrack',
            level: sub.level,
            addPubsub(con) {
              sub.addPubsub!({
                ...con,
                subsystem: con.subsystem,
                registerType: con.registerType.bind(con),
                addPub: con.addPub.bind(con),
                addSub: ((channel: string, msg: { name: string }, hook: never, flags?: object) => (msg.name === 'ocirc_cevent' ? undefined : con.addSub(channel, msg as never, hook, flags))) as typeof con.addSub,
              });
              con.addSub('ocirc', OcircCevent, (m) => {
                const b = R.S.btrack;
                b.events++;
                const rank = CEVENT_RANK[m.evtype] ?? 0;
                if (rank > b.circBest) b.circBest = rank;
                if (m.evtype === 'CLOSED') b.lastCloseReason = m.reasonName;
              });
            },
          });
        }
        return sub;
      });
    },
    options() {
      // The transform converts from v8's type only: later versions inheriting this module
      // carry ocirc_cevent_msg_v2 messages as they are.
      const fromOldType = { ocirc_cevent: (old: OcircEventMsg): OcircEventMsgV2 => ({ ...old, reasonName: reasonName(old.reason) }) };
      return { ...base.options(), ...(R.version === 'v9' ? { messageTransforms: fromOldType } : {}) };
    },
    ocircEvent(circ: Circuit, evtype: string, reason: number): void {
      pub?.publish({ gid: circ.gid, evtype, reason, reasonName: reasonName(reason) });
    },
  };
}
