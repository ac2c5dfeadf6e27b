# Network-namespace topology shared by the demo and the integration tests (source it).
# One cell namespace with a bridge; N container namespaces on veths. Addresses only from
# 198.18.0.0/15 and 2001:2::/48. Everything is named with $WT_RUN so parallel or aborted
# runs never collide, and topo_down removes it all.

WT_RUN=${WT_RUN:-wt$$}
WT_CELL=${WT_RUN}-cell

topo_ns() { echo "${WT_RUN}-c$1"; }            # container namespace
topo_hostif() { echo "${WT_RUN: -6}h$1"; }     # host-side veth in the cell (<= 15 chars)
topo_ip4() { echo "198.18.1.$1"; }
topo_ip6() { echo "2001:2:0:1::$1"; }

# topo_up N: cell + containers 1..N
topo_up() {
  local n=$1 i
  ip netns add "$WT_CELL"
  ip -n "$WT_CELL" link set lo up
  ip -n "$WT_CELL" link add br0 type bridge
  ip -n "$WT_CELL" addr add 198.18.1.254/24 dev br0
  ip -n "$WT_CELL" addr add 2001:2:0:1::fe/64 dev br0 nodad
  ip -n "$WT_CELL" link set br0 up
  for i in $(seq 1 "$n"); do
    local ns hif
    ns=$(topo_ns "$i")
    hif=$(topo_hostif "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$WT_CELL" link add "$hif" type veth peer name eth0 netns "$ns"
    ip -n "$WT_CELL" link set "$hif" master br0 up
    ip -n "$ns" addr add "$(topo_ip4 "$i")/24" dev eth0
    ip -n "$ns" addr add "$(topo_ip6 "$i")/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
  done
}

topo_down() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${WT_RUN}-"); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}

# topo_exec I CMD...: run in container I
topo_exec() { local i=$1; shift; ip netns exec "$(topo_ns "$i")" "$@"; }

topo_sockaddr() { case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac; }

# TCP: can container FROM open a connection to container TO's port and get an echo back?
topo_tcp_ok() {
  local from=$1 to=$2 port=$3 addr=${4:-$(topo_ip4 "$2")}
  local out
  out=$(topo_exec "$from" timeout 3 socat -T2 - "TCP:$(topo_sockaddr "$addr" "$port"),connect-timeout=2" <<<"ping-$from" 2>/dev/null)
  [ "$out" = "ping-$from" ]
}

topo_udp_ok() {
  local from=$1 to=$2 port=$3 addr=${4:-$(topo_ip4 "$2")}
  local out
  out=$(topo_exec "$from" timeout 3 socat -T2 - "UDP:$(topo_sockaddr "$addr" "$port")" <<<"ping-$from" 2>/dev/null)
  [ "$out" = "ping-$from" ]
}

topo_ping_ok() {
  local from=$1 addr=$2
  topo_exec "$from" ping -c1 -W1 -q "$addr" >/dev/null 2>&1
}

# Echo servers in container I on TCP and UDP port P (v4 and v6).
topo_echo_servers() {
  local i=$1 port=$2
  topo_exec "$i" socat "TCP6-LISTEN:$port,ipv6only=0,reuseaddr,fork" EXEC:cat >/dev/null 2>&1 &
  topo_exec "$i" socat "UDP6-RECVFROM:$port,ipv6only=0,reuseaddr,fork" EXEC:cat >/dev/null 2>&1 &
}
