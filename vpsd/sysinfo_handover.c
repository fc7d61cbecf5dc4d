/* vpsd: the hand-over between the loop and the sysinfo thread (sysinfo_handover.h). The loop
 * only ever holds the mutex to copy a few small structs; the thread holds it to look a VPS up
 * and copy its plan out, never while it waits for anything. */
#include "sysinfo_handover.h"

#include "inst/inst.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int vpsd_sysinfo_shared_init(struct vpsd_sysinfo_shared *s, vps_error *err)
{
        *s = (struct vpsd_sysinfo_shared){.wake = -1};
        pthread_mutex_init(&s->lock, NULL);
        s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        return s->wake < 0 ? vps_err_sys(err, errno, "eventfd") : 0;
}

static void rows_free(struct vpsd_sysinfo_row **rows, size_t n);

void vpsd_sysinfo_shared_free(struct vpsd_sysinfo_shared *s)
{
        for (size_t i = 0; i < s->n_fds; i++)
                close(s->fds[i]);
        free(s->fds);
        rows_free(s->rows, s->n_rows);
        if (s->wake >= 0)
                close(s->wake);
        pthread_mutex_destroy(&s->lock);
        *s = (struct vpsd_sysinfo_shared){.wake = -1};
}

void vpsd_sysinfo_give(struct vpsd_sysinfo_shared *s, int fd)
{
        pthread_mutex_lock(&s->lock);
        if (s->n_fds == s->cap_fds) {
                size_t cap = s->cap_fds ? s->cap_fds * 2 : 16;
                int *p = realloc(s->fds, cap * sizeof(*p));
                if (!p) {
                        pthread_mutex_unlock(&s->lock);
                        close(fd);
                        return;
                }
                s->fds = p;
                s->cap_fds = cap;
        }
        s->fds[s->n_fds++] = fd;
        pthread_mutex_unlock(&s->lock);
        uint64_t one = 1;
        (void)!write(s->wake, &one, sizeof(one));
}

size_t vpsd_sysinfo_take(struct vpsd_sysinfo_shared *s, int *fds, size_t max)
{
        uint64_t n;
        (void)!read(s->wake, &n, sizeof(n));
        pthread_mutex_lock(&s->lock);
        size_t k = s->n_fds < max ? s->n_fds : max;
        if (k) { /* none yet: s->fds may be NULL, which memcpy must not get (UBSan) */
                memcpy(fds, s->fds, k * sizeof(*fds));
                memmove(s->fds, s->fds + k, (s->n_fds - k) * sizeof(*fds));
                s->n_fds -= k;
        }
        bool more = s->n_fds > 0;
        pthread_mutex_unlock(&s->lock);
        if (more) { /* more than max: come back */
                uint64_t one = 1;
                (void)!write(s->wake, &one, sizeof(one));
        }
        return k;
}

/* Whether row r still says what vi is: the same VPS, start, directory and plan. */
static bool row_holds(const struct vpsd_sysinfo_row *r, const struct vps_inst *vi)
{
        return r->owner == vi && r->p.started_at == vi->st.started_at && r->src_fd == vi->dir_fd &&
               (r->dir_fd >= 0 || vi->dir_fd < 0) && r->p.ram == vi->cfg.limits.v[VPS_LIM_RAM] &&
               r->p.swap == vi->cfg.limits.v[VPS_LIM_SWAP] && !strcmp(r->p.id, vi->cfg.id) &&
               !strcmp(r->p.cgroup, vi->st.cgroup);
}

/* Whether the rows still say what the running VPSes are (read by the loop alone, which is
 * the only writer of the rows: no lock needed to compare). */
static bool rows_current(const struct vpsd_sysinfo_shared *s, const struct vps_manager *m)
{
        size_t k = 0;
        for (size_t i = 0; i < m->n; i++) {
                const struct vps_inst *vi = m->v[i];
                if (vi->status == VPS_STOPPED)
                        continue;
                if (k >= s->n_rows || !row_holds(s->rows[k++], vi))
                        return false;
        }
        return k == s->n_rows;
}

