/* vpsd: the fleet's thread (fleet.h). The loop posts tasks; the thread runs them with etcd,
 * in between keeps the lease alive and the records in step (fleet_sync.c), and hands the
 * finished tasks back over an eventfd, whose callback runs their done in the loop. */
#include "fleet.h"
#include "fleet_int.h"

#include "config/config.h"
#include "api.h"
#include "log.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int check_url(const char *what, const char *url, vps_error *err)
{
        if (strncmp(url, "https://", 8) != 0 || !url[8] || strpbrk(url, " \t\n,"))
                return vps_err(err, EINVAL, "%s '%.200s': not an https://ADDR:PORT URL", what, url);
        return 0;
}

static int options(struct vps_daemon_conf *conf, const char *const opt[3], vps_error *err)
{
        static const char *const name[3] = {"--cluster", "--node", "--advertise"};
        char *dst[3] = {conf->cluster, conf->node, conf->advertise};
        size_t size[3] = {sizeof(conf->cluster), sizeof(conf->node), sizeof(conf->advertise)};
        for (int i = 0; i < 3; i++) {
                if (!opt[i])
                        continue;
                if (!opt[i][0] || strlen(opt[i]) >= size[i])
                        return vps_err(err, EINVAL, "%s: %s value", name[i],
                                       opt[i][0] ? "too long a" : "an empty");
                memcpy(dst[i], opt[i], strlen(opt[i]) + 1);
        }
        return 0;
}

int vpsd_fleet_new(struct vps_daemon_conf *conf, const char *const opt[3], struct vpsd_fleet **ret,
                   vps_error *err)
{
        *ret = NULL;
        if (options(conf, opt, err) < 0)
                return -err->code;
        if (!conf->cluster[0]) {
                if (conf->node[0] || conf->advertise[0])
                        return vps_err(err, EINVAL, "--node and --advertise need --cluster");
                return 0;
        }
        struct vpsd_fleet *f = calloc(1, sizeof(*f));
        if (!f)
                return vps_err(err, ENOMEM, "out of memory");
        f->efd = -1;
        (void)snprintf(f->urls, sizeof(f->urls), "%s", conf->cluster);
        (void)snprintf(f->advertise, sizeof(f->advertise), "%s", conf->advertise);
        (void)snprintf(f->prefix, sizeof(f->prefix), "%s",
                       conf->cluster_prefix[0] ? conf->cluster_prefix : FLEET_PREFIX_DEFAULT);
        f->ttl = conf->cluster_ttl ? conf->cluster_ttl : FLEET_TTL_DEFAULT;
        (void)snprintf(f->tls.cacert, sizeof(f->tls.cacert), "%s", conf->cluster_cacert);
        (void)snprintf(f->tls.cert, sizeof(f->tls.cert), "%s", conf->cluster_cert);
        (void)snprintf(f->tls.key, sizeof(f->tls.key), "%s", conf->cluster_key);
        if (conf->node[0])
                (void)snprintf(f->node, sizeof(f->node), "%s", conf->node);
        else if (gethostname(f->node, sizeof(f->node)) == 0)
                f->node[strcspn(f->node, ".")] = '\0';
        int r = fleet_name_check(f->node, err);
        if (r < 0)
                (void)vps_err_wrap(err, "--node");
        if (r == 0 && f->advertise[0])
                r = check_url("--advertise", f->advertise, err);
        if (r == 0 && (f->prefix[0] != '/' || f->prefix[strlen(f->prefix) - 1] != '/'))
                r = vps_err(err, EINVAL, "cluster_prefix '%s' must start and end with '/'",
                            f->prefix);
        if (r == 0)
                r = etcd_open(f->urls, &f->tls, &f->etcd, err);
        if (r == 0 && (!(f->owned = json_object()) || !(f->seen = json_object()) ||
                       !(f->inflight = json_object())))
                r = vps_err(err, ENOMEM, "out of memory");
        if (r < 0) {
                if (r != -ENOMEM && strncmp(err->msg, "--", 2) && strncmp(err->msg, "cluster_", 8))
                        (void)vps_err_wrap(err, "--cluster");
                etcd_close(f->etcd);
                json_decref(f->owned);
                json_decref(f->seen);
                json_decref(f->inflight);
                free(f);
                return r;
        }
        (void)pthread_mutex_init(&f->mu, NULL);
        (void)pthread_cond_init(&f->cv, NULL);
        (void)pthread_cond_init(&f->fwd_cv, NULL);
        *ret = f;
        return 0;
}

struct etcd *vpsd_fleet_etcd(struct vpsd_fleet *f)
{
        return f->etcd;
}

const char *vpsd_fleet_node(const struct vpsd_fleet *f)
{
        return f->node;
}

const char *vpsd_fleet_prefix(const struct vpsd_fleet *f)
{
        return f->prefix;
}

struct fleet_task *vpsd_fleet_task(fleet_run_fn run, fleet_done_fn done, struct request *req)
{
        struct fleet_task *t = calloc(1, sizeof(*t));
        if (t)
                *t = (struct fleet_task){.run = run, .done = done, .req = req};
        return t;
}

static void push(struct fleet_task **list, struct fleet_task *t)
{
        t->next = NULL;
        while (*list)
                list = &(*list)->next;
        *list = t;
}

void vpsd_fleet_post(struct vpsd *d, struct fleet_task *t)
{
        struct vpsd_fleet *f = d->fleet;
        pthread_mutex_lock(&f->mu);
        push(&f->todo, t);
        pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mu);
}

