#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite (unit, BPF prog-run and
# network-namespace integration tests). Needs root: the tests load BPF and create netns.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j2
