/* vpsd: the console keeper. A VPS's console is a pty whose master vpsd holds; if vpsd died
 * with it, the guest's console would be hung up. So vpsd hands a copy of each console's
 * master and held slave, with the init's pidfd, to one small process per state root (not
 * one per VPS): `vpsd --console-keeper`, started on demand, listening on a SOCK_SEQPACKET
 * socket in the root's run directory (0700), from host root only: what it holds is a root
 * shell in every VPS. A vpsd that starts (after a crash, a kill -9,
 * a plain restart) takes the consoles of the VPSes it re-adopts back from it. The keeper
 * drops a console when its init exits and leaves when it holds none and no vpsd is
 * connected. */
#include "keeper.h"

#include "log.h"
#include "vps/cleanup.h"
#include "vps/fdpass.h"
#include "vps/localsock.h"
#include "vps/syscalls.h"
#include "vpsd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct keeper_msg {
        char op; /* Put (+ master, hold, pidfd[, sysinfo listener]), Drop, Get, Entry (+ fds),
                  * Z: end of entries */
        char id[VPS_ID_MAX + 1];
};

/* RUN_DIR/keeper.sock of the root (created with its run directory). */
static int keeper_path(const char *root, char *path, size_t size)
{
        vps_error err;
        int dfd = vps_run_dir_open(root, path, size, &err);
        if (dfd < 0) {
                /* A new root does not exist yet: the first start connects. */
                if (dfd != -ENOENT)
                        vpsd_log("console keeper: %s", err.msg);
                return dfd;
        }
        close(dfd);
        size_t n = strlen(path);
        if (snprintf(path + n, size - n, "/keeper.sock") >= (int)(size - n))
                return -ENAMETOOLONG;
        return 0;
}

/* ---- The keeper process ---- */

struct entry {
        char id[VPS_ID_MAX + 1];
        int fds[4]; /* master, hold, pidfd, and the init's sysinfo listener if it has one */
        size_t n;
        bool dead;
        struct entry *next;
};

/* Entries dropped while a batch of epoll events is handled: a later event of the same batch
 * may still name one (its init exited as a client replaced or dropped it), so they are freed
 * only after the batch, and such an event sees them dead. */
static struct entry *graveyard;

static void entry_kill(int ep, struct entry *e)
{
        (void)epoll_ctl(ep, EPOLL_CTL_DEL, e->fds[2], NULL);
        for (size_t i = 0; i < e->n; i++)
                close(e->fds[i]);
        e->dead = true;
        e->next = graveyard;
        graveyard = e;
}

static void bury(void)
{
        while (graveyard) {
                struct entry *e = graveyard;
                graveyard = e->next;
                free(e);
        }
}

static void drop(int ep, struct entry **list, const char *id)
{
        for (struct entry **p = list; *p; p = &(*p)->next)
                if (strcmp((*p)->id, id) == 0) {
                        struct entry *e = *p;
                        *p = e->next;
                        entry_kill(ep, e);
                        return;
                }
}

/* One message of a client; false when the client has gone (and c is closed). */
static bool on_client(int ep, int c, struct entry **list)
{
        struct keeper_msg m;
        int fds[4];
        size_t n = 0;
        int r = vps_recv_msg(c, &m, sizeof(m), fds, 4, &n);
        if (r <= 0) {
                (void)epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL);
                close(c);
                return false;
        }
        m.id[sizeof(m.id) - 1] = '\0';
        if (m.op == 'P' && n >= 3) {
                drop(ep, list, m.id);
                struct entry *e = calloc(1, sizeof(*e));
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = e};
                if (e && epoll_ctl(ep, EPOLL_CTL_ADD, fds[2], &ev) == 0) {
                        (void)snprintf(e->id, sizeof(e->id), "%s", m.id);
                        memcpy(e->fds, fds, sizeof(fds));
                        e->n = n;
                        e->next = *list;
                        *list = e;
                        return true;
                }
                free(e);
        } else if (m.op == 'D') {
                drop(ep, list, m.id);
        } else if (m.op == 'G') {
                for (struct entry *e = *list; e; e = e->next) {
                        struct keeper_msg out = {.op = 'E'};
                        memcpy(out.id, e->id, sizeof(out.id));
                        (void)vps_send_msg(c, &out, sizeof(out), e->fds, e->n);
                }
                struct keeper_msg end = {.op = 'Z'};
                (void)vps_send_msg(c, &end, sizeof(end), NULL, 0);
        }
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
        return true;
}

