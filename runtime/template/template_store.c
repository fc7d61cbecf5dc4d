/* libvps: the template store, ROOT/templates/NAME/{meta.json,rootfs/}. A template is built in
 * a staging directory and published with one rename, so it is either whole or absent; once
 * published it never changes (VPSes share it read-only through idmapped mounts). */
#include "templates/templates.h"
#include "vps/cleanup.h"
#include "inst/inst.h"
#include "template/template.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUSYBOX_PATH "/bin/busybox"

unsigned long long vps_template_tree_size(int dfd)
{
        _cleanup_closedir_ DIR *d = vps_opendir_fd(dfd);
        if (!d)
                return 0;
        unsigned long long total = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                total += (unsigned long long)st.st_blocks * 512;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(
                                dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                total += vps_template_tree_size(sub);
                }
        }
        return total;
}

static int count_users(struct vps_manager *m, const char *name)
{
        int n = 0;
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i]->cfg.ostemplate, name) == 0)
                        n++;
        return n;
}

static int by_id(const void *a, const void *b)
{
        return strverscmp(*(const char *const *)a, *(const char *const *)b);
}

/* "301, 305" (sorted, "and N more" past what fits): who holds template name. */
static void users_of(const struct vps_manager *m, const char *name, char *ret, size_t size)
{
        _cleanup_free_ const char **ids = calloc(m->n ? m->n : 1, sizeof(*ids));
        size_t n = 0, used = 0;
        for (size_t i = 0; ids && i < m->n; i++)
                if (strcmp(m->v[i]->cfg.ostemplate, name) == 0)
                        ids[n++] = m->v[i]->cfg.id;
        qsort(ids, n, sizeof(*ids), by_id);
        ret[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                const char *sep = i ? ", " : "";
                /* Room for this ID and for " and 99999 more" after it. */
                if (used + strlen(sep) + strlen(ids[i]) + 20 >= size) {
                        (void)snprintf(ret + used, size - used, " and %zu more", n - i);
                        return;
                }
                used += (size_t)snprintf(ret + used, size - used, "%s%s", sep, ids[i]);
        }
}

int vps_template_get(struct vps_manager *m, const char *name, json_t **ret, vps_error *err)
{
        int r = vps_template_name_check(name, err);
        if (r < 0)
                return r;
        char path[128];
        (void)snprintf(path, sizeof(path), "%s/meta.json", name);
        _cleanup_free_ char *text = NULL;
        r = vps_read_file_at(m->tpl_fd, path, &text, NULL, err);
        if (r == -ENOENT)
                return vps_err(err, ENOENT, "unknown template '%s' (see 'vpsctl template list')",
                               name);
        if (r < 0)
                return r;
        json_error_t jerr;
        json_t *meta = json_loads(text, 0, &jerr);
        if (!json_is_object(meta) || !json_is_string(json_object_get(meta, "distro"))) {
                json_decref(meta);
                return vps_err(err, EBADMSG, "template '%s': bad meta.json", name);
        }
        json_object_set_new(meta, "in_use", json_integer(count_users(m, name)));
        *ret = meta;
        return 0;
}

int vps_templates_list(struct vps_manager *m, json_t **ret, vps_error *err)
{
        _cleanup_closedir_ DIR *d = vps_opendir_fd(m->tpl_fd);
        if (!d)
                return vps_err_sys(err, errno, "reading templates");
        rewinddir(d);
        _cleanup_json_ json_t *arr = json_array();
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                json_t *t = NULL;
                vps_error e;
                if (vps_template_get(m, de->d_name, &t, &e) == 0)
                        json_array_append_new(arr, t);
        }
        *ret = TAKE_PTR(arr);
        return 0;
}

/* Each template (and any build a crash left behind) host root's alone: a root laid out by
 * an older vpsd had them 0755, with setuid-root files and device nodes inside. */
int vps_templates_tighten(struct vps_manager *m, vps_error *err)
{
        _cleanup_closedir_ DIR *d = vps_opendir_fd(m->tpl_fd);
        if (!d)
                return vps_err_sys(err, errno, "reading templates");
        rewinddir(d);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                        continue;
                _cleanup_close_ int fd = openat(m->tpl_fd, de->d_name,
                                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0 && fchmod(fd, 0700) < 0)
                        return vps_err_sys(err, errno, "chmod templates/%s", de->d_name);
        }
        return 0;
}

