// Fan-out: one message with 1 to 1,000 subscribers (Tor's many-hooks case), in 1-2-5 steps. Each
// operation publishes one message and flushes the channel, so it runs every subscriber once.
// Linear scaling shows as a flat cost per delivery (ns/op ÷ subscribers) and a straight-line fit.
//
// Build and run:  npx tsc -p bench/tsconfig.pubsub.json && node --expose-gc bench/out/bench/pubsub-fanout.js
import { defineMessage, PubsubBuilder } from '../lib/pubsub/index.js';
import { emit, measureInterleaved, round } from './pubsub-common.js';

const SIZES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
const payload = { n: 1 };

function system(subscribers: number) {
  const msg = defineMessage<typeof payload>('event', 'event');
  const builder = new PubsubBuilder();
  const pub = builder.connector('source').addPub('main', msg);
  const counts = new Float64Array(subscribers);
  for (let i = 0; i < subscribers; i++) {
    builder.connector(`sub-${i}`).addSub('main', msg, (p) => {
      counts[i]! += p.n;
    });
  }
  const pubsub = builder.finalize();
  const channel = pubsub.channelId('main');
  const d = pubsub.dispatcher;
  return {
    counts,
    op: () => {
      pub.publish(payload);
      d.flush(channel);
    },
  };
}

const systems = SIZES.map(system);
const cases: Record<string, () => unknown> = {};
SIZES.forEach((n, i) => {
  cases[`${n} subscribers`] = systems[i]!.op;
});
const results = await measureInterleaved(cases, 3);

const xs: number[] = [];
const ys: number[] = [];
SIZES.forEach((n, i) => {
  const s = results[`${n} subscribers`]!;
  const counts = systems[i]!.counts;
  if (counts.some((c) => c !== counts[0] || c === 0)) throw new Error(`uneven delivery with ${n} subscribers`);
  xs.push(n);
  ys.push(s.median);
  emit('pubsub-fanout', {
    case: `publish + flush, ${n} subscribers`,
    subscribers: n,
    unit: 'ns/op',
    ...s,
    nsPerDelivery: round(s.median / n),
  });
});

// Least-squares line through (subscribers, median ns/op).
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const mx = mean(xs);
const my = mean(ys);
const sxy = xs.reduce((acc, x, i) => acc + (x - mx) * (ys[i]! - my), 0);
const sxx = xs.reduce((acc, x) => acc + (x - mx) ** 2, 0);
const slope = sxy / sxx;
const intercept = my - slope * mx;
const ssTot = ys.reduce((acc, y) => acc + (y - my) ** 2, 0);
const ssRes = ys.reduce((acc, y, i) => acc + (y - (intercept + slope * xs[i]!)) ** 2, 0);
emit('pubsub-fanout', {
  case: 'linear fit of median ns/op against subscribers',
  nsPerSubscriber: round(slope),
  nsFixed: round(intercept),
  r2: round(1 - ssRes / ssTot, 5),
});
