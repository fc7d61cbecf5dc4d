/* libvps: whether a running VPS's init takes its halt signal yet (core.h): asked of /proc
 * (sandbox/halt.c), the answer kept per run so that a view of 1000 VPSes asks little. */
#include "core/core.h"
#include "sandbox/sandbox.h"
#include "vps/cleanup.h"
#include "vps/syscalls.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the init sleeps in sigtimedwait() for sig: seen once, it stays so (busybox init's
 * main loop); not seen, asked again at most once a second. A read the guest holds (an init
 * held in an execve) costs the loop VPS_HALT_SIGWAIT_MS, then is not tried again for 10 s,
 * doubling to 10 min: a loaded host's slow answer is not taken for good. */
static bool sigwait_due(struct vps_inst *vi, int64_t now)
{
        if (vi->halt_probe_pid != vi->st.pid) {
                vi->halt_probe_pid = vi->st.pid;
                vi->halt_probe = 0;
                vi->halt_probe_at = 0;
                vi->halt_probe_held_ms = 0;
        }
        return vi->halt_probe != 1 && now >= vi->halt_probe_at;
}

static void sigwait_held(struct vps_inst *vi, int64_t now)
{
        int64_t w = vi->halt_probe_held_ms ? vi->halt_probe_held_ms * 2 : 10000;
        vi->halt_probe_held_ms = w < 600000 ? w : 600000;
        vi->halt_probe_at = now + vi->halt_probe_held_ms;
        vi->halt_probe = -1;
}

/* 1: seen waiting for sig, 0: not, -1: not known (the read was held, or slow past its
 * deadline under load). */
static int init_sigwait(struct vps_inst *vi, int sig)
{
        int64_t now = mono_ms();
        if (!sigwait_due(vi, now))
                return vi->halt_probe;
        int r = vps_halt_sigwait(vi->st.pid, sig, VPS_HALT_SIGWAIT_MS);
        if (r == -ETIMEDOUT) {
                sigwait_held(vi, now);
                return -1;
        }
        vi->halt_probe = r > 0;
        vi->halt_probe_at = now + 1000;
        return vi->halt_probe;
}

static bool booted_known(const struct vps_inst *vi)
{
        return vi->booted_pid == vi->st.pid && vi->booted_at == vi->st.started_at;
}

void vps_manager_halt_probe(struct vps_inst *const *v, size_t n)
{
        _cleanup_free_ pid_t *pid = calloc(n ? n : 1, sizeof(*pid));
        _cleanup_free_ int *sig = calloc(n ? n : 1, sizeof(*sig));
        _cleanup_free_ struct vps_inst **asked = calloc(n ? n : 1, sizeof(*asked));
        _cleanup_free_ char *ans = calloc(n ? n : 1, 1);
        if (!pid || !sig || !asked || !ans)
                return; /* each is then asked on its own, as before */
        int64_t now = mono_ms();
        size_t k = 0;
        vps_error e;
        for (size_t i = 0; i < n; i++) {
                struct vps_inst *vi = v[i];
                int s = vi->halt_signal ? vi->halt_signal : SIGTERM;
                /* Only what booting() would ask a grandchild: status alone settles most. */
                if (vi->status == VPS_STOPPED || vi->pidfd < 0 || booted_known(vi) ||
                    vps_halt_ready_status(vi->st.pid, s, &e) != 0 || !sigwait_due(vi, now))
                        continue;
                pid[k] = vi->st.pid;
                sig[k] = s;
                asked[k++] = vi;
        }
        bool timed_out;
        ssize_t got = vps_halt_sigwait_many(pid, sig, k, VPS_HALT_SIGWAIT_MS, ans, &timed_out);
        for (size_t i = 0; i < k; i++) {
                struct vps_inst *vi = asked[i];
                if (got >= 0 && i < (size_t)got) {
                        vi->halt_probe = ans[i] == '1';
                        vi->halt_probe_at = now + 1000;
                } else if (timed_out && i == (size_t)got) {
                        sigwait_held(vi, now);
                } else {
                        /* Not reached (behind a held one): not known, asked again by the
                         * next look. */
                        vi->halt_probe = -1;
                        vi->halt_probe_at = now + 1000;
                }
        }
}

/* 1: the init takes its halt signal now, 0: not yet (or it is gone), -1: not known (the
 * read of its sigtimedwait was held or slow). */
static int init_ready(struct vps_inst *vi, int sig)
{
        vps_error e;
        int r = vps_halt_ready_status(vi->st.pid, sig, &e);
        if (r < 0)
                return 0;
        if (r == 0)
                r = init_sigwait(vi, sig);
        /* Still the init read (its PID not reused after an exit that someone else reaped). */
        if (r > 0 && vps_sys_pidfd_send_signal(vi->pidfd, 0, NULL, 0) < 0)
                r = 0;
        return r;
}

int vps_manager_halt_ready(struct vps_manager *m, struct vps_inst *vi)
{
        if (vi->status == VPS_STOPPED || vi->pidfd < 0)
                return 0;
        return init_ready(vi, vps_manager_halt_signal(m, vi)) > 0;
}

/* Its init is known not to take the halt signal yet (a stop sends it again): not when the
 * look was held or slow. Once it could, this run is past booting: a listing of 1000 running
 * VPSes reads no /proc/PID/status each. */
bool vps_inst_booting(struct vps_inst *vi, bool look)
{
        if (booted_known(vi))
                return false;
        int sig = vi->halt_signal ? vi->halt_signal : SIGTERM;
        vps_error e;
        int r = look ? init_ready(vi, sig) : vps_halt_ready_status(vi->st.pid, sig, &e) > 0;
        if (r <= 0)
                return r == 0;
        vi->booted_pid = vi->st.pid;
        vi->booted_at = vi->st.started_at;
        return false;
}
