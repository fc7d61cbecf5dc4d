#!/usr/bin/env python3
"""Helpers of test_backup.sh.

  tree DIR BASE         a manifest of every file under DIR: path (hex), type, mode, owner
                        relative to BASE (ids below BASE as they are), size, mtime (ns),
                        SHA-256, symlink target, rdev, sparse data extents, every xattr
                        (POSIX ACL ids and a v3 capability's root id made relative too) and
                        hard-link groups
  populate DIR BASE     a tree that exercises all of that, owned inside BASE's range
  change N DIR BASE     step N (1, 2) of the changes between the incremental backups
  deep N DIR BASE       step N (0, 1, wide) of a tree past PATH_MAX under DIR, its changes
  sparse N FILE BASE    step N (0, 1) of a 100 GiB sparse file, and its change
  format1 SRC OUT       the backup SRC as a vpsd of format 1 wrote it
  hostile DIR GOOD KIND...
                        hostile archives DIR/KIND.tar.zst made from the good backup GOOD
"""
import hashlib, io, json, os, stat, struct, subprocess, sys, tarfile, urllib.parse

from tree_manifest import acl, extents  # the same helpers as the snapshot tests'

ACL_USER, ACL_GROUP = 2, 8


def rel(i, base):
    return i - base if i >= base else i


def fix_xattr(name, val, base):
    if name in ("system.posix_acl_access", "system.posix_acl_default") and len(val) >= 4:
        out = bytearray(val[:4])
        for k in range(4, len(val) - 7, 8):
            tag, perm, ident = struct.unpack("<HHI", val[k:k + 8])
            if tag in (ACL_USER, ACL_GROUP):
                ident = rel(ident, base)
            out += struct.pack("<HHI", tag, perm, ident)
        return bytes(out)
    if name == "security.capability" and len(val) == 24:
        root = rel(struct.unpack("<I", val[20:24])[0], base)
        if root == 0:
            # A v3 capability of the namespace's root is a v2 one where ids start at 0 (a
            # template's tree): the kernel writes it so.
            magic = struct.unpack("<I", val[:4])[0]
            return struct.pack("<I", 0x02000000 | (magic & 1)) + val[4:20]
        return val[:20] + struct.pack("<I", root)
    return val


def content_digest(fd, size):
    """SHA-256 of the data extents (offset and bytes; holes skipped: a 100 GiB sparse file
    is read in a moment); the extents themselves are listed beside it."""
    h = hashlib.sha256()
    for ext in filter(None, extents(fd, size).split(",")):
        data, hole = (int(x) for x in ext.split("-"))
        h.update(b"%d:" % data)
        os.lseek(fd, data, os.SEEK_SET)
        left = hole - data
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            h.update(b)
            left -= len(b)
    return h.hexdigest()


