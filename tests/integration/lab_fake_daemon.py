#!/usr/bin/env python3
"""Stand-in for wiretag-server / wiretag-agent in lab.sh's process tests.

Takes --listen HOST:PORT (other flags ignored, except --data-dir: writes admin-token there as
the server does, and --tls-cert/--tls-key: serves HTTPS with them, as the daemons do), binds, prints "listening on HOST:PORT" like the real daemons, answers every
GET with 200 and its own argv, a POST (the lab issuing cell tokens) with {"token"}, and exits
on SIGTERM.
"""
import http.server
import json
import os
import signal
import ssl
import sys


def flag(name):
    args = sys.argv[1:]
    return args[args.index(name) + 1] if name in args else None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(sys.argv).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        # The lab issues each agent's cell token with POST /v1/tokens.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"token": "fake-cell-token", "argv": sys.argv}).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    host, port = flag("--listen").rsplit(":", 1)
    data_dir = flag("--data-dir")
    if data_dir:
        os.makedirs(data_dir, exist_ok=True)
        token = os.path.join(data_dir, "admin-token")
        if not os.path.exists(token):
            with open(token, "w") as f:
                f.write("fake-token\n")
    try:
        server = http.server.HTTPServer((host, int(port)), Handler)
    except OSError as e:
        print("bind %s:%s: %s" % (host, port, e), file=sys.stderr)
        return 1
    if flag("--tls-cert"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(flag("--tls-cert"), flag("--tls-key"))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening on %s:%d" % (host, server.server_address[1]), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
