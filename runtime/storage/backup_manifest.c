/* libvps: a backup's MANIFEST, one line per path:
 *
 *   KIND TYPE MODE UID GID SIZE MTIME_NS INO CTIME_NS HASH PATH
 *
 * tab separated, MODE octal, PATH with bytes below 0x21, above 0x7e and '%' as %XX (names
 * are any bytes but '/' and NUL: not UTF-8, not JSON). The first line is the format. Here:
 * parsing and lookups; the text written in backup_manifest_fmt.c. */
#include "storage/backup.h"
#include "storage/backup_int.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void vps_sha256_finish_hex(struct sha256_ctx *h, char out[65])
{
        static const char hex[] = "0123456789abcdef";
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_digest(h, sizeof(d), d);
        for (size_t i = 0; i < sizeof(d); i++) {
                out[2 * i] = hex[d[i] >> 4];
                out[2 * i + 1] = hex[d[i] & 15];
        }
        out[64] = '\0';
}

void vps_sha256_hex(const void *data, size_t len, char out[65])
{
        struct sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, len, data);
        vps_sha256_finish_hex(&c, out);
}

char vps_mf_type_of(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFREG:
                return 'f';
        case S_IFDIR:
                return 'd';
        case S_IFLNK:
                return 'l';
        case S_IFIFO:
                return 'p';
        case S_IFCHR:
                return 'c';
        case S_IFBLK:
                return 'b';
        default:
                return 's';
        }
}

static bool in_arena(const struct vps_manifest *m, const char *p)
{
        uintptr_t a = (uintptr_t)m->arena, x = (uintptr_t)p;
        return m->arena && x >= a && x < a + m->arena_len;
}

void vps_manifest_free(struct vps_manifest *m)
{
        for (size_t i = 0; i < m->n; i++)
                if (!in_arena(m, m->e[i].path) && !(m->lender && in_arena(m->lender, m->e[i].path)))
                        free(m->e[i].path);
        free(m->e);
        free(m->idx);
        if (m->own_arena)
                free(m->arena);
        *m = (struct vps_manifest){0};
}

/* Room for n entries; prefault: they will all be written (not a guess by doubling). */
static int grow(struct vps_manifest *m, size_t n, bool prefault, vps_error *err)
{
        if (n <= m->cap)
                return 0;
        struct vps_mf_entry *e = reallocarray(m->e, n, sizeof(*e));
        if (!e)
                return vps_err(err, ENOMEM, "out of memory");
        if (prefault)
                vps_prefault(e + m->cap, (n - m->cap) * sizeof(*e));
        m->e = e;
        m->cap = n;
        return 0;
}

int vps_manifest_reserve(struct vps_manifest *m, size_t n, vps_error *err)
{
        return grow(m, n, true, err);
}

/* Appends *e with path (the manifest's from then on). */
static int push(struct vps_manifest *m, const struct vps_mf_entry *e, char *path, vps_error *err)
{
        int r = m->n < m->cap ? 0 : grow(m, m->cap ? m->cap * 2 : 256, false, err);
        if (r < 0)
                return r;
        m->e[m->n] = *e;
        m->e[m->n++].path = path;
        return 0;
}

int vps_manifest_add(struct vps_manifest *m, const struct vps_mf_entry *e, vps_error *err)
{
        char *path = strdup(e->path);
        if (!path)
                return vps_err(err, ENOMEM, "out of memory");
        int r = push(m, e, path, err);
        if (r < 0)
                free(path);
        return r;
}

int vps_manifest_add_lent(struct vps_manifest *m, const struct vps_mf_entry *e, vps_error *err)
{
        if (!m->lender || !in_arena(m->lender, e->path))
                return vps_manifest_add(m, e, err);
        return push(m, e, e->path, err);
}

/* 0-15, or 0x100 (too large to combine into a byte) for anything else. */
static unsigned int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return (unsigned int)(c - '0');
        if (c >= 'A' && c <= 'F')
                return (unsigned int)(c - 'A' + 10);
        if (c >= 'a' && c <= 'f')
                return (unsigned int)(c - 'a' + 10);
        return 0x100;
}

