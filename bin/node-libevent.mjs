#!/usr/bin/env node
// node-libevent command line: `node-libevent --help` lists the commands. The logic lives in
// lib/update/cli.ts (compiled to dist/).
import { runCli } from '../dist/update/cli.js';

process.exitCode = await runCli(process.argv.slice(2));
