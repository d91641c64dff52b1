// Sends one line to the example service and prints the answer: node client.mjs <text>.
// Retries the connection for a few seconds, so it can be started right after the host.
import net from 'node:net';

const port = Number(process.env.PORT ?? 7070);
const line = process.argv.slice(2).join(' ') || 'hello';

function attempt(triesLeft) {
  const socket = net.connect(port, '127.0.0.1');
  let answer = '';
  socket.on('connect', () => socket.write(line + '\n'));
  socket.on('data', (chunk) => {
    answer += chunk;
    if (answer.includes('\n')) {
      process.stdout.write(answer);
      socket.end();
    }
  });
  socket.on('error', (err) => {
    if (err.code === 'ECONNREFUSED' && triesLeft > 0) setTimeout(() => attempt(triesLeft - 1), 100);
    else {
      console.error(`client: ${err.message}`);
      process.exitCode = 1;
    }
  });
}
attempt(100);
