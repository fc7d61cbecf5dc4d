/* vpsd: the sysinfo thread (sysinfo_thread.h). It owns every seccomp listener, the socket
 * vpsctl hands exec'd commands' listeners to, and the writer processes (sysinfo_writer.c),
 * all in an epoll of its own. A call is received, its VPS found from the caller's cgroup among
 * the plans the loop publishes (sysinfo_handover.c), its figures read from the VPS's cgroup
 * files (the host's cgroupfs), and handed to a writer with a deadline (vpsd.conf
 * guest_timeout): the writer opens the caller's /proc/PID/mem (which can wait on the guest),
 * the thread checks the call is still pending, and the writer writes. A writer past the
 * deadline is killed and the call fails with EFAULT. At most WRITERS_PER_VPS writers are busy
 * (or killed and not yet gone) for one VPS, so a guest that stalls them only queues its own
 * calls; IDLE_MAX idle writers wait for the next call, whichever VPS makes it. */
#include "sysinfo_thread.h"

#include "log.h"
#include "sysinfo_handover.h"
#include "sysinfo_writer.h"
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "vps/localsock.h"
#include "vps/util.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { WRITERS_PER_VPS = 4, IDLE_MAX = 2, QUEUED_PER_VPS = 256, DRAIN_MS = 1000 };

enum kind { K_WAKE, K_STOP, K_TIMER, K_ACCEPT, K_LISTENER, K_CLIENT, K_WRITER };

/* What an epoll event points at: the first member of its owner. */
struct src {
        enum kind kind;
};

/* A seccomp listener (K_LISTENER) or a vpsctl connection handing one over (K_CLIENT). */
struct listener {
        struct src s;
        int fd;
        bool gone; /* no process uses its filter any more: closed once its calls are answered */
        unsigned int calls;
        struct listener *next;
};

struct call {
        struct listener *l;
        struct vps_sysinfo_call c;
        struct sysinfo si;
        char vps[VPS_ID_MAX + 1];
        int64_t deadline_ms; /* answered by then, written or not (queued or not) */
        struct call *next;   /* waiting for a writer of its VPS */
};

struct writer {
        struct src s;
        struct vpsd_writer w;
        struct call *call; /* busy with it */
        bool dying;        /* killed or told to go: its pidfd is watched until it is reaped */
        bool dead; /* reaped: freed (writers_sweep) after the batch of events, a later one of
                    * which may point here; the queue runs then */
        char vps[VPS_ID_MAX + 1]; /* of its call (a dying one keeps it: it still counts) */
        struct writer *next;
};

