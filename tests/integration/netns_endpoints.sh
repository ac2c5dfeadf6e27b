# Shared by the single-cell netns tests of the datapath (big_tcp_netns.sh,
# icmp_errors_netns.sh). Source it after scripts/lib/topology.sh, with WIRETAG (the CLI) and
# WIRETAG_PIN_DIR set: the cell's namespace path, everything removed at exit, and the CLI on
# a container's endpoint.
CELL_NS=/var/run/netns/$WT_CELL

netns_endpoints_cleanup() {
  topo_down
  rm -rf "$WIRETAG_PIN_DIR"
}
trap netns_endpoints_cleanup EXIT

# ep I VERB ARGS...: `wiretag endpoint VERB` on container I's host-side device
ep() { local i=$1; shift; "$WIRETAG" endpoint "$@" --netns "$CELL_NS" --dev "$(topo_hostif "$i")"; }
# counter I DIR REASON VERDICT → packets
counter() {
  ep "$1" counters | awk -v d="$2" -v r="$3" -v v="$4" '$2==d && $3==r && $4==v {n+=$5} END {print n+0}'
}
# count I DIR REASON → "PACKETS BYTES", summed over verdicts
count() {
  ep "$1" counters | awk -v d="$2" -v r="$3" '$2==d && $3==r {p+=$5; b+=$6} END {print p+0, b+0}'
}