def tree(top, base):
    """Walked by directory fds (os.fwalk): paths longer than PATH_MAX are listed too."""
    top = os.fsencode(top)
    lines, inodes = [], {}
    for d, dirs, files, dfd in os.fwalk(top, follow_symlinks=False):
        rd = os.path.relpath(d, top)
        for n in sorted(dirs) + sorted(files) + ([b""] if d == top else []):
            r = os.path.normpath(os.path.join(rd, n)) if n else rd
            # Its xattrs by a path the kernel takes, however deep it lies.
            at = b"/proc/self/fd/%d/%s" % (dfd, n) if n else b"/proc/self/fd/%d" % dfd
            st = os.lstat(n, dir_fd=dfd) if n else os.fstat(dfd)
            t = stat.S_IFMT(st.st_mode)
            f = [r.hex(), oct(st.st_mode), str(rel(st.st_uid, base)), str(rel(st.st_gid, base))]
            if not stat.S_ISDIR(t):
                f.append(str(st.st_mtime_ns))
            if stat.S_ISREG(t):
                fd = os.open(n, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
                try:
                    f += [str(st.st_size), content_digest(fd, st.st_size), str(extents(fd, st.st_size))]
                finally:
                    os.close(fd)
                inodes.setdefault(st.st_ino, []).append(r.hex())
            elif stat.S_ISLNK(t):
                f.append(os.readlink(n, dir_fd=dfd).hex())
            elif stat.S_ISCHR(t) or stat.S_ISBLK(t):
                f.append("%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
            try:
                names = sorted(os.listxattr(at, follow_symlinks=not n))
            except OSError:
                names = []
            for x in names:
                v = os.getxattr(at, x, follow_symlinks=not n)
                f.append(x + "=" + fix_xattr(x, v, base).hex())
            lines.append(" ".join(f))
        # Directory times last: reading changes none, but listing them after is clearer.
        lines.append("dirtime %s %d" % (rd.hex(), os.fstat(dfd).st_mtime_ns))
    for ino, paths in inodes.items():
        if len(paths) > 1:
            lines.append("links " + " ".join(sorted(paths)))
    print("\n".join(sorted(lines)))


def populate(top, base):
    base = int(base)
    j = lambda *a: os.path.join(top, *a)
    os.makedirs(j("data/sub/deeper"), exist_ok=True)
    with open(j("data/f1"), "w") as f:
        f.write("hello\n")
    os.chown(j("data/f1"), base + 33, base + 44)
    os.link(j("data/f1"), j("data/hardlink"))
    os.symlink("f1", j("data/sl"))
    os.lchown(j("data/sl"), base + 5, base + 6)
    os.mkfifo(j("data/fifo"))
    with open(j("data/sparse"), "wb") as f:
        f.truncate(8 << 20)
        f.seek(3 << 20)
        f.write(b"middle")
    with open(j("data/setuid"), "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(j("data/setuid"), 0o4755)
    with open(j("data/cap"), "wb") as f:
        f.write(b"\x7fELF")
    # v3 capability: cap_net_raw permitted and effective, root id the VPS's root.
    os.setxattr(j("data/f1"), "user.note", b"a note\x00with a nul")
    os.setxattr(j("data/sub"), "user.overlay.opaque", b"y")
    os.setxattr(j("data/f1"), "system.posix_acl_access",
                acl([(1, 6, 0xffffffff), (ACL_USER, 4, base + 1000), (4, 4, 0xffffffff),
                     (ACL_GROUP, 6, base + 1001), (0x10, 6, 0xffffffff), (0x20, 4, 0xffffffff)]))
    os.setxattr(j("data/sub"), "system.posix_acl_default",
                acl([(1, 7, 0xffffffff), (ACL_USER, 5, base + 7), (4, 5, 0xffffffff),
                     (0x10, 7, 0xffffffff), (0x20, 5, 0xffffffff)]))
    long = j("data/" + "L" * 255)
    with open(long, "w") as f:
        f.write("long name\n")
    deep = j("data/sub/deeper/" + "/".join(["d%02d_%s" % (i, "x" * 40) for i in range(6)]))
    os.makedirs(deep)
    with open(os.path.join(deep, "file"), "w") as f:
        f.write("deep\n")
    with open(os.fsencode(j("data")) + b"/not-utf8-\xff\xfe\x80", "w") as f:
        f.write("bytes\n")
    for i in range(50):
        with open(j("data/sub/n%03d" % i), "w") as f:
            f.write("n%d\n" % i)
        os.chown(j("data/sub/n%03d" % i), base + i, base + 100 + i)
    os.utime(j("data/f1"), ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
    os.utime(j("data/sl"), ns=(1_600_000_000_000_000_000, 1_400_000_000_000_000_001),
             follow_symlinks=False)
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            if st.st_uid < base:
                os.lchown(p, base, base)
    # After the chowns, which drop file capabilities.
    os.setxattr(j("data/cap"), "security.capability",
                struct.pack("<IIIIII", 0x03000001, 1 << 13, 0, 0, 0, base))


def deep(step, top, base):
    """Step 0: 24 directories of 200-byte names under top (a path past PATH_MAX) and at the
    bottom a file with an xattr and a POSIX ACL, a symlink and a file to delete; step 1: the
    file changed (content and xattr), one deleted, one new with an ACL; step wide: 200 new
    directories there and the file changed again."""
    base = int(base)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(24):
        n = "%02d%s" % (i, "D" * 198)
        if step == "0":
            os.mkdir(n, 0o755, dir_fd=fd)
            os.chown(n, base, base, dir_fd=fd, follow_symlinks=False)
        nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    at = lambda n: "/proc/self/fd/%d/%s" % (fd, n)
    def put(n, text, uid):
        f = os.open(n, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640, dir_fd=fd)
        os.write(f, text)
        os.close(f)
        os.chown(n, base + uid, base + uid, dir_fd=fd)
    if step == "wide":
        # More directories than the threaded walk keeps open: it would reopen some by a
        # path past PATH_MAX, so it gives way to libarchive's walk.
        for i in range(200):
            os.mkdir("w%03d" % i, 0o755, dir_fd=fd)
            os.chown("w%03d" % i, base, base, dir_fd=fd)
        put("bottom", b"once more\n", 7)
    elif step == "0":
        put("bottom", b"at the bottom\n", 7)
        os.setxattr(at("bottom"), "user.deep", b"one", follow_symlinks=False)
        os.setxattr(at("bottom"), "system.posix_acl_access",
                    acl([(1, 6, 0xffffffff), (ACL_USER, 4, base + 70), (4, 4, 0xffffffff),
                         (0x10, 4, 0xffffffff), (0x20, 0, 0xffffffff)]))
        os.symlink("bottom", "link", dir_fd=fd)
        os.chown("link", base + 5, base + 6, dir_fd=fd, follow_symlinks=False)
        os.mkfifo("fifo", 0o620, dir_fd=fd)
        os.chown("fifo", base + 8, base + 8, dir_fd=fd)
        put("gone", b"deleted in step 1\n", 0)
    else:
        put("bottom", b"changed\n", 7)
        os.setxattr(at("bottom"), "user.deep", b"two", follow_symlinks=False)
        os.unlink("gone", dir_fd=fd)
        put("new", b"new in step 1\n", 9)
        os.setxattr(at("new"), "system.posix_acl_access",
                    acl([(1, 6, 0xffffffff), (4, 4, 0xffffffff), (ACL_GROUP, 6, base + 71),
                         (0x10, 6, 0xffffffff), (0x20, 0, 0xffffffff)]))
    os.close(fd)


def sparse(step, path, base):
    """Step 0: a 100 GiB file of three data extents (64 KiB at 0, 1 MiB at 37 GiB, 4 KiB at
    the end), the rest holes; step 1: a few bytes changed in the middle one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    if step == "0":
        os.ftruncate(fd, 100 << 30)
        os.pwrite(fd, os.urandom(64 << 10), 0)
        os.pwrite(fd, b"middle" * ((1 << 20) // 6), 37 << 30)
        os.pwrite(fd, os.urandom(4096), (100 << 30) - 4096)
        os.fchown(fd, int(base) + 3, int(base) + 3)
    else:
        os.pwrite(fd, b"CHANGED", (37 << 30) + 12345)
    os.close(fd)


def to_format1(src, out):
    """The backup src rewritten as vpsd wrote it before format 2 (one zstd frame): format 1
    in vpsbackup.json and the MANIFEST, each file's hash the SHA-256 of its content."""
    parts, raw = good_parts(src)
    meta = json.loads(parts["vpsbackup.json"])
    assert meta["format"] == 2
    meta["format"] = 1
    with tarfile.open(fileobj=io.BytesIO(raw)) as g:
        members = g.getmembers()
        data = {m.name: g.extractfile(m).read() for m in members if m.isreg() or m.islnk()}
    lines = parts["MANIFEST"].decode("latin-1").split("\n")
    assert lines[0] == "vpsbackup-manifest 2"
    lines[0] = "vpsbackup-manifest 1"
    for i, l in enumerate(lines[1:], 1):
        f = l.split("\t")
        if len(f) == 11 and f[0] == "+" and f[1] == "f":
            path = urllib.parse.unquote_to_bytes(f[10]).decode("latin-1")
            f[9] = hashlib.sha256(data[path]).hexdigest()
            lines[i] = "\t".join(f)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t, \
            tarfile.open(fileobj=io.BytesIO(raw)) as g:
        for m in g.getmembers():
            if m.name in ("vpsbackup.json", "MANIFEST"):
                b = json.dumps(meta).encode() if m.name == "vpsbackup.json" else \
                    "\n".join(lines).encode("latin-1")
                m.size = len(b)
                t.addfile(m, io.BytesIO(b))
            else:
                t.addfile(m, g.extractfile(m) if m.isreg() else None)
    z = subprocess.run(["zstd", "-q", "-c"], input=buf.getvalue(), check=True,
                       capture_output=True).stdout
    open(out, "wb").write(z)


def change(step, top, base):
    base = int(base)
    j = lambda *a: os.path.join(top, *a)
    if step == "1":
        with open(j("data/f1"), "a") as f:
            f.write("more\n")
        os.unlink(j("data/sub/n007"))
        os.chmod(j("data/sub/n008"), 0o600)
        with open(j("data/new1"), "w") as f:
            f.write("new in step 1\n")
        os.chown(j("data/new1"), base + 9, base + 9)
        os.link(j("data/new1"), j("data/new1-link"))
        import shutil
        shutil.rmtree(j("data/sub/deeper"))
    else:
        os.unlink(j("data/new1-link"))
        os.rename(j("data/sub/n009"), j("data/sub/renamed"))
        os.mkdir(j("data/sub/deeper"))
        os.chown(j("data/sub/deeper"), base + 1, base + 1)
        os.unlink(j("data/sub/n010"))
        os.mkdir(j("data/sub/n010"))
        os.chown(j("data/sub/n010"), base, base)
        with open(j("data/sparse"), "r+b") as f:
            f.seek(5 << 20)
            f.write(b"later")
        # Changed in place, same size, its mtime put back: only its ctime tells (an
        # incremental that trusted mtime and size would miss it, and the chain would not
        # restore exactly).
        st = os.stat(j("data/sub/n020"))
        with open(j("data/sub/n020"), "r+b") as f:
            f.write(b"N")
        os.utime(j("data/sub/n020"), ns=(st.st_atime_ns, st.st_mtime_ns))
        now = os.stat(j("data/sub/n020"))
        assert (now.st_size, now.st_mtime_ns, now.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)


def good_parts(good):
    raw = subprocess.run(["zstd", "-dc", good], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()
                if m.name in ("vpsbackup.json", "config.json", "MANIFEST")}, raw


def hostile(kind, out, good):
    parts, raw = good_parts(good)
    meta = json.loads(parts["vpsbackup.json"])
    if kind == "truncated":
        data = open(good, "rb").read()
        open(out, "wb").write(data[:len(data) // 2])
        return
    if kind == "corrupt":
        data = bytearray(open(good, "rb").read())
        for k in range(len(data) // 3, len(data) // 3 + 64):
            data[k] ^= 0x5A
        open(out, "wb").write(bytes(data))
        return
    if kind in ("manifest", "arch"):
        # Patched in place (same length): the tar around it stays the good one.
        raw = bytearray(raw)
        if kind == "arch":
            k = raw.find(b'"arch":"')
            assert k > 0
            raw[k + 8:k + 8 + 6] = b"ppc_64" if os.uname().machine != "ppc_64" else b"x86_64"
        else:
            k = raw.rfind(b"vpsbackup-manifest ")
            m = raw.find(b"\t+\t", k) if False else raw.find(b"\n+\tf\t", k)
            line_end = raw.find(b"\n", m + 1)
            tab = raw.rfind(b"\t", m, line_end)          # before the path
            h = raw.rfind(b"\t", m, tab)                  # before the hash
            raw[h + 1:h + 65] = b"0" * 64
        z = subprocess.run(["zstd", "-q", "-c"], input=bytes(raw), check=True,
                           capture_output=True).stdout
        open(out, "wb").write(z)
        return
    if kind == "features":
        # config.json edited in place (no checksum covers it): sandbox-weakening settings
        # added, compact and padded with spaces to the indented original's size.
        cfg = json.loads(parts["config.json"])
        cfg["features"] = ["nesting"]
        cfg["devnodes"] = ["tun"]
        new = json.dumps(cfg, separators=(",", ":")).encode()
        raw = bytearray(raw)
        k = next(k for k in range(0, len(raw), 512) if raw[k:k + 12] == b"config.json\0")
        old_size = int(raw[k + 124:k + 136].rstrip(b"\0 ").decode(), 8)
        assert len(new) <= old_size
        raw[k + 512:k + 512 + old_size] = new + b" " * (old_size - len(new))  # same size
        z = subprocess.run(["zstd", "-q", "-c"], input=bytes(raw), check=True,
                           capture_output=True).stdout
        open(out, "wb").write(z)
        return
    if kind == "manifest-unused":
        mf = parts["MANIFEST"].decode()
        mf = mf.replace("hello", "HELLO")
        lines = mf.split("\n")
        for i, l in enumerate(lines):
            f = l.split("\t")
            if len(f) == 11 and f[1] == "f" and f[9] != "-":
                f[9] = "0" * 64
                lines[i] = "\t".join(f)
                break
        parts["MANIFEST"] = "\n".join(lines).encode()
    if kind in ("upper-symlink", "root-symlink"):
        # The tree's top itself a symlink to the host's root, listed in the MANIFEST as it is:
        # the VPS's layer (or its template's root) would be the host's /.
        top = kind.split("-")[0]
        if top == "root":
            meta["kind"] = "full"
            meta["template"]["version"] = "not-on-this-host"
        head = parts["MANIFEST"].split(b"\n", 1)[0]
        h = hashlib.sha256(b"/").hexdigest().encode()
        mf = head + b"\n+\tl\t777\t0\t0\t0\t0\t0\t0\t" + h + b"\t" + top.encode() + b"\n"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            for name, data in (("vpsbackup.json", json.dumps(meta).encode()),
                               ("config.json", parts["config.json"])):
                i = tarfile.TarInfo(name)
                i.size = len(data)
                t.addfile(i, io.BytesIO(data))
            i = tarfile.TarInfo(top)
            i.type, i.linkname, i.mode = tarfile.SYMTYPE, "/", 0o777
            t.addfile(i)
            i = tarfile.TarInfo("MANIFEST")
            i.size = len(mf)
            t.addfile(i, io.BytesIO(mf))
        z = subprocess.run(["zstd", "-q", "-c"], input=buf.getvalue(), check=True,
                           capture_output=True).stdout
        open(out, "wb").write(z)
        return
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data=b"", **kw):
            i = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(i, k, v)
            if i.type == tarfile.REGTYPE and "size" not in kw:
                i.size = len(data)
            t.addfile(i, io.BytesIO(data) if i.type == tarfile.REGTYPE and data else None)
        add("vpsbackup.json", json.dumps(meta).encode())
        add("config.json", parts["config.json"])
        if kind in ("manifest", "arch"):
            # The good archive's entries as they are, with the (changed) MANIFEST.
            with tarfile.open(fileobj=io.BytesIO(raw)) as g:
                for m in g.getmembers():
                    if m.name in ("vpsbackup.json", "config.json", "MANIFEST"):
                        continue
                    t.addfile(m, g.extractfile(m) if m.isreg() else None)
            add("MANIFEST", parts["MANIFEST"])
        else:
            add("upper", type=tarfile.DIRTYPE, mode=0o755)
            if kind == "dotdot":
                add("upper/../../escape", b"x")
            elif kind == "absolute":
                add("/tmp/vps-backup-abs", b"x")
            elif kind == "symlink":
                add("upper/out", type=tarfile.SYMTYPE, linkname="/tmp")
                add("upper/out/vps-backup-through", b"x")
            elif kind == "hardlink":
                add("upper/h", type=tarfile.LNKTYPE, linkname="../../../sentinel")
            elif kind == "hardlink-abs":
                add("upper/h", type=tarfile.LNKTYPE, linkname="/etc/shadow")
            elif kind == "device":
                add("upper/mem", type=tarfile.CHRTYPE, devmajor=1, devminor=1)
            elif kind == "block":
                add("upper/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)
            elif kind == "sparse":
                add("upper/huge", size=1 << 60)
            elif kind == "sparse-past":
                # a pax sparse map (GNU 0.1) placing data past the size it declares (0)
                add("upper/past", b"y" * 4096, size=4096,
                    pax_headers={"GNU.sparse.map": "1048576,4096", "GNU.sparse.size": "0"})
            elif kind == "cap-v2":
                # a revision 2 file capability (no root id: valid on the host), cap_sys_admin
                cap = struct.pack("<IIIII", 0x02000001, 1 << 21, 0, 0, 0).decode("latin1")
                add("upper/ping", b"x", mode=0o755,
                    pax_headers={"SCHILY.xattr.security.capability": cap})
            elif kind == "cap-v3-out":
                # revision 3 naming a root id past the VPS's range (another VPS's root)
                cap = struct.pack("<IIIIII", 0x03000001, 1 << 21, 0, 0, 0, 200000).decode("latin1")
                add("upper/ping", b"x", mode=0o755,
                    pax_headers={"SCHILY.xattr.security.capability": cap})
            elif kind == "outside-tree":
                add("etc/passwd", b"x")
            add("MANIFEST", b"vpsbackup-manifest 1\n")
    raw_out = buf.getvalue()
    z = subprocess.run(["zstd", "-q", "-c"], input=raw_out, check=True, capture_output=True).stdout
    open(out, "wb").write(z)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "tree":
        tree(sys.argv[2], int(sys.argv[3]))
    elif cmd == "populate":
        populate(sys.argv[2], sys.argv[3])
    elif cmd == "change":
        change(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "sparse":
        sparse(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "format1":
        to_format1(sys.argv[2], sys.argv[3])
    elif cmd == "deep":
        deep(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "hostile":
        for kind in sys.argv[4:]:
            hostile(kind, os.path.join(sys.argv[2], kind + ".tar.zst"), sys.argv[3])
