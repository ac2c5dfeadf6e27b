#!/usr/bin/env bash
# `cmake --install` into a DESTDIR, as the .deb lays it out (prefix /usr) and with the
# default prefix (/usr/local): every file where docs/ops.md says, the units naming the
# installed binaries and environment files, the environment files naming only their daemon's
# WIRETAG_SERVER_* / WIRETAG_AGENT_* settings (each one the binary knows), and
# `systemd-analyze verify` on the units in the installed tree.
set -uo pipefail
build=$(cd "${1:?usage: install_tree.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d /tmp/wt-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failed=1; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

install_into() { # install_into ROOT PREFIX
  DESTDIR=$1 cmake --install "$build" --prefix "$2" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; echo "FAIL cmake --install --prefix $2"; exit 1; }
}

root=$tmp/usr-root
install_into "$root" /usr
expected=(
  usr/bin/wiretag-server usr/bin/wiretag-agent usr/bin/wiretag
  usr/share/wiretag/ui/index.html usr/share/wiretag/ui/app.js usr/share/wiretag/ui/style.css
  usr/share/doc/wiretag/api/policy-server.yaml usr/share/doc/wiretag/api/internal.yaml
  usr/share/doc/wiretag/README.md usr/share/doc/wiretag/ops.md
  usr/lib/systemd/system/wiretag-server.service usr/lib/systemd/system/wiretag-agent.service
  etc/wiretag/server.env etc/wiretag/agent.env
)
for f in "${expected[@]}"; do check "installed $f" test -s "$root/$f"; done
for b in wiretag-server wiretag-agent wiretag; do
  check "$b is executable and runs (--version)" "$root/usr/bin/$b" --version
done
stray=$(cd "$root" && find . -type f | sed 's|^\./||' | grep -v -E '^(usr/(bin|share/wiretag|share/doc/wiretag|lib/systemd/system)/|etc/wiretag/)')
check "nothing outside usr/{bin,share/wiretag,share/doc/wiretag,lib/systemd/system} and etc/wiretag${stray:+: $stray}" test -z "$stray"

unit=$root/usr/lib/systemd/system
check "server unit: Type=notify" grep -qx 'Type=notify' "$unit/wiretag-server.service"
check "agent unit: Type=notify" grep -qx 'Type=notify' "$unit/wiretag-agent.service"
check "server unit runs /usr/bin/wiretag-server" grep -qx 'ExecStart=/usr/bin/wiretag-server' "$unit/wiretag-server.service"
check "agent unit runs /usr/bin/wiretag-agent" grep -qx 'ExecStart=/usr/bin/wiretag-agent' "$unit/wiretag-agent.service"
check "server unit reads /etc/wiretag/server.env" grep -qx 'EnvironmentFile=/etc/wiretag/server.env' "$unit/wiretag-server.service"
check "agent unit reads /etc/wiretag/agent.env" grep -qx 'EnvironmentFile=/etc/wiretag/agent.env' "$unit/wiretag-agent.service"
check "units restart on failure" grep -q 'Restart=on-failure' "$unit/wiretag-server.service" "$unit/wiretag-agent.service"
check "agent's capabilities bounded to the datapath's" \
  grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_ADMIN' "$unit/wiretag-agent.service"
check "server has no capability" grep -qx 'CapabilityBoundingSet=' "$unit/wiretag-server.service"
check "no @VAR@ left unconfigured" bash -c "! grep -n '@[A-Z_]*@' '$unit'/*.service '$root'/etc/wiretag/*.env"
check "server.env points --ui-dir at the installed ui/" \
  grep -qx 'WIRETAG_SERVER_UI_DIR=/usr/share/wiretag/ui' "$root/etc/wiretag/server.env"

