#!/usr/bin/env bash
# `wiretag trace --local` on real veths in network namespaces: every trace's verdict agrees
# with real traffic sent through the same veths (allowed, denied by port, wrong source,
# wildcard range, ICMP, reply, audit mode, IPv4 and IPv6), and traces change no counter.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WIRETAG=${WIRETAG:?path of the wiretag CLI}
WT_RUN=wttr$$
. "$here/../../scripts/lib/topology.sh"
export WIRETAG_PIN_DIR=/sys/fs/bpf/wiretag-trace-it-$$ WIRETAG_LOG_LEVEL=warn
CELL_NS=/var/run/netns/$WT_CELL

cleanup() {
  topo_down
  rm -rf "$WIRETAG_PIN_DIR"
}
trap cleanup EXIT

passed=0 failed=0
check() { # check DESCRIPTION CMD...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok    $what"
  else failed=$((failed + 1)); echo "FAIL  $what"; fi
}

wt() { "$WIRETAG" "$@"; }
ep() { local i=$1; shift; wt endpoint "$@" --netns "$CELL_NS" --dev "$(topo_hostif "$i")"; }
tag() { printf '%04x' "$1"; }
# trace FROM_TAG TO_INDEX ARGS... → "verdict reason"
trace() {
  local from=$1 to=$2; shift 2
  wt trace --local --from "$from" --to-dev "$(topo_hostif "$to")" --netns "$CELL_NS" "$@" -o json |
    jq -r '"\(.verdict) \(.reason)"'
}
# agree DESCRIPTION WANT_TRACE TRAFFIC_WANT TRACE_ARGS... -- TRAFFIC_CMD...: the trace says
# WANT_TRACE ("pass allow_rule", ...) and the real traffic is allowed|denied as it implies.
agree() {
  local what=$1 want=$2 traffic=$3; shift 3
  local targs=()
  while [ "$1" != "--" ]; do targs+=("$1"); shift; done
  shift
  local got real
  got=$(trace "${targs[@]}")
  if "$@"; then real=allowed; else real=denied; fi
  check "$what: trace '$got', traffic $real" test "$got" = "$want" -a "$real" = "$traffic"
}

echo "# setup: cell $WT_CELL, containers 1..3, pin dir $WIRETAG_PIN_DIR"
topo_up 3
for i in 1 2 3; do ep "$i" attach --tag "$i" >/dev/null || exit 1; done
for port in 8080 9999; do topo_echo_servers 2 $port; done
topo_echo_servers 2 5353
for port in 9005 9011; do topo_echo_servers 3 $port; done
ep 2 policy --rule 1/tcp/8080 --rule 1/udp/5353 --rule 1/icmp >/dev/null
ep 3 policy --rule '*/tcp/9000-9010' >/dev/null
ep 1 policy >/dev/null
sleep 0.5

echo "# trace and traffic agree"
for v6 in "" --ipv6; do
  a2=$(topo_ip4 2); a3=$(topo_ip4 3); a1=$(topo_ip4 1)
  [ -n "$v6" ] && { a2=$(topo_ip6 2); a3=$(topo_ip6 3); a1=$(topo_ip6 1); }
  ip=${v6:+v6}; ip=${ip:-v4}
  agree "c1 -> c2 tcp/8080 $ip (rule)" "pass allow_rule" allowed \
    "$(tag 1)" 2 --proto tcp --port 8080 $v6 -- topo_tcp_ok 1 2 8080 "$a2"
  agree "c1 -> c2 tcp/9999 $ip (denied by port)" "drop drop_policy" denied \
    "$(tag 1)" 2 --proto tcp --port 9999 $v6 -- topo_tcp_ok 1 2 9999 "$a2"
  agree "c3 -> c2 tcp/8080 $ip (wrong source)" "drop drop_policy" denied \
    "$(tag 3)" 2 --proto tcp --port 8080 $v6 -- topo_tcp_ok 3 2 8080 "$a2"
  agree "c1 -> c2 udp/5353 $ip (rule)" "pass allow_rule" allowed \
    "$(tag 1)" 2 --proto udp --port 5353 $v6 -- topo_udp_ok 1 2 5353 "$a2"
  agree "c2 -> c3 tcp/9005 $ip (wildcard range)" "pass allow_wildcard" allowed \
    "$(tag 2)" 3 --proto tcp --port 9005 $v6 -- topo_tcp_ok 2 3 9005 "$a3"
  agree "c2 -> c3 tcp/9011 $ip (past the range)" "drop drop_policy" denied \
    "$(tag 2)" 3 --proto tcp --port 9011 $v6 -- topo_tcp_ok 2 3 9011 "$a3"
  agree "c1 -> c2 ping $ip (icmp rule)" "pass allow_rule" allowed \
    "$(tag 1)" 2 --proto icmp $v6 -- topo_ping_ok 1 "$a2"
  agree "c2 -> c1 ping $ip (nothing may enter c1)" "drop drop_policy" denied \
    "$(tag 2)" 1 --proto icmp $v6 -- topo_ping_ok 2 "$a1"
  # c1 admits nothing, yet its connection to c2 works: c2's answers are replies.
  agree "c2 -> c1 tcp reply to c1's connection to c2:8080 $ip" "pass allow_reply" allowed \
    "$(tag 2)" 1 --proto tcp --port 8080 --reply $v6 -- topo_tcp_ok 1 2 8080 "$a2"
  agree "c2 -> c1 udp reply to c1's query to c2:5353 $ip" "pass allow_reply" allowed \
    "$(tag 2)" 1 --proto udp --port 5353 --reply $v6 -- topo_udp_ok 1 2 5353 "$a2"
  agree "c2 -> c1 echo reply to c1's ping $ip" "pass allow_reply" allowed \
    "$(tag 2)" 1 --proto icmp --reply $v6 -- topo_ping_ok 1 "$a2"
