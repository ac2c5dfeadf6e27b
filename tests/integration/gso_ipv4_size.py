#!/usr/bin/env python3
"""Sets a device's IPv4 GSO and GRO max sizes (IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE,
kernel >= 6.3) in the current network namespace: Debian 12's iproute2 (6.1) cannot. Usage:
gso_ipv4_size.py DEV BYTES. Reads the sizes back, since an older kernel ignores attributes it
does not know; exits 1 saying why when they are not in force."""
import os
import socket
import struct
import sys

IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE = 63, 64
RTM_NEWLINK, RTM_GETLINK, NLMSG_ERROR = 16, 18, 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4


def request(sock, kind, flags, body):
    sock.send(struct.pack("IHHII", 16 + len(body), kind, NLM_F_REQUEST | flags, 1, 0) + body)
    return sock.recv(65536)


def attributes(msg):
    """The IFLA attributes of an RTM_NEWLINK answer: {type: payload}."""
    out, off = {}, 16 + 16  # netlink header, ifinfomsg
    while off + 4 <= len(msg):
        length, kind = struct.unpack("HH", msg[off:off + 4])
        if length < 4:
            break
        out[kind & 0x3fff] = msg[off + 4:off + length]
        off += (length + 3) & ~3
    return out


def main():
    dev, size = sys.argv[1], int(sys.argv[2])
    ifinfo = struct.pack("BxHiII", socket.AF_UNSPEC, 0, socket.if_nametoindex(dev), 0, 0)
    attrs = b"".join(struct.pack("HHI", 8, t, size)
                     for t in (IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE))
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        reply = request(s, RTM_NEWLINK, NLM_F_ACK, ifinfo + attrs)
        if struct.unpack("H", reply[4:6])[0] == NLMSG_ERROR:
            err = struct.unpack("i", reply[16:20])[0]
            if err:
                sys.exit("%s: IPv4 GSO/GRO max size %d refused: %s" % (dev, size, os.strerror(-err)))
        got = attributes(request(s, RTM_GETLINK, 0, ifinfo))
    for kind in (IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE):
        if kind not in got or struct.unpack("I", got[kind][:4])[0] != size:
            sys.exit("%s: this kernel has no IPv4 GSO/GRO max size (BIG TCP over IPv4 needs 6.3)" % dev)


if __name__ == "__main__":
    main()
