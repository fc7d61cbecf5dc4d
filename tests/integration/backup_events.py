#!/usr/bin/env python3
"""A client of the backup and restore streams (docs/api.md) that prints what vpsd sends besides
the archive's bytes, one JSON object a line: {"P": progress} for each progress frame, then
{"K": result} or {"E": error}.

  backup_events.py backup SOCKET ID OUT      the archive of VPS ID written to OUT
  backup_events.py restore SOCKET ID FILE    FILE (one complete backup) restored as VPS ID
  backup_events.py post SOCKET PATH BODY     POST BODY (JSON) to PATH as a progress stream
                                             (vps-progress: a snapshot, switch or clone)

With EV_TLS=HOST:PORT (the remote API) SOCKET is not used: TLS to HOST:PORT, vpsd's
certificate in EV_CA, and EV_TOKEN as the Bearer token.
"""
import json
import os
import socket
import ssl
import struct
import sys
import threading


def connect(sock_path, path, proto, body=b""):
    auth = ""
    if os.environ.get("EV_TLS"):
        host, port = os.environ["EV_TLS"].rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=os.environ["EV_CA"])
        ctx.check_hostname = False
        s = ctx.wrap_socket(socket.create_connection((host, int(port))))
        auth = f"Authorization: Bearer {os.environ['EV_TOKEN']}\r\n"
    else:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock_path)
    s.sendall((f"POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n{auth}"
               f"Upgrade: {proto}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        c = s.recv(1)
        if not c:
            sys.exit("vpsd closed the connection")
        head += c
    if b" 101 " not in head.split(b"\r\n")[0]:
        sys.exit("no upgrade: " + head.decode(errors="replace"))
    return s


def read_exact(s, n):
    out = b""
    while len(out) < n:
        c = s.recv(n - len(out))
        if not c:
            sys.exit("the stream ended before a result")
        out += c
    return out


def send_frame(s, kind, payload=b""):
    s.sendall(kind + struct.pack(">I", len(payload)) + payload)


def frames(s, out):
    """Prints the P, K and E frames; D frames go to out. Returns at K or E."""
    while True:
        kind, n = struct.unpack(">cI", read_exact(s, 5))
        payload = read_exact(s, n)
        if kind == b"D" and out is not None:
            out.write(payload)
        elif kind in (b"P", b"K", b"E"):
            print(json.dumps({kind.decode(): json.loads(payload)}), flush=True)
            if kind != b"P":
                return kind == b"K"
        else:
            sys.exit(f"unexpected frame {kind!r}")


def main():
    what, sock_path, vps_id, path = sys.argv[1:5]
    if what == "post":
        s = connect(sock_path, vps_id, "vps-progress", path.encode())
        ok = frames(s, None)
    elif what == "backup":
        s = connect(sock_path, f"/v1/vps/{vps_id}/backup", "vps-backup")
        send_frame(s, b"Z")
        with open(path, "wb") as out:
            ok = frames(s, out)
    else:
        size = os.path.getsize(path)
        s = connect(sock_path, f"/v1/restore?id={vps_id}&size={size}", "vps-restore")
        result = []
        reader = threading.Thread(target=lambda: result.append(frames(s, None)))
        reader.start()
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                send_frame(s, b"D", chunk)
        send_frame(s, b"Z")
        reader.join()
        ok = result == [True]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
