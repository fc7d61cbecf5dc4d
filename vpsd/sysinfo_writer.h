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

struct vpsd_writer {
        pid_t pid;
        int pidfd;
        int sock; /* SOCK_SEQPACKET, one request and one result at a time */
};

/* Starts one (vpsd --sysinfo-writer, exec'd: it shares no memory with vpsd and holds no fd
 * but its socket). */
int vpsd_writer_spawn(struct vpsd_writer *w, vps_error *err);
/* Asks it to write si at addr through mem (/proc/PID/mem of the caller, opened by the thread
 * once the call was known to be pending). 0 or a negative errno. */
int vpsd_writer_send(struct vpsd_writer *w, int mem, uint64_t addr, const struct sysinfo *si);
/* Its result: 0 written, > 0 the errno of the write, < 0 no result (it died, -EAGAIN none yet). */
int vpsd_writer_result(struct vpsd_writer *w);
/* SIGKILL, and its socket closed (the pidfd stays, to reap it). */
void vpsd_writer_kill(struct vpsd_writer *w);
/* Reaps it if it has exited: true then, its fds closed. */
bool vpsd_writer_reap(struct vpsd_writer *w);
/* vpsd --sysinfo-writer: the writer's own side, on fd 3. */
int vpsd_writer_main(void);