int vpsd_keeper_main(void)
{
        signal(SIGTERM, SIG_IGN); /* only its clients and consoles decide when it goes */
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        int lfd = 3; /* the listening socket, from vpsd */
        int ep = epoll_create1(EPOLL_CLOEXEC);
        int listen_tag = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_tag};
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
                return 1;
        struct entry *list = NULL;
        int clients = 0;
        bool served = false;
        for (;;) {
                struct epoll_event evs[32];
                int n = epoll_wait(ep, evs, 32, served ? -1 : 10000);
                if (n == 0 && !served)
                        return 0; /* nobody came */
                for (int i = 0; i < n; i++) {
                        void *tag = evs[i].data.ptr;
                        if (tag == &listen_tag) {
                                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                                if (c >= 0 && !vps_sock_peer_is_root(c)) {
                                        close(c); /* the directory keeps others out too */
                                        continue;
                                }
                                struct epoll_event cev = {.events = EPOLLIN,
                                                          .data.u64 = (uint64_t)c << 1 | 1};
                                if (c >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) == 0) {
                                        clients++;
                                        served = true;
                                } else if (c >= 0) {
                                        close(c);
                                }
                        } else if (evs[i].data.u64 & 1) {
                                if (!on_client(ep, (int)(evs[i].data.u64 >> 1), &list))
                                        clients--;
                        } else { /* an init exited: its console goes */
                                struct entry *e = tag;
                                if (e->dead)
                                        continue; /* replaced or dropped earlier in the batch */
                                char id[sizeof(e->id)];
                                memcpy(id, e->id, sizeof(id));
                                drop(ep, &list, id);
                        }
                }
                bury();
                if (served && clients == 0 && !list)
                        return 0;
        }
}

/* ---- vpsd's side ---- */

static int spawn_keeper(const char *path)
{
        vps_error err;
        _cleanup_close_ int lfd =
                vps_sock_listen_path(path, SOCK_SEQPACKET | SOCK_CLOEXEC, 16, &err);
        if (lfd < 0)
                return lfd;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void)setsid();
                sigset_t none;
                sigemptyset(&none);
                (void)sigprocmask(SIG_SETMASK, &none, NULL);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (dup2(lfd, 3) < 0 || (null >= 0 && (dup2(null, 0) < 0 || dup2(null, 1) < 0)))
                        _exit(127);
                (void)vps_sys_close_range(4, ~0U, 0);
                /* A grandchild, so vpsd need not reap it and it outlives vpsd. */
                if (fork() != 0)
                        _exit(0);
                char *const argv[] = {"vpsd", "--console-keeper", NULL};
                execv("/proc/self/exe", argv);
                _exit(127);
        }
        (void)waitpid(pid, NULL, 0);
        return 0;
}

static int keeper_connect(const char *root)
{
        char path[160];
        if (keeper_path(root, path, sizeof(path)) < 0)
                return -1;
        vps_error err;
        for (int attempt = 0; attempt < 2; attempt++) {
                int fd = vps_sock_connect_root(path, SOCK_SEQPACKET | SOCK_CLOEXEC,
                                               "the console keeper's socket", &err);
                if (fd >= 0)
                        return fd;
                /* Refused or missing: no keeper (a socket file left by one that left). */
                if (attempt == 0 && (fd == -ECONNREFUSED || fd == -ENOENT)) {
                        int r = spawn_keeper(path);
                        if (r < 0) {
                                vpsd_log("console keeper: cannot start: %s", strerror(-r));
                                return -1;
                        }
                } else {
                        break;
                }
        }
        vpsd_log("console keeper: cannot connect: %s; consoles will not outlive vpsd", err.msg);
        return -1;
}

