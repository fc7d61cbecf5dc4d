/* vpsctl: the API names fields by their JSON keys ('ram', 'ssh_key'); vpsctl's messages name
 * its own options (--ram, --ssh-key). */
#include "client.h"
#include "config/config.h"

#include <stdio.h>
#include <string.h>

void client_option_names(char *msg, size_t size)
{
        char out[sizeof(((vps_error *)0)->msg)];
        size_t o = 0;
        for (const char *p = msg; *p && o + 1 < sizeof(out);) {
                const char *end = *p == '\'' ? strchr(p + 1, '\'') : NULL;
                const char *opt = end ? vps_field_option(p + 1, (size_t)(end - p - 1)) : NULL;
                if (opt) {
                        int n = snprintf(out + o, sizeof(out) - o, "--%s", opt);
                        o = n < 0 ? o : o + (size_t)n;
                        if (o >= sizeof(out))
                                o = sizeof(out) - 1;
                        p = end + 1;
                        continue;
                }
                out[o++] = *p++;
        }
        out[o] = '\0';
        (void)snprintf(msg, size, "%s", out);
}
