#!/usr/bin/env python3
"""Print the VXLAN header of every VXLAN packet seen on an interface (AF_PACKET, root).

Usage: vxlan_sniff.py IFACE SECONDS [MAX_PACKETS]
One line per packet:
  vxlan flags=0x88 G=1 gbp=11 vni=42 proto=icmp src=198.19.1.1 dst=198.19.2.1
flags is the first header byte (G bit 0x80, I bit 0x08); gbp the Group Policy ID
(draft-smith-vxlan-group-policy), the inner packet's protocol and addresses. Prints
"ready" on stderr once the socket is bound.
"""
import ipaddress
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
VXLAN_PORT = 4789
PROTOS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}


def inner(frame):
    """(proto, src, dst) of the inner Ethernet frame, or None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20:
        return PROTOS.get(ip[9], str(ip[9])), str(ipaddress.IPv4Address(ip[12:16])), \
            str(ipaddress.IPv4Address(ip[16:20]))
    if ethertype == 0x86DD and len(ip) >= 40:
        return PROTOS.get(ip[6], str(ip[6])), str(ipaddress.IPv6Address(ip[8:24])), \
            str(ipaddress.IPv6Address(ip[24:40]))
    if ethertype == 0x0806:
        return "arp", "-", "-"
    return None


def vxlan_line(frame):
    if len(frame) < 14 + 20 + 8 + 8 or struct.unpack("!H", frame[12:14])[0] != 0x0800:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 17 or len(ip) < ihl + 16:
        return None
    udp = ip[ihl:]
    if struct.unpack("!H", udp[2:4])[0] != VXLAN_PORT:
        return None
    vx = udp[8:16]
    flags = vx[0]
    gbp = struct.unpack("!H", vx[2:4])[0]
    vni = int.from_bytes(vx[4:7], "big")
    what = inner(udp[16:]) or ("?", "-", "-")
    return "vxlan flags=0x%02x G=%d gbp=%d vni=%d proto=%s src=%s dst=%s" % (
        flags, 1 if flags & 0x80 else 0, gbp, vni, what[0], what[1], what[2])


def main():
    iface, seconds = sys.argv[1], float(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    print("ready", file=sys.stderr, flush=True)
    deadline = time.monotonic() + seconds
    seen = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            frame = s.recv(65535)
        except socket.timeout:
            break
        line = vxlan_line(frame)
        if line:
            print(line, flush=True)
            seen += 1
            if limit and seen >= limit:
                break


if __name__ == "__main__":
    main()
