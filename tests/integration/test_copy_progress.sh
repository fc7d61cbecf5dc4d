#!/usr/bin/env bash
# Plain copies with progress (issue 17): a snapshot, a snapshot-switch and a clone on storage
# without reflinks (the state root on a loop-mounted ext4) report their progress as backup and
# restore do: through the API as 'P' frames of a vps-progress stream (docs/api.md), several,
# done never going back, the total (bytes) known from the first and reached by the last, the
# result's figures that total; on a terminal vpsctl shows the percentage; piped or with -j it
# shows none. Before, a copy said nothing until it was done (no vps-progress stream at all).
# A reinstall shows the walk of its old root (kept as a snapshot) the same way (files). A
# clone under way refuses a destroy, a backup and a snapshot of its source (busy); a backup
# under way, a destroy and a snapshot.
. "$(dirname "$0")/lib.sh"
ext4_root 1G
start_vpsd
vpsctl template build busybox >/dev/null
vpsctl create 861 --ostemplate busybox >/dev/null
b=$(vps_field 861 uid_base)
up=$ROOT/vps/861/upper
# 1500 small files in 30 directories and one 64 MiB file: about 88 MiB, as entries and bytes.
python3 "$(dirname "$0")/make_tree.py" "$up/data" "$b" 1500 30
dd if=/dev/urandom of="$up/big" bs=1M count=64 status=none
chown "$b:$b" "$up/big"

