// The host of the example service: owns the event base, starts version 1 and takes updates
// from `node-libevent update <pid> <version>` through its control socket. It reads nothing
// from stdin, so it runs the same in the background, under a supervisor or in a test.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { EventBase } from 'node-libevent';
import { ControlServer, UpdateHost } from 'node-libevent/update';

const versionsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'versions');
const host = new UpdateHost({ base: new EventBase(), versionsDir });
host.on('update', (r) => {
  if (!r.ok) console.log(`host: update refused: ${r.error?.code} ${r.error?.message}`);
  else if (r.dryRun) console.log(`host: dry run to ${r.to} would go through; still ${r.from}`);
  else console.log(`host: now ${r.to} (paused ${r.pauseMs.toFixed(2)} ms)`);
});
const control = new ControlServer(host); // its socket file is removed again on exit, SIGTERM and SIGINT
await host.start('v1.cjs');
console.log(`host: pid ${process.pid}, ${host.version} on 127.0.0.1:${process.env.PORT ?? 7070}, control socket ${control.path}`);
await host.run(); // until SIGTERM/SIGINT
