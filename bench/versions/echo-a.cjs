// Bench-only version "echo-a" of the echo service (see echo-service.cjs).
'use strict';
module.exports = require('./echo-service.cjs')('echo-a');
