// wiretag's web view (docs/ui.md): the policy graph, cells, deployments and live drops, read
// from the server's public APIs with the operator's credentials. No build step, no library.
'use strict';

const POLL_MS = 3000;
const EVENTS_KEPT = 200;
const EVENTS_RETRY_MS = 5000;
const SVG = 'http://www.w3.org/2000/svg';

const store = window.sessionStorage;
const state = {
  apps: [],
  edges: [],
  revision: null,
  pollTimer: null,
  pollRound: 0,  // a newer start() ends the older poll loop
  events: null,  // the AbortController of the running event stream
};

const $ = (id) => document.getElementById(id);

function token() { return store.getItem('wiretag.token') || ''; }
function papCredentials() { return store.getItem('wiretag.pap') || ''; }

// One request to the server; resolves to {status, body} (body parsed JSON, or null).
async function call(path, auth) {
  const headers = {Accept: 'application/json'};
  if (auth) headers.Authorization = auth;
  const res = await fetch(path, {headers, cache: 'no-store', credentials: 'omit'});
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  return {status: res.status, body};
}
const bearer = () => 'Bearer ' + token();
const basic = () => 'Basic ' + btoa(papCredentials());

function errorText(res) {
  const first = Array.isArray(res.body) && res.body[0];
  const code = first ? first.error_code + ': ' + first.message : 'HTTP ' + res.status;
  if (res.status === 401) return 'the token was refused (' + code + ')';
  if (res.status === 403) return 'this token may not read it (' + code + ')';
  return code;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}
function row(cells, cls) {
  const tr = el('tr', null, cls);
  for (const c of cells) tr.append(c instanceof Node ? c : el('td', c));
  return tr;
}
function showError(id, text) {
  const p = $(id);
  p.hidden = !text;
  p.textContent = text || '';
}

// "tcp/5432", "udp/8000-8080", "tcp" (all ports), "any", "icmp".
function edgeLabel(e) {
  const proto = e.protocol || 'any';
  if (!e.ports) return proto;
  const {start, end} = e.ports;
  return proto + '/' + (end && end !== start ? start + '-' + end : start);
}

// ---- the policy graph ----

function visible() {
  const account = $('account-filter').value;
  const app = $('app-filter').value.trim();
  let edges = state.edges;
  if (account) edges = edges.filter((e) => e.account === account);
  if (app) edges = edges.filter((e) => e.source.includes(app) || e.destination.includes(app));
  const names = new Set();
  for (const e of edges) { names.add(e.source); names.add(e.destination); }
  for (const a of state.apps)
    if ((!account || a.account === account) && (!app || a.guid.includes(app))) names.add(a.guid);
  const byGuid = new Map(state.apps.map((a) => [a.guid, a]));
  const apps = [...names].sort().map((g) => byGuid.get(g) || {guid: g, account: '?', wire_bytes: ''});
  return {apps, edges};
}

function renderAccounts() {
  const select = $('account-filter');
  const chosen = select.value;
  const accounts = [...new Set(state.apps.map((a) => a.account))].sort();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join('\n') === accounts.join('\n')) return;
  while (select.options.length > 1) select.remove(1);
  for (const a of accounts) select.add(new Option(a, a));
  select.value = accounts.includes(chosen) ? chosen : '';
}

