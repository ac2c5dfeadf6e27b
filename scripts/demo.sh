#!/usr/bin/env bash
# wiretag running on this host: a policy server (embedded SQLite) and a cell agent per cell on
# the lab (scripts/lab.sh: two cell namespaces joined by VXLAN-GBP, containers on veths). Apps
# are registered and their edges declared with the `wiretag` CLI; the agents push them
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
export WT_LAB_ID=wtdemo$$ WIRETAG_SERVER_LOG_LEVEL=${WIRETAG_SERVER_LOG_LEVEL:-info} \
  WIRETAG_AGENT_LOG_LEVEL=${WIRETAG_AGENT_LOG_LEVEL:-info}
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
# Everything below is done with the `wiretag` CLI alone. The lab runs over TLS (unless
# WT_LAB_TLS=0): the CLI trusts its throwaway CA, $WT_LAB_CA.
PAP_CREDENTIALS=$(dirname "$WT_LAB_TOKEN_FILE")/pap-credentials
export WIRETAG_SERVER=$WT_LAB_SERVER WIRETAG_TOKEN_FILE=$WT_LAB_TOKEN_FILE \
  WIRETAG_PAP_CREDENTIALS_FILE=$PAP_CREDENTIALS
[ -n "${WT_LAB_CA:-}" ] && export WIRETAG_CA=$WT_LAB_CA
WIRETAG=$BUILD/userspace/cli/wiretag
wiretag() { "$WIRETAG" "$@"; }
show() { printf '  $ wiretag %s\n' "$*"; wiretag "$@" | sed 's/^/    /'; return "${PIPESTATUS[0]}"; }
echo "  server $WT_LAB_SERVER${WT_LAB_CA:+ (TLS, CA $WT_LAB_CA; the agent of cell 1 authenticates with a client certificate)}"

# Containers: cell 1 runs frontend (c1) and intruder (c2); cell 2 runs backend (c1), db (c2).
declare -A where=([frontend]="1 1" [intruder]="1 2" [backend]="2 1" [db]="2 2")
say "register the apps on the server and hand each container's veth to its cell's agent"
for app in frontend intruder backend db; do
  read -r n c <<<"${where[$app]}"
  sock_var=WT_LAB_AGENT_SOCKET_$n  # the Plugin API: the agent's root-only unix socket
  show app register "$app" || ok=false
  show --agent "unix:${!sock_var}" device add --netns "$(lab_cell_netns "$n")" \
    --dev "$(lab_hostif "$n" "$c")" --app "$app" || ok=false
done
lab_echo_servers 2 1 8080
lab_echo_servers 2 2 5432 8080
sleep 0.3

say "policy: frontend may reach backend (an edge), backend may reach db on tcp/5432 only (a policy)"
show edge allow --from frontend --to backend || ok=false
policy_id=$(wiretag policy create --name backend-to-db --rule backend/db/tcp/5432 -o json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
show policy get "$policy_id" || ok=false
say "deploy it to the cells' PDP group with the PAP (defaultGroup already holds default-whitelist, the edges)"
show deploy "$policy_id@1" --group defaultGroup || ok=false
show status "$policy_id@1" --group defaultGroup --wait --wait-timeout 10 || ok=false
say "ask before sending: the Decision API, and a trace through cell 2's real programs"
show decide --from backend --to db --proto tcp --port 5432 || ok=false
show decide --from frontend --to db --proto tcp --port 5432 || ok=false
show trace --from intruder --to backend --proto tcp --port 8080 || ok=false

say "traffic (cell 1 -> cell 2 crosses VXLAN-GBP carrying the source's tag)"
check allowed "frontend (cell 1) -> backend (cell 2) tcp/8080, IPv4" lab_tcp_ok 1 1 "$(lab_ip4 2 1)" 8080
check allowed "frontend (cell 1) -> backend (cell 2) tcp/8080, IPv6" lab_tcp_ok 1 1 "$(lab_ip6 2 1)" 8080
check allowed "frontend (cell 1) -> backend (cell 2) ping" lab_ping_ok 1 1 "$(lab_ip4 2 1)"
check denied "intruder (cell 1) -> backend (cell 2) tcp/8080" lab_tcp_ok 1 2 "$(lab_ip4 2 1)" 8080
check denied "frontend (cell 1) -> db (cell 2) tcp/5432" lab_tcp_ok 1 1 "$(lab_ip4 2 2)" 5432
check allowed "backend -> db tcp/5432 (same cell)" lab_tcp_ok 2 1 "$(lab_ip4 2 2)" 5432
check denied "backend -> db tcp/8080 (port not allowed)" lab_tcp_ok 2 1 "$(lab_ip4 2 2)" 8080

say "what cell 2's agent enforces, and the cells as the PAP sees them"
show --agent "unix:$WT_LAB_AGENT_SOCKET_2" device list || ok=false
show cell list || ok=false

if $ok; then say "demo OK: allowed flows passed, denied flows dropped"; else say "demo FAILED"; fi
$ok || exit 1
$once && exit 0

cat <<EOF

wiretag is running; talk to it with the CLI (Ctrl-C stops everything and removes the lab):
  export WIRETAG_SERVER=$WT_LAB_SERVER WIRETAG_TOKEN_FILE=$WT_LAB_TOKEN_FILE WIRETAG_PAP_CREDENTIALS_FILE=$PAP_CREDENTIALS${WT_LAB_CA:+ WIRETAG_CA=$WT_LAB_CA}
  alias wiretag=$WIRETAG
  wiretag cell list                                              # cells: group, state, health, versions
  wiretag edge list --into backend                               # who may reach backend
  wiretag decide --from intruder --to backend --port 8080        # Deny, and why
  wiretag edge allow --from intruder --to backend --proto tcp --port 8080
  ip netns exec $(lab_ns 1 2) socat - TCP:$(lab_ip4 2 1):8080     # intruder -> backend, now allowed
  wiretag trace --from intruder --to backend --port 8080         # cell 2's programs: allow_rule
  wiretag --agent unix:$WT_LAB_AGENT_SOCKET_2 device list        # what cell 2 enforces
  wiretag group state defaultGroup TEST                          # audit only: nothing dropped
  wiretag --pin-dir $(lab_pin_dir 2) monitor                     # live drops on cell 2 (root)
  scripts/lab.sh status --id $WT_LAB_ID
EOF
while true; do sleep 3600; done
