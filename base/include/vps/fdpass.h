/* Passing file descriptors over a Unix socket (SCM_RIGHTS) with a message. */
#pragma once

#include <stddef.h>

/* Sends len bytes of data (len > 0) and up to 4 fds. Returns 0 or a negative errno. */
int vps_send_msg(int sock, const void *data, size_t len, const int *fds, size_t nfds);
/* Receives one message (its length is returned) and up to max_fds fds with it (O_CLOEXEC
 * set; any beyond max_fds are closed); -EPIPE at end of stream, or a negative errno. */
int vps_recv_msg(int sock, void *data, size_t len, int *fds, size_t max_fds, size_t *ret_nfds);

/* Sends a byte and, when fd >= 0, the fd. Returns 0 or a negative errno. */
int vps_send_fd(int sock, int fd);
/* Receives a byte and the fd sent with it (-1 in *ret_fd when none came, O_CLOEXEC set).
 * Returns 0, -EPIPE at end of stream, or a negative errno. */
int vps_recv_fd(int sock, int *ret_fd);