function renderGraph() {
  const {apps, edges} = visible();
  const nodes = $('graph-nodes');
  const lines = $('graph-edges');
  nodes.replaceChildren();
  lines.replaceChildren();
  const W = 800, H = 520, R = 26;
  const cx = W / 2, cy = H / 2;
  const radius = apps.length > 1 ? Math.min(W, H) / 2 - 70 : 0;
  const at = new Map();
  apps.forEach((a, i) => {
    const t = (2 * Math.PI * i) / Math.max(apps.length, 1) - Math.PI / 2;
    at.set(a.guid, {x: cx + radius * Math.cos(t), y: cy + radius * Math.sin(t)});
  });
  // One arrow per ordered pair, labelled with every rule on it.
  const pairs = new Map();
  for (const e of edges) {
    const key = e.source + '->' + e.destination;
    if (!pairs.has(key)) pairs.set(key, {source: e.source, destination: e.destination, labels: []});
    pairs.get(key).labels.push(edgeLabel(e));
  }
  for (const [key, p] of pairs) {
    const a = at.get(p.source), b = at.get(p.destination);
    if (!a || !b) continue;
    const g = svg('g', {class: 'edge', 'data-edge': key});
    const label = p.labels.join(', ');
    let lx, ly;
    if (p.source === p.destination) {
      g.append(svg('path', {d: `M ${a.x - 10} ${a.y - R + 2} C ${a.x - 50} ${a.y - 90}, ${a.x + 50} ${a.y - 90}, ${a.x + 10} ${a.y - R + 2}`,
                            'marker-end': 'url(#arrow)'}));
      lx = a.x; ly = a.y - 75;
    } else {
      const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
      // Both directions of a pair apart: each arrow bends to its own side.
      const nx = -dy / len, ny = dx / len, bend = pairs.has(p.destination + '->' + p.source) ? 18 : 0;
      const sx = a.x + (dx / len) * R, sy = a.y + (dy / len) * R;
      const ex = b.x - (dx / len) * (R + 2), ey = b.y - (dy / len) * (R + 2);
      const mx = (sx + ex) / 2 + nx * bend, my = (sy + ey) / 2 + ny * bend;
      g.append(svg('path', {d: `M ${sx} ${sy} Q ${mx} ${my} ${ex} ${ey}`, 'marker-end': 'url(#arrow)'}));
      lx = mx + nx * 8; ly = my + ny * 8;
    }
    const text = svg('text', {x: lx, y: ly, 'text-anchor': 'middle', class: 'edge-label'});
    text.textContent = label;
    const title = svg('title');
    title.textContent = `${p.source} → ${p.destination}: ${label}`;
    g.append(text, title);
    lines.append(g);
  }
  for (const a of apps) {
    const {x, y} = at.get(a.guid);
    const g = svg('g', {class: 'node', 'data-app': a.guid, transform: `translate(${x} ${y})`});
    g.append(svg('circle', {r: R}));
    const name = svg('text', {y: 4, 'text-anchor': 'middle', class: 'node-label'});
    name.textContent = a.guid.length > 14 ? a.guid.slice(0, 13) + '…' : a.guid;
    const sub = svg('text', {y: R + 14, 'text-anchor': 'middle', class: 'node-sub'});
    sub.textContent = `${a.account} · ${a.wire_bytes}`;
    const title = svg('title');
    title.textContent = `${a.guid} (account ${a.account}, wire bytes ${a.wire_bytes})`;
    g.append(name, sub, title);
    g.addEventListener('click', () => { $('app-filter').value = a.guid; renderGraph(); });
    nodes.append(g);
  }
  $('graph-summary').textContent =
      `${apps.length} app(s), ${edges.length} edge(s)` + (state.revision !== null ? ` at revision ${state.revision}` : '');
  const tbody = $('edges').tBodies[0];
  tbody.replaceChildren(...edges.map((e) => row([e.source, e.destination, edgeLabel(e), e.account, e.policy || ''])));
}

// ---- cells and deployments ----

function age(ms) {
  if (typeof ms !== 'number' || ms <= 0) return '-';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? s + ' s ago' : Math.round(s / 60) + ' min ago';
}

