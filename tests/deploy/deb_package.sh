#!/usr/bin/env bash
# The .deb that cpack builds from this build dir: control fields (dependencies from
# dpkg-shlibdeps), conffiles, maintainer scripts, the file list, and the binaries from the
# extracted package running. The package goes to a temp dir, the build dir is left as it is.
set -uo pipefail
build=$(cd "${1:?usage: deb_package.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d /tmp/wt-deb-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failed=1; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

host_etc_before=$(ls -la --time-style=full-iso /etc/wiretag 2>&1)
if ! (cd "$tmp" && cpack --config "$build/CPackConfig.cmake" -B "$tmp" >"$tmp/cpack.log" 2>&1); then
  cat "$tmp/cpack.log"; echo "FAIL cpack"; exit 1
fi
deb=$(ls "$tmp"/wiretag_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$tmp/cpack.log"; echo "FAIL: no wiretag_*.deb from cpack"; exit 1; }
echo "# $(basename "$deb"), $(stat -c %s "$deb") bytes"

check "cpack left this host's /etc/wiretag as it was" \
  test "$(ls -la --time-style=full-iso /etc/wiretag 2>&1)" = "$host_etc_before"
dpkg-deb -I "$deb" >"$tmp/info" || fail "dpkg-deb -I"
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$tmp/files" || fail "dpkg-deb -c"
sed 's/^/    /' "$tmp/info"
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: wiretag" test "$(field Package)" = wiretag
check "Architecture: $(dpkg --print-architecture)" test "$(field Architecture)" = "$(dpkg --print-architecture)"
check "Depends names libbpf (dpkg-shlibdeps), adduser, iproute2" \
  bash -c "grep -q libbpf <<<'$(field Depends)' && grep -q adduser <<<'$(field Depends)' && grep -q iproute2 <<<'$(field Depends)'"
check "Depends names libpq (the server's PostgreSQL store, dpkg-shlibdeps)" \
  bash -c "grep -q libpq <<<'$(field Depends)'"
check "Suggests: postgresql" test "$(field Suggests)" = postgresql
for f in /usr/bin/wiretag-server /usr/bin/wiretag-agent /usr/bin/wiretag \
  /usr/lib/systemd/system/wiretag-server.service /usr/lib/systemd/system/wiretag-agent.service \
  /etc/wiretag/server.env /etc/wiretag/agent.env /usr/share/wiretag/ui/index.html \
  /usr/share/doc/wiretag/api/policy-server.yaml /usr/share/doc/wiretag/ops.md; do
  check "contains $f" grep -qx -- "$f" "$tmp/files"
done
check "nothing under /usr/local or the build dir" bash -c "! grep -q -e '^/usr/local' -e '$build' '$tmp/files'"

mkdir -p "$tmp/control" && dpkg-deb -e "$deb" "$tmp/control"
check "conffiles: /etc/wiretag/server.env and agent.env" \
  bash -c "grep -qx /etc/wiretag/server.env '$tmp/control/conffiles' && grep -qx /etc/wiretag/agent.env '$tmp/control/conffiles'"
for s in postinst prerm postrm; do
  check "$s is an executable shell script that parses" bash -c "test -x '$tmp/control/$s' && sh -n '$tmp/control/$s'"
done
check "postinst makes the wiretag user" grep -q 'adduser --system' "$tmp/control/postinst"

mkdir -p "$tmp/root" && dpkg-deb -x "$deb" "$tmp/root"
for b in wiretag-server wiretag-agent wiretag; do
  check "extracted $b runs (--version)" "$tmp/root/usr/bin/$b" --version
done
check "binaries are stripped (CPACK_STRIP_FILES)" \
  bash -c "! readelf -S '$tmp/root/usr/bin/wiretag-server' | grep -q '\\.debug_info'"
check "unit names /usr/bin/wiretag-agent" \
  grep -qx 'ExecStart=/usr/bin/wiretag-agent' "$tmp/root/usr/lib/systemd/system/wiretag-agent.service"

[ $failed = 0 ] && echo "deb OK" || echo "deb FAILED"
exit $failed
