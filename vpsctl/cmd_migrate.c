/* vpsctl migrate: an offline move of a VPS to another host over ssh (vzmigrate's transport).
 * The source is stopped, its backup stream (vps/backup.h) piped into `vpsctl restore - ID` on
 * the destination, the copy started there, and only then the source removed. Until that
 * point the source is the one copy that may run: any failure restarts it (a guard process
 * does so if vpsctl itself is killed) and removes what the destination got; before the start
 * there it is fenced (migrate_fence.c: a crash of either vpsd). */
#include "vpsctl.h"
#include "client.h"
#include "migrate_int.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage/backup.h"
#include "vps/cleanup.h"

static const char migrate_usage[] =
        "Usage: vpsctl migrate ID DEST [--keep-src] [--full] [--fast] [--ssh-option OPT]...\n"
        "                      [--remote-socket PATH] [--remote-vpsctl PATH]\n"
        "                      [--online [--precopy N]] [-j]\n"
        "       vpsctl migrate ID --to-node NAME|auto [--keep-src] [--full] [--fast] [-j]\n"
        "\n"
        "Move the VPS ID to the host DEST ([user@]host[:port]), whose vpsd is reached by\n"
        "running its vpsctl through ssh (BatchMode: the operator's keys or agent). Offline:\n"
        "a running VPS is stopped (a clean halt), its backup (config, addresses, limits and\n"
        "upper layer) streamed into `vpsctl restore - ID` there and started there; the VPS\n"
        "here is destroyed only once the destination says it runs (or, for a stopped one,\n"
        "that it exists). The destination must have the template in the same version, or\n"
        "--full carries it along (as template restored-ID there). The ID must be free there.\n"
        "Any failure leaves the VPS here as it was (started again if it ran) and nothing on\n"
        "the destination; if vpsctl is killed, a guard process starts it here again. If\n"
        "either vpsd dies, vpsctl waits up to 60 s for it; when it cannot tell whether the\n"
        "copy there runs, the VPS here stays stopped and marked migrated (as --keep-src),\n"
        "which its error says: it never runs on both. Its first start or resume there\n"
        "announces its addresses (gratuitous ARP, unsolicited neighbour advertisements),\n"
        "so that routers and switches that cached them here update at once.\n"
        "\n"
        "With --to-node the destination is node NAME of this host's fleet (vpsd --cluster),\n"
        "or the one the placement rule picks (auto): the same steps over the nodes' remote\n"
        "APIs (its key pinned from etcd, this node's certificate presented), and the VPS's\n"
        "owner records in etcd moved to it in one transaction before it starts there.\n"
        "Refused: a node unknown, down or drained, without the template (unless --full),\n"
        "with the ID taken, or no quorum in etcd.\n"
        "\n"
        "Options:\n"
        "  --to-node NAME|auto   the destination is a node of the fleet (no DEST)\n"
        "  --keep-src            keep the VPS here, stopped, with onboot off and marked as\n"
        "                        migrated (migrated_to): start refuses it without --force\n"
        "  --full                also copy the template's files (for a destination without it)\n"
        "  --fast                stop a running VPS without a clean halt (as stop --fast)\n"
        "  --ssh-option OPT      passed to ssh as -o OPT (repeatable; before vpsctl's own\n"
        "                        BatchMode=yes, ConnectTimeout=10, ServerAliveInterval=5)\n"
        "  --remote-socket PATH  the destination vpsd's socket (default: its vpsctl's)\n"
        "  --remote-vpsctl PATH  the destination's vpsctl (default: vpsctl in its PATH)\n"
        "  --precopy N           with --online: N rounds (0-8) of criu pre-dump while the\n"
        "                        VPS runs, so that the frozen dump holds only what changed\n"
        "  --online              a live migration (CRIU): the VPS is checkpointed here (as\n"
        "                        suspend does), its images carried with its backup, restored\n"
        "                        suspended there and resumed; the same processes run on.\n"
        "                        Both vpsds must say checkpointing is available (else refused\n"
        "                        before anything is done); a failure resumes it here. The\n"
        "                        downtime (frozen here to running there) is reported\n"
        "  -j, --json            print the result as JSON\n"
        "  -h, --help            print this help and exit\n";

