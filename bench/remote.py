#!/usr/bin/env python3
"""bench/remote's measurements (see bench/remote). Usage:
remote.py create UNIX_SOCKET N RUNNING   -- N stopped VPSes 1..N of busybox, the first RUNNING started
remote.py measure HOST PORT CA TOKEN RUNS -- prints one JSON object of medians"""
import http.client, json, socket, ssl, statistics, sys, time


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(600)
        self.sock.connect(self.path)


def call(c, method, url, body=None):
    c.request(method, url, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit("%s %s: %d %s" % (method, url, r.status, data[:200]))
    return data


def create(sock, n, running):
    c = UnixHTTP(sock)
    t0 = time.monotonic()
    for i in range(1, n + 1):
        call(c, "POST", "/v1/vps", {"id": str(i), "ostemplate": "busybox"})
    made = time.monotonic() - t0
    for i in range(1, running + 1):
        call(c, "POST", "/v1/vps/%d/start" % i, {})
    print(json.dumps({"created": n, "create_s": round(made, 1), "running": running}))


def ms(f, runs):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return {"median_ms": round(statistics.median(out), 2),
            "p90_ms": round(out[int(len(out) * 0.9) - 1], 2), "runs": runs}


def measure(host, port, ca, token, runs):
    # TLS 1.2 pinned: Python offers TLS 1.3 session tickets only after reading; a 1.2 session
    # ID is what a panel's client library resumes most often. Both are reported.
    res = {}
    for ver, name in ((ssl.TLSVersion.TLSv1_3, "tls13"), (ssl.TLSVersion.TLSv1_2, "tls12")):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False
        ctx.minimum_version = ctx.maximum_version = ver
        sess = {"s": None, "reused": 0}

        def handshake(reuse):
            raw = socket.create_connection((host, port))
            s = ctx.wrap_socket(raw, session=sess["s"] if reuse else None)
            s.sendall(b"GET /v1/version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + token.encode() + b"\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
            if not reuse:
                sess["s"] = s.session
            sess["reused"] += s.session_reused
            s.close()

        res[name + "_new_session"] = ms(lambda: handshake(False), runs)
        handshake(False)
        sess["reused"] = 0
        res[name + "_resumed_session"] = ms(lambda: handshake(True), runs)
        res[name + "_resumed_session"]["resumed"] = sess["reused"]
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=120)
    hdr = {"Authorization": "Bearer " + token}

    def get(url):
        c.request("GET", url, headers=hdr)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit("GET %s: %d %s" % (url, r.status, body[:200]))
        return body

    res["list_vps_count"] = len(json.loads(get("/v1/vps")))
    res["list_bytes"] = len(get("/v1/vps"))
    res["list"] = ms(lambda: get("/v1/vps"), runs)
    res["metrics_bytes"] = len(get("/metrics"))
    res["metrics"] = ms(lambda: get("/metrics"), runs)
    print(json.dumps(res))


if sys.argv[1] == "create":
    create(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
else:
    measure(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]))
