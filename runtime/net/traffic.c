/* libvps: cumulative traffic of each VPS across its runs and vpsd's restarts (net.h).
 * The counters of a run are nftables objects that vanish with the VPS's network; before they
 * do, they are folded into ROOT/vps/ID/traffic.json. Readers add the live counters to it.
 * Every read-modify-write of the file holds an flock on the VPS's directory: a job of vpsd
 * (a fork removing the last address) may fold while the loop reads. */
#include "net/net.h"
#include "vps/cleanup.h"
#include "inst/inst.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

const char *const vps_traffic_keys[VPS_TR_COUNT] = {"rx_bytes", "rx_packets", "tx_bytes",
                                                    "tx_packets"};

static int read_four(json_t *o, struct vps_traffic *ret, vps_error *err)
{
        for (int k = 0; k < VPS_TR_COUNT; k++) {
                json_t *v = json_object_get(o, vps_traffic_keys[k]);
                if (!v) {
                        ret->v[k] = 0;
                        continue;
                }
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        return vps_err(err, EINVAL, "traffic: '%s' must be a number of at least 0",
                                       vps_traffic_keys[k]);
                ret->v[k] = (uint64_t)json_integer_value(v);
        }
        return 0;
}

int vps_traffic_parse(const char *text, struct vps_traffic_file *ret, vps_error *err)
{
        *ret = (struct vps_traffic_file){0};
        json_error_t je;
        _cleanup_json_ json_t *o = json_loads(text, 0, &je);
        if (!json_is_object(o))
                return vps_err(err, EINVAL, "traffic: not a JSON object");
        json_t *seen = json_object_get(o, "seen"), *saved = json_object_get(o, "saved");
        if ((seen && !json_is_object(seen)) || (saved && !json_is_integer(saved)))
                return vps_err(err, EINVAL, "traffic: bad 'seen' or 'saved'");
        int r = read_four(o, &ret->base, err);
        if (r == 0 && seen)
                r = read_four(seen, &ret->seen, err);
        ret->saved = saved ? (int64_t)json_integer_value(saved) : 0;
        return r;
}

static json_t *four(const struct vps_traffic *t)
{
        json_t *o = json_object();
        for (int k = 0; o && k < VPS_TR_COUNT; k++)
                json_object_set_new(o, vps_traffic_keys[k], json_integer((json_int_t)t->v[k]));
        return o;
}

char *vps_traffic_format(const struct vps_traffic_file *f)
{
        _cleanup_json_ json_t *o = four(&f->base);
        if (!o || json_object_set_new(o, "seen", four(&f->seen)) < 0 ||
            json_object_set_new(o, "saved", json_integer((json_int_t)f->saved)) < 0)
                return NULL;
        return json_dumps(o, JSON_SORT_KEYS);
}

bool vps_traffic_merge(struct vps_traffic_file *f, const struct vps_traffic *live,
                       struct vps_traffic *ret_total)
{
        bool changed = false;
        /* rx and tx are two counters: each direction on its own. */
        for (int d = 0; live && d < VPS_TR_COUNT; d += 2) {
                if (live->v[d] >= f->seen.v[d] && live->v[d + 1] >= f->seen.v[d + 1])
                        continue;
                for (int k = d; k < d + 2; k++) {
                        f->base.v[k] += f->seen.v[k];
                        f->seen.v[k] = 0;
                }
                changed = true;
        }
        for (int k = 0; k < VPS_TR_COUNT; k++)
                ret_total->v[k] = f->base.v[k] + (live ? live->v[k] : f->seen.v[k]);
        return changed;
}

/* The VPS's directory, locked (closing the fd unlocks). */
static int lock_dir(struct vps_manager *m, const char *id, vps_error *err)
{
        int fd = openat(m->vps_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening the directory of VPS %s", id);
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR) {
                        int e = errno;
                        close(fd);
                        return vps_err_sys(err, e, "locking the directory of VPS %s", id);
                }
        return fd;
}

