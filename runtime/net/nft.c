/* libvps: the nftables both network backends build (backend.h): the fixed skeleton of a table
 * (made once per daemon, as nft text), the elements a VPS adds to it on start (straight over
 * nfnetlink: no ruleset cache), the removal of what older vpsds made per VPS, and reading the
 * counters back. */
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

void vps_nft_table_name(const struct vps_nft_table *t, const char *bridge, char ret[IFNAMSIZ + 16])
{
        (void)snprintf(ret, IFNAMSIZ + 16, "%s_%s", t->kind, bridge);
}

void vps_nft_objects(const struct vps_nft_table *t, const char *bridge, char *cmd, size_t size)
{
        char n[IFNAMSIZ + 16];
        vps_nft_table_name(t, bridge, n);
        vps_nft_addf(cmd, size,
                     "add table %s\n"
                     "add set %s vports { type ifname; }\n"
                     "add map %s tx { type ifname : counter; }\n"
                     "add map %s rx { type ifname : counter; }\n"
                     "add chain %s check\n"
                     "add chain %s prerouting { type filter hook prerouting priority %d; "
                     "policy accept; }\n"
                     "add chain %s postrouting { type filter hook postrouting priority %d; "
                     "policy accept; }\n",
                     n, n, n, n, n, n, t->priority, n, t->priority);
        if (t->addrs4)
                vps_nft_addf(cmd, size, "add set %s %s { type ifname . ipv4_addr; }\n", n,
                             t->addrs4);
        if (t->addrs6)
                vps_nft_addf(cmd, size, "add set %s %s { type ifname . ipv6_addr; }\n", n,
                             t->addrs6);
        if (t->set)
                vps_nft_addf(cmd, size, "add set %s %s\n", n, t->set);
}

int vps_nft_run_objects(const struct vps_nft_table *t, const char *bridge, vps_error *err)
{
        char cmd[2048] = "";
        vps_nft_objects(t, bridge, cmd, sizeof(cmd));
        return ns_nft_run(cmd, err);
}

void vps_nft_rules(char *cmd, size_t size, const char *t)
{
        /* tx counts all a VPS sends, before its checks drop anything (as rx counts all it
         * is sent); a port of no VPS is in neither map, and the counter rule lets it pass. */
        vps_nft_addf(cmd, size,
                     "flush chain %s prerouting\n"
                     "add rule %s prerouting counter name iifname map @tx\n"
                     "add rule %s prerouting iifname @vports jump check\n"
                     "flush chain %s postrouting\n"
                     "add rule %s postrouting counter name oifname map @rx\n"
                     "flush chain %s check\n",
                     t, t, t, t, t, t);
}

void vps_nft_legacy(char *cmd, size_t size, const char *t, const char *id)
{
        /* Made first where absent, so that the removal cannot fail. */
        if (!id)
                vps_nft_addf(cmd, size,
                             "add map %s ports { type ifname : verdict; }\n"
                             "delete map %s ports\n",
                             t, t);
        else
                vps_nft_addf(cmd, size,
                             "add chain %s vps_%s\nflush chain %s vps_%s\ndelete chain %s vps_%s\n",
                             t, id, t, id, t, id);
}

struct ns_nft_op *vps_nft_op(struct vps_nft_ops *o, bool del, const char *set, const char *name,
                             const char *veth)
{
        if (o->n >= sizeof(o->op) / sizeof(o->op[0]))
                return NULL;
        struct ns_nft_op *op = &o->op[o->n++];
        *op = (struct ns_nft_op){.del = del, .set = set, .name = name};
        if (veth)
                ns_nft_key_put(op, veth, strlen(veth), IFNAMSIZ);
        return op;
}

void vps_nft_port_ops(struct vps_nft_ops *o, bool del, const char *id, const char *veth)
{
        (void)snprintf(o->tx, sizeof(o->tx), "tx_%s", id);
        (void)snprintf(o->rx, sizeof(o->rx), "rx_%s", id);
        /* The counters before the map elements that name them, and after them on removal. */
        if (!del) {
                vps_nft_op(o, false, NULL, o->tx, NULL);
                vps_nft_op(o, false, NULL, o->rx, NULL);
        }
        vps_nft_op(o, del, "tx", o->tx, veth);
        vps_nft_op(o, del, "rx", o->rx, veth);
        vps_nft_op(o, del, "vports", NULL, veth);
        if (del) {
                vps_nft_op(o, true, NULL, o->tx, NULL);
                vps_nft_op(o, true, NULL, o->rx, NULL);
        }
}

void vps_nft_ops_init(struct vps_nft_ops *o, const struct vps_nft_table *t, const char *bridge)
{
        o->n = 0;
        o->family = t->family;
        (void)snprintf(o->table, sizeof(o->table), "%s_%s", strchr(t->kind, ' ') + 1, bridge);
}

void vps_nft_addr_ops(struct vps_nft_ops *o, const struct vps_nft_table *t, bool del,
                      const char *veth, const char (*ips)[VPS_IP_MAX], unsigned int n)
{
        for (unsigned int i = 0; i < n; i++) {
                struct ns_addr a;
                vps_error e;
                if (ns_addr_parse(ips[i], &a, &e) < 0)
                        continue;
                bool v4 = a.family == AF_INET;
                const char *set = v4 ? t->addrs4 : t->addrs6;
                struct ns_nft_op *op = set ? vps_nft_op(o, del, set, NULL, veth) : NULL;
                if (op)
                        ns_nft_key_put(op, &a.a, v4 ? 4 : 16, v4 ? 4 : 16);
        }
}

int vps_nft_update_addrs(const struct vps_nft_table *t, const char *bridge, const char *veth,
                         const char (*old_ips)[VPS_IP_MAX], unsigned int n_old,
                         const char (*ips)[VPS_IP_MAX], unsigned int n, vps_error *err)
{
        struct vps_nft_ops o;
        vps_nft_ops_init(&o, t, bridge);
        vps_nft_addr_ops(&o, t, true, veth, old_ips, n_old);
        size_t n_del = o.n;
        vps_nft_addr_ops(&o, t, false, veth, ips, n);
        vps_error e;
        if (ns_nft_apply(o.family, o.table, o.op, o.n, &e) == 0)
                return 0;
        ns_nft_apply_each(o.family, o.table, o.op, n_del);
        return ns_nft_apply(o.family, o.table, o.op + n_del, o.n - n_del, err);
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
