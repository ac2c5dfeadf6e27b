# Shared by the lab tests (agent_lab.sh, pap_lab.sh): counted checks, polling, and the lab
# with its server and agents. Source it.
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
check() { # check DESCRIPTION CMD...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
expect() { # expect allowed|denied DESCRIPTION CMD...
  local want=$1 what=$2 got; shift 2
  if "$@"; then got=allowed; else got=denied; fi
  if [ "$got" = "$want" ]; then ok "$what: $got"; else fail "$what: $got, expected $want"; fi
}
# eventually SECONDS CMD...: poll until CMD succeeds (a liveness bound, not a speed test).
eventually() {
  local limit=$1 i; shift
  for ((i = 0; i < limit * 10; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
not() { ! "$@"; }
# Ends the test: the summary line, and the exit status.
summary() {
  echo "# $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# ---- a lab with the server and agents (needs LAB, BUILD, WT_LAB_ID and scripts/lib/lab.sh) --

# lab_test_up CELLS CONTAINERS: $tmp (a temp dir), $bg_pids (killed at exit), the lab up with
# the server and one agent per cell, its env loaded, $TOKEN the server's admin token. At
# exit: background processes killed, the lab down, $tmp removed.
lab_test_up() {
  tmp=$(mktemp -d "/tmp/$WT_LAB_ID.XXXX")
  bg_pids=()
  trap lab_test_cleanup EXIT
  "$LAB" up --cells "$1" --containers "$2" --build "$BUILD" >"$tmp/up.log" 2>&1 || {
    cat "$tmp/up.log"; echo "FAIL  lab up"; exit 1; }
  lab_load
  TOKEN=$(cat "$WT_LAB_TOKEN_FILE")
}
lab_test_cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  "$LAB" down >/dev/null
  rm -rf "$tmp"
}
# Over TLS (the lab's default) every curl to the server or an agent's TCP listener goes through
# lab_curl (scripts/lib/lab.sh), which trusts the lab's CA ($WT_LAB_CA).
srv() { # srv METHOD PATH [BODY]: the server's REST API as the admin; body on stdout, fails on HTTP >= 300
  lab_curl -sS -f -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$WT_LAB_SERVER$2"
}
agent_url() { local v=WT_LAB_AGENT_$1; lab_load; echo "${!v}"; }  # agent N's TCP port: /healthz
agent_sock() { local v=WT_LAB_AGENT_SOCKET_$1; lab_load; echo "${!v}"; }  # its Plugin API socket
plugin_curl() { # plugin_curl N CURL_ARGS... (URLs http://agent/…): curl on agent N's Plugin API
  local n=$1; shift
  curl --unix-socket "$(agent_sock "$n")" "$@"
}
app() { echo "app-$1-$2"; }  # container C of cell N runs app app-N-C
