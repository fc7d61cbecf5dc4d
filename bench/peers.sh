#!/usr/bin/env bash
# bench/peers.sh: the LXC and crun side of bench/run. bench/run starts it inside a private mount
# namespace whose /sys/fs/cgroup is a plain cgroup2 mount (see /work/shared/peers.md): on this
# hybrid-cgroup host crun refuses to run otherwise and LXC would touch the cgroup v1 roots.
#
# Environment (set by bench/run): BENCH_T (scratch dir), BENCH_ROOTFS (vpsd's busybox template
# rootfs, copied, never used in place), BENCH_RAW (where hyperfine JSONs go), BENCH_RUNS,
# BENCH_WARMUP, BENCH_SLOW_RUNS, BENCH_COLD_RUNS, BENCH_PEERS ("lxc crun" or a subset),
# BENCH_NAME (unique container name). For each peer it writes $BENCH_T/peer-NAME.status: "ok"
# or the reason it could not run; a peer that fails is recorded and skipped, never fatal.
set -euo pipefail

T=$BENCH_T
RAW=$BENCH_RAW
NAME=$BENCH_NAME
HF=(hyperfine --style basic --runs "$BENCH_RUNS" --warmup "$BENCH_WARMUP")
HF_SLOW=(hyperfine --style basic --runs "$BENCH_SLOW_RUNS" --warmup 0)
HF_COLD=(hyperfine --style basic --runs "$BENCH_COLD_RUNS" --warmup 0 --prepare "sleep 0.2")
CG=/sys/fs/cgroup

[ "$(stat -f -c %T "$CG")" = cgroup2fs ] || { echo "peers.sh: $CG is not cgroup2 (run through bench/run)" >&2; exit 1; }

LXCP=$T/lxc
CRUN_STATE=$T/crun/state
LXC_STARTED=
CRUN_DETACHED=

lxc() { local cmd=$1; shift; "lxc-$cmd" -P "$LXCP" -n "$NAME" "$@"; }
crunc() { crun --root "$CRUN_STATE" --cgroup-manager=disabled "$@"; }