void vpsd_fleet_hand_back(struct vpsd_fleet *f, struct fleet_task *t)
{
        pthread_mutex_lock(&f->mu);
        push(&f->done, t);
        pthread_mutex_unlock(&f->mu);
        uint64_t one = 1;
        (void)!write(f->efd, &one, sizeof(one));
}

static void log_done(struct vpsd *d, struct fleet_task *t)
{
        vpsd_log("cluster: %s", t->err.msg);
}

void vpsd_fleet_log(struct vpsd_fleet *f, const char *fmt, ...)
{
        struct fleet_task *t = vpsd_fleet_task(NULL, log_done, NULL);
        if (!t)
                return;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(t->err.msg, sizeof(t->err.msg), fmt, ap);
        va_end(ap);
        vpsd_fleet_hand_back(f, t);
}

static void *thread_main(void *arg)
{
        struct vpsd_fleet *f = arg;
        unsigned int every_ms = f->ttl * 1000 / 3;
        struct timespec next;
        clock_gettime(CLOCK_MONOTONIC, &next);
        pthread_mutex_lock(&f->mu);
        while (!f->quit) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                bool due = now.tv_sec > next.tv_sec ||
                           (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec);
                if (!f->todo && !due && !f->dirty) {
                        /* The condition variable waits on CLOCK_MONOTONIC (set in start). */
                        (void)pthread_cond_timedwait(&f->cv, &f->mu, &next);
                        continue;
                }
                struct fleet_task *t = f->todo;
                if (t)
                        f->todo = t->next;
                else
                        f->dirty = false; /* this sync sees the snapshot that set it */
                pthread_mutex_unlock(&f->mu);
                if (t) {
                        vps_err_clear(&t->err);
                        t->r = t->run(f, t, &t->err);
                        vpsd_fleet_hand_back(f, t);
                } else {
                        fleet_sync(f, due);
                        fleet_peers_tick(f);
                }
                if (!t && due) {
                        clock_gettime(CLOCK_MONOTONIC, &next);
                        next.tv_sec += every_ms / 1000;
                        next.tv_nsec += (long)(every_ms % 1000) * 1000000L;
                        if (next.tv_nsec >= 1000000000L)
                                next.tv_sec++, next.tv_nsec -= 1000000000L;
                }
                pthread_mutex_lock(&f->mu);
        }
        pthread_mutex_unlock(&f->mu);
        return NULL;
}

/* In the loop: the tasks the thread finished. */
static void on_done(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct vpsd_fleet *f = d->fleet;
        uint64_t n;
        (void)!read(f->efd, &n, sizeof(n));
        pthread_mutex_lock(&f->mu);
        struct fleet_task *t = f->done;
        f->done = NULL;
        pthread_mutex_unlock(&f->mu);
        while (t) {
                struct fleet_task *next = t->next;
                t->done(d, t);
                json_decref(t->in);
                json_decref(t->out);
                free(t);
                t = next;
        }
}

int vpsd_fleet_start(struct vpsd *d, vps_error *err)
{
        struct vpsd_fleet *f = d->fleet;
        if (!f)
                return 0;
        f->d = d;
        pthread_condattr_t ca;
        (void)pthread_condattr_init(&ca);
        (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        (void)pthread_cond_destroy(&f->cv);
        (void)pthread_cond_init(&f->cv, &ca);
        (void)pthread_condattr_destroy(&ca);
        f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (f->efd < 0)
                return vps_err_sys(err, errno, "eventfd");
        int r = vpsd_event_add(&d->ev, &f->w_efd, f->efd, EPOLLIN, on_done, d, err);
        if (r == 0)
                r = fleet_report_start(d, f, err);
        if (r < 0)
                return r;
        if ((r = pthread_create(&f->thread, NULL, thread_main, f)) != 0)
                return vps_err_sys(err, r, "starting the cluster thread");
        f->started = true;
        vpsd_log("cluster: node %s, etcd %s, prefix %s, lease TTL %u s%s%s", f->node, f->urls,
                 f->prefix, f->ttl, f->advertise[0] ? ", advertising " : "", f->advertise);
        return 0;
}

void vpsd_fleet_stop(struct vpsd *d)
{
        struct vpsd_fleet *f = d->fleet;
        if (!f || !f->started)
                return;
        pthread_mutex_lock(&f->mu);
        f->quit = true;
        pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mu);
        (void)pthread_join(f->thread, NULL);
        f->started = false;
        /* Creates being sent to other nodes end within a second of quit (fleet_place.c). */
        pthread_mutex_lock(&f->mu);
        while (f->forwards)
                (void)pthread_cond_wait(&f->fwd_cv, &f->mu);
        pthread_mutex_unlock(&f->mu);
        /* A re-exec keeps the lease: the next image is the same node and keeps it alive. */
        if (!d->reexec) {
                etcd_set_timeout(f->etcd, 1000);
                fleet_leave(f);
        }
        /* Tasks still queued or finished: their requests get an answer now (a claim that
         * went through and was not made here is released by the next start's reconcile). */
        vps_error err;
        vps_err(&err, ESHUTDOWN, "vpsd is exiting");
        for (struct fleet_task *l[2] = {f->todo, f->done}, **p = l; p < l + 2; p++)
                while (*p) {
                        struct fleet_task *next = (*p)->next;
                        if ((*p)->req)
                                vpsd_request_fail(d, (*p)->req, &err);
                        json_decref((*p)->in);
                        json_decref((*p)->out);
                        free(*p);
                        *p = next;
                }
        f->todo = f->done = NULL;
}
