// Removing control sockets when SIGTERM or SIGINT ends the process. One pair of process
// listeners serves every ControlServer; after cleaning up it re-raises the signal, so the
// process still ends as it would have, unless the program has listeners of its own.
//
// Node runs signal listeners on its own event loop, which host.dispatch() (libevent owning
// the thread) never turns: a listener installed then would swallow the signal. So the
// listeners are withdrawn for the time of a dispatch(), and the signal has its default effect
// (the socket file is then left, and removed as stale by the next server in that directory).
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const cleanups = new Set<() => void>();
let installed = false;
let suspended = 0;

function onSignal(sig: NodeJS.Signals): void {
  for (const fn of [...cleanups]) {
    try {
      fn();
    } catch {
      // the others still run
    }
  }
  cleanups.clear();
  sync();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function sync(): void {
  const want = cleanups.size > 0 && suspended === 0;
  if (want === installed) return;
  for (const sig of SIGNALS) {
    if (want) process.on(sig, onSignal);
    else process.off(sig, onSignal);
  }
  installed = want;
}

/** Runs `fn` if SIGTERM or SIGINT arrives; returns the function that cancels that. */
export function onExitSignal(fn: () => void): () => void {
  cleanups.add(fn);
  sync();
  return () => {
    cleanups.delete(fn);
    sync();
  };
}

/** Withdraws the listeners until the returned function is called (around host.dispatch()). */
export function suspendExitSignals(): () => void {
  suspended++;
  sync();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    suspended--;
    sync();
  };
}
