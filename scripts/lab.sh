#!/usr/bin/env bash
# The multi-cell VXLAN-GBP lab: up | down | status | restart-agent | stop-server | start-server.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/lab.sh"

usage() {
  cat <<'EOF'
Usage: scripts/lab.sh COMMAND [--id ID] [options]     (as root)

A lab of N cell network namespaces joined by a veth underlay (198.18.0.0/24, through a bridge
in the namespace ID-ul), each cell with a VXLAN device in GBP mode (vxlan0, VNI 42, port 4789)
and M container namespaces on veths whose host side (ctrC) is in the cell. Containers of
cell N: 198.19.N.C/24 and 2001:2:0:N::C/64, routed between cells over the VXLAN (L3).
Nothing leaves the lab's namespaces. See docs/lab.md.

Commands:
  up [--cells N] [--containers M] [--build DIR [--no-agents]]
        build the topology (default 2 cells x 2 containers; N 2..8); idempotent: running it
        again completes what is missing and starts processes that are not running.
        --build DIR: also start DIR/userspace/server/wiretag-server and one
        DIR/userspace/agent/wiretag-agent per cell (--no-agents: the server only), over
        TLS: a throwaway CA and certificates in /run/wiretag-lab/ID/certs (WT_LAB_CA in the
        env file), https:// URLs, agents with --ca, cell 1's with a client certificate
        (mutual TLS). WT_LAB_TLS=0 at the first start: plain http, tokens only.
  down  remove namespaces, processes, pin dirs /sys/fs/bpf/wiretag-ID-cellN and the state
        dir; safe on a lab that does not exist
  status
        cells, containers with addresses, processes and whether they are alive (exit 1 if
        something is missing or the lab is not up)
  restart-agent N [--kill]
        stop cell N's agent (SIGTERM, or SIGKILL with --kill) and start it again
  stop-server [--kill] | start-server
        the server keeps its data dir and its port (picked at first start, reused), so agents
        keep their URL; if the port was taken meanwhile, running agents are restarted

Options:
  --id ID     lab id (env WT_LAB_ID, default wtlab); names namespaces ID-ul, ID-cellN,
              ID-cellN-cC, pin dirs and the state dir /run/wiretag-lab/ID/
  -h, --help  this help

State: /run/wiretag-lab/ID/env (shell variables WT_LAB_*: addresses, namespaces, pin dirs,
pids, URLs), server.log, agent-cellN.log, server/ (data dir, admin-token), cellN/ (agent
state dirs). Source scripts/lib/lab.sh for lab_exec, lab_ip4, lab_tcp_ok and friends.
EOF
}

cmd=${1:-}
[ $# -gt 0 ] && shift
id=${WT_LAB_ID:-wtlab} cells="" ctrs="" build="" no_agents="" kill_flag="" pos=()
while [ $# -gt 0 ]; do
  case $1 in
    --id) id=${2:?--id needs a value}; shift 2 ;;
    --cells) cells=${2:?--cells needs a value}; shift 2 ;;
    --containers) ctrs=${2:?--containers needs a value}; shift 2 ;;
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    --no-agents) no_agents=--no-agents; shift ;;
    --kill) kill_flag=--kill; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "lab.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) pos+=("$1"); shift ;;
  esac
done
lab_init "$id" || exit 2

need_root() { [ "$(id -u)" = 0 ] || { echo "lab.sh: run as root" >&2; exit 1; }; }

case $cmd in
  up)
    need_root
    if lab_exists; then
      prev_cells=$(. "$LAB_ENV"; echo "${WT_LAB_CELLS:-}")
      prev_ctrs=$(. "$LAB_ENV"; echo "${WT_LAB_CONTAINERS:-}")
      if [ -n "$cells$ctrs" ] && [ "${cells:-$prev_cells}/${ctrs:-$prev_ctrs}" != "$prev_cells/$prev_ctrs" ]; then
        echo "lab.sh: lab $LAB_ID is up with $prev_cells cells x $prev_ctrs containers; 'down' it first" >&2
        exit 1
      fi
      cells=${cells:-$prev_cells} ctrs=${ctrs:-$prev_ctrs}
    fi
    cells=${cells:-2} ctrs=${ctrs:-2}
    if [ -n "$build" ]; then
      build=$(cd "$build" 2>/dev/null && pwd) || { echo "lab.sh: no directory $build" >&2; exit 1; }
      lab_check_build "$build" $no_agents || exit 1
    fi
    lab_up "$cells" "$ctrs" || { echo "lab.sh: up failed; 'lab.sh down --id $LAB_ID' cleans up" >&2; exit 1; }
    if [ -n "$build" ]; then
      lab_env_set WT_LAB_BUILD "$build"
      lab_start_server || exit 1
      if [ -z "$no_agents" ]; then
        for n in $(seq 1 "$cells"); do lab_start_agent "$n" || exit 1; done
      fi
    fi
    echo "lab $LAB_ID is up: $cells cells x $ctrs containers; env $LAB_ENV"
    ;;
  down)
    need_root
    lab_down
    echo "lab $LAB_ID is down"
    ;;
  status)
    lab_status
    ;;
  restart-agent)
    need_root
    n=${pos[0]:-}
    [[ $n =~ ^[0-9]+$ ]] || { echo "lab.sh: restart-agent N [--kill]" >&2; exit 2; }
    lab_load || exit 1
    [ "$n" -ge 1 ] && [ "$n" -le "$WT_LAB_CELLS" ] || { echo "lab.sh: no cell $n" >&2; exit 2; }
    lab_stop_agent "$n" $kill_flag && lab_start_agent "$n"
    ;;
  stop-server)
    need_root
    lab_stop_server $kill_flag
    ;;
  start-server)
    need_root
    lab_start_server
    ;;
  "" | -h | --help | help)
    usage
    ;;
  *)
    echo "lab.sh: unknown command $cmd (see --help)" >&2
    exit 2
    ;;
esac
