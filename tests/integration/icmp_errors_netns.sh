#!/usr/bin/env bash
# ICMP errors about a container's own flows reach it whatever its rules say of ICMP, as
# replies (bpf/lib/related.h), on real veths with the real kernel's errors:
# - port unreachable from a tagged peer: c1 sends UDP to a port of c2 that c2's rules allow and
#   nothing listens on; c2's kernel answers port unreachable (stamped with c2's tag, which may
#   not reach c1): c1's socket must see ECONNREFUSED, not a timeout;
# - path MTU discovery through an untagged router: the cell routes 198.18.2.0/24 and
#   2001:2:0:2::/64 onto a link of MTU 1280; c1 denies untagged packets, sends 1400 bytes with
#   DF, and must learn the path MTU from the cell's fragmentation-needed / packet-too-big;
# - an ICMP error about a flow c1 never sent stays dropped.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WIRETAG=${WIRETAG:?path of the wiretag CLI}
WT_RUN=wtie$$
. "$here/../../scripts/lib/topology.sh"
export WIRETAG_PIN_DIR=/sys/fs/bpf/wiretag-ie-$$ WIRETAG_LOG_LEVEL=warn

. "$here/checks.sh"
. "$here/netns_endpoints.sh"

# udp_answer I ADDR PORT: what a connected UDP socket in container I gets back for one datagram
# (answer | refused | timeout).
udp_answer() {
  topo_exec "$1" python3 - "$2" "$3" <<'PY'
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((addr, port))
s.send(b"x")
try:
    s.recv(100)
    print("answer")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
PY
}

# pmtu I ADDR: sends 1400 bytes with DF twice from container I; "emsgsize" once the path MTU
# was learned from the error the first one caused, "sent" when no error arrived.
pmtu() {
  topo_exec "$1" python3 - "$2" <<'PY'
import errno, socket, sys, time
addr = sys.argv[1]
v6 = ":" in addr
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
if v6:
    s.setsockopt(socket.IPPROTO_IPV6, 23, 2)  # IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DO
else:
    s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO
s.connect((addr, 9))
s.send(b"x" * 1400)
time.sleep(0.5)
try:
    s.send(b"x" * 1400)
    print("sent")
except OSError as e:
    print("emsgsize" if e.errno == errno.EMSGSIZE else "error %d" % e.errno)
PY
}

echo "# setup: cell $WT_CELL, containers 1..2, pin dir $WIRETAG_PIN_DIR"
topo_up 2
ip netns exec "$WT_CELL" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$WT_CELL" link add narrow mtu 1280 type veth peer name narrowp mtu 1280
ip -n "$WT_CELL" link set narrow up
ip -n "$WT_CELL" link set narrowp up
ip -n "$WT_CELL" route add 198.18.2.0/24 dev narrow
ip -n "$WT_CELL" -6 route add 2001:2:0:2::/64 dev narrow
for i in 1 2; do
  topo_exec "$i" ip route add 198.18.2.0/24 via 198.18.1.254
  topo_exec "$i" ip -6 route add 2001:2:0:2::/64 via 2001:2:0:1::fe
done
ep 1 attach --tag 1 --deny-untagged >/dev/null || exit 1
ep 2 attach --tag 2 >/dev/null || exit 1
ep 1 policy >/dev/null                          # nothing may enter c1
ep 2 policy --rule 1/udp/7000 >/dev/null        # c1 may reach c2 on udp/7000, where nobody listens
sleep 0.3

echo "# port unreachable from a tagged peer (c2's tag may not reach c1)"
before=$(counter 1 enforce allow_reply pass)
for a in "$(topo_ip4 2)" "$(topo_ip6 2)"; do
  got=$(udp_answer 1 "$a" 7000)
  check "c1 -> c2 udp/7000 ($a): the port unreachable reaches c1 ($got)" test "$got" = refused
done
after=$(counter 1 enforce allow_reply pass)
check "both counted as allow_reply on c1 ($before -> $after)" test $((after - before)) -ge 2

echo "# path MTU discovery through an untagged router, with untagged denied on c1"
before=$(counter 1 enforce allow_reply pass)
for a in 198.18.2.1 2001:2:0:2::1; do
  got=$(pmtu 1 "$a")
  check "c1 learns the path MTU towards $a ($got)" test "$got" = emsgsize
done
after=$(counter 1 enforce allow_reply pass)
check "the cell's errors counted as allow_reply on c1 ($before -> $after)" test $((after - before)) -ge 2

echo "# an error about a flow c1 never sent"
topo_exec 2 python3 - "$(topo_ip4 1)" <<'PY'
import socket, sys
# c2 sends c1 a port unreachable quoting a UDP packet c1 never sent (from c1:6000 to c2:6001).
src = socket.inet_aton("198.18.1.1"); dst = socket.inet_aton("198.18.1.2")
quoted = bytes([0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0]) + src + dst + \
    (6000).to_bytes(2, "big") + (6001).to_bytes(2, "big") + bytes([0, 8, 0, 0])
icmp = bytearray([3, 3, 0, 0, 0, 0, 0, 0]) + quoted
c = sum(int.from_bytes(icmp[i:i + 2], "big") for i in range(0, len(icmp), 2))
c = (c >> 16) + (c & 0xffff); c = ~(c + (c >> 16)) & 0xffff
icmp[2:4] = c.to_bytes(2, "big")
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for _ in range(3):
    s.sendto(bytes(icmp), (sys.argv[1], 0))
PY
sleep 0.2
drops=$(( $(counter 1 enforce drop_policy drop) ))
check "an unrelated port unreachable from c2 is dropped on c1 (drop_policy: $drops)" test "$drops" -ge 3

summary
