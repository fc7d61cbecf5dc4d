/* vpsd: limit hits of running VPSes, from their cgroups' event files (see limit_events.h). */
#include "limit_events.h"

#include "events.h"
#include "loop.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

static const char *const files[VPSD_LIMIT_FILES] = {"memory.events", "pids.events"};
static const char *const resources[VPSD_LIMIT_FILES] = {"memory", "pids"};
static const char *const counters[VPSD_LIMIT_COUNTERS] = {"low", "high",     "max",
                                                          "oom", "oom_kill", "oom_group_kill"};

/* The counters of one file into ret (those it lacks stay 0); -1 when unreadable. */
static int read_counts(const char *cgroup, unsigned int f, uint64_t ret[VPSD_LIMIT_COUNTERS])
{
        char path[600], buf[512];
        (void)snprintf(path, sizeof(path), "%s/%s", cgroup, files[f]);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -1;
        buf[n] = '\0';
        memset(ret, 0, VPSD_LIMIT_COUNTERS * sizeof(ret[0]));
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char key[32];
                unsigned long long v;
                if (sscanf(line, "%31s %llu", key, &v) != 2)
                        continue;
                for (unsigned int i = 0; i < VPSD_LIMIT_COUNTERS; i++)
                        if (!strcmp(key, counters[i]))
                                ret[i] = v;
        }
        return 0;
}

static void changed(struct vpsd *d, struct vps_inst *vi, unsigned int f)
{
        struct vps_loop *l = vi->loop_data;
        uint64_t now[VPSD_LIMIT_COUNTERS];
        if (read_counts(vi->st.cgroup, f, now) < 0)
                return;
        for (unsigned int i = 0; i < VPSD_LIMIT_COUNTERS; i++) {
                if (now[i] <= l->limit_seen[f][i])
                        continue;
                json_t *extra = json_pack("{s:s, s:s, s:I, s:I}", "resource", resources[f],
                                          "counter", counters[i], "count", (json_int_t)now[i],
                                          "delta", (json_int_t)(now[i] - l->limit_seen[f][i]));
                vpsd_emit(d, !strcmp(counters[i], "oom_kill") ? "oom-kill" : "limit", vi->cfg.id,
                          extra);
        }
        memcpy(l->limit_seen[f], now, sizeof(now));
}

static void on_inotify(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        (void)s;
        (void)revents;
        struct vpsd *d = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;
        while ((n = read(d->limits_fd, buf, sizeof(buf))) > 0) {
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        p += sizeof(*ev) + ev->len;
                        for (size_t i = 0; i < d->m.n; i++) {
                                struct vps_loop *l = d->m.v[i]->loop_data;
                                for (unsigned int f = 0; l && f < VPSD_LIMIT_FILES; f++)
                                        if (l->limit_wd[f] == ev->wd)
                                                changed(d, d->m.v[i], f);
                        }
                }
        }
}

void vpsd_limits_watch(struct vpsd *d, struct vps_inst *vi)
{
        struct vps_loop *l = vpsd_loop_ensure(vi);
        vps_error err;
        if (!l || !vi->st.cgroup[0])
                return;
        if (d->limits_fd < 0) {
                d->limits_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (d->limits_fd < 0)
                        return;
                if (vpsd_event_add(&d->ev, &d->w_limits, d->limits_fd, EPOLLIN, on_inotify, d,
                                   &err) < 0) {
                        close(d->limits_fd);
                        d->limits_fd = -1;
                        return;
                }
        }
        for (unsigned int f = 0; f < VPSD_LIMIT_FILES; f++) {
                char path[600];
                (void)snprintf(path, sizeof(path), "%s/%s", vi->st.cgroup, files[f]);
                if (l->limit_wd[f] > 0 || read_counts(vi->st.cgroup, f, l->limit_seen[f]) < 0)
                        continue;
                int wd = inotify_add_watch(d->limits_fd, path, IN_MODIFY);
                l->limit_wd[f] = wd > 0 ? wd : 0;
        }
}

void vpsd_limits_unwatch(struct vpsd *d, struct vps_inst *vi)
{
        struct vps_loop *l = vi->loop_data;
        for (unsigned int f = 0; l && f < VPSD_LIMIT_FILES; f++) {
                /* Counted once more first: an OOM kill that ended the VPS is not missed. */
                if (l->limit_wd[f] > 0) {
                        changed(d, vi, f);
                        (void)inotify_rm_watch(d->limits_fd, l->limit_wd[f]);
                }
                l->limit_wd[f] = 0;
        }
}
