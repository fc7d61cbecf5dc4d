/* vpsd: what the backup and restore streams share (stream.h): the child's setup and its last
 * frame when it fails. */
#include "stream.h"
#include "redact.h"

#include "storage/backup.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *vpsd_stream_what(const struct vpsd_stream *s)
{
        return s->kind == VPSD_STREAM_BACKUP ? "backup" : "restore";
}

void vpsd_stream_child_setup(void)
{
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void)signal(SIGPIPE, SIG_IGN);
        sigset_t all;
        sigemptyset(&all);
        (void)sigprocmask(SIG_SETMASK, &all, NULL);
}

static int child_ctl = -1;

void vpsd_stream_child_ctl(int ctl)
{
        child_ctl = ctl;
}

void vpsd_stream_last(int fd, char type, const char *text, size_t len)
{
        char ok;
        /* No answer (vpsd gone): the frame goes out all the same. */
        if (child_ctl >= 0 && write(child_ctl, "D", 1) == 1)
                while (read(child_ctl, &ok, 1) < 0 && errno == EINTR)
                        ;
        vps_error e;
        (void)vps_frame_write(fd, type, text, len, &e);
        /* Tests only: the child lingers after its last frame (a loaded host's slow exit), so
         * that a busy answer to the client's next request would show. */
        const char *linger = getenv("VPS_TEST_STREAM_LINGER_MS");
        if (linger)
                (void)usleep((useconds_t)strtoul(linger, NULL, 10) * 1000);
}

/* Set in a token's stream child: its errors lose host paths. */
static const struct vpsd *redact_for;

void vpsd_stream_child_redact(const struct vpsd *d)
{
        redact_for = d;
}

_Noreturn void vpsd_stream_fail(int fd, const vps_error *err)
{
        _cleanup_json_ json_t *j = json_pack("{s:s, s:i}", "error", err->msg, "errno", err->code);
        if (j && redact_for)
                j = vpsd_redact_error(redact_for, j);
        _cleanup_free_ char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (t)
                vpsd_stream_last(fd, 'E', t, strlen(t));
        _exit(1);
}

void vpsd_frame_send_nowait(int fd, char type, const json_t *body)
{
        _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        size_t len = text ? strlen(text) : 0;
        _cleanup_free_ char *frame = malloc(len + 5);
        if (!frame)
                return;
        frame[0] = type;
        for (int i = 0; i < 4; i++)
                frame[1 + i] = (char)((len >> (24 - 8 * i)) & 0xff);
        memcpy(frame + 5, text ? text : "", len);
        (void)send(fd, frame, len + 5, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* This child's progress feed to the loop's event stream (progress_feed.h), -1: none; and
 * when it last sent there (at most every 0.5 s, and the last). */
static int feed_fd = -1;
static int64_t feed_ms;
static bool feed_sent;

void vpsd_progress_feed_child(int fd)
{
        feed_fd = fd;
}

static void send_frame(struct vpsd_progress *p, bool last)
{
        if (p->total && p->done > p->total)
                p->total = p->done; /* never past the end (a restore's client announced less) */
        char buf[256];
        int n = snprintf(buf, sizeof(buf),
                         "{\"phase\":\"%s\",\"unit\":\"%s\",\"done\":%llu,\"total\":%llu,"
                         "\"files\":%llu,\"bytes\":%llu}",
                         p->phase, p->unit, (unsigned long long)p->done,
                         (unsigned long long)p->total, (unsigned long long)p->files,
                         (unsigned long long)p->bytes);
        vps_error e;
        if (p->fd >= 0)
                (void)vps_frame_write(p->fd, 'P', buf, (size_t)n, &e);
        int64_t now = now_ms();
        p->sent = true;
        p->sent_done = p->done;
        p->sent_ms = now;
        if (feed_fd >= 0 && (last || !feed_sent || now - feed_ms >= 500)) {
                /* Never waits: a loop that lags loses a step, not the child's time. */
                (void)send(feed_fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
                feed_sent = true;
                feed_ms = now;
        }
}

void vpsd_progress_send(struct vpsd_progress *p)
{
        send_frame(p, false);
}

void vpsd_progress_update(struct vpsd_progress *p)
{
        if (p->sent && p->done == p->sent_done)
                return;
        uint64_t step = p->total / 100;
        if (!p->sent || (p->total && p->done - p->sent_done >= (step ? step : 1)) ||
            now_ms() - p->sent_ms >= 200)
                send_frame(p, false);
}

void vpsd_progress_end(struct vpsd_progress *p)
{
        if (p->sent && p->sent_done == p->done && p->total == p->done && feed_fd < 0)
                return; /* the last one sent said so already */
        p->total = p->done;
        send_frame(p, true);
}
