#!/bin/bash
# Issue 14, "reboot loops aren't slowed down", the log's side: a guest must not be able to
# fill the host's disk through vpsd.log. Repeated messages are counted, not written (with a
# "suppressed K similar messages" line that accounts for every one), and ROOT/vpsd.log is
# rotated by size (vpsd.log.1 .. .KEEP, 0600, root's) without losing a line, also across a
# SIGHUP re-exec. Small settings in a vpsd.conf of the test's own make it quick.
source "$(dirname "$0")/../integration/lib.sh"

export VPSD_CONFIG=$T/vpsd.conf
cat >"$VPSD_CONFIG" <<EOF
log_max_size = 4K
log_keep = 3
log_burst = 3
log_interval = 5
EOF
start_vpsd 2>"$T/start.err" || true
if [ -z "$VPSD_PID" ]; then
        fail "vpsd refused the log settings: $(cat "$T/start.err")"
        finish
fi
LOG=$ROOT/vpsd.log
logs() { cat "$LOG".3 "$LOG".2 "$LOG".1 "$LOG" 2>/dev/null || true; }
mode_of() { stat -c '%a %U' "$1"; }

# 1. A reboot loop logs the same two lines per restart: past 3 in 5 s they are counted.
make_running_vps 101
BOOTS=$ROOT/vps/101/upper/bootcount
boots() { [ -f "$BOOTS" ] && wc -l <"$BOOTS" || echo 0; }
vpsctl exec 101 sh -c 'printf "#!/bin/sh\n[ -e /stoploop ] && exit 0\necho boot >>/bootcount\nreboot -f\n" >/etc/rc.local &&
        chmod 755 /etc/rc.local'
vpsctl exec 101 reboot -f >/dev/null 2>&1 || true
for _ in $(seq 100); do [ "$(boots)" -ge 6 ] && break; sleep 0.1; done
# The loop ended from inside (a boot that finds /stoploop neither counts nor reboots), so
# that every boot counted rebooted: a stop in the middle of one could land between its
# count and its reboot (one reboot fewer than counted).
for _ in $(seq 100); do vpsctl exec 101 touch /stoploop >/dev/null 2>&1 && break; sleep 0.1; done
prev=-1
for _ in $(seq 30); do [ "$(boots)" = "$prev" ] && break; prev=$(boots); sleep 1; done
vpsctl stop 101 >/dev/null
rm -f "$ROOT/vps/101/upper/etc/rc.local"
b=$(boots)
sleep 7 # the last interval ends and its summary is written
written=$(logs | grep -v suppressed | grep -c 'VPS 101 stopped for a reboot$' || true)
counted=$(logs | sed -n 's/.*suppressed \([0-9]*\) similar messages in 5 s, the last: VPS 101 stopped for a reboot$/\1/p' |
        awk '{ s += $1 } END { print s + 0 }')
echo "reboots: $((b + 1)) ($b boots of the loop and the first), lines written: $written, counted: $counted"
if [ "$b" -ge 6 ]; then pass "the guest rebooted in a loop ($b boots)"
else fail "the loop did not run ($b boots): nothing to suppress"; fi
if [ "$counted" -ge 1 ] && [ "$written" -le $((3 * (b + 1))) ]; then pass "repeats suppressed with a summary line"
else fail "no 'suppressed K similar messages' line for the loop"; fi
expect_eq "every reboot is written or counted" $((b + 1)) $((written + counted))
# Similar means the same format and strings, whatever the numbers: the restart lines differ
# in their init PID and are one kind. (Lines naming other VPSes are kinds of their own: every
# one of part 2's is written.)
check "restart lines with different PIDs are similar" grep -qE 'suppressed [0-9]+ similar messages in 5 s, the last: VPS 101 restarted after reboot, init PID [0-9]+$' <<<"$(logs)"

# 2. Past 4 KiB the log moves to vpsd.log.1; every line is in one of the files.
expect_eq "vpsd.log is 0600, root's" "600 root" "$(mode_of "$LOG")"
L=$(printf 'x%.0s' $(seq 50))
made=()
cycle() { # creates and destroys a VPS with a long ID: two lines of about 130 bytes
        local id=$L-$1
        vpsctl create "$id" --ostemplate busybox >/dev/null && vpsctl destroy "$id" >/dev/null
        made+=("$id")
}
i=0
until [ -f "$LOG.1" ] || [ $i -ge 200 ]; do cycle $((i += 1)); done
check "vpsd.log.1 appears once vpsd.log passed 4 KiB" test -f "$LOG.1"
expect_eq "vpsd.log.1 is 0600, root's" "600 root" "$(mode_of "$LOG.1")"
expect_eq "the new vpsd.log is 0600, root's" "600 root" "$(mode_of "$LOG")"
size1=$(stat -c %s "$LOG.1")
if [ "$size1" -ge 4096 ] && [ "$size1" -lt 8192 ]; then pass "vpsd.log.1 holds $size1 bytes"
else fail "vpsd.log.1 holds $size1 bytes"; fi
cycle $((i += 1))
check "logging goes on in the new vpsd.log" grep -q "VPS ${made[-1]} destroyed" "$LOG"

# 3. A SIGHUP re-exec keeps logging into vpsd.log and rotating it.
before=$(grep -c 'listening on' <<<"$(logs)")
kill -HUP "$VPSD_PID"
for _ in $(seq 100); do [ "$(grep -c 'listening on' <<<"$(logs)")" -gt "$before" ] && break; sleep 0.1; done
check "the re-executed vpsd logs into vpsd.log" grep -q 'listening on' "$LOG"
check "same vpsd PID after the re-exec" kill -0 "$VPSD_PID"
until [ -f "$LOG.3" ] || [ $i -ge 400 ]; do cycle $((i += 1)); done
check "rotation goes on after the re-exec (vpsd.log.3)" test -f "$LOG.3"
missing=0
all=$(logs)
for id in "${made[@]}"; do
        [ "$(grep -c "VPS $id created from busybox\$" <<<"$all")" = 1 ] &&
                [ "$(grep -c "VPS $id destroyed; removing its files" <<<"$all")" = 1 ] || missing=$((missing + 1))
done
expect_eq "every line of ${#made[@]} create/destroy cycles is in vpsd.log{,.1,.2,.3} once" 0 "$missing"
# Then only KEEP old files: the oldest goes.
for _ in $(seq 40); do cycle $((i += 1)); done
check "no vpsd.log.4 (log_keep = 3)" test ! -e "$LOG.4"
for f in "$LOG" "$LOG".1 "$LOG".2 "$LOG".3; do
        expect_eq "$(basename "$f") is 0600, root's" "600 root" "$(mode_of "$f")"
done
check "vpsd still answers" vpsctl version
finish
