/* vpsctl backup and restore: the archive's bytes cross the API socket (an HTTP Upgrade, then
 * frames: vps/backup.h); vpsctl reads and writes the files itself, as its caller, so vpsd
 * (root) never opens a path a client names. A backup is written under a temporary name
 * beside its target and renamed once complete. */
#include "vpsctl.h"
#include "client.h"
#include "migrate_node.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/backup.h"
#include "vps/cleanup.h"
#include "vps/util.h"

#define HEAD_MAX  8192
#define CHAIN_MAX 64

static const char backup_usage[] =
        "Usage: vpsctl backup ID [--to FILE|-] [--full] [--incremental-from FILE] [-j]\n"
        "\n"
        "Write a backup of the VPS ID: one archive (tar, zstd) with its config.json,\n"
        "its own files (the upper layer over its template), the template's name and version,\n"
        "and a MANIFEST with a SHA-256 per file. Owners are kept relative to the VPS, so the\n"
        "backup restores into another id range or host. The file is written under a\n"
        "temporary name beside FILE, flushed and renamed when complete (its directory\n"
        "flushed too). A running VPS is frozen only while its upper layer is copied\n"
        "(frozen_ms in -j). On a terminal, the progress (a percentage of the paths to\n"
        "walk) is shown on standard error.\n"
        "\n"
        "Options:\n"
        "  --to FILE       where to write it (default ID-YYYYMMDD-HHMMSS.tar.zst here);\n"
        "                  '-' writes the archive to standard output\n"
        "  --full          add the merged root, so it restores on a host without the template\n"
        "  --incremental-from FILE\n"
        "                  only what changed since the backup FILE (deletions recorded); a\n"
        "                  restore needs the whole chain in one directory\n"
        "  -j, --json      no progress; print the result as JSON\n"
        "  -h, --help      print this help and exit\n";

static const char restore_usage[] =
        "Usage: vpsctl restore FILE [ID] [--ipadd IP]... [--force] [--trust-config]\n"
        "                      [--migrated-from HOST [--checkpoint]] [-j]\n"
        "\n"
        "Make the VPS ID (default: the one backed up) from the backup FILE ('-': one archive\n"
        "on standard input, ID required), with an id range,\n"
        "MAC and disk project of its own and the data the same. An incremental FILE is\n"
        "restored with its chain: its bases are looked for in FILE's directory (the\n"
        "caller's or root's files alone). Without\n"
        "--ipadd the new VPS has no addresses (with --force, the replaced one's). A --full\n"
        "backup whose template this host lacks brings it along as template restored-ID.\n"
        "A refused or interrupted restore leaves nothing. On a terminal, the progress (a\n"
        "percentage of the bytes to send) is shown on standard error.\n"
        "\n"
        "Options:\n"
        "  --ipadd IP  an address for it (repeatable)\n"
        "  --force     replace the stopped VPS ID\n"
        "  --trust-config\n"
        "              take the backup's features and devnodes too (a file anyone may have\n"
        "              edited: without it they are the replaced VPS's, or none, and named)\n"
        "  --migrated-from HOST\n"
        "              the restore is a migration's copy from HOST (vpsctl migrate passes it):\n"
        "              vpsd's events say so ('migration'), and its first start or resume\n"
        "              announces its addresses (vpsd.conf announce)\n"
        "  --checkpoint  with '-' and --migrated-from: standard input carries the frames of an\n"
        "              online migration (vpsctl migrate --online passes it): the archive,\n"
        "              then the VPS's checkpoint images; the VPS is restored suspended\n"
        "  -j, --json  no progress; print the result as JSON\n"
        "  -h, --help  print this help and exit\n";

/* One frame from vpsd handled: 'D' to out_fd, 'P' shown, 'E' into err (-code), 'K' into
 * *ret (returns 1). 0 to go on. */
static int on_frame(int fd, int out_fd, struct vpsctl_progress *p, char *buf, json_t **ret,
                    vps_error *err)
{
        char type;
        size_t n;
        int r = vps_frame_read(fd, &type, buf, &n, err);
        if (r == -ECONNRESET)
                return vps_err(err, ECONNRESET, "vpsd ended the stream without a result");
        if (r < 0)
                return r;
        switch (type) {
        case 'D':
                if (out_fd < 0)
                        return vps_err(err, EPROTO, "unexpected data from vpsd");
                for (size_t done = 0; done < n;) {
                        ssize_t k = write(out_fd, buf + done, n - done);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0)
                                return vps_err_sys(err, errno, "writing the backup");
                        done += (size_t)k;
                }
                return 0;
        case 'P':
                vpsctl_progress_show(p, buf, n);
                return 0;
        case 'E':
                vpsctl_progress_done(p);
                return client_error_from_body(buf, n, 500, err);
        case 'K':
                vpsctl_progress_done(p);
                *ret = json_loadb(buf, n, 0, NULL);
                return *ret ? 1 : vps_err(err, EBADMSG, "a bad result from vpsd");
        default:
                return vps_err(err, EPROTO, "an unexpected frame from vpsd");
        }
}

