#!/usr/bin/env bash
# Datapath on real veths in network namespaces: one cell, three containers, real ping, TCP
# and UDP (IPv4 and IPv6); counters; the owning process killed with SIGKILL during policy
# churn; a restarted owner adopting the pinned state without a gap; BTF-decoded map dumps.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WIRETAG=${WIRETAG:?path of the wiretag CLI}
WT_RUN=wtit$$
. "$here/../../scripts/lib/topology.sh"
export WIRETAG_PIN_DIR=/sys/fs/bpf/wiretag-it-$$ WIRETAG_LOG_LEVEL=warn
CELL_NS=/var/run/netns/$WT_CELL
bg_pids=()

cleanup() {
  for p in "${bg_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  topo_down
  rm -rf "$WIRETAG_PIN_DIR"
}
trap cleanup EXIT

passed=0 failed=0
expect() { # expect allowed|denied DESCRIPTION CMD...
  local want=$1 what=$2 got; shift 2
  if "$@"; then got=allowed; else got=denied; fi
  if [ "$got" = "$want" ]; then passed=$((passed + 1)); echo "ok    $what: $got"
  else failed=$((failed + 1)); echo "FAIL  $what: $got, expected $want"; fi
}
check() { # check DESCRIPTION CMD...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok    $what"
  else failed=$((failed + 1)); echo "FAIL  $what"; fi
}

wt() { "$WIRETAG" "$@"; }
ep() { local i=$1; shift; wt endpoint "$@" --netns "$CELL_NS" --dev "$(topo_hostif "$i")"; }
# counter DEV_INDEX DIR REASON VERDICT → packets
counter() {
  ep "$1" counters | awk -v d="$2" -v r="$3" -v v="$4" '$2==d && $3==r && $4==v {n+=$5} END {print n+0}'
}

# The verdict matrix that must hold whatever happens to the owning process.
POLICY2=(--rule 1/tcp/8080 --rule 1/udp/5353 --rule 1/icmp)
POLICY2_RANGE=(--rule 1/tcp/8000-8100 --rule 1/udp/5300-5400 --rule 1/icmp)
verdicts() {
  local tag=$1
  expect allowed "[$tag] c1 -> c2 tcp/8080 v4" topo_tcp_ok 1 2 8080
  expect allowed "[$tag] c1 -> c2 tcp/8080 v6" topo_tcp_ok 1 2 8080 "$(topo_ip6 2)"
  expect allowed "[$tag] c1 -> c2 udp/5353 v4" topo_udp_ok 1 2 5353
  expect allowed "[$tag] c1 -> c2 udp/5353 v6" topo_udp_ok 1 2 5353 "$(topo_ip6 2)"
  expect allowed "[$tag] c1 -> c2 ping v4" topo_ping_ok 1 "$(topo_ip4 2)"
  expect allowed "[$tag] c1 -> c2 ping v6" topo_ping_ok 1 "$(topo_ip6 2)"
  expect denied "[$tag] c3 -> c2 tcp/8080 v4 (wrong source)" topo_tcp_ok 3 2 8080
  expect denied "[$tag] c3 -> c2 udp/5353 v6 (wrong source)" topo_udp_ok 3 2 5353 "$(topo_ip6 2)"
  expect denied "[$tag] c3 -> c2 ping v4 (wrong source)" topo_ping_ok 3 "$(topo_ip4 2)"
  expect denied "[$tag] c1 -> c2 tcp/9999 (no port)" topo_tcp_ok 1 2 9999
  expect denied "[$tag] c2 -> c1 ping (nothing may enter c1)" topo_ping_ok 2 "$(topo_ip4 1)"
  expect allowed "[$tag] c2 -> c3 tcp/9005 (wildcard source, range)" topo_tcp_ok 2 3 9005
  expect denied "[$tag] c2 -> c3 tcp/9011 (past the range)" topo_tcp_ok 2 3 9011
}

echo "# setup: cell $WT_CELL, containers 1..3, pin dir $WIRETAG_PIN_DIR"
topo_up 3
for i in 1 2 3; do ep "$i" attach --tag "$i" >/dev/null || exit 1; done
for port in 8080 9999; do topo_echo_servers 2 $port; done
topo_echo_servers 2 5353
for port in 9005 9011; do topo_echo_servers 3 $port; done
ep 2 policy "${POLICY2[@]}" >/dev/null
ep 3 policy --rule '*/tcp/9000-9010' >/dev/null
ep 1 policy >/dev/null
sleep 0.5

echo "# verdicts with a one-shot CLI (its process exited after each command)"
verdicts oneshot

echo "# counters agree with the traffic"
before_rule=$(counter 2 enforce allow_rule pass)
before_drop=$(counter 2 enforce drop_policy drop)
topo_exec 1 ping -c5 -i0.05 -W1 -q "$(topo_ip4 2)" >/dev/null
topo_exec 3 ping -c4 -i0.05 -W1 -q "$(topo_ip4 2)" >/dev/null
after_rule=$(counter 2 enforce allow_rule pass)
after_drop=$(counter 2 enforce drop_policy drop)
check "5 allowed pings counted as allow_rule on c2 ($before_rule -> $after_rule)" \
  test $((after_rule - before_rule)) -eq 5