# Each daemon's file names only its own settings, and each one is a name the binary reads.
env_names() { sed -n 's/^#\{0,1\}\(WIRETAG_[A-Z_]*\)=.*/\1/p' "$1"; }
"$root/usr/bin/wiretag-server" --help >"$tmp/server.help" 2>&1
"$root/usr/bin/wiretag-agent" --help >"$tmp/agent.help" 2>&1
for name in $(env_names "$root/etc/wiretag/server.env"); do
  check "server.env: $name is the server's (WIRETAG_SERVER_*, in --help)" \
    bash -c "[[ $name == WIRETAG_SERVER_* ]] && grep -q '\\b$name\\b' '$tmp/server.help'"
done
for name in $(env_names "$root/etc/wiretag/agent.env"); do
  check "agent.env: $name is the agent's (WIRETAG_AGENT_*, in --help)" \
    bash -c "[[ $name == WIRETAG_AGENT_* ]] && grep -q '\\b$name\\b' '$tmp/agent.help'"
done

# Every setting of each daemon under its own prefix, none read by both (issue 19: one
# environment must not set both daemons), and the server's all named in docs/server.md.
help_env() { grep -o 'Env:[A-Z0-9_]*' "$1" | sed 's/^Env://' | sort -u; }
help_env "$tmp/server.help" >"$tmp/server.names"
help_env "$tmp/agent.help" >"$tmp/agent.names"
check "wiretag-server --help names its settings" test -s "$tmp/server.names"
check "wiretag-agent --help names its settings" test -s "$tmp/agent.names"
bad=$(grep -v '^WIRETAG_SERVER_' "$tmp/server.names" | tr '\n' ' ')
check "every wiretag-server setting is WIRETAG_SERVER_*${bad:+: not $bad}" test -z "$bad"
bad=$(grep -v '^WIRETAG_AGENT_' "$tmp/agent.names" | tr '\n' ' ')
check "every wiretag-agent setting is WIRETAG_AGENT_*${bad:+: not $bad}" test -z "$bad"
bad=$(comm -12 "$tmp/server.names" "$tmp/agent.names" | tr '\n' ' ')
check "no environment name read by both daemons${bad:+: $bad}" test -z "$bad"
bad=$(while read -r name; do
  grep -q "\`$name\`" "$root/usr/share/doc/wiretag/server.md" || echo "$name"
done <"$tmp/server.names" | tr '\n' ' ')
check "docs/server.md names every wiretag-server setting${bad:+: not $bad}" test -z "$bad"
for name in WIRETAG_SERVER_DB WIRETAG_SERVER_POLICY_KEY_FILE WIRETAG_SERVER_LOG_FORMAT; do
  check "server.env shows $name" grep -q "^#\{0,1\}$name=" "$root/etc/wiretag/server.env"
done

# The default prefix: the units follow it; the environment files stay in /etc/wiretag.
local_root=$tmp/local-root
install_into "$local_root" /usr/local
check "prefix /usr/local: ExecStart=/usr/local/bin/wiretag-server" \
  grep -qx 'ExecStart=/usr/local/bin/wiretag-server' "$local_root/usr/local/lib/systemd/system/wiretag-server.service"
check "prefix /usr/local: env files in /etc/wiretag" test -s "$local_root/etc/wiretag/agent.env"

# systemd's own check of the units, against the installed tree (its binaries and paths); the
# host's own units (targets, slices) copied in beside them for the default dependencies.
if command -v systemd-analyze >/dev/null && [ -d /lib/systemd/system ]; then
  mkdir -p "$root/lib/systemd" && cp -a /lib/systemd/system "$root/lib/systemd/"
  for u in wiretag-server.service wiretag-agent.service; do
    out=$(systemd-analyze verify --man=no --root="$root" "$unit/$u" 2>&1)
    rc=$?
    check "systemd-analyze verify $u${out:+: $out}" test "$rc" = 0 -a -z "$out"
  done
else
  echo "skip systemd-analyze verify: systemd-analyze or /lib/systemd/system missing"
fi

[ $failed = 0 ] && echo "install tree OK" || echo "install tree FAILED"
exit $failed