done

echo "# the rule a trace names"
rule=$(wt trace --local --from "$(tag 2)" --to-dev "$(topo_hostif 3)" --netns "$CELL_NS" --proto tcp \
  --port 9005 -o json | jq -cS .rule)
check "c2 -> c3 tcp/9005 matched '*' tcp 9000-9007 (/13) of 9000-9010: $rule" \
  test "$rule" = '{"ports":{"end":9007,"start":9000},"prefix_length":13,"protocol":"tcp","source":"*"}'
check "the table names verdict, reason and rule" \
  bash -c "'$WIRETAG' trace --local --from $(tag 1) --to $(tag 2) --proto tcp --port 8080 | grep -q '^pass  *allow_rule  *enforce  *0001 tcp 8080-8080/16 '"

echo "# a trace changes no counter and no flow of the live datapath"
# What the traces would count if they ran live: enforce rows other than the background's
# (neighbour discovery, ARP, the host's untagged packets), settled a second after traffic.
snapshot() {
  for i in 1 2 3; do
    ep "$i" counters | awk '$2=="enforce" && $3 !~ /allow_(ndp|arp|untagged)/'
  done
  wt endpoint list
}
sleep 1
before=$(snapshot)
for i in 1 2 3 4 5; do
  trace "$(tag 3)" 2 --proto tcp --port 8080 >/dev/null
  trace "$(tag 2)" 1 --proto udp --port 5353 --reply >/dev/null
done
after=$(snapshot)
check "counters and endpoints identical after 10 traces" test "$before" = "$after"
[ "$before" = "$after" ] || diff <(echo "$before") <(echo "$after")

echo "# audit mode: a would-drop, and the traffic passes"
ep 3 attach --tag 3 --mode audit >/dev/null
drop_pass=$(ep 3 counters | awk '$2=="enforce" && $3=="drop_policy" && $4=="pass" {n+=$5} END {print n+0}')
agree "c2 -> c3 tcp/9011 in audit mode" "would-drop drop_policy" allowed \
  "$(tag 2)" 3 --proto tcp --port 9011 -- topo_tcp_ok 2 3 9011
after_pass=$(ep 3 counters | awk '$2=="enforce" && $3=="drop_policy" && $4=="pass" {n+=$5} END {print n+0}')
check "the real connection counted audited would-drops ($drop_pass -> $after_pass)" test "$after_pass" -gt "$drop_pass"
check "the trace reports mode audit" \
  bash -c "'$WIRETAG' trace --local --from $(tag 2) --to $(tag 3) --proto tcp --port 9011 -o json | jq -e '.mode == \"audit\"' >/dev/null"

echo "# usage and errors"
wt trace --local --from "$(tag 1)" --to ffff --proto tcp --port 80 >/dev/null 2>&1
check "unknown destination exits 1" test $? -eq 1
wt trace --local --from "$(tag 1)" --to "$(tag 2)" --proto tcp >/dev/null 2>&1
check "tcp without --port exits 2" test $? -eq 2
WIRETAG_PIN_DIR=/sys/fs/bpf/wiretag-none-$$ wt trace --local --from 0001 --to 0002 --proto icmp >/dev/null 2>&1
check "no datapath pinned exits 1 and creates nothing" \
  bash -c "[ $? -eq 1 ] && [ ! -e /sys/fs/bpf/wiretag-none-$$ ]"

echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
