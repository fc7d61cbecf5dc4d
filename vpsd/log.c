/* vpsd: its log. One line per message, written with one write(2) on stderr, which is
 * ROOT/vpsd.log under --daemon (0600). Two guards against a guest that makes vpsd log in a
 * loop: a message repeated more than `burst` times within an interval is counted instead of
 * written and summed up in one line when the interval ends, and the file is rotated by size
 * (vpsd.log.1 newest, up to vpsd.log.KEEP), so the log never fills the disk. */
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SLOTS      128 /* kinds of message tracked at once (the oldest makes room) */
#define SAMPLE_MAX 200

/* One kind of message in its current interval. */
struct slot {
        uint64_t key;
        int64_t start_ms;
        unsigned int n, suppressed;
        char sample[SAMPLE_MAX]; /* the last one suppressed, for the summary */
};

static struct {
        unsigned int burst;
        int64_t interval_ms;
        struct slot slot[SLOTS];
        char path[600]; /* rotated when not empty */
        uint64_t max_size;
        unsigned int keep;
} lg = {.burst = 20, .interval_ms = 10000};
/* vpsd_log is called by the loop and by the sysinfo thread (sysinfo_thread.c). */
static pthread_mutex_t lg_lock = PTHREAD_MUTEX_INITIALIZER;

/* A fork (jobs, backups, restores, removals: children that log) while the sysinfo thread
 * holds lg_lock would give the child a lock no one releases: its first vpsd_log would hang
 * for ever. The lock is taken around every fork(2) instead, so no line is half-written and
 * localtime_r's own lock (taken only under lg_lock here) is free too. */
static void fork_prepare(void)
{
        pthread_mutex_lock(&lg_lock);
}

static void fork_release(void)
{
        pthread_mutex_unlock(&lg_lock);
}

__attribute__((constructor)) static void log_atfork(void)
{
        (void)pthread_atfork(fork_prepare, fork_release, fork_release);
}

void vpsd_log_limit(unsigned int burst, unsigned int interval_s)
{
        lg.burst = burst ? burst : 20;
        lg.interval_ms = (interval_s ? interval_s : 10) * 1000LL;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
        return h;
}

/* Messages are similar when they come from the same format with the same strings (a VPS ID,
 * an error text): only their numbers (PIDs, counts) differ. So VPS 101's reboot loop is one
 * kind, and 200 VPSes stopping at a host shutdown are 200 kinds, none suppressed. The
 * arguments are walked by the format (vpsd_log is checked by the compiler's format
 * attribute, so their types match it). */
static uint64_t msg_key(const char *fmt, va_list ap)
{
        uint64_t h = fnv(14695981039346656037ULL, &fmt, sizeof(fmt));
        for (const char *p = fmt; (p = strchr(p, '%'));) {
                p++;
                if (*p == '%') {
                        p++;
                        continue;
                }
                p += strspn(p, "-+ #0'");
                if (*p == '*') {
                        (void)va_arg(ap, int);
                        p++;
                } else {
                        p += strspn(p, "0123456789");
                }
                long prec = -1;
                if (*p == '.') {
                        p++;
                        if (*p == '*') {
                                prec = va_arg(ap, int);
                                p++;
                        } else {
                                prec = strtol(p, NULL, 10);
                                p += strspn(p, "0123456789");
                        }
                }
                int longs = 0;
                char size = 0;
                for (; *p && strchr("hlLqjzt", *p); p++)
                        if (*p == 'l')
                                longs++;
                        else
                                size = *p;
                switch (*p) {
                case 's': {
                        const char *s = va_arg(ap, const char *);
                        size_t n = s ? strnlen(s, prec >= 0 ? (size_t)prec : (size_t)-1) : 0;
                        h = fnv(fnv(h, s ? s : "", n), "", 1);
                        break;
                }
                case 'p':
                        (void)va_arg(ap, void *);
                        break;
                case 'e':
                case 'E':
                case 'f':
                case 'F':
                case 'g':
                case 'G':
                case 'a':
                case 'A':
                        if (size == 'L')
                                (void)va_arg(ap, long double);
                        else
                                (void)va_arg(ap, double);
                        break;
                case '\0':
                        return h;
                default: /* integers and %c */
                        if (size == 'z' || size == 't')
                                (void)va_arg(ap, size_t);
                        else if (size == 'j')
                                (void)va_arg(ap, intmax_t);
                        else if (longs >= 2 || size == 'q' || size == 'L')
                                (void)va_arg(ap, long long);
                        else if (longs == 1)
                                (void)va_arg(ap, long);
                        else
                                (void)va_arg(ap, int);
                }
                p++;
        }
        return h;
}

static void rotate_if_full(void);

/* "DATE TIME vpsd[PID]: MSG\n" in one write: a line is never cut by another process's (a
 * template builder's, the console keeper's) writes to the same file. */
