#!/usr/bin/env bash
# Installs what is needed, builds, and runs wiretag on this host: the policy server and a cell
# agent per cell on a network-namespace lab, a live demo of allowed and denied traffic, then
# keeps running until Ctrl-C (pass --once to stop after the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec ./scripts/demo.sh "$@"
