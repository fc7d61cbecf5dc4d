/* vpsd: Prometheus metrics. Read from each running VPS's cgroup stat files (no walk of its
 * tree) and its traffic totals; what a client may see is narrowed by its token's VPSes. */
#include "metrics.h"

#include "api.h"
#include "auth.h"
#include "vps/cleanup.h"
#include "core/core.h"
#include "net/net.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct out {
        char *buf;
        size_t len, cap;
        bool failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(line) ||
            vps_buf_append(&o->buf, &o->len, &o->cap, line, (size_t)n, 64u << 20, 0) < 0)
                o->failed = true;
}

/* A series from the stats object (NULL second: the first alone); scale divides. */
static const struct metric {
        const char *name, *type, *help, *a, *b;
        double scale;
} metrics[] = {
        {"vps_cpu_seconds_total", "counter", "CPU time used by the VPS.", "cpu", "usage_usec", 1e6},
        {"vps_memory_bytes", "gauge", "Memory used by the VPS.", "memory", "current", 1},
        {"vps_memory_limit_bytes", "gauge", "The VPS's memory limit (memory.max).", "memory", "max",
         1},
        {"vps_swap_bytes", "gauge", "Swap used by the VPS.", "memory", "swap_current", 1},
        {"vps_oom_kills_total", "counter", "Processes of the VPS killed for memory.", "events",
         "oom_kill", 1},
        {"vps_processes", "gauge",
         "Tasks in the VPS (pids.current, or its cgroup.procs without the pids controller).",
         "pids", "current", 1},
        {"vps_io_read_bytes_total", "counter", "Bytes the VPS read from block devices.", "io",
         "rbytes", 1},
        {"vps_io_write_bytes_total", "counter", "Bytes the VPS wrote to block devices.", "io",
         "wbytes", 1},
        {"vps_io_read_ops_total", "counter", "Read operations of the VPS.", "io", "rios", 1},
        {"vps_io_write_ops_total", "counter", "Write operations of the VPS.", "io", "wios", 1},
        {"vps_network_receive_bytes_total", "counter", "Bytes the VPS received.", "network",
         "rx_bytes", 1},
        {"vps_network_receive_packets_total", "counter", "Packets the VPS received.", "network",
         "rx_packets", 1},
        {"vps_network_transmit_bytes_total", "counter", "Bytes the VPS sent.", "network",
         "tx_bytes", 1},
        {"vps_network_transmit_packets_total", "counter", "Packets the VPS sent.", "network",
         "tx_packets", 1},
};

int vpsd_route_metrics(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                       unsigned int *status, json_t **ret, vps_error *err)
{
        const struct vpsd_client *c = vpsd_request_client(req);
        _cleanup_json_ json_t *counters = vps_net_counters(&d->m, NULL);
        _cleanup_json_ json_t *all = json_array();
        size_t running = 0;
        for (size_t i = 0; i < d->m.n; i++) {
                struct vps_inst *vi = d->m.v[i];
                running += vi->status != VPS_STOPPED;
                if (c && !vpsd_client_sees(c, vi->cfg.id))
                        continue;
                json_t *s = vi->status != VPS_STOPPED && vi->st.cgroup[0]
                                    ? vps_cgroup_stats(vi->st.cgroup)
                                    : json_object();
                if (!s)
                        continue;
                json_object_set_new(s, "id", json_string(vi->cfg.id));
                /* The API's status: a start under way is starting, not stopped, and a
                 * frozen VPS paused; up while its processes exist (running, paused,
                 * stopping). */
                json_object_set_new(s, "state", json_string(vps_inst_status_name(vi)));
                json_object_set_new(s, "up", json_boolean(vi->status != VPS_STOPPED));
                struct vps_traffic t;
                vps_error e;
                json_t *net = json_object();
                if (vps_traffic_total(&d->m, vi, json_object_get(counters, vi->cfg.id), false, &t,
                                      &e) == 0)
                        vps_traffic_to_json(&t, net);
                json_object_set_new(s, "network", net);
                json_array_append_new(all, s);
        }
        struct out o = {0};
        size_t i;
        json_t *s;
        put(&o, "# HELP vps_up Whether the VPS runs (1) or not (0).\n# TYPE vps_up gauge\n");
        json_array_foreach(all, i, s)
        {
                put(&o, "vps_up{id=\"%s\"} %d\n", json_string_value(json_object_get(s, "id")),
                    json_is_true(json_object_get(s, "up")));
        }
        put(&o, "# HELP vps_state The VPS's state (1 for the one it is in): running, paused, "
                "stopping, starting, backoff or stopped.\n# TYPE vps_state "
                "gauge\n");
        json_array_foreach(all, i, s)
        {
                put(&o, "vps_state{id=\"%s\",state=\"%s\"} 1\n",
                    json_string_value(json_object_get(s, "id")),
                    json_string_value(json_object_get(s, "state")));
        }
        for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
                const struct metric *mt = &metrics[m];
                put(&o, "# HELP %s %s\n# TYPE %s %s\n", mt->name, mt->help, mt->name, mt->type);
                json_array_foreach(all, i, s)
                {
                        json_t *v = json_object_get(json_object_get(s, mt->a), mt->b);
                        /* Without the pids controller: the tasks counted in cgroup.procs. */
                        if (!json_is_integer(v) && !strcmp(mt->a, "pids"))
                                v = json_object_get(s, "processes");
                        if (!json_is_integer(v))
                                continue; /* stopped, or no such controller on this host */
                        const char *id = json_string_value(json_object_get(s, "id"));
                        if (mt->scale == 1)
                                put(&o, "%s{id=\"%s\"} %lld\n", mt->name, id,
                                    (long long)json_integer_value(v));
                        else
                                put(&o, "%s{id=\"%s\"} %.6f\n", mt->name, id,
                                    (double)json_integer_value(v) / mt->scale);
                }
        }
        /* vpsd's own figures: a token sees the count of its own VPSes alone. */
        put(&o, "# HELP vpsd_vps VPSes this client may see.\n# TYPE vpsd_vps gauge\nvpsd_vps %zu\n",
            json_array_size(all));
        if (!c || c->kind != VPSD_CLIENT_TOKEN)
                put(&o,
                    "# HELP vpsd_vps_running VPSes running.\n# TYPE vpsd_vps_running gauge\n"
                    "vpsd_vps_running %zu\n# HELP vpsd_info vpsd's version.\n# TYPE vpsd_info "
                    "gauge\nvpsd_info{version=\"%s\"} 1\n",
                    running, VPS_VERSION);
        if (o.failed) {
                free(o.buf);
                return vps_err(err, ENOMEM, "out of memory");
        }
        *ret = json_stringn(o.buf ? o.buf : "", o.len);
        free(o.buf);
        return *ret ? 0 : vps_err(err, ENOMEM, "out of memory");
}
