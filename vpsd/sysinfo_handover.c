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

static void rows_free(struct vpsd_sysinfo_row *rows, size_t n);

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

/* Whether the rows still say what the running VPSes are (read by the loop alone, which is
 * the only writer of the rows: no lock needed to compare). */
static bool rows_current(const struct vpsd_sysinfo_shared *s, const struct vps_manager *m)
{
        size_t k = 0;
        for (size_t i = 0; i < m->n; i++) {
                const struct vps_inst *vi = m->v[i];
                if (vi->status == VPS_STOPPED)
                        continue;
                if (k >= s->n_rows)
                        return false;
                const struct vpsd_sysinfo_row *r = &s->rows[k++];
                if (r->owner != vi || r->p.started_at != vi->st.started_at ||
                    r->p.ram != vi->cfg.limits.v[VPS_LIM_RAM] ||
                    r->p.swap != vi->cfg.limits.v[VPS_LIM_SWAP] || strcmp(r->p.id, vi->cfg.id))
                        return false;
        }
        return k == s->n_rows;
}

static void rows_free(struct vpsd_sysinfo_row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (rows[i].dir_fd >= 0)
                        close(rows[i].dir_fd);
        free(rows);
}

/* The rows' indexes sorted by their VPS, to find a VPS's row in O(log n). */
static int by_owner(const void *a, const void *b, void *rows)
{
        const struct vpsd_sysinfo_row *r = rows;
        uintptr_t x = (uintptr_t)r[*(const size_t *)a].owner;
        uintptr_t y = (uintptr_t)r[*(const size_t *)b].owner;
        return (x > y) - (x < y);
}

/* The old row of the same VPS and the same start (so the same directory), or SIZE_MAX. */
static size_t old_row(const struct vpsd_sysinfo_shared *s, const size_t *idx,
                      const struct vps_inst *vi)
{
        size_t lo = 0, hi = idx ? s->n_rows : 0;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct vpsd_sysinfo_row *r = &s->rows[idx[mid]];
                if ((uintptr_t)r->owner < (uintptr_t)vi)
                        lo = mid + 1;
                else if ((uintptr_t)r->owner > (uintptr_t)vi)
                        hi = mid;
                else
                        return r->p.started_at == vi->st.started_at && r->src_fd == vi->dir_fd &&
                                               r->dir_fd >= 0 && !strcmp(r->p.id, vi->cfg.id)
                                       ? idx[mid]
                                       : SIZE_MAX;
        }
        return SIZE_MAX;
}

void vpsd_sysinfo_publish(struct vpsd_sysinfo_shared *s, const struct vps_manager *m)
{
        if (s->have_gen && s->gen == m->gen)
                return; /* nothing changed since: no walk over every VPS each round */
        if (rows_current(s, m)) {
                s->gen = m->gen;
                s->have_gen = true;
                return;
        }
        struct vpsd_sysinfo_row *rows = calloc(m->n ? m->n : 1, sizeof(*rows));
        size_t *from = calloc(m->n ? m->n : 1, sizeof(*from));
        _cleanup_free_ size_t *idx = s->n_rows ? calloc(s->n_rows, sizeof(*idx)) : NULL;
        if (!rows || !from || (s->n_rows && !idx)) {
                free(rows);
                free(from);
                return; /* the old rows stay: figures of a moment ago */
        }
        /* Only this loop writes s->rows: reading them without the lock is safe. */
        for (size_t i = 0; idx && i < s->n_rows; i++)
                idx[i] = i;
        if (idx)
                qsort_r(idx, s->n_rows, sizeof(*idx), by_owner, s->rows);
        size_t k = 0;
        for (size_t i = 0; i < m->n; i++) {
                const struct vps_inst *vi = m->v[i];
                if (vi->status == VPS_STOPPED)
                        continue;
                struct vpsd_sysinfo_row *r = &rows[k];
                vps_sysinfo_plan_of(vi, &r->p);
                r->owner = vi;
                r->src_fd = vi->dir_fd;
                /* A VPS that was running already keeps its copy of the directory's fd (moved
                 * below): a start or a stop costs one dup, not one per running VPS. */
                from[k] = old_row(s, idx, vi);
                r->dir_fd = from[k] == SIZE_MAX && vi->dir_fd >= 0
                                    ? fcntl(vi->dir_fd, F_DUPFD_CLOEXEC, 3)
                                    : -1;
                k++;
        }
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < k; i++)
                if (from[i] != SIZE_MAX) {
                        rows[i].dir_fd = s->rows[from[i]].dir_fd;
                        s->rows[from[i]].dir_fd = -1;
                }
        struct vpsd_sysinfo_row *old = s->rows;
        size_t n_old = s->n_rows;
        s->rows = rows;
        s->n_rows = k;
        s->gen = m->gen;
        s->have_gen = true;
        pthread_mutex_unlock(&s->lock);
        free(from);
        rows_free(old, n_old);
}

int vpsd_sysinfo_find(struct vpsd_sysinfo_shared *s, const char *cg, struct vps_sysinfo_plan *ret,
                      int *ret_dir_fd)
{
        int r = -ENOENT;
        *ret_dir_fd = -1;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_rows; i++)
                if (vps_sysinfo_plan_holds(&s->rows[i].p, cg)) {
                        *ret = s->rows[i].p;
                        if (s->rows[i].dir_fd >= 0)
                                *ret_dir_fd = fcntl(s->rows[i].dir_fd, F_DUPFD_CLOEXEC, 3);
                        r = 0;
                        break;
                }
        pthread_mutex_unlock(&s->lock);
        return r;
}