function renderCells(res) {
  const tbody = $('cells').tBodies[0];
  if (res.status !== 200) {
    showError('cells-error', errorText(res));
    tbody.replaceChildren();
    return;
  }
  showError('cells-error', '');
  const cells = (res.body && res.body.cells) || [];
  tbody.replaceChildren(...cells.map((c) => {
    const health = c.expired ? 'expired' : c.healthy ? 'healthy' : 'not healthy';
    const held = (c.policies || []).map((p) => p.name + '@' + p.version).join(', ') || '-';
    const dp = c.datapath || {};
    const tr = row([c.name, (c.pdpGroup || '-') + ' / ' + (c.pdpSubgroup || '-'), c.state || '-',
                    el('td', health, 'health-' + health.replace(' ', '-')), age(c.lastHeartbeatMs), held,
                    c.revision ?? '-', dp.endpoints ?? '-', dp.dropped ?? '-']);
    tr.dataset.cell = c.name;
    return tr;
  }));
  if (cells.length === 0) tbody.append(row([el('td', 'no cell has reported', 'muted')]));
}

function renderDeployments(groups, status) {
  const tbody = $('deployments').tBodies[0];
  const states = new Map();  // "group/type/policy@version" -> ["cell: STATE"]
  for (const s of status || []) {
    const key = `${s.pdpGroup}/${s.pdpType}/${s.policy.name}@${s.policy.version}`;
    if (!states.has(key)) states.set(key, []);
    states.get(key).push(`${s.pdpId}: ${s.state}`);
  }
  const rows = [];
  for (const g of groups || []) {
    const subgroups = g.pdpSubgroups && g.pdpSubgroups.length ? g.pdpSubgroups : [null];
    for (const sg of subgroups) {
      const policies = sg ? sg.policies.map((p) => p.name + '@' + p.version) : [];
      const cells = sg ? sg.pdpInstances.map((i) => `${i.instanceId} (${i.healthy})`) : [];
      const deploy = [];
      for (const p of sg ? sg.policies : [])
        for (const s of states.get(`${g.name}/${sg.pdpType}/${p.name}@${p.version}`) || []) deploy.push(s);
      const tr = row([g.name, g.pdpGroupState, sg ? sg.pdpType : '-', policies.join(', ') || '-',
                      [cells.join(', ') || 'no cell', ...deploy.length ? ['— ' + deploy.join(', ')] : []].join(' ')]);
      tr.dataset.group = g.name;
      rows.push(tr);
    }
  }
  tbody.replaceChildren(...rows);
}

// ---- polling ----

async function poll(round) {
  clearTimeout(state.pollTimer);
  if (!token() || round !== state.pollRound) return;
  try {
    const [apps, edges, cells] = await Promise.all(
        [call('/apps', bearer()), call('/v1/edges?limit=100000', bearer()), call('/internal/v1/cells', bearer())]);
    if (apps.status !== 200 || edges.status !== 200) {
      showError('graph-error', errorText(apps.status !== 200 ? apps : edges));
    } else {
      showError('graph-error', '');
      state.apps = apps.body.apps || [];
      state.edges = edges.body.edges || [];
      state.revision = edges.body.revision ?? null;
      renderAccounts();
      renderGraph();
    }
    renderCells(cells);
    if (papCredentials()) {
      const [pdps, status] = await Promise.all(
          [call('/policy/pap/v1/pdps', basic()), call('/policy/pap/v1/policies/status', basic())]);
      if (pdps.status === 200) {
        $('deployments-note').textContent = '';
        renderDeployments(pdps.body.groups, status.status === 200 ? status.body : []);
      } else {
        $('deployments-note').textContent = 'PAP: ' + errorText(pdps);
        renderDeployments([], []);
      }
    } else {
      $('deployments-note').textContent = 'Give the PAP user and password (basic auth) to see deployments.';
    }
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    $('status').textContent = 'server unreachable: ' + e.message;
  }
  if (round === state.pollRound) state.pollTimer = setTimeout(() => poll(round), POLL_MS);
}

// ---- live drops: GET /v1/events, NDJSON ----

