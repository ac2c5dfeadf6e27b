#!/usr/bin/env bash
# scripts/lib/lab.sh's lab__stop: it returns only once the process has exited, also when the
# process is not a child of the calling shell (the lab's server and agents are spawned by
# `lab.sh up`, another process) and takes a while to stop. Lab tests stop an agent and at once
# expect the server to find its cell unreachable; a stop that returned early let the agent
# still answer (integration.engine_ops_lab flaked under load).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export WT_LAB_ID=wtstop$$
. "$here/../../scripts/lib/lab.sh"
passed=0 failed=0
check() { local what=$1; shift; if "$@"; then echo "ok    $what"; passed=$((passed + 1)); else echo "FAIL  $what"; failed=$((failed + 1)); fi; }
alive() { tr -d '\0' <"/proc/$1/cmdline" 2>/dev/null | grep -q .; }

# slow_process NAME DELAY: a detached process (not our child) that exits DELAY s after SIGTERM.
slow_process() {
  (setsid bash -c 'trap "sleep $1; exit 0" TERM; while :; do sleep 0.05; done' slow "$1" "$2" \
    >/dev/null 2>&1 </dev/null & echo $!)
}
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT

pid=$(slow_process 1 "$WT_LAB_ID-cell1"); pids+=("$pid")
sleep 0.3
check "the slow process runs (pid $pid)" alive "$pid"
lab__stop "$pid" "$WT_LAB_ID-cell1"
check "lab__stop returns once a process slow to stop has exited" bash -c "$(declare -f alive); ! alive $pid"

pid=$(slow_process 30 "$WT_LAB_ID-cell2"); pids+=("$pid")
sleep 0.3
lab__stop "$pid" "$WT_LAB_ID-cell2"
check "one that ignores SIGTERM for 10 s is killed, and gone on return" bash -c "$(declare -f alive); ! alive $pid"

pid=$(slow_process 1 "$WT_LAB_ID-cell3"); pids+=("$pid")
sleep 0.3
lab__stop "$pid" "$WT_LAB_ID-cell4"
check "a pid whose command line does not name the lab process is left alone" alive "$pid"

echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
