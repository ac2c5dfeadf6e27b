#!/usr/bin/env python3
"""Sets a device's IPv4 GSO and GRO max sizes (IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE,
kernel >= 6.3) in the current network namespace: Debian 12's iproute2 (6.1) cannot. Usage:
gso_ipv4_size.py DEV BYTES. Exits 1 with the kernel's error when it refuses."""
import os
import socket
import struct
import sys

IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE = 63, 64
RTM_NEWLINK, NLM_F_REQUEST, NLM_F_ACK, NLMSG_ERROR = 16, 1, 4, 2


def main():
    dev, size = sys.argv[1], int(sys.argv[2])
    attrs = b"".join(struct.pack("HHI", 8, t, size)
                     for t in (IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE))
    body = struct.pack("BxHiII", socket.AF_UNSPEC, 0, socket.if_nametoindex(dev), 0, 0) + attrs
    msg = struct.pack("IHHII", 16 + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        s.send(msg)
        reply = s.recv(4096)
    kind = struct.unpack("H", reply[4:6])[0]
    err = struct.unpack("i", reply[16:20])[0] if kind == NLMSG_ERROR else -1
    if err:
        sys.exit("%s: IPv4 GSO/GRO max size %d refused: %s" % (dev, size, os.strerror(-err)))


if __name__ == "__main__":
    main()