static void emit(const char *msg)
{
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        (void)strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        char *line = NULL;
        int n = asprintf(&line, "%s vpsd[%d]: %s\n", ts, (int)getpid(), msg);
        if (n < 0)
                return;
        for (ssize_t off = 0, w; off < n; off += w)
                if ((w = write(STDERR_FILENO, line + off, (size_t)(n - off))) <= 0)
                        break;
        free(line);
        rotate_if_full();
}

static void summarize(struct slot *s)
{
        if (s->suppressed) {
                char msg[SAMPLE_MAX + 96];
                (void)snprintf(msg, sizeof(msg),
                               "suppressed %u similar messages in %lld s, the last: %s",
                               s->suppressed, (long long)(lg.interval_ms / 1000), s->sample);
                s->suppressed = 0;
                emit(msg);
        }
}

static int log_tick_locked(void)
{
        int64_t now = now_ms(), next = -1;
        for (size_t i = 0; i < SLOTS; i++) {
                struct slot *s = &lg.slot[i];
                if (!s->n)
                        continue;
                int64_t end = s->start_ms + lg.interval_ms;
                if (now >= end) {
                        summarize(s);
                        s->n = 0;
                } else if (s->suppressed && (next < 0 || end - now < next)) {
                        next = end - now;
                }
        }
        return next < 0 ? -1 : next > 60000 ? 60000 : (int)next;
}

int vpsd_log_tick(void)
{
        pthread_mutex_lock(&lg_lock);
        int r = log_tick_locked();
        pthread_mutex_unlock(&lg_lock);
        return r;
}

/* The slot of key in its interval: the one it has, else a free one, else the oldest (its
 * count summed up first). */
static struct slot *slot_of(uint64_t key)
{
        struct slot *victim = NULL;
        for (size_t i = 0; i < SLOTS; i++) {
                struct slot *s = &lg.slot[i];
                if (s->n && s->key == key)
                        return s;
                if (!victim || (victim->n && (!s->n || s->start_ms < victim->start_ms)))
                        victim = s;
        }
        summarize(victim);
        *victim = (struct slot){.key = key, .start_ms = now_ms()};
        return victim;
}

void vpsd_log(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        uint64_t key = msg_key(fmt, ap);
        va_end(ap);
        char *msg = NULL;
        va_start(ap, fmt);
        int n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        pthread_mutex_lock(&lg_lock);
        (void)log_tick_locked();
        struct slot *s = slot_of(key);
        if (++s->n > lg.burst) {
                s->suppressed++;
                (void)snprintf(s->sample, sizeof(s->sample), "%s", msg);
        } else {
                emit(msg);
        }
        pthread_mutex_unlock(&lg_lock);
        free(msg);
}

void vpsd_log_rotate_at(const char *path, uint64_t max_size, unsigned int keep)
{
        /* Only the file stderr really is: not a terminal, not the journal's pipe. */
        struct stat a, b;
        if (fstat(STDERR_FILENO, &a) < 0 || stat(path, &b) < 0 || !S_ISREG(a.st_mode) ||
            a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
                lg.path[0] = '\0';
                return;
        }
        (void)fchmod(STDERR_FILENO, 0600);
        (void)snprintf(lg.path, sizeof(lg.path), "%s", path);
        lg.max_size = max_size ? max_size : 10ULL << 20;
        lg.keep = keep ? keep : 3;
}

/* vpsd.log.K-1 -> .K ... vpsd.log -> .1, a new vpsd.log on stdout and stderr. Renames keep
 * every line: what was written is in .1, the next line goes to the new file; a writer that
 * shares the old fd (a child) goes on writing into .1. If the new file cannot be made, vpsd
 * keeps writing into the old one. */
static void rotate_if_full(void)
{
        struct stat a, b;
        if (!lg.path[0] || fstat(STDERR_FILENO, &a) < 0 || (uint64_t)a.st_size < lg.max_size)
                return;
        /* Someone else moved the file away (logrotate): leave it to them. */
        if (stat(lg.path, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                return;
        char from[620], to[620];
        for (unsigned int k = lg.keep; k > 1; k--) {
                (void)snprintf(from, sizeof(from), "%s.%u", lg.path, k - 1);
                (void)snprintf(to, sizeof(to), "%s.%u", lg.path, k);
                (void)rename(from, to);
        }
        (void)snprintf(to, sizeof(to), "%s.1", lg.path);
        if (rename(lg.path, to) < 0)
                return;
        int fd = open(lg.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
                      0600);
        if (fd < 0)
                return;
        (void)fchmod(fd, 0600);
        (void)dup2(fd, STDOUT_FILENO);
        (void)dup2(fd, STDERR_FILENO);
        close(fd);
}
