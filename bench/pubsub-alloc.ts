// Heap growth over 10 M messages through send + flush (bursts of 100, as prompt delivery does):
// the dispatcher must not allocate per message beyond the payload, which is preallocated here.
//
// For each case and run: force GC, note heapUsed, push 10 M messages, note heapUsed again without
// forcing GC (growth = what was allocated, if no GC ran in between), and count the garbage
// collections that ran meanwhile (PerformanceObserver 'gc'). A per-message allocation of even
// 16 bytes would be 160 MB over the run and force dozens of scavenges. The control case, a naive
// queue that wraps each message in a small object, shows what that looks like.
//
// Build and run:  npx tsc -p bench/tsconfig.pubsub.json && node --expose-gc bench/out/bench/pubsub-alloc.js
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { DispatchConfig, Dispatcher, MessageHeader } from '../lib/dispatch/index.js';
import { defineMessage, PubsubBuilder } from '../lib/pubsub/index.js';
import { consume, emit, quantile, round } from './pubsub-common.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const MESSAGES = 10_000_000;
const BURST = 100;
const RUNS = 5;
const payload = { n: 1 };

// GC entries arrive asynchronously; keep their start times and count those inside a run.
const gcStarts: number[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcStarts.push(e.startTime);
}).observe({ entryTypes: ['gc'] });
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

// Case 1: the raw dispatcher.
const cfg = new DispatchConfig();
cfg.setMessageChannel(0, 0);
cfg.setMessageType(0, 0);
cfg.addReceiver(0, 1, (p) => consume((p as typeof payload).n));
const dispatcher = new Dispatcher(cfg);
const header = new MessageHeader(0, 0, 0, 0);
function viaDispatcher(bursts: number): void {
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < BURST; i++) dispatcher.send(header, payload);
    dispatcher.flush(0);
  }
}

// Case 2: the typed layer on top (Publisher.publish, a hook, a type with a dispose function).
const msg = defineMessage<typeof payload>('tick', 'tick');
const builder = new PubsubBuilder();
const con = builder.connector('clock');
let disposed = 0;
con.registerType<typeof payload>('tick', { dispose: () => void disposed++ });
const pub = con.addPub('main', msg);
builder.connector('listener').addSub('main', msg, (p) => consume(p.n));
const pubsub = builder.finalize();
const mainId = pubsub.channelId('main');
function viaPublisher(bursts: number): void {
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < BURST; i++) pub.publish(payload);
    pubsub.dispatcher.flush(mainId);
  }
}

// Control: a queue that allocates a small record per message (and nothing else).
const naive: { header: MessageHeader; payload: typeof payload }[] = [];
const naiveReceiver = (p: typeof payload): void => consume(p.n);
function naiveQueue(bursts: number): void {
  for (let b = 0; b < bursts; b++) {
    for (let i = 0; i < BURST; i++) naive.push({ header, payload });
    for (let i = 0; i < naive.length; i++) naiveReceiver(naive[i]!.payload);
    naive.length = 0;
  }
}

const cases: Record<string, (bursts: number) => void> = {
  'Dispatcher.send + flush': viaDispatcher,
  'Publisher.publish + flush (dispose fn)': viaPublisher,
  'control: one 2-field object per message': naiveQueue,
};

for (const fn of Object.values(cases)) fn(1_000_000 / BURST); // warm-up

for (const [name, fn] of Object.entries(cases)) {
  const perMsg: number[] = [];
  const gcs: number[] = [];
  const retained: number[] = [];
  const nsPerMsg: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    gc();
    gc();
    await settle();
    const before = process.memoryUsage().heapUsed;
    const start = performance.now();
    const t0 = process.hrtime.bigint();
    fn(MESSAGES / BURST);
    const t1 = process.hrtime.bigint();
    const after = process.memoryUsage().heapUsed;
    const end = performance.now();
    await settle();
    await settle();
    gcs.push(gcStarts.filter((t) => t >= start && t <= end).length);
    perMsg.push((after - before) / MESSAGES);
    nsPerMsg.push(Number(t1 - t0) / MESSAGES);
    gc();
    gc();
    retained.push(process.memoryUsage().heapUsed - before);
  }
  const sorted = (xs: number[]) => xs.slice().sort((a, b) => a - b);
  const s = sorted(perMsg);
  emit('pubsub-alloc', {
    case: name,
    messages: MESSAGES,
    burst: BURST,
    runs: RUNS,
    unit: 'heap bytes per message (growth without GC / messages)',
    median: round(quantile(s, 0.5), 4),
    min: round(s[0]!, 4),
    max: round(s[s.length - 1]!, 4),
    gcDuringRun: { median: quantile(sorted(gcs), 0.5), min: Math.min(...gcs), max: Math.max(...gcs) },
    retainedAfterGcBytes: { median: quantile(sorted(retained), 0.5), min: Math.min(...retained), max: Math.max(...retained) },
    nsPerMessage: { median: round(quantile(sorted(nsPerMsg), 0.5)), min: round(Math.min(...nsPerMsg)), max: round(Math.max(...nsPerMsg)) },
    perRun: { bytesPerMessage: perMsg, gcDuringRun: gcs, retainedAfterGcBytes: retained, nsPerMessage: nsPerMsg },
  });
}
if (disposed === 0) throw new Error('dispose never ran');