check "4 denied pings counted as drop_policy on c2 ($before_drop -> $after_drop)" \
  test $((after_drop - before_drop)) -ge 4

# Drop events are the agent's to read and name (GET /v1/events, `wiretag monitor`): this
# datapath has no agent. tests/agent/events_test.cc follows them through the real agent.

echo "# malformed frames from a container: stamp drops each with its named reason"
c2mac=$(topo_exec 2 cat /sys/class/net/eth0/address)
for kind in drop_l3_truncated drop_ipv4_ihl drop_tcp_doff drop_l4_truncated drop_l3_unknown drop_ipv6_version; do
  before=$(counter 3 stamp "$kind" drop)
  topo_exec 3 python3 "$here/send_malformed.py" "$c2mac" "$kind" 3
  after=$(counter 3 stamp "$kind" drop)
  check "3 frames sent, 3 dropped as $kind at c3's stamp ($before -> $after)" test $((after - before)) -eq 3
done

echo "# bpftool decodes pinned maps with BTF field names"
check "endpoints dump names fields" \
  bash -c "bpftool map dump pinned '$WIRETAG_PIN_DIR/endpoints' | grep -q '\"generation\"'"
check "src_policy dump names fields" \
  bash -c "bpftool map dump pinned '$WIRETAG_PIN_DIR/src_policy' | grep -q '\"port_plens\"'"
check "programs are pinned" test -e "$WIRETAG_PIN_DIR/wt_enforce_prog" -a -e "$WIRETAG_PIN_DIR/wt_stamp_prog"

echo "# an owner churning c2's policy between two equivalent rule sets"
start_owner() {
  "$WIRETAG" datapath hold --netns "$CELL_NS" --churn-dev "$(topo_hostif 2)" \
    $(printf -- '--rule-a %s ' 1/tcp/8080 1/udp/5353 1/icmp) \
    $(printf -- '--rule-b %s ' 1/tcp/8000-8100 1/udp/5300-5400 1/icmp) >/dev/null &
  owner=$!
  bg_pids+=("$owner")
}
start_owner
sleep 0.5
verdicts churning
for round in 1 2 3; do
  sleep 0.$((RANDOM % 5 + 1))
  kill -9 "$owner"
  wait "$owner" 2>/dev/null
  verdicts "killed-$round"
  start_owner
  sleep 0.3
done
kill -9 "$owner"; wait "$owner" 2>/dev/null

entries=$(wt endpoint list | awk -v d="$(topo_hostif 2)" '$2==d {print $7}')
# Rule set A compiles to 2 port prefixes, B (8000-8100, 5300-5400) to 4 + 6.
check "no half-written generation survives a restart (c2 entries: $entries)" \
  bash -c "[ '$entries' = '1/2' ] || [ '$entries' = '1/10' ]"

echo "# a restarting owner adopts without a gap: 400 pings at 10 ms across two restarts"
topo_exec 1 ping -c400 -i0.01 -W1 -q "$(topo_ip4 2)" >/tmp/$WT_RUN.ping 2>&1 &
pinger=$!
bg_pids+=("$pinger")
sleep 0.5
start_owner; sleep 1; kill -TERM "$owner"; wait "$owner" 2>/dev/null
start_owner; sleep 1; kill -9 "$owner"; wait "$owner" 2>/dev/null
wait "$pinger"
loss=$(grep -o '[0-9.]*% packet loss' /tmp/$WT_RUN.ping)
rm -f /tmp/$WT_RUN.ping
check "no ping lost across restarts ($loss)" test "$loss" = "0% packet loss"
verdicts restarted

echo "# detach removes enforcement and all state of the device"
ifindex2=$(wt endpoint list | awk -v d="$(topo_hostif 2)" '$2==d {print $1}')
ep 2 detach >/dev/null
expect allowed "c3 -> c2 tcp/8080 once c2 is detached" topo_tcp_ok 3 2 8080
check "c2 is gone from the endpoint list" bash -c "! '$WIRETAG' endpoint list | awk '{print \$1}' | grep -qx '$ifindex2'"
check "detach is idempotent" ep 2 detach
"$WIRETAG" datapath hold >/dev/null &
owner=$!; bg_pids+=("$owner"); sleep 0.5
check "a second owner of the pin dir is refused with DATAPATH_BUSY" \
  bash -c "'$WIRETAG' endpoint attach --netns '$CELL_NS' --dev '$(topo_hostif 1)' --tag 1 2>&1 | grep -q DATAPATH_BUSY"
check "inspection works while the owner runs" bash -c "'$WIRETAG' endpoint list >/dev/null"
kill -TERM "$owner"; wait "$owner" 2>/dev/null
check "attach to a missing device fails with DEVICE_NOT_FOUND" \
  bash -c "'$WIRETAG' endpoint attach --netns '$CELL_NS' --dev nosuchdev --tag 9 2>&1 | grep -q DEVICE_NOT_FOUND"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
