/* vpsd: GET /v1/vps as text (list_view.h). Each VPS's object is dumped on its own and a
 * stopped VPS's text kept until something it shows changes, so a list of thousands of stopped
 * VPSes is a copy of bytes: no tree of every VPS, no file read per stopped VPS. */
#include "list_view.h"

#include "api.h"
#include "auth.h"
#include "token_view.h"
#include "vpsd.h"
#include "vps/cleanup.h"
#include "core/core.h"
#include "net/net.h"
#include "storage/storage.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void vpsd_add_traffic(struct vpsd *d, struct vps_inst *vi, json_t *obj, json_t *counters)
{
        struct vps_traffic t;
        vps_error e;
        if (!vi || !obj)
                return;
        /* A failed save of a snapshot still leaves the total computed. */
        (void)vps_traffic_total(&d->m, vi, json_object_get(counters, vi->cfg.id), false, &t, &e);
        vps_traffic_to_json(&t, obj);
}

/* What a stopped VPS's entry shows beyond its config's bytes, mixed into one number with
 * them: a different number, a new text. Its traffic totals change only with a run, a reset
 * or a restore, each of which touches the VPS (gen). */
static uint64_t view_key(const struct vps_manager *m, const struct vps_inst *vi)
{
        /* Four lanes, so the multiplications overlap (about 300 words a config). */
        uint64_t l[4] = {0xcbf29ce484222325ULL, 1, 2, 3}, w[4];
        const unsigned char *p = (const unsigned char *)&vi->cfg;
        size_t i;
        for (i = 0; i + sizeof(w) <= sizeof(vi->cfg); i += sizeof(w)) {
                memcpy(w, p + i, sizeof(w));
                for (int k = 0; k < 4; k++)
                        l[k] = (l[k] ^ w[k]) * 0x9e3779b97f4a7c15ULL;
        }
        /* Each lane's high bits folded down before the next multiplication carries them up:
         * a change anywhere in the config changes h. */
        uint64_t h = 0;
        for (int k = 0; k < 4; k++) {
                h = (h ^ l[k] ^ (l[k] >> 32)) * 0x9e3779b97f4a7c15ULL;
                h ^= h >> 29;
        }
        for (; i < sizeof(vi->cfg); i++)
                h = (h ^ p[i]) * 0x100000001b3ULL;
        uint64_t more[] = {vi->gen, (uint64_t)vi->restart_at, (uint64_t)vi->backoff.restarts,
                           (uint64_t)(vi->console_fd >= 0), vps_disk_usage_key(m, &vi->cfg)};
        for (i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
                h = (h ^ more[i]) * 0x100000001b3ULL;
                h ^= h >> 29;
        }
        return h | 1; /* never 0, the key of no text */
}

/* The entry as an element of the array: indented one level further when pretty (jansson's
 * strings hold no raw newline, so each newline starts a line of the object). */
static char *dump_entry(json_t *o, bool pretty)
{
        _cleanup_free_ char *text = json_dumps(o, pretty ? JSON_INDENT(2) : JSON_COMPACT);
        if (!text || !pretty)
                return TAKE_PTR(text);
        size_t n = 0, lines = 0;
        for (; text[n]; n++)
                lines += text[n] == '\n';
        char *out = malloc(n + 2 * lines + 1), *q = out;
        if (!out)
                return NULL;
        for (const char *s = text; *s; s++) {
                *q++ = *s;
                if (*s == '\n') {
                        *q++ = ' ';
                        *q++ = ' ';
                }
        }
        *q = '\0';
        return out;
}

/* The entry's text: the kept one of a stopped VPS whose key holds, else made (and kept when
 * stopped). *ret_owned is what the caller frees (NULL for a kept text). */
