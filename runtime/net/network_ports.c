/* libvps: may a port forward take a host port? Not one a host socket is bound to (its
 * connections would go to the VPS instead), nor a privileged one (below 1024: sshd's, a web
 * server's) unless the operator insists. Read from /proc/self/net: vpsd runs in the host's
 * network namespace, where the forwards' DNAT applies. */
#include "vps/cleanup.h"
#include "vps/util.h"
#include "inst/inst.h"
#include "net/net.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TCP_LISTEN 0x0A
/* Bounds the search for the socket's owner (every fd of every process is a readlink). */
#define OWNER_SCAN_MAX 200000

/* The inode of a socket bound to port in one /proc/net table (tcp: listening ones only), or
 * 0 when none is. */
static unsigned long bound_in(const char *table, unsigned int port, bool tcp)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/self/net/%s", table);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        char line[512];
        if (!fgets(line, sizeof(line), f)) /* the header */
                return 0;
        while (fgets(line, sizeof(line), f)) {
                unsigned int lport, st;
                unsigned long inode;
                if (sscanf(line,
                           " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x "
                           "%*u %*u %lu",
                           &lport, &st, &inode) != 3)
                        continue;
                if (lport == port && (!tcp || st == TCP_LISTEN))
                        return inode ? inode : 1;
        }
        return 0;
}

/* "NAME (pid N)" of a process holding socket inode, or "a host socket". */
static void owner_of(unsigned long inode, char *ret, size_t size)
{
        (void)snprintf(ret, size, "a host socket");
        char want[40];
        int wl = snprintf(want, sizeof(want), "socket:[%lu]", inode);
        _cleanup_closedir_ DIR *proc = opendir("/proc");
        struct dirent *p;
        unsigned int budget = OWNER_SCAN_MAX;
        while (proc && budget && (p = readdir(proc))) {
                /* Not a process in a pid namespace below ours: a guest's can hold the
                 * readlinks (a process held in an execve by its FUSE daemon: base/proc.c),
                 * and none of them owns a host socket. Its status waits on nothing. */
                int depth = 0;
                if (!isdigit((unsigned char)p->d_name[0]) ||
                    vps_proc_ns_depth_init((pid_t)atoi(p->d_name), &depth) < 0 || depth != 1)
                        continue;
                char dir[300];
                (void)snprintf(dir, sizeof(dir), "/proc/%.250s/fd", p->d_name);
                _cleanup_closedir_ DIR *fds = opendir(dir);
                struct dirent *e;
                while (fds && budget && (e = readdir(fds))) {
                        budget--;
                        char link[600], target[48];
                        (void)snprintf(link, sizeof(link), "%s/%.255s", dir, e->d_name);
                        ssize_t n = readlink(link, target, sizeof(target) - 1);
                        if (n != wl || memcmp(target, want, (size_t)wl) != 0)
                                continue;
                        char comm[32] = "?", cp[300];
                        (void)snprintf(cp, sizeof(cp), "/proc/%.250s/comm", p->d_name);
                        _cleanup_fclose_ FILE *c = fopen(cp, "re");
                        if (c && fgets(comm, sizeof(comm), c))
                                comm[strcspn(comm, "\n")] = '\0';
                        (void)snprintf(ret, size, "%.31s (pid %.12s)", comm, p->d_name);
                        return;
                }
        }
}

static bool forwarded_by(const struct vps_inst *vi, const char *key)
{
        for (unsigned int j = 0; vi && j < vi->cfg.n_fwd; j++)
                if (strncmp(vi->cfg.forward[j], key, strlen(key)) == 0)
                        return true;
        return false;
}

int vps_net_check_forward_hosts(const struct vps_manager *m, const struct vps_inst *self,
                                char fwd[][24], unsigned int n, bool force, vps_error *err)
{
        (void)m;
        for (unsigned int i = 0; i < n; i++) {
                char proto[8];
                unsigned int hp, vp;
                if (sscanf(fwd[i], "%7[a-z]:%u:%u", proto, &hp, &vp) != 3)
                        return vps_err(err, EINVAL, "invalid forward '%.30s'", fwd[i]);
                char key[16];
                (void)snprintf(key, sizeof(key), "%s:%u:", proto, hp);
                /* What the VPS forwards already was checked when it was given. */
                if (forwarded_by(self, key))
                        continue;
                bool tcp = strcmp(proto, "tcp") == 0;
                unsigned long inode = bound_in(tcp ? "tcp" : "udp", hp, tcp);
                if (!inode)
                        inode = bound_in(tcp ? "tcp6" : "udp6", hp, tcp);
                if (inode) {
                        char who[96];
                        owner_of(inode, who, sizeof(who));
                        return vps_err(err, EADDRINUSE,
                                       "host port %s %u is in use on the host: %s %s it", proto, hp,
                                       who, tcp ? "listens on" : "is bound to");
                }
                if (hp < 1024 && !force)
                        return vps_err(err, EPERM,
                                       "host port %s %u is below 1024, where host services live: "
                                       "give 'force' to forward it anyway",
                                       proto, hp);
        }
        return 0;
}