int vps_template_write_meta(int dfd, const char *name, const char *version, const char *distro,
                            unsigned long long size, vps_error *err)
{
        const struct vps_distro *d = vps_distro_find(distro);
        if (!d)
                return vps_err(err, EINVAL, "unknown distro '%s'", distro);
        _cleanup_json_ json_t *meta =
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "name", name, "version", version,
                          "distro", d->name, "init", d->init, "halt_signal", d->halt_signal, "size",
                          (json_int_t)size, "created_at", (json_int_t)time(NULL));
        _cleanup_free_ char *text = meta ? json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (!text)
                return vps_err(err, ENOMEM, "out of memory");
        return vps_write_file_atomic(dfd, "meta.json", text, strlen(text), 0644, err);
}

static int build_into(struct vps_manager *m, const char *stage, const char *name, vps_error *err)
{
        _cleanup_close_ int sfd = openat(m->tpl_fd, stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
                return vps_err_sys(err, errno, "opening %s", stage);
        if (mkdirat(sfd, "rootfs", 0755) < 0)
                return vps_err_sys(err, errno, "creating rootfs");
        _cleanup_close_ int rfd = openat(sfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return vps_err_sys(err, errno, "opening rootfs");
        char bbv[64], version[128];
        int r = vps_build_busybox(rfd, BUSYBOX_PATH, bbv, sizeof(bbv), err);
        if (r < 0)
                return r;
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char stamp[32];
        (void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        (void)snprintf(version, sizeof(version), "%s-%s", bbv, stamp);
        return vps_template_write_meta(sfd, name, version, "busybox", vps_template_tree_size(rfd),
                                       err);
}

int vps_template_build(struct vps_manager *m, const char *name, json_t **ret, vps_error *err)
{
        int r = vps_template_name_check(name, err);
        if (r < 0)
                return r;
        if (strcmp(name, "busybox") != 0)
                return vps_err(err, EINVAL, "cannot build template '%s': this vpsd builds: %s",
                               name, vps_recipe_names());
        if (faccessat(m->tpl_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return vps_err(err, EEXIST, "template '%s' already exists", name);
        char stage[128];
        (void)snprintf(stage, sizeof(stage), ".build-%s-%d", name, (int)getpid());
        vps_error ignored;
        (void)vps_rm_rf_at(m->tpl_fd, stage, &ignored);
        if (mkdirat(m->tpl_fd, stage, 0700) < 0)
                return vps_err_sys(err, errno, "creating %s", stage);
        r = build_into(m, stage, name, err);
        if (r == 0 && renameat2(m->tpl_fd, stage, m->tpl_fd, name, RENAME_NOREPLACE) < 0)
                r = errno == EEXIST ? vps_err(err, EEXIST, "template '%s' already exists", name)
                                    : vps_err_sys(err, errno, "publishing template %s", name);
        if (r < 0) {
                (void)vps_rm_rf_at(m->tpl_fd, stage, &ignored);
                return vps_err_wrap(err, "building template %s", name);
        }
        (void)fsync(m->tpl_fd);
        return vps_template_get(m, name, ret, err);
}

int vps_template_remove(struct vps_manager *m, const char *name, vps_error *err)
{
        _cleanup_json_ json_t *meta = NULL;
        int r = vps_template_get(m, name, &meta, err);
        if (r < 0)
                return r;
        int users = count_users(m, name);
        if (users > 0) {
                char ids[256];
                users_of(m, name, ids, sizeof(ids));
                return vps_err(err, EBUSY, "template '%s' is used by VPS %s (destroy %s first)",
                               name, ids, users == 1 ? "it" : "them");
        }
        /* Gone from the list at once; its files (a guest's, for one made from a VPS or a
         * backup) are the caller's to remove off its loop. */
        char trash[NAME_MAX + 1];
        r = vps_trash_rename(m->tpl_fd, name, name, trash, sizeof(trash), err);
        if (r == -ENOENT)
                r = vps_err(err, ENOENT, "no template '%s'", name);
        return r < 0 ? vps_err_wrap(err, "removing template %s", name) : 0;
}
