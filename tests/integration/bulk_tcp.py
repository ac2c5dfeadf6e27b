#!/usr/bin/env python3
"""Bulk TCP for the BIG TCP test. `serve PORT`: on PORT (IPv4 and IPv6) reads a connection to
its end and answers with the byte count; on PORT+1 sends the size the client asks for.
`upload ADDR PORT MIB` / `download ADDR PORT MIB`: moves MIB MiB and prints "done N" with the
bytes the other end counted, or exits 1 after the socket timeout."""
import socket
import struct
import sys
import threading

CHUNK = 1 << 20


def sink(conn):
    n = 0
    with conn:
        while True:
            b = conn.recv(CHUNK)
            if not b:
                break
            n += len(b)
        conn.sendall(struct.pack("!Q", n))


def source(conn):
    with conn:
        want = struct.unpack("!Q", conn.recv(8))[0]
        buf = b"x" * CHUNK
        while want > 0:
            conn.sendall(buf[:min(want, CHUNK)])
            want -= min(want, CHUNK)


def listen(port, handler):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(8)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def main():
    if sys.argv[1] == "serve":
        port = int(sys.argv[2])
        threading.Thread(target=listen, args=(port + 1, source), daemon=True).start()
        listen(port, sink)
    mode, addr, port, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) << 20
    if mode == "upload":
        with socket.create_connection((addr, port), timeout=20) as s:
            buf = b"x" * CHUNK
            for _ in range(total // CHUNK):
                s.sendall(buf)
            s.shutdown(socket.SHUT_WR)
            print("done", struct.unpack("!Q", s.recv(8))[0])
    else:
        with socket.create_connection((addr, port + 1), timeout=20) as s:
            s.sendall(struct.pack("!Q", total))
            n = 0
            while True:
                b = s.recv(CHUNK)
                if not b:
                    break
                n += len(b)
            print("done", n)


if __name__ == "__main__":
    main()
