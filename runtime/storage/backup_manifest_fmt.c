/* libvps: a backup's MANIFEST written (the format: backup_manifest.c). An entry the base
 * lists as it is (SAME or DELETED) is the base's line with its kind replaced; any other is
 * formatted. The text goes out in pieces, its length known first, so that an incremental of
 * a large tree never holds it whole (its tar entry's header needs the length). */
#include "storage/backup.h"
#include "storage/backup_int.h"
#include "vps/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE (64 * 1024)

struct text {
        char *p;
        size_t len, cap;
};

static int text_room(struct text *t, size_t n)
{
        return vps_grow(&t->p, &t->cap, t->len + n);
}

/* v in base 8 or 10, then c; room made by the caller. */
static void text_num(struct text *t, uint64_t v, bool neg, unsigned int base, char c)
{
        char d[24];
        size_t i = sizeof(d);
        do {
                d[--i] = (char)('0' + v % base);
                v /= base;
        } while (v);
        if (neg)
                d[--i] = '-';
        memcpy(t->p + t->len, d + i, sizeof(d) - i);
        t->len += sizeof(d) - i;
        t->p[t->len++] = c;
}

static void text_signed(struct text *t, int64_t v, char c)
{
        text_num(t, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0, 10, c);
}

static size_t num_len(uint64_t v, unsigned int base)
{
        size_t n = 1;
        while (v >= base) {
                v /= base;
                n++;
        }
        return n;
}

static size_t signed_len(int64_t v)
{
        return v < 0 ? 1 + num_len(0 - (uint64_t)v, 10) : num_len((uint64_t)v, 10);
}

/* The base's line serves, its kind written anew. */
static bool copied(const struct vps_mf_entry *e)
{
        return e->line && e->line_len > 1 && (e->kind == VPS_MF_SAME || e->kind == VPS_MF_DELETED);
}

/* An entry's line, its '\n' included. */
static size_t line_size(const struct vps_mf_entry *e)
{
        if (copied(e))
                return e->line_len + 1;
        size_t n = 2 + 2 + num_len(e->mode, 8) + num_len(e->uid, 10) + num_len(e->gid, 10) +
                   num_len(e->size, 10) + signed_len(e->mtime_ns) + num_len(e->ino, 10) +
                   signed_len(e->ctime_ns) + 7 + strlen(e->hash) + 1 + 1;
        for (const unsigned char *p = (const unsigned char *)e->path; *p; p++)
                n += vps_mf_plain_byte(*p) ? 1 : 3;
        return n;
}

/* Appends e's line to t (room made here). */
static int put_line(struct text *t, const struct vps_mf_entry *e)
{
        static const char hex[] = "0123456789ABCDEF";
        if (copied(e)) {
                if (text_room(t, e->line_len + 1) < 0)
                        return -ENOMEM;
                t->p[t->len] = e->kind;
                memcpy(t->p + t->len + 1, e->line + 1, e->line_len - 1);
                t->len += e->line_len;
                t->p[t->len++] = '\n';
                return 0;
        }
        size_t pl = strlen(e->path), hlen = strlen(e->hash);
        /* 2 letters, 7 numbers of at most 23 characters, the hash, 11 separators */
        if (text_room(t, 2 + 7 * 23 + hlen + 11 + 3 * pl + 1) < 0)
                return -ENOMEM;
        t->p[t->len++] = e->kind;
        t->p[t->len++] = '\t';
        t->p[t->len++] = e->type;
        t->p[t->len++] = '\t';
        text_num(t, e->mode, false, 8, '\t');
        text_num(t, e->uid, false, 10, '\t');
        text_num(t, e->gid, false, 10, '\t');
        text_num(t, e->size, false, 10, '\t');
        text_signed(t, e->mtime_ns, '\t');
        text_num(t, e->ino, false, 10, '\t');
        text_signed(t, e->ctime_ns, '\t');
        memcpy(t->p + t->len, e->hash, hlen);
        t->len += hlen;
        t->p[t->len++] = '\t';
        for (const unsigned char *p = (const unsigned char *)e->path; *p; p++)
                if (vps_mf_plain_byte(*p)) {
                        t->p[t->len++] = (char)*p;
                } else {
                        t->p[t->len++] = '%';
                        t->p[t->len++] = hex[*p >> 4];
                        t->p[t->len++] = hex[*p & 15];
                }
        t->p[t->len++] = '\n';
        return 0;
}

static int head_of(const struct vps_manifest *m, char head[32])
{
        return snprintf(head, 32, VPS_MF_HEADER, m->version ? m->version : VPS_BACKUP_FORMAT);
}

size_t vps_manifest_format_size(const struct vps_manifest *m)
{
        char head[32];
        size_t n = (size_t)head_of(m, head);
        for (size_t i = 0; i < m->n; i++)
                n += line_size(&m->e[i]);
        return n;
}

/* Lines into t from entry *at on, until t holds a piece (or all of them). */
static int fill(const struct vps_manifest *m, size_t *at, struct text *t)
{
        for (; *at < m->n && t->len < PIECE; (*at)++)
                if (put_line(t, &m->e[*at]) < 0)
                        return -ENOMEM;
        return 0;
}

int vps_manifest_format_to(const struct vps_manifest *m,
                           int (*put)(void *arg, const void *buf, size_t len), void *arg)
{
        char head[32];
        int hl = head_of(m, head);
        int r = put(arg, head, (size_t)hl);
        struct text t = {0};
        for (size_t at = 0; r == 0 && at < m->n;) {
                t.len = 0;
                if ((r = fill(m, &at, &t)) == 0)
                        r = put(arg, t.p, t.len);
        }
        free(t.p);
        return r;
}

int vps_manifest_format(const struct vps_manifest *m, char **ret, size_t *ret_len, vps_error *err)
{
        struct text t = {0};
        char head[32];
        int hl = head_of(m, head);
        if (text_room(&t, (size_t)hl) < 0)
                return vps_err(err, ENOMEM, "out of memory");
        memcpy(t.p, head, (size_t)hl);
        t.len = (size_t)hl;
        for (size_t i = 0; i < m->n; i++)
                if (put_line(&t, &m->e[i]) < 0) {
                        free(t.p);
                        return vps_err(err, ENOMEM, "out of memory");
                }
        *ret = t.p;
        *ret_len = t.len;
        return 0;
}
