#!/usr/bin/env python3
"""Long-running probes for the kill loop (run inside a container namespace).

  flow_probe.py stream HOST PORT SECONDS   TCP: send numbered lines for SECONDS to an echo
                                          server, read the echo concurrently; exit 0 only if
                                          every byte came back intact and in order. Prints
                                          "stream ok LINES BYTES" or the failure.
  flow_probe.py udp-send HOST PORT SECONDS  one numbered datagram every 10 ms
  flow_probe.py udp-recv PORT SECONDS     prints every datagram received (one per line)
"""
import socket
import sys
import threading
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def stream(host, port, seconds):
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(30)
    sent = bytearray()
    received = bytearray()
    done = threading.Event()
    error = []

    def reader():
        try:
            while not done.is_set() or len(received) < len(sent):
                data = s.recv(65536)
                if not data:
                    break
                received.extend(data)
        except Exception as e:  # noqa: BLE001 - reported below
            error.append(repr(e))

    t = threading.Thread(target=reader)
    t.start()
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        line = b"line %08d %s\n" % (n, b"x" * 200)
        s.sendall(line)
        sent.extend(line)
        n += 1
        time.sleep(0.005)
    done.set()
    deadline = time.monotonic() + 30
    while len(received) < len(sent) and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.05)
    s.shutdown(socket.SHUT_WR)
    t.join(timeout=35)
    s.close()
    if error:
        print("stream failed: %s after %d of %d bytes" % (error[0], len(received), len(sent)))
        return 1
    if bytes(received) != bytes(sent):
        print("stream corrupt: %d bytes sent, %d echoed" % (len(sent), len(received)))
        return 1
    print("stream ok %d %d" % (n, len(sent)))
    return 0


def udp_send(host, port, seconds):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        try:
            s.sendto(b"probe %d" % n, (host, port))
        except OSError:
            pass
        n += 1
        time.sleep(0.01)
    print("sent %d" % n)
    return 0


def udp_recv(port, seconds):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < end:
        try:
            data, peer = s.recvfrom(2048)
            print(data.decode(errors="replace"), peer[0], flush=True)
        except socket.timeout:
            pass
    return 0


def main():
    mode = sys.argv[1]
    if mode == "stream":
        return stream(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    if mode == "udp-send":
        return udp_send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    if mode == "udp-recv":
        return udp_recv(int(sys.argv[2]), float(sys.argv[3]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
