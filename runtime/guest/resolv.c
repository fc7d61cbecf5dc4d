/* libvps: the host's resolvers for the VPSes that inherit them (see guest.h). */
#include "vps/cleanup.h"
#include "guest/guest.h"
#include "vps/netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

/* resolv.conf(5): "nameserver ADDR", "search D..." or "domain D" (the last one counts),
 * comments from '#' or ';' at the start of a line; keywords start the line. */
static void parse_line(char *line, struct vps_resolv_file *f)
{
        static const char sep[] = " \t\r";
        char *save = NULL, *key = strtok_r(line, sep, &save);
        if (!key || *key == '#' || *key == ';')
                return;
        if (strcmp(key, "nameserver") == 0) {
                const char *addr = strtok_r(NULL, sep, &save);
                struct ns_addr a;
                vps_error e;
                char canon[VPS_IP_MAX];
                /* A zone (fe80::1%eth0) names a host interface: nothing a VPS has. */
                if (!addr || strchr(addr, '%') || strchr(addr, '/') ||
                    ns_addr_parse(addr, &a, &e) < 0 || f->n >= VPS_RESOLV_MAX_ENTRIES)
                        return;
                ns_addr_format(&a, canon, sizeof(canon));
                for (unsigned int i = 0; i < f->n; i++)
                        if (strcmp(f->ns[i], canon) == 0)
                                return;
                memcpy(f->ns[f->n++], canon, sizeof(canon));
                return;
        }
        if (strcmp(key, "search") != 0 && strcmp(key, "domain") != 0)
                return;
        size_t used = 0;
        f->search[0] = '\0';
        for (const char *d; (d = strtok_r(NULL, sep, &save));) {
                vps_error e;
                size_t len = strlen(d);
                /* "search ." (systemd-resolved with no domains) and anything that is no
                 * domain name stays out of the guest's file. */
                if (vps_hostname_check(d, &e) < 0 || used + len + 2 > sizeof(f->search))
                        continue;
                used += (size_t)snprintf(f->search + used, sizeof(f->search) - used, "%s%s",
                                         used ? " " : "", d);
        }
}

void vps_resolv_parse(const char *text, struct vps_resolv_file *ret)
{
        *ret = (struct vps_resolv_file){0};
        _cleanup_free_ char *copy = strdup(text ? text : "");
        for (char *p = copy, *line; p && (line = strsep(&p, "\n"));)
                parse_line(line, ret);
}

bool vps_resolv_is_local(const char *addr)
{
        struct ns_addr a;
        vps_error e;
        if (ns_addr_parse(addr, &a, &e) < 0)
                return false;
        if (a.family == AF_INET)
                return ((const unsigned char *)&a.a.v4)[0] == 127;
        static const unsigned char loop6[16] = {[15] = 1};
        return memcmp(&a.a.v6, loop6, sizeof(loop6)) == 0;
}

static int read_resolv(const char *path, struct vps_resolv_file *ret, vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = vps_read_file_at(AT_FDCWD, path, &text, NULL, err);
        if (r < 0)
                return vps_err_wrap(err, "reading the host's resolvers");
        vps_resolv_parse(text, ret);
        return 0;
}

/* Adds the servers of f that a VPS in mode reaches, skipping local ones. */
static void add_servers(struct vps_config *c, const struct vps_resolv_file *f)
{
        for (unsigned int i = 0; i < f->n && c->n_ns < VPS_RESOLV_MAX_NS; i++) {
                bool dup = false;
                for (unsigned int j = 0; j < c->n_ns; j++)
                        dup = dup || strcmp(c->nameserver[j], f->ns[i]) == 0;
                if (dup || vps_resolv_is_local(f->ns[i]) ||
                    (c->netmode == VPS_NET_BRIDGED && strchr(f->ns[i], ':')))
                        continue;
                memcpy(c->nameserver[c->n_ns++], f->ns[i], sizeof(c->nameserver[0]));
        }
}

int vps_resolv_inherit(struct vps_config *cfg, const char *conf, const char *upstream,
                       vps_error *err)
{
        struct vps_resolv_file host, up = {0};
        int r = read_resolv(conf && *conf ? conf : VPS_RESOLV_CONF_DEFAULT, &host, err);
        if (r < 0)
                return r;
        bool stub = false;
        for (unsigned int i = 0; i < host.n; i++)
                stub = stub || vps_resolv_is_local(host.ns[i]);
        vps_error e;
        if (stub)
                (void)read_resolv(upstream && *upstream ? upstream : VPS_RESOLV_UPSTREAM_DEFAULT,
                                  &up, &e);
        struct vps_config c = *cfg;
        c.n_ns = 0;
        /* In the host's order, each local server standing for the upstream ones. */
        for (unsigned int i = 0; i < host.n; i++) {
                struct vps_resolv_file one = {.n = 1};
                memcpy(one.ns[0], host.ns[i], sizeof(one.ns[0]));
                add_servers(&c, vps_resolv_is_local(host.ns[i]) ? &up : &one);
        }
        if (!c.searchdomain[0])
                memcpy(c.searchdomain, host.search[0] || !stub ? host.search : up.search,
                       sizeof(c.searchdomain));
        *cfg = c;
        return (int)c.n_ns;
}

void vps_resolv_effective(const struct vps_config *cfg, const char *conf, const char *upstream,
                          struct vps_config *ret, char *ret_why, size_t why_size)
{
        *ret = *cfg;
        if (why_size)
                ret_why[0] = '\0';
        if (cfg->n_ns != 0)
                return;
        vps_error err = {0};
        int r = vps_resolv_inherit(ret, conf, upstream, &err);
        if (r < 0)
                (void)snprintf(ret_why, why_size, "%s", err.msg);
        else if (r == 0)
                (void)snprintf(ret_why, why_size,
                               "%s names no name server a %s VPS can reach (a local one's "
                               "upstream servers are read from %s)",
                               conf && *conf ? conf : VPS_RESOLV_CONF_DEFAULT,
                               vps_netmode_name(cfg->netmode),
                               upstream && *upstream ? upstream : VPS_RESOLV_UPSTREAM_DEFAULT);
}