void vpsd_keeper_open(struct vpsd *d, const char *root)
{
        (void)snprintf(d->keeper_root, sizeof(d->keeper_root), "%s", root);
        d->keeper_fd = keeper_connect(root);
}

/* Sends m (and fds) to the keeper; once more through a new connection if the keeper went
 * away meanwhile (it leaves when it holds nothing and had no client for a moment). */
static int keeper_send(struct vpsd *d, const struct keeper_msg *m, const int *fds, size_t n)
{
        int r = d->keeper_fd >= 0 ? vps_send_msg(d->keeper_fd, m, sizeof(*m), fds, n) : -ENOTCONN;
        if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) {
                vps_closep(&d->keeper_fd);
                d->keeper_fd = keeper_connect(d->keeper_root);
                r = d->keeper_fd >= 0 ? vps_send_msg(d->keeper_fd, m, sizeof(*m), fds, n)
                                      : -ENOTCONN;
        }
        return r;
}

/* Which PID a pidfd refers to (its fdinfo). */
static pid_t pidfd_pid(int pidfd)
{
        char p[64];
        (void)snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", pidfd);
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        char line[128];
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "Pid:", 4) == 0)
                        return (pid_t)strtol(line + 4, NULL, 10);
        return -1;
}

void vpsd_keeper_restore(struct vpsd *d)
{
        /* From now on every start hands its console over (the manager is open). */
        d->m.console_hook = vpsd_keeper_put;
        d->m.console_hook_data = d;
        struct keeper_msg get = {.op = 'G'};
        if (keeper_send(d, &get, NULL, 0) < 0)
                return;
        unsigned int restored = 0;
        for (;;) {
                struct keeper_msg m;
                int fds[4];
                size_t n = 0;
                if (vps_recv_msg(d->keeper_fd, &m, sizeof(m), fds, 4, &n) <= 0 || m.op != 'E')
                        break;
                m.id[sizeof(m.id) - 1] = '\0';
                vps_error e;
                struct vps_inst *vi = vps_manager_find(&d->m, m.id, &e);
                bool take = n >= 3 && vi && vi->status == VPS_RUNNING && vi->console_fd < 0 &&
                            pidfd_pid(fds[2]) == vi->st.pid;
                if (take) {
                        (void)fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
                        vi->console_fd = vps_fd_high(fds[0]);
                        vi->console_hold = vps_fd_high(fds[1]);
                        close(fds[2]);
                        /* Its sysinfo listener: served again from the loop (vpsd_watch_vps). */
                        if (n == 4) {
                                vps_closep(&vi->notify_fd);
                                vi->notify_fd = fds[3];
                        }
                        restored++;
                        continue;
                }
                for (size_t i = 0; i < n; i++)
                        close(fds[i]);
                if (!vi || vi->status != VPS_RUNNING) {
                        struct keeper_msg drop_msg = {.op = 'D'};
                        memcpy(drop_msg.id, m.id, sizeof(drop_msg.id));
                        (void)keeper_send(d, &drop_msg, NULL, 0);
                }
        }
        if (restored)
                vpsd_log("console keeper: %u console%s taken back", restored,
                         restored == 1 ? "" : "s");
}

void vpsd_keeper_put(void *data, const char *id, int master, int hold, int pidfd, int notify)
{
        struct vpsd *d = data;
        if (master < 0 || hold < 0 || pidfd < 0)
                return;
        struct keeper_msg m = {.op = 'P'};
        (void)snprintf(m.id, sizeof(m.id), "%s", id);
        int fds[4] = {master, hold, pidfd, notify};
        int r = keeper_send(d, &m, fds, notify >= 0 ? 4 : 3);
        if (r < 0)
                vpsd_log("VPS %s: console keeper: %s", id, strerror(-r));
}

void vpsd_keeper_drop(struct vpsd *d, const char *id)
{
        struct keeper_msg m = {.op = 'D'};
        (void)snprintf(m.id, sizeof(m.id), "%s", id);
        if (d->keeper_fd >= 0)
                (void)keeper_send(d, &m, NULL, 0);
}
