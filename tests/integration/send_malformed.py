#!/usr/bin/env python3
"""Sends malformed frames out of eth0 of the current namespace with an AF_PACKET socket.

Usage: send_malformed.py DST_MAC KIND COUNT. Frames go to DST_MAC; the host-side veth's
stamp program sees them first. Kinds name the drop reason they must produce.
"""
import socket
import struct
import sys


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ipv4(ihl=5, total=None, proto=6, payload=b""):
    hdr_len = max(ihl, 5) * 4
    total = total if total is not None else hdr_len + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, 0, 64, proto, 0,
                      bytes([198, 18, 1, 3]), bytes([198, 18, 1, 2]))
    return hdr + b"\0" * (hdr_len - 20) + payload


def tcp(doff):
    return struct.pack("!HHIIBBHHH", 40000, 8080, 1, 0, doff << 4, 0x02, 1024, 0, 0)


FRAMES = {
    "drop_l3_truncated": lambda: (0x0800, b"\x45\x00\x00\x14\x00"),    # 5 bytes of IPv4
    "drop_ipv4_ihl": lambda: (0x0800, ipv4(ihl=3)),
    "drop_tcp_doff": lambda: (0x0800, ipv4(payload=tcp(15))),           # 60-byte header, 20 sent
    "drop_l4_truncated": lambda: (0x0800, ipv4(payload=b"\x9c\x40")),   # 2 bytes of TCP
    "drop_l3_unknown": lambda: (0x88b5, b"local experimental ethertype"),
    "drop_ipv6_version": lambda: (0x86dd, b"\x40" + b"\0" * 39),
}

dst, kind, count = mac(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
src = s.getsockname()[4]
ethertype, payload = FRAMES[kind]()
frame = dst + src + struct.pack("!H", ethertype) + payload
for _ in range(count):
    s.send(frame)
