// Bench-only version "pause-a" of the pause benchmark's service (see pause-service.cjs).
'use strict';
module.exports = require('./pause-service.cjs')('pause-a');
