/* libvps: criu's network lock taken away after a dump that failed while the VPS runs on.
 * `--network-lock nftables` makes criu create a table "inet CRIU-<its run id>" in the dumped
 * tree's network namespace (criu 4.1.1 criu/netfilter.c, nftables_get_table; "CRIU-<pid>"
 * on a restore of older images). criu deletes it itself when a dump fails (cr-dump.c,
 * cr_dump_finish: network_unlock), but a criu that is killed leaves it, and with it the
 * VPS's traffic dropped. */
#include "checkpoint/checkpoint.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "netsetup/netsetup.h"
#include "vps/nsrun.h"

#include <linux/netfilter.h> /* after glibc's netinet/in.h */

bool vps_criu_lock_table(const char *name)
{
        return strncmp(name, VPS_CRIU_LOCK_PREFIX, sizeof(VPS_CRIU_LOCK_PREFIX) - 1) == 0;
}

/* Rounds of listing and deleting before giving up (VPS_CRIU_LOCKS_MAX tables each). */
#define NETLOCK_ROUNDS 32

struct unlock_call {
        struct stat host;           /* vpsd's own network namespace, never to be touched */
        struct vps_criu_locks *out; /* shared with the parent: what was deleted */
};

static void pick(const char *name, void *arg)
{
        struct vps_criu_locks *l = arg;
        if (vps_criu_lock_table(name) && l->n < VPS_CRIU_LOCKS_MAX)
                (void)snprintf(l->name[l->n++], sizeof(l->name[0]), "%s", name);
}

static int in_netns(void *arg, vps_error *err)
{
        const struct unlock_call *c = arg;
        struct stat now;
        if (stat("/proc/self/ns/net", &now) < 0)
                return vps_err_sys(err, errno, "its network namespace");
        if (now.st_dev == c->host.st_dev && now.st_ino == c->host.st_ino)
                return vps_err(err, EPERM, "its network namespace is the host's: left alone");
        /* Listed VPS_CRIU_LOCKS_MAX at a time, until none is left: the guest may have made
         * tables of that name itself, and criu's must not stay behind them. Bounded: a guest
         * that keeps making them only keeps its own traffic dropped. */
        for (int round = 0; round < NETLOCK_ROUNDS; round++) {
                struct vps_criu_locks found = {0};
                int r = ns_nft_tables(NFPROTO_INET, pick, &found, err);
                if (r < 0)
                        return r;
                if (found.n == 0)
                        return 0;
                for (size_t i = 0; i < found.n; i++) {
                        r = ns_nft_table_del(NFPROTO_INET, found.name[i], err);
                        if (r < 0 && r != -ENOENT)
                                return r;
                        if (r == 0 && c->out->n < VPS_CRIU_LOCKS_MAX)
                                memcpy(c->out->name[c->out->n++], found.name[i],
                                       sizeof(found.name[i]));
                }
        }
        return vps_err(err, EAGAIN, "more than %d tables named %s* keep coming",
                       NETLOCK_ROUNDS * VPS_CRIU_LOCKS_MAX, VPS_CRIU_LOCK_PREFIX);
}

int vps_checkpoint_net_unlock(const char *id, int pidfd, struct vps_criu_locks *ret_removed,
                              vps_error *err)
{
        *ret_removed = (struct vps_criu_locks){0};
        struct unlock_call c = {0};
        if (stat("/proc/self/ns/net", &c.host) < 0)
                return vps_err_sys(err, errno, "the host's network namespace");
        c.out = mmap(NULL, sizeof(*c.out), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                     0);
        if (c.out == MAP_FAILED)
                return vps_err_sys(err, errno, "mmap");
        memset(c.out, 0, sizeof(*c.out));
        int r = vps_ns_run(id, pidfd, CLONE_NEWNET, "removing criu's network lock", in_netns, &c,
                           err);
        /* What the child deleted before any failure is said too. */
        *ret_removed = *c.out;
        if (ret_removed->n > VPS_CRIU_LOCKS_MAX)
                ret_removed->n = VPS_CRIU_LOCKS_MAX;
        (void)munmap(c.out, sizeof(*c.out));
        return r < 0 ? vps_err_wrap(err, "VPS %s: criu's network lock", id) : 0;
}
