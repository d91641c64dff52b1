#!/usr/bin/env bash
# Runs a command with the AddressSanitizer/UBSan runtimes preloaded, for the sanitized addon
# in build-asan/ (node itself is not instrumented, so the runtime must come first).
set -euo pipefail
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
export LD_PRELOAD="$asan:$ubsan${LD_PRELOAD:+:$LD_PRELOAD}"
# Leak checking is off: V8 and Node keep allocations until exit by design, which would
# drown real reports. halt_on_error makes any report fail the run.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
exec "$@"
