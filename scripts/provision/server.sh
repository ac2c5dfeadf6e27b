#!/usr/bin/env bash
# Provisions the wiretag server host (the Vagrant VM "server"; or, with --root and --netns,
# a network namespace playing it): the .deb, the store's PostgreSQL database
# (scripts/provision/postgres.sh; --store sqlite: SQLite in the data dir instead), TLS from
# the certificates made on the Vagrant host (scripts/make-certs.sh), /etc/wiretag/server.env,
# wiretag-server started (systemd).
#
#   scripts/provision/server.sh --ip IP --deb DEB --certs DIR [--store postgresql|sqlite]
#       [--root DIR --netns NS]
#
# DIR holds ca.pem and wiretag-server.pem/.key (SAN: IP). Agents authenticate with client
# certificates signed by ca.pem (mutual TLS), so no token has to travel between the VMs.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/postgres.sh"
PROV_NAME=server ip="" deb="" certs="" store=postgresql ROOT="" NETNS=""
while [ $# -gt 0 ]; do
  case $1 in
    --ip) ip=$2; shift 2 ;;
    --deb) deb=$2; shift 2 ;;
    --certs) certs=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    --root) ROOT=$2; shift 2 ;;
    --netns) NETNS=$2; shift 2 ;;
    *) prov_die "unknown argument $1 (see the header of $0)" ;;
  esac
done
[ -n "$ip" ] && [ -n "$deb" ] && [ -n "$certs" ] || prov_die "--ip, --deb and --certs are needed"
[ "$store" = postgresql ] || [ "$store" = sqlite ] || prov_die "--store postgresql or sqlite"
[ "$(id -u)" = 0 ] || prov_die "run as root"

prov_install_deb "$deb"
db=sqlite
if [ "$store" = postgresql ]; then db=$(prov_postgres) || prov_die "the store's PostgreSQL"; fi
tls=$ROOT/etc/wiretag/tls
install -d -m 0750 "$tls"
install -m 0644 "$certs/ca.pem" "$tls/ca.pem"
install -m 0640 "$certs/wiretag-server.pem" "$tls/server.pem"
install -m 0640 "$certs/wiretag-server.key" "$tls/server.key"
getent group wiretag >/dev/null && chgrp -R wiretag "$tls"
prov_env_file server \
  "WIRETAG_SERVER_LISTEN=$ip:4002" \
  "WIRETAG_SERVER_DATA_DIR=$ROOT/var/lib/wiretag-server" \
  "WIRETAG_SERVER_DB=$db" \
  "WIRETAG_SERVER_UI_DIR=$ROOT/usr/share/wiretag/ui" \
  "WIRETAG_SERVER_TLS_CERT=$tls/server.pem" \
  "WIRETAG_SERVER_TLS_KEY=$tls/server.key" \
  "WIRETAG_SERVER_TLS_CLIENT_CA=$tls/ca.pem"
prov_state_set ROLE server ROOT "$ROOT" NETNS "$NETNS" STORE "$store" SERVER_URL "https://$ip:4002" \
  CA "$tls/ca.pem" TOKEN_FILE "$ROOT/var/lib/wiretag-server/admin-token" \
  PAP_CREDENTIALS "$ROOT/var/lib/wiretag-server/pap-credentials" CLI "$ROOT/usr/bin/wiretag"
prov_service start server
prov_log "wiretag-server on https://$ip:4002 (data $ROOT/var/lib/wiretag-server, store $store)"
