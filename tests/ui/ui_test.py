#!/usr/bin/env python3
"""The web view (/ui) in a real headless Chromium, driven over chromedriver's WebDriver HTTP API.

Starts wiretag-server on 127.0.0.1 (OS-chosen port) with a fresh data dir, gives it apps, an
edge and a reporting cell, opens /ui, logs in with the admin token and the PAP credential, and
checks that the page shows the apps, the edge, the cell and the default group's deployment;
then adds an edge through the API and waits for the page to show it by itself. Leaves a
screenshot (path printed). Exit 0 pass, 1 fail, 77 skip (no chromium or chromedriver).
Python 3 standard library only.
"""

import argparse
import base64
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77
# Bounds a wait for the page (which polls every 3 s) so that a broken page fails the test
# instead of hanging it; not a speed requirement.
WAIT_BOUND_S = 60
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
]


class Failure(Exception):
    pass


def send(method, url, body=None, headers=None):
    """One request; returns (status, headers, parsed JSON or raw text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            status, hdrs, raw = res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, dict(e.headers), e.read()
    try:
        return status, hdrs, json.loads(raw)
    except ValueError:
        return status, hdrs, raw.decode(errors="replace")


def free_port():
    # chromedriver takes a port, it does not report one it chose.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(what, probe):
    """probe() until it returns something true; Failure naming `what` past the bound."""
    deadline = time.monotonic() + WAIT_BOUND_S
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise Failure(f"the page never showed {what} (last probe: {last!r})")


class Server:
    def __init__(self, binary, ui_dir, work):
        self.data = os.path.join(work, "data")
        # Its output to a file: a pipe nobody reads would block the server once full.
        self.log = open(os.path.join(work, "server.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--data-dir", self.data, "--ui-dir", ui_dir],
            stdout=self.log, stderr=subprocess.STDOUT)

        def listening():
            if self.proc.poll() is not None:
                raise Failure(f"server exited {self.proc.returncode}; see {self.log.name}")
            with open(self.log.name) as f:
                return next((l.split()[-1] for l in f if l.startswith("listening on ")), None)
        self.base = "http://" + eventually("the server listening", listening)
        with open(os.path.join(self.data, "admin-token")) as f:
            self.token = f.read().strip()
        with open(os.path.join(self.data, "pap-credentials")) as f:
            self.pap_user, self.pap_password = f.read().strip().split(":", 1)

    def api(self, method, path, body=None):
        status, _, out = send(method, self.base + path, body,
                              {"Authorization": "Bearer " + self.token})
        if status >= 300:
            raise Failure(f"{method} {path}: {status} {out}")
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class WebDriver:
    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

    def __init__(self, chromedriver, chromium, work):
        port = free_port()
        self.log = open(os.path.join(work, "chromedriver.log"), "w")
        self.proc = subprocess.Popen([chromedriver, f"--port={port}"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        self.session = None
        eventually("chromedriver ready", self._ready)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": CHROMIUM_ARGS + ["--user-data-dir=" + os.path.join(work, "profile")],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def _ready(self):
        try:
            return send("GET", self.base + "/status")[2]["value"]["ready"]
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def call(self, method, path, body=None):
        status, _, out = send(method, self.base + path, body if body is not None else (
            {} if method == "POST" else None))
        if status != 200:
            raise Failure(f"webdriver {method} {path}: {status} {out}")
        return out["value"]

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[self.ELEMENT]

    def type(self, css, text):
        self.s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click")

    def script(self, source, *args):
        return self.s("POST", "/execute/sync", {"script": source, "args": list(args)})

    def text_of(self, css):
        """textContent of every element the selector matches."""
        return self.script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);", css)

    def quit(self):
        try:
            if self.session:
                self.call("DELETE", f"/session/{self.session}")
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()


class EventsStub:
    """The server's origin with GET /v1/events answered here, as api/events.yaml streams it
    (heartbeat, a named drop, a lost line; then held open); every other request goes on to
    the real server. The page's drop stream is checked with it whether or not the server has
    a stream of its own."""

    LINES = [
        {"time": "2026-03-01T12:00:00.000000Z", "time_ns": 1772366400000000000,
         "type": "heartbeat"},
        {"cell": "cell1", "type": "drop", "verdict": "drop", "reason": "drop_policy",
         "mode": "enforce", "direction": "enforce", "protocol": "tcp", "length": 60,
         "time": "2026-03-01T12:00:00.123456Z", "time_ns": 1772366400123456000,
         "source": {"account": "default", "address": "198.18.9.1", "app": "web",
                    "port": 40312, "tag": "0001"},
         "destination": {"account": "default", "address": "198.18.9.2", "app": "db",
                         "port": 5433, "tag": "0002",
                         "device": {"interface_name": "veth-db", "namespace": "/run/netns/c1"}},
         "explanation": "no rule from web to db on tcp/5433; web→db allows tcp/5432 "
                        "(default-whitelist)"},
        {"cause": "rate_limit", "cell": "cell1", "count": 17, "type": "lost",
         "time": "2026-03-01T12:00:00.200000Z", "time_ns": 1772366400200000000},
    ]

    def __init__(self, upstream, token):
        stub = self
        self.stop = threading.Event()
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.relay()

            def do_POST(self):
                self.relay()

            def relay(self):
                if self.path.split("?")[0] == "/v1/events":
                    return self.events()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
                conn.request(self.command, self.path, body, {
                    k: v for k, v in self.headers.items()
                    if k.lower() in ("authorization", "content-type", "accept")})
                res = conn.getresponse()
                data = res.read()
                conn.close()
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def events(self):
                stub.requests.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != "Bearer " + token:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for line in stub.LINES:
                        data = (json.dumps(line) + "\n").encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    while not stub.stop.wait(0.2):
                        pass
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the page went away
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def check_static_route(server):
    status, hdrs, body = send("GET", server.base + "/ui/")
    hdrs = {k.lower(): v for k, v in hdrs.items()}
    if status != 200 or not hdrs.get("content-type", "").startswith("text/html"):
        raise Failure(f"GET /ui/ without a token: {status} {hdrs.get('content-type')}")
    if "script-src 'self'" not in hdrs.get("content-security-policy", ""):
        raise Failure(f"GET /ui/: no CSP: {hdrs}")


def run(args, work):
    server = Server(args.server, args.ui_dir, work)
    driver = heart = stub = None
    try:
        check_static_route(server)
        server.api("POST", "/app", {"guid": "web"})
        server.api("POST", "/app", {"guid": "db"})
        server.api("POST", "/app", {"guid": "cache"})
        server.api("POST", "/app", {"guid": "billing", "account": "team-x"})
        server.api("POST", "/whitelist", {"source": "web", "destination": "db", "protocol": "tcp",
                                          "ports": {"start": 5432}})
        # A cell reports (as an agent would, every 2 s so that it stays healthy) so the cells
        # and deployments have a row.
        with open(os.path.join(args.api_dir, "examples", "pdp-status.request.json")) as f:
            heartbeat = json.load(f)
        server.api("POST", "/internal/v1/cells/cell1/status", heartbeat)
        beating = threading.Event()

        def beat():
            while not beating.wait(2):
                server.api("POST", "/internal/v1/cells/cell1/status", heartbeat)
        heart = threading.Thread(target=beat, daemon=True)
        heart.start()

        driver = WebDriver(args.chromedriver, args.chromium, work)
        driver.s("POST", "/url", {"url": server.base + "/ui"})  # redirected to /ui/
        eventually("the login form", lambda: driver.text_of("#login button"))
        driver.type("#token", server.token)
        driver.type("#pap-user", server.pap_user)
        driver.type("#pap-password", server.pap_password)
        driver.click("#connect")

        eventually("the apps web, db and cache as nodes", lambda: all(
            driver.text_of(f'#graph g.node[data-app="{a}"]') for a in ("web", "db", "cache")))
        eventually("the edge web->db tcp/5432", lambda: "tcp/5432" in "".join(
            driver.text_of('#graph g.edge[data-edge="web->db"]')))
        eventually("cell1 healthy, its group and held policy", lambda: (lambda t: t and all(
            w in t[0] for w in ("cell1", "defaultGroup", "healthy", "default-whitelist@1")))(
            driver.text_of('#cells tr[data-cell="cell1"]')))
        eventually("cell1's revision 3", lambda: driver.text_of(
            '#cells tr[data-cell="cell1"] td:nth-child(7)') == ["3"])
        eventually("defaultGroup's deployment", lambda: (lambda t: t and all(
            w in t[0] for w in ("ACTIVE", "default-whitelist@1.0.0", "cell1")))(
            driver.text_of('#deployments tr[data-group="defaultGroup"]')))
        eventually("the event stream's state", lambda: any(
            w in driver.text_of("#events-status")[0] for w in ("not available", "live")))

        # An edge added through the API appears without reloading the page.
        server.api("POST", "/whitelist", {"source": "db", "destination": "cache",
                                          "protocol": "udp", "ports": {"start": 53}})
        eventually("the new edge db->cache udp/53", lambda: "udp/53" in "".join(
            driver.text_of('#graph g.edge[data-edge="db->cache"]')))
        # Filters: an account's apps and edges; an app and its neighbours.
        nodes = lambda: sorted(driver.script(
            "return [...document.querySelectorAll('#graph g.node')].map(n => n.dataset.app);"))
        eventually("billing of account team-x", lambda: "billing" in nodes())
        driver.script("const s = document.getElementById('account-filter');"
                      "s.value = 'default'; s.dispatchEvent(new Event('change'));")
        eventually("account default's apps only", lambda: nodes() == ["cache", "db", "web"])
        driver.type("#app-filter", "web")
        eventually("web and its neighbour db only", lambda: nodes() == ["db", "web"])
        driver.s("POST", f"/element/{driver.find('#app-filter')}/clear")
        driver.script("const s = document.getElementById('account-filter');"
                      "s.value = ''; s.dispatchEvent(new Event('change'));")
        eventually("every app again", lambda: nodes() == ["billing", "cache", "db", "web"])

        shot = os.path.join(args.out, "ui-screenshot.png")
        with open(shot, "wb") as f:
            f.write(base64.b64decode(driver.s("GET", "/screenshot")))
        print(f"screenshot: {shot}")

        # The drop stream with names, from the events stub on the same server's data.
        stub = EventsStub(urllib.parse.urlsplit(server.base), server.token)
        driver.s("POST", "/url", {"url": stub.base + "/ui/"})
        eventually("the login form (events stub)", lambda: driver.text_of("#login button"))
        driver.type("#token", server.token)
        driver.click("#connect")
        eventually("the drop with names and its explanation", lambda: (lambda t: t and all(
            w in t[0] for w in ("cell1", "drop_policy", "web (default)", "db (default) on veth-db",
                                "tcp/5433", "web→db allows tcp/5432")))(
            driver.text_of("#events tbody tr")))
        eventually("the lost count", lambda: "17 event(s) lost" in driver.text_of(
            "#events-status")[0])
        if stub.requests[-1:] != ["Bearer " + server.token]:
            raise Failure(f"the event stream was asked with {stub.requests}")
        shot = os.path.join(args.out, "ui-screenshot-events.png")
        with open(shot, "wb") as f:
            f.write(base64.b64decode(driver.s("GET", "/screenshot")))
        print(f"screenshot (events stub): {shot}")

        # Nothing the CSP blocked, no script error; the 404 of a missing /v1/events is expected.
        logs = driver.s("POST", "/se/log", {"type": "browser"})
        severe = [e["message"] for e in logs if e.get("level") == "SEVERE"
                  and not ("/v1/events" in e["message"] and "404" in e["message"])]
        if severe:
            raise Failure("browser console errors: " + " | ".join(severe))
    finally:
        if stub:
            stub.close()
        if heart:
            beating.set()
            heart.join()
        if driver:
            driver.quit()
        server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--server", required=True, help="the wiretag-server binary")
    p.add_argument("--ui-dir", required=True)
    p.add_argument("--api-dir", required=True)
    p.add_argument("--out", required=True, help="where the screenshot goes")
    p.add_argument("--chromium", default=shutil.which("chromium") or "")
    p.add_argument("--chromedriver", default=shutil.which("chromedriver") or "")
    args = p.parse_args()
    for name in ("chromium", "chromedriver"):
        if not getattr(args, name) or not os.access(getattr(args, name), os.X_OK):
            print(f"SKIP: no {name} (scripts/install-deps.sh installs it)")
            return SKIP
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="wiretag-ui-test-")
    try:
        run(args, work)
    except Failure as e:
        print(f"FAIL: {e}\n(logs kept in {work})")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
