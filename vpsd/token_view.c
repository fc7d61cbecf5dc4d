/* vpsd: a VPS's object as a token sees it (token_view.h). */
#include "token_view.h"

#include <jansson.h>
#include <stddef.h>

void vpsd_token_vps_view(json_t *vps)
{
        static const char *const host_keys[] = {"root",      "pid",           "pid_starttime",
                                                "pid_ino",   "cgroup",        "uid_base",
                                                "uid_count", "sysinfo_socket"};
        for (size_t i = 0; json_is_object(vps) && i < sizeof(host_keys) / sizeof(*host_keys); i++)
                (void)json_object_del(vps, host_keys[i]);
}
