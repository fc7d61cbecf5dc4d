/* libvps: fd passing between vpsd and a VPS child, between vpsctl's attach processes, and
 * between vpsd and its console keeper. */
#include "vps/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 4

union cmsg_buf {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
};

int vps_send_msg(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
        if (nfds > MAX_FDS || len == 0)
                return -EINVAL;
        struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
        union cmsg_buf u;
        memset(&u, 0, sizeof(u));
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (nfds) {
                msg.msg_control = u.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        ssize_t n;
        while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
                ;
        return n == (ssize_t)len ? 0 : -(n < 0 ? errno : EIO);
}

int vps_recv_msg(int sock, void *data, size_t len, int *fds, size_t max_fds, size_t *ret_nfds)
{
        struct iovec iov = {.iov_base = data, .iov_len = len};
        union cmsg_buf u;
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        ssize_t n;
        while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
                ;
        *ret_nfds = 0;
        if (n <= 0)
                return n < 0 ? -errno : -EPIPE;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int got[MAX_FDS];
                memcpy(got, CMSG_DATA(c), sizeof(int) * (k < MAX_FDS ? k : MAX_FDS));
                for (size_t i = 0; i < k && i < MAX_FDS; i++) {
                        if (i < max_fds)
                                fds[(*ret_nfds)++] = got[i];
                        else
                                close(got[i]); /* more than asked for: not leaked */
                }
        }
        return (int)n;
}

int vps_send_fd(int sock, int fd)
{
        char byte = 'f';
        return vps_send_msg(sock, &byte, 1, &fd, fd >= 0 ? 1 : 0);
}

int vps_recv_fd(int sock, int *ret_fd)
{
        char byte;
        size_t n = 0;
        *ret_fd = -1;
        int r = vps_recv_msg(sock, &byte, 1, ret_fd, 1, &n);
        return r < 0 ? r : 0;
}
