#!/usr/bin/env python3
"""Sends VXLAN-GBP packets from this namespace, as a rogue host on the underlay would.

vxlan_send.py VTEP GBP INNER_SRC INNER_DST INNER_MAC DPORT [COUNT]
  VTEP: the outer destination (a cell's underlay address), UDP port 4789
  GBP: the Group Policy ID (the G bit is set); INNER_*: an IPv4/UDP packet to DPORT in an
  Ethernet frame to INNER_MAC (the receiving cell's vxlan0), VNI 42.
"""
import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def inner_frame(src: str, dst: str, mac: str, dport: int) -> bytes:
    payload = b"wiretag-rogue"
    udp = struct.pack("!HHHH", 40999, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x7774, 0x4000, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = bytes.fromhex(mac.replace(":", "")) + bytes.fromhex("020000000099") + b"\x08\x00"
    return eth + ip + udp


def main() -> int:
    vtep, gbp, src, dst, mac, dport = sys.argv[1:7]
    count = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    vxlan = struct.pack("!BBHI", 0x88, 0, int(gbp), 42 << 8)
    packet = vxlan + inner_frame(src, dst, mac, int(dport))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(count):
        s.sendto(packet, (vtep, 4789))
    return 0


if __name__ == "__main__":
    sys.exit(main())
