#!/usr/bin/env bash
# Holds docs/architecture.md's arrows (ctest build.folder_arrows):
#  1. each probe (name:library:expect) builds with that library's usage requirements: "ok"
#     must compile, any other expectation names the header whose absence must stop it;
#  2. the domain and the logging library include no third-party transport or kernel headers
#     (those sit in /usr/include, where include roots cannot hide them);
#  3. wiretag-server does not link libbpf, and wiretag-agent does (else check 3 proves nothing).
set -uo pipefail
build=$1 src=$2 server=$3 agent=$4
shift 4
fail=0 ran=0
for probe in "$@"; do
  IFS=: read -r name library expect <<<"$probe"
  out=$(cmake --build "$build" --target "arrow_probe_$name" 2>&1)
  rc=$?
  ran=$((ran + 1))
  if [[ $expect == ok ]]; then
    if ((rc != 0)); then
      echo "FAIL: $name ($library) should compile:"; echo "$out" | tail -20; fail=1
    else
      echo "ok: $name compiles against $library"
    fi
  elif ((rc == 0)); then
    echo "FAIL: $name: $library reaches $expect, an include its arrows forbid"; fail=1
  elif ! grep -q "$expect: No such file" <<<"$out"; then
    echo "FAIL: $name failed for another reason than $expect being out of reach:"
    echo "$out" | tail -20; fail=1
  else
    echo "ok: $name: $expect is out of reach of $library"
  fi
done
((ran >= 2)) || { echo "FAIL: no probes given"; exit 1; }

forbidden='#include <(bpf/|linux/bpf|boost/|openssl/|sqlite3\.h|prometheus/)'
for dir in core common; do
  hits=$(grep -rEn "$forbidden" "$src/userspace/$dir" || true)
  if [[ -n $hits ]]; then
    echo "FAIL: userspace/$dir includes what it must not:"; echo "$hits"; fail=1
  fi
done
echo "checked userspace/core and userspace/common for libbpf, Beast, OpenSSL, SQLite headers"

needs() { readelf -d "$1" | grep NEEDED | grep -c 'libbpf\.so'; }
if [[ $(needs "$agent") -eq 0 ]]; then
  echo "FAIL: wiretag-agent shows no libbpf.so: the server's check would prove nothing"; fail=1
elif [[ $(needs "$server") -ne 0 ]]; then
  echo "FAIL: wiretag-server links libbpf"; fail=1
else
  echo "ok: wiretag-server links no libbpf (wiretag-agent does)"
fi
exit $fail
