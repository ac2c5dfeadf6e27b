#!/usr/bin/env bash
# The PAP on the lab (SPEC §4.4, issue "PAP API"): the real server and one agent per cell,
# two cells joined by VXLAN-GBP, real TCP between containers. Proves:
# - a canary rollout: group `canary` holding cell 1 gets a new version of a named policy in
#   TEST (the would-drops show as AUDIT events in cell 1's ring buffer, traffic is
#   unaffected), then ACTIVE (the drops happen on cell 1 only), then the version is deployed
#   to defaultGroup (cell 2 drops too); policies/status says SUCCESS per cell and version;
#   the audit trail shows each step with the authenticated user;
# - a policy created as TOSCA over the lifecycle API (/policy/api/v1, YAML) is the account
#   policy of that id: deployed with the PAP it lets ping and TCP through, undeployed not,
#   and it cannot be deleted while deployed;
# - a cell whose agent is stopped is reported unhealthy by components/healthcheck once its
#   heartbeats stop (3 intervals), and healthy again when it comes back.
# (A deployment that does not fit a cell's maps is tested by tests/agent PapCellTest, which
# can size the maps.)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${WT_BUILD_DIR:?build dir with the server, agent and CLI}
LAB=$here/../../scripts/lab.sh
export WT_LAB_ID=wtp$$ WIRETAG_LOG_LEVEL=info WIRETAG_HEARTBEAT_INTERVAL=300 \
  WIRETAG_SWEEP_INTERVAL=500
. "$here/../../scripts/lib/lab.sh"
lab_init "$WT_LAB_ID" || exit 1
. "$here/checks.sh"
lab_test_up 2 2
PAP_AUTH=$(cat "$(dirname "$WT_LAB_TOKEN_FILE")/pap-credentials")
CLI=$BUILD/userspace/cli/wiretag