/* A send to vpsd failed (err): when vpsd refused the request before reading it (busy, no
 * such VPS) and closed the stream, its 'E' frame waits unread: that reason, not the
 * broken pipe, is what to tell. */
static int refusal(int fd, vps_error *err)
{
        if (err->code != EPIPE && err->code != ECONNRESET)
                return -err->code;
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX);
        char type;
        size_t n;
        vps_error e;
        if (buf && vps_frame_read(fd, &type, buf, &n, &e) == 0 && type == 'E')
                return client_error_from_body(buf, n, 500, err);
        return -err->code;
}

/* --- reading backup files --------------------------------------------------------------- */

static int peek_file(const char *path, struct vps_backup_info *info, char **manifest, size_t *mlen,
                     vps_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        int r = vps_backup_peek_fd(fd, info, manifest, mlen, err);
        return r < 0 ? vps_err_wrap(err, "%s", path) : 0;
}

/* --- backup ------------------------------------------------------------------------------- */

static int send_base(int fd, const char *base, vps_error *err)
{
        struct vps_backup_info info;
        _cleanup_free_ char *mf = NULL;
        size_t len = 0;
        int r = peek_file(base, &info, &mf, &len, err);
        if (r < 0)
                return r;
        char *nl = memchr(mf, '\n', len);
        if (!nl)
                return vps_err(err, EBADMSG, "%s: a bad MANIFEST", base);
        /* The MANIFEST's first line, the base's id, then the rest. */
        size_t head = (size_t)(nl + 1 - mf);
        char idline[34];
        (void)snprintf(idline, sizeof(idline), "%s\n", info.backup_id);
        if ((r = vps_frame_write(fd, 'M', mf, head, err)) < 0 ||
            (r = vps_frame_write(fd, 'M', idline, 33, err)) < 0)
                return r;
        for (size_t off = head; off < len; off += VPS_FRAME_MAX) {
                size_t n = len - off < VPS_FRAME_MAX ? len - off : VPS_FRAME_MAX;
                if ((r = vps_frame_write(fd, 'M', mf + off, n, err)) < 0)
                        return r;
        }
        return 0;
}

struct tmpfile {
        char path[4200];
        int fd;
};

static void tmpfile_drop(struct tmpfile *t)
{
        if (t->fd >= 0) {
                (void)close(t->fd);
                (void)unlink(t->path);
        }
}

/* fsync of the directory holding path (its entry, renamed into place). */
static int dir_sync(const char *path)
{
        _cleanup_free_ char *d = strdup(path);
        if (!d) {
                errno = ENOMEM;
                return -1;
        }
        _cleanup_close_ int fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -1;
        return 0;
}

static int tmp_open(struct tmpfile *t, const char *dest, vps_error *err)
{
        _cleanup_free_ char *d1 = strdup(dest), *d2 = strdup(dest);
        if (!d1 || !d2)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        (void)snprintf(t->path, sizeof(t->path), "%s/.%s.part-%d", dirname(d1), basename(d2),
                       (int)getpid());
        t->fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (t->fd < 0)
                return vps_err_sys(err, errno, "creating %s", t->path);
        return 0;
}

