# The multi-cell lab (source it): N cell namespaces joined by a veth underlay through a bridge
# in an underlay namespace, a VXLAN device in GBP mode per cell, M container namespaces per
# cell, and optionally one wiretag-server and one wiretag-agent per cell. See docs/lab.md.
#
# Addresses only from 198.18.0.0/15 and 2001:2::/48; nothing is routed out of the lab's
# namespaces. Namespaces, pin dirs, the state dir and process arguments all carry the lab id;
# interface names are fixed because they only ever exist inside the lab's own namespaces.

LAB_RUN_DIR=/run/wiretag-lab
LAB_VNI=42
LAB_MAX_CELLS=8
LAB_MAX_CONTAINERS=250
LAB_MAKE_CERTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/make-certs.sh

# lab_init [ID]: select the lab (default $WT_LAB_ID, else wtlab).
lab_init() {
  LAB_ID=${1:-${WT_LAB_ID:-wtlab}}
  if ! [[ $LAB_ID =~ ^[A-Za-z0-9_]{1,32}$ ]]; then
    echo "lab: bad lab id '$LAB_ID' (1-32 of A-Z a-z 0-9 _)" >&2
    return 1
  fi
  LAB_STATE=$LAB_RUN_DIR/$LAB_ID
  LAB_ENV=$LAB_STATE/env
}

lab_underlay_ns() { echo "${LAB_ID}-ul"; }
lab_cell_ns() { echo "${LAB_ID}-cell$1"; }                 # cell N's namespace name
lab_cell_netns() { echo "/run/netns/${LAB_ID}-cell$1"; }   # ... and its file, for --netns
lab_ns() { echo "${LAB_ID}-cell$1-c$2"; }                  # container C of cell N
lab_pin_dir() { echo "/sys/fs/bpf/wiretag-${LAB_ID}-cell$1"; }
lab_hostif() { echo "ctr$2"; }                             # host side of container C's veth, in cell N
lab_underlay_ip() { echo "198.18.0.$1"; }                  # cell N's VTEP (on ul0)
lab_vtep_ip4() { echo "198.19.0.$1"; }                     # cell N's vxlan0 (next hop for its containers)
lab_vtep_ip6() { echo "2001:2::$1"; }
lab_vtep_mac() { printf '02:77:74:00:00:%02x\n' "$1"; }
lab_gw4() { echo "198.19.$1.254"; }                        # cell N's br0, the containers' gateway
lab_gw6() { echo "2001:2:0:$1::fe"; }
lab_ip4() { echo "198.19.$1.$2"; }
lab_ip6() { echo "2001:2:0:$1::$2"; }

# lab_exec N C CMD...: run in container C of cell N. lab_cell_exec N CMD...: in cell N.
lab_exec() { local n=$1 c=$2; shift 2; ip netns exec "$(lab_ns "$n" "$c")" "$@"; }
lab_cell_exec() { local n=$1; shift; ip netns exec "$(lab_cell_ns "$n")" "$@"; }

# lab_curl ARGS...: curl that trusts the lab's CA (when the lab runs over TLS; after lab_load).
lab_curl() { curl ${WT_LAB_CA:+--cacert "$WT_LAB_CA"} "$@"; }

lab_sockaddr() { case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac; }

# lab_tcp_ok N C ADDR PORT: does container (N,C) get its line echoed back over TCP?
lab_tcp_ok() {
  local n=$1 c=$2 addr=$3 port=$4 out
  out=$(lab_exec "$n" "$c" timeout 3 socat -T2 - "TCP:$(lab_sockaddr "$addr" "$port"),connect-timeout=2" \
    <<<"ping-$n-$c" 2>/dev/null)
  [ "$out" = "ping-$n-$c" ]
}

lab_udp_ok() {
  local n=$1 c=$2 addr=$3 port=$4 out
  out=$(lab_exec "$n" "$c" timeout 3 socat -T2 - "UDP:$(lab_sockaddr "$addr" "$port")" \
    <<<"ping-$n-$c" 2>/dev/null)
  [ "$out" = "ping-$n-$c" ]
}

lab_ping_ok() {
  local n=$1 c=$2 addr=$3
  lab_exec "$n" "$c" ping -c1 -W1 -q "$addr" >/dev/null 2>&1
}