/* A missing file is all zeros; a damaged one too (the live counters still count). */
static void load(int dir_fd, struct vps_traffic_file *ret)
{
        _cleanup_free_ char *text = NULL;
        vps_error e;
        *ret = (struct vps_traffic_file){0};
        if (vps_read_file_at(dir_fd, VPS_TRAFFIC_FILE, &text, NULL, &e) == 0)
                (void)vps_traffic_parse(text, ret, &e);
}

/* durable: flushed to disk (a fold, a reset); otherwise only renamed into place (a reader's
 * snapshot of live counters, which a host crash may cost a minute of anyway). */
static int save(int dir_fd, const struct vps_traffic_file *f, bool durable, vps_error *err)
{
        _cleanup_free_ char *text = vps_traffic_format(f);
        if (!text)
                return vps_err(err, ENOMEM, "traffic: out of memory");
        return durable ? vps_write_file_atomic(dir_fd, VPS_TRAFFIC_FILE, text, strlen(text), 0600,
                                               err)
                       : vps_write_file_volatile(dir_fd, VPS_TRAFFIC_FILE, text, strlen(text), 0600,
                                                 err);
}

struct collect {
        struct vps_traffic t;
        unsigned int found; /* bit 0: rx, bit 1: tx */
};

static void on_counter(const char *name, uint64_t bytes, uint64_t packets, void *arg)
{
        struct collect *c = arg;
        int d = name[0] == 'r' ? 0 : 2;
        c->t.v[d] = bytes;
        c->t.v[d + 1] = packets;
        c->found |= d ? 2u : 1u;
}

/* The VPS's two counters, read (reset: and zeroed): false when neither exists. */
static bool live_counters(const struct vps_manager *m, const struct vps_config *cfg, bool reset,
                          struct vps_traffic *ret)
{
        char table[64], name[VPS_ID_MAX + 4];
        bool routed = cfg->netmode == VPS_NET_ROUTED;
        (void)snprintf(table, sizeof(table), "%s_%s", routed ? "vpsr" : "vpsd", m->net.bridge);
        int family = routed ? NFPROTO_INET : NFPROTO_BRIDGE;
        struct collect c = {0};
        vps_error e;
        for (int d = 0; d < 2; d++) {
                (void)snprintf(name, sizeof(name), "%s_%s", d ? "tx" : "rx", cfg->id);
                if (reset)
                        (void)ns_nft_counter_reset(family, table, name, on_counter, &c, &e);
                else
                        (void)ns_nft_counters(family, table, name, on_counter, &c, &e);
        }
        *ret = c.t;
        return c.found != 0;
}

/* A VPS's file as this vpsd last read or wrote it, kept while neither its gen nor the
 * manager's traffic_gen moved: a fold and a reset bump the latter, a restore or a change set
 * run by a child of vpsd touches the VPS. A listing of 1000 running VPSes then opens none. */
struct kept {
        struct vps_traffic_file f;
        uint64_t gen, traffic_gen;
};

static void remember(struct vps_manager *m, struct vps_inst *vi, const struct vps_traffic_file *f)
{
        struct kept *k = vi->traffic_file ? vi->traffic_file : malloc(sizeof(*k));
        if (!k)
                return;
        *k = (struct kept){.f = *f, .gen = vi->gen, .traffic_gen = m->traffic_gen};
        vi->traffic_file = k;
}

static void load_kept(struct vps_manager *m, struct vps_inst *vi, struct vps_traffic_file *ret)
{
        const struct kept *k = vi->traffic_file;
        if (k && k->gen == vi->gen && k->traffic_gen == m->traffic_gen) {
                *ret = k->f;
                return;
        }
        load(vi->dir_fd, ret); /* atomic renames: no lock needed to read */
        remember(m, vi, ret);
}

