#!/usr/bin/env python3
"""The systemd side of Type=notify for the rehearsal: bind a unix datagram socket, print
each notification, exit 0 at READY=1, 1 after TIMEOUT seconds without it."""
import os
import socket
import sys
import time

path, timeout = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
end = time.monotonic() + timeout
try:
    while True:
        left = end - time.monotonic()
        if left <= 0:
            print("timeout: no READY=1", flush=True)
            sys.exit(1)
        s.settimeout(left)
        try:
            msg = s.recv(4096).decode(errors="replace")
        except socket.timeout:
            continue
        print(msg.replace("\n", " "), flush=True)
        if "READY=1" in msg.split("\n"):
            sys.exit(0)
finally:
    os.unlink(path)