double migrate_now(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the steps ----------------------------------------------------------------------------- */

/* The destination must answer and not have the ID (its status exits 3: no such VPS). */
int migrate_preflight(struct migrate *m, vps_error *err)
{
        if (m->to_node)
                return node_preflight(&m->nd, m->id, err);
        const char *args[] = {"status", m->id, "-j", NULL};
        int st;
        char why[512];
        int r = ssh_run(&m->dest, args, &st, NULL, why, sizeof(why), err);
        if (r < 0)
                return r;
        if (st == EXIT_NOENT)
                return 0;
        if (st == 0)
                return vps_err(err, EEXIST, "%s already has a VPS %s: nothing done", m->dest.name,
                               m->id);
        if (st == 255)
                return vps_err(err, EHOSTUNREACH, "ssh %s: %s", m->dest.name,
                               why[0] ? why : "failed");
        return vps_err(err, EPROTO, "%s: %s; nothing done", m->dest.name,
                       why[0] ? why : "vpsctl failed there");
}

/* Writes all of buf to fd; -errno. */
static int write_all(int fd, const char *buf, size_t n)
{
        for (size_t done = 0; done < n;) {
                ssize_t k = write(fd, buf + done, n - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                done += (size_t)k;
        }
        return 0;
}

/* Bytes to ssh's stdin: as they are, or (an online move's stream) in a frame of type. */
static int put(struct migrate *m, int to, bool frames, char type, const char *buf, size_t n,
               vps_error *err)
{
        int r = frames ? vps_frame_write(to, type, buf, n, err) : write_all(to, buf, n);
        if (r < 0)
                return vps_err(err, -r, "sending to %s: %s", m->dest.name,
                               r == -EPIPE ? "ssh ended" : strerror(-r));
        return 0;
}

/* The local backup stream's frames into to (ssh's stdin): 0 at the end of the archive. With
 * frames (--online), the archive ('D') and the images ('C') go in frames, and 'Z' at the
 * result. */
static int pump(struct migrate *m, int fd, int to, bool frames, vps_error *err)
{
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX);
        if (!buf)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        for (;;) {
                char type;
                size_t n;
                int r = vps_frame_read(fd, &type, buf, &n, err);
                if (r == -ECONNRESET)
                        return vps_err(err, ECONNRESET, "vpsd ended the backup without a result");
                if (r < 0)
                        return r;
                if (type == 'D' || (type == 'C' && frames)) {
                        if ((r = put(m, to, frames, type, buf, n, err)) < 0)
                                return r;
                        if (type == 'D')
                                m->bytes += n;
                        else
                                m->img_bytes += n - strnlen(buf, n) - 1;
                } else if (type == 'E') {
                        r = client_error_from_body(buf, n, 500, err);
                        return vps_err_wrap(err, "the backup here");
                } else if (type == 'K') {
                        return frames ? put(m, to, true, 'Z', NULL, 0, err) : 0;
                } else if (type != 'P') {
                        return vps_err(err, EPROTO, "an unexpected frame from vpsd");
                }
        }
}

int migrate_restore_there(struct vpsctl *v, struct migrate *m, const char *query, bool frames,
                          bool *ret_maybe, vps_error *err)
{
        char path[384], to_arg[80], self[64] = "";
        migrate_peer_arg(to_arg, sizeof(to_arg), "migrate_to", m->dest.name);
        (void)snprintf(path, sizeof(path), "/v1/vps/%s/backup?full=%d&incremental=0%s%s", m->id,
                       m->full, query, to_arg);
        _cleanup_close_ int fd = -1;
        int r = vpsctl_stream_open(v, path, "vps-backup", NULL, &fd, NULL, err);
        if (r < 0 || (r = vps_frame_write(fd, 'Z', NULL, 0, err)) < 0)
                return vps_err_wrap(err, "the backup here");
        const char *args[12 + 2 * 64] = {"restore", "-", m->id, "-j"};
        size_t na = 4, i;
        if (frames)
                args[na++] = "--checkpoint";
        /* The destination's events name this host as the migration's source. */
        char from_arg[80];
        if (gethostname(self, sizeof(self) - 1) == 0 &&
            (migrate_peer_arg(from_arg, sizeof(from_arg), "x", self), from_arg[0])) {
                args[na++] = "--migrated-from";
                args[na++] = self;
        } else if (frames) { /* --checkpoint needs it */
                args[na++] = "--migrated-from";
                args[na++] = "source";
        }
        json_t *ip;
        json_array_foreach(m->ips, i, ip)
        {
                if (na + 3 >= sizeof(args) / sizeof(args[0]))
                        break;
                args[na++] = "--ipadd";
                args[na++] = json_string_value(ip);
        }
        args[na] = NULL;
        _cleanup_close_ int out = memfd_create("restore-out", MFD_CLOEXEC);
        _cleanup_close_ int errf = memfd_create("restore-err", MFD_CLOEXEC);
        int p[2];
        if (out < 0 || errf < 0 || pipe2(p, O_CLOEXEC) < 0)
                return vps_err_sys(err, errno, "making the pipe to ssh");
        /* A bigger pipe: fewer wake-ups per MiB. */
        (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
        pid_t pid;
        r = ssh_spawn(&m->dest, args, p[0], out, errf, &pid, err);
        (void)close(p[0]);
        if (r < 0) {
                (void)close(p[1]);
                return r;
        }
        *ret_maybe = true;
        r = pump(m, fd, p[1], frames, err);
        if (r < 0 && r != -EPIPE) /* a cut stream must not look complete to the restore */
                (void)kill(pid, SIGTERM);
        (void)close(p[1]);
        int st = ssh_wait(pid);
        char why[512];
        ssh_last_line(errf, why, sizeof(why));
        /* vpsctl's own refusal there (no template, the ID taken meanwhile, no space), which
         * also ends the pipe early: its restore left nothing, and an ID taken is not ours. */
        if (st != 0 && st != 255 && st < 128 && (r >= 0 || r == -EPIPE)) {
                *ret_maybe = false;
                return vps_err(err,
                               st == EXIT_EXISTS  ? EEXIST
                               : st == EXIT_NOENT ? ENOENT
                                                  : EPROTO,
                               "the restore on %s: %s", m->dest.name, why[0] ? why : "failed");
        }
        if (r < 0)
                return r;
        if (st == 0)
                return 0;
        return vps_err(err, ECONNRESET, "ssh %s: %s", m->dest.name, why[0] ? why : "failed");
}

/* Streams the backup into the destination's restore. *ret_maybe: the destination may hold
 * the VPS (its restore said so, or the outcome is unknown). */
static int transfer(struct vpsctl *v, struct migrate *m, bool *ret_maybe, vps_error *err)
{
        if (m->to_node)
                return node_transfer(v, &m->nd, m->id, m->full, m->ips, &m->bytes, ret_maybe, err);
        return migrate_restore_there(v, m, "", false, ret_maybe, err);
}

/* The source as it was: started again if it ran, else the fence (and the migration, for
 * vpsd's events) lifted; tail says how that went. */
static void source_again(struct vpsctl *v, struct migrate *m, char *tail, size_t size)
{
        vps_error e = {0};
        /* A guest whose halt vpsd began before it died still halts: the restarted vpsd sees
         * it running until it ends, so the stop is finished first, then it starts. */
        if (m->was_running && m->stop_lost)
                (void)migrate_here(v, m->id, "stop", false, &e);
        if (m->was_running) {
                if (migrate_here(v, m->id, "start", m->fenced, &e) < 0)
                        (void)snprintf(tail, size, "; and starting VPS %s here again failed: %s",
                                       m->id, e.msg);
                else
                        (void)snprintf(tail, size, "; VPS %s runs here again", m->id);
                return;
        }
        _cleanup_json_ json_t *body = json_pack("{s:s}", "migrated_to", "");
        char path[64];
        (void)snprintf(path, sizeof(path), "/v1/vps/%s", m->id);
        if (migrate_request_here(v, "PATCH", body, path, &e) < 0 && m->fenced)
                (void)snprintf(tail, size, "; VPS %s stays here, but still marked migrated: %s",
                               m->id, e.msg);
        else
                (void)snprintf(tail, size, "; VPS %s stays here", m->id);
}

/* After a failure: the destination's copy (ours) removed, the source started again. Once the
 * source is fenced (its copy there may have been started), it starts again only when the
 * copy there is known gone: else it stays stopped and marked, and the error says so. */
static int roll_back(struct vpsctl *v, struct migrate *m, bool remote, vps_error *why)
{
        vps_error e = {0};
        if (m->nd.moved && node_move(v, &m->nd, m->id, true, m->was_running, &e) < 0)
                (void)fprintf(stderr, "vpsctl: %s: check 'vpsctl list --all-nodes'\n", e.msg);
        char tail[2 * VPS_ERROR_MSG_MAX + 512];
        if (migrate_undo_there(m, remote, "stopped", "start", tail, sizeof(tail)))
                source_again(v, m, tail, sizeof(tail));
        size_t len = strlen(why->msg);
        (void)snprintf(why->msg + len, sizeof(why->msg) - len, "%s", tail);
        return vpsctl_fail_err(why);
}

int migrate_report(struct migrate *m)
{
        const char *src = m->keep ? "kept stopped" : "removed";
        if (m->to_node)
                (void)snprintf(m->dest.name, sizeof(m->dest.name), "%s", m->nd.name);
        if (m->json || m->quiet) {
                _cleanup_json_ json_t *j =
                        json_pack("{s:s, s:s, s:b, s:b, s:I, s:f, s:f, s:f, s:f, s:f, s:s}", "id",
                                  m->id, "dest", m->dest.name, "running", m->was_running, "full",
                                  m->full, "bytes", (json_int_t)m->bytes, "seconds", m->t_total,
                                  "stop_seconds", m->t_stop, "transfer_seconds", m->t_copy,
                                  "start_seconds", m->t_start, "downtime_seconds",
                                  m->online        ? m->t_down
                                  : m->was_running ? m->t_stop + m->t_copy + m->t_start
                                                   : 0.0,
                                  "source", src);
                if (j)
                        json_object_set_new(j, "online", json_boolean(m->online));
                if (j && m->online) {
                        json_object_set_new(j, "rounds", json_integer(m->rounds));
                        json_object_set_new(j, "checkpoint_bytes",
                                            json_integer((json_int_t)m->img_bytes));
                }
                if (j && m->to_node)
                        json_object_set_new(j, "node", json_string(m->nd.name));
                if (m->quiet) {
                        m->result = json_incref(j);
                        return j ? 0 : EXIT_FAIL;
                }
                return j ? vpsctl_print_json(j) : vpsctl_fail("cannot encode the result");
        }
        double mb = (double)m->bytes / 1e6;
        printf("VPS %s migrated%s to %s in %.2f s: ", m->id, m->online ? " online" : "",
               m->dest.name, m->t_total);
        if (m->online)
                printf("frozen and dumped here in %.2f s (%u pre-copy rounds), ", m->t_stop,
                       m->rounds);
        else if (m->was_running)
                printf("stopped here in %.2f s, ", m->t_stop);
        if (mb < 10)
                printf("%.0f kB sent in %.2f s", mb * 1000, m->t_copy);
        else
                printf("%.1f MB sent in %.2f s (%.0f MB/s)", mb, m->t_copy,
                       m->t_copy > 0 ? mb / m->t_copy : 0.0);
        if (m->online)
                printf(" with %.0f kB of images, resumed there in %.2f s; downtime %.0f ms",
                       (double)m->img_bytes / 1e3, m->t_start, m->t_down * 1000);
        else if (m->was_running)
                printf(", started there in %.2f s", m->t_start);
        printf("; %s here\n", src);
        return 0;
}

static int parse(struct vpsctl *v, int argc, char **argv, struct migrate *m)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {"keep-src", no_argument, NULL, 'k'},
                {"full", no_argument, NULL, 'f'},
                {"fast", no_argument, NULL, 'F'},
                {"online", no_argument, NULL, 'o'},
                {"ssh-option", required_argument, NULL, 'O'},
                {"remote-socket", required_argument, NULL, 'S'},
                {"remote-vpsctl", required_argument, NULL, 'V'},
                {"to-node", required_argument, NULL, 'N'},
                {"precopy", required_argument, NULL, 'P'},
                {0},
        };
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hj", options, NULL)) != -1) {
                if (c == 'h')
                        return vpsctl_help(migrate_usage);
                else if (c == 'j')
                        m->json = true;
                else if (c == 'k')
                        m->keep = true;
                else if (c == 'f')
                        m->full = true;
                else if (c == 'F')
                        m->fast = true;
                else if (c == 'o')
                        m->online = true;
                else if (c == 'N')
                        m->to_node = optarg;
                else if (c == 'P') {
                        if (migrate_rounds_parse(optarg, &m->rounds) < 0)
                                return vpsctl_usage_error(v, "--precopy: 0 to 8 rounds ('%s')",
                                                          optarg);
                        m->precopy = true;
                } else if (c == 'O') {
                        if (m->dest.n_opts == SSH_MAX_OPTS || !optarg[0] || optarg[0] == '-')
                                return vpsctl_usage_error(v, "bad --ssh-option '%s'", optarg);
                        m->dest.opts[m->dest.n_opts++] = optarg;
                } else if (c == 'S' || c == 'V') {
                        if (optarg[0] != '/')
                                return vpsctl_usage_error(v, "--remote-%s: an absolute path",
                                                          c == 'S' ? "socket" : "vpsctl");
                        *(c == 'S' ? &m->dest.socket : &m->dest.vpsctl) = optarg;
                } else
                        return vpsctl_opt_error(v, c, argv);
        }
        vpsctl_json_errors(m->json);
        if (m->precopy && !m->online)
                return vpsctl_usage_error(v, "--precopy belongs to --online");
        if (optind >= argc)
                return vpsctl_usage_error(v, "missing the VPS ID");
        m->id = argv[optind];
        int r = vpsctl_check_id(m->id);
        if (r != CMD_CONTINUE)
                return r;
        if (m->to_node) {
                if (optind + 1 < argc)
                        return vpsctl_usage_error(v, "--to-node takes the place of DEST ('%s')",
                                                  argv[optind + 1]);
                return CMD_CONTINUE;
        }
        if (optind + 1 >= argc)
                return vpsctl_usage_error(v, "missing the destination DEST ([user@]host[:port])");
        if (optind + 2 < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind + 2]);
        vps_error err = {0};
        if (ssh_dest_parse(argv[optind + 1], &m->dest, &err) < 0) {
                (void)vpsctl_fail_err(&err);
                return EXIT_USAGE;
        }
        return CMD_CONTINUE;
}

