/* vpsd: the VPS daemon. Parses its options, opens the state root and the API socket, then
 * runs the event loop. Killing it leaves every VPS running; the next vpsd re-adopts them. */
#include "api.h"
#include "authz.h"
#include "fleet.h"
#include "backup.h"
#include "exec.h"
#include "criu_probe.h"
#include "handlers.h"
#include "criu_action.h"
#include "keeper.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "sysinfo_writer.h"
#include "reap.h"
#include "reexec.h"
#include "restart.h"
#include "restore.h"
#include "shutdown.h"
#include "signals.h"
#include "starter.h"
#include "starts.h"
#include "snapshot_routes.h"
#include "trash.h"
#include "usage.h"
#include "remote.h"
#include "watch.h"
#include "core/core.h"
#include "vps/cleanup.h"
#include "vps/nsrun.h"
#include "config/config.h"
#include "sandbox/sandbox.h"
#include "cgroup/cgroup.h"
#include "net/net.h"
#include "netsetup/netsetup.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#define DEFAULT_ROOT   VPS_DEFAULT_ROOT
#define DEFAULT_SOCKET "/run/vps/vpsd.sock"

/* The API socket's directory: root's, and no one else may write to it (or they could put
 * their own socket at the path while vpsd is down, for vpsctl to send requests to). */
