#!/usr/bin/env bash
# Builds wiretag's .deb from this source tree in BUILD_DIR (default /var/tmp/wiretag-build:
# on a VM's own disk, one per VM, never the synced folder) and prints its path.
#
#   scripts/provision/build-deb.sh [BUILD_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-/var/tmp/wiretag-build}
mkdir -p "$build"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWIRETAG_TESTS=OFF -DWIRETAG_BENCH=OFF >"$build/configure.log" ||
  { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" --target wiretag-server wiretag-agent wiretag >&2
(cd "$build" && cpack --config CPackConfig.cmake >&2)
ls -t "$build"/wiretag_*.deb | head -1
