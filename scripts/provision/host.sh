#!/usr/bin/env bash
# What the cross-VM checks (check.sh) run on one host, as root: on a Vagrant VM through
# `vagrant ssh HOST -c "sudo /wiretag/scripts/provision/host.sh ..."`, in the rehearsal with
# --state naming the namespace host's provision.env.
#
#   host.sh [--state FILE] cli ARGS...          the wiretag CLI: on the server host against
#                                               the server (token, PAP credentials, CA); on a
#                                               cell host against its agent's Plugin API
#   host.sh device C APP                        cell: container C's veth enforced as APP
#   host.sh echo C PORT...                      cell: TCP and UDP echo servers in container C
#   host.sh tcp|udp C ADDR PORT                 cell: does container C get an echo (exit 0)?
#   host.sh ping C ADDR                         cell: does container C get a ping answer?
#   host.sh ip4|ip6 C                           cell: container C's address
#   host.sh restart|stop|start                  this host's service (systemd on a VM)
set -uo pipefail
. "$(dirname "$0")/common.sh"
state=/etc/wiretag/provision.env
if [ "${1:-}" = --state ]; then state=$2; shift 2; fi
[ -f "$state" ] || prov_die "no $state: this host is not provisioned"
. "$state"
PROV_NAME=${CELL_NAME:-server}
[ "$ROLE" = cell ] && lab_init "$LAB_ID"
cmd=${1:?host.sh COMMAND (see its header)}
shift
case $cmd in
  cli)
    if [ "$ROLE" = server ]; then
      # In the host's network namespace (the rehearsal's server listens inside it).
      exec ${NETNS:+nsenter --net="/run/netns/$NETNS"} "$CLI" --server "$SERVER_URL" --ca "$CA" --token-file "$TOKEN_FILE" \
        --pap-credentials "$PAP_CREDENTIALS" "$@"
    fi
    exec "$CLI" --agent "unix:$SOCKET" "$@"
    ;;
  device) exec "$CLI" --agent "unix:$SOCKET" device add --dev "$(lab_hostif "$CELL_INDEX" "$1")" --app "$2" ;;
  echo)
    c=$1; shift
    for port in "$@"; do
      setsid ip netns exec "$(lab_ns "$CELL_INDEX" "$c")" socat "TCP6-LISTEN:$port,ipv6only=0,reuseaddr,fork" EXEC:cat </dev/null >/dev/null 2>&1 &
      setsid ip netns exec "$(lab_ns "$CELL_INDEX" "$c")" socat "UDP6-RECVFROM:$port,ipv6only=0,reuseaddr,fork" EXEC:cat </dev/null >/dev/null 2>&1 &
    done
    sleep 0.3
    ;;
  tcp) lab_tcp_ok "$CELL_INDEX" "$1" "$2" "$3" ;;
  udp) lab_udp_ok "$CELL_INDEX" "$1" "$2" "$3" ;;
  ping) lab_ping_ok "$CELL_INDEX" "$1" "$2" ;;
  ip4) lab_ip4 "$CELL_INDEX" "$1" ;;
  ip6) lab_ip6 "$CELL_INDEX" "$1" ;;
  restart | stop | start) prov_service "$cmd" "$([ "$ROLE" = server ] && echo server || echo agent)" ;;
  *) prov_die "unknown command $cmd" ;;
esac
