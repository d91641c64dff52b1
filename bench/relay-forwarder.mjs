// One hop of the baseline chain for bench/relay-bench.mjs: a plain Node `net` TCP forwarder
// (accept, connect to the next hop, pipe both ways; no cells, no crypto). Reports its port
// to the parent over IPC.
import net from 'node:net';

const to = Number(process.argv[2]);
const server = net.createServer((inbound) => {
  const outbound = net.connect(to, '127.0.0.1');
  inbound.pipe(outbound).pipe(inbound);
  const end = () => {
    inbound.destroy();
    outbound.destroy();
  };
  inbound.on('error', end);
  outbound.on('error', end);
});
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
process.on('disconnect', () => process.exit(0));
