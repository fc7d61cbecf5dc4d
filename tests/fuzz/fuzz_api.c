/* libFuzzer target: vpsd's API request handling, vpsd_handle() of vpsd/handlers.c (the
 * route table, the path split, the JSON bodies and every handler down into libvps), against a
 * real manager whose state root is a scratch directory made once per process.
 *
 * Input: METHOD '\n' TARGET '\n' BODY. TARGET is the request target as on the wire
 * ("/v1/vps/101?force=1"): it is split at '?' and percent-decoded with libmicrohttpd's own
 * MHD_http_unescape, as api.c receives it; BODY is the rest, any bytes. POST .../console goes
 * to vpsd_handle_console_check as api.c sends it (the upgrade itself needs a socket).
 *
 * The root (TMPDIR/vps-fuzz-api.XXXXXX) holds templates "tiny" (an /etc/shadow, so that
 * userpasswd and ssh_key can succeed) and "spare" (unused, so it can be removed), and three
 * stopped VPSes: 101 (bridged, an address, a forward, DNS, limits, onboot), web-2 (routed, v4
 * and v6) and c3 (no network). After every request the root is put back as it was: VPSes the
 * request created are destroyed, a deleted or changed one is restored, its upper/ emptied.
 *
 * The query argument enforce=warn, which vpsd itself ignores, runs the request as vpsd
 * --enforce-limits warn. The scratch cgroup parent offers the cpu, memory and pids controllers
 * and no project quotas: io, cpuset and disk limits are refused, or accepted with a warning.
 *
 * Never touched: the host's cgroups (the manager's cgroup parent is a directory of the scratch
 * root with a cgroup.subtree_control file), networking (netsetup is linked, but opening a
 * netlink socket or an nftables context aborts: no stopped VPS needs either), disk quotas
 * (quota_ok is false, so vps_disk_* never call quotactl) and VPS starts (vps_manager_start and
 * _begin are wrapped to refuse, so start and restart are fuzzed up to the start itself). Template
 * builds and imports run in a child of vpsd (builds.c): vpsd_build_start refuses here. Nothing can
 * run, so stop, restart, DELETE ?force=1 and POST /v1/shutdown only reach their checks and
 * "not running" answers; a suspended request is a failure.
 *
 * Checked after each request: an answer with a status from 200 to 599 and a JSON body that
 * serialises; an error body has a message and errno > 0, a success body none; no VPS runs;
 * ROOT/vps holds exactly the VPSes the manager knows, each config.json equal to the config in
 * memory; and that a refused request changed no config, as docs/api.md promises for PATCH
 * (FUZZ_API_ALL_OR_NOTHING=0 turns that check off; tests/fuzz/README.md, Findings).
 */
#include "vps/cleanup.h"
#include "config/config.h"
#include "core/core.h"
#include "template/template.h"
#include "vps/util.h"
#include "api.h"
#include "backup.h"
#include "builds.h"
#include "handlers.h"
#include "jobs.h"
#include "log.h"
#include "restart.h"
#include "shutdown.h"
#include "starts.h"
#include "stop.h"
#include "trash.h"
#include "vpsd.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 16

static char top[PATH_MAX];
static struct vpsd d;
static bool all_or_nothing = true; /* FUZZ_API_ALL_OR_NOTHING=0: off */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("fuzz_api: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        abort();
}

/* ---- The parts of vpsd that handlers.c calls, defined here: the linker then takes no
 * other file of vpsd_core (api.c, jobs.c, watch.c, ...) than the handlers ---- */

/* What api.c keeps of a request that handlers.c asks for: its query arguments. */
struct request {
        const char *key[MAX_ARGS], *value[MAX_ARGS];
        int n;
        struct request *next;
};

const char *vpsd_request_arg(struct request *req, const char *key)
{
        for (int i = 0; i < req->n; i++)
                if (strcmp(req->key[i], key) == 0)
                        return req->value[i];
        return NULL;
}

