#!/usr/bin/env bash
# wiretag running on this host: a policy server (embedded SQLite) and a cell agent per cell on
# the lab (scripts/lab.sh: two cell namespaces joined by VXLAN-GBP, containers on veths). Apps
# are registered and their edges declared over the server's REST API; the agents push them
# into the kernel; real traffic shows what passes and what is dropped. Then it keeps running
# so you can talk to it, until Ctrl-C (or exits at once with --once), and removes everything.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${WIRETAG_BUILD_DIR:-$here/../build}
once=false
for a in "$@"; do
  case $a in
    --once) once=true ;;
    -h | --help)
      echo "usage: scripts/demo.sh [--once]   (as root, after scripts/build.sh)"
      echo "  runs wiretag-server + one wiretag-agent per cell on a 2-cell lab, shows allowed and"
      echo "  denied traffic, then keeps running until Ctrl-C (--once: stop after the demo)"
      exit 0 ;;
    *) echo "demo.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
export WT_LAB_ID=wtdemo$$ WIRETAG_LOG_LEVEL=${WIRETAG_LOG_LEVEL:-info}
LAB=$here/lab.sh
. "$here/lib/lab.sh"
lab_init "$WT_LAB_ID" || exit 1

cleanup() { echo; echo "stopping: removing the lab $WT_LAB_ID"; "$LAB" down >/dev/null; }
trap cleanup EXIT
trap 'exit 0' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok=true
check() { # check EXPECT DESCRIPTION CMD...
  local expect=$1 what=$2 got; shift 2
  if "$@"; then got=allowed; else got=denied; fi
  printf '  %-58s %-8s (expected %s)\n' "$what" "$got" "$expect"
  [ "$got" = "$expect" ] || ok=false
}

say "starting wiretag-server and one wiretag-agent per cell on lab $WT_LAB_ID"
"$LAB" up --cells 2 --containers 3 --build "$BUILD" || exit 1
lab_load
TOKEN=$(cat "$WT_LAB_TOKEN_FILE")
# The lab runs over TLS (unless WT_LAB_TLS=0): curl trusts its throwaway CA, $WT_LAB_CA.
CACERT=${WT_LAB_CA:+--cacert $WT_LAB_CA}
echo "  server $WT_LAB_SERVER${WT_LAB_CA:+ (TLS, CA $WT_LAB_CA; the agent of cell 1 authenticates with a client certificate)}"
PAP_CREDENTIALS=$(dirname "$WT_LAB_TOKEN_FILE")/pap-credentials
pap() { # pap METHOD PATH [BODY]: the PAP API (basic auth, the server's generated credentials)
  lab_curl -sS -X "$1" -u "$(cat "$PAP_CREDENTIALS")" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$WT_LAB_SERVER/policy/pap/v1$2"
  echo
}
api() { # api METHOD PATH [BODY]: the server's REST API, as the admin
  lab_curl -sS -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$WT_LAB_SERVER$2"
  echo
}

# Containers: cell 1 runs frontend (c1) and intruder (c2); cell 2 runs backend (c1), db (c2).
declare -A where=([frontend]="1 1" [intruder]="1 2" [backend]="2 1" [db]="2 2")
say "register the apps on the server (POST /app) and hand each container's veth to its cell's agent"
for app in frontend intruder backend db; do
  read -r n c <<<"${where[$app]}"
  printf '  %-9s ' "$app"; api POST /app "{\"guid\":\"$app\"}"
  sock_var=WT_LAB_AGENT_SOCKET_$n  # the Plugin API: the agent's root-only unix socket
  curl -sS -o /dev/null --unix-socket "${!sock_var}" -X POST http://agent/whitelist -d \
    "{\"destination_device\":{\"namespace\":\"$(lab_cell_netns "$n")\",\"interface_name\":\"$(lab_hostif "$n" "$c")\"},\"app_guid\":\"$app\"}"
done
lab_echo_servers 2 1 8080
lab_echo_servers 2 2 5432 8080
sleep 0.3

say "policy: frontend may reach backend (POST /whitelist), backend may reach db on tcp/5432 only"
api POST /whitelist '{"source":"frontend","destination":"backend"}'
policy=$(api POST /v1/accounts/default/policies \
  '{"name":"backend-to-db","rules":[{"source":"backend","destination":"db","protocol":"tcp","ports":{"start":5432,"end":5432}}]}')