pap() { # pap METHOD PATH [BODY] → body on stdout, fails on HTTP >= 300
  lab_curl -sS -f -u "$PAP_AUTH" -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} \
    "$WT_LAB_SERVER/policy/pap/v1$2"
}
cell() { echo "$WT_LAB_ID-cell$1"; }
# json_true EXPR: python expression over `j` (stdin parsed as JSON) must be true.
json_true() { python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
# deploy_state_is GROUP CELL NAME VERSION STATE: policies/status shows that version on that cell in STATE
deploy_state_is() {
  pap GET "/policies/status/$1" 2>/dev/null | json_true \
    "any(s['pdpId']=='$2' and s['policy']=='$3' and s['version'].startswith('$4') and s['state']=='$5' for s in [dict(x, policy=x['policy']['name'], version=x['policy']['version']) for x in j])"
}
agent_pdp() { # agent_pdp N EXPR: the agent's /healthz "pdp" member satisfies EXPR (over p)
  lab_curl -sS "$(agent_url "$1")/healthz" 2>/dev/null | json_true "(lambda p: $2)(j['pdp'])"
}
deploy() { # deploy GROUP ACTION NAME VERSION
  pap POST /pdps/deployments/batch "{\"groups\":[{\"name\":\"$1\",\"deploymentSubgroups\":[{\"pdpType\":\"tc\",\"action\":\"$2\",\"policies\":[{\"name\":\"$3\",\"version\":\"$4\"}]}]}]}" >/dev/null
}
follow_all() {
  local n c dev code
  for n in 1 2; do
    for c in 1 2; do
      dev="{\"namespace\":\"$(lab_cell_netns "$n")\",\"interface_name\":\"$(lab_hostif "$n" "$c")\"}"
      code=$(plugin_curl "$n" -sS -X POST -H 'Content-Type: application/json' -o "$tmp/plugin.out" \
        -w '%{http_code}' -d "{\"destination_device\":$dev,\"app_guid\":\"$(app "$n" "$c")\"}" \
        http://agent/whitelist)
      [ "$code" = 200 ] || fail "follow $(app "$n" "$c") on cell $n: HTTP $code $(cat "$tmp/plugin.out")"
    done
  done
}

for n in 1 2; do for c in 1 2; do
  srv POST /app "{\"guid\":\"$(app "$n" "$c")\"}" >/dev/null || fail "POST /app $(app "$n" "$c")"
done; done
follow_all
lab_echo_servers 1 1 8080 9999
lab_echo_servers 2 1 8080 9999
sleep 0.3
B1=$(lab_ip4 1 1) B2=$(lab_ip4 2 1)  # the backends: app-1-1 on cell 1, app-2-1 on cell 2

# Policy "web": each backend takes tcp/8080 and tcp/9999 from the client on the other cell.
rules() { # rules PORT...
  local out="" p
  for p in "$@"; do
    out+="{\"source\":\"app-2-2\",\"destination\":\"app-1-1\",\"protocol\":\"tcp\",\"ports\":{\"start\":$p,\"end\":$p}},"
    out+="{\"source\":\"app-1-2\",\"destination\":\"app-2-1\",\"protocol\":\"tcp\",\"ports\":{\"start\":$p,\"end\":$p}},"
  done
  echo "[${out%,}]"
}
WEB=$(srv POST /v1/accounts/default/policies "{\"name\":\"web\",\"rules\":$(rules 8080 9999)}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])') || fail "create policy web"
deploy defaultGroup POST "$WEB" 1.0.0 || fail "deploy web 1.0.0 to defaultGroup"

echo "# web 1.0.0 on defaultGroup (both cells): tcp/8080 and tcp/9999 into each backend"
check "policies/status: web 1.0.0 SUCCESS on cell 1" eventually 10 deploy_state_is defaultGroup "$(cell 1)" "$WEB" 1 SUCCESS
check "policies/status: web 1.0.0 SUCCESS on cell 2" eventually 10 deploy_state_is defaultGroup "$(cell 2)" "$WEB" 1 SUCCESS
expect allowed "cell2/app-2-2 -> cell1/app-1-1 tcp/9999" lab_tcp_ok 2 2 "$B1" 9999
expect allowed "cell1/app-1-2 -> cell2/app-2-1 tcp/9999" lab_tcp_ok 1 2 "$B2" 9999
expect denied "cell2/app-2-1 -> cell1/app-1-1 tcp/8080 (no rule)" lab_tcp_ok 2 1 "$B1" 8080

# Version 2 drops tcp/9999. A new version changes nothing until it is deployed.
srv PUT "/v1/accounts/default/policies/$WEB" "{\"name\":\"web\",\"rules\":$(rules 8080)}" >/dev/null ||
  fail "PUT policy web (version 2)"
sleep 0.5
expect allowed "web 2 created, not deployed: cell2 -> cell1 tcp/9999" lab_tcp_ok 2 2 "$B1" 9999

echo "# canary: group canary in TEST with web 2.0.0; cell 1 joins it"
pap POST /pdps/groups/batch '{"groups":[{"name":"canary","description":"cell 1 first","pdpGroupState":"TEST","pdpSubgroups":[{"pdpType":"tc","desiredInstanceCount":1}]}]}' >/dev/null ||
  fail "create group canary"
deploy canary POST "$WEB" 2.0.0 || fail "deploy web 2.0.0 to canary"
lab_stop_agent 1 >/dev/null && WIRETAG_GROUP=canary lab_start_agent 1 >/dev/null || fail "cell 1's agent into canary"
check "cell 1 reports group canary, mode audit" eventually 15 agent_pdp 1 "p.get('group')=='canary' and p.get('mode')=='audit'"
check "policies/status: web 2.0.0 SUCCESS on cell 1 in canary" eventually 10 deploy_state_is canary "$(cell 1)" "$WEB" 2 SUCCESS
"$CLI" --agent "unix:$LAB_STATE/cell1/plugin.sock" monitor --seconds 6 >"$tmp/monitor.out" 2>"$tmp/monitor.err" &
bg_pids+=($!)
sleep 1
expect allowed "TEST: cell2 -> cell1 tcp/9999 still delivered" lab_tcp_ok 2 2 "$B1" 9999
expect allowed "TEST: cell2 -> cell1 tcp/8080" lab_tcp_ok 2 2 "$B1" 8080
expect allowed "cell 2 (defaultGroup, web 1): cell1 -> cell2 tcp/9999" lab_tcp_ok 1 2 "$B2" 9999
wait "${bg_pids[-1]}" 2>/dev/null
if grep -q " AUDIT drop_policy tcp .* -> [^ ]*:9999 .*mode=audit" "$tmp/monitor.out"; then
  ok "TEST: the would-drop of tcp/9999 is an AUDIT event on cell 1"
else
  fail "TEST: no AUDIT event for tcp/9999 on cell 1: $(cat "$tmp/monitor.out" "$tmp/monitor.err")"
fi
if grep -q ":8080 " "$tmp/monitor.out"; then fail "an event for allowed tcp/8080"; else ok "no event for allowed tcp/8080"; fi

echo "# canary ACTIVE: cell 1 drops tcp/9999, cell 2 not yet"
pap PUT "/pdps/groups/canary?state=ACTIVE" >/dev/null || fail "PUT canary ACTIVE"
check "cell 1 mode enforce" eventually 10 agent_pdp 1 "p.get('mode')=='enforce' and p.get('state')=='ACTIVE'"
expect denied "ACTIVE: cell2 -> cell1 tcp/9999" lab_tcp_ok 2 2 "$B1" 9999
expect allowed "ACTIVE: cell2 -> cell1 tcp/8080" lab_tcp_ok 2 2 "$B1" 8080
expect allowed "cell 2 still on web 1: cell1 -> cell2 tcp/9999" lab_tcp_ok 1 2 "$B2" 9999

echo "# rollout: web 2.0.0 to defaultGroup"
deploy defaultGroup POST "$WEB" 2.0.0 || fail "deploy web 2.0.0 to defaultGroup"
check "policies/status: web 2.0.0 SUCCESS on cell 2" eventually 10 deploy_state_is defaultGroup "$(cell 2)" "$WEB" 2 SUCCESS
check "rolled out: cell1 -> cell2 tcp/9999 denied" eventually 10 not lab_tcp_ok 1 2 "$B2" 9999
expect allowed "rolled out: cell1 -> cell2 tcp/8080" lab_tcp_ok 1 2 "$B2" 8080
pap GET /policies/deployed | json_true "any(d['policy-id']=='$WEB' and d['policy-version']=='2.0.0' and d['success-count']==2 for d in j)" &&
  ok "policies/deployed: web 2.0.0 succeeded on 2 cells" ||
  fail "policies/deployed: $(pap GET /policies/deployed)"

echo "# the audit trail, oldest first (deploying 2.0.0 where 1.0.0 was replaces it: undeploy + deploy)"
pap GET "/policies/audit?recordCount=100" >"$tmp/audit.json" || fail "GET policies/audit"
steps=$(python3 - "$tmp/audit.json" "$WEB" "${PAP_AUTH%%:*}" <<'EOF'
import json, sys
records, web, user = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
out = []
for r in reversed(records):  # newest first on the wire
    if r["user"] != user:
        print("user " + r["user"]); sys.exit(0)
    p = r.get("policy") or {}
    name = "web" if p.get("name") == web else p.get("name", "")
    out.append(" ".join(x for x in [r["action"], r["pdpGroup"], name, p.get("version", ""), r.get("detail", "")] if x))
print("; ".join(out))
EOF
)
want="DEPLOYMENT defaultGroup web 1.0.0; GROUP_CREATE canary TEST; DEPLOYMENT canary web 2.0.0; STATE_CHANGE canary TEST->ACTIVE; UNDEPLOYMENT defaultGroup web 1.0.0; DEPLOYMENT defaultGroup web 2.0.0"
if [ "$steps" = "$want" ]; then ok "audit trail: $steps"; else fail "audit trail: $steps; expected $want"; fi

echo "# a TOSCA policy made over the lifecycle API (YAML) is an account policy the PAP deploys"
lifecycle() { # lifecycle METHOD PATH [YAML BODY] → body on stdout, fails on HTTP >= 300
  lab_curl -sS -f -u "$PAP_AUTH" -X "$1" -H 'Content-Type: application/yaml' \
    ${3:+--data-binary "$3"} "$WT_LAB_SERVER/policy/api/v1$2"
}
TOSCA=$(cat <<YAML
tosca_definitions_version: tosca_simple_yaml_1_1_0
topology_template:
  policies:
    - tosca.ping:
        type: wiretag.policies.Whitelist
        type_version: 1.0.0
        version: 1.0.0
        properties:
          account: default
          rules:
            - {source: app-1-2, destination: app-2-1, protocol: tcp, ports: {start: 9999}}
            - {source: app-1-2, destination: app-2-1, protocol: icmp}
YAML
)
lifecycle POST /policytypes/wiretag.policies.Whitelist/versions/1.0.0/policies "$TOSCA" >/dev/null ||
  fail "create tosca.ping over the lifecycle API"
srv GET /v1/accounts/default/policies/tosca.ping | json_true "j['version']==1 and len(j['rules'])==2" &&
  ok "tosca.ping is account policy tosca.ping version 1" || fail "account view of tosca.ping"
expect denied "tosca.ping not deployed: cell1/app-1-2 -> cell2 tcp/9999" lab_tcp_ok 1 2 "$B2" 9999
expect denied "tosca.ping not deployed: cell1/app-1-2 -> cell2 ping" lab_ping_ok 1 2 "$B2"
deploy defaultGroup POST tosca.ping 1.0.0 || fail "deploy tosca.ping 1.0.0 to defaultGroup"
check "policies/status: tosca.ping 1.0.0 SUCCESS on cell 2" eventually 10 deploy_state_is defaultGroup "$(cell 2)" tosca.ping 1 SUCCESS
expect allowed "tosca.ping deployed: cell1/app-1-2 -> cell2 tcp/9999" lab_tcp_ok 1 2 "$B2" 9999
expect allowed "tosca.ping deployed: cell1/app-1-2 -> cell2 ping" lab_ping_ok 1 2 "$B2"
expect denied "tosca.ping deployed: cell1/app-1-1 -> cell2 tcp/9999 (not its source)" lab_tcp_ok 1 1 "$B2" 9999
expect denied "tosca.ping deployed: cell1/app-1-1 -> cell2 ping (not its source)" lab_ping_ok 1 1 "$B2"
if lifecycle DELETE /policies/tosca.ping/versions/1.0.0 >/dev/null 2>&1; then
  fail "a deployed TOSCA version was deleted"
else
  ok "a deployed TOSCA version cannot be deleted"
fi
deploy defaultGroup DELETE tosca.ping 1.0.0 || fail "undeploy tosca.ping"
check "tosca.ping undeployed: cell1/app-1-2 -> cell2 tcp/9999 denied" eventually 10 not lab_tcp_ok 1 2 "$B2" 9999
expect denied "tosca.ping undeployed: cell1/app-1-2 -> cell2 ping" lab_ping_ok 1 2 "$B2"
lifecycle DELETE /policies/tosca.ping/versions/1.0.0 >/dev/null && ok "tosca.ping deleted once undeployed" ||
  fail "delete tosca.ping after undeploying it"

echo "# a stopped agent: its cell becomes unhealthy after 3 missed heartbeats"
healthy_is() { pap GET /components/healthcheck 2>/dev/null | json_true "j['healthy'] == $1"; }
cell_health_is() { # cell_health_is N HEALTHY|NOT_HEALTHY
  pap GET /components/healthcheck 2>/dev/null | json_true \
    "any(i['instanceId']=='$(cell "$1")' and i['healthy']=='$2' for cells in j['pdps'].values() for i in cells)"
}
check "components/healthcheck healthy with both agents up" eventually 10 healthy_is True
lab_stop_agent 2 >/dev/null || fail "stop agent 2"
t0=$(date +%s%N)
if eventually 20 cell_health_is 2 NOT_HEALTHY; then
  ok "cell 2 NOT_HEALTHY after its agent stopped ($((($(date +%s%N) - t0) / 1000000)) ms; heartbeat 300 ms)"
else
  fail "cell 2 still healthy: $(pap GET /components/healthcheck)"
fi
check "components/healthcheck unhealthy" healthy_is False
check "cell 1 still HEALTHY" cell_health_is 1 HEALTHY
expect denied "agent 2 stopped, enforcement unchanged: cell1 -> cell2 tcp/9999" lab_tcp_ok 1 2 "$B2" 9999
lab_start_agent 2 >/dev/null || fail "start agent 2"
check "components/healthcheck healthy again" eventually 15 healthy_is True

summary