/* s[0..len) unescaped in place and ended with a NUL (at s[len] at the latest). */
static int unescape(char *s, size_t len)
{
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned int v;
                if (s[i] != '%') {
                        if (!vps_mf_plain_byte((unsigned char)s[i]))
                                return -EINVAL;
                        s[k++] = s[i];
                } else if (i + 2 < len &&
                           (v = (unsigned int)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]))) < 256 &&
                           v) {
                        s[k++] = (char)v;
                        i += 2;
                } else {
                        return -EINVAL;
                }
        }
        s[k] = '\0';
        return 0;
}

/* The n digits at s of base (8 or 10) alone, or after a '-' where signed: no sign, space or
 * overflow that strtoull would let by. A signed value fits an int64_t. */
static bool number(const char *s, size_t n, unsigned int base, bool sign, uint64_t *ret)
{
        bool neg = sign && n > 0 && *s == '-';
        s += neg;
        n -= neg;
        if (n == 0)
                return false;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned int d = (unsigned int)(unsigned char)s[i] - '0';
                /* No division per digit: a parse of 10,000 lines spent most of its time in
                 * them. */
                if (d >= base || __builtin_mul_overflow(v, base, &v) ||
                    __builtin_add_overflow(v, d, &v))
                        return false;
        }
        if (sign && v > (uint64_t)INT64_MAX + neg)
                return false;
        *ret = neg ? 0 - v : v;
        return true;
}

static bool valid_hash(const char *h, size_t n)
{
        if (n == 1 && h[0] == '-')
                return true;
        if (n != 64)
                return false;
        /* Without a branch per byte: one on digit or letter mispredicted every third byte of
         * a random hash, half of a parse's time. */
        static const uint8_t hex[256] = {
                ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
                ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
                ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1};
        unsigned int ok = 1;
        for (size_t i = 0; i < n; i++)
                ok &= hex[(unsigned char)h[i]];
        return ok;
}

/* One line (len bytes, the byte after it writable: its '\n', made the path's NUL), parsed
 * where it is: only the path is written to, unescaped in place when it holds a '%' (the line
 * is then not kept: a SAME entry of it is formatted anew). */
static int parse_line(char *line, size_t len, struct vps_mf_entry *e, vps_error *err, size_t lineno)
{
        const char *f[10];
        size_t fl[10], nf = 0;
        char *p = line, *end = line + len;
        /* Fields of a few bytes: a loop, not a memchr call for each. */
        for (char *q = p; q < end && nf < 10; q++)
                if (*q == '\t') {
                        f[nf] = p;
                        fl[nf++] = (size_t)(q - p);
                        p = q + 1;
                }
        if (nf != 10)
                return vps_err(err, EBADMSG, "MANIFEST line %zu: not 11 fields", lineno);
        uint64_t v[7];
        for (int i = 0; i < 7; i++)
                if (!number(f[2 + i], fl[2 + i], i == 0 ? 8 : 10, i == 4 || i == 6, &v[i]))
                        return vps_err(err, EBADMSG, "MANIFEST line %zu: bad number", lineno);
        if (fl[0] != 1 || !memchr("+=-", f[0][0], 3) || fl[1] != 1 ||
            !memchr("fdlpcbs", f[1][0], 7) || v[0] > 07777 || v[1] > UINT32_MAX ||
            v[2] > UINT32_MAX || !valid_hash(f[9], fl[9]))
                return vps_err(err, EBADMSG, "MANIFEST line %zu: bad field", lineno);
        *e = (struct vps_mf_entry){.kind = f[0][0],
                                   .type = f[1][0],
                                   .mode = (uint32_t)v[0],
                                   .uid = (uint32_t)v[1],
                                   .gid = (uint32_t)v[2],
                                   .size = v[3],
                                   .mtime_ns = (int64_t)v[4],
                                   .ino = v[5],
                                   .ctime_ns = (int64_t)v[6],
                                   .line = line,
                                   .line_len = len};
        memcpy(e->hash, f[9], fl[9]); /* checked: 64 bytes or "-" */
        e->hash[fl[9]] = '\0';
        size_t pl = (size_t)(end - p);
        bool escaped = memchr(p, '%', pl) != NULL;
        if (unescape(p, pl) < 0 || !p[0])
                return vps_err(err, EBADMSG, "MANIFEST line %zu: bad path", lineno);
        if (escaped)
                e->line = NULL;
        e->path = p;
        return 0;
}

