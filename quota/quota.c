/* quota: project quota limits and usage through quotactl_fd(2). */
#include "quota/quota.h"

#include <errno.h>
#include <linux/dqblk_xfs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/quota.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif
#ifndef XFS_SUPER_MAGIC
#define XFS_SUPER_MAGIC 0x58465342
#endif

static int quotactl_fd(int fd, int cmd, uint32_t id, void *addr)
{
        return (int)syscall(SYS_quotactl_fd, fd, QCMD(cmd, PRJQUOTA), id, addr);
}

static const char *fs_name(long type)
{
        switch (type) {
        case XFS_SUPER_MAGIC:
                return "xfs";
        case EXT4_SUPER_MAGIC:
                return "ext4";
        case TMPFS_MAGIC:
                return "tmpfs";
        case OVERLAYFS_SUPER_MAGIC:
                return "overlayfs";
        case BTRFS_SUPER_MAGIC:
                return "btrfs";
        default:
                return NULL;
        }
}

int vq_probe(int fd, char *fs, size_t fs_size, vps_error *err)
{
        struct statfs sf;
        if (fstatfs(fd, &sf) < 0)
                return vps_err_sys(err, errno, "statfs");
        const char *name = fs_name(sf.f_type);
        if (sf.f_type != XFS_SUPER_MAGIC && sf.f_type != EXT4_SUPER_MAGIC) {
                if (name)
                        return vps_err(err, EOPNOTSUPP,
                                       "project quotas need XFS or ext4, this is %s (put the "
                                       "storage root on one: see scripts/prepare-storage)",
                                       name);
                return vps_err(err, EOPNOTSUPP,
                               "project quotas need XFS or ext4, this is filesystem type 0x%lx "
                               "(put the storage root on one: see scripts/prepare-storage)",
                               (unsigned long)sf.f_type);
        }
        struct fs_quota_statv st = {.qs_version = FS_QSTATV_VERSION1};
        int r = quotactl_fd(fd, Q_XGETQSTATV, 0, &st);
        bool xfs = sf.f_type == XFS_SUPER_MAGIC;
        if (r < 0 && (errno == ENOSYS || errno == EOPNOTSUPP) && xfs)
                return vps_err(err, EOPNOTSUPP,
                               "this kernel has no quota support for xfs (CONFIG_XFS_QUOTA)");
        if (r < 0 && (errno == ENOSYS || errno == EOPNOTSUPP))
                r = 0; /* ext4 without its quota feature: flags stay 0, said below */
        if (r < 0)
                return vps_err_sys(err, errno, "reading the quota state of the %s filesystem",
                                   name);
        if (!(st.qs_flags & FS_QUOTA_PDQ_ACCT))
                return vps_err(err, EOPNOTSUPP, "project quotas are off on this %s filesystem (%s)",
                               name,
                               xfs ? "mount it with -o prjquota"
                                   : "it needs the project and quota features, "
                                     "`tune2fs -O project,quota -Q prjquota DEVICE` while "
                                     "unmounted, the prjquota mount option, and a kernel with "
                                     "CONFIG_QFMT_V2");
        if (!(st.qs_flags & FS_QUOTA_PDQ_ENFD))
                return vps_err(err, EOPNOTSUPP,
                               "project quotas on this %s filesystem are counted but not "
                               "enforced (mount it with -o prjquota, not pqnoenforce)",
                               name);
        (void)snprintf(fs, fs_size, "%s", name);
        return 0;
}

static uint64_t limit_bytes(uint64_t kib)
{
        return kib ? kib * QIF_DQBLKSIZE : VQ_NONE;
}

static uint64_t limit_count(uint64_t n)
{
        return n ? n : VQ_NONE;
}

int vq_get(int fd, uint32_t projid, struct vq_usage *ret, vps_error *err)
{
        struct if_dqblk q = {0};
        if (quotactl_fd(fd, Q_GETQUOTA, projid, &q) < 0 && errno != ENOENT)
                return vps_err_sys(err, errno, "reading the quota of project %u", projid);
        /* XFS answers ENOENT for a project it has no record of: nothing used, no limit. */
        *ret = (struct vq_usage){
                .space = q.dqb_curspace,
                .inodes = q.dqb_curinodes,
                .space_soft = limit_bytes(q.dqb_bsoftlimit),
                .space_hard = limit_bytes(q.dqb_bhardlimit),
                .inodes_soft = limit_count(q.dqb_isoftlimit),
                .inodes_hard = limit_count(q.dqb_ihardlimit),
        };
        return 0;
}

static uint64_t to_kib(uint64_t bytes)
{
        return bytes == VQ_NONE ? 0 : (bytes + QIF_DQBLKSIZE - 1) / QIF_DQBLKSIZE;
}

static uint64_t to_count(uint64_t n)
{
        return n == VQ_NONE ? 0 : n;
}

int vq_set(int fd, uint32_t projid, uint64_t space_soft, uint64_t space_hard, uint64_t inodes_soft,
           uint64_t inodes_hard, vps_error *err)
{
        struct if_dqblk q = {
                .dqb_bsoftlimit = to_kib(space_soft),
                .dqb_bhardlimit = to_kib(space_hard),
                .dqb_isoftlimit = to_count(inodes_soft),
                .dqb_ihardlimit = to_count(inodes_hard),
                .dqb_valid = QIF_LIMITS,
        };
        if (quotactl_fd(fd, Q_SETQUOTA, projid, &q) < 0)
                return vps_err_sys(err, errno, "setting the quota of project %u", projid);
        return 0;
}

int vq_is_free(int fd, uint32_t projid, bool *ret, vps_error *err)
{
        struct vq_usage u = {0};
        int r = vq_get(fd, projid, &u, err);
        if (r < 0)
                return r;
        *ret = u.space == 0 && u.inodes == 0 && u.space_soft == VQ_NONE &&
               u.space_hard == VQ_NONE && u.inodes_soft == VQ_NONE && u.inodes_hard == VQ_NONE;
        return 0;
}
