/* vpsd: the host's paths taken out of a token's error texts. A customer's token gets the
 * errors of its own requests ("starting VPS 101: opening cgroup /sys/fs/cgroup/vps/101/...:
 * ..."), which name where vpsd keeps things on the host: its state root, run directory and
 * cgroups, host PIDs under /proc. What the error says stays; where stays with the admin
 * (vpsd's log has the whole text). */
#include "redact.h"

#include "vpsd.h"
#include "vps/localsock.h"

#include <stdbool.h>
#include <string.h>

static bool ends_path(char c)
{
        return c == '\0' || strchr(" \t\n'\",:;()[]{}<>", c) != NULL;
}

/* The length of the host path at p (0: none), one of prefixes or below one. */
static size_t host_path_at(const char *p, const char *const *prefixes, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                size_t k = prefixes[i] ? strlen(prefixes[i]) : 0;
                if (k < 2 || strncmp(p, prefixes[i], k) != 0 || (p[k] != '/' && !ends_path(p[k])))
                        continue;
                while (!ends_path(p[k]))
                        k++;
                return k;
        }
        return 0;
}

void vpsd_redact_paths(char *text, size_t size, const char *const *prefixes, size_t n)
{
        const size_t rl = strlen(VPSD_REDACTED);
        for (size_t i = 0; text[i];) {
                /* A path starts the text or follows a delimiter. */
                size_t k = (i == 0 || ends_path(text[i - 1])) ? host_path_at(text + i, prefixes, n)
                                                              : 0;
                if (k == 0) {
                        i++;
                        continue;
                }
                size_t tail = strlen(text + i + k) + 1; /* with its NUL */
                if (i + rl + tail > size)               /* no room: the text ends here */
                        tail = size > i + rl ? size - i - rl : 0;
                if (i + rl >= size) {
                        text[i] = '\0';
                        return;
                }
                memmove(text + i + rl, text + i + k, tail);
                memcpy(text + i, VPSD_REDACTED, rl);
                text[size - 1] = '\0';
                i += rl;
        }
}

json_t *vpsd_redact_error(const struct vpsd *d, json_t *body)
{
        const char *msg = json_string_value(json_object_get(body, "error"));
        if (!msg)
                return body;
        char text[2048];
        (void)snprintf(text, sizeof(text), "%s", msg);
        const char *const prefixes[] = {
                d->m.root, VPS_RUN_DIR, d->m.cg.mount, "/proc", "/sys", "/dev", "/var/lib/lxcfs",
        };
        vpsd_redact_paths(text, sizeof(text), prefixes, sizeof(prefixes) / sizeof(prefixes[0]));
        if (strcmp(text, msg) != 0)
                json_object_set_new(body, "error", json_string(text));
        return body;
}