# lab_echo_servers N C PORT...: TCP and UDP echo servers (v4 and v6) in container (N,C).
# They live in the container's namespace, so lab_down ends them.
lab_echo_servers() {
  local n=$1 c=$2 port; shift 2
  for port in "$@"; do
    lab_exec "$n" "$c" socat "TCP6-LISTEN:$port,ipv6only=0,reuseaddr,fork" EXEC:cat >/dev/null 2>&1 &
    lab_exec "$n" "$c" socat "UDP6-RECVFROM:$port,ipv6only=0,reuseaddr,fork" EXEC:cat >/dev/null 2>&1 &
  done
}

# ---- state (env file) --------------------------------------------------------------------

lab_exists() { [ -f "$LAB_ENV" ]; }

# lab_load: read the env file into the shell (WT_LAB_* variables).
lab_load() {
  lab_exists || { echo "lab $LAB_ID: not up (no $LAB_ENV)" >&2; return 1; }
  # shellcheck disable=SC1090
  . "$LAB_ENV"
}

# lab_env_set KEY VALUE [KEY VALUE...]: set variables in the env file (atomic rewrite).
lab_env_set() {
  mkdir -p "$LAB_STATE" || return 1
  local tmp=$LAB_ENV.tmp.$$ keys=() args=("$@") i
  for ((i = 0; i < ${#args[@]}; i += 2)); do keys+=("${args[i]}"); done
  {
    [ -f "$LAB_ENV" ] && grep -v -E "^($(IFS='|'; echo "${keys[*]}"))=" "$LAB_ENV"
    for ((i = 0; i < ${#args[@]}; i += 2)); do
      printf '%s=%q\n' "${args[i]}" "${args[i + 1]}"
    done
  } >"$tmp" && mv -f "$tmp" "$LAB_ENV"
}

# ---- topology ----------------------------------------------------------------------------

lab__run() { "$@" || { echo "lab: failed: $*" >&2; return 1; }; }
lab__has_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$1"; }
lab__has_link() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }

# lab__ns_ensure NAME: a namespace with lo up, no DAD (addresses usable at once).
lab__ns_ensure() {
  lab__has_ns "$1" || lab__run ip netns add "$1" || return 1
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
    >/dev/null 2>&1
  return 0
}

# lab_up CELLS CONTAINERS: build the topology, or complete it if it is partly there.
lab_up() {
  local cells=$1 ctrs=$2 ul n j c cns
  if ! [[ $cells =~ ^[0-9]+$ ]] || [ "$cells" -lt 2 ] || [ "$cells" -gt $LAB_MAX_CELLS ]; then
    echo "lab: --cells must be 2..$LAB_MAX_CELLS" >&2; return 1
  fi
  if ! [[ $ctrs =~ ^[0-9]+$ ]] || [ "$ctrs" -lt 1 ] || [ "$ctrs" -gt $LAB_MAX_CONTAINERS ]; then
    echo "lab: --containers must be 1..$LAB_MAX_CONTAINERS" >&2; return 1
  fi
  mkdir -p "$LAB_STATE" && chmod 0755 "$LAB_RUN_DIR" "$LAB_STATE" || return 1

  # Underlay: a bridge in its own namespace, one veth per cell; IPv4 only.
  ul=$(lab_underlay_ns)
  lab__ns_ensure "$ul" || return 1
  ip netns exec "$ul" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
  if ! lab__has_link "$ul" br0; then
    lab__run ip -n "$ul" link add br0 type bridge || return 1
  fi
  lab__run ip -n "$ul" link set br0 up || return 1

  for n in $(seq 1 "$cells"); do
    cns=$(lab_cell_ns "$n")
    lab__ns_ensure "$cns" || return 1
    ip netns exec "$cns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
      net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 >/dev/null || return 1
    if ! lab__has_link "$cns" ul0; then
      lab__run ip -n "$ul" link add "cell$n" mtu 1550 type veth peer name ul0 netns "$cns" || return 1
    fi
    lab__run ip -n "$ul" link set "cell$n" master br0 up || return 1
    ip netns exec "$cns" sysctl -qw net.ipv6.conf.ul0.disable_ipv6=1 >/dev/null
    lab__run ip -n "$cns" link set ul0 mtu 1550 up || return 1
    lab__run ip -n "$cns" addr replace "$(lab_underlay_ip "$n")/24" dev ul0 || return 1

    # The VTEP: GBP mode carries skb->mark's low 16 bits (the wire tag) in the header.
    if ! lab__has_link "$cns" vxlan0; then
      lab__run ip -n "$cns" link add vxlan0 address "$(lab_vtep_mac "$n")" mtu 1500 type vxlan \
        id $LAB_VNI dstport 4789 local "$(lab_underlay_ip "$n")" dev ul0 gbp || return 1
    fi
    lab__run ip -n "$cns" link set vxlan0 up || return 1
    lab__run ip -n "$cns" addr replace "$(lab_vtep_ip4 "$n")/24" dev vxlan0 || return 1
    lab__run ip -n "$cns" addr replace "$(lab_vtep_ip6 "$n")/64" dev vxlan0 nodad || return 1

    # Containers' L2 segment: a bridge that is their gateway.
    if ! lab__has_link "$cns" br0; then
      lab__run ip -n "$cns" link add br0 type bridge || return 1
    fi
    lab__run ip -n "$cns" link set br0 up || return 1
    lab__run ip -n "$cns" addr replace "$(lab_gw4 "$n")/24" dev br0 || return 1
    lab__run ip -n "$cns" addr replace "$(lab_gw6 "$n")/64" dev br0 nodad || return 1

    for c in $(seq 1 "$ctrs"); do
      local ns hif
      ns=$(lab_ns "$n" "$c")
      hif=$(lab_hostif "$n" "$c")
      lab__ns_ensure "$ns" || return 1
      if ! lab__has_link "$cns" "$hif"; then
        lab__run ip -n "$cns" link add "$hif" type veth peer name eth0 netns "$ns" || return 1
      fi
      lab__run ip -n "$cns" link set "$hif" master br0 up || return 1
      lab__run ip -n "$ns" addr replace "$(lab_ip4 "$n" "$c")/24" dev eth0 || return 1
      lab__run ip -n "$ns" addr replace "$(lab_ip6 "$n" "$c")/64" dev eth0 nodad || return 1
      lab__run ip -n "$ns" link set eth0 up || return 1
      lab__run ip -n "$ns" route replace default via "$(lab_gw4 "$n")" dev eth0 || return 1
      lab__run ip -n "$ns" -6 route replace default via "$(lab_gw6 "$n")" dev eth0 || return 1
    done
  done

  # L3 over the VXLAN: every other cell's subnets via its vxlan0 address; static neighbours and
  # FDB entries (no ARP/NDP across the underlay), plus all-zero flood entries to every cell.
  for n in $(seq 1 "$cells"); do
    cns=$(lab_cell_ns "$n")
    for j in $(seq 1 "$cells"); do
      [ "$j" = "$n" ] && continue
      lab__run ip -n "$cns" neigh replace "$(lab_vtep_ip4 "$j")" lladdr "$(lab_vtep_mac "$j")" \
        dev vxlan0 nud permanent || return 1
      lab__run ip -n "$cns" -6 neigh replace "$(lab_vtep_ip6 "$j")" lladdr "$(lab_vtep_mac "$j")" \
        dev vxlan0 nud permanent || return 1
      lab__run bridge -n "$cns" fdb replace "$(lab_vtep_mac "$j")" dev vxlan0 \
        dst "$(lab_underlay_ip "$j")" self permanent || return 1
      if ! bridge -n "$cns" fdb show dev vxlan0 |
        grep -q "^00:00:00:00:00:00 dst $(lab_underlay_ip "$j") "; then
        lab__run bridge -n "$cns" fdb append 00:00:00:00:00:00 dev vxlan0 \
          dst "$(lab_underlay_ip "$j")" self permanent || return 1
      fi
      lab__run ip -n "$cns" route replace "198.19.$j.0/24" via "$(lab_vtep_ip4 "$j")" dev vxlan0 ||
        return 1
      lab__run ip -n "$cns" -6 route replace "2001:2:0:$j::/64" via "$(lab_vtep_ip6 "$j")" \
        dev vxlan0 || return 1
    done
  done

  local vars=(WT_LAB_ID "$LAB_ID" WT_LAB_STATE "$LAB_STATE" WT_LAB_CELLS "$cells"
    WT_LAB_CONTAINERS "$ctrs" WT_LAB_UNDERLAY_NS "$ul")
  for n in $(seq 1 "$cells"); do
    vars+=("WT_LAB_CELL_NS_$n" "$(lab_cell_netns "$n")" "WT_LAB_PIN_DIR_$n" "$(lab_pin_dir "$n")"
      "WT_LAB_UNDERLAY_IP_$n" "$(lab_underlay_ip "$n")")
    for c in $(seq 1 "$ctrs"); do
      vars+=("WT_LAB_NS_${n}_$c" "$(lab_ns "$n" "$c")" "WT_LAB_HOSTIF_${n}_$c" "$(lab_hostif "$n" "$c")"
        "WT_LAB_IP4_${n}_$c" "$(lab_ip4 "$n" "$c")" "WT_LAB_IP6_${n}_$c" "$(lab_ip6 "$n" "$c")")
    done
  done
  lab_env_set "${vars[@]}"
}

# ---- processes ---------------------------------------------------------------------------

# lab__proc_matches PID ARG: is PID alive and is ARG one of its arguments? (guards against
# pid reuse: the lab's processes all carry a lab-specific path as an argument)
lab__proc_matches() {
  local pid=$1 arg=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  grep -qazxF -- "$arg" "/proc/$pid/cmdline" 2>/dev/null
}

# lab__stop PID ARG [--kill]: SIGTERM (or SIGKILL) and wait up to 10 s, then SIGKILL and wait.
# Returns once the process has exited (a zombie has an empty cmdline, so it no longer matches;
# /proc files have size 0, so `[ -s /proc/PID/cmdline ]` cannot tell a live process from one).
lab__stop() {
  local pid=$1 arg=$2 sig=TERM i
  [ "${3:-}" = --kill ] && sig=KILL
  lab__proc_matches "$pid" "$arg" || return 0
  kill -s "$sig" "$pid" 2>/dev/null
  for i in $(seq 1 150); do
    if ! lab__proc_matches "$pid" "$arg"; then
      wait "$pid" 2>/dev/null  # reaps it if it is a child of this shell
      return 0
    fi
    [ "$i" = 100 ] && kill -KILL "$pid" 2>/dev/null
    sleep 0.1
  done
  echo "lab: process $pid ($arg) did not exit after SIGKILL" >&2
  return 1
}

# lab__spawn LOG BIN ARGS...: start a detached process (own session, survives this shell),
# wait up to 20 s for "listening on 127.0.0.1:PORT" in its output; prints "PID PORT".
lab__spawn() {
  local log=$1 off pid port i; shift
  touch "$log" && off=$(stat -c %s "$log")
  echo "# $(date -Is) $*" >>"$log"
  setsid "$@" >>"$log" 2>&1 </dev/null &
  pid=$!
  for i in $(seq 1 200); do
    port=$(tail -c +"$((off + 1))" "$log" | grep -m1 -o 'listening on 127\.0\.0\.1:[0-9]*' |
      sed 's/.*://')
    [ -n "$port" ] && { echo "$pid $port"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  echo "lab: $(basename "$1") did not report 'listening on 127.0.0.1:PORT' within 20 s; $log:" >&2
  tail -n 5 "$log" | sed 's/^/  /' >&2
  return 1
}

lab__server_bin() { echo "$1/userspace/server/wiretag-server"; }
lab__agent_bin() { echo "$1/userspace/agent/wiretag-agent"; }

# lab_check_build DIR [--no-agents]: the binaries lab_start_* will run exist.
lab_check_build() {
  local bin
  for bin in "$(lab__server_bin "$1")" $([ "${2:-}" = --no-agents ] || lab__agent_bin "$1"); do
    if [ ! -x "$bin" ]; then
      echo "lab: $bin does not exist or is not executable (build it, or use 'up' without --build" \
        "for the topology alone, or --no-agents for the server alone)" >&2
      return 1
    fi
  done
}

# lab__tls: decide once per lab, at the server's first start, whether the lab runs over TLS
# (the default; WT_LAB_TLS=0: plain HTTP) and make its certificates under $LAB_STATE/certs: a
# throwaway CA (ca.pem, recorded as WT_LAB_CA; empty for plain HTTP) and one certificate for
# localhost/127.0.0.1 (localhost.pem/.key) that the server and the agents' listeners present.
lab__tls() {
  local certs=$LAB_STATE/certs
  if ! grep -q '^WT_LAB_CA=' "$LAB_ENV" 2>/dev/null; then
    if [ "${WT_LAB_TLS:-1}" = 0 ]; then
      lab_env_set WT_LAB_CA "" || return 1
    else
      if [ ! -s "$certs/localhost.pem" ]; then
        "$LAB_MAKE_CERTS" "$certs" ca && "$LAB_MAKE_CERTS" "$certs" server localhost 127.0.0.1 ||
          { echo "lab: cannot make the lab's certificates in $certs" >&2; return 1; }
      fi
      lab_env_set WT_LAB_CA "$certs/ca.pem" || return 1
    fi
  fi
  lab_load
}

# lab__scheme: https when the lab runs over TLS, else http.
lab__scheme() { if [ -n "${WT_LAB_CA:-}" ]; then echo https; else echo http; fi; }

# lab_start_server: start wiretag-server unless it runs. The port is picked by the kernel at
# first start and reused on every restart, so agents keep their URL; if it has been taken in
# the meantime the server gets a new one and the running agents are restarted with it.
lab_start_server() {
  lab_load || return 1
  local build=${WT_LAB_BUILD:?lab: no build dir recorded (up --build DIR)} data=$LAB_STATE/server
  local pid port out n scheme tls=()
  if lab__proc_matches "${WT_LAB_SERVER_PID:-}" "$data"; then return 0; fi
  mkdir -p "$data"
  lab__tls || return 1
  scheme=$(lab__scheme)
  if [ -n "$WT_LAB_CA" ]; then
    tls=(--tls-cert "$LAB_STATE/certs/localhost.pem" --tls-key "$LAB_STATE/certs/localhost.key"
      --tls-client-ca "$WT_LAB_CA")
  fi
  if [ -n "${WT_LAB_SERVER_PORT:-}" ]; then
    out=$(lab__spawn "$LAB_STATE/server.log" "$(lab__server_bin "$build")" \
      --listen "127.0.0.1:$WT_LAB_SERVER_PORT" --data-dir "$data" "${tls[@]}" 2>/dev/null) ||
      echo "lab: port $WT_LAB_SERVER_PORT is no longer free; the server takes a new one" >&2
  fi
  if [ -z "${out:-}" ]; then
    out=$(lab__spawn "$LAB_STATE/server.log" "$(lab__server_bin "$build")" \
      --listen 127.0.0.1:0 --data-dir "$data" "${tls[@]}") || return 1
  fi
  read -r pid port <<<"$out"
  lab_env_set WT_LAB_SERVER_PID "$pid" WT_LAB_SERVER_PORT "$port" \
    WT_LAB_SERVER "$scheme://127.0.0.1:$port" WT_LAB_TOKEN_FILE "$data/admin-token" \
    WT_LAB_SERVER_LOG "$LAB_STATE/server.log"
  echo "lab $LAB_ID: server pid $pid on $scheme://127.0.0.1:$port${WT_LAB_CA:+ (CA $WT_LAB_CA)}"
  if [ -n "${WT_LAB_SERVER_PORT:-}" ] && [ "$port" != "$WT_LAB_SERVER_PORT" ]; then
    lab_load || return 1
    for n in $(seq 1 "$WT_LAB_CELLS"); do
      local apid_var=WT_LAB_AGENT_PID_$n
      if lab__proc_matches "${!apid_var:-}" "$LAB_ID-cell$n"; then
        lab_stop_agent "$n" && lab_start_agent "$n" || return 1
      fi
    done
  fi
}

lab_stop_server() {
  lab_load || return 1
  lab__stop "${WT_LAB_SERVER_PID:-}" "$LAB_STATE/server" "${1:-}"
  lab_env_set WT_LAB_SERVER_PID ""
}

# lab__cell_token N: cell N's own token (scope cell, bound to cell N), issued once by the
# server with the admin token into $LAB_STATE/cellN/cell-token (0600). Agents never run with
# the admin token: a cell credential can act only as its cell.
lab__cell_token() {
  local n=$1 file=$LAB_STATE/cell$1/cell-token reply token
  [ -s "$file" ] && return 0
  reply=$(lab_curl -sS -m 10 -X POST -H "Authorization: Bearer $(cat "$LAB_STATE/server/admin-token")" \
    -d "{\"scopes\":[\"cell\"],\"cell\":\"$LAB_ID-cell$n\",\"description\":\"lab $LAB_ID cell $n\"}" \
    "$WT_LAB_SERVER/v1/tokens") || { echo "lab: cannot issue cell $n's token" >&2; return 1; }
  token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$reply" 2>/dev/null)
  [ -n "$token" ] || { echo "lab: cell $n's token: unexpected answer: $reply" >&2; return 1; }
  (umask 077 && echo "$token" >"$file")
}

# lab__cell_credentials N: the agent flags that authenticate cell N with the server. Over TLS,
# cell 1 presents a client certificate (SAN URI wiretag:cell:ID-cell1, signed by the lab's CA:
# mutual TLS) instead of a token; every other cell, and every cell over plain HTTP, a token.
lab__cell_credentials() {
  local n=$1 certs=$LAB_STATE/certs
  if [ -n "${WT_LAB_CA:-}" ] && [ "$n" = 1 ]; then
    if [ ! -s "$certs/cell-$LAB_ID-cell1.pem" ]; then
      "$LAB_MAKE_CERTS" "$certs" cell "$LAB_ID-cell1" >&2 ||
        { echo "lab: cannot make cell 1's certificate" >&2; return 1; }
    fi
    echo --client-cert "$certs/cell-$LAB_ID-cell1.pem" --client-key "$certs/cell-$LAB_ID-cell1.key"
    return 0
  fi
  lab__cell_token "$n" || return 1
  echo --token-file "$LAB_STATE/cell$n/cell-token"
}

# lab_start_agent N: start cell N's agent unless it runs (port reused like the server's). Over
# TLS it trusts the lab's CA (--ca) and serves /healthz over HTTPS with the lab's certificate.
lab_start_agent() {
  local n=$1
  lab_load || return 1
  local build=${WT_LAB_BUILD:?lab: no build dir recorded (up --build DIR)}
  local pid_var=WT_LAB_AGENT_PID_$n port_var=WT_LAB_AGENT_PORT_$n out pid port
  [ -n "${WT_LAB_SERVER:-}" ] || { echo "lab: no server recorded; start it first" >&2; return 1; }
  if lab__proc_matches "${!pid_var:-}" "$LAB_ID-cell$n"; then return 0; fi
  mkdir -p "$LAB_STATE/cell$n"
  local cred scheme
  cred=$(lab__cell_credentials "$n") || return 1
  scheme=$(lab__scheme)
  # shellcheck disable=SC2206 # lab paths have no spaces
  local args=(--server "$WT_LAB_SERVER" --cell "$LAB_ID-cell$n" --pin-dir "$(lab_pin_dir "$n")"
    --state-dir "$LAB_STATE/cell$n" $cred)
  # WT_LAB_UNDERLAY_GATE=1: the XDP gate on the cell's ul0 (its VTEP reported to the server).
  [ -n "${WT_LAB_UNDERLAY_GATE:-}" ] && args+=(--underlay ul0 --underlay-netns "$(lab_cell_netns "$n")")
  if [ -n "${WT_LAB_CA:-}" ]; then
    args+=(--ca "$WT_LAB_CA" --tls-cert "$LAB_STATE/certs/localhost.pem"
      --tls-key "$LAB_STATE/certs/localhost.key")
  fi
  local log=$LAB_STATE/agent-cell$n.log
  if [ -n "${!port_var:-}" ]; then
    out=$(lab__spawn "$log" "$(lab__agent_bin "$build")" "${args[@]}" \
      --listen "127.0.0.1:${!port_var}" 2>/dev/null) ||
      echo "lab: port ${!port_var} is no longer free; agent $n takes a new one" >&2
  fi
  if [ -z "${out:-}" ]; then
    out=$(lab__spawn "$log" "$(lab__agent_bin "$build")" "${args[@]}" --listen 127.0.0.1:0) ||
      return 1
  fi
  read -r pid port <<<"$out"
  # The Plugin API is on the agent's unix socket (<state-dir>/plugin.sock, root only); the TCP
  # port serves /healthz.
  lab_env_set "WT_LAB_AGENT_PID_$n" "$pid" "WT_LAB_AGENT_PORT_$n" "$port" \
    "WT_LAB_AGENT_$n" "$scheme://127.0.0.1:$port" "WT_LAB_AGENT_LOG_$n" "$log" \
    "WT_LAB_AGENT_SOCKET_$n" "$LAB_STATE/cell$n/plugin.sock"
  echo "lab $LAB_ID: agent $n pid $pid on $scheme://127.0.0.1:$port, Plugin API on $LAB_STATE/cell$n/plugin.sock"
}

lab_stop_agent() { # lab_stop_agent N [--kill]
  local n=$1
  lab_load || return 1
  local pid_var=WT_LAB_AGENT_PID_$n
  lab__stop "${!pid_var:-}" "$LAB_ID-cell$n" "${2:-}"
  lab_env_set "WT_LAB_AGENT_PID_$n" ""
}

# ---- down and status ---------------------------------------------------------------------

# lab_down: remove everything of the lab; fine on a lab that does not exist.
lab_down() {
  local pid ns n arg
  if lab_exists && lab_load 2>/dev/null; then
    for n in $(seq 1 "${WT_LAB_CELLS:-0}"); do
      local pid_var=WT_LAB_AGENT_PID_$n
      lab__stop "${!pid_var:-}" "$LAB_ID-cell$n"
    done
    lab__stop "${WT_LAB_SERVER_PID:-}" "$LAB_STATE/server"
  fi
  # Leftovers whatever the env file says: processes with one of this lab's paths as an argument.
  for arg in $(grep -lzxE "$LAB_STATE/(server|cell[0-9]+)|$LAB_ID-cell[0-9]+" /proc/[0-9]*/cmdline \
    2>/dev/null); do
    pid=${arg#/proc/} pid=${pid%/cmdline}
    [ "$pid" = $$ ] && continue
    arg=$(grep -azxE -m1 "$LAB_STATE/(server|cell[0-9]+)|$LAB_ID-cell[0-9]+" "/proc/$pid/cmdline" \
      2>/dev/null | tr -d '\0') || continue
    lab__stop "$pid" "$arg" --kill
  done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' |
    grep -xE "${LAB_ID}-(ul|cell[0-9]+|cell[0-9]+-c[0-9]+)"); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  for n in /sys/fs/bpf/wiretag-"$LAB_ID"-cell*; do
    [[ $n =~ /wiretag-${LAB_ID}-cell[0-9]+$ ]] && rm -rf "$n"
  done
  rm -rf "$LAB_STATE"
  return 0
}

lab__alive() { # lab__alive PID ARG → "alive" | "dead"
  if lab__proc_matches "$1" "$2"; then echo alive; else echo dead; fi
}

lab_status() {
  lab_load || return 1
  local n c cns ok=0 state
  echo "lab $LAB_ID: $WT_LAB_CELLS cells x $WT_LAB_CONTAINERS containers; state $LAB_STATE"
  if lab__has_ns "$WT_LAB_UNDERLAY_NS"; then state=up; else state=MISSING; ok=1; fi
  printf '%-10s %-22s %s\n' underlay "$WT_LAB_UNDERLAY_NS" "198.18.0.0/24 bridge br0: $state"
  for n in $(seq 1 "$WT_LAB_CELLS"); do
    cns=$(lab_cell_ns "$n")
    if lab__has_ns "$cns" && ip -n "$cns" -d link show dev vxlan0 2>/dev/null | grep -qw gbp; then
      state="vxlan0 gbp up"
    else
      state=MISSING; ok=1
    fi
    printf '%-10s %-22s %s\n' "cell $n" "$cns" \
      "ul0 $(lab_underlay_ip "$n")  vxlan0 $(lab_vtep_ip4 "$n")  pin $(lab_pin_dir "$n")  $state"
    for c in $(seq 1 "$WT_LAB_CONTAINERS"); do
      if lab__has_ns "$(lab_ns "$n" "$c")" && lab__has_link "$cns" "$(lab_hostif "$n" "$c")"; then
        state=up
      else
        state=MISSING; ok=1
      fi
      printf '  %-8s %-22s %-6s %-14s %-18s %s\n' "c$c" "$(lab_ns "$n" "$c")" \
        "$(lab_hostif "$n" "$c")" "$(lab_ip4 "$n" "$c")" "$(lab_ip6 "$n" "$c")" "$state"
    done
  done
  if [ -n "${WT_LAB_BUILD:-}" ]; then
    printf '%-10s pid %-8s %-26s %s\n' server "${WT_LAB_SERVER_PID:--}" "${WT_LAB_SERVER:-}" \
      "$(lab__alive "${WT_LAB_SERVER_PID:-}" "$LAB_STATE/server")"
    for n in $(seq 1 "$WT_LAB_CELLS"); do
      local pid_var=WT_LAB_AGENT_PID_$n url_var=WT_LAB_AGENT_$n
      [ -n "${!url_var:-}" ] || continue
      printf '%-10s pid %-8s %-26s %s\n' "agent $n" "${!pid_var:--}" "${!url_var}" \
        "$(lab__alive "${!pid_var:-}" "$LAB_ID-cell$n")"
    done
  else
    echo "processes: none (up without --build)"
  fi
  return $ok
}
