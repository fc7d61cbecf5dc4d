/* libvps: the default security profile (see sandbox.h). */
#include "sandbox/sandbox.h"
#include "config/config.h"

#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/xattr.h>

const int vps_dropped_caps[] = {
        CAP_SYS_MODULE,   CAP_SYS_RAWIO,     CAP_SYS_TIME,   CAP_MAC_ADMIN,
        CAP_MAC_OVERRIDE, CAP_AUDIT_CONTROL, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND,
};
const unsigned int vps_n_dropped_caps = sizeof(vps_dropped_caps) / sizeof(vps_dropped_caps[0]);

const struct vps_denied_syscall vps_denied_syscalls[] = {
        {"kexec_load", 0},
        {"kexec_file_load", 0},
        {"init_module", 0},
        {"finit_module", 0},
        {"delete_module", 0},
        {"open_by_handle_at", 0},
        /* Container runtimes inside a VPS (runc, LXC) give each container a session keyring;
         * the keyring is per user namespace, but its syscalls are a large attack surface. */
        {"keyctl", VPS_FEAT_NESTING},
        {"add_key", VPS_FEAT_NESTING},
        {"request_key", VPS_FEAT_NESTING},
        {"bpf", 0},
        {"perf_event_open", 0},
        {"userfaultfd", 0},
        {"swapon", 0},
        {"swapoff", 0},
        {"acct", 0},
        {"lookup_dcookie", 0},
        {"iopl", 0},
        {"ioperm", 0},
        {"syslog", 0},
        {"nfsservctl", 0},
        /* The reads, writes, opens and connects a ring carries out are no syscalls this filter
         * sees, and io_uring has been a frequent source of kernel bugs (Docker and Podman
         * deny it too). */
        {"io_uring_setup", VPS_FEAT_IO_URING},
        {"io_uring_enter", VPS_FEAT_IO_URING},
        {"io_uring_register", VPS_FEAT_IO_URING},
};
const unsigned int vps_n_denied_syscalls =
        sizeof(vps_denied_syscalls) / sizeof(vps_denied_syscalls[0]);

static int drop_caps(vps_error *err)
{
        for (unsigned int i = 0; i < vps_n_dropped_caps; i++)
                if (prctl(PR_CAPBSET_DROP, vps_dropped_caps[i], 0, 0, 0) < 0 && errno != EINVAL)
                        return vps_err_sys(err, errno, "dropping capability %d",
                                           vps_dropped_caps[i]);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return vps_err_sys(err, errno, "clearing ambient capabilities");
        cap_t caps = cap_get_proc();
        if (!caps)
                return vps_err_sys(err, errno, "reading capabilities");
        int r = 0;
        if (cap_clear_flag(caps, CAP_INHERITABLE) < 0 || cap_set_proc(caps) < 0)
                r = vps_err_sys(err, errno, "clearing inheritable capabilities");
        cap_free(caps);
        return r;
}

const unsigned long vps_denied_ioctls[] = {TIOCSTI, TIOCLINUX};
const unsigned int vps_n_denied_ioctls = sizeof(vps_denied_ioctls) / sizeof(vps_denied_ioctls[0]);

/* The kernel takes an ioctl's request as an unsigned int: only its low 32 bits are compared,
 * or the same request with a high bit set would pass the rule and still be TIOCSTI. */
static int deny_ioctls(scmp_filter_ctx ctx, vps_error *err)
{
        for (unsigned int i = 0; i < vps_n_denied_ioctls; i++) {
                int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL,
                                                 (scmp_datum_t)vps_denied_ioctls[i]));
                if (r < 0)
                        return vps_err_sys(err, -r, "seccomp rule for ioctl %#lx",
                                           vps_denied_ioctls[i]);
        }
        return 0;
}

/* Address families a VPS has no use for and which reach past its namespaces or into kernel
 * attack surface: AF_VSOCK is not confined by network namespaces (a guest could reach a VM on
 * the host by CID where vhost-vsock is loaded), AF_ALG is the kernel's crypto API. Refused with
 * EAFNOSUPPORT, what a kernel built without them answers, which programs handle. */
static const int denied_families[] = {AF_VSOCK, AF_ALG};

static int deny_families(scmp_filter_ctx ctx, vps_error *err)
{
        for (size_t i = 0; i < sizeof(denied_families) / sizeof(denied_families[0]); i++) {
                int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                         SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffULL,
                                                 (scmp_datum_t)denied_families[i]));
                if (r < 0)
                        return vps_err_sys(err, -r, "seccomp rule for socket family %d",
                                           denied_families[i]);
        }
        return 0;
}

static int load_filter(unsigned int features, int *ret_listener, vps_error *err)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return vps_err(err, ENOMEM, "seccomp_init failed");
        int r = 0;
        /* Syscalls of a foreign architecture (i386 int 0x80, x32) fail with EPERM too. */
        if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM))) < 0 ||
            (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0) {
                seccomp_release(ctx);
                return vps_err_sys(err, -r, "configuring seccomp");
        }
        for (unsigned int i = 0; i < vps_n_denied_syscalls; i++) {
                const struct vps_denied_syscall *d = &vps_denied_syscalls[i];
                if (features & d->allowed_by)
                        continue;
                int nr = seccomp_syscall_resolve_name(d->name);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not a syscall on this architecture */
                if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0) {
                        seccomp_release(ctx);
                        return vps_err_sys(err, -r, "seccomp rule for %s", d->name);
                }
        }
        if ((r = deny_ioctls(ctx, err)) < 0 || (r = deny_families(ctx, err)) < 0) {
                seccomp_release(ctx);
                return r;
        }
        /* sysinfo(2) is answered by vpsd from the VPS's cgroup (sysinfo.c): free and
         * uptime of procps and busybox ask it, not /proc. Kernels or libseccomp without
         * user notification run it as it is. */
        bool notify = ret_listener && seccomp_api_get() >= 5;
        if (notify && (r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(sysinfo), 0)) < 0) {
                seccomp_release(ctx);
                return vps_err_sys(err, -r, "seccomp rule for sysinfo");
        }
        r = seccomp_load(ctx);
        if (r == 0 && notify && (*ret_listener = seccomp_notify_fd(ctx)) < 0)
                r = *ret_listener;
        seccomp_release(ctx);
        return r < 0 ? vps_err_sys(err, -r, "loading the seccomp filter") : 0;
}

int vps_security_apply(unsigned int features, int *ret_listener, vps_error *err)
{
        if (ret_listener)
                *ret_listener = -1;
        int r = drop_caps(err);
        return r < 0 ? r : load_filter(features, ret_listener, err);
}

#define FEATURES_XATTR "trusted.vps.features"

int vps_security_record(int cgroup_fd, unsigned int features, vps_error *err)
{
        char text[VPS_FEATURES_TEXT_MAX];
        vps_features_format(features, text);
        if (fsetxattr(cgroup_fd, FEATURES_XATTR, text, strlen(text), 0) < 0 && features)
                return vps_err_sys(err, errno, "recording the features on the VPS cgroup");
        return 0;
}

unsigned int vps_security_recorded(const char *cgroup)
{
        char text[VPS_FEATURES_TEXT_MAX];
        ssize_t n = cgroup ? getxattr(cgroup, FEATURES_XATTR, text, sizeof(text) - 1) : -1;
        struct vps_features_change c = {0};
        vps_error e;
        if (n <= 0)
                return 0;
        text[n] = '\0';
        return vps_features_parse(text, &c, &e) < 0 ? 0 : c.on;
}