/* Stops the source if it runs; the guard then watches over it. */
static int stop_source(struct vpsctl *v, struct migrate *m, int *guard, vps_error *err)
{
        if (!m->was_running)
                return 0;
        if ((*guard = migrate_guard_start(v, m->id, "start")) < 0)
                return vps_err_sys(err, errno, "starting the guard");
        double t0 = migrate_now();
        _cleanup_json_ json_t *ans = NULL, *body = json_pack("{s:b}", "fast", m->fast);
        int r = vpsctl_request(v, "POST", body, TIMEOUT_NONE, &ans, err, "/v1/vps/%s/stop", m->id);
        m->t_stop = migrate_now() - t0;
        m->stop_lost = r < 0 &&
                       (err->code == ECONNRESET || err->code == ECONNREFUSED || err->code == EPIPE);
        return r < 0 ? vps_err_wrap(err, "stopping VPS %s here", m->id) : 0;
}

/* The last migration's error (as printed), for node drain's report. */
static vps_error last_err;

static void keep_err(vps_error *e)
{
        last_err = *e;
}

static int migrate_steps(struct vpsctl *v, struct migrate *mp)
{
        struct migrate m = *mp;
        int r;
        (void)signal(SIGPIPE, SIG_IGN);
        double t0 = migrate_now();
        __attribute__((cleanup(keep_err))) vps_error err = {0};
        _cleanup_json_ json_t *vps = NULL;
        if (vpsctl_get_vps(v, m.id, &vps, &err) < 0)
                return vpsctl_fail_err(&err);
        const char *status = json_string_value(json_object_get(vps, "status"));
        if (status && strcmp(status, "running") != 0 && strcmp(status, "stopped") != 0)
                return vpsctl_fail("VPS %s is %s: only a running or stopped one migrates", m.id,
                                   status);
        m.was_running = status && !strcmp(status, "running");
        m.ips = json_object_get(vps, "ip");
        if (m.to_node && (r = node_dest_check(v, m.id, m.to_node, m.full, vps, &m.nd, &err)) < 0)
                return vpsctl_fail_err(&err);
        if ((r = migrate_preflight(&m, &err)) < 0)
                return vpsctl_fail_err(&err);
        /* A drain carries the template along where the destination's differs. */
        if (m.to_node &&
            node_template_check(v, &m.nd,
                                json_string_value(json_object_get(vps, "ostemplate")) ?: "",
                                &m.full, m.quiet, &err) < 0)
                return vpsctl_fail_err(&err);
        __attribute__((cleanup(migrate_guard_release))) int guard = -1;
        if ((r = stop_source(v, &m, &guard, &err)) < 0)
                return roll_back(v, &m, false, &err);
        double t1 = migrate_now();
        bool maybe = false;
        r = transfer(v, &m, &maybe, &err);
        m.t_copy = migrate_now() - t1;
        if (r < 0)
                return roll_back(v, &m, maybe, &err);
        /* From here the destination's copy is the one to run: the guard lets go first, so that
         * a kill now leaves both stopped rather than both running; then the fence, so that
         * nothing (onboot, a user, a restarted vpsd) starts it here while it may run there. */
        migrate_guard_release(&guard);
        if ((r = migrate_fence_here(v, &m, &err)) < 0)
                return roll_back(v, &m, true, &err);
        /* The owner records go to the destination before its copy may start there. */
        if (m.to_node && (r = node_move(v, &m.nd, m.id, false, m.was_running, &err)) < 0)
                return roll_back(v, &m, true, &err);
        if (m.was_running) {
                double t2 = migrate_now();
                if ((r = migrate_start_there(&m, "start", &err)) < 0 && err.code != ECONNRESET)
                        return roll_back(v, &m, true, &err);
                /* No answer: it may run there; starting it here could make two. */
                if (r < 0)
                        return vpsctl_fail("%s: VPS %s may run on %s now, so it is left stopped "
                                           "here, marked migrated (check there; start --force "
                                           "starts it here)",
                                           err.msg, m.id, m.dest.name);
                m.t_start = migrate_now() - t2;
        }
        if (!m.keep) {
                r = migrate_remove_here(v, &m, &err);
        } else {
                _cleanup_json_ json_t *ans = NULL;
                _cleanup_json_ json_t *body = json_pack("{s:b, s:s}", "onboot", 0, "migrated_to",
                                                        m.to_node ? m.nd.name : m.dest.name);
                r = vpsctl_request(v, "PATCH", body, TIMEOUT_SHORT, &ans, &err, "/v1/vps/%s", m.id);
        }
        /* It runs there (or exists there, stopped); the copy here is fenced: said, not hidden. */
        if (r < 0)
                return vpsctl_fail("VPS %s is on %s now, but %s here failed: %s; it is kept here "
                                   "stopped, marked migrated (destroy it)",
                                   m.id, m.dest.name,
                                   m.keep ? "marking it migrated" : "removing it", err.msg);
        m.t_total = migrate_now() - t0;
        r = migrate_report(&m);
        mp->result = m.result;
        return r;
}

int cmd_migrate(struct vpsctl *v, int argc, char **argv)
{
        struct migrate m = {0};
        int r = parse(v, argc, argv, &m);
        if (r != CMD_CONTINUE)
                return r;
        if (m.online)
                return migrate_online(v, &m);
        return migrate_steps(v, &m);
}

int vpsctl_migrate_node(struct vpsctl *v, const char *id, const char *to, bool fast, json_t **ret,
                        vps_error *err)
{
        struct migrate m = {.id = id, .to_node = to, .quiet = true, .fast = fast};
        vps_err_clear(&last_err);
        int r = migrate_steps(v, &m);
        *ret = m.result;
        *err = last_err;
        return r;
}
