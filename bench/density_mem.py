#!/usr/bin/env python3
"""bench/density_mem.py: the measuring half of bench/density-debian (root).

  meminfo                     /proc/meminfo as JSON (KiB)
  pss INIT_PID...             processes of each guest (those in its init's pid namespace) and
                              its host-side helper (the init's parent, unless it is SHARED_PID),
                              Pss split from smaps_rollup, as JSON (KiB)
  evict PATH...               drops the clean page cache of every file under PATH (fadvise),
                              so a baseline does not carry pages a copy or an untar left
  cached PATH...              KiB of page cache held by the files under PATH (mincore through
                              fincore), one JSON number per PATH
"""
import json
import os
import subprocess
import sys


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def pidns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def rollup(pid):
    r = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0].endswith(":") and parts[2] == "kB":
                    r[parts[0][:-1]] = int(parts[1])
    except OSError:
        return None
    return r


def ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def pss(inits, shared):
    want = {}
    helpers = set()
    for p in inits:
        ns = pidns(p)
        if ns:
            want[ns] = p
        pp = ppid(p)
        if pp and pp != shared and pp > 1:
            helpers.add(pp)
    tot = {"guests": len(want), "processes": 0, "threads": 0, "helpers": 0, "Pss": 0, "Pss_Anon": 0,
           "Pss_File": 0, "Pss_Shmem": 0, "Rss": 0, "helper_Pss": 0, "anon_by_comm": {}}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        is_helper = pid in helpers
        if not is_helper and pidns(pid) not in want:
            continue
        r = rollup(pid)
        if r is None or "Pss" not in r:
            continue  # a kernel thread or gone
        tot["processes"] += 1
        try:
            tot["threads"] += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
        for k in ("Pss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Rss"):
            tot[k] += r.get(k, 0)
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            comm = "?"
        tot["anon_by_comm"][comm] = tot["anon_by_comm"].get(comm, 0) + r.get("Pss_Anon", 0)
        if is_helper:
            tot["helpers"] += 1
            tot["helper_Pss"] += r.get("Pss", 0)
    return tot


def files(path):
    for root, dirs, fs in os.walk(path):
        for n in fs:
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p):
                yield p


def evict(paths):
    for path in paths:
        for p in files(path):
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def cached(path):
    total = 0
    batch = []

    def run(b):
        out = subprocess.run(["fincore", "-b", "-n", "-r", "-o", "RES"] + b,
                             capture_output=True, text=True).stdout
        return sum(int(x) for x in out.split() if x.isdigit())

    for p in files(path):
        if os.path.getsize(p) == 0:
            continue
        batch.append(p)
        if len(batch) == 500:
            total += run(batch)
            batch = []
    if batch:
        total += run(batch)
    return total // 1024


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "meminfo":
        print(json.dumps(meminfo()))
    elif cmd == "pss":
        shared = int(os.environ.get("SHARED_PID", "0"))
        print(json.dumps(pss([int(a) for a in args], shared)))
    elif cmd == "evict":
        evict(args)
    elif cmd == "cached":
        print(json.dumps([cached(a) for a in args]))
    else:
        sys.exit(f"density_mem.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
