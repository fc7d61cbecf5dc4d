#!/usr/bin/python3
# Talks to one local socket as whoever runs it (test_host_sockets.sh runs it as root and as
# nobody) and prints one word on what came back:
#   refused   connect() failed (the errno follows)
#   closed    the server hung up without a byte
#   open      the server kept the connection and said nothing (sysinfo: no answer by design)
#   answered  bytes came back (how many, and how many fds, follow)
# Usage: sockprobe.py probe TYPE ADDRESS          (TYPE stream|seqpacket|dgram; an address
#                                                  starting with @ is abstract)
#        sockprobe.py plant ADDRESS ID            (the keeper's P: our fds as ID's console)
#        sockprobe.py keeper-get ADDRESS          (the keeper's G: ID and the PID of its
#                                                  pidfd, one line per entry)
#        sockprobe.py drop ADDRESS ID              (the keeper's D)
#        sockprobe.py spoof ADDRESS LOG           (listen at ADDRESS first, log what comes)
import array
import os
import socket
import sys

ID_MAX = 63  # VPS_ID_MAX
MSG = 1 + ID_MAX + 1  # struct keeper_msg: op, id[VPS_ID_MAX + 1]
TYPES = {"stream": socket.SOCK_STREAM, "seqpacket": socket.SOCK_SEQPACKET,
         "dgram": socket.SOCK_DGRAM}


def addr(a):
    return "\0" + a[1:] if a.startswith("@") else a


def keeper_msg(op, vid=""):
    return op.encode() + vid.encode().ljust(ID_MAX + 1, b"\0")


def recv_fds(s, size=4096):
    fds = array.array("i")
    msg, anc, _, _ = s.recvmsg(size, socket.CMSG_SPACE(16 * fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds)


def connect(typ, a, timeout=3):
    """A connected socket, or None once "refused" is printed."""
    s = socket.socket(socket.AF_UNIX, TYPES[typ])
    s.settimeout(timeout)
    try:
        s.connect(addr(a))
    except OSError as e:
        print("refused", e.strerror)
        return None
    return s


def probe(typ, a):
    s = connect(typ, a)
    if not s:
        return
    # What each kind of vpsd socket understands: an API request, the keeper's "give me every
    # console" (a sysinfo socket ignores it and waits for a listener).
    if typ == "stream":
        req = b"GET /v1/vps HTTP/1.0\r\nHost: localhost\r\n\r\n"
    else:
        req = keeper_msg("G")
    got, nfds, total = b"", 0, 0
    try:
        s.send(req)  # EPIPE when the server has already hung up: "closed"
        while True:
            msg, fds = recv_fds(s)
            nfds += len(fds)
            for fd in fds:
                os.close(fd)
            if not msg and not fds:
                break
            total += len(msg)
            got += msg[:200]
            if typ != "stream" and msg[:1] == b"Z":
                break
    except socket.timeout:
        if total == 0 and nfds == 0:
            print("open")
            return
    except OSError as e:
        if total == 0 and nfds == 0:
            print("closed", e.strerror)
            return
    if total == 0 and nfds == 0:
        print("closed")
    else:
        print("answered", total, "bytes", nfds, "fds", repr(got[:60]))


def plant(a, vid):
    s = connect("seqpacket", a)
    if not s:
        return
    # The pidfd of our parent (the test's shell, which lives on): the keeper drops an entry
    # whose process has exited.
    master, slave = os.openpty()
    pidfd = os.pidfd_open(os.getppid())
    try:
        s.sendmsg([keeper_msg("P", vid)],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master, slave, pidfd]))])
        print("sent")
    except OSError as e:
        print("closed", e.strerror)


def keeper_get(a):
    s = connect("seqpacket", a, 5)
    if not s:
        return
    s.send(keeper_msg("G"))
    while True:
        msg, fds = recv_fds(s)
        if not msg or msg[:1] != b"E":
            break
        vid = msg[1:].split(b"\0")[0].decode()
        pid = "?"
        if len(fds) >= 3:
            with open("/proc/self/fdinfo/%d" % fds[2]) as f:
                for line in f:
                    if line.startswith("Pid:"):
                        pid = line.split()[1]
        print(vid, pid, len(fds))
        for fd in fds:
            os.close(fd)


def drop(a, vid):
    s = connect("seqpacket", a)
    if s:
        s.send(keeper_msg("D", vid))


def spoof(a, log):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if a.startswith("@") else socket.SOCK_STREAM)
    s.bind(addr(a))
    s.listen(16)
    with open(log, "a") as f:
        f.write("listening\n")
    while True:
        c, _ = s.accept()
        c.settimeout(2)
        nbytes, nfds = 0, 0
        try:
            while True:
                msg, fds = recv_fds(c)
                for fd in fds:
                    os.close(fd)
                if not msg and not fds:
                    break
                nbytes, nfds = nbytes + len(msg), nfds + len(fds)
        except OSError:
            pass
        with open(log, "a") as f:
            f.write("connection: %d bytes, %d fds\n" % (nbytes, nfds))
        c.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "probe":
        probe(sys.argv[2], sys.argv[3])
    elif cmd == "plant":
        plant(sys.argv[2], sys.argv[3])
    elif cmd == "keeper-get":
        keeper_get(sys.argv[2])
    elif cmd == "drop":
        drop(sys.argv[2], sys.argv[3])
    elif cmd == "spoof":
        spoof(sys.argv[2], sys.argv[3])