cleanup() {
        local rc=$?
        if [ -n "$LXC_STARTED" ]; then
                lxc stop -k >/dev/null 2>&1 || true
        fi
        if [ -n "$CRUN_DETACHED" ]; then
                crunc kill "$NAME-exec" KILL >/dev/null 2>&1 || true
                crunc delete -f "$NAME-exec" >/dev/null 2>&1 || true
                crunc delete -f "$NAME-start" >/dev/null 2>&1 || true
        fi
        # LXC removes its payload/monitor cgroups on stop but leaves an empty lxc.pivot at
        # the cgroup2 root; rmdir only removes it if it is empty (another user's LXC may hold it).
        for d in "$CG"/lxc.payload."$NAME"* "$CG"/lxc.monitor."$NAME"* "$CG"/lxc.pivot; do
                [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
        done
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# hf LABEL HYPERFINE-ARGS...: one hyperfine run, its JSON to $RAW/LABEL.json, its text to a log.
hf() {
        local label=$1; shift
        if ! "$@" --export-json "$RAW/$label.json" >"$T/log/$label.txt" 2>&1; then
                echo "peers.sh: $label failed:" >&2
                tail -n 5 "$T/log/$label.txt" >&2
                rm -f "$RAW/$label.json"
                return 1
        fi
}

status() { printf '%s\n' "$2" >"$T/peer-$1.status"; }

# ---- crun: `crun spec` with terminal false; one bundle runs /bin/true, one keeps a sleep
# running for `crun exec` (a busybox init without a terminal would respawn its console shell
# in a loop). Both point at the same copy of the rootfs.
run_crun() {
        command -v crun >/dev/null || { status crun "crun not installed"; return 0; }
        local b=$T/crun/run e=$T/crun/exec rootfs=$T/crun/rootfs
        mkdir -p "$b" "$e" "$CRUN_STATE"
        cp -a "$BENCH_ROOTFS" "$rootfs"
        (cd "$b" && crun spec) || { status crun "crun spec failed"; return 0; }
        jq --arg r "$rootfs" '.process.terminal = false | .process.args = ["/bin/true"] | .root.path = $r' \
                "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
        jq '.process.args = ["/bin/sleep", "1000000"]' "$b/config.json" >"$e/config.json"

        local out
        if ! out=$(crunc run -b "$b" "$NAME-run" 2>&1 </dev/null); then
                status crun "crun run failed: $(printf '%s' "$out" | tail -n1)"
                return 0
        fi
        local ok=1 q
        printf -v q '%q ' crun --root "$CRUN_STATE" --cgroup-manager=disabled
        hf cycle.crun "${HF[@]}" "${q}run -b $b $NAME-run" || ok=0

        if crunc run -d -b "$e" "$NAME-exec" </dev/null >/dev/null 2>"$T/log/crun-detach.txt"; then
                CRUN_DETACHED=1
                hf exec.crun "${HF[@]}" -N "${q}exec $NAME-exec /bin/true" || ok=0
                hf exec_cold.crun "${HF_COLD[@]}" -N "${q}exec $NAME-exec /bin/true" || ok=0
                crunc kill "$NAME-exec" KILL >/dev/null 2>&1 || true
                for _ in $(seq 50); do
                        crunc state "$NAME-exec" 2>/dev/null | grep -q '"stopped"' && break
                        sleep 0.05
                done
                crunc delete -f "$NAME-exec" >/dev/null 2>&1 || true
                CRUN_DETACHED=
        else
                ok=0
        fi
        # start: `crun run -d` (create and start, the container's process exec'd) of the
        # sleeping bundle; each run's prepare removes the last one (kill and delete).
        local del="sh -c '${q}delete -f $NAME-start >/dev/null 2>&1 || true'"
        CRUN_DETACHED=1
        hf start.crun "${HF[@]}" -N --prepare "$del" --cleanup "$del" \
                "${q}run -d -b $e $NAME-start" || ok=0
        hf stop_fast.crun "${HF[@]}" -N --prepare "${q}run -d -b $e $NAME-start" \
                "${q}delete -f $NAME-start" || ok=0
        crunc delete -f "$NAME-start" >/dev/null 2>&1 || true
        CRUN_DETACHED=
        if [ "$ok" = 1 ]; then status crun ok; else status crun "some crun benchmarks failed (see log)"; fi
}

# ---- LXC: the busybox template's config, with no network, AppArmor off, the rootfs swapped for
# a copy of vpsd's, and without the template's /lib bind mounts (busybox is static; vpsd's
# rootfs has no lib64 or usr/lib to mount them on). Halt signal stays the template's SIGUSR1.
run_lxc() {
        command -v lxc-start >/dev/null || { status lxc "lxc not installed"; return 0; }
        mkdir -p "$LXCP"
        if ! lxc-create -P "$LXCP" -n "$NAME" -t busybox >"$T/log/lxc-create.txt" 2>&1; then
                status lxc "lxc-create -t busybox failed: $(tail -n1 "$T/log/lxc-create.txt")"
                return 0
        fi
        local conf=$LXCP/$NAME/config rootfs=$LXCP/rootfs
        rm -rf "$LXCP/$NAME/rootfs"
        cp -a "$BENCH_ROOTFS" "$rootfs"
        grep -v -E '^lxc\.(net\.|apparmor\.|rootfs\.path)' "$conf" |
                grep -v -E '^lxc\.mount\.entry = /(usr/)?lib(64)? ' >"$conf.new"
        {
                echo "lxc.net.0.type = empty"
                echo "lxc.apparmor.profile = unconfined"
                echo "lxc.rootfs.path = dir:$rootfs"
        } >>"$conf.new"
        mv "$conf.new" "$conf"

        local q
        printf -v q '%q' "$LXCP"
        local L="-P $q -n $NAME"
        if ! lxc start -l WARN -o "$T/log/lxc-first.txt" >/dev/null 2>&1; then
                status lxc "lxc-start failed: $(grep -m1 ERROR "$T/log/lxc-first.txt" || true)"
                return 0
        fi
        LXC_STARTED=1
        if ! lxc attach -- /bin/true; then
                status lxc "lxc-attach failed"
                return 0
        fi
        local ok=1
        hf exec.lxc "${HF[@]}" -N "lxc-attach $L -- /bin/true" || ok=0
        hf exec_cold.lxc "${HF_COLD[@]}" -N "lxc-attach $L -- /bin/true" || ok=0
        lxc stop -k >/dev/null

        local stop_k="sh -c 'lxc-stop $L -k >/dev/null 2>&1 || true'"
        hf start.lxc "${HF[@]}" -N --prepare "$stop_k" --cleanup "$stop_k" "lxc-start $L" || ok=0
        hf stop_fast.lxc "${HF[@]}" -N --prepare "lxc-start $L" "lxc-stop $L -k" || ok=0
        hf start_stop.lxc "${HF[@]}" "lxc-start $L && lxc-stop $L -k" || ok=0
        hf cycle.lxc "${HF[@]}" "lxc-execute $L -- /bin/true" || ok=0
        if [ "${BENCH_GRACEFUL:-1}" = 1 ]; then
                hf stop.lxc "${HF_SLOW[@]}" -N --prepare "lxc-start $L" "lxc-stop $L" || ok=0
        fi
        lxc stop -k >/dev/null 2>&1 || true
        LXC_STARTED=
        if [ "$ok" = 1 ]; then status lxc ok; else status lxc "some LXC benchmarks failed (see log)"; fi
}

for p in $BENCH_PEERS; do
        case $p in
        lxc) run_lxc ;;
        crun) run_crun ;;
        *) echo "peers.sh: unknown peer $p" >&2 ;;
        esac
done