echo "${policy:0:300}"
policy_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"]["id"])' "$policy")
say "deploy it to the cells' PDP group with the PAP (defaultGroup already holds default-whitelist, the edges)"
pap POST /pdps/deployments/batch \
  "{\"groups\":[{\"name\":\"defaultGroup\",\"deploymentSubgroups\":[{\"pdpType\":\"tc\",\"action\":\"POST\",\"policies\":[{\"name\":\"$policy_id\",\"version\":\"1.0.0\"}]}]}]}"
for _ in $(seq 50); do  # until both cells report they hold it (PAP policies/status: SUCCESS)
  [ "$(pap GET "/policies/deployed/$policy_id" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["success-count"])' 2>/dev/null)" = 2 ] && break
  sleep 0.1
done
pap GET "/policies/deployed/$policy_id"

say "traffic (cell 1 -> cell 2 crosses VXLAN-GBP carrying the source's tag)"
check allowed "frontend (cell 1) -> backend (cell 2) tcp/8080, IPv4" lab_tcp_ok 1 1 "$(lab_ip4 2 1)" 8080
check allowed "frontend (cell 1) -> backend (cell 2) tcp/8080, IPv6" lab_tcp_ok 1 1 "$(lab_ip6 2 1)" 8080
check allowed "frontend (cell 1) -> backend (cell 2) ping" lab_ping_ok 1 1 "$(lab_ip4 2 1)"
check denied "intruder (cell 1) -> backend (cell 2) tcp/8080" lab_tcp_ok 1 2 "$(lab_ip4 2 1)" 8080
check denied "frontend (cell 1) -> db (cell 2) tcp/5432" lab_tcp_ok 1 1 "$(lab_ip4 2 2)" 5432
check allowed "backend -> db tcp/5432 (same cell)" lab_tcp_ok 2 1 "$(lab_ip4 2 2)" 5432
check denied "backend -> db tcp/8080 (port not allowed)" lab_tcp_ok 2 1 "$(lab_ip4 2 2)" 8080

say "what cell 2's agent enforces (GET /whitelist on its Plugin API)"
curl -sS --unix-socket "$WT_LAB_AGENT_SOCKET_2" http://agent/whitelist
echo
say "cells as the PAP sees them (PDP_STATUS heartbeats)"
pap GET /pdps/healthcheck | head -c 600

if $ok; then say "demo OK: allowed flows passed, denied flows dropped"; else say "demo FAILED"; fi
$ok || exit 1
$once && exit 0

cat <<EOF

wiretag is running; talk to it (Ctrl-C stops everything and removes the lab):
  server      $WT_LAB_SERVER   (token: $WT_LAB_TOKEN_FILE${WT_LAB_CA:+; CA: $WT_LAB_CA})
  agents      $WT_LAB_AGENT_1 (cell 1)   $WT_LAB_AGENT_2 (cell 2)   (/healthz; Plugin API on their sockets)
  curl $CACERT $WT_LAB_AGENT_2/healthz                  # cell 2's agent: connected, PDP state
  T=\$(cat $WT_LAB_TOKEN_FILE)
  curl $CACERT -H "Authorization: Bearer \$T" -d '{"source":"intruder","destination":"backend"}' $WT_LAB_SERVER/whitelist
  ip netns exec $(lab_ns 1 2) socat - TCP:$(lab_ip4 2 1):8080     # intruder -> backend, now allowed
  curl --unix-socket $WT_LAB_AGENT_SOCKET_2 http://agent/whitelist  # what cell 2 enforces
  curl $CACERT -u "\$(cat $PAP_CREDENTIALS)" $WT_LAB_SERVER/policy/pap/v1/policies/status   # PAP: per cell
  curl $CACERT -u "\$(cat $PAP_CREDENTIALS)" -X PUT "$WT_LAB_SERVER/policy/pap/v1/pdps/groups/defaultGroup?state=TEST"  # audit only
  $BUILD/userspace/cli/wiretag --pin-dir $(lab_pin_dir 2) monitor    # live drops on cell 2
  scripts/lab.sh status --id $WT_LAB_ID
EOF
while true; do sleep 3600; done
