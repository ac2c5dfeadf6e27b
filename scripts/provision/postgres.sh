# The server host's PostgreSQL, the store's database (source it; server.sh does, after
# common.sh). The same steps on a VM and in the rehearsal, apart from who runs the cluster:
#
# - a VM: Debian's postgresql (scripts/install-deps.sh installs it; its cluster is run by
#   systemd); the server, the unit's User=wiretag, logs in by peer authentication over the
#   unix socket in /var/run/postgresql;
# - the rehearsal (ROOT set, tests/deploy/vm_lab.sh): a private cluster of the same
#   binaries under ROOT/var/lib/postgresql, run as postgres in the host's network namespace
#   with its unix socket in ROOT/run/postgresql and no TCP; trust authentication there, since
#   the rehearsal runs the server as root, not as wiretag.
#
# Either way: a role wiretag (no superuser) owns a database wiretag, and the server's --db is
# postgresql:///wiretag?host=SOCKET_DIR&user=wiretag.

# The newest installed major's binaries.
prov_pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

prov_pg_socket_dir() { if [ -z "${ROOT:-}" ]; then echo /var/run/postgresql; else echo "$ROOT/run/postgresql"; fi; }
prov_pg_data_dir() { echo "$ROOT/var/lib/postgresql/wiretag"; }  # the rehearsal's cluster

# prov_pg_psql ARGS...: psql as the cluster's superuser.
prov_pg_psql() {
  if [ -z "${ROOT:-}" ]; then
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"
  else
    "$(prov_pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$(prov_pg_socket_dir)" -U postgres "$@"
  fi
}

# prov_postgres: the cluster running, role and database wiretag made (once); prints the URL.
prov_postgres() {
  local sock bin
  sock=$(prov_pg_socket_dir)
  if [ -z "${ROOT:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2 ||
      prov_die "apt-get install postgresql failed"
    if prov_systemd; then systemctl enable --now postgresql >&2 || prov_die "postgresql did not start"; fi
  else
    bin=$(prov_pg_bindir)
    [ -n "$bin" ] || prov_die "no PostgreSQL in /usr/lib/postgresql (scripts/install-deps.sh installs it)"
    local data log
    data=$(prov_pg_data_dir)
    log=$ROOT/var/lib/postgresql/postgres.log
    install -d -o postgres -g postgres -m 0700 "$ROOT/var/lib/postgresql"
    install -d -o postgres -g postgres -m 0755 "$sock"
    if [ ! -f "$data/PG_VERSION" ]; then
      runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$ROOT/var/lib/postgresql/initdb.log" 2>&1 ||
        { cat "$ROOT/var/lib/postgresql/initdb.log" >&2; prov_die "initdb failed"; }
    fi
    if ! runuser -u postgres -- "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      nsenter --net="/run/netns/$NETNS" runuser -u postgres -- "$bin/pg_ctl" -D "$data" -w -t 60 \
        -l "$log" -o "-k $sock -c listen_addresses=" start >&2 ||
        { tail -n 20 "$log" >&2; prov_die "pg_ctl start failed"; }
    fi
  fi
  local has
  has=$(prov_pg_psql -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'wiretag'") ||
    prov_die "PostgreSQL does not answer on $sock"
  [ "$has" = 1 ] || prov_pg_psql -d postgres -c "CREATE ROLE wiretag LOGIN" >&2 ||
    prov_die "CREATE ROLE wiretag failed"
  has=$(prov_pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'wiretag'")
  [ "$has" = 1 ] || prov_pg_psql -d postgres -c "CREATE DATABASE wiretag OWNER wiretag" >&2 ||
    prov_die "CREATE DATABASE wiretag failed"
  prov_log "PostgreSQL: database wiretag (owner wiretag) on $sock" >&2
  echo "postgresql:///wiretag?host=$sock&user=wiretag"
}

# prov_postgres_stop: the rehearsal's private cluster stopped (a VM's is systemd's).
prov_postgres_stop() {
  local data bin
  [ -n "${ROOT:-}" ] || return 0
  data=$(prov_pg_data_dir) bin=$(prov_pg_bindir)
  [ -f "$data/postmaster.pid" ] && [ -n "$bin" ] &&
    runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1
  return 0
}
