/* vpsd: the loop's side of a job child's progress feed (progress_feed.h). */
#include "progress_feed.h"

#include "events.h"
#include "loop.h"
#include "vps/cleanup.h"
#include "vps/util.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct feed {
        struct vpsd_source w;
        struct vpsd *d;
        char id[VPS_ID_MAX + 1], op[24];
};

static void feed_close(struct feed *f)
{
        vpsd_event_del(&f->d->ev, &f->w);
        close(f->w.fd);
        free(f);
}

static void on_feed(struct vpsd_source *w, uint32_t revents, void *userdata)
{
        (void)revents;
        (void)userdata;
        struct feed *f = vpsd_container_of(w, struct feed, w);
        /* A few messages a turn: a child sends at most two a second. */
        for (int i = 0; i < 16; i++) {
                char buf[512];
                ssize_t n = recv(f->w.fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        feed_close(f); /* the child has ended */
                        return;
                }
                json_t *o = json_loadb(buf, (size_t)n, 0, NULL);
                if (!json_is_object(o)) {
                        json_decref(o);
                        continue;
                }
                (void)json_object_del(o, "vps"); /* the loop's word on which VPS, not the child's */
                (void)json_object_set_new(o, "operation", json_string(f->op));
                vpsd_emit(f->d, "progress", f->id, o);
        }
}

void vpsd_progress_feed_open(struct vpsd *d, const char *id, const char *op, int *ret_child_fd)
{
        *ret_child_fd = -1;
        if (vpsd_events_clients(d) == 0)
                return;
        int sp[2];
        struct feed *f = calloc(1, sizeof(*f));
        if (!f || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0) {
                free(f);
                return; /* no events of this job's progress: the job itself goes on */
        }
        f->d = d;
        (void)snprintf(f->id, sizeof(f->id), "%s", id);
        (void)snprintf(f->op, sizeof(f->op), "%s", op);
        vps_error e;
        if (vpsd_event_add(&d->ev, &f->w, sp[0], EPOLLIN, on_feed, d, &e) < 0) {
                close(sp[0]);
                close(sp[1]);
                free(f);
                return;
        }
        *ret_child_fd = sp[1];
}
