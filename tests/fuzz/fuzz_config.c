/* libFuzzer target: config.json and state.json parsing, and the round trip
 * from_json -> to_json -> from_json, which must give back the same values. */
#include "config/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_text.h"

static void check(int ok, const char *what)
{
        if (!ok) {
                fprintf(stderr, "fuzz_config: round trip changed %s\n", what);
                abort();
        }
}

static void config_equal(const struct vps_config *a, const struct vps_config *b)
{
        check(strcmp(a->id, b->id) == 0, "id");
        check(strcmp(a->ostemplate, b->ostemplate) == 0, "ostemplate");
        check(strcmp(a->hostname, b->hostname) == 0, "hostname");
        check(a->uid_base == b->uid_base, "uid_base");
        check(a->uid_count == b->uid_count, "uid_count");
        check(a->created_at == b->created_at, "created_at");
        check(memcmp(&a->limits, &b->limits, sizeof(a->limits)) == 0, "limits");
        check(a->n_ip == b->n_ip, "n_ip");
        for (unsigned int i = 0; i < a->n_ip && i < VPS_MAX_IPS; i++)
                check(strcmp(a->ip[i], b->ip[i]) == 0, "ip");
        check(a->netmode == b->netmode, "netmode");
        check(a->rate == b->rate, "rate");
        check(a->features == b->features, "features");
        check(a->onboot == b->onboot && a->bootorder == b->bootorder, "onboot/bootorder");
        check(a->n_dev == b->n_dev, "n_dev");
        for (unsigned int i = 0; i < a->n_dev && i < VPS_MAX_DEVNODES; i++)
                check(strcmp(a->devnodes[i], b->devnodes[i]) == 0, "devnodes");
        check(a->n_fwd == b->n_fwd, "n_fwd");
        check(strcmp(a->searchdomain, b->searchdomain) == 0, "searchdomain");
}

static void state_equal(const struct vps_state *a, const struct vps_state *b)
{
        check(a->pid == b->pid, "pid");
        check(a->starttime == b->starttime, "starttime");
        check(a->pidfd_ino == b->pidfd_ino, "pidfd_ino");
        check(a->started_at == b->started_at, "started_at");
        check(strcmp(a->cgroup, b->cgroup) == 0, "cgroup");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = fuzz_text(data, size);
        if (!text)
                return 0;

        vps_error err = {0};
        struct vps_config c1, c2;
        if (vps_config_from_json(text, &c1, &err) == 0) {
                char *out = vps_config_to_json(&c1);
                check(out != NULL, "config (to_json failed)");
                check(vps_config_from_json(out, &c2, &err) == 0, "config (re-parse failed)");
                config_equal(&c1, &c2);
                char *out2 = vps_config_to_json(&c2);
                check(out2 && strcmp(out, out2) == 0, "config JSON text");
                free(out);
                free(out2);
        }

        struct vps_state s1, s2;
        if (vps_state_from_json(text, &s1, &err) == 0) {
                char *out = vps_state_to_json(&s1);
                check(out != NULL, "state (to_json failed)");
                check(vps_state_from_json(out, &s2, &err) == 0, "state (re-parse failed)");
                state_equal(&s1, &s2);
                char *out2 = vps_state_to_json(&s2);
                check(out2 && strcmp(out, out2) == 0, "state JSON text");
                free(out);
                free(out2);
        }
        free(text);
        return 0;
}
