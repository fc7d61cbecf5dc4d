#!/usr/bin/python3
"""Helpers for the CRIU guest test (issue 18), run as root in the qemu guest.

externals PID: one line per mount of PID's mount namespace that is a bind of a file system
    the VPS does not mount itself (no mount of that superblock with root "/" in its tree):
    "MOUNTPOINT KEY HOSTPATH", HOSTPATH the same file on the host (a host mount of the same
    superblock plus the bind's root), "-" where the host has none (a deleted file).
root TEMPLATE VPSDIR UIDBASE COUNT TARGET LOWERDIR: a fresh root for `criu restore --root`, as vpsd
    builds it: the template idmapped to a user namespace mapping 0 to UIDBASE (read-only),
    attached on LOWERDIR, an overlay of it with VPSDIR's upper/ and work/ (userxattr), attached on TARGET.
"""
import ctypes, os, sys

libc = ctypes.CDLL(None, use_errno=True)
SYS = {"open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
       "mount_setattr": 442}


def sc(name, *args):
    r = libc.syscall(SYS[name], *args)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (name, os.strerror(e)))
    return r


def mountinfo(pid):
    out = []
    with open("/proc/%s/mountinfo" % pid) as f:
        for line in f:
            a = line.split()
            sep = a.index("-")
            out.append({"id": a[0], "dev": a[2], "root": a[3], "mp": a[4],
                        "fstype": a[sep + 1]})
    return out


def unescape(s):
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def externals(pid):
    vps = mountinfo(pid)
    host = mountinfo("self")
    own = {m["dev"] for m in vps if m["root"] == "/"}
    for m in vps:
        if m["dev"] in own or m["fstype"] in ("cgroup2", "cgroup"):
            continue
        key = "m" + m["mp"].replace("/", "_")
        root = unescape(m["root"])
        path = "-"
        if not root.endswith("//deleted"):
            for h in host:
                if h["dev"] == m["dev"] and h["root"] == "/":
                    cand = unescape(h["mp"]).rstrip("/") + root
                    if os.path.exists(cand):
                        path = cand
                        break
        print(m["mp"], key, path)


OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_EMPTY_PATH = 1, 0o2000000, 0x1000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_IDMAP = 0x1, 0x100000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 0, 1, 6


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def userns(base, count):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        libc.unshare(0x10000000)  # CLONE_NEWUSER
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    import time
    for _ in range(100):
        if os.readlink("/proc/%d/ns/user" % pid) != os.readlink("/proc/self/ns/user"):
            break
        time.sleep(0.01)
    for f in ("uid_map", "gid_map"):
        with open("/proc/%d/%s" % (pid, f), "w") as m:
            m.write("0 %d %d\n" % (base, count))
    fd = os.open("/proc/%d/ns/user" % pid, os.O_RDONLY)
    os.close(w)
    os.waitpid(pid, 0)
    return fd


def root(template, vpsdir, base, count, target, lowerdir):
    ns = userns(int(base), int(count))
    lower = sc("open_tree", -100, template.encode(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)
    attr = MountAttr(MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY, 0, 0, ns)
    sc("mount_setattr", lower, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr))
    # overlayfs takes no detached mount as a layer: attached on LOWERDIR first, as vpsd does
    sc("move_mount", lower, b"", -100, lowerdir.encode(), MOVE_MOUNT_F_EMPTY_PATH)
    fs = sc("fsopen", b"overlay", 0)
    up = os.open(vpsdir + "/upper", os.O_PATH | os.O_DIRECTORY)
    wk = os.open(vpsdir + "/work", os.O_PATH | os.O_DIRECTORY)
    for k, fd in (("lowerdir", lower), ("upperdir", up), ("workdir", wk)):
        sc("fsconfig", fs, FSCONFIG_SET_STRING, k.encode(), ("/proc/self/fd/%d" % fd).encode(), 0)
    sc("fsconfig", fs, FSCONFIG_SET_FLAG, b"userxattr", None, 0)
    sc("fsconfig", fs, FSCONFIG_CMD_CREATE, None, None, 0)
    mnt = sc("fsmount", fs, 0, 0)
    sc("move_mount", mnt, b"", -100, target.encode(), MOVE_MOUNT_F_EMPTY_PATH)


if __name__ == "__main__":
    if sys.argv[1] == "externals":
        externals(sys.argv[2])
    elif sys.argv[1] == "root":
        root(*sys.argv[2:8])
