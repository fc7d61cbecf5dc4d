/* libvps: a backup's MANIFEST, one line per path:
 *
 *   KIND TYPE MODE UID GID SIZE MTIME_NS INO CTIME_NS HASH PATH
 *
 * tab separated, MODE octal, PATH with bytes below 0x21, above 0x7e and '%' as %XX (names
 * are any bytes but '/' and NUL: not UTF-8, not JSON). The first line is the format. */
#include "storage/backup.h"
#include "vps/cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEADER "vpsbackup-manifest 1\n"

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

void vps_manifest_free(struct vps_manifest *m)
{
        for (size_t i = 0; i < m->n; i++)
                free(m->e[i].path);
        free(m->e);
        *m = (struct vps_manifest){0};
}

int vps_manifest_add(struct vps_manifest *m, const struct vps_mf_entry *e, vps_error *err)
{
        if (m->n == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 256;
                struct vps_mf_entry *n = realloc(m->e, cap * sizeof(*n));
                if (!n)
                        return vps_err(err, ENOMEM, "out of memory");
                m->e = n;
                m->cap = cap;
        }
        m->e[m->n] = *e;
        if (!(m->e[m->n].path = strdup(e->path)))
                return vps_err(err, ENOMEM, "out of memory");
        m->n++;
        m->sorted = false;
        return 0;
}

static bool plain_byte(unsigned char c)
{
        return c > 0x20 && c < 0x7f && c != '%';
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

static int unescape(const char *s, size_t len, char **ret)
{
        char *out = malloc(len + 1);
        if (!out)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned int v;
                if (s[i] != '%') {
                        if (!plain_byte((unsigned char)s[i]))
                                goto bad;
                        out[k++] = s[i];
                } else if (i + 2 < len &&
                           (v = (unsigned int)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]))) < 256 &&
                           v) {
                        out[k++] = (char)v;
                        i += 2;
                } else {
                        goto bad;
                }
        }
        out[k] = '\0';
        *ret = out;
        return 0;
bad:
        free(out);
        return -EINVAL;
}

static bool valid_hash(const char *h)
{
        if (strcmp(h, "-") == 0)
                return true;
        if (strlen(h) != 64)
                return false;
        return strspn(h, "0123456789abcdef") == 64;
}

static int parse_line(char *line, size_t len, struct vps_mf_entry *e, vps_error *err, size_t lineno)
{
        char *f[11];
        size_t nf = 0;
        char *p = line, *end = line + len;
        while (nf < 10) {
                char *tab = memchr(p, '\t', (size_t)(end - p));
                if (!tab)
                        break;
                *tab = '\0';
                f[nf++] = p;
                p = tab + 1;
        }
        if (nf != 10)
                return vps_err(err, EBADMSG, "MANIFEST line %zu: not 11 fields", lineno);
        f[10] = p;
        char *x;
        uint64_t v[7];
        for (int i = 0; i < 7; i++) {
                errno = 0;
                const char *s = f[2 + i];
                bool neg = (i == 4 || i == 6) && s[0] == '-';
                if (!*s || (!neg && (*s < '0' || *s > '9')))
                        return vps_err(err, EBADMSG, "MANIFEST line %zu: bad number", lineno);
                v[i] = neg ? (uint64_t)strtoll(s, &x, 10) : strtoull(s, &x, i == 0 ? 8 : 10);
                if (*x || errno)
                        return vps_err(err, EBADMSG, "MANIFEST line %zu: bad number", lineno);
        }
        if (strlen(f[0]) != 1 || !strchr("+=-", f[0][0]) || strlen(f[1]) != 1 ||
            !strchr("fdlpcbs", f[1][0]) || v[0] > 07777 || v[1] > UINT32_MAX || v[2] > UINT32_MAX ||
            !valid_hash(f[9]))
                return vps_err(err, EBADMSG, "MANIFEST line %zu: bad field", lineno);
        *e = (struct vps_mf_entry){.kind = f[0][0],
                                   .type = f[1][0],
                                   .mode = (uint32_t)v[0],
                                   .uid = (uint32_t)v[1],
                                   .gid = (uint32_t)v[2],
                                   .size = v[3],
                                   .mtime_ns = (int64_t)v[4],
                                   .ino = v[5],
                                   .ctime_ns = (int64_t)v[6]};
        (void)snprintf(e->hash, sizeof(e->hash), "%s", f[9]);
        if (unescape(f[10], (size_t)(end - f[10]), &e->path) < 0 || !e->path[0]) {
                free(e->path);
                e->path = NULL;
                return vps_err(err, EBADMSG, "MANIFEST line %zu: bad path", lineno);
        }
        return 0;
}

