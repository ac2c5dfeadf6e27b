#!/usr/bin/env bash
# Inspection never creates or loads anything: on a host without a datapath every read-only
# command says so and exits 1, leaving no trace; on real veths with endpoints and rules,
# `wiretag maps dump -o json` decodes every map as bpftool's BTF dump of the same pinned
# maps does, with no wiretag process running.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WIRETAG=${WIRETAG:?path of the wiretag CLI}
WT_RUN=wtin$$
. "$here/../../scripts/lib/topology.sh"
export WIRETAG_LOG_LEVEL=warn
PIN=/sys/fs/bpf/wiretag-inspect-$$
ABSENT=/sys/fs/bpf/wiretag-inspect-absent-$$
CELL_NS=/var/run/netns/$WT_CELL
work=$(mktemp -d)

cleanup() {
  topo_down
  rm -rf "$PIN" "$ABSENT" "$work"
}
trap cleanup EXIT

passed=0 failed=0
check() { # check DESCRIPTION CMD...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok    $what"
  else failed=$((failed + 1)); echo "FAIL  $what"; fi
}

echo "# no datapath at $ABSENT: each inspection says so, exits 1 and creates nothing"
mounts_before=$(grep -c ' bpf ' /proc/mounts)
want="no wiretag datapath pinned at $ABSENT (is the agent running? --pin-dir)"
for cmd in "endpoint list" "endpoint counters" "maps list" \
  "maps dump" "maps dump endpoints -o json"; do
  # shellcheck disable=SC2086
  "$WIRETAG" --pin-dir "$ABSENT" $cmd >"$work/out" 2>"$work/err"
  rc=$?
  check "'$cmd' exits 1 (got $rc)" test "$rc" -eq 1
  check "'$cmd' says: $(cat "$work/err")" grep -qF "$want" "$work/err"
  check "'$cmd' created nothing at $ABSENT" test ! -e "$ABSENT"
done
check "nothing was mounted" test "$(grep -c ' bpf ' /proc/mounts)" -eq "$mounts_before"

echo "# setup: cell $WT_CELL, containers 1..3, endpoints and rules in $PIN"
export WIRETAG_PIN_DIR=$PIN
topo_up 3
ep() { local i=$1; shift; "$WIRETAG" endpoint "$@" --netns "$CELL_NS" --dev "$(topo_hostif "$i")"; }
ep 1 attach --tag 1 >/dev/null || exit 1
ep 2 attach --tag 2 --ipv4 "$(topo_ip4 2)" >/dev/null || exit 1
ep 3 attach --tag 2563 --mode audit --deny-untagged >/dev/null || exit 1
ep 2 policy --rule 1/tcp/8080 --rule 1/udp/5300-5400 --rule 1/icmp >/dev/null
ep 3 policy --rule '*/tcp/9000-9010' --rule 2/any >/dev/null
ep 1 policy >/dev/null
topo_echo_servers 2 8080
topo_exec 1 ping -c3 -i0.05 -W1 -q "$(topo_ip4 2)" >/dev/null
topo_exec 3 ping -c2 -i0.05 -W1 -q "$(topo_ip4 2)" >/dev/null
topo_tcp_ok 1 2 8080
topo_exec 2 ping -c2 -i0.05 -W1 -q "$(topo_ip4 1)" >/dev/null
check "no wiretag process runs while we inspect" bash -c "! pgrep -x wiretag >/dev/null"

pins() { stat -c '%n %y' "$PIN"; ls -lA --time-style=full-iso "$PIN"; }  # not ..: others' pins
pins >"$work/pins.before"
"$WIRETAG" maps dump -o json >"$work/dump.json" 2>"$work/err"
check "maps dump -o json exits 0 ($(head -c 200 "$work/err"))" test $? -eq 0
"$WIRETAG" maps list -o json >"$work/list.json"
check "maps list -o json exits 0" test $? -eq 0
check "maps dump and list changed nothing in the pin dir" \
  bash -c "diff <($(declare -f pins); PIN='$PIN' pins) '$work/pins.before'"
check "maps dump (table) exits 0 and names the endpoints" \
  bash -c "'$WIRETAG' maps dump endpoints | grep -q '$(topo_hostif 3)'"
check "endpoint list still reads the same endpoints" \
  bash -c "[ \$('$WIRETAG' endpoint list | tail -n +2 | wc -l) -eq 3 ]"

echo "# every decoded map equals bpftool's dump of the same pinned map"
python3 "$here/maps_dump_check.py" "$PIN" "$WIRETAG"
check "maps dump agrees with bpftool" test $? -eq 0

echo "# one map, and an unknown one"
"$WIRETAG" maps dump src_policy -o json >"$work/one.json"
check "maps dump src_policy holds only src_policy" \
  python3 -c "import json,sys; d=json.load(open('$work/one.json')); sys.exit(list(d) != ['src_policy'] or not d['src_policy'])"
"$WIRETAG" maps dump nosuchmap >"$work/out" 2>"$work/err"
rc=$?
check "an unknown map exits 1 (got $rc)" test "$rc" -eq 1
check "and names the maps there are: $(cat "$work/err")" \
  grep -q 'MAP_NOT_FOUND: no map "nosuchmap".*the maps are: endpoints, devices, .*src_policy' "$work/err"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
