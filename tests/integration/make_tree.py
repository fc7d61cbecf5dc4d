#!/usr/bin/env python3
"""Makes a tree of random files for the copy tests, owned by a VPS's root:

  make_tree.py DIR UID FILES DIRS [SIZE]

FILES files of SIZE random bytes (default 16384) spread over DIRS directories under DIR
(made), DIR and all of it owned by UID:UID (the VPS's base uid, its root inside).
"""
import os
import sys


def main():
    d, base, n, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 16384
    for i in range(n):
        sub = os.path.join(d, "d%02d" % (i % dirs))
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "f%d" % i), "wb") as f:
            f.write(os.urandom(size))
    for root, subdirs, files in os.walk(d):
        for name in subdirs + files:
            os.lchown(os.path.join(root, name), base, base)
    os.lchown(d, base, base)


if __name__ == "__main__":
    main()
