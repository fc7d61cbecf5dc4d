/* libvps: the checks of each entry of a backup archive being restored (backup_restore.c). The
 * archive is input from outside: every entry is checked before anything is written (its path stays
 * under upper/ or root/, no '..' and no absolute name, no symlink on its way, a hard link
 * to a path of the same tree, an owner in the VPS's range, a device node the template set
 * allows, xattrs of known kinds, a size the file system could hold), libarchive's secure
 * extraction flags stay on as a second wall, and at the end every file is compared with the
 * MANIFEST. The first refusal ends the restore; the caller removes the staging directory. */
#include "storage/backup.h"
#include "storage/backup_int.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *vps_bk_escape_of(const char *p)
{
        if (p[0] == '/')
                return "an absolute path";
        for (const char *s = p; (s = strstr(s, "..")); s += 2)
                if ((s == p || s[-1] == '/') && (s[2] == '/' || !s[2]))
                        return "a '..' path";
        if (strstr(p, "//") || (p[0] == '.' && (p[1] == '/' || !p[1])) || strstr(p, "/./") ||
            (strlen(p) >= 2 && !strcmp(p + strlen(p) - 2, "/.")))
                return "a path that is not canonical";
        return NULL;
}

/* "upper", "upper/...", "root", "root/...": which tree, or NULL. */
const char *vps_bk_tree_of(const char *p)
{
        if (!strncmp(p, "upper", 5) && (!p[5] || p[5] == '/'))
                return "upper";
        if (!strncmp(p, "root", 4) && (!p[4] || p[4] == '/'))
                return "root";
        return NULL;
}

/* The directory holding path (relative to the staging directory), reached without any
 * symlink and without leaving it (in pieces past PATH_MAX); -ENOENT when a component is
 * missing. */
int vps_bk_open_parent(int staging, const char *path, const char **ret_base)
{
        const char *slash = strrchr(path, '/');
        *ret_base = slash ? slash + 1 : path;
        _cleanup_free_ char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                          RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
        return vps_openat2_long(staging, dir, &how);
}

static bool dev_allowed(const struct vps_restore_opts *o, unsigned int maj, unsigned int min)
{
        if (maj == 0 && min == 0)
                return true; /* an overlay whiteout */
        for (size_t i = 0; i < o->n_devs; i++)
                if (o->devs[i][0] == maj && o->devs[i][1] == min)
                        return true;
        return false;
}

static bool xattr_allowed(const char *name)
{
        return !strncmp(name, "user.", 5) || !strcmp(name, "security.capability") ||
               !strcmp(name, "system.posix_acl_access") ||
               !strcmp(name, "system.posix_acl_default") || !strcmp(name, "trusted.overlay.opaque");
}

/* A file capability: revision 3 (24 bytes) names the host id of the root it is valid under,
 * moved into the new range. Revisions 1 and 2 name none: valid for every user namespace, the
 * host's too. A guest's setcap never makes one (the kernel writes revision 3 naming the
 * guest's root), so in upper/ one is refused: a crafted archive would otherwise leave a file
 * with host capabilities in the VPS's layer. A template's tree (root/) keeps them, as
 * debootstrap made them. */
static int cap_remap(struct rctx *c, void *v, size_t len, bool upper, const char *path)
{
        uint32_t magic = 0, root;
        if (len >= 4)
                memcpy(&magic, v, 4);
        uint32_t rev = magic & 0xff000000u;
        bool v3 = len == 24 && rev == 0x03000000u;
        if (!v3 && !(len == 20 && rev == 0x02000000u) && !(len == 12 && rev == 0x01000000u))
                return vps_err(c->err, EPERM, "refused: %.200s: a malformed file capability", path);
        if (!v3)
                return upper ? vps_err(c->err, EPERM,
                                       "refused: %.200s: a file capability without a root id "
                                       "(valid on the host)",
                                       path)
                             : 0;
        memcpy(&root, (char *)v + 20, 4);
        if (root >= c->o->uid_count)
                return vps_err(c->err, EPERM, "%s: capability root id outside the range", path);
        root += upper ? c->o->uid_base : 0;
        memcpy((char *)v + 20, &root, 4);
        return 0;
}

