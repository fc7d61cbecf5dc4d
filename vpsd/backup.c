/* vpsd: backup and restore streams. `POST /v1/vps/ID/backup` and `POST /v1/restore` are
 * HTTP Upgrades (vps-backup, vps-restore); the upgraded socket goes to a child of vpsd that
 * writes the archive to it (backup_job.c) or reads archives from it (restore.c; frames:
 * storage/backup.h), so vpsd never opens a file a client names: vpsctl reads and writes the
 * files, as its caller. This is the loop's side: the routes, the children's start and end, and
 * a restore's commit when its child asks for it. The VPS is busy meanwhile: no start, change
 * or destroy. */
#include "backup.h"

#include "events.h"
#include "backup_job.h"
#include "copy_job.h"
#include "jobs.h"
#include "log.h"
#include "migration_events.h"
#include "redact.h"
#include "loop.h"
#include "progress_feed.h"
#include "restore.h"
#include "starts.h"
#include "stream.h"
#include "suspend_routes.h"
#include "storage/backup.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"
#include "vps/util.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct vpsd_stream *streams;

bool vpsd_stream_route(const char *url)
{
        size_t n = strlen(url);
        return !strcmp(url, "/v1/restore") ||
               (!strncmp(url, "/v1/vps/", 8) && n > 15 && !strcmp(url + n - 7, "/backup"));
}

int vpsd_stream_busy(struct vpsd *d, const char *id, vps_error *err)
{
        (void)d;
        for (struct vpsd_stream *s = streams; s; s = s->next)
                if (!s->done && !strcmp(s->id, id))
                        return vps_err(err, EBUSY, "VPS %s is busy: a %s of it is under way", id,
                                       vpsd_stream_what(s));
        return 0;
}

/* What the request gate refuses for the routes (handlers.c), for a stream: a start or a
 * resume under way holds the VPS's record, which a restore --force frees and replaces. */
static int stream_vps_busy(struct vpsd *d, const char *id, vps_error *err)
{
        if (vpsd_stream_busy(d, id, err) < 0 || vpsd_copy_busy(d, id, false, err) < 0 ||
            vpsd_start_busy(d, id, err) < 0 || vpsd_criu_busy(d, id, err) < 0)
                return -err->code;
        return 0;
}

