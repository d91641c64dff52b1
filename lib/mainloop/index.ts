// node-libevent/mainloop: publish–subscribe delivered by a libevent event base (Tor's
// mainloop_pubsub).
//
// `new Mainloop(base).connect(builder)` finalizes a PubsubBuilder and creates one libevent event
// per channel. `setDeliveryPolicy(channel, policy)` decides what happens when a channel's queue
// stops being empty: 'prompt' makes the channel's event active, and its callback delivers what
// was queued (what that delivery makes active waits until libevent has polled again, so
// channels publishing to each other cannot starve I/O or timers); 'immediate' delivers on the
// publisher's stack; 'never' (the default) waits for `flush`. Setting a policy on a channel
// that already holds messages schedules them, and a limited flush that leaves messages behind
// reschedules them: no message is stranded by a missed alert. `disconnect()` detaches the
// publishers, cancels scheduled deliveries and disposes what is still queued.
// `prepare(builder, policies)` does everything of connect that can fail (finalize, the
// channel events, checking the policies) without touching the connected system, and
// `commit(prepared)` then swaps it in without failing: how a live update replaces one.
//
// This is the one layer that joins the pure-TypeScript stack (dispatch, pubsub, subsys) with
// node-libevent/loop.

export { Mainloop, PreparedConnection, type DeliveryPolicy } from './mainloop.js';
