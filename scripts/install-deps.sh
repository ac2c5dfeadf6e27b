#!/usr/bin/env bash
# Installs every build, run and test dependency of wiretag from Debian 12 packages.
# Idempotent: packages already present are left as they are. The only place that installs.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  libboost-dev libboost-system-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libpq-dev
  libssl-dev openssl libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  prometheus-cpp-dev
  libre2-dev  # the PAP's ?regex= (ONAP): RE2 matches in linear time, no backtracking blow-up
  iproute2 iputils-ping netcat-openbsd socat ncat curl procps psmisc nftables
  iptables  # the peer comparison (bench/peers_bench.cc) measures iptables linear rules
  linux-perf  # wiretag-bench-peers --profile: cpu-clock samples by BPF source line
  python3
  postgresql  # --db postgresql://…: the store tests start private clusters (initdb, pg_ctl)
  chromium chromium-driver  # the web view's test (tests/ui): headless Chromium via WebDriver
  vagrant  # ctest deploy.vagrant_validate: `vagrant validate` of vagrant/Vagrantfile (offline)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (apt-get install needs it)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps.sh: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