static void stream_free(struct vpsd *d, struct vpsd_stream *s)
{
        for (struct vpsd_stream **p = &streams; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        if (s->ctl >= 0) {
                vpsd_event_del(&d->ev, &s->w);
                close(s->ctl);
        }
        if (s->urh) {
                (void)MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
                d->mhd_kick = true;
        }
        free(s);
}

static uint32_t free_uid_base(struct vpsd *d)
{
        for (uint32_t base = VPS_UID_START;; base += VPS_UID_COUNT) {
                bool used = false;
                for (size_t i = 0; i < d->m.n && !used; i++)
                        used = base < (uint64_t)d->m.v[i]->cfg.uid_base +
                                               d->m.v[i]->cfg.uid_count &&
                               d->m.v[i]->cfg.uid_base < (uint64_t)base + VPS_UID_COUNT;
                for (struct vpsd_stream *s = streams; s && !used; s = s->next)
                        used = s->kind == VPSD_STREAM_RESTORE && s->uid_base == base;
                if (!used)
                        return base;
        }
}

static void on_ctl(struct vpsd_source *src, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct vpsd_stream *s = vpsd_container_of(src, struct vpsd_stream, w);
        char c;
        ssize_t n = read(s->ctl, &c, 1);
        if (n == 1 && c == 'D') {
                /* Its last frame is about to go out: the VPS is no longer busy with it. */
                s->done = true;
                if (write(s->ctl, "O", 1) < 0)
                        vpsd_log("%s %s: answering its child: %s", vpsd_stream_what(s), s->id,
                                 strerror(errno));
                return;
        }
        if (n == 1 && c == 'R' && s->kind == VPSD_STREAM_RESTORE) {
                vps_error err = {0};
                char msg[VPS_ERROR_MSG_MAX + 32];
                if (vpsd_restore_commit(d, s, &err) == 0)
                        (void)snprintf(msg, sizeof(msg), "O");
                else
                        (void)snprintf(msg, sizeof(msg), "FE:%d:%s", err.code, err.msg);
                if (write(s->ctl, msg, strlen(msg)) < 0)
                        vpsd_log("restore %s: answering its child: %s", s->id, strerror(errno));
                return;
        }
        if (n < 0 && errno == EINTR)
                return;
        /* The child has ended (its end is closed only by its exit). */
        int status = 0;
        while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
                ;
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        vpsd_log("%s of VPS %s %s", vpsd_stream_what(s), s->id, ok ? "done" : "failed");
        vpsd_emit_result(d, vpsd_stream_what(s), s->id,
                         ok ? NULL : &(vps_error){EIO, "its child failed"}, NULL);
        /* A migration's copy: the destination's part ends with its restore; the source's
         * goes on (the start there, its removal here) unless the backup failed. */
        bool out = s->kind == VPSD_STREAM_BACKUP;
        if (s->migrate[0] && (!ok || !out))
                vpsd_migration_end(d, s->id, out, NULL,
                                   ok ? NULL : &(vps_error){EIO, "the copy failed"});
        stream_free(d, s);
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
        struct vpsd_stream *s = cls;
        struct vpsd *d = *(struct vpsd **)(s + 1);
        (void)c;
        (void)con_cls;
        s->sock = sock;
        s->urh = urh;
        vps_error err = {0};
        struct vps_inst *vi = NULL;
        int sp[2] = {-1, -1};
        /* vpsctl sends nothing before our 101 arrives, so nothing was read past it. */
        if (extra_len > 0)
                vps_err(&err, EPROTO, "data before the upgrade");
        else if (s->kind == VPSD_STREAM_BACKUP && !(vi = vps_manager_find(&d->m, s->id, &err)))
                ;
        else if (vi && vi->status == VPS_STOPPING)
                vps_err(&err, EBUSY, "VPS %s is stopping; try again when it has stopped", s->id);
        else if (stream_vps_busy(d, s->id, &err) < 0 || vpsd_job_check_busy(d, vi, false, &err) < 0)
                ;
        else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                vps_err_sys(&err, errno, "socketpair");
        struct vps_inst *old = s->force ? vps_manager_find(&d->m, s->id, &err) : NULL;
        if (!err.code && s->kind == VPSD_STREAM_RESTORE) {
                /* A VPS replaced keeps its range (its files go with it). */
                s->uid_base = old ? old->cfg.uid_base : free_uid_base(d);
                (void)snprintf(s->staging, sizeof(s->staging), VPS_TRASH_PREFIX ".restore-%s-%u",
                               s->id, (unsigned int)time(NULL));
                vps_error ignored;
                (void)vps_rm_rf_at(d->m.vps_fd, s->staging, &ignored);
                if (mkdirat(d->m.vps_fd, s->staging, 0700) < 0)
                        vps_err_sys(&err, errno, "creating the staging directory");
        }
        if (err.code) {
                (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
                _cleanup_json_ json_t *j =
                        json_pack("{s:s, s:i}", "error", err.msg, "errno", err.code);
                if (s->token)
                        j = vpsd_redact_error(d, j);
                _cleanup_free_ char *t = json_dumps(j, JSON_COMPACT);
                vps_error e;
                (void)vps_frame_write(sock, 'E', t, strlen(t), &e);
                vps_closep(&sp[0]);
                vps_closep(&sp[1]);
                s->ctl = -1;
                stream_free(d, s);
                return;
        }
        s->ctl = sp[0];
        vpsd_source_set(&s->w, s->ctl, EPOLLIN, on_ctl, d);
        (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
        fflush(NULL);
        int feed;
        vpsd_progress_feed_open(d, s->id, vpsd_stream_what(s), &feed);
        s->pid = fork();
        if (s->pid == 0) {
                close(sp[0]);
                s->ctl = sp[1];
                vpsd_stream_child_ctl(s->ctl);
                if (s->token)
                        vpsd_stream_child_redact(d);
                vpsd_progress_feed_child(feed);
                /* Its memory follows the guest's tree (a walk, a MANIFEST): not vpsd's -500. */
                (void)vps_oom_score_self(0);
                if (s->kind == VPSD_STREAM_BACKUP)
                        vpsd_backup_child(d, vi, s);
                vpsd_restore_child(d, s);
        }
        int fork_errno = errno;
        close(sp[1]);
        vps_closep(&feed); /* the child's alone: its end closes when it exits */
        vps_error ev_err = {.code = fork_errno};
        if (s->pid < 0 || vpsd_event_attach(&d->ev, &s->w, &ev_err) < 0) {
                vpsd_log("%s %s: %s", vpsd_stream_what(s), s->id, strerror(ev_err.code));
                if (s->pid > 0) {
                        (void)kill(s->pid, SIGKILL);
                        (void)waitpid(s->pid, NULL, 0);
                }
                stream_free(d, s);
                return;
        }
        s->next = streams;
        streams = s;
        if (s->migrate[0])
                vpsd_migration_begin(d, s->id, s->kind == VPSD_STREAM_BACKUP, s->migrate);
}

bool vpsd_streams_running(void)
{
        return streams != NULL;
}

static const char *arg_of(struct MHD_Connection *c, const char *key)
{
        return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static bool flag_of(struct MHD_Connection *c, const char *key)
{
        const char *v = arg_of(c, key);
        return v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}

struct MHD_Response *vpsd_stream_response(struct vpsd *d, struct MHD_Connection *c, const char *url,
                                          bool token, vps_error *err)
{
        bool restore = !strcmp(url, "/v1/restore");
        const char *want = restore ? "vps-restore" : "vps-backup";
        const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Upgrade");
        if (!up || strcmp(up, want) != 0) {
                vps_err(err, EINVAL, "this endpoint needs 'Upgrade: %s'", want);
                return NULL;
        }
        /* The stream, followed by the vpsd it belongs to (on_upgrade's cls is the stream). */
        struct vpsd_stream *s = calloc(1, sizeof(*s) + sizeof(d));
        if (!s) {
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        *(struct vpsd **)(s + 1) = d;
        s->ctl = -1;
        s->sock = -1;
        s->kind = restore ? VPSD_STREAM_RESTORE : VPSD_STREAM_BACKUP;
        s->token = token;
        const char *id = restore ? arg_of(c, "id") : url + 8;
        size_t idlen = restore ? (id ? strlen(id) : 0) : strlen(url) - 8 - 7;
        int r = 0;
        if (!id || !idlen || idlen > VPS_ID_MAX)
                r = vps_err(err, EINVAL, "%s",
                            restore ? "'id' names the VPS to restore into" : "bad VPS ID");
        else
                (void)snprintf(s->id, sizeof(s->id), "%.*s", (int)idlen, id);
        if (r == 0)
                r = vps_id_check(s->id, err);
        s->full = flag_of(c, "full");
        s->incremental = flag_of(c, "incremental");
        s->force = flag_of(c, "force");
        s->trust_config = flag_of(c, "trust_config");
        s->checkpoint = flag_of(c, "checkpoint");
        const char *mkey = restore ? "migrate_from" : "migrate_to", *peer = arg_of(c, mkey);
        if (r == 0)
                r = vpsd_migration_peer_check(mkey, peer, err);
        if (r == 0 && peer)
                (void)snprintf(s->migrate, sizeof(s->migrate), "%s", peer);
        const char *ips = arg_of(c, "ipadd");
        if (r == 0 && ips) {
                s->has_ips = true;
                _cleanup_free_ char *copy = strdup(ips);
                char *save = NULL;
                for (char *p = copy ? strtok_r(copy, ",", &save) : NULL; p && r == 0;
                     p = strtok_r(NULL, ",", &save)) {
                        if (s->n_ip == VPS_MAX_IPS || strlen(p) >= VPS_IP_MAX)
                                r = vps_err(err, EINVAL, "bad --ipadd list");
                        else
                                (void)snprintf(s->ips[s->n_ip++], VPS_IP_MAX, "%s", p);
                }
        }
        const char *size = restore ? arg_of(c, "size") : NULL;
        if (r == 0 && size) {
                char *end = NULL;
                errno = 0;
                unsigned long long v = strtoull(size, &end, 10);
                if (!*size || *end || errno || size[0] == '-' || v > INT64_MAX)
                        r = vps_err(err, EINVAL, "bad 'size' (the archives' bytes): '%s'", size);
                s->size = v;
        }
        if (r == 0 && restore && !s->force) {
                vps_error e;
                if (vps_manager_find(&d->m, s->id, &e))
                        r = vps_err(err, EEXIST,
                                    "VPS %s already exists (--force replaces a stopped one)",
                                    s->id);
        }
        if (r == 0 && restore && s->force) {
                struct vps_inst *vi = vps_manager_find(&d->m, s->id, err);
                if (!vi)
                        r = -err->code;
                else if (vi->status != VPS_STOPPED)
                        r = vps_err(err, EBUSY, "VPS %s is running; stop it before replacing it",
                                    s->id);
        }
        if (r == 0 && !restore) {
                struct vps_inst *vi = vps_manager_find(&d->m, s->id, err);
                if (!vi)
                        r = -err->code;
                else if (s->checkpoint && !vi->suspended)
                        r = vps_err(err, EINVAL, "VPS %s is not suspended: no images to send",
                                    s->id);
        }
        /* The images go only into a migration's copy (admin: api.c refuses a token). */
        if (r == 0 && s->checkpoint && !s->migrate[0])
                r = vps_err(err, EINVAL, "'checkpoint' belongs to a migration (%s)", mkey);
        if (r == 0)
                r = stream_vps_busy(d, s->id, err);
        if (r < 0) {
                free(s);
                return NULL;
        }
        struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, s);
        if (!resp) {
                free(s);
                vps_err(err, ENOMEM, "out of memory");
                return NULL;
        }
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, want);
        return resp;
}
