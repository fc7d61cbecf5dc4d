/* vpsd: what the loop tells the fleet's thread, on a timer (a third of the lease's TTL): the
 * node's capacity (CPUs, RAM, disk, VPS count, load, templates) and the VPSes here with
 * their state and addresses, as JSON texts behind the fleet's mutex. Cheap reads only. */
#include "fleet_int.h"

#include "fleet.h"

#include "log.h"
#include "tls.h"
#include "template/template.h"
#include "vps/cleanup.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* MemTotal and MemAvailable of /proc/meminfo, in bytes. */
static void memory(uint64_t *total, uint64_t *avail)
{
        *total = *avail = 0;
        _cleanup_fclose_ FILE *fp = fopen("/proc/meminfo", "re");
        char line[128];
        unsigned long long kb;
        while (fp && fgets(line, sizeof(line), fp)) {
                if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
                        *total = kb * 1024;
                else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
                        *avail = kb * 1024;
        }
}

static json_t *template_names(struct vpsd *d)
{
        json_t *names = json_array();
        _cleanup_json_ json_t *list = NULL;
        vps_error err;
        if (names && vps_templates_list(&d->m, &list, &err) == 0) {
                size_t i;
                json_t *t;
                json_array_foreach(list, i, t)
                {
                        json_t *n = json_object_get(t, "name");
                        if (json_is_string(n))
                                json_array_append(names, n);
                }
        }
        return names;
}

static char *node_info(struct vpsd *d, struct vpsd_fleet *f)
{
        uint64_t ram_total, ram_free;
        memory(&ram_total, &ram_free);
        if (f->test_ram_free)
                ram_free = f->test_ram_free;
        struct statvfs sv = {0};
        (void)statvfs(d->m.root, &sv);
        double load[1] = {0};
        (void)getloadavg(load, 1);
        size_t running = 0;
        for (size_t i = 0; i < d->m.n; i++)
                running += d->m.v[i]->status != VPS_STOPPED;
        _cleanup_json_ json_t *o =
                json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o?, s:b}",
                          "name", f->node, "advertise", f->advertise, "version", VPS_VERSION,
                          "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "ram_total",
                          (json_int_t)ram_total, "ram_free", (json_int_t)ram_free, "disk_total",
                          (json_int_t)((uint64_t)sv.f_blocks * sv.f_frsize), "disk_free",
                          (json_int_t)((uint64_t)sv.f_bavail * sv.f_frsize), "vps_count",
                          (json_int_t)d->m.n, "vps_running", (json_int_t)running, "load1",
                          (double)(long)(load[0] * 100 + 0.5) / 100, "templates",
                          json_incref(f->templates), "schedulable", 1);
        /* Who this node is to the others (create --node): its remote API's certificate,
         * which it also presents as a client, and the key they pin when they call it. */
        unsigned char h[32];
        _cleanup_free_ char *pin =
                d->tls_mhd && vpsd_tls_pubkey_hash(h) == 0 ? etcd_b64(h, sizeof(h)) : NULL;
        if (o && pin) {
                json_object_set_new(o, "fingerprint", json_string(d->tls_fp));
                json_object_set_new(o, "pubkey", json_sprintf("sha256//%s", pin));
        }
        return o ? json_dumps(o, JSON_COMPACT) : NULL;
}

static char *local_vps(struct vpsd *d)
{
        _cleanup_json_ json_t *a = json_array();
        for (size_t i = 0; a && i < d->m.n; i++) {
                const struct vps_inst *vi = d->m.v[i];
                json_t *ips = json_array();
                for (unsigned int k = 0; ips && k < vi->cfg.n_ip; k++)
                        json_array_append_new(ips, json_string(vi->cfg.ip[k]));
                json_array_append_new(a,
                                      json_pack("{s:s, s:s, s:o?}", "id", vi->cfg.id, "state",
                                                vi->status == VPS_STOPPED ? "stopped" : "running",
                                                "ips", ips));
        }
        return a ? json_dumps(a, JSON_COMPACT) : NULL;
}

/* The node's capacity and the VPSes here, handed to the thread (a sync at once when the
 * VPSes changed). */
static void publish(struct vpsd *d, struct vpsd_fleet *f)
{
        char *info = node_info(d, f), *local = local_vps(d);
        pthread_mutex_lock(&f->mu);
        bool changed = !f->local || !local || strcmp(f->local, local) != 0;
        free(f->info);
        free(f->local);
        f->info = info;
        f->local = local;
        /* A VPS created, destroyed, started or stopped reaches etcd now, not at the next
         * keep-alive. */
        if (changed) {
                f->dirty = true;
                pthread_cond_signal(&f->cv);
        }
        pthread_mutex_unlock(&f->mu);
}

void fleet_report_now(struct vpsd *d)
{
        publish(d, d->fleet);
}

static void tick(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct vpsd_fleet *f = d->fleet;
        struct stat st;
        bool tpl_changed =
                fstat(d->m.tpl_fd, &st) == 0 && (st.st_mtim.tv_sec != f->tpl_mtime.tv_sec ||
                                                 st.st_mtim.tv_nsec != f->tpl_mtime.tv_nsec);
        if (tpl_changed)
                f->tpl_mtime = st.st_mtim;
        if (f->ticks++ % 30 == 0 || tpl_changed) {
                json_decref(f->templates);
                f->templates = template_names(d);
        }
        publish(d, f);
        vps_error err;
        if (vpsd_timer_set(&f->w_tick, 1000, false, &err) < 0)
                vpsd_log("cluster: %s", err.msg);
}

int fleet_report_start(struct vpsd *d, struct vpsd_fleet *f, vps_error *err)
{
        /* Tests only: VPS_TEST_FLEET_RAM_FREE=BYTES in vpsd's environment at its start is
         * the free RAM this node reports (to make nodes differ for create --node auto). */
        const char *t = getenv("VPS_TEST_FLEET_RAM_FREE");
        f->test_ram_free = t ? strtoull(t, NULL, 10) : 0;
        /* VPS_TEST_FLEET_HOLD_MS=N: the loop held N ms between each create's local part and
         * its finish (fleet_create.c), as a loop that stalls there would. */
        const char *h = getenv("VPS_TEST_FLEET_HOLD_MS");
        f->test_hold_ms = h ? (unsigned int)strtoul(h, NULL, 10) : 0;
        int r = vpsd_timer_new(&d->ev, &f->w_tick, tick, d, err);
        if (r < 0)
                return r;
        tick(&f->w_tick, 0, d);
        return 0;
}