/* Owners, ACL qualifiers and a capability's root id into the new range (upper/ only: a
 * template's tree keeps its own ids, idmapped at start). */
int vps_bk_remap(struct rctx *c, struct archive_entry *e, bool upper, const char *path)
{
        const struct vps_restore_opts *o = c->o;
        uint32_t add = upper ? o->uid_base : 0;
        la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
        if (uid < 0 || gid < 0 || uid >= o->uid_count || gid >= o->uid_count)
                return vps_err(c->err, EPERM, "%s: owner %lld:%lld outside the VPS's %u ids", path,
                               (long long)uid, (long long)gid, o->uid_count);
        archive_entry_set_uid(e, uid + add);
        archive_entry_set_gid(e, gid + add);
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        struct {
                int type, perm, tag, id;
        } acls[64];
        int n = 0, type, perm, tag, id;
        const char *name;
        int types = ARCHIVE_ENTRY_ACL_TYPE_ACCESS | ARCHIVE_ENTRY_ACL_TYPE_DEFAULT;
        if (archive_entry_acl_reset(e, ARCHIVE_ENTRY_ACL_TYPE_NFS4) > 0)
                return vps_err(c->err, EPERM, "%s: an NFSv4 ACL", path);
        if (archive_entry_acl_reset(e, types) > 0) {
                while (archive_entry_acl_next(e, types, &type, &perm, &tag, &id, &name) ==
                       ARCHIVE_OK) {
                        if (n == 64)
                                return vps_err(c->err, E2BIG, "%s: more than 64 ACL entries", path);
                        if (tag == ARCHIVE_ENTRY_ACL_USER || tag == ARCHIVE_ENTRY_ACL_GROUP) {
                                if (id < 0 || (uint32_t)id >= o->uid_count)
                                        return vps_err(c->err, EPERM,
                                                       "%s: ACL id %d outside the VPS's ids", path,
                                                       id);
                                id += (int)add;
                        }
                        acls[n].type = type, acls[n].perm = perm, acls[n].tag = tag;
                        acls[n++].id = id;
                }
                archive_entry_acl_clear(e);
                for (int i = 0; i < n; i++)
                        if (archive_entry_acl_add_entry(e, acls[i].type, acls[i].perm, acls[i].tag,
                                                        acls[i].id, NULL) != ARCHIVE_OK)
                                return vps_err(c->err, EPERM, "%s: a bad ACL", path);
        }
        struct {
                char *name;
                void *v;
                size_t len;
        } xa[64];
        int nx = 0, r = 0;
        const void *v;
        size_t len;
        if (archive_entry_xattr_reset(e) > 0) {
                while (r == 0 && archive_entry_xattr_next(e, &name, &v, &len) == ARCHIVE_OK) {
                        if (nx == 64) {
                                r = vps_err(c->err, E2BIG, "%s: more than 64 xattrs", path);
                                break;
                        }
                        if (!xattr_allowed(name)) {
                                r = vps_err(c->err, EPERM, "%s: xattr %.64s is not allowed", path,
                                            name);
                                break;
                        }
                        xa[nx].name = strdup(name);
                        xa[nx].v = malloc(len ? len : 1);
                        xa[nx].len = len;
                        if (!xa[nx].name || !xa[nx].v) {
                                free(xa[nx].name);
                                free(xa[nx].v);
                                r = vps_err(c->err, ENOMEM, "out of memory");
                                break;
                        }
                        memcpy(xa[nx].v, v, len);
                        nx++;
                        if (!strcmp(name, "security.capability"))
                                r = cap_remap(c, xa[nx - 1].v, len, upper, path);
                }
                if (r == 0)
                        archive_entry_xattr_clear(e);
                for (int i = 0; i < nx; i++) {
                        if (r == 0)
                                archive_entry_xattr_add_entry(e, xa[i].name, xa[i].v, xa[i].len);
                        free(xa[i].name);
                        free(xa[i].v);
                }
        }
        return r;
}

