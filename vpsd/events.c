/* vpsd: the event stream (GET /v1/events). Each subscriber's connection is a chunked response
 * whose content reader takes lines off the subscriber's queue; with nothing queued it suspends
 * the connection, and an event resumes it. The queue is bounded: when full, what is queued is
 * dropped for an "overflow" event and the stream ends. */
#include "events.h"

#include "auth.h"
#include "loop.h"
#include "throttle.h"
#include "vps/cleanup.h"
#include "vps/util.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vpsd_subscriber {
        struct vpsd *d;
        struct MHD_Connection *conn;
        struct vpsd_client who;
        char vps[VPS_ID_MAX + 1]; /* ?vps=ID, or "" for all */
        char **q;                 /* a ring of lines, each ending in '\n' */
        unsigned int head, n, cap;
        size_t off; /* bytes of q[head] already sent */
        bool suspended, ending;
        struct vpsd_subscriber *next;
};

static void resume(struct vpsd_subscriber *s)
{
        if (!s->suspended)
                return;
        s->suspended = false;
        MHD_resume_connection(s->conn);
        s->d->mhd_kick = true;
}

static void drop_queued(struct vpsd_subscriber *s, bool keep_partial)
{
        unsigned int keep = keep_partial && s->off > 0 ? 1 : 0;
        for (unsigned int i = keep; i < s->n; i++) {
                free(s->q[(s->head + i) % s->cap]);
                s->q[(s->head + i) % s->cap] = NULL;
        }
        s->n = keep;
        if (!keep)
                s->off = 0;
}

static bool push(struct vpsd_subscriber *s, char *line)
{
        if (s->n == s->cap) {
                free(line);
                return false;
        }
        s->q[(s->head + s->n) % s->cap] = line;
        s->n++;
        return true;
}

static char *line_of(json_t *o)
{
        char *text = json_dumps(o, JSON_COMPACT);
        if (!text)
                return NULL;
        size_t len = strlen(text);
        char *t = realloc(text, len + 2);
        if (!t) {
                free(text);
                return NULL;
        }
        t[len] = '\n';
        t[len + 1] = '\0';
        return t;
}

static json_t *event_new(const char *type, const char *vps)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char when[40];
        struct tm tm;
        (void)gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        (void)snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
        return json_pack("{s:s, s:s, s:s?}", "time", when, "type", type, "vps", vps);
}

/* The queue is full: the client is too slow. What it had queued goes (but a line half sent
 * is finished), an "overflow" event says so, and the stream ends after it. */
static void overflow(struct vpsd_subscriber *s)
{
        drop_queued(s, true);
        _cleanup_json_ json_t *o = event_new("overflow", s->vps[0] ? s->vps : NULL);
        if (o)
                json_object_set_new(o, "queue", json_integer(s->cap));
        char *line = o ? line_of(o) : NULL;
        if (line)
                (void)push(s, line);
        s->ending = true;
}

static bool sees(const struct vpsd_subscriber *s, const char *vps)
{
        if (s->vps[0] && (!vps || strcmp(s->vps, vps) != 0))
                return false;
        if (s->who.kind != VPSD_CLIENT_TOKEN)
                return true;
        return vps && (s->who.allow & VPSD_VERB_BIT(VPSD_VERB_STATUS)) &&
               vpsd_client_sees(&s->who, vps);
}

/* An event's line as a token's subscriber reads it, or NULL when it is the same: an "error"
 * is the host's words (host PIDs, paths, criu's own lines), so a token reads only its kind
 * (TOKEN_ERROR_KEY, set by vpsd_emit_result: the errno's text), or "failed". */
#define TOKEN_ERROR_KEY "\x01token_error"
static char *token_line_of(json_t *o)
{
        if (!json_object_get(o, "error"))
                return NULL;
        _cleanup_json_ json_t *t = json_copy(o);
        if (!t)
                return NULL;
        const char *kind = json_string_value(json_object_get(o, TOKEN_ERROR_KEY));
        json_object_set_new(t, "error", json_string(kind ? kind : "failed"));
        json_object_del(t, TOKEN_ERROR_KEY);
        return line_of(t);
}

void vpsd_emit(struct vpsd *d, const char *type, const char *vps, json_t *extra)
{
        _cleanup_json_ json_t *o = d->subscribers ? event_new(type, vps) : NULL;
        if (o && json_is_object(extra))
                (void)json_object_update_missing(o, extra);
        json_decref(extra);
        bool has_error = o && json_object_get(o, "error");
        _cleanup_free_ char *tline = has_error ? token_line_of(o) : NULL;
        if (o)
                json_object_del(o, TOKEN_ERROR_KEY);
        _cleanup_free_ char *line = o ? line_of(o) : NULL;
        if (!line)
                return;
        for (struct vpsd_subscriber *s = d->subscribers; s; s = s->next) {
                bool token = s->who.kind == VPSD_CLIENT_TOKEN;
                if (s->ending || !sees(s, vps) || (token && has_error && !tline))
                        continue;
                char *copy = strdup(token && tline ? tline : line);
                if (!copy || !push(s, copy))
                        overflow(s);
                resume(s);
        }
}

