/* vpsd: the audit log. Written by the loop alone (one write(2) per line, O_APPEND), so lines
 * never interleave; rotated by renames like vpsd.log. */
#include "audit.h"

#include "log.h"
#include "tls.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int vpsd_audit_open(struct vpsd *d, const char *root, vps_error *err)
{
        int r = vpsd_remote_dir(root, d->audit_dir, sizeof(d->audit_dir), err);
        if (r < 0)
                return r;
        char path[600];
        (void)snprintf(path, sizeof(path), "%s/audit.log", d->audit_dir);
        if (d->audit_fd >= 0)
                close(d->audit_fd);
        d->audit_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (d->audit_fd < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        (void)fchmod(d->audit_fd, 0600);
        return 0;
}

static void rotate(struct vpsd *d)
{
        char from[640], to[640];
        for (int k = (int)d->audit_keep - 1; k >= 1; k--) {
                (void)snprintf(from, sizeof(from), "%s/audit.log.%d", d->audit_dir, k);
                (void)snprintf(to, sizeof(to), "%s/audit.log.%d", d->audit_dir, k + 1);
                (void)rename(from, to);
        }
        (void)snprintf(from, sizeof(from), "%s/audit.log", d->audit_dir);
        (void)snprintf(to, sizeof(to), "%s/audit.log.1", d->audit_dir);
        if (rename(from, to) < 0)
                return;
        vps_error err;
        if (vpsd_audit_open(d, d->m.root, &err) < 0)
                vpsd_log("audit: %s", err.msg);
}

void vpsd_audit_write(struct vpsd *d, const char *client, const char *verb, const char *method,
                      const char *path, const char *vps, unsigned int status)
{
        if (d->audit_fd < 0)
                return;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        char when[40];
        gmtime_r(&ts.tv_sec, &tm);
        (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        _cleanup_json_ json_t *o =
                json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:i}", "time", when, "ts",
                          (json_int_t)ts.tv_sec, "client", client, "verb", verb, "method", method,
                          "path", path, "vps", vps, "status", (int)status);
        _cleanup_free_ char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (!line)
                return;
        size_t n = strlen(line);
        line[n] = '\n'; /* json_dumps's NUL: the line is written by its length */
        if (write(d->audit_fd, line, n + 1) != (ssize_t)(n + 1))
                vpsd_log("audit: writing a line failed: %s", strerror(errno));
        struct stat st;
        if (fstat(d->audit_fd, &st) == 0 && (uint64_t)st.st_size >= d->audit_max)
                rotate(d);
}

static void read_one(const char *path, int64_t since, json_t *out)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[8192];
        while (f && fgets(line, sizeof(line), f)) {
                json_t *o = json_loads(line, 0, NULL);
                if (!json_is_object(o) || json_integer_value(json_object_get(o, "ts")) < since) {
                        json_decref(o);
                        continue;
                }
                json_array_append_new(out, o);
                if (json_array_size(out) > VPSD_AUDIT_READ_MAX)
                        json_array_remove(out, 0);
        }
}

int vpsd_audit_read(struct vpsd *d, int64_t since, json_t **ret, vps_error *err)
{
        json_t *out = json_array();
        if (!out)
                return vps_err(err, ENOMEM, "out of memory");
        char path[640];
        for (int k = (int)d->audit_keep; k >= 0; k--) {
                if (k)
                        (void)snprintf(path, sizeof(path), "%s/audit.log.%d", d->audit_dir, k);
                else
                        (void)snprintf(path, sizeof(path), "%s/audit.log", d->audit_dir);
                read_one(path, since, out);
        }
        *ret = out;
        return 0;
}
