# shellcheck shell=bash
# Sourced by bench scripts: what they share.

# bench_run_dirs_remove ROOT: the run directories a vpsd with state root ROOT made, once it
# has ended: /run/vps/state-DEV-INO (its VPSes' run state) and /run/vps/meminfo-DEV-INO (the
# tmpfs of its /proc/meminfo views), named after ROOT's device and inode.
bench_run_dirs_remove() {
        [ -d "$1" ] || return 0
        local id
        id=$(printf '%x-%x' "$(stat -c %d "$1")" "$(stat -c %i "$1")")
        rm -rf "/run/vps/state-$id"
        if mountpoint -q "/run/vps/meminfo-$id"; then umount -l "/run/vps/meminfo-$id" || true; fi
        rmdir "/run/vps/meminfo-$id" 2>/dev/null || true
}