void vpsd_request_set_raw(struct request *req, char *text, size_t len)
{
        (void)req;
        /* The list written as text (list_view.c): it must be one JSON array. */
        json_t *j = json_loadb(text, len, 0, NULL);
        if (!json_is_array(j))
                die("GET /v1/vps: its text is not a JSON array");
        json_decref(j);
        free(text);
}

int vpsd_request_progress_fd(struct request *req)
{
        (void)req;
        return -1; /* no progress streams here */
}

/* The local socket's client: everything (a token's narrowing is fuzz_auth's). */
const struct vpsd_client *vpsd_request_client(struct request *req)
{
        (void)req;
        return NULL;
}

struct request *vpsd_request_next(struct request *req)
{
        return req->next;
}

void vpsd_request_set_next(struct request *req, struct request *next)
{
        req->next = next;
}

void vpsd_request_resume(struct vpsd *dd, struct request *req)
{
        (void)dd, (void)req;
        die("a request was resumed, but no cluster is set");
}

void vpsd_request_finish(struct vpsd *dd, struct request *req, unsigned int status, json_t *body)
{
        (void)dd, (void)req, (void)status, (void)body;
        die("a suspended request was answered, but no VPS runs");
}

void vpsd_request_fail(struct vpsd *dd, struct request *req, const vps_error *err)
{
        (void)dd, (void)req, (void)err;
        die("a suspended request failed, but no VPS runs");
}

/* Formatted, so that every format string and its arguments go through ASan and UBSan. */
void vpsd_log(const char *fmt, ...)
{
        char buf[2048];
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
}

/* trash.c removes a destroyed VPS's files in a child and answers later; here at once. */
int vpsd_destroy(struct vpsd *dd, struct vps_inst *vi, struct request *waiters, vps_error *err)
{
        (void)waiters;
        int r = vps_manager_destroy(&dd->m, vi, err);
        return r < 0 ? r : 0;
}

/* The rest of trash.c: what its children would remove is left in the scratch root (renamed
 * away, as the routes do), so that trash.c (and its fork) stays out of the fuzzer. */
void vpsd_trash_sweep_vps(struct vpsd *dd, struct vps_inst *vi)
{
        (void)dd, (void)vi;
}

void vpsd_trash_sweep_templates(struct vpsd *dd)
{
        (void)dd;
}

void vpsd_trash_cgroup(struct vpsd *dd, const char *id)
{
        (void)dd, (void)id;
}

bool vpsd_trash_answer_all(struct vpsd *dd)
{
        (void)dd;
        return false;
}

void vpsd_forget_vps(struct vpsd *dd, struct vps_inst *vi)
{
        (void)dd;
        free(vi->loop_data);
        vi->loop_data = NULL;
}

int vpsd_watch_vps(struct vpsd *dd, struct vps_inst *vi, vps_error *err)
{
        (void)dd, (void)err;
        die("vpsd_watch_vps(%s), but starts are refused", vi->cfg.id);
}

int vpsd_stop_begin(struct vpsd *dd, struct vps_inst *vi, bool fast, int timeout_s, vps_error *err)
{
        (void)dd, (void)fast, (void)timeout_s, (void)err;
        die("vpsd_stop_begin(%s), but no VPS runs", vi->cfg.id);
}

int vpsd_job_check_busy(struct vpsd *dd, const struct vps_inst *vi, bool addresses, vps_error *err)
{
        (void)dd, (void)vi, (void)addresses, (void)err;
        return 0; /* no VPS runs, so no job */
}

/* No backup or restore stream runs here (vpsd/backup.c is not linked). */
int vpsd_stream_busy(struct vpsd *dd, const char *id, vps_error *err)
{
        (void)dd, (void)id, (void)err;
        return 0;
}

int vpsd_job_start(struct vpsd *dd, struct request *req, struct vps_inst *vi, bool addresses,
                   vpsd_job_fn fn, void *arg, vps_error *err)
{
        (void)dd, (void)req, (void)addresses, (void)fn, (void)arg, (void)err;
        die("vpsd_job_start(%s), but no VPS runs", vi->cfg.id);
}

