#!/usr/bin/env bash
# Live snapshots of a Debian 12 (systemd) VPS (issue 17, "Shown by"): a systemd service in
# the guest appends numbered, fsync'ed records of fixed size; each of 20 snapshots taken
# while it writes (about 10 s in all) holds a growing prefix of whole records, none torn; then the VPS is switched to one of them and boots from it (systemd
# running or degraded) with exactly that snapshot's records.
. "$(dirname "$0")/lib.sh"
quiet() { "$@" >/dev/null 2>&1; }
# systemd's state, polled until running or degraded (at most about 30 s).
wait_systemd() {
        local st=
        for _ in $(seq 300); do
                st=$(vpsctl exec "$1" -- systemctl is-system-running 2>/dev/null || true)
                case $st in running | degraded) break ;; esac
                sleep 0.1
        done
        printf '%s' "$st"
}
start_vpsd
debian_template || { fail "template build debian-12: $(tail -n3 "$T/debian-build.out")"; finish; }
check "create 741 from debian-12" quiet vpsctl create 741 --ostemplate debian-12
check "start 741" quiet vpsctl start 741
st=$(wait_systemd 741)
check "systemd is up ($st)" grep -qxE 'running|degraded' <<<"$st"

# The writer: a transient service appending records of 64 KiB ("R%08d ", x up to 65535
# bytes, a newline), each by one write(2) of dd and fsync'ed (conv=fsync) before the next is
# begun. A write of 16 pages grows the file page by page, so a copy taken while it runs (no
# freeze) often ends inside a record; a frozen writer is between two writes.
REC=65536
check "the writer service starts" quiet vpsctl exec 741 -- systemd-run --unit=recwriter \
        /bin/sh -c "i=0; while :; do i=\$((i+1)); { printf 'R%08d ' \$i; head -c $((REC - 11)) /dev/zero | tr '\\0' x; echo; } | dd of=/rec.log oflag=append conv=notrunc,fsync bs=$REC count=1 iflag=fullblock status=none; done"
for _ in $(seq 50); do [ -s "$ROOT/vps/741/upper/rec.log" ] && break; sleep 0.1; done
check "it writes" test -s "$ROOT/vps/741/upper/rec.log"

NSNAP=20
frozen=() frozen_ok=0
t0=$(date +%s%N)
for k in $(seq "$NSNAP"); do
        out=$(vpsctl snapshot 741 --name "w$k" -j)
        jq -e '.running and .frozen_ms > 0' <<<"$out" >/dev/null && frozen_ok=$((frozen_ok + 1))
        frozen+=("$(jq .frozen_ms <<<"$out")")
        sleep 0.1
done
echo "$NSNAP snapshots in $(( ($(date +%s%N) - t0) / 1000000 )) ms; frozen (ms): ${frozen[*]}"
expect_eq "$NSNAP snapshots of the running VPS, each frozen" "$NSNAP" "$frozen_ok"
check "the writer still runs after them" quiet vpsctl exec 741 -- systemctl is-active recwriter

V=$ROOT/vps/741
prev=0 prefix_ok=0 counts=()
for k in $(seq "$NSNAP"); do
        f=$V/snapshots/w$k/upper/rec.log
        # whole records 1..n in order, nothing else; a torn last record has no newline or
        # is short, and fails the comparison
        n=$(awk -v len=$((REC - 11)) -v want=1 '
                BEGIN { pad = "x"; while (length(pad) < len) pad = pad pad; pad = substr(pad, 1, len) }
                NF != 2 || $1 != sprintf("R%08d", want) || $2 != pad { bad = 1; exit }
                { want++ } END { if (bad) print -1; else print want - 1 }' "$f")
        last=$(tail -c 1 "$f" | od -An -c | tr -d ' ')
        size=$(stat -c %s "$f")
        if [ "$n" -gt "$prev" ] && [ "$last" = '\n' ] && [ "$size" = $((n * REC)) ]; then
                prefix_ok=$((prefix_ok + 1))
        fi
        counts+=("$n")
        prev=$n
done
echo "records in each snapshot: ${counts[*]}"
expect_eq "each snapshot holds a growing prefix of whole records" "$NSNAP" "$prefix_ok"

# A snapshot boots: the VPS switched to the middle one (stopped and started again by the
# switch) comes up under systemd with that snapshot's records and no more.
mid=$(( (NSNAP + 1) / 2 ))
want=${counts[$((mid - 1))]}
check "switch to w$mid (the VPS restarted)" quiet vpsctl snapshot-switch 741 "w$mid"
expect_jq "running again" '.status == "running"' vpsctl status 741 -j
st=$(wait_systemd 741)
check "systemd is up in the switched VPS ($st)" grep -qxE 'running|degraded' <<<"$st"
expect_eq "it holds w$mid's $want records" "$want" \
        "$(vpsctl exec 741 -- sh -c 'wc -l </rec.log' 2>/dev/null | tr -d ' ')"
expect_eq "and no more bytes" $((want * REC)) "$(vpsctl exec 741 -- stat -c %s /rec.log 2>/dev/null)"
expect_eq "its last record is whole" "R$(printf %08d "$want") $((REC - 11))" \
        "$(vpsctl exec 741 -- tail -n 1 /rec.log 2>/dev/null | awk '{ print $1, length($2) }')"
expect_eq "no writer in it (a transient service)" inactive \
        "$(vpsctl exec 741 -- systemctl is-active recwriter 2>/dev/null || true)"
check "stop 741" quiet vpsctl stop 741 --timeout 20
finish
