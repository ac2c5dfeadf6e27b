#!/usr/bin/env bash
# The cross-VM checks, run from outside the hosts: apps and edges on the server, each
# container's veth handed to its cell's agent, then real traffic between containers on
# different cells over VXLAN-GBP — allowed and denied TCP, UDP, ping, IPv6 — and the same
# after restarting cell 2's agent and after restarting the server (plus an edge added then).
#
#   scripts/provision/check.sh --vagrant           the Vagrant VMs (run in vagrant/)
#   scripts/provision/check.sh --states DIR        the rehearsal: DIR/HOST/etc/wiretag/provision.env
#
# Cell 1 runs frontend (c1) and intruder (c2); cell 2 runs backend (c1) and db (c2).
# Exit 0 when every check passed.
set -uo pipefail
mode=${1:-} states=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
case $mode in
  --vagrant) on() { local h=$1; shift; vagrant ssh "$h" -c "sudo /wiretag/scripts/provision/host.sh $(printf '%q ' "$@")" -- -q 2>/dev/null; } ;;
  --states) on() { local h=$1; shift; bash "$here/host.sh" --state "$states/$h/etc/wiretag/provision.env" "$@"; } ;;
  *) echo "usage: check.sh --vagrant | --states DIR" >&2; exit 2 ;;
esac
failed=0
say() { printf '\n== %s\n' "$*"; }
must() { "$@" >/dev/null || { echo "FAIL: $*"; failed=1; }; }
# flow EXPECT WHAT HOST PROTO C ADDR [PORT]: allowed flows get up to 15 tries (the rules
# propagate by push); a denied flow is checked once its allowed twins pass.
flow() {
  local expect=$1 what=$2 host=$3 proto=$4; shift 4
  local got=denied i tries=1
  [ "$expect" = allowed ] && tries=15
  for i in $(seq 1 $tries); do
    if on "$host" "$proto" "$@"; then got=allowed; break; fi
    [ "$i" -lt $tries ] && sleep 1
  done
  printf '  %-8s %-60s (expected %s)\n' "$got" "$what" "$expect"
  [ "$got" = "$expect" ] || failed=1
}

say "apps and edges on the server; containers' veths to their cells' agents"
for app in frontend intruder backend db; do must on server cli app register "$app"; done
must on server cli edge allow --from frontend --to backend
must on server cli edge allow --from backend --to db --proto tcp --port 5432
must on cell1 device 1 frontend
must on cell1 device 2 intruder
must on cell2 device 1 backend
must on cell2 device 2 db
must on cell2 echo 1 8080
must on cell2 echo 2 5432 8080
must on cell1 echo 1 8080
backend4=$(on cell2 ip4 1) backend6=$(on cell2 ip6 1) db4=$(on cell2 ip4 2)
frontend4=$(on cell1 ip4 1)

traffic() {
  flow allowed "frontend (cell1) -> backend (cell2) tcp/8080 IPv4" cell1 tcp 1 "$backend4" 8080
  flow allowed "frontend (cell1) -> backend (cell2) tcp/8080 IPv6" cell1 tcp 1 "$backend6" 8080
  flow allowed "frontend (cell1) -> backend (cell2) udp/8080" cell1 udp 1 "$backend4" 8080
  flow allowed "frontend (cell1) -> backend (cell2) ping IPv4" cell1 ping 1 "$backend4"
  flow allowed "frontend (cell1) -> backend (cell2) ping IPv6" cell1 ping 1 "$backend6"
  flow allowed "backend (cell2) -> db (cell2) tcp/5432" cell2 tcp 1 "$db4" 5432
  flow denied "intruder (cell1) -> backend (cell2) tcp/8080 IPv4" cell1 tcp 2 "$backend4" 8080
  flow denied "intruder (cell1) -> backend (cell2) tcp/8080 IPv6" cell1 tcp 2 "$backend6" 8080
  flow denied "intruder (cell1) -> backend (cell2) udp/8080" cell1 udp 2 "$backend4" 8080
  flow denied "intruder (cell1) -> backend (cell2) ping" cell1 ping 2 "$backend4"
  flow denied "frontend (cell1) -> db (cell2) tcp/5432" cell1 tcp 1 "$db4" 5432
  flow denied "backend (cell2) -> db (cell2) tcp/8080 (port not allowed)" cell2 tcp 1 "$db4" 8080
  flow denied "backend (cell2) -> frontend (cell1) tcp/8080 (no edge that way)" cell2 tcp 1 "$frontend4" 8080
}

say "traffic across the cells"
traffic
say "cell2's agent restarted (it adopts its pinned programs and maps)"
must on cell2 restart
traffic
say "the server restarted"
must on server restart
traffic
say "an edge added after the server's restart reaches the cells"
must on server cli edge allow --from intruder --to backend --proto tcp --port 8080
flow allowed "intruder (cell1) -> backend (cell2) tcp/8080, newly allowed" cell1 tcp 2 "$backend4" 8080
flow denied "intruder (cell1) -> backend (cell2) udp/8080, still denied" cell1 udp 2 "$backend4" 8080

if [ $failed = 0 ]; then say "cross-host checks OK"; else say "cross-host checks FAILED"; fi
exit $failed
