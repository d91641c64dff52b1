// Bench-only version "echo-b": the same code as echo-a under another version string.
'use strict';
module.exports = require('./echo-service.cjs')('echo-b');
