#!/usr/bin/env python3
"""200 TLS clients list VPSes at once (each its own connection and handshake) while the Unix
socket is asked for the version every 20 ms; prints one JSON object of what came back and
the Unix socket's latencies. Usage: remote_storm.py HOST PORT CA TOKEN UNIX_SOCKET [N]"""
import json, socket, ssl, sys, threading, time

host, port, ca, token, usock = sys.argv[1:6]
n = int(sys.argv[6]) if len(sys.argv) > 6 else 200
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False  # vpsd's certificate is pinned by its CA file alone
barrier = threading.Barrier(n)
results = [None] * n
done = threading.Event()


def read_response(sock):
    data = b""
    while True:
        b = sock.recv(65536)
        if not b:
            break
        data += b
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    if b"chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            k = int(size, 16)
            if k == 0:
                break
            out, rest = out + rest[:k], rest[k + 2:]
        body = out
    return status, body


def client(i):
    try:
        barrier.wait(timeout=30)
        t0 = time.monotonic()
        raw = socket.create_connection((host, int(port)), timeout=60)
        s = ctx.wrap_socket(raw)
        s.sendall(("GET /v1/vps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Connection: close\r\n\r\n" % token).encode())
        status, body = read_response(s)
        s.close()
        n_vps = len(json.loads(body)) if status == 200 else -1
        results[i] = {"status": status, "vps": n_vps, "ms": (time.monotonic() - t0) * 1000}
    except Exception as e:  # noqa: BLE001 - the test counts failures
        results[i] = {"status": 0, "error": str(e)}


def unix_version():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(usock)
    s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, _ = read_response(s)
    s.close()
    return status


lat = []
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
t0 = time.monotonic()
for t in threads:
    t.start()
unix_bad = 0
while any(t.is_alive() for t in threads):
    a = time.monotonic()
    if unix_version() != 200:
        unix_bad += 1
    lat.append((time.monotonic() - a) * 1000)
    time.sleep(0.02)
for t in threads:
    t.join()
wall = (time.monotonic() - t0) * 1000
lat.sort()
ok = [r for r in results if r and r["status"] == 200]
print(json.dumps({
    "clients": n, "ok": len(ok),
    "statuses": sorted({r["status"] for r in results if r}),
    "errors": [r.get("error") for r in results if r and r["status"] != 200][:5],
    "vps_listed": sorted({r["vps"] for r in ok}),
    "storm_ms": round(wall, 1),
    "tls_client_ms_max": round(max((r["ms"] for r in ok), default=0), 1),
    "unix_requests": len(lat), "unix_bad": unix_bad,
    "unix_ms_p50": round(lat[len(lat) // 2], 2) if lat else None,
    "unix_ms_max": round(lat[-1], 2) if lat else None,
}))
