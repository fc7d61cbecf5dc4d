/* libvps: a mount namespace's table as /proc/PID/mountinfo gives it, and which of its proc
 * and sysfs mounts a restore must still lock (lockmounts.c): pure, for unit tests. */
#include "checkpoint/checkpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Unescapes mountinfo's \ooo (space, tab, newline, backslash) in place; false when the
 * field holds an escape the kernel never writes. */
static bool unescape(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (*r != '\\') {
                        *w++ = *r;
                        continue;
                }
                if (r[1] < '0' || r[1] > '3' || r[2] < '0' || r[2] > '7' || r[3] < '0' ||
                    r[3] > '7')
                        return false;
                *w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
                r += 3;
        }
        *w = '\0';
        return true;
}

/* The next space-separated field of *s (NUL-terminated in place), or NULL. */
static char *field(char **s)
{
        char *f = *s;
        if (!f || !*f)
                return NULL;
        char *sp = strchr(f, ' ');
        if (sp) {
                *sp = '\0';
                *s = sp + 1;
        } else {
                *s = NULL;
        }
        return f;
}

static int parse_line(char *line, struct vps_mnt *m)
{
        char *s = line, *id = field(&s), *parent = field(&s), *dev = field(&s), *root = field(&s),
             *mp = field(&s), *opts = field(&s), *f;
        (void)opts;
        if (!mp || strlen(dev) >= sizeof(m->dev))
                return -EBADMSG;
        char *end1, *end2;
        long i = strtol(id, &end1, 10), p = strtol(parent, &end2, 10);
        if (*end1 || *end2 || i <= 0 || p < 0 || i > 0x7fffffff || p > 0x7fffffff)
                return -EBADMSG;
        *m = (struct vps_mnt){.id = (int)i, .parent = (int)p, .root = root, .mountpoint = mp};
        strcpy(m->dev, dev);
        while ((f = field(&s)) && strcmp(f, "-") != 0) {
                if (!strncmp(f, "shared:", 7))
                        m->shared = true;
                else if (!strncmp(f, "master:", 7))
                        m->slave = true;
        }
        char *type = f ? field(&s) : NULL;
        if (!type || strlen(type) >= sizeof(m->fstype) || !unescape(mp) || mp[0] != '/' ||
            !unescape(root))
                return -EBADMSG;
        strcpy(m->fstype, type);
        return 0;
}

int vps_mnt_table_parse(char *text, struct vps_mnt_table *ret, vps_error *err)
{
        *ret = (struct vps_mnt_table){0};
        size_t cap = 0;
        for (char *l = text; l && *l;) {
                char *nl = strchr(l, '\n');
                if (nl)
                        *nl = '\0';
                if (ret->n == cap) {
                        cap = cap ? cap * 2 : 64;
                        struct vps_mnt *m =
                                cap <= VPS_MNT_MAX ? realloc(ret->m, cap * sizeof(*m)) : NULL;
                        if (!m) {
                                vps_mnt_table_free(ret);
                                return vps_err(err, E2BIG, "more than %d mounts", VPS_MNT_MAX);
                        }
                        ret->m = m;
                }
                if (parse_line(l, &ret->m[ret->n]) < 0) {
                        vps_mnt_table_free(ret);
                        return vps_err(err, EBADMSG, "a line of mountinfo is damaged");
                }
                ret->n++;
                l = nl ? nl + 1 : NULL;
        }
        return 0;
}

void vps_mnt_table_free(struct vps_mnt_table *t)
{
        free(t->m);
        *t = (struct vps_mnt_table){0};
}

const struct vps_mnt *vps_mnt_find(const struct vps_mnt_table *t, int id)
{
        for (size_t i = 0; i < t->n; i++)
                if (t->m[i].id == id)
                        return &t->m[i];
        return NULL;
}

static bool proc_or_sysfs(const struct vps_mnt *m)
{
        return !strcmp(m->fstype, "proc") || !strcmp(m->fstype, "sysfs");
}

static bool has_children(const struct vps_mnt_table *t, int id)
{
        for (size_t i = 0; i < t->n; i++)
                if (t->m[i].parent == id && t->m[i].id != id)
                        return true;
        return false;
}

size_t vps_mnt_lock_targets(const struct vps_mnt_table *t, size_t *ret, size_t max)
{
        size_t n = 0;
        for (size_t i = 0; i < t->n; i++) {
                const struct vps_mnt *m = &t->m[i];
                /* Nothing over it: nothing it hides (a nesting VPS's /dev/.vps/proc). */
                if (!proc_or_sysfs(m) || !has_children(t, m->id))
                        continue;
                /* Under another proc or sysfs: goes with it. */
                bool under = false;
                const struct vps_mnt *a = m;
                for (size_t depth = 0; !under && depth < t->n; depth++) {
                        a = vps_mnt_find(t, a->parent);
                        if (!a || a->id == a->parent)
                                break;
                        under = proc_or_sysfs(a);
                }
                if (under)
                        continue;
                if (n < max)
                        ret[n] = i;
                n++;
        }
        return n;
}

size_t vps_mnt_subtree_size(const struct vps_mnt_table *t, int id)
{
        size_t n = vps_mnt_find(t, id) ? 1 : 0;
        for (size_t i = 0; n && i < t->n; i++) {
                /* An ancestor of m is id: walk up (bounded: a table has no cycles, but). */
                const struct vps_mnt *a = &t->m[i];
                for (size_t depth = 0; a && a->id != id && depth < t->n; depth++) {
                        const struct vps_mnt *up = vps_mnt_find(t, a->parent);
                        a = up && up != a ? up : NULL;
                }
                if (a && a->id == id && t->m[i].id != id)
                        n++;
        }
        return n;
}

const char *vps_mnt_rel_path(const struct vps_mnt *p, const struct vps_mnt *q)
{
        size_t pl = strcmp(p->mountpoint, "/") ? strlen(p->mountpoint) : 0;
        if (strncmp(q->mountpoint, p->mountpoint, pl) != 0 ||
            (q->mountpoint[pl] != '/' && q->mountpoint[pl] != '\0'))
                return NULL;
        const char *rel = q->mountpoint + pl;
        rel += strspn(rel, "/");
        return *rel ? rel : ".";
}

/* Is b a bind of its parent's own directory at b's mount point? */
static bool self_bind(const struct vps_mnt *pp, const struct vps_mnt *b)
{
        const char *rel = vps_mnt_rel_path(pp, b);
        if (!rel || !strcmp(rel, ".") || strcmp(pp->dev, b->dev) != 0)
                return false;
        size_t rl = strcmp(pp->root, "/") ? strlen(pp->root) : 0;
        return !strncmp(b->root, pp->root, rl) && b->root[rl] == '/' &&
               !strcmp(b->root + rl + 1, rel);
}

const struct vps_mnt *vps_mnt_lock_parent(const struct vps_mnt_table *t, const struct vps_mnt *q,
                                          const struct vps_mnt **ret_skip)
{
        *ret_skip = NULL;
        const struct vps_mnt *p = vps_mnt_find(t, q->parent);
        if (!p || p->id == q->id)
                return NULL;
        const struct vps_mnt *pp = vps_mnt_find(t, p->parent);
        if (!pp || pp->id == p->id || strcmp(p->mountpoint, q->mountpoint) != 0 ||
            vps_mnt_subtree_size(t, p->id) != 1 + vps_mnt_subtree_size(t, q->id) ||
            !self_bind(pp, p))
                return p;
        *ret_skip = p;
        return pp;
}
