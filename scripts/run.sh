#!/usr/bin/env bash
# Installs what is needed, builds, and runs wiretag on this host: a live demo of allowed and
# denied traffic between containers in network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec ./scripts/demo.sh
