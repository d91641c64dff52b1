// Immediate delivery, one subscriber: Publisher.publish → hook, against Node's EventEmitter.emit
// with one listener, in the same process and run. Target (issue 3): within 2× of emit.
//
// Immediate delivery is the channel alert `flushImmediately` (what the mainloop's 'immediate'
// policy installs). A second pubsub case uses a hand-written alert that calls flush, which takes
// the way through the channel queue. Payloads are preallocated: only delivery is measured.
//
// Build and run:  npx tsc -p bench/tsconfig.pubsub.json && node --expose-gc bench/out/bench/pubsub-immediate.js
import { EventEmitter } from 'node:events';
import { do_not_optimize } from 'mitata';
import { defineMessage, flushImmediately, PubsubBuilder, type Publisher } from '../lib/pubsub/index.js';
import { emit, measureInterleaved, round } from './pubsub-common.js';

interface Tick {
  n: number;
}
const payload: Tick = { n: 1 };
let sink = 0;

const ee = new EventEmitter();
ee.on('tick', (p: Tick) => {
  sink += p.n;
});

function onePublisher(alert: 'immediate' | 'via-queue'): Publisher<Tick> {
  const tick = defineMessage<Tick>('tick', 'tick');
  const builder = new PubsubBuilder();
  const pub = builder.connector('clock').addPub('main', tick);
  builder.connector('listener').addSub('main', tick, (p) => {
    sink += p.n;
  });
  const pubsub = builder.finalize();
  pubsub.setAlert('main', alert === 'immediate' ? flushImmediately : (d, ch) => void d.flush(ch));
  return pub;
}
const pubImmediate = onePublisher('immediate');
const pubViaQueue = onePublisher('via-queue');

const EMIT = 'EventEmitter.emit, 1 listener';
const PUBLISH = 'publish -> hook, immediate (flushImmediately), 1 subscriber';
const QUEUED = 'publish -> hook, alert calling flush (through the queue), 1 subscriber';

const results = await measureInterleaved({
  [EMIT]: () => ee.emit('tick', payload),
  [PUBLISH]: () => pubImmediate.publish(payload),
  [QUEUED]: () => pubViaQueue.publish(payload),
});
for (const [name, s] of Object.entries(results)) emit('pubsub-immediate', { case: name, unit: 'ns/op', ...s });
emit('pubsub-immediate', {
  case: 'ratio to EventEmitter.emit (median)',
  immediate: round(results[PUBLISH]!.median / results[EMIT]!.median),
  throughQueue: round(results[QUEUED]!.median / results[EMIT]!.median),
  target: '<= 2',
});
do_not_optimize(sink);
