#!/usr/bin/env bash
# Configures and builds wiretag into ./build (no downloads: dependencies come from install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