int cmd_backup(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {"to", required_argument, NULL, 't'},
                {"full", no_argument, NULL, 'f'},
                {"incremental-from", required_argument, NULL, 'i'},
                {0},
        };
        const char *to = NULL, *base = NULL;
        bool json = false, full = false;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(backup_usage);
                else if (c == 'j')
                        json = true;
                else if (c == 't')
                        to = optarg;
                else if (c == 'f')
                        full = true;
                else if (c == 'i')
                        base = optarg;
                else
                        return vpsctl_opt_error(v, c, argv);
        }
        vpsctl_json_errors(json);
        const char *id;
        int r = vpsctl_take_id(v, argc, argv, &id);
        if (r != CMD_CONTINUE)
                return r;
        if (optind + 1 < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 1]);
        char dflt[128];
        if (!to) {
                time_t now = time(NULL);
                struct tm tm;
                (void)localtime_r(&now, &tm);
                (void)snprintf(dflt, sizeof(dflt), "%s-%04d%02d%02d-%02d%02d%02d.tar.zst", id,
                               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                               tm.tm_sec);
                to = dflt;
        }
        bool to_stdout = !strcmp(to, "-");
        if (to_stdout && isatty(STDOUT_FILENO))
                return vpsctl_usage_error(v, "--to - writes the archive to standard output, "
                                             "which is a terminal");
        vps_error err = {0};
        struct stat st;
        if (!to_stdout && lstat(to, &st) == 0) {
                vps_err(&err, EEXIST, "%s already exists: not overwritten", to);
                return vpsctl_fail_err(&err);
        }
        char path[256];
        (void)snprintf(path, sizeof(path), "/v1/vps/%s/backup?full=%d&incremental=%d", id, full,
                       base != NULL);
        _cleanup_close_ int fd = -1;
        if ((r = vpsctl_stream_open(v, path, "vps-backup", NULL, &fd, NULL, &err)) < 0)
                return vpsctl_fail_err(&err);
        if ((base && (r = send_base(fd, base, &err)) < 0) ||
            (r = vps_frame_write(fd, 'Z', NULL, 0, &err)) < 0) {
                (void)refusal(fd, &err);
                return vpsctl_fail_err(&err);
        }
        __attribute__((cleanup(tmpfile_drop))) struct tmpfile t = {.fd = -1};
        if (!to_stdout && (r = tmp_open(&t, to, &err)) < 0)
                return vpsctl_fail_err(&err);
        struct vpsctl_progress p = {.on = !json && isatty(STDERR_FILENO), .what = "backup"};
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX);
        _cleanup_json_ json_t *res = NULL;
        if (!buf)
                return vpsctl_fail("%s", strerror(ENOMEM));
        while ((r = on_frame(fd, to_stdout ? STDOUT_FILENO : t.fd, &p, buf, &res, &err)) == 0)
                ;
        if (r < 0) {
                vpsctl_progress_done(&p);
                return vpsctl_fail_err(&err);
        }
        if (!to_stdout) {
                if (fsync(t.fd) < 0 || close(t.fd) < 0) {
                        t.fd = -1;
                        (void)unlink(t.path);
                        return vpsctl_fail("writing %s: %s", to, strerror(errno));
                }
                t.fd = -1;
                if (rename(t.path, to) < 0) {
                        int e = errno;
                        (void)unlink(t.path);
                        return vpsctl_fail("renaming to %s: %s", to, strerror(e));
                }
                /* The rename itself made durable: a crash now must not lose the name. */
                if (dir_sync(to) < 0)
                        return vpsctl_fail("syncing the directory of %s: %s", to, strerror(errno));
        }
        json_object_set_new(res, "file", json_string(to));
        if (json)
                return vpsctl_print_json(res);
        if (!to_stdout)
                printf("Backup of VPS %s written to %s (%lld files, %lld changed, %lld deleted)\n",
                       id, to, (long long)json_integer_value(json_object_get(res, "files")),
                       (long long)json_integer_value(json_object_get(res, "in_archive")),
                       (long long)json_integer_value(json_object_get(res, "deleted")));
        return 0;
}

/* --- restore ------------------------------------------------------------------------------ */

/* FILE and its bases, oldest first, found by backup id in FILE's directory: files of the
 * caller's or root's alone (in a shared directory another user could leave a file with a
 * base's id, whose contents the restored VPS would then hold). */
