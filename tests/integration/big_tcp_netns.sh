#!/usr/bin/env bash
# BIG TCP through enforced veths. With a device's GSO/GRO max sizes above 64 KiB the kernel
# builds TCP packets that carry no IP length (IPv4 total length 0; IPv6 payload length 0 and
# a hop-by-hop Jumbo Payload option). Container 1 uploads to and downloads from container 2
# over IPv4 and IPv6 with every device of the path at 185000 bytes; each transfer must
# complete, stamp (upload) and enforce (download, replies) must have seen packets larger
# than 64 KiB, and no packet may be dropped as truncated or with a bad extension header.
# Exits 77 (skipped) on a kernel that refuses the sizes (< 5.19); IPv4 is left out below 6.3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WIRETAG=${WIRETAG:?path of the wiretag CLI}
WT_RUN=wtbt$$
. "$here/../../scripts/lib/topology.sh"
export WIRETAG_PIN_DIR=/sys/fs/bpf/wiretag-bt-$$ WIRETAG_LOG_LEVEL=warn
SIZE=185000 MIB=64 PORT=8080

. "$here/checks.sh"
. "$here/netns_endpoints.sh"
# above_64k BEFORE AFTER: the packets counted between the two had a mean size above 64 KiB,
# so at least one was a BIG TCP packet.
above_64k() {
  local p0 b0 p1 b1
  read -r p0 b0 <<<"$1"
  read -r p1 b1 <<<"$2"
  echo "      $((p1 - p0)) packets, $((b1 - b0)) bytes"
  [ "$p1" -gt "$p0" ] && [ $(((b1 - b0) / (p1 - p0))) -gt 65536 ]
}

echo "# setup: cell $WT_CELL, containers 1..2, GSO/GRO max size $SIZE, pin dir $WIRETAG_PIN_DIR"
topo_up 2
devices() { # prints "NETNS DEV" for every device of the path
  for i in 1 2; do echo "$(topo_ns "$i") eth0"; echo "$WT_CELL $(topo_hostif "$i")"; done
  echo "$WT_CELL br0"
}
addresses=("$(topo_ip6 2)" "$(topo_ip4 2)")
while read -r ns dev; do
  if ! ip -n "$ns" link set "$dev" gso_max_size $SIZE gro_max_size $SIZE 2>/dev/null; then
    echo "SKIP: this kernel refuses GSO/GRO max size $SIZE on $dev (BIG TCP needs 5.19)"
    exit 77
  fi
  if [ ${#addresses[@]} = 2 ] && ! ip netns exec "$ns" python3 "$here/gso_ipv4_size.py" "$dev" $SIZE; then
    echo "# IPv4 skipped: BIG TCP over IPv4 needs kernel 6.3"
    addresses=("$(topo_ip6 2)")
  fi
done < <(devices)

for i in 1 2; do ep "$i" attach --tag "$i" >/dev/null || exit 1; done
ep 2 policy --rule "1/tcp/$PORT-$((PORT + 1))" >/dev/null || exit 1
ep 1 policy >/dev/null || exit 1
# topo_down kills it with its namespace; disowned (and not through topo_exec's subshell), so
# nothing reports the kill.
ip netns exec "$(topo_ns 2)" python3 "$here/bulk_tcp.py" serve $PORT &
disown
sleep 0.5

want="done $((MIB << 20))"
for addr in "${addresses[@]}"; do
  before=$(count 1 stamp stamped)
  got=$(topo_exec 1 timeout 60 python3 "$here/bulk_tcp.py" upload "$addr" $PORT $MIB 2>&1)
  check "upload of $MIB MiB to $addr completes ($got)" test "$got" = "$want"
  check "stamp saw packets above 64 KiB" above_64k "$before" "$(count 1 stamp stamped)"
  before=$(count 1 enforce allow_reply)
  got=$(topo_exec 1 timeout 60 python3 "$here/bulk_tcp.py" download "$addr" $PORT $MIB 2>&1)
  check "download of $MIB MiB from $addr completes ($got)" test "$got" = "$want"
  check "enforce admitted replies above 64 KiB" above_64k "$before" "$(count 1 enforce allow_reply)"
done

for i in 1 2; do
  for reason in drop_l3_truncated drop_exthdr_bad drop_l4_truncated; do
    check "endpoint $i: no packet counted as $reason" test "$(count "$i" stamp $reason; count "$i" enforce $reason)" = $'0 0\n0 0'
  done
done
summary
