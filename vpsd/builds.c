/* vpsd: template builds in child processes (libvps template_build.c), watched by the loop:
 * their output for progress, their pidfd for the end. At most VPSD_BUILDS at once; the last
 * outcome of each name is kept for `GET /v1/templates/NAME/build`. */
#include "builds.h"

#include "log.h"
#include "vps/cleanup.h"
#include "loop.h"
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

static void on_output(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        struct build_slot *s = vpsd_container_of(src, struct build_slot, w_out);
        vps_template_build_read(&s->b);
}

static void on_end(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct build_slot *s = vpsd_container_of(src, struct build_slot, w_end);
        vpsd_event_del(&d->ev, &s->w_out);
        vpsd_event_del(&d->ev, &s->w_end);
        vps_error err;
        if (vps_template_build_end(&d->m, &s->b, &err) < 0)
                vpsd_log("template %s: build failed: %s", s->b.name, s->b.error);
        else
                vpsd_log("template %s built (%u packages, %u files, %u refused, %lld s)", s->b.name,
                         s->b.packages, s->b.files, s->b.refused,
                         (long long)(s->b.ended_at - s->b.started_at));
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
        vps_error e;
        if (vpsd_event_add(&d->ev, &s->w_out, s->b.out_fd, EPOLLIN, on_output, d, &e) < 0 ||
            vpsd_event_add(&d->ev, &s->w_end, s->b.pidfd, EPOLLIN, on_end, d, &e) < 0)
                vpsd_log("template %s: watching the build: %s", name, strerror(e.code));
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
