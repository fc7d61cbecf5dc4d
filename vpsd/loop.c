/* vpsd: the one event loop. epoll over the sources the modules register (loop.h): the API's
 * libmicrohttpd epoll fd, a signalfd, and per running VPS its pidfd, console master and
 * timers. No thread or helper process per VPS. */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int vpsd_event_init(struct vpsd_event *e, vps_error *err)
{
        *e = (struct vpsd_event){0};
        e->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (e->epfd < 0)
                return vps_err_sys(err, errno, "epoll_create1");
        return 0;
}

void vpsd_event_close(struct vpsd_event *e)
{
        if (e->epfd >= 0)
                close(e->epfd);
        e->epfd = -1;
}

void vpsd_source_set(struct vpsd_source *s, int fd, uint32_t events, vpsd_io_fn fn, void *userdata)
{
        *s = (struct vpsd_source){.fd = fd, .events = events, .fn = fn, .userdata = userdata};
}

int vpsd_event_attach(struct vpsd_event *e, struct vpsd_source *s, vps_error *err)
{
        struct epoll_event ev = {.events = s->events, .data.ptr = s};
        if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
                return vps_err_sys(err, errno, "epoll_ctl");
        return 0;
}

int vpsd_event_add(struct vpsd_event *e, struct vpsd_source *s, int fd, uint32_t events,
                   vpsd_io_fn fn, void *userdata, vps_error *err)
{
        vpsd_source_set(s, fd, events, fn, userdata);
        return vpsd_event_attach(e, s, err);
}

void vpsd_event_del(struct vpsd_event *e, struct vpsd_source *s)
{
        if (s->fd >= 0)
                (void)epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        for (int i = e->batch_i + 1; i < e->batch_n; i++)
                if (e->batch[i].data.ptr == s)
                        e->batch[i].data.ptr = NULL;
}

int vpsd_timer_new(struct vpsd_event *e, struct vpsd_source *s, vpsd_io_fn fn, void *userdata,
                   vps_error *err)
{
        int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        vpsd_source_set(s, fd, EPOLLIN, fn, userdata);
        if (fd < 0)
                return vps_err_sys(err, errno, "timerfd_create");
        s->timer = true;
        int r = vpsd_event_attach(e, s, err);
        if (r < 0) {
                close(fd);
                s->fd = -1;
        }
        return r;
}

int vpsd_timer_set(struct vpsd_source *s, int64_t ms, bool absolute, vps_error *err)
{
        /* A zero it_value would disarm the timer: "at once" is after 1 ns. */
        struct itimerspec its = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000}};
        if (ms <= 0)
                its.it_value = (struct timespec){.tv_nsec = 1};
        if (timerfd_settime(s->fd, absolute ? TFD_TIMER_ABSTIME : 0, &its, NULL) < 0)
                return vps_err_sys(err, errno, "timerfd_settime");
        return 0;
}

void vpsd_timer_free(struct vpsd_event *e, struct vpsd_source *s)
{
        if (s->fd < 0)
                return;
        vpsd_event_del(e, s);
        close(s->fd);
        s->fd = -1;
}

int vpsd_event_add_prepare(struct vpsd_event *e, vpsd_prepare_fn fn, void *userdata)
{
        if (e->n_prepare >= VPSD_HOOKS)
                return -ENOSPC;
        e->prepare[e->n_prepare].fn = fn;
        e->prepare[e->n_prepare++].userdata = userdata;
        return 0;
}

int vpsd_event_add_post(struct vpsd_event *e, vpsd_post_fn fn, void *userdata)
{
        if (e->n_post >= VPSD_HOOKS)
                return -ENOSPC;
        e->post[e->n_post].fn = fn;
        e->post[e->n_post++].userdata = userdata;
        return 0;
}

void vpsd_event_exit(struct vpsd_event *e)
{
        e->quit = true;
}

static void dispatch(struct vpsd_source *s, uint32_t revents)
{
        if (s->timer) {
                uint64_t ticks;
                (void)!read(s->fd, &ticks, sizeof(ticks));
        }
        s->fn(s, revents, s->userdata);
}

int vpsd_event_run(struct vpsd_event *e)
{
        struct epoll_event evs[64];
        while (!e->quit) {
                int timeout = -1;
                for (unsigned int i = 0; i < e->n_prepare; i++) {
                        int t = e->prepare[i].fn(e->prepare[i].userdata);
                        if (t >= 0 && (timeout < 0 || t < timeout))
                                timeout = t;
                }
                int n = epoll_wait(e->epfd, evs, 64, timeout);
                if (n < 0 && errno != EINTR)
                        return -errno;
                e->batch = evs;
                e->batch_n = n;
                for (e->batch_i = 0; e->batch_i < n; e->batch_i++)
                        if (evs[e->batch_i].data.ptr)
                                dispatch(evs[e->batch_i].data.ptr, evs[e->batch_i].events);
                e->batch_n = 0;
                for (unsigned int i = 0; i < e->n_post; i++)
                        e->post[i].fn(e->post[i].userdata);
        }
        return 0;
}
