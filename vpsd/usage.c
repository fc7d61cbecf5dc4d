/* vpsd --help. */
#include "usage.h"

#include "cgroup/cgroup.h"
#include "config/config.h"
#include "vps/util.h"
#include "net/net.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_ROOT   VPS_DEFAULT_ROOT
#define DEFAULT_SOCKET "/run/vps/vpsd.sock"

void vpsd_usage(FILE *f)
{
        fprintf(f,
                "Usage: vpsd [--config FILE] [--root DIR] [--socket PATH] [--cgroup-parent PATH]\n"
                "            [--bridge NAME] [--subnet CIDR] [--enforce-limits strict|warn]\n"
                "            [--listen ADDR:PORT] [--daemon [--pidfile FILE]]\n"
                "            [--cluster URL[,URL...] [--node NAME] [--advertise URL]]\n"
                "       vpsd --fingerprint [--root DIR]\n"
                "       vpsd --shutdown-all [--timeout S] [--socket PATH]\n"
                "\n"
                "  -C, --config FILE        settings file (default " VPS_DEFAULT_CONF ", env\n"
                "                           VPSD_CONFIG; see vpsd.conf(5)); options override\n"
                "                           it. Its settings:\n");
        /* From the parser's own list, so that no setting is left out here. */
        size_t col = 0;
        for (const char *const *k = vps_daemon_conf_keys; *k; k++) {
                size_t len = strlen(*k) + 1;
                if (col && col + 1 + len > 52)
                        col = (fputc('\n', f), 0);
                fprintf(f, "%s%s%s", col ? " " : "                           ", *k,
                        k[1] ? "," : "");
                col += (col ? 1 : 0) + len;
        }
        fprintf(f,
                "\n"
                "  -r, --root DIR           state root (default " DEFAULT_ROOT ", env VPSD_ROOT)\n"
                "  -s, --socket PATH        API socket (default " DEFAULT_SOCKET
                ", env VPSD_SOCKET)\n"
                "  -c, --cgroup-parent PATH cgroup (inside the cgroup2 mount) holding the\n"
                "                           VPS cgroups (default: vpsd's own cgroup + /vps,\n"
                "                           or /vps-HASH for a root other than " DEFAULT_ROOT ")\n"
                "  -b, --bridge NAME        bridge of networked VPSes (default " VPS_DEFAULT_BRIDGE
                ")\n"
                "  -n, --subnet CIDR        their IPv4 subnet; the bridge takes its first\n"
                "                           address (default " VPS_DEFAULT_SUBNET ")\n"
                "  -e, --enforce-limits strict|warn  refuse (strict, the default) or only warn\n"
                "                           about limits the host cannot enforce\n"
                "  -l, --listen ADDR:PORT   serve the API remotely too, on HTTPS alone (TLS\n"
                "                           1.2+), to trusted client certificates and tokens\n"
                "                           (vpsctl trust, vpsctl token); [::]:PORT for IPv6\n"
                "  -F, --fingerprint        print the SHA-256 fingerprint of the remote API's\n"
                "                           certificate (made on first use) and exit\n"
                "      --routes             print the API's routes and the verb each needs\n"
                "                           (JSON lines) and exit\n"
                "      --cluster URL,...    a node of the fleet on that etcd: --node NAME (the\n"
                "                           host's), --advertise https://ADDR:PORT (its API)\n"
                "  -d, --daemon             detach; return once the socket accepts requests\n"
                "  -P, --pidfile FILE       with --daemon: write the daemon's PID to FILE\n"
                "  -S, --shutdown-all       ask the running vpsd to stop every VPS at once\n"
                "                           (clean halts, killed after --timeout S, default\n"
                "                           60) and wait: for host shutdown\n"
                "  -h, --help               show this help\n"
                "  -V, --version            show the version\n"
                "\n"
                "A change that enters a running VPS (set --hostname, --nameserver, --ipadd,\n"
                "--userpasswd, --ssh-key) runs beside the event loop and fails when the guest\n"
                "does not let it finish within guest_timeout seconds (vpsd.conf, default 10).\n"
                "A VPS reaches the host itself (its gateway, any host address) only by ICMP,\n"
                "by replies to the host's own connections and on the ports of vpsd.conf\n"
                "host_allow (default " VPS_DEFAULT_HOST_ALLOW
                "; e.g. tcp:22,udp:53,tcp:8000-8100,\n"
                "or none); NAT, port forwards and VPS-to-VPS traffic are not affected.\n"
                "A live vpsd holds its cgroup parent, bridge and subnet: another vpsd asked\n"
                "to use one of them (or an overlapping one) refuses to start, naming it.\n");
}