static const char *entry(struct vpsd *d, struct vps_inst *vi, json_t *counters, bool pretty,
                         char **ret_owned)
{
        *ret_owned = NULL;
        bool keep = vi->status == VPS_STOPPED;
        uint64_t key = keep ? view_key(&d->m, vi) : 0;
        if (keep && vi->view_key == key && vi->view_text[pretty])
                return vi->view_text[pretty];
        _cleanup_json_ json_t *o = vps_inst_to_json(&d->m, vi);
        vpsd_add_traffic(d, vi, o, counters);
        char *text = o ? dump_entry(o, pretty) : NULL;
        if (!text || !keep)
                return *ret_owned = text;
        if (vi->view_key != key) {
                free(vi->view_text[0]);
                free(vi->view_text[1]);
                vi->view_text[0] = vi->view_text[1] = NULL;
                vi->view_key = key;
        }
        free(vi->view_text[pretty]);
        return vi->view_text[pretty] = text;
}

struct buf {
        char *p;
        size_t len, cap;
};

static bool put(struct buf *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 1 << 16;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p)
                        return false;
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
        return true;
}

static int by_id(const void *a, const void *b)
{
        return strverscmp((*(struct vps_inst *const *)a)->cfg.id,
                          (*(struct vps_inst *const *)b)->cfg.id);
}

/* The VPSes sorted by ID, sorted again only when one came or went. */
static int order(struct vpsd *d, vps_error *err)
{
        struct vps_manager *m = &d->m;
        if (d->order && d->order_gen == m->members_gen)
                return 0;
        struct vps_inst **v = realloc(d->order, (m->n ? m->n : 1) * sizeof(*v));
        if (!v)
                return vps_err(err, ENOMEM, "out of memory");
        if (m->n)
                memcpy(v, m->v, m->n * sizeof(*v));
        qsort(v, m->n, sizeof(*v), by_id);
        d->order = v;
        d->n_order = m->n;
        d->order_gen = m->members_gen;
        return 0;
}

/* A token's entry: the VPS as a token sees it (vpsd_token_vps_view), made each time (a token
 * lists its own few). */
static const char *token_entry(struct vpsd *d, struct vps_inst *vi, json_t *counters, bool pretty,
                               char **ret_owned)
{
        _cleanup_json_ json_t *o = vps_inst_to_json(&d->m, vi);
        vpsd_add_traffic(d, vi, o, counters);
        vpsd_token_vps_view(o);
        return *ret_owned = o ? dump_entry(o, pretty) : NULL;
}

int vpsd_list_text(struct vpsd *d, const struct vpsd_client *c, bool up_only, bool pretty,
                   char **ret_text, size_t *ret_len, vps_error *err)
{
        struct vps_manager *m = &d->m;
        _cleanup_free_ struct vps_inst **v = calloc(m->n ? m->n : 1, sizeof(*v));
        if (!v || order(d, err) < 0)
                return v ? -err->code : vps_err(err, ENOMEM, "out of memory");
        size_t n = 0;
        bool token = c && c->kind == VPSD_CLIENT_TOKEN;
        for (size_t i = 0; i < d->n_order; i++) {
                struct vps_inst *vi = d->order[i];
                if (up_only && vi->status == VPS_STOPPED && !vi->restart_at)
                        continue;
                if (token && !vpsd_client_sees(c, vi->cfg.id))
                        continue; /* a token lists its VPSes only */
                v[n++] = vi;
        }
        vps_manager_halt_probe(v, n);
        _cleanup_json_ json_t *counters = vps_net_counters(m, NULL);
        struct buf b = {0};
        bool ok = put(&b, n ? (pretty ? "[\n  " : "[") : "[]", n ? (pretty ? 4 : 1) : 2);
        for (size_t i = 0; ok && i < n; i++) {
                _cleanup_free_ char *owned = NULL;
                const char *t = token ? token_entry(d, v[i], counters, pretty, &owned)
                                      : entry(d, v[i], counters, pretty, &owned);
                ok = t && (i == 0 || put(&b, pretty ? ",\n  " : ",", pretty ? 4 : 1)) &&
                     put(&b, t, strlen(t));
        }
        ok = ok && (!n || put(&b, pretty ? "\n]" : "]", pretty ? 2 : 1)) && put(&b, "\n", 1);
        if (!ok) {
                free(b.p);
                return vps_err(err, ENOMEM, "cannot format the list: out of memory");
        }
        *ret_text = b.p;
        *ret_len = b.len;
        return 0;
}
