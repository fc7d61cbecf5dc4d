#!/usr/bin/env python3
"""A WebSocket client of vpsd's console (GET /v1/vps/ID/console, docs/api.md) for the tests,
able to misbehave. Prints one line: the HTTP status of the handshake, then what came of the
frames sent after it.

  ws_client.py HOST:PORT CA ID MODE [LINE]

Environment: WS_TOKEN (offered as the subprotocol vps.token.T beside vps.console), WS_AUTH
(sent as 'Authorization: Bearer ...' instead), WS_ORIGIN (an Origin header; default the
server's own), WS_PROTOCOL (the whole Sec-WebSocket-Protocol header instead).

MODE:
  say       sends LINE (plus a newline) as a masked text frame and prints "101 got" once
            LINE's expected answer (WS_EXPECT) comes back in binary frames, "101 timeout" else
  ping      prints "101 pong" when a ping is answered with its payload
  unmasked  sends LINE in an unmasked frame: prints "101 close CODE" (the server's close)
  oversized announces a frame of 1 MiB holding LINE: prints "101 close CODE"
  early     sends LINE as a frame right behind the handshake, without waiting for its answer
            (a refused handshake must not let it through): prints the status
"""
import os
import socket
import ssl
import struct
import sys
import time


def frame(op, data, mask=True, length=None):
    n = len(data) if length is None else length
    head = bytes([0x80 | op])
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + data
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(data))


def read_frame(s, buf):
    """One server frame from s: (opcode, payload), None at the end."""
    while True:
        if len(buf) >= 2:
            n, h = buf[1] & 0x7F, 2
            if n == 126 and len(buf) >= 4:
                n, h = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127 and len(buf) >= 10:
                n, h = struct.unpack(">Q", buf[2:10])[0], 10
            if n < 126 or h > 2:
                if buf[1] & 0x80:
                    sys.exit("the server masked a frame")
                if len(buf) >= h + n:
                    op, data = buf[0] & 0x0F, bytes(buf[h:h + n])
                    del buf[:h + n]
                    return op, data
        c = s.recv(65536)
        if not c:
            return None
        buf += c


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    ca, vid, mode = sys.argv[2], sys.argv[3], sys.argv[4]
    line = (sys.argv[5] if len(sys.argv) > 5 else "").encode()
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
    hdr = [f"GET /v1/vps/{vid}/console HTTP/1.1", f"Host: {host}:{port}",
           "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
    origin = os.environ.get("WS_ORIGIN", f"https://{host}:{port}")
    if origin:
        hdr.append(f"Origin: {origin}")
    if os.environ.get("WS_PROTOCOL") is not None:
        hdr.append(f"Sec-WebSocket-Protocol: {os.environ['WS_PROTOCOL']}")
    elif os.environ.get("WS_TOKEN"):
        hdr.append(f"Sec-WebSocket-Protocol: vps.console, vps.token.{os.environ['WS_TOKEN']}")
    if os.environ.get("WS_AUTH"):
        hdr.append(f"Authorization: Bearer {os.environ['WS_AUTH']}")
    req = ("\r\n".join(hdr) + "\r\n\r\n").encode()
    if mode == "early":
        req += frame(1, line + b"\n")
    s.sendall(req)
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(4096)
        if not c:
            break
        head += c
    status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/1.1 ") else "closed"
    head, _, rest = head.partition(b"\r\n\r\n")
    buf = bytearray(rest)
    if status != "101" or mode == "early":
        print(status)
        return
    lines = head.decode().lower().split("\r\n")
    if "sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=" not in lines:
        sys.exit("wrong Sec-WebSocket-Accept: " + head.decode())
    if os.environ.get("WS_TOKEN") and os.environ["WS_TOKEN"].lower() in head.decode().lower():
        sys.exit("the token came back in the answer")
    if mode == "say":
        s.sendall(frame(1, line + b"\n"))
        want, seen, end = os.environ["WS_EXPECT"].encode(), b"", time.time() + 10
        while time.time() < end:
            f = read_frame(s, buf)
            if f is None:
                break
            if f[0] == 2:
                seen += f[1]
                if want in seen.replace(b"\r", b""):
                    print("101 got")
                    s.sendall(frame(8, struct.pack(">H", 1000)))
                    return
        print("101 timeout", seen[-200:])
    elif mode == "ping":
        s.sendall(frame(9, b"are-you-there"))
        while True:
            f = read_frame(s, buf)
            if f is None or f[0] == 10:
                print("101 pong" if f and f[1] == b"are-you-there" else "101 no-pong")
                return
    elif mode in ("unmasked", "oversized"):
        data = line + b"\n"
        s.sendall(frame(1, data, mask=False) if mode == "unmasked"
                  else frame(2, data, length=1 << 20))
        while True:
            f = read_frame(s, buf)
            if f is None:
                print("101 closed-without-close")
                return
            if f[0] == 8:
                print("101 close", struct.unpack(">H", f[1][:2])[0] if len(f[1]) >= 2 else "")
                return


if __name__ == "__main__":
    main()
