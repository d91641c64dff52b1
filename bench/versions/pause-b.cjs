// Bench-only version "pause-b": the same code as pause-a under another version string.
'use strict';
module.exports = require('./pause-service.cjs')('pause-b');
