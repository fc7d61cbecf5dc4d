#!/usr/bin/python3
"""withpty.py N CMD...: runs CMD with N fresh pty slaves as fds 3..3+N-1 (for criu restore's
--inherit-fd fd[K]:tty[...]); exits with CMD's status, leaving a child that holds the masters
open (reading and dropping what the restored processes write) for 600 s."""
import os, pty, subprocess, sys

n = int(sys.argv[1])
masters, fds = [], []
import fcntl
slaves = []
for i in range(n):
    m, s = os.openpty()
    if os.environ.get("WITHPTY_OWNER"):  # UID:GID, the VPS's root and tty group on the host
        u, g = os.environ["WITHPTY_OWNER"].split(":")
        os.fchown(s, int(u), int(g))
    masters.append(fcntl.fcntl(m, fcntl.F_DUPFD_CLOEXEC, 100))
    slaves.append(fcntl.fcntl(s, fcntl.F_DUPFD_CLOEXEC, 200))
    os.close(m)
    os.close(s)
for i, s in enumerate(slaves):
    os.dup2(s, 3 + i)  # the copy is inheritable
    os.close(s)
    fds.append(3 + i)
rc = subprocess.call(sys.argv[2:], pass_fds=fds)
if os.fork() == 0:
    os.setsid()
    for fd in fds:
        os.close(fd)
    import select, time
    end = time.time() + 600
    while time.time() < end:
        r, _, _ = select.select(masters, [], [], 5)
        for m in r:
            try:
                os.read(m, 4096)
            except OSError:
                masters.remove(m)
        if not masters:
            break
    os._exit(0)
sys.exit(rc)
