// Prompt delivery through the mainloop: bursts of 100 messages, each burst woken up by the
// channel's libevent event (event_active on the first publish, then one loop pass runs the
// flush callback and the rescan event). Target (issue 3): amortized <= 50 ns per message,
// libevent wake-up included.
//
// Build and run:  npx tsc -p bench/tsconfig.pubsub.json && node --expose-gc bench/out/bench/pubsub-prompt.js
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, measureInterleaved, round } from './pubsub-common.js';

// Compiled into bench/out/, the loop layer would look for the addon next to itself.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
process.env.NODE_LIBEVENT_ADDON ??= path.join(repo, 'build', 'Release', 'node_libevent.node');

const { EventBase, EVLOOP, libeventVersion } = await import('../lib/loop/index.js');
const { Mainloop } = await import('../lib/mainloop/index.js');
const { defineMessage, PubsubBuilder } = await import('../lib/pubsub/index.js');

const BURST = 100;
const payload = { n: 1 };
let sink = 0;
let published = 0;

function system(method: string) {
  const base = new EventBase({ method });
  if (base.method !== method) throw new Error(`asked for ${method}, libevent chose ${base.method}`);
  const msg = defineMessage<typeof payload>('tick', 'tick');
  const builder = new PubsubBuilder();
  const pub = builder.connector('source').addPub('main', msg);
  builder.connector('sink').addSub('main', msg, (p) => {
    sink += p.n;
  });
  const ml = new Mainloop(base).connect(builder);
  ml.setDeliveryPolicy('main', 'prompt');
  return () => {
    for (let i = 0; i < BURST; i++) pub.publish(payload);
    published += BURST;
    base.loop(EVLOOP.ONCE);
    if (sink !== published) throw new Error(`${method}: a loop pass left ${published - sink} messages undelivered`);
  };
}

const cases: Record<string, () => unknown> = {};
for (const method of ['epoll', 'poll']) cases[`${method}: ${BURST} publishes + one loop pass`] = system(method);
const results = await measureInterleaved(cases, 3);
for (const [name, s] of Object.entries(results)) {
  emit('pubsub-prompt', {
    case: name,
    unit: 'ns/message',
    median: round(s.median / BURST),
    p25: round(s.p25 / BURST),
    p75: round(s.p75 / BURST),
    min: round(s.min / BURST),
    max: round(s.max / BURST),
    samples: s.samples,
    callsPerSample: s.callsPerSample,
    libevent: libeventVersion(),
    target: '<= 50',
  });
}
if (sink === 0) throw new Error('nothing was delivered');
