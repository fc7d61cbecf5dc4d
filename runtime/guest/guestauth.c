/* libvps: logins of a guest set from the host, as vzctl did, with no agent inside:
 * --userpasswd (a crypt hash into /etc/shadow) and --ssh-key (lines appended to
 * /root/.ssh/authorized_keys). A running VPS is edited from inside its user and mount
 * namespaces (where host files do not exist); a stopped one in its upper dir, over the
 * template. Either way every path is resolved inside that root without following a symlink,
 * and a file that is a symlink is refused, not followed. An edit can keep what it replaced
 * (struct vps_login_undo), for vps_login_undo to put back when the change it is part of
 * fails. */
#include "templates/templates.h"
#include "vps/cleanup.h"
#include "guest/guest.h"
#include "inst/inst.h"
#include "vps/safepath.h"
#include "vps/util.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

int vps_hash_password(const char *password, char *out, size_t size, vps_error *err)
{
        /* yescrypt, Debian's default since 11; SHA-512 crypt where libcrypt lacks it. */
        static const char *const prefixes[] = {"$y$", "$6$"};
        for (size_t i = 0; i < 2; i++) {
                char salt[CRYPT_GENSALT_OUTPUT_SIZE];
                if (!crypt_gensalt_rn(prefixes[i], 0, NULL, 0, salt, sizeof(salt)))
                        continue;
                struct crypt_data cd;
                memset(&cd, 0, sizeof(cd));
                const char *h = crypt_r(password, salt, &cd);
                if (!h || h[0] == '*' || strlen(h) >= size)
                        continue;
                strcpy(out, h);
                explicit_bzero(&cd, sizeof(cd));
                return 0;
        }
        return vps_err(err, ENOSYS,
                       "cannot hash the password: libcrypt has no yescrypt or SHA-512");
}

static bool valid_user(const char *u, size_t n)
{
        if (n == 0 || n > 32 || !((u[0] >= 'a' && u[0] <= 'z') || u[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9') || u[i] == '_' ||
                      u[i] == '-' || u[i] == '.'))
                        return false;
        return true;
}

int vps_shadow_set(const char *shadow, const char *user, const char *hash, long days, char **ret,
                   vps_error *err)
{
        size_t ul = strlen(user);
        if (!valid_user(user, ul))
                return vps_err(err, EINVAL, "invalid user name '%.40s'", user);
        size_t cap = strlen(shadow) + strlen(hash) + 64;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
                return vps_err(err, ENOMEM, "out of memory");
        size_t n = 0;
        bool found = false;
        for (const char *l = shadow; *l;) {
                const char *end = strchr(l, '\n');
                size_t len = end ? (size_t)(end - l) : strlen(l);
                if (len > ul && strncmp(l, user, ul) == 0 && l[ul] == ':' && !found) {
                        /* user:HASH:LASTCHANGE:rest */
                        const char *f3 = memchr(l + ul + 1, ':', len - ul - 1);
                        const char *f4 =
                                f3 ? memchr(f3 + 1, ':', len - (size_t)(f3 + 1 - l)) : NULL;
                        if (!f4)
                                return vps_err(err, EBADMSG,
                                               "the guest's /etc/shadow line of '%s' is malformed",
                                               user);
                        n += (size_t)snprintf(out + n, cap - n, "%s:%s:%ld", user, hash, days);
                        memcpy(out + n, f4, len - (size_t)(f4 - l));
                        n += len - (size_t)(f4 - l);
                        found = true;
                } else {
                        memcpy(out + n, l, len);
                        n += len;
                }
                out[n++] = '\n';
                l += len + (end ? 1 : 0);
        }
        out[n] = '\0';
        if (!found)
                return vps_err(err, ENOENT, "no user '%s' in the VPS's /etc/shadow", user);
        *ret = TAKE_PTR(out);
        return 0;
}

static bool valid_key_line(const char *l, size_t n)
{
        static const char *const types[] = {"ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-nistp",
                                            "sk-ssh-ed25519@openssh.com ",
                                            "sk-ecdsa-sha2-nistp256@openssh.com "};
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)l[i] < 0x20 && l[i] != '\t')
                        return false;
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                if (n > strlen(types[i]) && strncmp(l, types[i], strlen(types[i])) == 0)
                        return true;
        return false;
}