void vpsd_restart_cancel(struct vpsd *dd, struct vps_inst *vi)
{
        (void)dd;
        vi->restart_at = 0;
        vi->backoff = (struct vps_backoff){0};
}

void vpsd_shutdown_check(struct vpsd *dd)
{
        (void)dd;
        die("vpsd_shutdown_check, but no VPS stops");
}

int vpsd_build_start(struct vpsd *dd, const char *name, const char *import_path, json_t **ret,
                     vps_error *err)
{
        (void)dd, (void)name, (void)import_path, (void)ret;
        return vps_err(err, EPERM, "fuzz_api: template builds run in a child: not fuzzed");
}

json_t *vpsd_build_status(struct vpsd *dd, const char *name)
{
        (void)dd, (void)name;
        return NULL;
}

/* ---- Doors to the host, closed (-Wl,--wrap in tests/fuzz/CMakeLists.txt) ---- */

struct mnl_socket;
struct nft_ctx;
int __wrap_vps_manager_start(struct vps_manager *m, struct vps_inst *vi, vps_error *err);
struct vps_start;
int __wrap_vps_manager_start_begin(struct vps_manager *m, struct vps_inst *vi,
                                   struct vps_start **ret, vps_error *err);
struct mnl_socket *__wrap_mnl_socket_open2(int bus, int flags);
struct nft_ctx *__wrap_nft_ctx_new(uint32_t flags);

int __wrap_vps_manager_start(struct vps_manager *m, struct vps_inst *vi, vps_error *err)
{
        (void)m;
        return vps_err(err, EPERM, "fuzz_api: VPS %s is not started by the fuzzer", vi->cfg.id);
}

int __wrap_vps_manager_start_begin(struct vps_manager *m, struct vps_inst *vi,
                                   struct vps_start **ret, vps_error *err)
{
        (void)ret;
        return __wrap_vps_manager_start(m, vi, err);
}

struct mnl_socket *__wrap_mnl_socket_open2(int bus, int flags)
{
        (void)flags;
        die("a netlink socket was opened (bus %d)", bus);
}

struct nft_ctx *__wrap_nft_ctx_new(uint32_t flags)
{
        (void)flags;
        die("an nftables context was made");
}

/* ---- The scratch root ---- */

struct baseline {
        const char *id, *netmode, *limits;
        const char *ip[2], *ns, *fwd;
        bool onboot;
        char *cfg; /* config.json text once made */
};

static struct baseline vpses[] = {
        {"101",
         "bridged",
         "{\"ram\": \"1G\", \"cpus\": 2, \"numproc\": 200}",
         {"10.88.0.5"},
         "1.1.1.1",
         "tcp:8080:80",
         true,
         NULL},
        {"web-2", "routed", NULL, {"192.0.2.10", "2001:db8::10"}, NULL, NULL, false, NULL},
        {"c3", "bridged", NULL, {NULL}, NULL, NULL, false, NULL},
};
#define N_BASE (sizeof(vpses) / sizeof(vpses[0]))

static void must(int r, const vps_error *err, const char *what)
{
        if (r < 0)
                die("setting up %s: %s", what, err->msg);
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st, (void)ftw;
        return type == FTW_DP ? rmdir(p) : unlink(p);
}

