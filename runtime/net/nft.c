/* libvps: the nft batches both network backends build (backend.h): the per-port maps of a
 * table, a VPS's chain with its counters and port entries, their delete batch, and reading
 * the counters back. */
#include "net/backend.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vps/util.h"

void vps_nft_addf(char *cmd, size_t size, const char *fmt, ...)
{
        size_t n = strlen(cmd);
        if (n >= size)
                return;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(cmd + n, size - n, fmt, ap);
        va_end(ap);
}

void vps_nft_port_maps(char *cmd, size_t size, const char *t, int priority)
{
        vps_nft_addf(cmd, size,
                     "add map %s ports { type ifname : verdict; }\n"
                     "add chain %s prerouting { type filter hook prerouting priority %d; "
                     "policy accept; }\n"
                     "flush chain %s prerouting\n"
                     "add rule %s prerouting iifname vmap @ports\n"
                     "add map %s rx { type ifname : counter; }\n"
                     "add chain %s postrouting { type filter hook postrouting priority %d; "
                     "policy accept; }\n"
                     "flush chain %s postrouting\n"
                     "add rule %s postrouting counter name oifname map @rx\n",
                     t, t, priority, t, t, t, t, priority, t, t);
}

void vps_nft_vps_chain(char *cmd, size_t size, const char *t, const char *id)
{
        vps_nft_addf(cmd, size, "add chain %s vps_%s\nflush chain %s vps_%s\n", t, id, t, id);
}

void vps_nft_vps_port(char *cmd, size_t size, const char *t, const char *id, const char *veth)
{
        vps_nft_addf(cmd, size,
                     "add counter %s tx_%s\n"
                     "add counter %s rx_%s\n"
                     "add rule %s vps_%s counter name \"tx_%s\"\n"
                     "add element %s rx { \"%s\" : \"rx_%s\" }\n"
                     "add element %s ports { \"%s\" : jump vps_%s }\n",
                     t, id, t, id, t, id, id, t, veth, id, t, veth, id);
}

void vps_nft_vps_delete(char *cmd, size_t size, const char *t, const char *id, const char *veth)
{
        vps_nft_addf(cmd, size,
                     "delete element %s ports { \"%s\" }\n"
                     "delete element %s rx { \"%s\" }\n"
                     "delete chain %s vps_%s\n"
                     "delete counter %s tx_%s\n"
                     "delete counter %s rx_%s\n",
                     t, veth, t, veth, t, id, t, id, t, id);
}

/* One counter into res as {"ID": {"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"}}. */
static void merge_counter(const char *name, uint64_t bytes, uint64_t packets, void *arg)
{
        json_t *res = arg;
        if (strncmp(name, "rx_", 3) && strncmp(name, "tx_", 3))
                return;
        json_t *o = json_object_get(res, name + 3);
        if (!o) {
                o = json_object();
                if (json_object_set_new(res, name + 3, o) < 0)
                        return;
        }
        char key[16];
        (void)snprintf(key, sizeof(key), "%.2s_bytes", name);
        json_object_set_new(o, key, json_integer((json_int_t)bytes));
        (void)snprintf(key, sizeof(key), "%.2s_packets", name);
        json_object_set_new(o, key, json_integer((json_int_t)packets));
}

void vps_nft_merge_counters(int family, const char *table, const char *id, json_t *res)
{
        vps_error e;
        if (!res)
                return;
        if (!id) {
                (void)ns_nft_counters(family, table, NULL, merge_counter, res, &e);
                return;
        }
        char name[VPS_ID_MAX + 4];
        (void)snprintf(name, sizeof(name), "rx_%s", id);
        (void)ns_nft_counters(family, table, name, merge_counter, res, &e);
        name[0] = 't';
        (void)ns_nft_counters(family, table, name, merge_counter, res, &e);
}
