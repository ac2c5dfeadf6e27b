# Shared by the provisioning scripts (source it). A "host" is a Vagrant VM (ROOT empty,
# NETNS empty, systemd runs the services) or, in the rehearsal (tests/deploy/vm_lab.sh), a
# network namespace NETNS with the package's files under ROOT and the services run by
# prov_service as systemd would (the environment file, READY=1 awaited on NOTIFY_SOCKET).
# Each host keeps what the checks need in ROOT/etc/wiretag/provision.env.

PROV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROV_SCRIPTS=$(cd "$PROV_DIR/.." && pwd)
. "$PROV_SCRIPTS/lib/lab.sh"
. "$PROV_SCRIPTS/lib/cell_host.sh"

prov_log() { echo "provision[${PROV_NAME:-?}]: $*"; }
prov_die() { echo "provision[${PROV_NAME:-?}]: $*" >&2; exit 1; }

# prov_systemd: are the services run by systemd here (a VM booted with it)?
prov_systemd() { [ -z "${ROOT:-}" ] && [ -d /run/systemd/system ]; }

# prov_install_deb DEB: on a VM, the package itself (dependencies from apt); in the
# rehearsal, its files under ROOT (dpkg-deb -x) — the host's own dpkg is not touched.
prov_install_deb() {
  local deb=$1
  [ -f "$deb" ] || prov_die "no package $deb (scripts/provision/build-deb.sh makes it)"
  if [ -z "${ROOT:-}" ]; then
    prov_log "installing $(basename "$deb")"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" ||
      prov_die "apt-get install $deb failed"
  else
    mkdir -p "$ROOT" && dpkg-deb -x "$deb" "$ROOT" || prov_die "dpkg-deb -x $deb $ROOT failed"
    mkdir -p "$ROOT/var/lib/wiretag-server" "$ROOT/var/lib/wiretag-agent" "$ROOT/var/log"
    chmod 0700 "$ROOT/var/lib/wiretag-server" "$ROOT/var/lib/wiretag-agent"
  fi
}

# prov_state_set KEY VALUE...: this host's provision.env (shell variables for host.sh).
prov_state_set() {
  local file=${ROOT:-}/etc/wiretag/provision.env args=("$@") keys="" i
  mkdir -p "$(dirname "$file")"
  for ((i = 0; i < ${#args[@]}; i += 2)); do keys+="${keys:+|}${args[i]}"; done
  {
    [ -f "$file" ] && grep -v -E "^($keys)=" "$file"
    for ((i = 0; i < ${#args[@]}; i += 2)); do printf '%s=%q\n' "${args[i]}" "${args[i + 1]}"; done
  } >"$file.tmp.$$" && mv -f "$file.tmp.$$" "$file"
}

# prov_env_file ROLE KEY=VALUE...: ROOT/etc/wiretag/ROLE.env as systemd reads it (the
# package's file, with these settings replaced or added; comments kept).
prov_env_file() {
  local role=$1 file=${ROOT:-}/etc/wiretag/$1.env kv key; shift
  [ -f "$file" ] || prov_die "$file is missing (package not installed?)"
  for kv in "$@"; do
    key=${kv%%=*}
    grep -v -E "^#?$key=" "$file" >"$file.tmp" && mv -f "$file.tmp" "$file"
    echo "$kv" >>"$file"
  done
}

# prov__alive PID: running (not gone, not a zombie waiting for this shell to reap it).
prov__alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ]
}

# prov_service start|stop|restart server|agent: systemctl on a VM. In the rehearsal, what
# the unit does: the binary from ROOT with the environment file, in the host's namespace
# (nsenter --net: the host's bpffs stays visible, as on a VM), start returning once the
# daemon sends READY=1 (Type=notify) — the server listening, the agent's first resync done.
prov_service() {
  local action=$1 role=$2 unit=wiretag-$2
  if prov_systemd; then
    case $action in
      # (re)provisioning: enabled at boot, and restarted with the new package and settings
      start) systemctl enable "$unit" && systemctl restart "$unit" ;;
      *) systemctl "$action" "$unit" ;;
    esac
    return
  fi
  local pidfile=$ROOT/run/$unit.pid log=$ROOT/var/log/$unit.log pid
  mkdir -p "$ROOT/run" "$ROOT/var/log"
  # start and restart alike: a running one is stopped first (TERM, then KILL after 10 s).
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && grep -qazF -- "$ROOT/usr/bin/$unit" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do prov__alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  [ "$action" = stop ] && return 0
  local sock=$ROOT/run/$unit.notify env=()
  mapfile -t env < <(grep -E '^[A-Z_]+=' "$ROOT/etc/wiretag/$role.env")
  rm -f "$sock"
  python3 "$PROV_DIR/notify-wait.py" "$sock" 120 >"$ROOT/run/$unit.ready" 2>&1 &
  local waiter=$!
  for _ in $(seq 1 300); do [ -S "$sock" ] && break; sleep 0.1; done
  echo "# $(date -Is) start" >>"$log"
  (cd "$ROOT/var/lib/$unit" 2>/dev/null || cd /
   exec setsid nsenter --net="/run/netns/$NETNS" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
     NOTIFY_SOCKET="$sock" "${env[@]}" "$ROOT/usr/bin/$unit" >>"$log" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$pidfile"
  # As systemd: READY=1 within the timeout, unless the daemon exits first.
  while kill -0 "$waiter" 2>/dev/null; do
    if ! prov__alive "$pid"; then kill "$waiter" 2>/dev/null || true; break; fi
    sleep 0.2
  done
  if ! wait "$waiter"; then
    prov_log "$unit did not send READY=1 ($(tr '\n' ' ' <"$ROOT/run/$unit.ready")); $log:"
    tail -n 15 "$log" >&2
    return 1
  fi
  prov_log "$unit ready: $(grep STATUS= "$ROOT/run/$unit.ready" | tail -1)"
}
