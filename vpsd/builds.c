/* vpsd: template builds in child processes (libvps template_build.c), watched by the loop:
 * their output for progress, their pidfd for the end. At most VPSD_BUILDS at once; the last
 * outcome of each name is kept for `GET /v1/templates/NAME/build`. */
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/epoll.h>

static struct build_slot *slot_of(struct vpsd *d, const char *name)
{
        for (size_t i = 0; i < VPSD_BUILDS; i++)
                if (d->builds[i].used && strcmp(d->builds[i].b.name, name) == 0)
                        return &d->builds[i];
        return NULL;
}

/* A slot for name: its old one, else a free one, else the one of a finished build. */
static struct build_slot *take_slot(struct vpsd *d, const char *name)
{
        struct build_slot *s = slot_of(d, name);
        for (size_t i = 0; !s && i < VPSD_BUILDS; i++)
                if (!d->builds[i].used)
                        s = &d->builds[i];
        for (size_t i = 0; !s && i < VPSD_BUILDS; i++)
                if (d->builds[i].b.pidfd < 0)
                        s = &d->builds[i];
        return s;
}

int vpsd_build_start(struct vpsd *d, const char *name, const char *import_path, json_t **ret,
                     vps_error *err)
{
        struct build_slot *s = slot_of(d, name);
        if (s && s->b.pidfd >= 0)
                return vps_err(err, EBUSY, "template '%s' is being built", name);
        if (!(s = take_slot(d, name)))
                return vps_err(err, EBUSY, "%d template builds are running: try again later",
                               VPSD_BUILDS);
        struct vps_build b;
        struct vps_build_source src = {.mirror = d->mirror, .import_path = import_path};
        int r = vps_template_build_start(&d->m, name, &src, &b, err);
        if (r < 0)
                return r;
        s->b = b;
        s->used = true;
        s->w_out = (struct watch){W_BUILD_OUT, s};
        s->w_end = (struct watch){W_BUILD_END, s};
        struct epoll_event out = {.events = EPOLLIN, .data.ptr = &s->w_out};
        struct epoll_event end = {.events = EPOLLIN, .data.ptr = &s->w_end};
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->b.out_fd, &out) < 0 ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->b.pidfd, &end) < 0)
                vpsd_log("template %s: watching the build: %s", name, strerror(errno));
        vpsd_log("template %s: %s started (builder PID %d, %s)", name,
                 import_path ? "import" : "build", (int)s->b.pid,
                 import_path ? import_path : d->mirror);
        *ret = vps_template_build_json(&s->b);
        return 0;
}

json_t *vpsd_build_status(struct vpsd *d, const char *name)
{
        struct build_slot *s = slot_of(d, name);
        return s ? vps_template_build_json(&s->b) : NULL;
}

void vpsd_build_on_output(struct vpsd *d, struct build_slot *s)
{
        vps_template_build_read(&s->b);
}

void vpsd_build_on_end(struct vpsd *d, struct build_slot *s)
{
        (void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->b.out_fd, NULL);
        (void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->b.pidfd, NULL);
        vps_error err;
        if (vps_template_build_end(&d->m, &s->b, &err) < 0)
                vpsd_log("template %s: build failed: %s", s->b.name, s->b.error);
        else
                vpsd_log("template %s built (%u packages, %u files, %u refused, %lld s)", s->b.name,
                         s->b.packages, s->b.files, s->b.refused,
                         (long long)(s->b.ended_at - s->b.started_at));
}
