#!/usr/bin/env bash
# The Vagrant VMs' provisioning rehearsed where no VM can boot: three network namespaces play
# the hosts "server", "cell1" and "cell2", joined by a bridge as the VMs' private network
# (198.18.0.10-12, the Vagrantfile's addresses). Each is provisioned by the same scripts the
# VMs run (scripts/provision/server.sh, cell.sh) from the .deb cpack builds here — its files
# extracted under a root dir per host, not installed on this machine — and its services run
# as their units would (environment file, Type=notify); the server's store is PostgreSQL, a
# private cluster on the "server" host (scripts/provision/postgres.sh). Then vagrant's one
# command, scripts/provision/check.sh, runs the cross-host checks. Differences from the VMs:
# vagrant/README.md.
set -uo pipefail
build=$(cd "${1:?usage: vm_lab.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
prov=$src/scripts/provision
id=wtvm$$
base=/run/wiretag-vmlab/$id
net=$id-net
. "$src/scripts/lib/lab.sh"
. "$src/scripts/lib/cell_host.sh"
lab_init "$id"

cleanup() {
  for h in cell1 cell2 server; do
    [ -f "$base/$h/etc/wiretag/provision.env" ] && bash "$prov/host.sh" --state "$base/$h/etc/wiretag/provision.env" stop >/dev/null 2>&1
  done
  (ROOT=$base/server; . "$prov/postgres.sh"; prov_postgres_stop)
  for n in 1 2; do cell_host_down "$n" 2 "$(lab_cell_ns "$n")"; rm -rf "/sys/fs/bpf/wiretag-$id-cell$n"; done
  for ns in "$id-server" "$(lab_cell_ns 1)" "$(lab_cell_ns 2)" "$net"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$base"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "vm_lab.sh: run as root"; exit 1; }
mkdir -p "$base/pkg"

echo "# the .deb (cpack, from $build)"
(cd "$base/pkg" && cpack --config "$build/CPackConfig.cmake" -B "$base/pkg" >"$base/pkg/cpack.log" 2>&1) ||
  { cat "$base/pkg/cpack.log"; echo "FAIL cpack"; exit 1; }
deb=$(ls "$base"/pkg/wiretag_*.deb | head -1)

echo "# certificates as the Vagrantfile's trigger makes them on the Vagrant host"
certs=$base/certs
"$src/scripts/make-certs.sh" "$certs" ca >/dev/null &&
  "$src/scripts/make-certs.sh" "$certs" server wiretag-server 198.18.0.10 >/dev/null &&
  "$src/scripts/make-certs.sh" "$certs" cell cell1 >/dev/null &&
  "$src/scripts/make-certs.sh" "$certs" cell cell2 >/dev/null || { echo "FAIL make-certs"; exit 1; }

echo "# the hosts: namespaces on a bridge (the private network)"
lab__ns_ensure "$net" && ip -n "$net" link add br0 type bridge && ip -n "$net" link set br0 up ||
  { echo "FAIL private network"; exit 1; }
declare -A host_ns=([server]=$id-server [cell1]=$(lab_cell_ns 1) [cell2]=$(lab_cell_ns 2))
declare -A host_ip=([server]=198.18.0.10 [cell1]=198.18.0.11 [cell2]=198.18.0.12)
for h in server cell1 cell2; do
  ns=${host_ns[$h]}
  lab__ns_ensure "$ns" &&
    ip -n "$net" link add "$h" type veth peer name eth1 netns "$ns" &&
    ip -n "$net" link set "$h" master br0 up &&
    ip -n "$ns" addr add "${host_ip[$h]}/24" dev eth1 &&
    ip -n "$ns" link set eth1 up || { echo "FAIL host $h"; exit 1; }
done

echo "# provisioning (scripts/provision/, as in the Vagrantfile)"
bash "$prov/server.sh" --ip 198.18.0.10 --deb "$deb" --certs "$certs" \
  --root "$base/server" --netns "$id-server" || { echo "FAIL provision server"; exit 1; }
for n in 1 2; do
  peer=$((3 - n))
  bash "$prov/cell.sh" --index "$n" --ip "198.18.0.1$n" --server-ip 198.18.0.10 \
    --peer "$peer=198.18.0.1$peer" --deb "$deb" --certs "$certs" --lab-id "$id" \
    --root "$base/cell$n" --netns "$(lab_cell_ns "$n")" --pin-dir "/sys/fs/bpf/wiretag-$id-cell$n" ||
    { echo "FAIL provision cell$n"; tail -n 20 "$base/cell$n/var/log/wiretag-agent.log"; exit 1; }
done
# The agents authenticated by their client certificates: the server lists both cells.
cells=$(bash "$prov/host.sh" --state "$base/server/etc/wiretag/provision.env" cli cell list -o json)
for n in 1 2; do
  grep -q "\"cell$n\"" <<<"$cells" || { echo "FAIL: the server does not list cell$n: $cells"; exit 1; }
done
echo "ok   both cells registered with the server over mutual TLS"
# The server's store is the host's PostgreSQL database, not SQLite in its data dir.
pg_apps() { (ROOT=$base/server; . "$prov/postgres.sh"; prov_pg_psql -d wiretag -tAc "SELECT count(*) FROM apps"); }
grep -qx "WIRETAG_SERVER_DB=postgresql:///wiretag?host=$base/server/run/postgresql&user=wiretag" \
  "$base/server/etc/wiretag/server.env" || { echo "FAIL: server.env names no PostgreSQL store"; exit 1; }
[ -n "$(pg_apps)" ] && [ ! -e "$base/server/var/lib/wiretag-server/wiretag.db" ] ||
  { echo "FAIL: the server's store is not the PostgreSQL database wiretag"; exit 1; }
echo "ok   the server's store is PostgreSQL (database wiretag; no wiretag.db)"

echo "# the cross-host checks (scripts/provision/check.sh, vagrant/check.sh's)"
bash "$prov/check.sh" --states "$base"
rc=$?
# check.sh registered four apps through the server: they are rows of the PostgreSQL database.
apps=$(pg_apps)
if [ "${apps:-0}" -ge 4 ]; then echo "ok   the apps registered are in PostgreSQL ($apps rows)"
else echo "FAIL: PostgreSQL holds ${apps:-no} apps, not the 4 registered"; rc=1; fi
if [ $rc != 0 ]; then
  for f in server/var/log/wiretag-server.log cell1/var/log/wiretag-agent.log cell2/var/log/wiretag-agent.log; do
    echo "--- $f"; tail -n 15 "$base/$f"
  done
fi
exit $rc
