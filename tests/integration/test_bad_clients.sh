#!/usr/bin/env bash
# Bad clients cannot hurt vpsd: a 100 MB body, invalid UTF-8, unknown fields, traversal in
# template names, 1000 idle connections at once and slowloris senders each get a clean error
# or are cut off, vpsd's memory stays bounded, and other clients are served meanwhile.
. "$(dirname "$0")/lib.sh"
start_vpsd
make_running_vps 981
rss() { awk '/^VmRSS:/ { print $2 }' /proc/"$VPSD_PID"/status; }
api() { curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" "$@"; }
rss0=$(rss)

head -c 100000000 /dev/zero | tr '\0' 'x' >"$T/big"
expect_eq "a 100 MB body is refused with 413" 413 "$(api -X POST --data-binary @"$T/big" -H 'Content-Type: application/json' http://localhost/v1/vps)"
expect_jq "saying why" '.error | test("larger than")' cat "$T/out"
rm -f "$T/big"
printf '{"id": "99\xff\xfe", "ostemplate": "busybox"}' >"$T/bad-utf8"
expect_eq "invalid UTF-8 is 400" 400 "$(api -X POST --data-binary @"$T/bad-utf8" http://localhost/v1/vps)"
expect_eq "an unknown field in a create is 400" 400 "$(api -X POST -d '{"id": "982", "ostemplate": "busybox", "colour": "red"}' http://localhost/v1/vps)"
expect_jq "naming the field" '.error | test("colour")' cat "$T/out"
check "and no VPS 982" test ! -e "$ROOT/vps/982"
expect_eq "an unknown field in a set is 400" 400 "$(api -X PATCH -d '{"colour": "red"}' http://localhost/v1/vps/981)"
expect_eq "a template name with a traversal is 400" 400 "$(api -X POST -d '{"name": "../../etc"}' http://localhost/v1/templates)"
expect_eq "an import name with a traversal is 400" 400 "$(api -X POST -d '{"name": "../x", "import": "/etc/hostname"}' http://localhost/v1/templates)"
check "nothing made outside the template dir" test ! -e "$ROOT/etc" -a ! -e "$ROOT/x"

# 1000 idle connections and 50 slowloris senders at once; meanwhile real clients are served.
# The holder keeps them until the test is done with its requests ($T/release, or 120 s).
python3 - "$SOCK" "$T/hold" "$T/release" <<'PY' &
import os, socket, sys, time
path, flag, release = sys.argv[1], sys.argv[2], sys.argv[3]
idle, slow = [], []
for _ in range(1000):
    s = socket.socket(socket.AF_UNIX); s.connect(path); idle.append(s)
for _ in range(50):
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.send(b"GET /v1/vps HTTP/1.1\r\n"); slow.append(s)
open(flag, "w").close()
end = time.time() + 120
while not os.path.exists(release) and time.time() < end:   # a header byte a second, never finishing
    for s in slow:
        try: s.send(b"X")
        except OSError: pass
    time.sleep(1)
PY
holder=$!
for _ in $(seq 300); do [ -e "$T/hold" ] && break; sleep 0.1; done
check "1050 connections are open" test -e "$T/hold"
t0=$(date +%s%N)
ok=0
for _ in $(seq 20); do vpsctl list -j >/dev/null && ok=$((ok + 1)); done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "20 lists answered meanwhile" 20 "$ok"
# Tens of ms on a normal build; a vpsd stuck on the idle or slow connections would take
# seconds per list. ASan/UBSan binaries are several times slower: 4x the bound.
limit=$([ "${VPS_SANITIZED:-0}" = 1 ] && echo 20000 || echo 5000)
check "promptly ($ms ms for 20, limit $limit)" test "$ms" -lt "$limit"
expect_eq "exec works meanwhile" hi "$(vpsctl exec 981 -- echo hi)"
check "the connections were held throughout" kill -0 "$holder"
touch "$T/release"
wait "$holder" || true
expect_eq "vpsd still serves after they go" running "$(vps_field 981 status)"
rss1=$(rss)
check "vpsd's RSS stayed bounded ($rss0 -> $rss1 kB)" test $((rss1 - rss0)) -lt 30000
# vpsd closes the connections as it sees them go: a moment on a busy machine.
for _ in $(seq 100); do [ "$(ls /proc/"$VPSD_PID"/fd | wc -l)" -lt 100 ] && break; sleep 0.1; done
check "its fds went back" test "$(ls /proc/"$VPSD_PID"/fd | wc -l)" -lt 100

# With more than 1024 fds in vpsd, nftables (whose netlink exchange uses select(2), fatal for
# an fd of 1024 or more) still works for a networked start. After the memory check: under
# ASan, libnftables' allocations sit in the quarantine and would blur it.
python3 - "$SOCK" "$T/hold2" "$T/release2" <<'PY' &
import os, socket, sys, time
idle = []
for _ in range(1100):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); idle.append(s)
open(sys.argv[2], "w").close()
end = time.time() + 120
while not os.path.exists(sys.argv[3]) and time.time() < end:
    time.sleep(0.1)
PY
holder=$!
for _ in $(seq 300); do [ -e "$T/hold2" ] && break; sleep 0.1; done
# Connected is not yet accepted: vpsd takes them from the listen backlog at its own pace.
fds() { ls /proc/"$VPSD_PID"/fd | wc -l; }
for _ in $(seq 100); do [ "$(fds)" -gt 1024 ] && break; sleep 0.1; done
check "vpsd holds more than 1024 fds ($(fds))" test "$(fds)" -gt 1024
vpsctl create 983 --ostemplate busybox --ipadd "$NETPFX.83" >/dev/null
check "a networked start works meanwhile (nftables)" vpsctl start 983
check "and it answers" busybox ping -c 1 -w 30 "$NETPFX.83"
vpsctl stop 983 --fast >/dev/null
touch "$T/release2"
wait "$holder" || true
finish