EV="$(command -v /usr/bin/python3 || command -v python3) $(dirname "$0")/backup_events.py"
# progress_ok WHAT FILE RESULT_BYTES_FILTER RESULT_FILES_FILTER: the events in FILE (one JSON
# object a line) are a copy's progress that ends at its total, the result's figures.
progress_ok() {
        expect_jq "$1: several events, monotonic, ending at the total counted first, the result's figures" \
                "([.[] | .P | select(.)]) as \$p | (.[-1].K | $3) as \$b | (.[-1].K | $4) as \$f
                 | \$b > 80000000 and (\$p | length) >= 5 and \$p[0].done == 0 and \$p[0].total == \$b
                 and ([\$p[].phase] | unique) == [\"copy\"] and ([\$p[].unit] | unique) == [\"bytes\"]
                 and ([\$p[].total] | unique) == [\$b] and \$p[-1].done == \$b and \$p[-1].bytes == \$b
                 and \$p[-1].files == \$f and ([\$p[] | select(.done > 0 and .done < \$b)] | length) >= 3
                 and ([range(1; \$p | length) as \$i | \$p[\$i].done >= \$p[\$i - 1].done
                       and \$p[\$i].files >= \$p[\$i - 1].files and \$p[\$i].bytes >= \$p[\$i - 1].bytes] | all)" \
                jq -s . "$2"
}

# --- through the API ----------------------------------------------------------------------------
check "a snapshot through the API, its events read" \
        sh -c "$EV post '$SOCK' /v1/vps/861/snapshots '{\"name\": \"s1\"}' >'$T/ev.snap'"
progress_ok "snapshot" "$T/ev.snap" .size .files
expect_jq "a plain copy (no reflinks on this ext4)" '.[-1].K.reflinked == 0 and .[-1].K.name == "s1"' jq -s . "$T/ev.snap"
rm -rf "${up:?}/data"
check "a switch through the API, its events read" \
        sh -c "$EV post '$SOCK' /v1/vps/861/snapshot-switch '{\"name\": \"s1\"}' >'$T/ev.switch'"
progress_ok "snapshot-switch" "$T/ev.switch" .bytes .files
expect_jq "the switch is done" '.[-1].K.switched and .[-1].K.id == "861"' jq -s . "$T/ev.switch"
check "with the snapshot's files" test "$(find "$up/data" -type f | wc -l)" = 1500
check "a clone through the API, its events read" \
        sh -c "$EV post '$SOCK' /v1/vps/861/clone '{\"id\": \"862\"}' >'$T/ev.clone'"
progress_ok "clone" "$T/ev.clone" .copied.bytes .copied.files
expect_jq "the clone is made" '.[-1].K.id == "862" and .[-1].K.status == "stopped"' jq -s . "$T/ev.clone"
check "an error comes as an 'E' event" \
        sh -c "$EV post '$SOCK' /v1/vps/861/snapshot-switch '{\"name\": \"nope\"}' >'$T/ev.err'; [ \$? = 1 ]"
expect_jq "naming the problem, with its errno" '.[-1].E.errno == 2 and (.[-1].E.error | test("no snapshot .nope."))' jq -s . "$T/ev.err"
code=$(curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$SOCK" -X POST -H 'Connection: Upgrade' \
        -H 'Upgrade: vps-progress' -d '{}' "http://vpsd/v1/vps/861/start")
check "a request that copies nothing has no progress stream (400, named)" \
        sh -c "[ '$code' = 400 ] && grep -q 'has no progress stream' '$T/out'"
vpsctl start 861 >/dev/null
check "a running VPS's snapshot through the API" \
        sh -c "$EV post '$SOCK' /v1/vps/861/snapshots '{\"name\": \"s2\"}' >'$T/ev.running'"
expect_jq "its events: the copy's, up to its total, then the frozen catch-up's result" \
        '([.[] | .P | select(.)]) as $p | .[-1].K.running and .[-1].K.frozen_ms > 0
         and ($p | length) >= 5 and $p[0].done == 0 and $p[-1].done == $p[-1].total' jq -s . "$T/ev.running"
vpsctl stop 861 --fast >/dev/null

# --- vpsctl on a terminal, piped, -j ------------------------------------------------------------
tty_run() { script -qec "'$VPSCTL_BIN' --socket '$SOCK' $1" /dev/null >"$2" 2>&1; }
check "vpsctl snapshot on a terminal" tty_run "snapshot 861 --name s3" "$T/tty.snap"
check "vpsctl snapshot-switch on a terminal" tty_run "snapshot-switch 861 s3" "$T/tty.switch"
check "vpsctl clone on a terminal" tty_run "clone 861 863" "$T/tty.clone"
for w in snapshot snapshot-switch clone; do
        f=$T/tty.${w#snapshot-}
        [ "$w" = snapshot ] && f=$T/tty.snap
        check "$w: the percentage shown, up to 100% of the MiB copied" \
                grep -qE "$w: 100% \\(([0-9.]+) of \\1 MiB copied\\), [0-9]+ files" "$f"
        check "$w: and steps before it" \
                sh -c "[ \$(tr '\\r' '\\n' <'$f' | grep -cE '^$w: +[0-9]+% ') -ge 4 ]"
done
check "then the result line" grep -q "VPS 861: snapshot s3 taken" "$T/tty.snap"
vpsctl snapshot 861 --name s4 >/dev/null 2>"$T/piped.err"
vpsctl clone 861 864 -j >"$T/j.out" 2>"$T/j.err"
check "piped or -j: no progress" sh -c "[ ! -s '$T/piped.err' ] && [ ! -s '$T/j.err' ]"
expect_jq "-j: the answer with the copy's figures" '.id == "864" and .copied.files > 1500 and .copied.bytes > 80000000' cat "$T/j.out"
# A clone racing a destroy, a backup and a snapshot of its source: the clone goes on, the
# others are refused as busy in one line (the clone of 88 MiB on ext4 takes a moment).
# The job (vpsd's fork that copies) is held with SIGSTOP meanwhile: on a loaded machine the
# clone could end before the third refusal is asked.
job_of() { # job_of TEXT: the fork of vpsd (not its exec'd helpers) with a file open whose path has TEXT
        local c
        for c in $(pgrep -P "$VPSD_PID"); do
                tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -qE -- '--(starter|sysinfo-writer)' && continue
                ls -l "/proc/$c/fd" 2>/dev/null | grep -qF -- "$1" && { echo "$c"; return 0; }
        done
        return 1
}
vpsctl clone 861 866 -j >"$T/race.clone" 2>&1 & CL=$!
JOB=
for _ in $(seq 2000); do JOB=$(job_of "$ROOT/vps/.clone-866") && break; sleep 0.005; done
check "the clone's job is found under way (${JOB:-none}), and held" test -n "$JOB"
if [ -n "$JOB" ]; then
        kill -STOP "$JOB"
        expect_error "a destroy of the clone's source is refused" "VPS 861 is busy: a clone of it is under way" vpsctl destroy 861
        expect_error "a backup of it too" "VPS 861 is busy" vpsctl backup 861 --to "$T/race.tar.zst"
        check "and leaves no file" sh -c "! ls -A '$T' | grep -q 'race\.tar\.zst'"
        expect_error "a snapshot of it too" "VPS 861 is busy" vpsctl snapshot 861 --name race
        kill -CONT "$JOB"
fi
wait $CL
expect_jq "the clone is done meanwhile" '.id == "866" and .status == "stopped"' cat "$T/race.clone"
check "861 is still there" vpsctl status 861
check "vpsctl reinstall on a terminal" tty_run "reinstall 864" "$T/tty.reinst"
check "reinstall: the walk of the old root shown, up to 100% of its files" \
        grep -qE "reinstall: 100% \(([0-9]+) of \1 files\), [0-9.]+ MiB" "$T/tty.reinst"
check "then its result line" grep -q "VPS 864 reinstalled from template busybox; the old root is snapshot reinstall-" "$T/tty.reinst"
vpsctl reinstall 864 --no-keep >/dev/null 2>"$T/reinst.err"
check "reinstall piped: no progress" test ! -s "$T/reinst.err"
rc=0
script -qec "'$VPSCTL_BIN' --socket '$SOCK' snapshot-switch 861 nope" /dev/null >"$T/tty.err" 2>&1 || rc=$?
check "an error on a terminal: its line, exit 3 ($rc)" sh -c "[ $rc = 3 ] && grep -q \"has no snapshot 'nope'\" '$T/tty.err'"

# A backup racing a destroy and a snapshot of its VPS: the backup goes on, they are refused.
# (vpsctl, the backup's reader, held meanwhile: the backup stays under way, its stream full)
"$VPSCTL_BIN" --socket "$SOCK" backup 861 --to "$T/race2.tar.zst" -j >"$T/race2.out" 2>&1 & BK=$!
for _ in $(seq 2000); do ls -A "$T" | grep -q '^\.race2\.tar\.zst\.part-' && break; sleep 0.005; done
kill -STOP "$BK"
check "the backup is under way (its part file)" sh -c "ls -A '$T' | grep -q '^\.race2\.tar\.zst\.part-'"
expect_error "a destroy racing a backup is refused" "VPS 861 is busy: a backup of it is under way" vpsctl destroy 861
expect_error "a snapshot racing it too" "VPS 861 is busy" vpsctl snapshot 861 --name race2
kill -CONT "$BK"
wait $BK
expect_jq "the backup is complete" '.files > 1500 and .in_archive == .files' cat "$T/race2.out"
finish
