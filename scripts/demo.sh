#!/usr/bin/env bash
# A live demo of the datapath on this host: three containers in network namespaces on one
# cell, wire tags stamped on their veths, and a policy that lets app 1 reach app 2 on
# tcp/8080 and ping, and nothing else. Cleans up everything on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WIRETAG=${WIRETAG:-$here/../build/userspace/cli/wiretag}
WT_RUN=wtdemo$$
. "$here/lib/topology.sh"
export WIRETAG_PIN_DIR=/sys/fs/bpf/wiretag-demo-$$

cleanup() {
  topo_down
  rm -rf "$WIRETAG_PIN_DIR"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
check() { # check EXPECT DESCRIPTION CMD...
  local expect=$1 what=$2; shift 2
  if "$@"; then got=allowed; else got=denied; fi
  printf '  %-44s %-8s (expected %s)\n' "$what" "$got" "$expect"
  [ "$got" = "$expect" ]
}

say "cell namespace $WT_CELL with containers app-1, app-2, app-3 on veths"
topo_up 3
for i in 1 2 3; do
  "$WIRETAG" endpoint attach --netns "/var/run/netns/$WT_CELL" --dev "$(topo_hostif $i)" --tag $i
done
topo_echo_servers 2 8080
topo_echo_servers 2 9090
sleep 0.3

say "policy: app-1 (tag 1) may reach app-2 on tcp/8080 and icmp; nothing else"
"$WIRETAG" endpoint policy --netns "/var/run/netns/$WT_CELL" --dev "$(topo_hostif 2)" \
  --rule 1/tcp/8080 --rule 1/icmp
for i in 1 3; do
  "$WIRETAG" endpoint policy --netns "/var/run/netns/$WT_CELL" --dev "$(topo_hostif $i)"
done
"$WIRETAG" endpoint list

say "traffic"
ok=true
check allowed "app-1 -> app-2 tcp/8080 (IPv4)" topo_tcp_ok 1 2 8080 || ok=false
check allowed "app-1 -> app-2 tcp/8080 (IPv6)" topo_tcp_ok 1 2 8080 "$(topo_ip6 2)" || ok=false
check allowed "app-1 -> app-2 ping" topo_ping_ok 1 "$(topo_ip4 2)" || ok=false
check denied "app-1 -> app-2 tcp/9090 (no rule)" topo_tcp_ok 1 2 9090 || ok=false
check denied "app-3 -> app-2 tcp/8080 (not app-1)" topo_tcp_ok 3 2 8080 || ok=false
check denied "app-3 -> app-2 ping" topo_ping_ok 3 "$(topo_ip4 2)" || ok=false
check denied "app-2 -> app-1 ping (no rule into app-1)" topo_ping_ok 2 "$(topo_ip4 1)" || ok=false

say "counters of app-2's endpoint"
"$WIRETAG" endpoint counters --netns "/var/run/netns/$WT_CELL" --dev "$(topo_hostif 2)"

if $ok; then say "demo OK: allowed flows passed, denied flows dropped"; else say "demo FAILED"; exit 1; fi