static int check_socket_dir(const char *dir, vps_error *err)
{
        struct stat st;
        if (stat(dir, &st) < 0)
                return vps_err_sys(err, errno, "reading %s", dir);
        if (st.st_uid != 0 || (st.st_mode & 022))
                return vps_err(err, EPERM,
                               "the API socket's directory %s must be root's and writable by "
                               "root only (owner uid %u, mode %04o)",
                               dir, (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
        return 0;
}

/* A socket that still answers belongs to a running vpsd: never steal it. */
static int open_socket(const char *path, vps_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return vps_err(err, ENAMETOOLONG, "socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return vps_err(err, ENOMEM, "out of memory");
        int r = vps_mkdir_p(dirname(dir), 0755, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return vps_err_sys(err, errno, "socket");
        _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                return vps_err(err, EADDRINUSE, "another vpsd is listening on %s", path);
        (void)unlink(path);
        mode_t old = umask(0177);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return vps_err_sys(err, errno, "binding %s", path);
        if (chmod(path, 0600) < 0 || listen(fd, 128) < 0)
                return vps_err_sys(err, errno, "listening on %s", path);
        return TAKE_FD(fd);
}

/* --pidfile: where --daemon's parent writes the daemon's PID once it is ready (systemd's
 * PIDFile=: the console keeper shares the service's cgroup, so systemd cannot guess it). */
static const char *pidfile;
/* --cluster: this node's part of the fleet, made before run() (bad settings exit 2). */
static struct vpsd_fleet *fleet;

/* --daemon: the parent returns only once the child reports its socket ready (or fails). */
static int daemonize(int *ret_notify, const char *log_path)
{
        int p[2];
        _cleanup_close_ int pfd = -1;
        if (pidfile) {
                pfd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (pfd < 0) {
                        fprintf(stderr, "vpsd: --pidfile %s: %s\n", pidfile, strerror(errno));
                        _exit(1);
                }
        }
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0) {
                close(p[1]);
                char buf[VPS_ERROR_MSG_MAX + 1] = {0};
                ssize_t n = read(p[0], buf, sizeof(buf) - 1);
                if (n == 1 && buf[0] == 'R' && (pfd < 0 || dprintf(pfd, "%d\n", (int)pid) > 0))
                        _exit(0);
                if (n == 1 && buf[0] == 'R') {
                        fprintf(stderr, "vpsd: writing %s: %s (the daemon runs, PID %d)\n", pidfile,
                                strerror(errno), (int)pid);
                        _exit(1);
                }
                fprintf(stderr, "vpsd: %s\n", n > 0 ? buf + 1 : "the daemon exited at start-up");
                _exit(1);
        }
        close(p[0]);
        (void)setsid();
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (log >= 0)
                (void)fchmod(log, 0600); /* root's alone, whatever made it before */
        if (nul >= 0)
                dup2(nul, STDIN_FILENO);
        if (log >= 0) {
                dup2(log, STDOUT_FILENO);
                dup2(log, STDERR_FILENO);
        }
        *ret_notify = p[1];
        return 0;
}

static void notify(int fd, const char *msg)
{
        if (fd < 0)
                return;
        char buf[VPS_ERROR_MSG_MAX + 1];
        int n = snprintf(buf, sizeof(buf), "%c%s", msg ? 'E' : 'R', msg ? msg : "");
        (void)!write(fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
        close(fd);
}

/* After a host boot: start the VPSes marked onboot, highest bootorder first (begun in that
 * order, VPSD_START_PARALLEL at a time). One that fails is logged and does not hold up the
 * others. */
static void start_onboot(struct vpsd *d)
{
        struct vps_inst **list = calloc(d->m.n + 1, sizeof(*list));
        size_t n = list ? vps_manager_onboot_list(&d->m, list, d->m.n) : 0;
        /* Several at a time, the loop running meanwhile (starts.c). */
        vpsd_starts_onboot(d, list, n);
        free(list);
}

/* vpsd.conf's restart_* and log_* settings, or their defaults. The log is rotated when stderr
 * is ROOT/vpsd.log: under --daemon, and after a re-exec of such a vpsd (which keeps stderr). */
static void apply_limits(struct vpsd *d, const struct vps_daemon_conf *conf, const char *log_path)
{
        d->restart_policy = (struct vps_backoff_policy){
                conf->restart_burst ? conf->restart_burst : VPS_BACKOFF_BURST,
                conf->restart_interval ? conf->restart_interval : VPS_BACKOFF_INTERVAL,
                conf->restart_delay_max ? conf->restart_delay_max : VPS_BACKOFF_MAX,
        };
        vpsd_log_limit(conf->log_burst, conf->log_interval);
        vpsd_log_rotate_at(log_path, conf->log_max_size, conf->log_keep);
}

static int take_claims(struct vpsd *d, const char *root, const char *cg,
                       const struct vps_netconf *net, vps_error *err)
{
        char mount[256], parent[512], own[400], subnet[64], addr[48];
        int r = vps_cgroup_parent_path(cg, root, mount, sizeof(mount), parent, sizeof(parent), own,
                                       sizeof(own), err);
        if (r < 0)
                return r;
        ns_addr_format(&net->subnet, addr, sizeof(addr));
        (void)snprintf(subnet, sizeof(subnet), "%s/%u", addr, net->subnet.prefix);
        r = vps_claims_take(&d->claims, VPS_CLAIMS_DIR, root, parent, net->bridge, subnet, err);
        /* After a re-exec: the claims' fds of the image before, which held the locks until
         * now. Closed even when the claims failed (this process holds nothing then). */
        const char *old = getenv("VPSD_CLAIM_FDS");
        int fd[VPS_CLAIM_N];
        if (old && sscanf(old, "%d,%d,%d", &fd[0], &fd[1], &fd[2]) == VPS_CLAIM_N)
                for (int k = 0; k < VPS_CLAIM_N; k++)
                        if (fd[k] > STDERR_FILENO)
                                (void)close(fd[k]);
        unsetenv("VPSD_CLAIM_FDS");
        return r;
}

static const struct vpsd_api_ops routes = {
        vpsd_handle,       vpsd_handle_console_check, vpsd_stream_route,   vpsd_stream_response,
        vpsd_authorize,    vpsd_authz_filter,         vpsd_progress_route, vpsd_exec_route,
        vpsd_exec_response};

static int log_tick(void *userdata)
{
        return vpsd_log_tick();
}

/* The loop and the sources of what exists before it: listeners inherited over a re-exec,
 * the signals, the running VPSes. The API's sources come with it (api.c). */
static int loop_init(struct vpsd *d, vps_error *err)
{
        int r = vpsd_event_init(&d->ev, err);
        if (r < 0)
                return r;
        /* The sysinfo thread answers from the plans the loop publishes after each round. */
        (void)vpsd_event_add_post(&d->ev, vpsd_notify_publish, d);
        /* Summaries of suppressed log lines are written when their interval ends. */
        (void)vpsd_event_add_prepare(&d->ev, log_tick, NULL);
        (void)vpsd_event_add_prepare(&d->ev, vpsd_meminfo_tick, d);
        r = vpsd_signals_init(d, err);
        return r < 0 ? r : vpsd_watch_all(d, err);
}

static int run(const char *root, const char *sock, const char *cg, const struct vps_netconf *net,
               bool enforce_warn, const char *mirror, const char *lxcfs, bool daemon,
               const struct vps_daemon_conf *conf)
{
        static struct vpsd d;
        d.tls_fd = d.audit_fd = d.limits_fd = -1;
        d.starter = (struct vps_starter){.fd = -1, .pid = -1, .pidfd = -1};
        d.vps_exited = vpsd_vps_exited;
        d.guest_timeout = conf->guest_timeout ? conf->guest_timeout : VPS_GUEST_TIMEOUT_DEFAULT;
        d.criu_timeout = conf->criu_timeout ? conf->criu_timeout : VPS_CRIU_TIMEOUT_DEFAULT;
        d.start_parallel = conf->start_parallel ? conf->start_parallel : VPSD_START_API_PARALLEL;
        d.token_snapshots = conf->token_snapshots ? conf->token_snapshots : VPSD_TOKEN_SNAPSHOTS;
        const char *stall = getenv("VPS_TEST_LOOP_STALL_MS");
        d.test_stall_ms = stall ? (unsigned int)strtoul(stall, NULL, 10) : 0;
        (void)snprintf(d.mirror, sizeof(d.mirror), "%s", mirror);
        vps_error err = {0};
        int notify_fd = -1;
        char log_path[600];
        (void)snprintf(log_path, sizeof(log_path), "%s/vpsd.log", root);
        if (daemon && (vps_mkdir_p(root, 0700, &err) < 0 || daemonize(&notify_fd, log_path) < 0)) {
                fprintf(stderr, "vpsd: cannot detach: %s\n", err.msg);
                return 1;
        }
        apply_limits(&d, conf, log_path);
        if (vpsd_notify_init(&d, &err) < 0) {
                fprintf(stderr, "vpsd: %s\n", err.msg);
                return 1;
        }
        /* Before anything else: another live vpsd's cgroup parent, bridge or subnet is never
         * shared (its VPS cgroups would look stale here, its traffic be taken over). After the
         * fork of --daemon: a record lock is the process's that took it. */
        if (take_claims(&d, root, cg, net, &err) < 0) {
                notify(notify_fd, err.msg);
                fprintf(stderr, "vpsd: %s\n", err.msg);
                return 1;
        }
        /* The kernel should pick a VPS's process before the daemon that runs them all (best
         * effort: needs CAP_SYS_RESOURCE); each VPS's init is put back to 0 (spawn.c). */
        ns_nft_reserve_low_fd();
        /* Several fds per running VPS: as many as the hard limit allows (a VPS's init goes
         * back to the usual soft limit, spawn.c). */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (oom < 0 || write(oom, "-500", 4) != 4)
                vpsd_log("oom_score_adj -500 not set: %s", strerror(errno));
        if (oom >= 0)
                close(oom);
        /* Before the VPSes are loaded: what the starter's clones copy stays this small. */
        if (vpsd_starter_start(&d, &err) < 0)
                vpsd_log("%s: vpsd clones its starts itself", err.msg);
        /* Connected to the console keeper before the VPSes are loaded: a keeper with no
         * client must not see the stale ones cleared and leave while this vpsd comes up. */
        vpsd_keeper_open(&d, root);
        int r = vps_manager_open(&d.m, root, cg, net, &err);
        for (unsigned int i = 0; r == 0 && i < d.m.n_skipped && i < VPS_SKIPPED_MAX; i++)
                vpsd_log("skipped: %s (its directory is left as it is)", d.m.skipped[i]);
        if (r == 0 && d.m.n_skipped > VPS_SKIPPED_MAX)
                vpsd_log("skipped %u more VPS directories", d.m.n_skipped - VPS_SKIPPED_MAX);
        d.m.enforce_warn = enforce_warn;
        d.m.starter = &d.starter;
        if (conf->cg_max_depth != -2)
                d.m.cg.max_depth = conf->cg_max_depth;
        if (conf->cg_max_descendants != -2)
                d.m.cg.max_descendants = conf->cg_max_descendants;
        if (conf->cg_remove_ms)
                d.m.cg.remove_ms = conf->cg_remove_ms;
        vps_defaults_from_conf(conf, &d.m.defaults);
        (void)snprintf(d.m.resolv_conf, sizeof(d.m.resolv_conf), "%s", conf->resolv_conf);
        (void)snprintf(d.m.resolv_upstream, sizeof(d.m.resolv_upstream), "%s",
                       conf->resolv_upstream);
        (void)snprintf(d.m.lxcfs, sizeof(d.m.lxcfs), "%s", strcmp(lxcfs, "off") ? lxcfs : "");
        (void)snprintf(d.m.plans_dir, sizeof(d.m.plans_dir), "%s",
                       conf->plans_dir[0] ? conf->plans_dir : VPS_DEFAULT_PLANS_DIR);
        (void)snprintf(d.m.default_plan, sizeof(d.m.default_plan), "%s",
                       strcmp(conf->default_plan, "none") ? conf->default_plan : "");
        if (r == 0)
                vps_template_build_sweep(&d.m);
        if (r == 0)
                vpsd_restore_sweep(&d);
        if (r == 0 && vps_net_readopt(&d.m, &err) < 0)
                vpsd_log("network filters of the running VPSes not renewed: %s", err.msg);
        int inherited = vpsd_inherited_listen_fd();
        d.tls_fd = vpsd_inherited_tls_fd();
        if (r == 0)
                vpsd_inherit_consoles(&d);
        if (r == 0)
                vpsd_keeper_restore(&d);
        if (r == 0)
                r = d.listen_fd = inherited >= 0 ? inherited : open_socket(sock, &err);
        if (r >= 0)
                r = loop_init(&d, &err);
        if (r >= 0) {
                vpsd_inherit_sessions(&d);
                vpsd_starts_init(&d);
                vpsd_starter_watch(&d);
                vpsd_trash_resume(&d);
                vpsd_restart_arm_all(&d); /* restarts held back before a re-exec */
        }
        if (r >= 0)
                r = vpsd_notify_start(&d, &err);
        if (r >= 0)
                r = vpsd_api_init(&d, &routes, &err);
        if (r >= 0)
                r = vpsd_remote_start(&d, root, conf, &err);
        if (r >= 0 && (d.fleet = fleet))
                r = vpsd_fleet_start(&d, &err);
        if (r < 0) {
                notify(notify_fd, err.msg);
                fprintf(stderr, "vpsd: %s\n", err.msg);
                vps_manager_close(&d.m); /* its run directory goes when empty */
                vps_claims_release(&d.claims);
                return 1;
        }
        if (vps_manager_first_since_boot(&d.m))
                start_onboot(&d);
        size_t running = 0;
        for (size_t i = 0; i < d.m.n; i++)
                running += d.m.v[i]->status != VPS_STOPPED;
        vpsd_log("listening on %s, root %s, cgroups under %s, %zu VPS (%zu running)", sock, root,
                 d.m.cg.parent, d.m.n, running);
        char limits[12][VPS_HOST_LIMIT_LINE];
        size_t n_limits = vps_host_limits(limits, 12, d.m.defaults.ptys);
        for (size_t i = 0; i < n_limits; i++)
                vpsd_log("host limits: %s", limits[i]);
        struct vps_lxcfs_status lx;
        vps_lxcfs_probe(d.m.lxcfs, &lx);
        if (lx.state == VPS_LXCFS_SERVING)
                vpsd_log("lxcfs: serving at %s", lx.dir);
        else
                vpsd_log("lxcfs: %s%s%s: /proc/meminfo in the VPSes is vpsd's view; top, uptime "
                         "and /proc/cpuinfo show the host's",
                         vps_lxcfs_state_name(lx.state), lx.why[0] ? ": " : "", lx.why);
        char np[24] = "unlimited";
        if (d.m.defaults.numproc)
                (void)snprintf(np, sizeof(np), "%llu", (unsigned long long)d.m.defaults.numproc);
        vpsd_log("plans: %s, default plan %s; a VPS without limits of its own: numproc %s, "
                 "ptys %u",
                 d.m.plans_dir, d.m.default_plan[0] ? d.m.default_plan : "none", np,
                 d.m.defaults.ptys);
        _cleanup_json_ json_t *dp = NULL;
        if (d.m.default_plan[0] && vps_plan_load(d.m.plans_dir, d.m.default_plan, &dp, &err) < 0)
                vpsd_log("default plan: %s: a create without --plan is refused", err.msg);
        if (d.m.quota_ok)
                vpsd_log("disk quotas: project quotas on %s", d.m.quota_fs);
        else
                vpsd_log("disk quotas: not available on %s: %s", root, d.m.quota_why);
        char cgs[1024];
        vps_cgroup_describe(&d.m.cg, cgs, sizeof(cgs));
        vpsd_log("cgroup controllers: %s", cgs);
        vpsd_criu_probe(&d); /* logs when it ends, the loop running */
        notify(notify_fd, NULL);
        r = vpsd_event_run(&d.ev);
        vpsd_starter_stop(&d);
        if (d.reexec)
                vpsd_reexec(&d); /* returns only if the exec failed */
        vpsd_notify_stop(&d);    /* the calls it holds answered before vpsd goes */
        vpsd_fleet_stop(&d);
        vpsd_answer_suspended(&d);
        vps_traffic_save_all(&d.m);
        for (size_t i = 0; i < d.m.n; i++)
                vpsd_forget_vps(&d, d.m.v[i]);
        MHD_stop_daemon(d.mhd);
        if (d.tls_mhd)
                MHD_stop_daemon(d.tls_mhd);
        (void)unlink(sock);
        if (d.sysinfo_fd >= 0)
                (void)unlink(d.sysinfo_path);
        vps_manager_close(&d.m);
        vps_claims_release(&d.claims);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
        if (argc == 2 && strcmp(argv[1], "--console-keeper") == 0)
                return vpsd_keeper_main();
        if (argc == 2 && strcmp(argv[1], "--sysinfo-writer") == 0)
                return vpsd_writer_main();
        if (argc == 2 && strcmp(argv[1], "--starter") == 0)
                return vpsd_starter_main();
        if (vpsd_criu_action_called(argc))
                return vpsd_criu_action_main();
        vpsd_reexec_save_argv(argv);
        const char *root = getenv("VPSD_ROOT"), *sock = getenv("VPSD_SOCKET"), *cg = NULL;
        const char *bridge = NULL, *subnet = NULL, *conf_path = getenv("VPSD_CONFIG");
        int enforce_warn = -1, shutdown_timeout = 60;
        bool daemon = false, shutdown_all = false, fingerprint = false;
        const char *listen_addr = NULL;
        static const struct option opts[] = {
                {"root", required_argument, NULL, 'r'},
                {"socket", required_argument, NULL, 's'},
                {"cgroup-parent", required_argument, NULL, 'c'},
                {"daemon", no_argument, NULL, 'd'},
                {"pidfile", required_argument, NULL, 'P'},
                {"bridge", required_argument, NULL, 'b'},
                {"subnet", required_argument, NULL, 'n'},
                {"enforce-limits", required_argument, NULL, 'e'},
                {"config", required_argument, NULL, 'C'},
                {"shutdown-all", no_argument, NULL, 'S'},
                {"timeout", required_argument, NULL, 't'},
                {"listen", required_argument, NULL, 'l'},
                {"fingerprint", no_argument, NULL, 'F'},
                {"routes", no_argument, NULL, 'R'},
                {"cluster", required_argument, NULL, 1000},
                {"node", required_argument, NULL, 1001},
                {"advertise", required_argument, NULL, 1002},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        int c;
        const char *fleet_opt[3] = {0};
        while ((c = getopt_long(argc, argv, "r:s:c:db:n:e:C:St:hVP:l:F", opts, NULL)) != -1) {
                switch (c) {
                case 'r':
                        root = optarg;
                        break;
                case 's':
                        sock = optarg;
                        break;
                case 'c':
                        cg = optarg;
                        break;
                case 'd':
                        daemon = true;
                        break;
                case 'P':
                        pidfile = optarg;
                        break;
                case 'b':
                        bridge = optarg;
                        break;
                case 'n':
                        subnet = optarg;
                        break;
                case 'e':
                        if (strcmp(optarg, "strict") != 0 && strcmp(optarg, "warn") != 0) {
                                fprintf(stderr,
                                        "vpsd: --enforce-limits takes strict or warn, "
                                        "not '%s'\n",
                                        optarg);
                                return 2;
                        }
                        enforce_warn = strcmp(optarg, "warn") == 0;
                        break;
                case 'C':
                        conf_path = optarg;
                        break;
                case 'S':
                        shutdown_all = true;
                        break;
                case 'l':
                        listen_addr = optarg;
                        break;
                case 'F':
                        fingerprint = true;
                        break;
                case 'R':
                        return vpsd_routes_main();
                case 't': {
                        char *end = NULL;
                        long t = strtol(optarg, &end, 10);
                        if (!*optarg || *end || t < 0 || t > 86400) {
                                fprintf(stderr,
                                        "vpsd: --timeout takes seconds from 0 to 86400, "
                                        "not '%s'\n",
                                        optarg);
                                return 2;
                        }
                        shutdown_timeout = (int)t;
                        break;
                }
                case 1000:
                case 1001:
                case 1002:
                        fleet_opt[c - 1000] = optarg;
                        break;
                case 'h':
                        vpsd_usage(stdout);
                        return 0;
                case 'V':
                        printf("vpsd %s\n", VPS_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'vpsd --help'.\n");
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vpsd: unexpected argument '%s'\nTry 'vpsd --help'.\n",
                        argv[optind]);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "vpsd: must run as root\n");
                return 1;
        }
        vps_error err;
        struct vps_daemon_conf conf;
        vps_daemon_conf_init(&conf);
        bool explicit_conf = conf_path && *conf_path;
        if (vps_daemon_conf_load(&conf, explicit_conf ? conf_path : VPS_DEFAULT_CONF, explicit_conf,
                                 &err) < 0) {
                fprintf(stderr, "vpsd: %s\n", err.msg);
                return 2;
        }
        /* The command line and the environment win over the file, the file over defaults. */
        root = root && *root ? root : conf.root[0] ? conf.root : DEFAULT_ROOT;
        sock = sock && *sock ? sock : conf.socket[0] ? conf.socket : DEFAULT_SOCKET;
        cg = cg ? cg : conf.cgroup_parent[0] ? conf.cgroup_parent : NULL;
        bridge = bridge ? bridge : conf.bridge[0] ? conf.bridge : VPS_DEFAULT_BRIDGE;
        subnet = subnet ? subnet : conf.subnet[0] ? conf.subnet : VPS_DEFAULT_SUBNET;
        if (enforce_warn < 0)
                enforce_warn = conf.enforce_warn > 0;
        if (shutdown_all)
                return vpsd_shutdown_all_client(sock, shutdown_timeout);
        if (fingerprint)
                return vpsd_fingerprint_main(root);
        /* --listen wins over the file's; checked before anything starts. */
        if (listen_addr)
                (void)snprintf(conf.listen, sizeof(conf.listen), "%s", listen_addr);
        struct sockaddr_storage lsa;
        socklen_t llen;
        if (conf.listen[0] && vpsd_listen_parse(conf.listen, &lsa, &llen, &err) < 0) {
                fprintf(stderr, "vpsd: %s\n", err.msg);
                return 2;
        }
        if (vpsd_fleet_new(&conf, fleet_opt, &fleet, &err) < 0) {
                fprintf(stderr, "vpsd: %s\n", err.msg);
                return 2;
        }
        /* Before anything is created: nothing half-done when the socket's place is refused. */
        _cleanup_free_ char *sock_dir = strdup(sock);
        if (!sock_dir ||
            (access(dirname(sock_dir), F_OK) == 0 && check_socket_dir(sock_dir, &err) < 0)) {
                fprintf(stderr, "vpsd: %s\n", sock_dir ? err.msg : "out of memory");
                return 2;
        }
        struct vps_netconf net;
        if (vps_net_configure(&net, bridge, subnet, &err) < 0 ||
            vps_net_configure_routed(&net, conf.netmode, conf.uplink, &err) < 0 ||
            vps_net_configure_mtu(&net, conf.mtu, &err) < 0 ||
            vps_net_configure_announce(&net, conf.announce, &err) < 0 ||
            (conf.host_allow[0] && vps_net_configure_host_allow(&net, conf.host_allow, &err) < 0)) {
                fprintf(stderr, "vpsd: %s\n", err.msg);
                return 2;
        }
        return run(root, sock, cg, &net, enforce_warn > 0,
                   conf.debian_mirror[0] ? conf.debian_mirror : VPS_DEFAULT_MIRROR,
                   conf.lxcfs[0] ? conf.lxcfs : "/var/lib/lxcfs", daemon, &conf);
}
