/* Passing one file descriptor over a Unix socket (SCM_RIGHTS) with a one-byte message. */
#pragma once

/* Sends a byte and, when fd >= 0, the fd. Returns 0 or a negative errno. */
int vps_send_fd(int sock, int fd);
/* Receives a byte and the fd sent with it (-1 in *ret_fd when none came, O_CLOEXEC set).
 * Returns 0, -EPIPE at end of stream, or a negative errno. */
int vps_recv_fd(int sock, int *ret_fd);