/* Removes the scratch tree at a normal exit (-max_total_time, -runs); after a crash it stays. */
static void cleanup(void)
{
        if (top[0])
                (void)nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_at(int dfd, const char *name, const char *text)
{
        vps_error err;
        must(vps_write_file_atomic(dfd, name, text, strlen(text), 0644, &err), &err, name);
}

static int dir_at(int dfd, const char *name, mode_t mode)
{
        if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
                die("mkdir %s: %s", name, strerror(errno));
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                die("open %s: %s", name, strerror(errno));
        return fd;
}

/* ROOT/templates/NAME as a finished build leaves it: meta.json and a small rootfs/. */
static void make_template(const char *name)
{
        vps_error err;
        _cleanup_close_ int t = dir_at(d.m.tpl_fd, name, 0755);
        _cleanup_close_ int rootfs = dir_at(t, "rootfs", 0755);
        _cleanup_close_ int etc = dir_at(rootfs, "etc", 0755);
        _cleanup_close_ int home = dir_at(rootfs, "root", 0700); /* for ssh_key */
        (void)home;
        write_at(etc, "passwd", "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/bin/false\n");
        write_at(etc, "shadow", "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n");
        must(vps_template_write_meta(t, name, "1", "busybox", 4096, &err), &err, name);
}

/* A manager as vps_manager_open makes one for a new root, without its host parts: no cgroup
 * parent made or delegated in the host tree, no quota probe, no re-adoption. */
static void open_manager(void)
{
        struct vps_manager *m = &d.m;
        vps_error err;
        m->lock_fd = -1;
        (void)snprintf(m->root, sizeof(m->root), "%s/root", top);
        m->root_fd = dir_at(AT_FDCWD, m->root, 0711);
        m->vps_fd = dir_at(m->root_fd, "vps", 0711);
        m->tpl_fd = dir_at(m->root_fd, "templates", 0755);
        m->run_fd = dir_at(m->root_fd, "run", 0700); /* vpsd's is on /run (core.h) */
        (void)snprintf(m->cg.mount, sizeof(m->cg.mount), "%s/cgroup", top);
        (void)snprintf(m->cg.parent, sizeof(m->cg.parent), "%s/vps", m->cg.mount);
        must(vps_mkdir_p(m->cg.parent, 0755, &err), &err, "the cgroup parent");
        _cleanup_close_ int cg = dir_at(AT_FDCWD, m->cg.parent, 0755);
        write_at(cg, "cgroup.subtree_control", "cpu memory pids\n");
        m->cg.host.ncpu = 4;
        (void)snprintf(m->cg.host.iodev, sizeof(m->cg.host.iodev), "254:0");
        must(vps_net_configure(&m->net, "vpsfuzz0", VPS_DEFAULT_SUBNET, &err), &err, "net");
        must(vps_net_configure_routed(&m->net, "bridged", NULL, &err), &err, "net");
        (void)snprintf(m->quota_why, sizeof(m->quota_why), "fuzz_api: no project quotas");
        d.keeper_fd = d.ev.epfd = d.sigfd = d.listen_fd = -1;
        /* As vpsd.conf's default: with 0 every API start waited in the queue (returned 1). */
        d.start_parallel = VPSD_START_API_PARALLEL;
        /* Only compared with -1: GET /v1/vps/ID then names the socket. */
        d.sysinfo_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        (void)snprintf(d.sysinfo_path, sizeof(d.sysinfo_path), "/run/vps/fuzz/sysinfo.sock");
}

static struct vps_inst *find(const char *id)
{
        for (size_t i = 0; i < d.m.n; i++)
                if (strcmp(d.m.v[i]->cfg.id, id) == 0)
                        return d.m.v[i];
        return NULL;
}

/* Creates baseline VPS b through libvps, as POST /v1/vps would: a change set over the
 * defaults. */
static struct vps_inst *make_vps(const struct baseline *b)
{
        vps_error err;
        _cleanup_json_ json_t *body =
                json_pack("{s:s, s:s, s:s, s:b, s:i, s:[]}", "id", b->id, "ostemplate", "tiny",
                          "netmode", b->netmode, "onboot", b->onboot, "bootorder", 10, "ip");
        for (unsigned int n = 0; n < 2 && b->ip[n]; n++)
                json_array_append_new(json_object_get(body, "ip"), json_string(b->ip[n]));
        if (b->limits)
                json_object_set_new(body, "limits", json_loads(b->limits, 0, NULL));
        if (b->ns) {
                json_object_set_new(body, "nameserver", json_pack("[s]", b->ns));
                json_object_set_new(body, "searchdomain", json_string("example.org"));
        }
        if (b->fwd)
                json_object_set_new(body, "forward", json_pack("[s]", b->fwd));
        struct vps_config base;
        struct vps_change ch;
        vps_manager_new_config(&d.m, &base);
        must(vps_change_from_json(body, &base, true, &ch, &err), &err, b->id);
        struct vps_inst *vi = NULL;
        must(vps_manager_create(&d.m, &ch, &vi, &err), &err, b->id);
        return vi;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc, (void)argv;
        const char *tmp = getenv("TMPDIR");
        (void)snprintf(top, sizeof(top), "%s/vps-fuzz-api.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(top))
                die("mkdtemp %s: %s", top, strerror(errno));
        atexit(cleanup);
        const char *aon = getenv("FUZZ_API_ALL_OR_NOTHING");
        all_or_nothing = !aon || strcmp(aon, "0") != 0;
        open_manager();
        make_template("tiny");
        make_template("spare");
        for (size_t i = 0; i < N_BASE; i++) {
                struct vps_inst *vi = make_vps(&vpses[i]);
                if (!(vpses[i].cfg = vps_config_to_json(&vi->cfg)))
                        die("out of memory");
        }
        return 0;
}

/* ---- Back to the baseline after each request ---- */

static bool is_baseline(const char *id)
{
        for (size_t i = 0; i < N_BASE; i++)
                if (strcmp(vpses[i].id, id) == 0)
                        return true;
        return false;
}

static void empty_dir(int dfd, const char *name)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_closedir_ DIR *dir = fd < 0 ? NULL : vps_opendir_fd(fd);
        struct dirent *de;
        vps_error err;
        while (dir && (de = readdir(dir)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        must(vps_rm_rf_at(fd, de->d_name, &err), &err, "emptying upper/");
}

static void restore(struct baseline *b)
{
        vps_error err;
        struct vps_inst *vi = find(b->id);
        if (!vi)
                vi = make_vps(b);
        _cleanup_free_ char *now = vps_config_to_json(&vi->cfg);
        if (!now || strcmp(now, b->cfg) != 0) {
                struct vps_config c;
                must(vps_config_from_json(b->cfg, &c, &err), &err, b->id);
                must(vps_config_save(vi->dir_fd, &c, &err), &err, b->id);
                vi->cfg = c;
        }
        empty_dir(vi->dir_fd, "upper");
}

static void reset(void)
{
        vps_error err;
        d.m.enforce_warn = false;
        for (size_t i = d.m.n; i-- > 0;)
                if (!is_baseline(d.m.v[i]->cfg.id))
                        must(vps_manager_destroy(&d.m, d.m.v[i], &err), &err, "destroying");
        for (size_t i = 0; i < N_BASE; i++)
                restore(&vpses[i]);
        if (faccessat(d.m.tpl_fd, "spare/meta.json", F_OK, 0) < 0)
                make_template("spare");
        d.m.warning[0] = '\0';
        d.shutting_down = false;
}

/* ---- Checks ---- */

static void check_answer(const char *method, const char *url, unsigned int status, json_t *body)
{
        if (status < 200 || status > 599)
                die("%s %s: status %u", method, url, status);
        if (!body)
                die("%s %s: status %u without a body", method, url, status);
        _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
        if (!text)
                die("%s %s: the answer does not serialise", method, url);
        json_t *msg = json_object_get(body, "error");
        json_t *no = json_object_get(body, "errno");
        if (status >= 400 && (!json_is_string(msg) || !json_string_length(msg) ||
                              !json_is_integer(no) || json_integer_value(no) <= 0))
                die("%s %s: status %u with a bad error body %s", method, url, status, text);
        if (status < 400 && msg)
                die("%s %s: status %u with an error body %s", method, url, status, text);
}

/* ROOT/vps holds exactly the manager's VPSes, all stopped, each config.json as in memory; a
 * refused request left every baseline config as it was. */
static void check_state(const char *method, const char *url, bool refused)
{
        size_t entries = 0;
        _cleanup_closedir_ DIR *dir = vps_opendir_fd(d.m.vps_fd);
        if (!dir)
                die("reading ROOT/vps: %s", strerror(errno));
        rewinddir(dir);
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (!find(de->d_name))
                        die("%s %s: ROOT/vps/%s is not a VPS of the manager", method, url,
                            de->d_name);
                entries++;
        }
        if (entries != d.m.n)
                die("%s %s: %zu VPSes in memory, %zu in ROOT/vps", method, url, d.m.n, entries);
        for (size_t i = 0; i < d.m.n; i++) {
                struct vps_inst *vi = d.m.v[i];
                struct vps_config disk;
                vps_error err;
                if (vi->status != VPS_STOPPED || vi->loop_data)
                        die("%s %s: VPS %s runs", method, url, vi->cfg.id);
                if (vps_config_load(vi->dir_fd, &disk, &err) < 0)
                        die("%s %s: VPS %s: %s", method, url, vi->cfg.id, err.msg);
                _cleanup_free_ char *a = vps_config_to_json(&vi->cfg);
                _cleanup_free_ char *b = vps_config_to_json(&disk);
                if (!a || !b || strcmp(a, b) != 0)
                        die("%s %s: VPS %s: config in memory %s, on disk %s", method, url,
                            vi->cfg.id, a ? a : "?", b ? b : "?");
                for (size_t k = 0; refused && k < N_BASE; k++)
                        if (strcmp(vpses[k].id, vi->cfg.id) == 0 && strcmp(vpses[k].cfg, a) != 0)
                                die("%s %s: refused, but VPS %s changed: %s", method, url,
                                    vi->cfg.id, a);
        }
}

/* ---- One request ---- */

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* "a=1&b&c=%41" as libmicrohttpd hands the arguments over: split, then each part decoded. */
static void parse_query(struct request *req, char *q)
{
        char *save = NULL;
        for (char *p = strtok_r(q, "&", &save); p && req->n < MAX_ARGS;
             p = strtok_r(NULL, "&", &save)) {
                char *eq = strchr(p, '=');
                if (eq) {
                        *eq++ = '\0';
                        MHD_http_unescape(eq);
                }
                MHD_http_unescape(p);
                req->key[req->n] = p;
                req->value[req->n++] = eq;
        }
}

static void console(const char *url)
{
        vps_error err = {0};
        struct vps_inst *vi = NULL;
        if (vpsd_handle_console_check(&d, url, &vi, &err) == 0)
                die("POST %s: a console, but no VPS runs", url);
        if (err.code <= 0 || !err.msg[0])
                die("POST %s: refused without an error", url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        char *method = text, *url = memchr(text, '\n', size), *body = NULL;
        if (url) {
                *url++ = '\0';
                body = memchr(url, '\n', size - (size_t)(url - text));
                if (body)
                        *body++ = '\0';
        }
        size_t len = body ? size - (size_t)(body - text) : 0;
        struct request req = {0};
        char *q = url ? strchr(url, '?') : NULL;
        if (q) {
                *q++ = '\0';
                parse_query(&req, q);
        }
        if (url)
                MHD_http_unescape(url);
        else
                url = "";
        const char *enforce = vpsd_request_arg(&req, "enforce");
        d.m.enforce_warn = enforce && strcmp(enforce, "warn") == 0;

        if (strcmp(method, "POST") == 0 && ends_with(url, "/console")) {
                console(url);
                check_state(method, url, all_or_nothing);
        } else {
                unsigned int status = 0;
                json_t *answer = NULL;
                int r = vpsd_handle(&d, &req, method, url, body ? body : "", len, &status, &answer);
                if (r != 0)
                        die("%s %s: vpsd_handle returned %d (suspended?), but no VPS runs", method,
                            url, r);
                check_answer(method, url, status, answer);
                json_decref(answer);
                check_state(method, url, all_or_nothing && status >= 400);
        }
        reset();
        free(text);
        return 0;
}
