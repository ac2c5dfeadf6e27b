# A cell on one host (source it after lib/lab.sh and lab_init): the Vagrant cell VMs' network,
# built the way the netns lab builds a cell, with the lab's addressing (lib/lab.sh: lab_ip4,
# lab_vtep_*, lab_gw*, lab_ns, LAB_VNI) — but the cell is a host: its VTEP sits on the host's
# own interface to the private network instead of the lab's veth underlay. NETNS (optional,
# last argument) runs it inside a network namespace that plays the host (the rehearsal,
# tests/deploy/vm_lab.sh); empty: the host itself (a VM).

cell__ip() { local ns=$1; shift; if [ -n "$ns" ]; then ip -n "$ns" "$@"; else ip "$@"; fi; }
cell__bridge() { local ns=$1; shift; if [ -n "$ns" ]; then bridge -n "$ns" "$@"; else bridge "$@"; fi; }
cell__sysctl() {
  local ns=$1; shift
  if [ -n "$ns" ]; then ip netns exec "$ns" sysctl -qw "$@"; else sysctl -qw "$@"; fi >/dev/null
}

# cell_host_dev IP [NETNS]: the interface holding IP (the host's private-network NIC).
cell_host_dev() {
  cell__ip "${2:-}" -o -4 addr show | awk -v ip="$1" '{split($4, a, "/"); if (a[1] == ip) {print $2; exit}}'
}

# cell_host_up N CONTAINERS LOCAL_IP [NETNS]: vxlan0 (GBP, VNI $LAB_VNI, over the interface
# holding LOCAL_IP), br0 the containers' gateway, containers lab_ns N 1..CONTAINERS on veths
# ctrC. Idempotent. MTU 1450: VXLAN's 50 bytes inside the private network's 1500.
cell_host_up() {
  local n=$1 ctrs=$2 local_ip=$3 ns=${4:-} dev c cns hif
  dev=$(cell_host_dev "$local_ip" "$ns")
  [ -n "$dev" ] || { echo "cell: no interface holds $local_ip" >&2; return 1; }
  cell__sysctl "$ns" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
  if ! cell__ip "$ns" link show dev vxlan0 >/dev/null 2>&1; then
    cell__ip "$ns" link add vxlan0 address "$(lab_vtep_mac "$n")" mtu 1450 type vxlan \
      id "$LAB_VNI" dstport 4789 local "$local_ip" dev "$dev" gbp || return 1
  fi
  cell__ip "$ns" link set vxlan0 up || return 1
  cell__ip "$ns" addr replace "$(lab_vtep_ip4 "$n")/24" dev vxlan0 || return 1
  cell__ip "$ns" addr replace "$(lab_vtep_ip6 "$n")/64" dev vxlan0 nodad || return 1
  if ! cell__ip "$ns" link show dev br0 >/dev/null 2>&1; then
    cell__ip "$ns" link add br0 mtu 1450 type bridge || return 1
  fi
  cell__ip "$ns" link set br0 up || return 1
  cell__ip "$ns" addr replace "$(lab_gw4 "$n")/24" dev br0 || return 1
  cell__ip "$ns" addr replace "$(lab_gw6 "$n")/64" dev br0 nodad || return 1
  for c in $(seq 1 "$ctrs"); do
    cns=$(lab_ns "$n" "$c") hif=$(lab_hostif "$n" "$c")
    lab__ns_ensure "$cns" || return 1
    if ! cell__ip "$ns" link show dev "$hif" >/dev/null 2>&1; then
      cell__ip "$ns" link add "$hif" mtu 1450 type veth peer name eth0 netns "$cns" mtu 1450 ||
        return 1
    fi
    cell__ip "$ns" link set "$hif" master br0 up || return 1
    ip -n "$cns" addr replace "$(lab_ip4 "$n" "$c")/24" dev eth0 || return 1
    ip -n "$cns" addr replace "$(lab_ip6 "$n" "$c")/64" dev eth0 nodad || return 1
    ip -n "$cns" link set eth0 up || return 1
    ip -n "$cns" route replace default via "$(lab_gw4 "$n")" dev eth0 || return 1
    ip -n "$cns" -6 route replace default via "$(lab_gw6 "$n")" dev eth0 || return 1
  done
}

# cell_host_peer N J PEER_IP [NETNS]: cell J's containers reached over vxlan0 at PEER_IP, as
# the lab does it: static neighbour and FDB entries, a flood entry, routes to its subnets.
cell_host_peer() {
  local n=$1 j=$2 peer=$3 ns=${4:-}
  cell__ip "$ns" neigh replace "$(lab_vtep_ip4 "$j")" lladdr "$(lab_vtep_mac "$j")" dev vxlan0 \
    nud permanent || return 1
  cell__ip "$ns" -6 neigh replace "$(lab_vtep_ip6 "$j")" lladdr "$(lab_vtep_mac "$j")" \
    dev vxlan0 nud permanent || return 1
  cell__bridge "$ns" fdb replace "$(lab_vtep_mac "$j")" dev vxlan0 dst "$peer" self permanent ||
    return 1
  if ! cell__bridge "$ns" fdb show dev vxlan0 | grep -q "^00:00:00:00:00:00 dst $peer "; then
    cell__bridge "$ns" fdb append 00:00:00:00:00:00 dev vxlan0 dst "$peer" self permanent ||
      return 1
  fi
  cell__ip "$ns" route replace "198.19.$j.0/24" via "$(lab_vtep_ip4 "$j")" dev vxlan0 || return 1
  cell__ip "$ns" -6 route replace "2001:2:0:$j::/64" via "$(lab_vtep_ip6 "$j")" dev vxlan0
}

# cell_host_down N CONTAINERS [NETNS]: the containers' namespaces and the cell's devices.
cell_host_down() {
  local n=$1 ctrs=$2 ns=${3:-} c
  for c in $(seq 1 "$ctrs"); do
    ip netns pids "$(lab_ns "$n" "$c")" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$(lab_ns "$n" "$c")" 2>/dev/null
  done
  cell__ip "$ns" link del vxlan0 2>/dev/null
  cell__ip "$ns" link del br0 2>/dev/null
  return 0
}
