/* sysinfo_writer.c: the processes that write sysinfo(2) answers into a caller's memory. The
 * memory is the guest's to choose (a mapping of a file on its own FUSE mount whose daemon never
 * answers), so the write may wait forever: it is done by a writer process, never by a thread
 * of vpsd, and the sysinfo thread kills a writer that passes its deadline. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vps/error.h"

struct sysinfo;
struct vps_sysinfo_call;

struct vpsd_writer {
        pid_t pid;
        int pidfd;
        int sock;     /* SOCK_SEQPACKET, one request and one result at a time */
        bool writing; /* it opened the caller's memory and was asked to write */
};

/* Starts one (vpsd --sysinfo-writer, exec'd: it shares no memory with vpsd and holds no fd
 * but its socket). */
int vpsd_writer_spawn(struct vpsd_writer *w, vps_error *err);
/* The requests, each 0 or a negative errno; 'open' and 'write' are answered (vpsd_writer_result).
 * open: it opens /proc/PID/mem of pid (the caller's: the thread never opens a guest process's
 * /proc files, which can wait on the guest); write: it writes si at addr through that file
 * (once the thread knows the call is still pending, so the file is the caller's memory) and
 * closes it; drop: it closes it (the call was not pending any more). */
int vpsd_writer_open(struct vpsd_writer *w, pid_t pid);
int vpsd_writer_write(struct vpsd_writer *w, uint64_t addr, const struct sysinfo *si);
int vpsd_writer_drop(struct vpsd_writer *w);
/* The next step of w's call c (a notification of listener, answered with si) once w answered
 * r (vpsd_writer_result) to its open or its write. 1 while the call goes on: w opened the
 * caller's memory, the call is still pending (checked only now, after the open: the PID is
 * then known to be the caller's and the file its memory), and w was asked to write. Else 0
 * with *error the error to finish the call with (-1: run it as the kernel would, when the
 * memory could not be opened or the call is not pending any more), or -1 when w is broken (it
 * died, or a request could not be sent: *error is EFAULT). */
int vpsd_writer_step(struct vpsd_writer *w, int listener, const struct vps_sysinfo_call *c,
                     const struct sysinfo *si, int r, int *error);
/* Its answer: 0 opened or written, > 0 the errno of the open or write, < 0 no result (it died,
 * -EAGAIN none yet). */
int vpsd_writer_result(struct vpsd_writer *w);
/* SIGKILL, and its socket closed (the pidfd stays, to reap it). */
void vpsd_writer_kill(struct vpsd_writer *w);
/* Reaps it if it has exited: true then, its fds closed. */
bool vpsd_writer_reap(struct vpsd_writer *w);
/* vpsd --sysinfo-writer: the writer's own side, on fd 3. */
int vpsd_writer_main(void);
