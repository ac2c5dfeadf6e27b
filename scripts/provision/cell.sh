#!/usr/bin/env bash
# Provisions a cell host (the Vagrant VMs "cell1", "cell2"; or, with --root and --netns, a
# network namespace playing one): the .deb; the cell's network as the netns lab builds it
# (scripts/lib/cell_host.sh with lib/lab.sh's addressing): containers as network namespaces
# on veths behind br0, vxlan0 in GBP mode over the private network to every peer cell;
# /etc/wiretag/agent.env (mutual TLS with the server); wiretag-agent started (systemd).
#
#   scripts/provision/cell.sh --index N --ip IP --server-ip IP --deb DEB --certs DIR
#       [--peer J=IP ...] [--name NAME] [--containers M] [--lab-id ID]
#       [--root DIR --netns NS --pin-dir DIR]
#
# DIR holds ca.pem and cell-NAME.pem/.key (scripts/make-certs.sh DIR cell NAME).
set -euo pipefail
. "$(dirname "$0")/common.sh"
index="" ip="" server_ip="" deb="" certs="" name="" ctrs=2 lab_id=vm peers=() ROOT="" NETNS=""
pin_dir=/sys/fs/bpf/wiretag
while [ $# -gt 0 ]; do
  case $1 in
    --index) index=$2; shift 2 ;;
    --ip) ip=$2; shift 2 ;;
    --server-ip) server_ip=$2; shift 2 ;;
    --deb) deb=$2; shift 2 ;;
    --certs) certs=$2; shift 2 ;;
    --peer) peers+=("$2"); shift 2 ;;
    --name) name=$2; shift 2 ;;
    --containers) ctrs=$2; shift 2 ;;
    --lab-id) lab_id=$2; shift 2 ;;
    --root) ROOT=$2; shift 2 ;;
    --netns) NETNS=$2; shift 2 ;;
    --pin-dir) pin_dir=$2; shift 2 ;;
    *) prov_die "unknown argument $1 (see the header of $0)" ;;
  esac
done
name=${name:-cell$index}
PROV_NAME=$name
[[ $index =~ ^[1-8]$ ]] || prov_die "--index must be 1..8"
[ -n "$ip" ] && [ -n "$server_ip" ] && [ -n "$deb" ] && [ -n "$certs" ] ||
  prov_die "--ip, --server-ip, --deb and --certs are needed"
[ "$(id -u)" = 0 ] || prov_die "run as root"
lab_init "$lab_id" || exit 1

prov_install_deb "$deb"
cell_host_up "$index" "$ctrs" "$ip" "$NETNS" || prov_die "the cell's network"
for p in "${peers[@]}"; do
  cell_host_peer "$index" "${p%%=*}" "${p#*=}" "$NETNS" || prov_die "peer $p"
done
tls=$ROOT/etc/wiretag/tls
install -d -m 0700 "$tls"
install -m 0644 "$certs/ca.pem" "$tls/ca.pem"
install -m 0600 "$certs/cell-$name.pem" "$tls/cell.pem"
install -m 0600 "$certs/cell-$name.key" "$tls/cell.key"
state=$ROOT/var/lib/wiretag-agent
prov_env_file agent \
  "WIRETAG_AGENT_SERVER=https://$server_ip:4002" \
  "WIRETAG_AGENT_CELL=$name" \
  "WIRETAG_AGENT_CA=$tls/ca.pem" \
  "WIRETAG_AGENT_CLIENT_CERT=$tls/cell.pem" \
  "WIRETAG_AGENT_CLIENT_KEY=$tls/cell.key" \
  "WIRETAG_AGENT_STATE_DIR=$state" \
  "WIRETAG_AGENT_PIN_DIR=$pin_dir"
prov_state_set ROLE cell ROOT "$ROOT" NETNS "$NETNS" LAB_ID "$lab_id" CELL_INDEX "$index" \
  CELL_NAME "$name" CONTAINERS "$ctrs" SOCKET "$state/plugin.sock" CLI "$ROOT/usr/bin/wiretag" \
  PIN_DIR "$pin_dir"
prov_service start agent
prov_log "wiretag-agent $name: containers $(lab_ip4 "$index" 1)..$(lab_ip4 "$index" "$ctrs"), pin dir $pin_dir"