static int find_chain(const char *file, char chain[CHAIN_MAX][4200], int *ret_n,
                      struct vps_backup_info *ret_last, vps_error *err)
{
        struct vps_backup_info info;
        int r = peek_file(file, &info, NULL, NULL, err);
        if (r < 0)
                return r;
        *ret_last = info;
        char list[CHAIN_MAX][4200];
        int n = 0;
        (void)snprintf(list[n++], sizeof(list[0]), "%s", file);
        _cleanup_free_ char *d1 = strdup(file);
        const char *dir = d1 ? dirname(d1) : ".";
        while (info.base_id[0]) {
                if (n == CHAIN_MAX)
                        return vps_err(err, ELOOP, "a chain of more than %d backups", CHAIN_MAX);
                _cleanup_closedir_ DIR *dh = opendir(dir);
                if (!dh)
                        return vps_err_sys(err, errno, "reading %s", dir);
                bool found = false;
                char foreign[300] = "";
                struct dirent *de;
                while (!found && (de = readdir(dh))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char p[4200];
                        struct vps_backup_info bi;
                        vps_error e;
                        struct stat st;
                        (void)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                        if (stat(p, &st) < 0 || !S_ISREG(st.st_mode) ||
                            peek_file(p, &bi, NULL, NULL, &e) < 0 ||
                            strcmp(bi.backup_id, info.base_id) != 0)
                                continue;
                        if (st.st_uid != geteuid() && st.st_uid != 0) {
                                (void)snprintf(foreign, sizeof(foreign),
                                               " (%.200s has its id but is user %u's: not used)",
                                               de->d_name, (unsigned int)st.st_uid);
                                continue;
                        }
                        (void)snprintf(list[n++], sizeof(list[0]), "%s", p);
                        info = bi;
                        found = true;
                }
                if (!found)
                        return vps_err(err, ENOENT,
                                       "%s is incremental: its base (backup %s) is not in %s%s",
                                       list[n - 1], info.base_id, dir, foreign);
        }
        for (int i = 0; i < n; i++)
                memcpy(chain[i], list[n - 1 - i], sizeof(chain[0]));
        *ret_n = n;
        return 0;
}

/* The frames vpsd has sent meanwhile, handled (on_frame's result when not 0). */
static int frames_waiting(int fd, struct vpsctl_progress *p, char *in, json_t **ret, vps_error *err)
{
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        while (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLIN | POLLHUP))) {
                int r = on_frame(fd, -1, p, in, ret, err);
                if (r != 0)
                        return r;
        }
        return 0;
}

/* Sends one file's bytes as 'D' frames, then end (N or Z); frames from vpsd are handled as
 * they come. Returns 1 when vpsd already gave its result (*ret). */