int vps_manifest_parse_in_place(char *text, size_t len, struct vps_manifest *ret, vps_error *err)
{
        *ret = (struct vps_manifest){0};
        char head[32];
        int version = 0;
        for (int v = 1; v <= VPS_BACKUP_FORMAT && !version; v++) {
                (void)snprintf(head, sizeof(head), VPS_MF_HEADER, v);
                if (len >= strlen(head) && !memcmp(text, head, strlen(head)))
                        version = v;
        }
        if (!version)
                return vps_err(err, EBADMSG, "MANIFEST: not a vpsbackup manifest");
        size_t hl = strlen(head);
        ret->arena = text;
        ret->arena_len = len;
        ret->version = version;
        size_t lines = 0;
        for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + len - p))); p++)
                lines++;
        int r = vps_manifest_reserve(ret, lines, err);
        size_t lineno = 1;
        for (char *p = text + hl; r == 0 && p < text + len;) {
                char *nl = memchr(p, '\n', (size_t)(text + len - p));
                lineno++;
                struct vps_mf_entry e;
                if (!nl)
                        r = vps_err(err, EBADMSG, "MANIFEST line %zu: no end", lineno);
                else if (memchr(p, '\0', (size_t)(nl - p)))
                        r = vps_err(err, EBADMSG, "MANIFEST line %zu: NUL byte", lineno);
                else if ((r = parse_line(p, (size_t)(nl - p), &e, err, lineno)) == 0)
                        r = push(ret, &e, e.path, err);
                p = nl ? nl + 1 : text + len;
        }
        if (r < 0)
                vps_manifest_free(ret); /* not the arena: the caller's */
        return r;
}

int vps_manifest_parse(const char *text, size_t len, struct vps_manifest *ret, vps_error *err)
{
        *ret = (struct vps_manifest){0};
        /* The copy is the manifest's arena, parsed in place. */
        char *copy = malloc(len + 1);
        if (!copy)
                return vps_err(err, ENOMEM, "out of memory");
        memcpy(copy, text, len);
        copy[len] = '\0';
        int r = vps_manifest_parse_in_place(copy, len, ret, err);
        if (r < 0) {
                free(copy);
                return r;
        }
        ret->own_arena = true;
        return 0;
}

static uint64_t path_hash(const char *p)
{
        uint64_t h = 14695981039346656037ull;
        for (; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ull;
        return h;
}

/* The index: an open-addressed table of e's indices + 1 (0: empty), at most half full,
 * holding the first nidx entries; the ones added since are put in before a lookup. False
 * when it cannot grow (out of memory). */
static bool indexed(struct vps_manifest *m)
{
        if (m->nidx == m->n && m->idx)
                return true;
        size_t cap = m->idx_cap ? m->idx_cap : 64;
        while (cap < 2 * m->n + 2)
                cap *= 2;
        if (cap != m->idx_cap) {
                size_t *idx = calloc(cap, sizeof(*idx));
                if (!idx)
                        return false;
                free(m->idx);
                m->idx = idx;
                m->idx_cap = cap;
                m->nidx = 0;
        }
        for (; m->nidx < m->n; m->nidx++) {
                size_t i = (size_t)path_hash(m->e[m->nidx].path) & (cap - 1);
                while (m->idx[i])
                        i = (i + 1) & (cap - 1);
                m->idx[i] = m->nidx + 1;
        }
        return true;
}

void vps_manifest_index(struct vps_manifest *m)
{
        if (m->n > 0)
                (void)indexed(m); /* out of memory: a lookup tries again */
}

struct vps_mf_entry *vps_manifest_find(struct vps_manifest *m, const char *path)
{
        if (m->n == 0)
                return NULL; /* and no index made for nothing (it would outlive a free) */
        if (m->next < m->n && strcmp(m->e[m->next].path, path) == 0)
                return &m->e[m->next++];
        if (!indexed(m)) { /* out of memory: slowly, but right */
                for (size_t i = 0; i < m->n; i++)
                        if (!strcmp(m->e[i].path, path))
                                return &m->e[(m->next = i + 1) - 1];
                return NULL;
        }
        for (size_t i = (size_t)path_hash(path) & (m->idx_cap - 1); m->idx[i];
             i = (i + 1) & (m->idx_cap - 1))
                if (!strcmp(m->e[m->idx[i] - 1].path, path)) {
                        m->next = m->idx[i];
                        return &m->e[m->idx[i] - 1];
                }
        return NULL;
}
