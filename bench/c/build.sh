#!/bin/sh
# Builds the C baseline of the loop benchmark into build/bench/ (git-ignored), linking the
# system libevent directly, -O2 like a distribution build.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build/bench"
mkdir -p "$out"
# shellcheck disable=SC2046  # pkg-config output is meant to be split into words
cc -O2 -Wall -Wextra -std=c11 -pthread $(pkg-config --cflags libevent_core) \
  -o "$out/callbacks" "$root/bench/c/callbacks.c" $(pkg-config --libs libevent_core)
echo "$out/callbacks"