int vps_manifest_parse(const char *text, size_t len, struct vps_manifest *ret, vps_error *err)
{
        *ret = (struct vps_manifest){0};
        size_t hl = strlen(HEADER);
        if (len < hl || memcmp(text, HEADER, hl) != 0)
                return vps_err(err, EBADMSG, "MANIFEST: not a vpsbackup manifest");
        _cleanup_free_ char *copy = malloc(len + 1);
        if (!copy)
                return vps_err(err, ENOMEM, "out of memory");
        memcpy(copy, text, len);
        copy[len] = '\0';
        size_t lineno = 1;
        for (char *p = copy + hl; p < copy + len;) {
                char *nl = memchr(p, '\n', (size_t)(copy + len - p));
                lineno++;
                if (!nl) {
                        vps_manifest_free(ret);
                        return vps_err(err, EBADMSG, "MANIFEST line %zu: no end", lineno);
                }
                if (memchr(p, '\0', (size_t)(nl - p))) {
                        vps_manifest_free(ret);
                        return vps_err(err, EBADMSG, "MANIFEST line %zu: NUL byte", lineno);
                }
                struct vps_mf_entry e;
                int r = parse_line(p, (size_t)(nl - p), &e, err, lineno);
                if (r == 0) {
                        r = vps_manifest_add(ret, &e, err);
                        free(e.path);
                }
                if (r < 0) {
                        vps_manifest_free(ret);
                        return r;
                }
                p = nl + 1;
        }
        return 0;
}

int vps_manifest_format(const struct vps_manifest *m, char **ret, size_t *ret_len, vps_error *err)
{
        char *buf = NULL;
        size_t len = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &len);
        if (!f)
                return vps_err(err, ENOMEM, "out of memory");
        fputs(HEADER, f);
        for (size_t i = 0; i < m->n; i++) {
                const struct vps_mf_entry *e = &m->e[i];
                fprintf(f,
                        "%c\t%c\t%o\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t%" PRId64 "\t%" PRIu64
                        "\t%" PRId64 "\t%s\t",
                        e->kind, e->type, e->mode, e->uid, e->gid, e->size, e->mtime_ns, e->ino,
                        e->ctime_ns, e->hash);
                for (const unsigned char *p = (const unsigned char *)e->path; *p; p++)
                        if (plain_byte(*p))
                                fputc(*p, f);
                        else
                                fprintf(f, "%%%02X", *p);
                fputc('\n', f);
        }
        if (fclose(f) != 0) {
                f = NULL;
                free(buf);
                return vps_err(err, ENOMEM, "out of memory");
        }
        f = NULL;
        *ret = buf;
        *ret_len = len;
        return 0;
}

static int by_path(const void *a, const void *b)
{
        return strcmp(((const struct vps_mf_entry *)a)->path,
                      ((const struct vps_mf_entry *)b)->path);
}

struct vps_mf_entry *vps_manifest_find(struct vps_manifest *m, const char *path)
{
        if (!m->sorted) {
                if (m->n)
                        qsort(m->e, m->n, sizeof(*m->e), by_path);
                m->sorted = true;
        }
        struct vps_mf_entry key = {.path = (char *)path};
        return m->n ? bsearch(&key, m->e, m->n, sizeof(*m->e), by_path) : NULL;
}
