# Shared by the lab tests (agent_lab.sh, pap_lab.sh): counted checks and polling. Source it.
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
