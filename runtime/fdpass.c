/* libvps: fd passing between vpsd and a VPS child, and between vpsctl's attach processes. */
#include "vps/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

union cmsg_buf {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
};

int vps_send_fd(int sock, int fd)
{
        char byte = 'f';
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union cmsg_buf u;
        memset(&u, 0, sizeof(u));
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0) {
                msg.msg_control = u.buf;
                msg.msg_controllen = sizeof(u.buf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        ssize_t n;
        while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
                ;
        return n == 1 ? 0 : -(n < 0 ? errno : EIO);
}

int vps_recv_fd(int sock, int *ret_fd)
{
        char byte;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union cmsg_buf u;
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        ssize_t n;
        while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
                ;
        if (n <= 0)
                return n < 0 ? -errno : -EPIPE;
        *ret_fd = -1;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
        return 0;
}
