#!/usr/bin/env bash
# Makes a throwaway CA and certificates for wiretag's TLS listeners and clients, for labs,
# demos and tests — not for production (keys are unencrypted, the CA key sits beside them).
#
#   scripts/make-certs.sh DIR ca                      DIR/ca.pem, DIR/ca.key
#   scripts/make-certs.sh DIR server NAME [ADDR...]   DIR/NAME.pem/.key: serverAuth, SANs
#                                                     DNS:NAME plus each ADDR (IP or DNS)
#   scripts/make-certs.sh DIR cell NAME               DIR/cell-NAME.pem/.key: clientAuth,
#                                                     CN=NAME and SAN URI wiretag:cell:NAME
#                                                     (the server takes the cell's name
#                                                     from it; see docs/server.md, TLS)
# Options (environment): DAYS (default 30), NOT_BEFORE / NOT_AFTER (YYYYMMDDHHMMSSZ, for
# tests that need an expired certificate), CA_DIR (sign with the CA of another DIR).
set -euo pipefail

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 2 ] || usage
dir=$1
kind=$2
shift 2
mkdir -p "$dir"
chmod 0700 "$dir"
ca_dir=${CA_DIR:-$dir}
days=${DAYS:-30}

sign() { # csr ext-file out
  local validity=(-days "$days")
  if [ -n "${NOT_BEFORE:-}" ] || [ -n "${NOT_AFTER:-}" ]; then
    # `openssl ca` is the only front end that takes explicit dates; a minimal config for it.
    local db
    db=$(mktemp -d)
    : >"$db/index.txt"
    cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $db/index.txt
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = p
copy_extensions = none
unique_subject = no
[p]
commonName = supplied
EOF
    openssl rand -hex 16 >"$db/serial"
    openssl ca -batch -config "$db/ca.cnf" -notext -cert "$ca_dir/ca.pem" -keyfile "$ca_dir/ca.key" \
      -startdate "${NOT_BEFORE:-20200101000000Z}" -enddate "${NOT_AFTER:-20300101000000Z}" \
      -extfile "$2" -in "$1" -out "$3" 2>/dev/null
    rm -rf "$db"
    return
  fi
  openssl x509 -req -in "$1" -CA "$ca_dir/ca.pem" -CAkey "$ca_dir/ca.key" -CAcreateserial \
    -CAserial "$dir/ca.srl" -extfile "$2" "${validity[@]}" -sha256 -out "$3" 2>/dev/null
}

leaf() { # name cn ext-lines
  local name=$1 cn=$2 ext=$3 tmp
  tmp=$(mktemp -d)
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name.key" -subj "/CN=$cn" -out "$tmp/csr" 2>/dev/null
  printf '%s\n' "$ext" >"$tmp/ext"
  sign "$tmp/csr" "$tmp/ext" "$dir/$name.pem"
  chmod 0600 "$dir/$name.key"
  rm -rf "$tmp"
}

case $kind in
  ca)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" -days "$days" -subj "/CN=wiretag throwaway CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      2>/dev/null
    chmod 0600 "$dir/ca.key"
    ;;
  server)
    [ $# -ge 1 ] || usage
    name=$1
    shift
    sans="DNS:$name"
    for a in "$@"; do
      if [[ $a =~ ^[0-9.]+$ || $a == *:* ]]; then sans+=",IP:$a"; else sans+=",DNS:$a"; fi
    done
    leaf "$name" "$name" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$sans"
    ;;
  cell)
    [ $# -eq 1 ] || usage
    leaf "cell-$1" "$1" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=URI:wiretag:cell:$1"
    ;;
  *) usage ;;
esac
