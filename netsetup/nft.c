/* netsetup: nftables through libnftables (a library call, not an nft process). */
#include "netsetup/netsetup.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <nftables/libnftables.h>
#include <string.h>

/* libnftables waits for netlink replies with select(2), which aborts on an fd of 1024 or
 * more. A daemon with thousands of fds keeps one low fd in reserve and frees it for the
 * moment a context (and its netlink socket) exists. */
static int reserve = -1;

void ns_nft_reserve_low_fd(void)
{
        if (reserve < 0)
                reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static struct nft_ctx *ctx_new(void)
{
        if (reserve >= 0) {
                close(reserve);
                reserve = -1;
        }
        return nft_ctx_new(NFT_CTX_DEFAULT);
}

static void ctx_free(struct nft_ctx *nft)
{
        nft_ctx_free(nft);
        ns_nft_reserve_low_fd(); /* the socket's number, now free again */
}

/* One context for every batch of the process: a new one costs about 0.2 ms (its netlink
 * socket, the iproute2 tables it reads), on each start and stop of a networked VPS. Its
 * socket is opened by the first batch, while the process has few fds (select(2), above). */
static struct nft_ctx *run_ctx;

void ns_nft_forget_context(void)
{
        if (run_ctx)
                nft_ctx_free(run_ctx); /* closes this process's copy of its socket only */
        run_ctx = NULL;
}

int ns_nft_run(const char *commands, vps_error *err)
{
        if (!run_ctx && (run_ctx = ctx_new())) {
                nft_ctx_buffer_output(run_ctx);
                nft_ctx_buffer_error(run_ctx);
                ns_nft_reserve_low_fd();
        }
        struct nft_ctx *nft = run_ctx;
        if (!nft)
                return vps_err(err, ENOMEM, "nftables: cannot create a context");
        int r = nft_run_cmd_from_buffer(nft, commands);
        /* Reading a buffer empties it for the next batch; a warning left in the error
         * buffer would otherwise come first in a later batch's error. */
        (void)nft_ctx_get_output_buffer(nft);
        if (r == 0)
                (void)nft_ctx_get_error_buffer(nft);
        if (r != 0) {
                const char *msg = nft_ctx_get_error_buffer(nft);
                char line[400] = "";
                if (msg) {
                        size_t n = strcspn(msg, "\n");
                        if (n >= sizeof(line))
                                n = sizeof(line) - 1;
                        memcpy(line, msg, n);
                        line[n] = '\0';
                }
                return vps_err(err, EINVAL, "nftables: %s", line[0] ? line : "command failed");
        }
        return 0;
}

/* Removals of which some may be absent (a VPS started by an older vpsd, a start cut short):
 * a batch is all or nothing, so each line on its own once the whole batch fails. Each run
 * refills libnftables' cache, the dearest part of a run: one batch in the usual case. */
void ns_nft_run_each(const char *commands)
{
        vps_error e;
        if (ns_nft_run(commands, &e) == 0)
                return;
        char line[512];
        for (const char *p = commands; *p;) {
                size_t n = strcspn(p, "\n");
                if (n > 0 && n < sizeof(line)) {
                        memcpy(line, p, n);
                        line[n] = '\0';
                        (void)ns_nft_run(line, &e);
                }
                p += n + (p[n] == '\n');
        }
}

int ns_nft_query(const char *command, char **ret_json, vps_error *err)
{
        struct nft_ctx *nft = ctx_new();
        if (!nft)
                return vps_err(err, ENOMEM, "nftables: cannot create a context");
        nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
        nft_ctx_buffer_output(nft);
        nft_ctx_buffer_error(nft);
        int r = nft_run_cmd_from_buffer(nft, command);
        const char *out = nft_ctx_get_output_buffer(nft);
        char *copy = r == 0 && out ? strdup(out) : NULL;
        ctx_free(nft);
        if (!copy)
                return vps_err(err, r ? EINVAL : ENOMEM, "nftables: '%s' failed", command);
        *ret_json = copy;
        return 0;
}