int vps_keys_add(const char *old, const char *keys, char **ret, vps_error *err)
{
        size_t cap = strlen(old) + strlen(keys) + 4;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
                return vps_err(err, ENOMEM, "out of memory");
        size_t n = strlen(old);
        memcpy(out, old, n);
        if (n && out[n - 1] != '\n')
                out[n++] = '\n';
        unsigned int added = 0;
        for (const char *l = keys; *l;) {
                const char *end = strchr(l, '\n');
                size_t len = end ? (size_t)(end - l) : strlen(l);
                while (len && (l[len - 1] == '\r' || l[len - 1] == ' '))
                        len--;
                if (len && l[0] != '#') {
                        if (!valid_key_line(l, len))
                                return vps_err(err, EINVAL,
                                               "not an OpenSSH public key line: '%.*s'",
                                               (int)(len < 40 ? len : 40), l);
                        /* Already there: not twice. */
                        bool dup = false;
                        for (const char *p = out;
                             !dup && (p = memmem(p, n - (size_t)(p - out), l, len)); p++)
                                dup = (p == out || p[-1] == '\n') && (p[len] == '\n' || !p[len]);
                        if (!dup) {
                                memcpy(out + n, l, len);
                                n += len;
                                out[n++] = '\n';
                                added++;
                        }
                }
                l += (end ? (size_t)(end - l) + 1 : strlen(l));
        }
        out[n] = '\0';
        if (!added && !strstr(old, "ssh-"))
                return vps_err(err, EINVAL, "no public key in the key file");
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---- Reading and writing a file of the guest ---- */

struct edit {
        const char *dir, *name; /* "/etc", "shadow" */
        mode_t dir_mode, file_mode;
        gid_t file_gid; /* guest gid of a new file */
        bool must_exist;
        int (*change)(const char *old, char **ret, const void *arg, vps_error *err);
        const void *arg;
        struct prev *prev; /* what it replaced is kept here, or NULL */
};

#define PREV_TEXT_MAX (4 * 1024 * 1024) /* read_guest's limit */

/* What an edit replaced, in memory shared with the helper that edits a running guest (a fork:
 * MAP_SHARED), so that its record reaches the caller; no pointer, and the text's end made
 * sure of before use. The text is wiped before the memory is unmapped. */
struct prev {
        enum { PREV_NONE, PREV_FILE, PREV_WHITEOUT } kind; /* in the root edited */
        bool recorded, written;
        unsigned int made_dirs; /* the last components of dir the edit created */
        mode_t mode;
        uid_t uid;
        gid_t gid;
        size_t len;
        char text[PREV_TEXT_MAX + 1]; /* PREV_FILE: the old content */
};

struct vps_login_undo {
        const char *dir, *name; /* the edit's (string constants) */
        struct prev *p;
};
static int open_no_symlinks(int root_fd, const char *path, int flags, vps_error *err)
{
        return vps_open_in_root_how(root_fd, path, flags | O_NOFOLLOW, 0,
                                    VPS_RESOLVE_NO_SYMLINKS | VPS_RESOLVE_NO_XDEV, err);
}

/* Reads path under root: its text and owner. -ENOENT when it is not there (or is an
 * overlayfs whiteout, a 0/0 character device in an upper dir). */
static int read_guest(int root_fd, const char *path, char **text, struct stat *st, vps_error *err)
{
        _cleanup_close_ int fd = open_no_symlinks(root_fd, path, O_RDONLY | O_NONBLOCK, err);
        if (fd < 0)
                return fd;
        if (fstat(fd, st) < 0)
                return vps_err_sys(err, errno, "stat %s", path);
        if (S_ISCHR(st->st_mode) && st->st_rdev == 0)
                return vps_err(err, ENOENT, "%s was deleted in the guest", path);
        if (!S_ISREG(st->st_mode) || st->st_size > 4 * 1024 * 1024)
                return vps_err(err, EINVAL, "refusing %s in the guest: not a regular file", path);
        _cleanup_free_ char *buf = malloc((size_t)st->st_size + 1);
        if (!buf)
                return vps_err(err, ENOMEM, "out of memory");
        size_t n = 0;
        ssize_t k;
        while (n < (size_t)st->st_size && (k = read(fd, buf + n, (size_t)st->st_size - n)) > 0)
                n += (size_t)k;
        buf[n] = '\0';
        *text = TAKE_PTR(buf);
        return 0;
}

/* mkdir -p of e->dir under root, each new directory with mode and owner from the template's
 * (lower_fd) or the edit's defaults; ids shifted by id_shift (the VPS's base on the host). */
static int make_dirs(int root_fd, int lower_fd, const struct edit *e, uid_t id_shift,
                     unsigned int *made, vps_error *err)
{
        char path[256] = "";
        for (const char *p = e->dir + 1; *p;) {
                size_t n = strcspn(p, "/");
                (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%.*s", (int)n,
                               p);
                _cleanup_close_ int fd = open_no_symlinks(root_fd, path, O_PATH | O_DIRECTORY, err);
                if (fd == -ENOENT) {
                        struct stat ls = {.st_mode = e->dir_mode, .st_uid = 0, .st_gid = 0};
                        _cleanup_close_ int lfd =
                                lower_fd >= 0 ? open_no_symlinks(lower_fd, path, O_PATH, err) : -1;
                        if (lfd >= 0)
                                (void)fstat(lfd, &ls);
                        const char *slash = strrchr(path, '/');
                        char parent[256];
                        (void)snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
                        _cleanup_close_ int pfd = open_no_symlinks(
                                root_fd, parent[0] ? parent : "/", O_PATH | O_DIRECTORY, err);
                        if (pfd < 0)
                                return pfd;
                        if (mkdirat(pfd, slash + 1, ls.st_mode & 07777) < 0 ||
                            fchownat(pfd, slash + 1, ls.st_uid + id_shift, ls.st_gid + id_shift,
                                     AT_SYMLINK_NOFOLLOW) < 0)
                                return vps_err_sys(err, errno, "creating %s in the guest", path);
                        (*made)++;
                } else if (fd < 0) {
                        return fd;
                }
                p += n;
                while (*p == '/')
                        p++;
        }
        return 0;
}

/* What the edit is about to replace under root_fd (old, st; r the read's result), into u. */
static void record_prev(struct prev *u, int r, const char *old, const struct stat *st)
{
        u->kind = r == 0 ? PREV_FILE : S_ISCHR(st->st_mode) ? PREV_WHITEOUT : PREV_NONE;
        u->mode = st->st_mode;
        u->uid = st->st_uid;
        u->gid = st->st_gid;
        u->len = r == 0 ? strlen(old) : 0;
        memcpy(u->text, r == 0 ? old : "", u->len + 1);
        u->made_dirs = 0;
        u->written = false;
        u->recorded = true;
}

/* The edit under root_fd (the guest's root from inside, or its upper dir from the host, with
 * lower_fd its template and id_shift its id base). */
static int apply_edit(int root_fd, int lower_fd, uid_t id_shift, const struct edit *e,
                      vps_error *err)
{
        char path[256];
        (void)snprintf(path, sizeof(path), "%s/%s", e->dir, e->name);
        _cleanup_free_ char *old = NULL;
        struct stat st = {
                .st_mode = e->file_mode, .st_uid = id_shift, .st_gid = id_shift + e->file_gid};
        int r = read_guest(root_fd, path, &old, &st, err);
        if (e->prev && (r == 0 || r == -ENOENT))
                record_prev(e->prev, r, old, &st);
        if (r == -ENOENT && lower_fd >= 0) { /* not copied up: the template's */
                r = read_guest(lower_fd, path, &old, &st, err);
                st.st_uid += id_shift;
                st.st_gid += id_shift;
        }
        if (r == -ENOENT && !e->must_exist) {
                st = (struct stat){.st_mode = e->file_mode,
                                   .st_uid = id_shift,
                                   .st_gid = id_shift + e->file_gid};
                r = 0;
        }
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        unsigned int made = 0;
        if ((r = e->change(old ? old : "", &text, e->arg, err)) == 0)
                r = make_dirs(root_fd, lower_fd, e, id_shift, &made, err);
        if (e->prev)
                e->prev->made_dirs = made;
        if (r == 0)
                r = vps_guest_write_file(root_fd, e->dir, e->name, text, st.st_mode & 07777,
                                         st.st_uid, st.st_gid, err);
        if (r == 0 && e->prev)
                e->prev->written = true;
        return r;
}

/* Puts back under root_fd what undo kept of the edit: the old file, or none (the
 * template's showing again, or the whiteout that hid it), and no directory it made. */
static int restore_prev(int root_fd, const struct vps_login_undo *undo, vps_error *err)
{
        const struct prev *u = undo->p;
        int r = 0;
        if (u->written && u->kind == PREV_FILE) {
                r = vps_guest_write_file(root_fd, undo->dir, undo->name, u->text, u->mode & 07777,
                                         u->uid, u->gid, err);
        } else if (u->written) {
                _cleanup_close_ int dfd =
                        open_no_symlinks(root_fd, undo->dir, O_PATH | O_DIRECTORY, err);
                if (dfd < 0)
                        return dfd;
                if (unlinkat(dfd, undo->name, 0) < 0 ||
                    (u->kind == PREV_WHITEOUT &&
                     (mknodat(dfd, undo->name, S_IFCHR | (u->mode & 07777), makedev(0, 0)) < 0 ||
                      fchownat(dfd, undo->name, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) < 0)))
                        return vps_err_sys(err, errno, "putting back %s/%s in the guest", undo->dir,
                                           undo->name);
        }
        /* the directories it made, deepest first (each empty again, or left) */
        char path[256];
        (void)snprintf(path, sizeof(path), "%s", undo->dir);
        for (unsigned int i = 0; r == 0 && i < u->made_dirs; i++) {
                char *slash = strrchr(path, '/');
                if (!slash || !slash[1])
                        break;
                *slash = '\0'; /* path: the parent; slash + 1: the directory's name */
                _cleanup_close_ int pfd =
                        open_no_symlinks(root_fd, path[0] ? path : "/", O_PATH | O_DIRECTORY, err);
                if (pfd < 0)
                        return pfd;
                (void)unlinkat(pfd, slash + 1, AT_REMOVEDIR);
        }
        return r;
}

/* What to do in a VPS's root: fn(root_fd, lower_fd, id_shift, arg) (see apply_edit). */
struct in_root {
        int (*fn)(int root_fd, int lower_fd, uid_t id_shift, const void *arg, vps_error *err);
        const void *arg;
};

static int run_in_guest(int root_fd, void *arg, vps_error *err)
{
        const struct in_root *c = arg;
        return c->fn(root_fd, -1, 0, c->arg, err);
}

/* c in a running VPS (from inside it, what naming it for the deadline's message), or in a
 * stopped one's upper dir over its template. */
static int in_vps_root(struct vps_manager *m, struct vps_inst *vi, const char *what,
                       const struct in_root *c, vps_error *err)
{
        if (vi->status == VPS_RUNNING)
                return vps_guest_run(vi->st.pid, vi->cfg.id, what, run_in_guest, (void *)c, err);
        if (vi->status != VPS_STOPPED)
                return vps_err(err, EBUSY, "VPS %s is stopping", vi->cfg.id);
        _cleanup_close_ int upper =
                openat(vi->dir_fd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0)
                return vps_err_sys(err, errno, "opening the upper dir of VPS %s", vi->cfg.id);
        char lower_path[300];
        (void)snprintf(lower_path, sizeof(lower_path), "%s/rootfs", vi->cfg.ostemplate);
        _cleanup_close_ int lower =
                openat(m->tpl_fd, lower_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lower < 0)
                return vps_err_sys(err, errno, "opening template %s", vi->cfg.ostemplate);
        return c->fn(upper, lower, vi->cfg.uid_base, c->arg, err);
}

static int edit_fn(int root_fd, int lower_fd, uid_t id_shift, const void *arg, vps_error *err)
{
        return apply_edit(root_fd, lower_fd, id_shift, arg, err);
}

/* e in the VPS, what it replaced kept in *ret_undo (new shared memory) when ret_undo. */
static int edit_vps(struct vps_manager *m, struct vps_inst *vi, struct edit *e,
                    struct vps_login_undo **ret_undo, vps_error *err)
{
        if (ret_undo) {
                _cleanup_free_ struct vps_login_undo *u = calloc(1, sizeof(*u));
                void *p = mmap(NULL, sizeof(struct prev), PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
                if (!u || p == MAP_FAILED)
                        return vps_err_sys(err, u ? errno : ENOMEM, "keeping %s/%s to undo", e->dir,
                                           e->name);
                *u = (struct vps_login_undo){e->dir, e->name, p};
                e->prev = p;
                *ret_undo = TAKE_PTR(u);
        }
        char what[160];
        (void)snprintf(what, sizeof(what), "editing %s/%s", e->dir, e->name);
        struct in_root c = {edit_fn, e};
        return in_vps_root(m, vi, what, &c, err);
}

static int restore_fn(int root_fd, int lower_fd, uid_t id_shift, const void *arg, vps_error *err)
{
        (void)lower_fd;
        (void)id_shift;
        return restore_prev(root_fd, arg, err);
}

int vps_login_undo(struct vps_manager *m, struct vps_inst *vi, const struct vps_login_undo *u,
                   vps_error *err)
{
        if (!u || !u->p->recorded || (!u->p->written && !u->p->made_dirs))
                return 0;
        u->p->text[PREV_TEXT_MAX] = '\0';
        char what[160];
        (void)snprintf(what, sizeof(what), "putting back %s/%s", u->dir, u->name);
        struct in_root c = {restore_fn, u};
        return in_vps_root(m, vi, what, &c, err);
}

void vps_login_undo_free(struct vps_login_undo *u)
{
        if (!u)
                return;
        /* (len as the helper set it, bounded: wiping it all would touch every page) */
        explicit_bzero(u->p->text, u->p->len < PREV_TEXT_MAX ? u->p->len : PREV_TEXT_MAX);
        (void)munmap(u->p, sizeof(*u->p));
        free(u);
}

/* ---- The two settings ---- */

struct passwd_arg {
        const char *user, *hash;
};

static int change_shadow(const char *old, char **ret, const void *arg, vps_error *err)
{
        const struct passwd_arg *a = arg;
        return vps_shadow_set(old, a->user, a->hash, (long)(time(NULL) / 86400), ret, err);
}

/* USER:PASSWORD checked; the user name copied to user (40 bytes). */
static int split_userpasswd(const char *spec, char user[40], vps_error *err)
{
        const char *colon = spec ? strchr(spec, ':') : NULL;
        if (!colon || colon == spec || !colon[1])
                return vps_err(err, EINVAL, "'userpasswd' takes USER:PASSWORD");
        if ((size_t)(colon - spec) >= 40)
                return vps_err(err, EINVAL, "invalid user name");
        memcpy(user, spec, (size_t)(colon - spec));
        user[colon - spec] = '\0';
        if (!valid_user(user, strlen(user)))
                return vps_err(err, EINVAL, "invalid user name '%s'", user);
        if (strpbrk(colon + 1, "\n\r"))
                return vps_err(err, EINVAL, "the password may not hold a line break");
        return 0;
}

int vps_userpasswd_check(const char *spec, vps_error *err)
{
        char user[40];
        return split_userpasswd(spec, user, err);
}

int vps_manager_set_userpasswd(struct vps_manager *m, struct vps_inst *vi, const char *spec,
                               struct vps_login_undo **ret_undo, vps_error *err)
{
        char user[40];
        if (split_userpasswd(spec, user, err) < 0)
                return -err->code;
        const char *colon = strchr(spec, ':');
        char hash[CRYPT_OUTPUT_SIZE];
        int r = vps_hash_password(colon + 1, hash, sizeof(hash), err);
        if (r < 0)
                return r;
        struct passwd_arg a = {user, hash};
        struct edit e = {.dir = "/etc",
                         .name = "shadow",
                         .dir_mode = 0755,
                         .file_mode = 0640,
                         .file_gid = 42,
                         .must_exist = true,
                         .change = change_shadow,
                         .arg = &a};
        r = edit_vps(m, vi, &e, ret_undo, err);
        explicit_bzero(hash, sizeof(hash));
        return r < 0 ? vps_err_wrap(err, "VPS %s: 'userpasswd'", vi->cfg.id) : 0;
}

static int change_keys(const char *old, char **ret, const void *arg, vps_error *err)
{
        return vps_keys_add(old, arg, ret, err);
}

int vps_manager_add_ssh_keys(struct vps_manager *m, struct vps_inst *vi, const char *keys,
                             struct vps_login_undo **ret_undo, vps_error *err)
{
        struct edit e = {.dir = "/root/.ssh",
                         .name = "authorized_keys",
                         .dir_mode = 0700,
                         .file_mode = 0600,
                         .change = change_keys,
                         .arg = keys};
        int r = edit_vps(m, vi, &e, ret_undo, err);
        return r < 0 ? vps_err_wrap(err, "VPS %s: 'ssh_key'", vi->cfg.id) : 0;
}
