#!/usr/bin/env node
// node-libevent command line.
//
//   node-libevent update <pid> <version-path> [--strategy inplace|rebase|reinit|readd] [--socket <path>]
//
// Sends an update request to a running UpdateHost through its control socket (owner-only,
// see lib/update/control.ts) and prints the UpdateReport. Exit status 0 when the update went
// through, 1 when it was refused or failed, 2 on bad usage or no such host.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

function usage(message) {
  if (message) process.stderr.write(`node-libevent: ${message}\n`);
  process.stderr.write('usage: node-libevent update <pid> <version-path> [--strategy <name>] [--socket <path>]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args[0] !== 'update') usage(args.length ? `unknown command '${args[0]}'` : undefined);
const positional = [];
const options = {};
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--strategy' || args[i] === '--socket') options[args[i].slice(2)] = args[++i];
  else positional.push(args[i]);
}
const [pidText, versionPath] = positional;
const pid = Number(pidText);
if (!Number.isInteger(pid) || pid <= 0 || !versionPath) usage('need a pid and a version path');
const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
const socketPath = options.socket ?? path.join(os.tmpdir(), `node-libevent-${uid}`, `update-${pid}.sock`);

const request = { update: path.resolve(versionPath), ...(options.strategy ? { strategy: options.strategy } : {}) };
const socket = net.connect(socketPath);
let reply = '';
socket.setEncoding('utf8');
socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
socket.on('data', (chunk) => (reply += chunk));
socket.on('error', (err) => {
  process.stderr.write(`node-libevent: no update host at ${socketPath} (${err.code ?? err.message})\n`);
  process.exit(2);
});
socket.on('end', () => {
  let report;
  try {
    report = JSON.parse(reply);
  } catch {
    process.stderr.write(`node-libevent: unreadable reply: ${reply}\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exit(report.ok ? 0 : 1);
});
