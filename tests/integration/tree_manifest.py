#!/usr/bin/env python3
"""Test helper for snapshots, clones, backups: `tree_manifest.py manifest DIR [--shift A:B]`
prints one line for every entry under DIR (content hash, type, owner, mode, times, every xattr,
hard-link group, data extents, device numbers; names as bytes), sorted, so two trees compare
with diff. --shift A:B maps owners (ACL ids, file capabilities' root ids) from base A to base B (a clone's new range).
`tree_manifest.py populate DIR BASE` fills DIR with every kind of entry the manifest checks,
owned in the id range starting at BASE (as a guest's upper layer would be)."""
import hashlib
import os
import stat
import struct
import sys


def acl_shift(val, shift):
    if not shift or len(val) < 4:
        return val
    out = bytearray(val[:4])
    for i in range(4, len(val), 8):
        tag, perm, ident = struct.unpack("<HHI", val[i:i + 8])
        if tag in (0x02, 0x08) and shift[0] <= ident < shift[0] + 65536:
            ident = ident - shift[0] + shift[1]
        out += struct.pack("<HHI", tag, perm, ident)
    return bytes(out)


def extents(fd, size):
    out, pos = [], 0
    while pos < size:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            break
        hole = os.lseek(fd, data, os.SEEK_HOLE)
        out.append("%d-%d" % (data, hole))
        pos = hole
    return ",".join(out)


