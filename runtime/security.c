/* libvps: the default security profile (see security.h). */
#include "vps/security.h"

#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

const int vps_dropped_caps[] = {
        CAP_SYS_MODULE,   CAP_SYS_RAWIO,     CAP_SYS_TIME,   CAP_MAC_ADMIN,
        CAP_MAC_OVERRIDE, CAP_AUDIT_CONTROL, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND,
};
const unsigned int vps_n_dropped_caps = sizeof(vps_dropped_caps) / sizeof(vps_dropped_caps[0]);

const char *const vps_denied_syscalls[] = {
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "open_by_handle_at",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "swapon",
        "swapoff",
        "acct",
        "lookup_dcookie",
        "iopl",
        "ioperm",
        "syslog",
        "nfsservctl",
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

static int load_filter(int *ret_listener, vps_error *err)
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
                int nr = seccomp_syscall_resolve_name(vps_denied_syscalls[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not a syscall on this architecture */
                if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0) {
                        seccomp_release(ctx);
                        return vps_err_sys(err, -r, "seccomp rule for %s", vps_denied_syscalls[i]);
                }
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

int vps_security_apply(int *ret_listener, vps_error *err)
{
        if (ret_listener)
                *ret_listener = -1;
        int r = drop_caps(err);
        return r < 0 ? r : load_filter(ret_listener, err);
}