struct vpsd_sysinfo {
        struct vpsd_sysinfo_shared *sh;
        pthread_t thread;
        int ep, stop_fd, timer, accept_fd;
        struct src s_wake, s_stop, s_timer, s_accept;
        unsigned int timeout_s;
        char cg_mount[256];
        struct listener *listeners;
        struct writer *writers;
        struct call *queue;
        bool stopping;
};

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int watch(struct vpsd_sysinfo *t, int fd, uint32_t events, struct src *s)
{
        struct epoll_event ev = {.events = events, .data.ptr = s};
        return epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void unwatch(struct vpsd_sysinfo *t, int fd)
{
        if (fd >= 0)
                (void)epoll_ctl(t->ep, EPOLL_CTL_DEL, fd, NULL);
}

static struct writer *writer_get(struct vpsd_sysinfo *t);

static void listener_add(struct vpsd_sysinfo *t, int fd, enum kind kind)
{
        struct listener *l = calloc(1, sizeof(*l));
        if (!l || watch(t, fd, EPOLLIN, &l->s) < 0) {
                vpsd_log("sysinfo: cannot watch a listener: %s", strerror(errno));
                close(fd);
                free(l);
                return;
        }
        l->s.kind = kind;
        l->fd = fd;
        l->next = t->listeners;
        t->listeners = l;
        /* A writer waits before the first call: starting one takes milliseconds. */
        if (kind == K_LISTENER && !t->stopping)
                (void)writer_get(t);
}

/* A listener marked gone is closed once no call of it is left. */
static void listener_settle(struct vpsd_sysinfo *t, struct listener *l)
{
        if (!l->gone || l->calls)
                return;
        for (struct listener **p = &t->listeners; *p; p = &(*p)->next)
                if (*p == l) {
                        *p = l->next;
                        break;
                }
        unwatch(t, l->fd);
        close(l->fd);
        free(l);
}

static void listener_gone(struct vpsd_sysinfo *t, struct listener *l)
{
        l->gone = true;
        unwatch(t, l->fd);
        listener_settle(t, l);
}

/* Answers call (error as vps_sysinfo_respond takes it) and frees it. */
static void call_finish(struct vpsd_sysinfo *t, struct call *c, int error)
{
        int r = vps_sysinfo_respond(c->l->fd, c->c.id, error);
        /* ENOENT: the caller died meanwhile. */
        if (r < 0 && r != -ENOENT)
                vpsd_log("sysinfo: answering: %s", strerror(-r));
        c->l->calls--;
        listener_settle(t, c->l);
        free(c);
}

/* Writers busy or dying for vps, or idle ones when vps is NULL. */
static unsigned int writers_of(const struct vpsd_sysinfo *t, const char *vps)
{
        unsigned int n = 0;
        for (const struct writer *w = t->writers; w; w = w->next)
                n += w->dead ? 0
                     : vps   ? (w->call || w->dying) && strcmp(w->vps, vps) == 0
                             : !w->call && !w->dying;
        return n;
}

static void arm_timer(struct vpsd_sysinfo *t)
{
        int64_t first = 0;
        for (const struct writer *w = t->writers; w; w = w->next)
                if (w->call && (!first || w->call->deadline_ms < first))
                        first = w->call->deadline_ms;
        for (const struct call *c = t->queue; c; c = c->next)
                if (!first || c->deadline_ms < first)
                        first = c->deadline_ms;
        struct itimerspec its = {0};
        if (first) {
                its.it_value.tv_sec = first / 1000;
                its.it_value.tv_nsec = (first % 1000) * 1000000 + 1;
        }
        (void)timerfd_settime(t->timer, first ? TFD_TIMER_ABSTIME : 0, &its, NULL);
}

/* Kills it (an idle one only loses its socket and exits) and watches its pidfd until it is
 * reaped. A writer the guest holds beyond SIGKILL (a FUSE request its daemon has read) is
 * reaped when that VPS's FUSE daemon dies; until then it counts against its VPS. */
static void writer_retire(struct vpsd_sysinfo *t, struct writer *w)
{
        unwatch(t, w->w.sock);
        vpsd_writer_kill(&w->w);
        w->dying = true;
        if (vpsd_writer_reap(&w->w) || watch(t, w->w.pidfd, EPOLLIN, &w->s) < 0)
                w->dead = true; /* a pidfd not watched: init reaps it after vpsd */
}

static struct writer *writer_get(struct vpsd_sysinfo *t)
{
        for (struct writer *w = t->writers; w; w = w->next)
                if (!w->call && !w->dying && !w->dead)
                        return w;
        struct writer *w = calloc(1, sizeof(*w));
        vps_error err;
        if (!w || vpsd_writer_spawn(&w->w, &err) < 0) {
                vpsd_log("sysinfo: %s", w ? err.msg : "out of memory");
                free(w);
                return NULL;
        }
        w->s.kind = K_WRITER;
        if (watch(t, w->w.sock, EPOLLIN, &w->s) < 0) {
                w->next = t->writers;
                t->writers = w;
                writer_retire(t, w);
                return NULL;
        }
        w->next = t->writers;
        t->writers = w;
        return w;
}

/* Calls of vps waiting for a writer: capped per VPS, so one guest fails only its own. */
static unsigned int queued_of(const struct vpsd_sysinfo *t, const char *vps)
{
        unsigned int n = 0;
        for (const struct call *c = t->queue; c; c = c->next)
                n += strcmp(c->vps, vps) == 0;
        return n;
}

static void dispatch(struct vpsd_sysinfo *t, struct call *c)
{
        if (writers_of(t, c->vps) >= WRITERS_PER_VPS) {
                if (queued_of(t, c->vps) >= QUEUED_PER_VPS) {
                        vpsd_log("VPS %s: too many sysinfo calls wait for their answers to be "
                                 "written; failing one with EFAULT",
                                 c->vps);
                        call_finish(t, c, EFAULT);
                        return;
                }
                struct call **p = &t->queue;
                while (*p)
                        p = &(*p)->next;
                c->next = NULL;
                *p = c;
                arm_timer(t);
                return;
        }
        struct writer *w = writer_get(t);
        if (!w) {
                call_finish(t, c, ENOMEM);
                return;
        }
        if (vpsd_writer_open(&w->w, c->c.pid) < 0) {
                writer_retire(t, w);
                call_finish(t, c, EFAULT);
                return;
        }
        w->call = c;
        (void)snprintf(w->vps, sizeof(w->vps), "%s", c->vps);
        arm_timer(t);
}

/* Queued calls whose VPS has a writer free again. */
static void run_queue(struct vpsd_sysinfo *t)
{
        for (struct call **p = &t->queue; *p;) {
                struct call *c = *p;
                if (writers_of(t, c->vps) >= WRITERS_PER_VPS) {
                        p = &c->next;
                        continue;
                }
                *p = c->next;
                dispatch(t, c);
        }
}

/* One notification of l: 0, or the receive's error (-ENOENT: its caller died before it was
 * read). */
static int on_listener(struct vpsd_sysinfo *t, struct listener *l)
{
        struct vps_sysinfo_call c;
        int r = vps_sysinfo_receive(l->fd, &c);
        if (r < 0)
                return r;
        char cg[1200];
        struct vps_sysinfo_plan p;
        _cleanup_close_ int dir_fd = -1;
        struct sysinfo si;
        struct vps_mem f;
        /* Any other call, or one from no running VPS, runs as the kernel would. */
        if (!c.is_sysinfo || vps_sysinfo_caller_cgroup(c.pid, t->cg_mount, cg, sizeof(cg)) < 0 ||
            vpsd_sysinfo_find(t->sh, cg, &p, &dir_fd) < 0 || vps_sysinfo_fill(&p, &si, &f) < 0) {
                (void)vps_sysinfo_respond(l->fd, c.id, -1);
                return 0;
        }
        /* busybox free reads Cached from /proc/meminfo right after: the view (when the VPS
         * has one) follows the figures before the caller goes on. */
        if (dir_fd >= 0)
                (void)vps_sysinfo_view_update(dir_fd, &f);
        struct call *call = calloc(1, sizeof(*call));
        if (!call) {
                (void)vps_sysinfo_respond(l->fd, c.id, ENOMEM);
                return 0;
        }
        *call = (struct call){
                .l = l, .c = c, .si = si, .deadline_ms = now_ms() + (int64_t)t->timeout_s * 1000};
        (void)snprintf(call->vps, sizeof(call->vps), "%s", p.id);
        l->calls++;
        dispatch(t, call);
        return 0;
}

static void on_client(struct vpsd_sysinfo *t, struct listener *l)
{
        char tag;
        int fd = -1;
        size_t nfds = 0;
        int r = vps_recv_msg(l->fd, &tag, 1, &fd, 1, &nfds);
        if (r <= 0 && r != -EAGAIN) {
                listener_gone(t, l);
                return;
        }
        if (nfds == 1 && tag == 'L' && vps_sysinfo_is_listener(fd))
                listener_add(t, vps_fd_high(fd), K_LISTENER);
        else if (nfds == 1)
                close(fd);
}

static void on_accept(struct vpsd_sysinfo *t)
{
        int c;
        while ((c = accept4(t->accept_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
                /* Only host root (vpsctl runs as root) may hand listeners over; the directory
                 * keeps others out too. */
                if (!vps_sock_peer_is_root(c)) {
                        close(c);
                        continue;
                }
                listener_add(t, c, K_CLIENT);
        }
}

static void on_writer(struct vpsd_sysinfo *t, struct writer *w)
{
        if (w->dead)
                return;
        if (w->dying) {
                if (vpsd_writer_reap(&w->w))
                        w->dead = true;
                return;
        }
        int r = vpsd_writer_result(&w->w);
        if (r == -EAGAIN)
                return;
        struct call *c = w->call;
        int error = EFAULT;
        int a = c ? vpsd_writer_step(&w->w, c->l->fd, &c->c, &c->si, r, &error) : r < 0 ? -1 : 0;
        if (a > 0)
                return;
        w->call = NULL;
        if (c)
                call_finish(t, c, error);
        if (a < 0 || writers_of(t, NULL) > IDLE_MAX) {
                writer_retire(t, w);
        } else {
                w->vps[0] = '\0';
        }
        run_queue(t);
        arm_timer(t);
}

static void writers_sweep(struct vpsd_sysinfo *t)
{
        bool freed = false;
        for (struct writer **p = &t->writers; *p;) {
                struct writer *w = *p;
                if (!w->dead) {
                        p = &w->next;
                        continue;
                }
                *p = w->next;
                free(w);
                freed = true;
        }
        if (freed && !t->stopping) {
                run_queue(t);
                arm_timer(t);
        }
}

static void on_timer(struct vpsd_sysinfo *t)
{
        uint64_t n;
        (void)!read(t->timer, &n, sizeof(n));
        int64_t now = now_ms();
        for (struct writer *w = t->writers, *next; w; w = next) {
                next = w->next;
                if (!w->call || w->call->deadline_ms > now)
                        continue;
                vpsd_log("VPS %s: a sysinfo answer was not written into the caller's memory "
                         "within %u s (its memory waits on the guest): the call fails with "
                         "EFAULT",
                         w->vps, t->timeout_s);
                struct call *c = w->call;
                w->call = NULL;
                call_finish(t, c, EFAULT);
                writer_retire(t, w);
        }
        /* Calls that waited that long for a writer of their VPS (all held by the guest). */
        for (struct call **p = &t->queue; *p;) {
                struct call *c = *p;
                if (c->deadline_ms > now) {
                        p = &c->next;
                        continue;
                }
                *p = c->next;
                vpsd_log("VPS %s: a sysinfo call found no writer free within %u s (its writers "
                         "wait on the guest): it fails with EFAULT",
                         c->vps, t->timeout_s);
                call_finish(t, c, EFAULT);
        }
        arm_timer(t);
}

static void on_wake(struct vpsd_sysinfo *t)
{
        int fds[64];
        size_t n = vpsd_sysinfo_take(t->sh, fds, 64);
        for (size_t i = 0; i < n; i++)
                listener_add(t, fds[i], K_LISTENER);
}

static void dispatch_event(struct vpsd_sysinfo *t, struct epoll_event *ev)
{
        struct src *s = ev->data.ptr;
        if (s->kind == K_WAKE)
                on_wake(t);
        else if (s->kind == K_STOP)
                t->stopping = true;
        else if (s->kind == K_TIMER)
                on_timer(t);
        else if (s->kind == K_ACCEPT)
                on_accept(t);
        else if (s->kind == K_CLIENT)
                on_client(t, (struct listener *)s);
        else if (s->kind == K_WRITER)
                on_writer(t, (struct writer *)s);
        /* A listener: gone when no process uses its filter any more (nothing left to read). */
        else if ((ev->events & EPOLLIN ? on_listener(t, (struct listener *)s) : -EPIPE) < 0 &&
                 (ev->events & (EPOLLHUP | EPOLLERR)))
                listener_gone(t, (struct listener *)s);
}

/* The stop: nothing new is read; what is under way gets DRAIN_MS, then EFAULT. */
static void drain(struct vpsd_sysinfo *t)
{
        on_wake(t); /* listeners handed over just before the stop go across a re-exec too */
        for (struct listener *l = t->listeners, *next; l; l = next) {
                next = l->next;
                unwatch(t, l->fd);
                if (l->s.kind == K_CLIENT)
                        listener_gone(t, l);
        }
        /* Only writers are waited for now: the rest (the stop eventfd is never read) would
         * make epoll_wait return at once and the wait spin. */
        unwatch(t, t->accept_fd);
        unwatch(t, t->sh->wake);
        unwatch(t, t->stop_fd);
        unwatch(t, t->timer);
        while (t->queue) {
                struct call *c = t->queue;
                t->queue = c->next;
                call_finish(t, c, EFAULT);
        }
        int64_t until = now_ms() + DRAIN_MS;
        for (;;) {
                bool busy = false;
                for (struct writer *w = t->writers; w; w = w->next)
                        busy |= w->call != NULL;
                int64_t left = until - now_ms();
                if (!busy || left <= 0)
                        break;
                struct epoll_event evs[16];
                int n = epoll_wait(t->ep, evs, 16, (int)left);
                for (int i = 0; i < n; i++)
                        if (((struct src *)evs[i].data.ptr)->kind == K_WRITER)
                                on_writer(t, evs[i].data.ptr);
                writers_sweep(t);
        }
        for (struct writer *w = t->writers, *next; w; w = next) {
                next = w->next;
                struct call *c = w->call;
                w->call = NULL;
                if (c)
                        call_finish(t, c, EFAULT);
                vpsd_writer_kill(&w->w);
        }
        /* The killed writers are reaped at once, unless the guest holds one (then init
         * does, after this process). */
        for (int i = 0; t->writers && i < 20; i++) {
                for (struct writer *w = t->writers; w; w = w->next)
                        if (vpsd_writer_reap(&w->w))
                                w->dead = true;
                writers_sweep(t);
                if (t->writers)
                        (void)usleep(10000);
        }
        for (struct writer *w = t->writers; w; w = w->next) {
                vps_closep(&w->w.pidfd);
                w->dead = true;
        }
        writers_sweep(t);
}

static void *thread_main(void *arg)
{
        struct vpsd_sysinfo *t = arg;
        while (!t->stopping) {
                struct epoll_event evs[32];
                int n = epoll_wait(t->ep, evs, 32, -1);
                if (n < 0 && errno != EINTR) {
                        vpsd_log("sysinfo: epoll_wait: %s", strerror(errno));
                        break;
                }
                for (int i = 0; i < n && !t->stopping; i++)
                        dispatch_event(t, &evs[i]);
                writers_sweep(t);
        }
        drain(t);
        return NULL;
}

int vpsd_sysinfo_start(struct vpsd_sysinfo **ret, struct vpsd_sysinfo_shared *sh, int accept_fd,
                       unsigned int timeout_s, const char *cgroup_mount, vps_error *err)
{
        struct vpsd_sysinfo *t = calloc(1, sizeof(*t));
        if (!t)
                return vps_err(err, ENOMEM, "out of memory");
        *t = (struct vpsd_sysinfo){
                .sh = sh,
                .accept_fd = accept_fd,
                .timeout_s = timeout_s,
                .s_wake = {K_WAKE},
                .s_stop = {K_STOP},
                .s_timer = {K_TIMER},
                .s_accept = {K_ACCEPT},
        };
        (void)snprintf(t->cg_mount, sizeof(t->cg_mount), "%s", cgroup_mount);
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        t->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        int r = t->ep < 0 || t->stop_fd < 0 || t->timer < 0 ? -errno : 0;
        if (r == 0 && (watch(t, sh->wake, EPOLLIN, &t->s_wake) < 0 ||
                       watch(t, t->stop_fd, EPOLLIN, &t->s_stop) < 0 ||
                       watch(t, t->timer, EPOLLIN, &t->s_timer) < 0 ||
                       (accept_fd >= 0 && watch(t, accept_fd, EPOLLIN, &t->s_accept) < 0)))
                r = -errno;
        /* The thread takes no signal: the loop's signalfd gets them all. */
        sigset_t all, old;
        sigfillset(&all);
        if (r == 0) {
                pthread_sigmask(SIG_SETMASK, &all, &old);
                r = -pthread_create(&t->thread, NULL, thread_main, t);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
        if (r < 0) {
                vps_closep(&t->ep);
                vps_closep(&t->stop_fd);
                vps_closep(&t->timer);
                free(t);
                return vps_err_sys(err, -r, "starting the sysinfo thread");
        }
        *ret = t;
        return 0;
}

void vpsd_sysinfo_stop(struct vpsd_sysinfo *t)
{
        if (!t || t->stop_fd < 0)
                return;
        uint64_t one = 1;
        (void)!write(t->stop_fd, &one, sizeof(one));
        pthread_join(t->thread, NULL);
        vps_closep(&t->stop_fd);
}

size_t vpsd_sysinfo_listeners(const struct vpsd_sysinfo *t, int *fds, size_t max)
{
        size_t n = 0;
        for (const struct listener *l = t ? t->listeners : NULL; l && n < max; l = l->next)
                if (l->s.kind == K_LISTENER && !l->gone)
                        fds[n++] = l->fd;
        return n;
}