static int send_file(int fd, const char *path, char end, struct vpsctl_progress *p, char *buf,
                     char *in, json_t **ret, vps_error *err)
{
        _cleanup_close_ int f =
                strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
        if (f < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        for (;;) {
                int r = frames_waiting(fd, p, in, ret, err);
                if (r != 0)
                        return r;
                ssize_t n = read(f, buf, VPS_FRAME_MAX);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vps_err_sys(err, errno, "reading %s", path);
                r = vps_frame_write(fd, n ? 'D' : end, buf, (size_t)n, err);
                if (r < 0 || n == 0)
                        return r;
        }
}

/* An online migration's stream on stdin, already in frames ('D' the archive, 'C' the
 * images, 'Z' the end): passed on as they come. Its end without 'Z' (the wire cut) ends
 * here without a 'Z', so vpsd's restore leaves nothing. */
static int send_frames(int fd, struct vpsctl_progress *p, char *buf, char *in, json_t **ret,
                       vps_error *err)
{
        for (;;) {
                int r = frames_waiting(fd, p, in, ret, err);
                if (r != 0)
                        return r;
                char type;
                size_t n;
                r = vps_frame_read(STDIN_FILENO, &type, buf, &n, err);
                if (r < 0)
                        return vps_err(err, ECANCELED, "the migration's stream ended early (%s)",
                                       r == -ECONNRESET ? "cut" : err->msg);
                if (type != 'D' && type != 'C' && type != 'Z')
                        return vps_err(err, EPROTO,
                                       "an unexpected frame in the migration's stream");
                if ((r = vps_frame_write(fd, type, buf, n, err)) < 0 || type == 'Z')
                        return r;
        }
}

int cmd_restore(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {"ipadd", required_argument, NULL, 'i'},
                {"force", no_argument, NULL, 'f'},
                {"trust-config", no_argument, NULL, 'T'},
                {"migrated-from", required_argument, NULL, 'M'},
                {"checkpoint", no_argument, NULL, 'C'},
                {0},
        };
        bool json = false, force = false, trust = false, ckpt = false;
        char from[80] = "";
        char ips[1024] = "";
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(restore_usage);
                else if (c == 'j')
                        json = true;
                else if (c == 'f')
                        force = true;
                else if (c == 'T')
                        trust = true;
                else if (c == 'C')
                        ckpt = true;
                else if (c == 'M') {
                        migrate_peer_arg(from, sizeof(from), "migrate_from", optarg);
                        if (!from[0])
                                return vpsctl_usage_error(v, "bad --migrated-from '%s'", optarg);
                } else if (c == 'i') {
                        if (strlen(ips) + strlen(optarg) + 2 > sizeof(ips) ||
                            strspn(optarg, "0123456789abcdefABCDEF.:") != strlen(optarg))
                                return vpsctl_usage_error(v, "bad --ipadd '%s'", optarg);
                        if (ips[0])
                                strcat(ips, ",");
                        strcat(ips, optarg);
                } else
                        return vpsctl_opt_error(v, c, argv);
        }
        vpsctl_json_errors(json);
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing the backup FILE");
        const char *file = argv[optind];
        const char *id = optind + 1 < argc ? argv[optind + 1] : NULL;
        if (optind + 2 < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 2]);
        if (id && vpsctl_check_id(id) != CMD_CONTINUE)
                return vpsctl_check_id(id);
        if (ckpt && (strcmp(file, "-") != 0 || !from[0]))
                return vpsctl_usage_error(v, "--checkpoint needs FILE '-' and --migrated-from");
        vps_error err = {0};
        static char chain[CHAIN_MAX][4200];
        int n = 0;
        struct vps_backup_info last;
        int r = 0;
        if (!strcmp(file, "-")) { /* one archive (no chain) on stdin, as migrate sends it */
                if (!id)
                        return vpsctl_usage_error(v, "restore - needs the ID");
                if (isatty(STDIN_FILENO))
                        return vpsctl_usage_error(v, "restore - reads the archive from standard "
                                                     "input, which is a terminal");
                (void)snprintf(chain[0], sizeof(chain[0]), "-");
                n = 1;
        } else if ((r = find_chain(file, chain, &n, &last, &err)) < 0)
                return vpsctl_fail_err(&err);
        if (!id)
                id = last.id;
        if (vps_id_check(id, &err) < 0)
                return vpsctl_fail_err(&err);
        /* The bytes to send, for vpsd's progress (a percentage). */
        unsigned long long size = 0;
        for (int i = 0; i < n; i++) {
                struct stat st;
                if (stat(chain[i], &st) == 0)
                        size += (unsigned long long)st.st_size;
        }
        char path[1400];
        (void)snprintf(path, sizeof(path), "/v1/restore?id=%s&size=%llu%s%s%s%s%s%s", id, size,
                       force ? "&force=1" : "", trust ? "&trust_config=1" : "",
                       ips[0] ? "&ipadd=" : "", ips, from, ckpt ? "&checkpoint=1" : "");
        _cleanup_close_ int fd = -1;
        if ((r = vpsctl_stream_open(v, path, "vps-restore", NULL, &fd, NULL, &err)) < 0)
                return vpsctl_fail_err(&err);
        struct vpsctl_progress p = {
                .on = !json && isatty(STDERR_FILENO), .what = "restore", .verb = "read"};
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX), *in = malloc(VPS_FRAME_MAX);
        _cleanup_json_ json_t *res = NULL;
        if (!buf || !in)
                return vpsctl_fail("%s", strerror(ENOMEM));
        for (int i = 0; i < n && r == 0 && !ckpt; i++)
                r = send_file(fd, chain[i], i + 1 == n ? 'Z' : 'N', &p, buf, in, &res, &err);
        if (ckpt && (r = send_frames(fd, &p, buf, in, &res, &err)) < 0 && r != -EPIPE &&
            r != -ECONNRESET)
                return vpsctl_fail_err(&err);
        /* vpsd stopped reading (a full disk, the ID taken): its own error frame says why. */
        if (r == -EPIPE || r == -ECONNRESET) {
                vps_error e = {0};
                int k;
                while ((k = on_frame(fd, -1, &p, in, &res, &e)) == 0)
                        ;
                if (k < 0 && e.code != ECONNRESET && e.code != EPIPE)
                        err = e;
                else if (k > 0)
                        r = 1; /* it took all it needed: its result */
        }
        while (r == 0)
                r = on_frame(fd, -1, &p, in, &res, &err);
        if (r < 0) {
                vpsctl_progress_done(&p);
                return vpsctl_fail_err(&err);
        }
        if (json)
                return vpsctl_print_json(res);
        printf("VPS %s restored from %s%s (template %s)\n", id, file, n > 1 ? " and its bases" : "",
               json_string_value(json_object_get(res, "template")) ?: "?");
        size_t k;
        json_t *nt;
        json_array_foreach(json_object_get(res, "not_taken"), k, nt)
                fprintf(stderr, "vpsctl: the backup's %s not taken (--trust-config takes them)\n",
                        json_string_value(nt));
        return 0;
}