/* A path of an earlier archive of the chain in the way of an entry of another type. */
int vps_bk_clear_way(struct rctx *c, const char *path, mode_t type)
{
        const char *base;
        _cleanup_close_ int dfd = vps_bk_open_parent(c->o->staging_fd, path, &base);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0)
                return vps_err(c->err, EPERM, "%s: its directory is a symlink or missing (%s)",
                               path, strerror(-dfd));
        struct stat st;
        if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (S_ISDIR(st.st_mode) && type == AE_IFDIR)
                return 0;
        if (S_ISDIR(st.st_mode))
                return vps_rm_rf_at(dfd, base, c->err);
        return unlinkat(dfd, base, 0) < 0 && errno != ENOENT
                       ? vps_err_sys(c->err, errno, "removing %s", path)
                       : 0;
}

int vps_bk_check_entry(struct rctx *c, struct archive_entry *e, const char *path, int *ret_dfd)
{
        const char *why = vps_bk_escape_of(path);
        const char *hl = archive_entry_hardlink(e);
        if (!why && hl)
                why = vps_bk_escape_of(hl);
        if (why)
                return vps_err(c->err, EPERM, "refused: %s (%.200s)", why,
                               hl && vps_bk_escape_of(hl) ? hl : path);
        const char *tree = vps_bk_tree_of(path);
        if (!tree)
                return vps_err(c->err, EPERM, "refused: %.200s is not part of a VPS's backup",
                               path);
        if (hl && vps_bk_tree_of(hl) != tree)
                return vps_err(c->err, EPERM, "refused: a hard link from %.200s to another tree",
                               path);
        /* The tree's top is the VPS's layer (or a template's root): a symlink there would make
         * it whatever the link names, the host's / as well. */
        if (!strcmp(path, tree) && (hl || archive_entry_filetype(e) != AE_IFDIR))
                return vps_err(c->err, EPERM, "refused: %s must be a directory", tree);
        /* A hard link's type is the file's it names (libarchive leaves it 0). */
        mode_t type = hl ? AE_IFREG : archive_entry_filetype(e);
        switch (type) {
        case AE_IFREG:
        case AE_IFDIR:
        case AE_IFLNK:
        case AE_IFIFO:
                break;
        case AE_IFCHR:
                if (!dev_allowed(c->o, archive_entry_rdevmajor(e), archive_entry_rdevminor(e)))
                        return vps_err(c->err, EPERM,
                                       "refused: %.200s is device %u:%u, which VPSes may not have",
                                       path, (unsigned int)archive_entry_rdevmajor(e),
                                       (unsigned int)archive_entry_rdevminor(e));
                break;
        case AE_IFBLK:
                return vps_err(c->err, EPERM, "refused: %.200s is a block device", path);
        default:
                return vps_err(c->err, EPERM, "refused: %.200s has an unknown type", path);
        }
        la_int64_t size = archive_entry_size(e);
        if (size < 0 || (uint64_t)size > c->o->max_file_size)
                return vps_err(c->err, EFBIG,
                               "refused: %.200s claims %lld bytes, more than this file system "
                               "holds",
                               path, (long long)size);
        if (archive_entry_mode(e) & ~(mode_t)(S_IFMT | 07777))
                return vps_err(c->err, EPERM, "refused: %.200s has a bad mode", path);
        /* Nothing is written through a symlink: every directory on the way must be one.
         * The tree's own top ("upper") has the staging directory as parent. */
        const char *base;
        _cleanup_close_ int dfd = vps_bk_open_parent(c->o->staging_fd, path, &base);
        if (dfd < 0)
                return vps_err(c->err, EPERM, "refused: %.200s: %s", path,
                               dfd == -ELOOP || dfd == -EXDEV ? "written through a symlink"
                               : dfd == -ENOENT               ? "its directory comes later or never"
                                                              : strerror(-dfd));
        if (hl) {
                const char *hb;
                _cleanup_close_ int hfd = vps_bk_open_parent(c->o->staging_fd, hl, &hb);
                struct stat st;
                if (hfd < 0 || fstatat(hfd, hb, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    S_ISDIR(st.st_mode))
                        return vps_err(c->err, EPERM,
                                       "refused: hard link %.200s to %.200s, not a file restored "
                                       "before it",
                                       path, hl);
        }
        *ret_dfd = TAKE_FD(dfd);
        return 0;
}