def manifest(top, shift):
    lines, links = [], {}
    topb = os.fsencode(top)
    for root, dirs, files in os.walk(topb):
        entries = [root] + [os.path.join(root, n) for n in dirs + files]
        for p in entries:
            if p == root and root != topb:
                continue
            st = os.lstat(p)
            rel = os.path.relpath(p, topb)
            uid, gid = st.st_uid, st.st_gid
            if shift:
                uid = uid - shift[0] + shift[1] if shift[0] <= uid < shift[0] + 65536 else uid
                gid = gid - shift[0] + shift[1] if shift[0] <= gid < shift[0] + 65536 else gid
            f = [repr(rel), "mode=%o" % st.st_mode, "uid=%d" % uid, "gid=%d" % gid,
                 "mtime=%d" % st.st_mtime_ns]
            if stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                links.setdefault(key, []).append(rel)
                f.append("inode=%d:%d" % key)
                fd = os.open(p, os.O_RDONLY | os.O_NOATIME)
                try:
                    h = hashlib.sha256()
                    while True:
                        b = os.read(fd, 1 << 20)
                        if not b:
                            break
                        h.update(b)
                    f += ["size=%d" % st.st_size, "sha=" + h.hexdigest()[:16],
                          "nlink=%d" % st.st_nlink, "atime=%d" % st.st_atime_ns,
                          "extents=" + extents(fd, st.st_size)]
                finally:
                    os.close(fd)
            elif stat.S_ISLNK(st.st_mode):
                f.append("target=%r" % os.readlink(p))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                f.append("rdev=%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
            if not stat.S_ISLNK(st.st_mode):
                for x in sorted(os.listxattr(p, follow_symlinks=False)):
                    v = os.getxattr(p, x, follow_symlinks=False)
                    if x.startswith("system.posix_acl"):
                        v = acl_shift(v, shift)
                    if x == "security.capability" and shift and len(v) == 24:
                        root = struct.unpack("<I", v[20:])[0]
                        if shift[0] <= root < shift[0] + 65536:
                            v = v[:20] + struct.pack("<I", root - shift[0] + shift[1])
                    f.append("xattr:%s=%s" % (x, v.hex()))
            lines.append(" ".join(f))
    # hard links: each inode named by the first of its names, the same in any copy
    for key, names in links.items():
        first = repr(min(names))
        lines = [l.replace("inode=%d:%d" % key, "links=" + first) for l in lines]
    return sorted(lines)


def acl(entries):
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


def populate(top, base):
    def own(p, u=0, g=0):
        os.chown(p, base + u, base + g, follow_symlinks=False)

    def mk(rel, data=b"", mode=0o644, u=0):
        p = os.path.join(top, rel)
        with open(p, "wb") as fh:
            fh.write(data)
        own(p, u, u)
        os.chmod(p, mode)
        return p

    for d in ["etc", "srv/www/deep/er/and/deeper", "emptydir", "acl"]:
        os.makedirs(os.path.join(top, d), exist_ok=True)
    for root, dirs, _ in os.walk(top):
        for d in dirs:
            own(os.path.join(root, d))
    mk("etc/hello", b"hello snapshot\n")
    mk("srv/www/index.html", os.urandom(300000), 0o640, 33)
    setuid = mk("srv/su-bin", b"#!/bin/sh\n", 0o4755)
    capf = mk("srv/cap-bin", b"\x7fELF fake", 0o755)
    # cap_net_bind_service, effective (VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE)
    os.setxattr(capf, "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0))
    os.setxattr(mk("etc/xattr", b"x"), "user.note", b"kept \x00\xff")
    a = mk("acl/file", b"acl", 0o640)
    os.setxattr(a, "system.posix_acl_access",
                acl([(1, 6, 0xffffffff), (2, 4, base + 1000), (4, 4, 0xffffffff),
                     (16, 4, 0xffffffff), (32, 0, 0xffffffff)]))
    os.setxattr(os.path.join(top, "acl"), "system.posix_acl_default",
                acl([(1, 7, 0xffffffff), (4, 5, 0xffffffff), (8, 5, base + 100),
                     (16, 5, 0xffffffff), (32, 0, 0xffffffff)]))
    h = mk("srv/hard1", b"linked data\n")
    os.link(h, os.path.join(top, "srv/hard2"))
    os.link(h, os.path.join(top, "etc/hard3"))
    sp = os.path.join(top, "srv/sparse")
    with open(sp, "wb") as fh:
        fh.seek(8 << 20)
        fh.write(b"middle")
        fh.seek(16 << 20)
        fh.write(b"end")
    own(sp)
    fifo = os.path.join(top, "srv/fifo")
    os.mkfifo(fifo, 0o620)
    own(fifo, 5, 5)
    dev = os.path.join(top, "srv/null")
    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    own(dev)
    wo = os.path.join(top, "srv/whiteout")  # an overlayfs whiteout
    os.mknod(wo, 0o000 | stat.S_IFCHR, os.makedev(0, 0))
    own(wo)
    os.symlink("../etc/hello", os.path.join(top, "srv/link"))
    own(os.path.join(top, "srv/link"))
    os.symlink("/nonexistent/abs", os.path.join(top, "srv/dangling"))
    mk("srv/" + "L" * 255, b"long name")
    p = os.path.join(os.fsencode(top), b"srv/bad-\xff\xfe-utf8")
    with open(p, "wb") as fh:
        fh.write(b"latin")
    os.chown(p, base, base)
    os.setxattr(os.path.join(top, "srv/www/deep"), "user.overlay.opaque", b"y")
    # times last, deepest first (a new entry changes its directory's mtime)
    t = 1_500_000_000
    for root, dirs, files in sorted(os.walk(os.fsencode(top)), key=lambda w: -len(w[0])):
        for n in files + dirs:
            q = os.path.join(root, n)
            t += 7
            os.utime(q, ns=(t * 10**9 + 123, t * 10**9 + 456), follow_symlinks=False)
    os.utime(top, ns=(t * 10**9, t * 10**9))


if __name__ == "__main__":
    if sys.argv[1] == "manifest":
        shift = None
        if len(sys.argv) > 4 and sys.argv[3] == "--shift":
            a, b = sys.argv[4].split(":")
            shift = (int(a), int(b))
        sys.stdout.write("\n".join(manifest(sys.argv[2], shift)) + "\n")
    elif sys.argv[1] == "populate":
        populate(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: tree_manifest.py manifest DIR [--shift A:B] | populate DIR BASE")