int vps_traffic_fold(struct vps_manager *m, const struct vps_config *cfg, vps_error *err)
{
        _cleanup_close_ int dfd = lock_dir(m, cfg->id, err);
        if (dfd < 0)
                return dfd;
        struct vps_traffic_file f;
        load(dfd, &f);
        struct vps_traffic live, total;
        bool have = live_counters(m, cfg, true, &live);
        bool changed = vps_traffic_merge(&f, have ? &live : NULL, &total);
        changed |= memcmp(&total, &f.base, sizeof(total)) != 0;
        f.base = total;
        memset(&f.seen, 0, sizeof(f.seen));
        if (!changed)
                return 0; /* the start of a VPS whose last run was folded: no write */
        f.saved = time(NULL);
        m->traffic_gen++;
        return save(dfd, &f, true, err);
}

static void from_json(json_t *o, struct vps_traffic *ret)
{
        for (int k = 0; k < VPS_TR_COUNT; k++) {
                json_t *v = json_object_get(o, vps_traffic_keys[k]);
                ret->v[k] = json_is_integer(v) && json_integer_value(v) > 0
                                    ? (uint64_t)json_integer_value(v)
                                    : 0;
        }
}

int vps_traffic_total(struct vps_manager *m, struct vps_inst *vi, json_t *live_json,
                      bool force_save, struct vps_traffic *ret, vps_error *err)
{
        struct vps_traffic_file f;
        struct vps_traffic live;
        bool have = json_is_object(live_json);
        if (have)
                from_json(live_json, &live);
        load_kept(m, vi, &f);
        bool changed = vps_traffic_merge(&f, have ? &live : NULL, ret);
        int64_t now = time(NULL);
        bool due = have && memcmp(&live, &f.seen, sizeof(live)) != 0 &&
                   (force_save || now - f.saved >= VPS_TRAFFIC_SAVE_EVERY || now < f.saved);
        if (!changed && !due)
                return 0;
        /* Saving: again under the lock, with the counters read again, as a fold may have
         * happened since (the base grown, the counters zeroed). */
        _cleanup_close_ int dfd = lock_dir(m, vi->cfg.id, err);
        if (dfd < 0)
                return dfd;
        load(dfd, &f);
        have = live_counters(m, &vi->cfg, false, &live);
        (void)vps_traffic_merge(&f, have ? &live : NULL, ret);
        if (have)
                f.seen = live;
        f.saved = now;
        int r = save(dfd, &f, false, err);
        if (r < 0)
                m->traffic_gen++; /* what the file holds now is not known: read it again */
        else
                remember(m, vi, &f);
        return r;
}

int vps_traffic_reset(struct vps_manager *m, const struct vps_inst *vi, vps_error *err)
{
        _cleanup_close_ int dfd = lock_dir(m, vi->cfg.id, err);
        if (dfd < 0)
                return dfd;
        struct vps_traffic ignored;
        (void)live_counters(m, &vi->cfg, true, &ignored);
        struct vps_traffic_file f = {.saved = time(NULL)};
        m->traffic_gen++;
        int r = save(dfd, &f, true, err);
        return r < 0 ? vps_err_wrap(err, "resetting the counters of VPS %s", vi->cfg.id) : 0;
}

void vps_traffic_to_json(const struct vps_traffic *t, json_t *obj)
{
        for (int k = 0; k < VPS_TR_COUNT; k++)
                json_object_set_new(obj, vps_traffic_keys[k], json_integer((json_int_t)t->v[k]));
}

void vps_traffic_save_all(struct vps_manager *m)
{
        _cleanup_json_ json_t *counters = vps_net_counters(m, NULL);
        for (size_t i = 0; counters && i < m->n; i++) {
                struct vps_traffic t;
                vps_error e;
                json_t *live = json_object_get(counters, m->v[i]->cfg.id);
                if (live)
                        (void)vps_traffic_total(m, m->v[i], live, true, &t, &e);
        }
}