/* MHD asks for the next bytes of a stream. */
static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
        (void)pos;
        struct vpsd_subscriber *s = cls;
        size_t done = 0;
        while (s->n > 0 && done < max) {
                const char *line = s->q[s->head];
                size_t left = strlen(line + s->off), k = left < max - done ? left : max - done;
                memcpy(buf + done, line + s->off, k);
                done += k;
                s->off += k;
                if (k == left) {
                        free(s->q[s->head]);
                        s->q[s->head] = NULL;
                        s->head = (s->head + 1) % s->cap;
                        s->n--;
                        s->off = 0;
                }
        }
        if (done > 0)
                return (ssize_t)done;
        if (s->ending)
                return MHD_CONTENT_READER_END_OF_STREAM;
        /* Nothing to send: wait for an event (or the keep-alive). */
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        return 0;
}

static void subscriber_free(void *cls)
{
        struct vpsd_subscriber *s = cls;
        for (struct vpsd_subscriber **pp = &s->d->subscribers; *pp; pp = &(*pp)->next)
                if (*pp == s) {
                        *pp = s->next;
                        break;
                }
        drop_queued(s, false);
        free(s->q);
        free(s);
}

/* Every idle stream gets an empty line now and then: a write to a client gone fails, and MHD
 * closes its connection (a suspended one would never notice). */
static void on_keepalive(struct vpsd_source *w, uint32_t revents, void *userdata)
{
        (void)w;
        (void)revents;
        struct vpsd *d = userdata;
        for (struct vpsd_subscriber *s = d->subscribers; s; s = s->next) {
                if (s->n == 0 && !s->ending) {
                        char *nl = strdup("\n");
                        if (nl)
                                (void)push(s, nl);
                }
                resume(s);
        }
        vps_error err;
        (void)vpsd_timer_set(&d->w_events, VPSD_EVENTS_KEEPALIVE_S * 1000, false, &err);
}

struct MHD_Response *vpsd_events_response(struct vpsd *d, struct MHD_Connection *conn,
                                          const struct vpsd_client *c, unsigned int *ret_status,
                                          vps_error *err)
{
        const char *vps = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "vps");
        *ret_status = 400;
        if (vps && vps_id_check(vps, err) < 0)
                return NULL;
        /* Another's VPS is one that does not exist (authz.c). */
        if (vps && c->kind == VPSD_CLIENT_TOKEN && !vpsd_client_sees(c, vps)) {
                *ret_status = 404;
                vps_err(err, ENOENT, "VPS %s does not exist", vps);
                return NULL;
        }
        unsigned int all = 0, mine = 0;
        for (const struct vpsd_subscriber *o = d->subscribers; o; o = o->next) {
                all++;
                mine += o->who.kind == c->kind && !strcmp(o->who.name, c->name);
        }
        if (all >= VPSD_EVENTS_MAX ||
            (c->kind != VPSD_CLIENT_LOCAL && mine >= VPSD_EVENTS_PER_CLIENT)) {
                *ret_status = 429;
                vps_err(err, EBUSY, "too many event streams open (%u of this client, %u in all)",
                        mine, all);
                return NULL;
        }
        *ret_status = 500;
        if (!d->events_timer) {
                if (vpsd_timer_new(&d->ev, &d->w_events, on_keepalive, d, err) < 0 ||
                    vpsd_timer_set(&d->w_events, VPSD_EVENTS_KEEPALIVE_S * 1000, false, err) < 0)
                        return NULL;
                d->events_timer = true;
        }
        struct vpsd_subscriber *s = calloc(1, sizeof(*s));
        unsigned int cap = d->events_queue ? d->events_queue : VPSD_EVENTS_QUEUE;
        if (!s || !(s->q = calloc(cap, sizeof(*s->q)))) {
                free(s);
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        *s = (struct vpsd_subscriber){.d = d, .conn = conn, .who = *c, .q = s->q, .cap = cap};
        (void)snprintf(s->vps, sizeof(s->vps), "%s", vps ? vps : "");
        /* The first line says the stream is up: events after it are not missed. */
        _cleanup_json_ json_t *hello = event_new("subscribed", vps);
        char *line = hello ? line_of(hello) : NULL;
        if (line)
                (void)push(s, line);
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader,
                                                                   s, subscriber_free);
        if (!r) {
                subscriber_free(s);
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        s->next = d->subscribers;
        d->subscribers = s;
        (void)MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
        (void)MHD_add_response_header(r, "Cache-Control", "no-cache");
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        *ret_status = 200;
        return r;
}

bool vpsd_events_end_all(struct vpsd *d)
{
        bool any = d->subscribers != NULL;
        for (struct vpsd_subscriber *s = d->subscribers; s; s = s->next) {
                s->ending = true;
                resume(s);
        }
        return any;
}

unsigned int vpsd_events_clients(const struct vpsd *d)
{
        unsigned int n = 0;
        for (const struct vpsd_subscriber *s = d->subscribers; s; s = s->next)
                n++;
        return n;
}

void vpsd_emit_result(struct vpsd *d, const char *type, const char *vps, const vps_error *err,
                      json_t *extra)
{
        json_t *o = json_is_object(extra) ? extra : json_object();
        if (o != extra)
                json_decref(extra);
        if (o) {
                json_object_set_new(o, "result", json_string(err ? "failed" : "done"));
                if (err) {
                        json_object_set_new(o, "error", json_string(err->msg));
                        json_object_set_new(o, TOKEN_ERROR_KEY,
                                            json_string(err->code > 0 && strerrordesc_np(err->code)
                                                                ? strerrordesc_np(err->code)
                                                                : "failed"));
                }
        }
        vpsd_emit(d, type, vps, o);
}
