#!/usr/bin/env bash
# The XDP gate on the lab (scripts/lab.sh): two cells, two containers each, a rogue host on
# the underlay. Proves: a rogue's VXLAN-GBP carrying an allowed tag reaches a container
# without the gate, and with it is dropped at the underlay and counted (drop_unknown_vtep);
# the real cells' allowed traffic still flows; a denied cross-cell flow is dropped by the gate
# (drop_policy, counted there, not at the container's enforce); the gate stays attached when
# its owner exits and a new owner replaces it. With WT_BUILD_DIR: the control plane, agents
# with --underlay report their VTEPs in PDP_STATUS and their gates believe the server's set.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WIRETAG=${WIRETAG:?path of the wiretag CLI}
LAB=$here/../../scripts/lab.sh
export WT_LAB_ID=wtg$$ WIRETAG_LOG_LEVEL=warn
. "$here/../../scripts/lib/lab.sh"
lab_init "$WT_LAB_ID" || exit 1
rogue_ns=$WT_LAB_ID-rogue
rogue_ip=198.18.0.99

cleanup() {
  ip netns del "$rogue_ns" 2>/dev/null
  ip netns del "${WT_LAB_ID}a-rogue" 2>/dev/null
  "$LAB" down >/dev/null
  "$LAB" down --id "${WT_LAB_ID}a" >/dev/null
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

ep() { # ep N C VERB ARGS...: the CLI on container C of cell N, as cell N's datapath owner
  local n=$1 c=$2 verb=$3; shift 3
  "$WIRETAG" --pin-dir "$(lab_pin_dir "$n")" endpoint "$verb" --netns "$(lab_cell_netns "$n")" \
    --dev "$(lab_hostif "$n" "$c")" "$@"
}
attach() { # attach N C: tag NC, anti-spoof addresses (the gate maps inner destinations by them)
  ep "$1" "$2" attach --tag "$(($1 * 10 + $2))" --deny-untagged \
    --ipv4 "$(lab_ip4 "$1" "$2")" --ipv6 "$(lab_ip6 "$1" "$2")" >/dev/null
}
ifindex_in() { lab_cell_exec "$1" cat "/sys/class/net/$2/ifindex"; } # ifindex_in N DEV
counter() { # counter PIN_DIR IFINDEX DIR REASON VERDICT → packets
  "$WIRETAG" --pin-dir "$1" endpoint counters |
    awk -v i="$2" -v d="$3" -v r="$4" -v v="$5" '$1==i && $2==d && $3==r && $4==v {n+=$5} END {print n+0}'
}
ep_counter() { counter "$(lab_pin_dir "$1")" "$(ifindex_in "$1" "$(lab_hostif "$1" "$2")")" "${@:3}"; }
gate_counter() { counter "$(lab_pin_dir "$1")" "$(ifindex_in "$1" ul0)" gate "$2" drop; }

# rogue_up ID: a host on the lab's underlay bridge with an address no cell has.
rogue_up() {
  local ns=$1-rogue ul=$1-ul
  ip netns add "$ns" || return 1
  ip -n "$ul" link add rogue mtu 1550 type veth peer name eth0 netns "$ns" || return 1
  ip -n "$ul" link set rogue master br0 up || return 1
  ip -n "$ns" link set lo up && ip -n "$ns" link set eth0 mtu 1550 up || return 1
  ip -n "$ns" addr add "$rogue_ip/24" dev eth0 || return 1
  # The cells' underlay addresses by MAC, so the first packet is not an ARP exchange.
  for n in 1 2; do
    ip -n "$ns" neigh replace "$(lab_underlay_ip "$n")" dev eth0 nud permanent \
      lladdr "$(ip -n "$1-cell$n" -j link show ul0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')"
  done
}
# rogue ID COUNT: VXLAN-GBP from the rogue to cell 2, tag 11 (allowed into c2.1 on udp/5353),
# inner 198.19.1.1 -> 198.19.2.1 udp/5353, to cell 2's vxlan0 MAC.
rogue() {
  ip netns exec "$1-rogue" python3 "$here/vxlan_send.py" "$(lab_underlay_ip 2)" 11 \
    "$(lab_ip4 1 1)" "$(lab_ip4 2 1)" "$(lab_vtep_mac 2)" 5353 "$2"
}
# settle: counters of packets just sent (the stack delivers asynchronously).
settle() { sleep 0.3; }

echo "# lab $WT_LAB_ID: 2 cells x 2 containers, a rogue on the underlay"
"$LAB" up --cells 2 --containers 2 >/dev/null || exit 1
rogue_up "$WT_LAB_ID" || { echo "FAIL  rogue namespace"; exit 1; }
for n in 1 2; do for c in 1 2; do attach "$n" "$c" || exit 1; done; done
lab_echo_servers 2 1 8080 5353
ep 2 1 policy --rule 11/tcp/8080 --rule 11/udp/5353 --rule 11/icmp >/dev/null
for p in "1 1" "1 2" "2 2"; do ep $p policy >/dev/null; done
sleep 0.5
check "the rogue reaches cell 2's underlay" ip netns exec "$rogue_ns" ping -c1 -W1 -q "$(lab_underlay_ip 2)"

echo "# without the gate: the rogue's packet, tag 11, is believed and delivered"
before=$(ep_counter 2 1 enforce allow_rule pass)
rogue "$WT_LAB_ID" 3; settle
after=$(ep_counter 2 1 enforce allow_rule pass)
check "3 rogue packets allowed into c2.1 by the rule for tag 11 ($before -> $after)" \
  test $((after - before)) -eq 3

echo "# the gate on both cells' ul0, believing the two cells' VTEPs"
for n in 1 2; do
  check "gate attach on cell $n" "$WIRETAG" --pin-dir "$(lab_pin_dir "$n")" gate attach \
    --netns "$(lab_cell_netns "$n")" --dev ul0 --vtep "$(lab_underlay_ip 1)" --vtep "$(lab_underlay_ip 2)"
done
check "ul0 of cell 2 has wt_gate_prog attached (its owner has exited)" bash -c \
  "ip -n $(lab_cell_ns 2) -d link show ul0 | grep -q 'prog/xdp'"
check "the gate is pinned" test -e "$(lab_pin_dir 2)/wt_gate_prog"
check "maps dump vteps lists both cells and the marker" bash -c \
  "'$WIRETAG' --pin-dir '$(lab_pin_dir 2)' maps dump vteps -o json |
   python3 -c 'import json,sys; a=sorted(r[\"address\"] for r in json.load(sys.stdin)[\"vteps\"]); sys.exit(a!=[\"198.18.0.1\",\"198.18.0.2\",\"in_force\"])'"

echo "# (a) a rogue sending an allowed tag: dropped at the underlay, counted"
before_gate=$(gate_counter 2 drop_unknown_vtep)
before=$(ep_counter 2 1 enforce allow_rule pass)
rogue "$WT_LAB_ID" 5; settle
after_gate=$(gate_counter 2 drop_unknown_vtep)
after=$(ep_counter 2 1 enforce allow_rule pass)
check "5 rogue packets counted drop_unknown_vtep at cell 2's gate ($before_gate -> $after_gate)" \
  test $((after_gate - before_gate)) -eq 5
check "none reached c2.1 ($before -> $after)" test "$after" -eq "$before"

echo "# (b) the real cells' traffic: allowed flows unaffected, denied ones dropped at the gate"
expect allowed "c1.1 -> c2.1 udp/5353" lab_udp_ok 1 1 "$(lab_ip4 2 1)" 5353
expect allowed "c1.1 -> c2.1 tcp/8080 v4" lab_tcp_ok 1 1 "$(lab_ip4 2 1)" 8080
expect allowed "c1.1 -> c2.1 tcp/8080 v6" lab_tcp_ok 1 1 "$(lab_ip6 2 1)" 8080
expect allowed "c1.1 -> c2.1 ping" lab_ping_ok 1 1 "$(lab_ip4 2 1)"
before_gate=$(gate_counter 2 drop_policy)
before_tc=$(ep_counter 2 1 enforce drop_policy drop)
expect denied "c1.2 -> c2.1 tcp/8080 (tag 12)" lab_tcp_ok 1 2 "$(lab_ip4 2 1)" 8080
expect denied "c1.1 -> c2.1 tcp/9999 (no rule)" lab_tcp_ok 1 1 "$(lab_ip4 2 1)" 9999
settle
after_gate=$(gate_counter 2 drop_policy)
after_tc=$(ep_counter 2 1 enforce drop_policy drop)
check "the denied SYNs were dropped at cell 2's gate ($before_gate -> $after_gate)" \
  test "$after_gate" -gt "$before_gate"
check "... and never reached c2.1's enforce ($before_tc -> $after_tc)" test "$after_tc" -eq "$before_tc"

echo "# a new owner replaces the gate with its own; the set stays in the pinned map"
"$WIRETAG" --pin-dir "$(lab_pin_dir 2)" gate attach --netns "$(lab_cell_netns 2)" --dev ul0 \
  --keep-vteps >/dev/null
before_gate=$(gate_counter 2 drop_unknown_vtep)
rogue "$WT_LAB_ID" 2; settle
check "the rogue is still dropped after the replace" \
  test $(($(gate_counter 2 drop_unknown_vtep) - before_gate)) -eq 2
expect allowed "c1.1 -> c2.1 udp/5353 after the replace" lab_udp_ok 1 1 "$(lab_ip4 2 1)" 5353
"$WIRETAG" --pin-dir "$(lab_pin_dir 2)" gate detach --netns "$(lab_cell_netns 2)" --dev ul0 >/dev/null
check "gate detach removes the program" bash -c \
  "! ip -n $(lab_cell_ns 2) -d link show ul0 | grep -q 'prog/xdp'"

if [ -n "${WT_BUILD_DIR:-}" ] && [ -x "$WT_BUILD_DIR/userspace/agent/wiretag-agent" ] &&
  [ -x "$WT_BUILD_DIR/userspace/server/wiretag-server" ]; then
  echo "# the control plane: agents with --underlay, the VTEP set from the server"
  al=${WT_LAB_ID}a
  WT_LAB_UNDERLAY_GATE=1 WIRETAG_HEARTBEAT_INTERVAL=300 \
    "$LAB" up --id "$al" --cells 2 --containers 1 --build "$WT_BUILD_DIR" >/dev/null ||
    { echo "FAIL  lab up --build"; failed=$((failed + 1)); }
  pin2=/sys/fs/bpf/wiretag-$al-cell2
  learned() {
    "$WIRETAG" --pin-dir "$pin2" maps dump vteps -o json 2>/dev/null |
      python3 -c 'import json,sys; a=sorted(r["address"] for r in json.load(sys.stdin)["vteps"]); sys.exit(a!=["198.18.0.1","198.18.0.2","in_force"])'
  }
  for _ in $(seq 1 50); do learned && break; sleep 0.2; done
  check "cell 2's gate believes both cells' VTEPs, learned from the server" learned
  check "cell 2's agent attached the gate to ul0" bash -c \
    "ip -n $al-cell2 -d link show ul0 | grep -q 'prog/xdp'"
  cells_json=$(. "$LAB_RUN_DIR/$al/env" && curl -sf -m 5 ${WT_LAB_CA:+--cacert "$WT_LAB_CA"} \
    -H "Authorization: Bearer $(cat "$LAB_RUN_DIR/$al/server/admin-token")" \
    "$WT_LAB_SERVER/internal/v1/cells")
  has() { grep -qF -- "$1" <<<"$cells_json"; }
  check "the server lists cell 1's vtepAddresses" has '"vtepAddresses":["198.18.0.1"]'
  check "the server lists cell 2's vtepAddresses" has '"vtepAddresses":["198.18.0.2"]'
  rogue_up "$al" >/dev/null 2>&1
  ul2=$(ip netns exec "$al-cell2" cat /sys/class/net/ul0/ifindex)
  before_gate=$(counter "$pin2" "$ul2" gate drop_unknown_vtep drop)
  ip netns exec "$al-rogue" python3 "$here/vxlan_send.py" 198.18.0.2 11 198.19.1.1 198.19.2.1 \
    "$(lab_vtep_mac 2)" 5353 4
  settle
  check "the rogue's 4 packets counted drop_unknown_vtep at cell 2's gate" \
    test $(($(counter "$pin2" "$ul2" gate drop_unknown_vtep drop) - before_gate)) -eq 4
  "$LAB" down --id "$al" >/dev/null
else
  echo "skip  no wiretag-agent/wiretag-server in ${WT_BUILD_DIR:-(WT_BUILD_DIR unset)}: the control plane was not run"
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
