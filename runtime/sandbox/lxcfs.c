/* libvps: is LXCFS serving? (sandbox.h) One open and one read of its /proc/meminfo: a mount
 * point whose daemon is gone answers ENOTCONN, a directory nobody mounted ENOENT. */
#include "vps/cleanup.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void vps_lxcfs_probe(const char *dir, struct vps_lxcfs_status *ret)
{
        *ret = (struct vps_lxcfs_status){.state = VPS_LXCFS_OFF};
        if (!dir || !*dir)
                return;
        (void)snprintf(ret->dir, sizeof(ret->dir), "%s", dir);
        char p[300];
        (void)snprintf(p, sizeof(p), "%s/proc/meminfo", dir);
        char buf[64];
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
        if (n > 0) {
                ret->state = VPS_LXCFS_SERVING;
                return;
        }
        ret->state = VPS_LXCFS_DOWN;
        (void)snprintf(ret->why, sizeof(ret->why), "%s: %s", p, n == 0 ? "empty" : strerror(errno));
}

const char *vps_lxcfs_state_name(enum vps_lxcfs_state s)
{
        return s == VPS_LXCFS_SERVING ? "serving" : s == VPS_LXCFS_DOWN ? "not serving" : "off";
}

json_t *vps_lxcfs_status_json(const struct vps_lxcfs_status *s)
{
        return json_pack("{s:s, s:b, s:s?, s:s?, s:s}", "state", vps_lxcfs_state_name(s->state),
                         "serving", s->state == VPS_LXCFS_SERVING, "dir", s->dir[0] ? s->dir : NULL,
                         "detail", s->why[0] ? s->why : NULL, "meminfo",
                         s->state == VPS_LXCFS_SERVING ? "lxcfs" : "vpsd");
}