static void row_free(struct vpsd_sysinfo_row *r)
{
        if (r->dir_fd >= 0)
                close(r->dir_fd);
        free(r);
}

static void rows_free(struct vpsd_sysinfo_row **rows, size_t n)
{
        for (size_t i = 0; i < n; i++)
                row_free(rows[i]);
        free(rows);
}

static struct vpsd_sysinfo_row *row_new(const struct vps_inst *vi)
{
        struct vpsd_sysinfo_row *r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        vps_sysinfo_plan_of(vi, &r->p);
        r->owner = vi;
        r->src_fd = vi->dir_fd;
        r->dir_fd = vi->dir_fd >= 0 ? fcntl(vi->dir_fd, F_DUPFD_CLOEXEC, 3) : -1;
        r->fresh = true;
        return r;
}

/* How far past the last row kept the next running VPS's row is looked for. The rows are in
 * the manager's order, which only a destroy changes (the last VPS moved to the hole): a row
 * is a few places on when VPSes stopped since, and farther (or before) only after such a
 * move, when a new row is made instead. */
#define ROW_WINDOW 16

void vpsd_sysinfo_publish(struct vpsd_sysinfo_shared *s, const struct vps_manager *m)
{
        if (s->have_gen && s->gen == m->gen)
                return; /* nothing changed since: no walk over every VPS each round */
        if (rows_current(s, m)) {
                s->gen = m->gen;
                s->have_gen = true;
                return;
        }
        struct vpsd_sysinfo_row **rows = calloc(m->n ? m->n : 1, sizeof(*rows));
        if (!rows)
                return; /* the old rows stay: figures of a moment ago */
        uint64_t serial = ++s->serial;
        size_t k = 0, next = 0;
        /* Only this loop writes s->rows: reading them without the lock is safe. */
        for (size_t i = 0; i < m->n; i++) {
                const struct vps_inst *vi = m->v[i];
                if (vi->status == VPS_STOPPED)
                        continue;
                struct vpsd_sysinfo_row *r = NULL;
                for (size_t j = next; j < s->n_rows && j < next + ROW_WINDOW; j++)
                        if (s->rows[j]->owner == vi) {
                                if (row_holds(s->rows[j], vi))
                                        r = s->rows[j];
                                next = j + 1;
                                break;
                        }
                if (!r && !(r = row_new(vi))) {
                        for (size_t j = 0; j < k; j++)
                                if (rows[j]->fresh)
                                        row_free(rows[j]);
                        free(rows);
                        return;
                }
                r->mark = serial;
                rows[k++] = r;
        }
        for (size_t j = 0; j < k; j++)
                rows[j]->fresh = false;
        pthread_mutex_lock(&s->lock);
        struct vpsd_sysinfo_row **old = s->rows;
        size_t n_old = s->n_rows;
        s->rows = rows;
        s->n_rows = k;
        s->gen = m->gen;
        s->have_gen = true;
        pthread_mutex_unlock(&s->lock);
        for (size_t j = 0; j < n_old; j++)
                if (old[j]->mark != serial)
                        row_free(old[j]);
        free(old);
}

int vpsd_sysinfo_find(struct vpsd_sysinfo_shared *s, const char *cg, struct vps_sysinfo_plan *ret,
                      int *ret_dir_fd)
{
        int r = -ENOENT;
        *ret_dir_fd = -1;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_rows; i++)
                if (vps_sysinfo_plan_holds(&s->rows[i]->p, cg)) {
                        *ret = s->rows[i]->p;
                        if (s->rows[i]->dir_fd >= 0)
                                *ret_dir_fd = fcntl(s->rows[i]->dir_fd, F_DUPFD_CLOEXEC, 3);
                        r = 0;
                        break;
                }
        pthread_mutex_unlock(&s->lock);
        return r;
}