// One side of a packet (api/events.yaml Peer): its app and account when the cell knows them,
// else its tag, address or device.
function peerName(peer) {
  if (!peer || typeof peer !== 'object') return '';
  const device = peer.device && peer.device.interface_name;
  let name = peer.app ? peer.app + (peer.account ? ' (' + peer.account + ')' : '')
                      : peer.tag ? 'tag ' + peer.tag : peer.address || '';
  if (device) name += ' on ' + device;
  return name;
}
function eventRow(ev) {
  const dst = ev.destination || {};
  const proto = (ev.protocol || '') + (dst.port ? '/' + dst.port : '');
  const verdict = ev.type === 'audit' ? 'audit (' + (ev.verdict || 'pass') + ')' : ev.verdict || ev.type || '';
  const tr = row([String(ev.time || '').replace('T', ' ').replace('Z', ''), ev.cell || '', verdict,
                  ev.reason || '', peerName(ev.source), peerName(ev.destination), proto, ev.explanation || '']);
  tr.className = 'verdict-' + (ev.type || 'unknown');
  return tr;
}

let lostTotal = 0;
function addEvent(ev) {
  if (!ev || typeof ev !== 'object' || ev.type === 'heartbeat') return;
  if (ev.type === 'lost') {
    lostTotal += ev.count || 0;
    $('events-status').textContent = `live; ${lostTotal} event(s) lost (last: ${ev.count} on ${ev.cell || '?'}, ${ev.cause})`;
    return;
  }
  const tbody = $('events').tBodies[0];
  tbody.prepend(eventRow(ev));
  while (tbody.rows.length > EVENTS_KEPT) tbody.deleteRow(-1);
}

async function streamEvents() {
  if (state.events) state.events.abort();
  if (!token()) return;
  const abort = new AbortController();
  state.events = abort;
  const status = $('events-status');
  let retry = true;
  try {
    const res = await fetch('/v1/events', {headers: {Authorization: bearer(), Accept: 'application/x-ndjson'},
                                           cache: 'no-store', credentials: 'omit', signal: abort.signal});
    if (res.status === 404) {
      status.textContent = 'not available: this server has no event stream (GET /v1/events)';
      retry = false;
      return;
    }
    if (res.status !== 200) {
      let body = null;
      try { body = await res.json(); } catch (e) { /* not JSON */ }
      status.textContent = 'event stream: ' + errorText({status: res.status, body});
      retry = res.status >= 500;
      return;
    }
    status.textContent = 'live';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      pending += decoder.decode(value, {stream: true});
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        try { addEvent(JSON.parse(line)); } catch (e) { /* a line that is not JSON */ }
      }
    }
    status.textContent = 'stream ended; reconnecting';
  } catch (e) {
    if (abort.signal.aborted) { retry = false; return; }
    status.textContent = 'event stream interrupted: ' + e.message + '; reconnecting';
  } finally {
    if (retry && state.events === abort) setTimeout(() => { if (state.events === abort) streamEvents(); }, EVENTS_RETRY_MS);
  }
}

// ---- credentials ----

function start() {
  const has = !!token();
  $('status').textContent = has ? 'connecting…' : 'give a token to connect';
  if (!has) {
    $('events-status').textContent = 'waiting for a token';
    return;
  }
  poll(++state.pollRound);
  streamEvents();
}

document.addEventListener('DOMContentLoaded', () => {
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token').value.trim();
    if (t) store.setItem('wiretag.token', t);
    const user = $('pap-user').value.trim(), password = $('pap-password').value;
    if (user && password) store.setItem('wiretag.pap', user + ':' + password);
    $('token').value = '';
    $('pap-password').value = '';
    start();
  });
  $('forget').addEventListener('click', () => {
    store.removeItem('wiretag.token');
    store.removeItem('wiretag.pap');
    clearTimeout(state.pollTimer);
    state.pollRound++;
    if (state.events) state.events.abort();
    state.events = null;
    location.reload();
  });
  $('account-filter').addEventListener('change', renderGraph);
  $('app-filter').addEventListener('input', renderGraph);
  start();
});
