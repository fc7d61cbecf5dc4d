#!/usr/bin/env python3
"""bench/bootstorm's watcher: sends ICMP echo requests to each address until it answers, and
writes the curve (ms since T0, how many answer) as CSV. Only addresses with a route of their
own are asked (the bench puts an unreachable route over the whole range, so nothing leaves
the host). Usage: pingwatch.py T0_NS TIMEOUT_S OUT.csv ADDR..."""
import os
import select
import socket
import struct
import sys
import time


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    t0, timeout, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    left = set(sys.argv[4:])
    total = len(left)
    ident = os.getpid() & 0xFFFF
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    answered = []
    seq = 0
    next_send = 0.0
    while left and time.time_ns() - t0 < timeout * 1e9:
        now = time.monotonic()
        if now >= next_send:
            seq = (seq + 1) & 0xFFFF
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr), ident, seq)
            for a in list(left):
                try:
                    sock.sendto(pkt, (a, 0))
                except OSError:
                    pass  # no route of its own yet: unreachable
            next_send = now + 0.05
        r, _, _ = select.select([sock], [], [], 0.01)
        while r:
            try:
                data, addr = sock.recvfrom(2048)
            except BlockingIOError:
                break
            ihl = (data[0] & 0x0F) * 4
            typ, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident and addr[0] in left:
                left.discard(addr[0])
                answered.append((time.time_ns() - t0) // 1000000)
    with open(out, "w") as f:
        f.write("ms,answering\n")
        for i, ms in enumerate(answered):
            f.write("%d,%d\n" % (ms, i + 1))
    last = answered[-1] if answered else -1
    print("%d of %d answering; the last at %d ms" % (len(answered), total, last))
    return 0 if not left else 1


sys.exit(main())
