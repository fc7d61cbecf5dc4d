/* Test tool (static, runs as root inside a VPS or in a VPS's network namespace): crafted
 * Ethernet frames on a raw packet socket, and a listener that counts them.
 *
 *   vps-probe-rawframe send IFACE MAGIC OWN_IP PEER_IP GW_IP FOREIGN_IP KIND...
 *   vps-probe-rawframe listen IFACE SECONDS MAGIC
 *
 * Every frame carries "MAGIC:KIND" in its payload (after the ARP body for ARP, in an unknown
 * option for a router advertisement); the listener counts the frames it receives on IFACE
 * (not those it sends) per KIND and prints "KIND COUNT" lines, after a first "ready" line
 * once it listens. Kinds: good (UDP from OWN_IP and the interface's MAC), vlan-ip (802.1Q
 * VID 5, UDP from FOREIGN_IP), vlan0-ip (a priority tag, VID 0), qinq-ip (802.1ad outer
 * tag), vlan-arp (802.1Q ARP reply claiming GW_IP), ethertype (0x88b5), arp-mac (ARP reply
 * whose sender MAC is not the interface's), arp-ip (ARP reply claiming FOREIGN_IP), ip-src
 * (UDP from FOREIGN_IP), mac-src (Ethernet source not the interface's), dhcp-offer (UDP from
 * port 67), ipv6-ll (UDP from the MAC's link-local address), ra (router advertisement of
 * 2001:db8:5f00::/64 from it), v6-unspec (UDP from ::). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_P_ALL_ 0x0003

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t foreign_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};

struct frame {
        uint8_t b[1514];
        size_t n;
};

static void put(struct frame *f, const void *p, size_t n)
{
        memcpy(f->b + f->n, p, n);
        f->n += n;
}
static void put16(struct frame *f, uint16_t v)
{
        v = htons(v);
        put(f, &v, 2);
}
static void put8(struct frame *f, uint8_t v)
{
        put(f, &v, 1);
}

static void eth(struct frame *f, const uint8_t *src, const uint8_t *dst)
{
        f->n = 0;
        put(f, dst, 6);
        put(f, src, 6);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
        for (size_t i = 0; i + 1 < n; i += 2)
                s += (uint32_t)(p[i] << 8 | p[i + 1]);
        if (n & 1)
                s += (uint32_t)(p[n - 1] << 8);
        return s;
}
static uint16_t fold(uint32_t s)
{
        while (s >> 16)
                s = (s & 0xffff) + (s >> 16);
        return (uint16_t)~s;
}

/* UDP from src:sport to dst:9 carrying tag, IPv4 header included. */
static void ipv4_udp(struct frame *f, struct in_addr src, struct in_addr dst, uint16_t sport,
                     const char *tag)
{
        size_t len = strlen(tag), ip = f->n;
        put16(f, 0x4500);
        put16(f, (uint16_t)(20 + 8 + len));
        put16(f, 0x1234);
        put16(f, 0);
        put8(f, 64);
        put8(f, 17);
        put16(f, 0);
        put(f, &src, 4);
        put(f, &dst, 4);
        uint16_t c = htons(fold(sum16(f->b + ip, 20, 0)));
        memcpy(f->b + ip + 10, &c, 2);
        put16(f, sport);
        put16(f, 9);
        put16(f, (uint16_t)(8 + len));
        put16(f, 0);
        put(f, tag, len);
}

static void arp_reply(struct frame *f, const uint8_t *smac, struct in_addr sip, struct in_addr tip,
                      const char *tag)
{
        put16(f, 0x0806);
        put16(f, 1);
        put16(f, 0x0800);
        put8(f, 6);
        put8(f, 4);
        put16(f, 2);
        put(f, smac, 6);
        put(f, &sip, 4);
        put(f, bcast, 6);
        put(f, &tip, 4);
        put(f, tag, strlen(tag)); /* trailing bytes, ignored by ARP */
}

static void lladdr(const uint8_t *mac, struct in6_addr *a)
{
        memset(a, 0, sizeof(*a));
        a->s6_addr[0] = 0xfe;
        a->s6_addr[1] = 0x80;
        a->s6_addr[8] = mac[0] ^ 2;
        a->s6_addr[9] = mac[1];
        a->s6_addr[10] = mac[2];
        a->s6_addr[11] = 0xff;
        a->s6_addr[12] = 0xfe;
        memcpy(a->s6_addr + 13, mac + 3, 3);
}

/* An IPv6 packet from src to ff02::1 with payload (next header nh), its checksum at csum_off
 * in the payload computed over the pseudo-header. */
static void ipv6(struct frame *f, const struct in6_addr *src, uint8_t nh, uint8_t hops,
                 uint8_t *payload, size_t len, size_t csum_off)
{
        struct in6_addr dst;
        inet_pton(AF_INET6, "ff02::1", &dst);
        uint8_t pseudo[40] = {0};
        memcpy(pseudo, src, 16);
        memcpy(pseudo + 16, &dst, 16);
        pseudo[34] = (uint8_t)(len >> 8);
        pseudo[35] = (uint8_t)len;
        pseudo[39] = nh;
        uint16_t c = htons(fold(sum16(payload, len, sum16(pseudo, 40, 0))));
        memcpy(payload + csum_off, &c, 2);
        put16(f, 0x86dd);
        put16(f, 0x6000);
        put16(f, 0);
        put16(f, (uint16_t)len);
        put8(f, nh);
        put8(f, hops);
        put(f, src, 16);
        put(f, &dst, 16);
        put(f, payload, len);
}

static void ipv6_udp(struct frame *f, const struct in6_addr *src, const char *tag)
{
        uint8_t p[128] = {0};
        size_t len = strlen(tag);
        p[1] = 9; /* ports 9 -> 9 */
        p[3] = 9;
        p[5] = (uint8_t)(8 + len);
        memcpy(p + 8, tag, len);
        ipv6(f, src, 17, 64, p, 8 + len, 6);
}

/* A router advertisement (lifetime 0: no default route) with a prefix 2001:db8:5f00::/64 for
 * autoconfiguration, and the tag in an option of an unknown type (ignored by receivers). */
static void router_adv(struct frame *f, const struct in6_addr *src, const char *tag)
{
        uint8_t p[256] = {0};
        size_t n = 0;
        p[n++] = 134; /* type */
        n += 3;       /* code, checksum */
        p[n++] = 64;  /* hop limit */
        n += 11;      /* flags, lifetime 0, reachable, retrans */
        p[n++] = 3;   /* prefix information */
        p[n++] = 4;
        p[n++] = 64;
        p[n++] = 0xc0;          /* on-link, autonomous */
        memset(p + n, 0xff, 8); /* valid and preferred lifetimes: forever */
        n += 12;
        inet_pton(AF_INET6, "2001:db8:5f00::", p + n);
        n += 16;
        size_t tl = strlen(tag), units = (2 + tl + 7) / 8;
        p[n] = 200;
        p[n + 1] = (uint8_t)units;
        memcpy(p + n + 2, tag, tl);
        n += units * 8;
        ipv6(f, src, 58, 255, p, n, 2);
}

static int build(struct frame *f, const char *kind, const uint8_t *mac, const char *magic,
                 struct in_addr own, struct in_addr peer, struct in_addr gw, struct in_addr foreign)
{
        char tag[128];
        (void)snprintf(tag, sizeof(tag), "%s:%s;", magic, kind);
        struct in6_addr ll, any = IN6ADDR_ANY_INIT;
        lladdr(mac, &ll);
        eth(f, strcmp(kind, "mac-src") == 0 ? foreign_mac : mac, bcast);
        if (strncmp(kind, "vlan", 4) == 0 || strcmp(kind, "qinq-ip") == 0) {
                put16(f, strcmp(kind, "qinq-ip") == 0 ? 0x88a8 : 0x8100);
                put16(f, strcmp(kind, "vlan0-ip") == 0 ? 0 : 5);
        }
        if (strcmp(kind, "good") == 0 || strcmp(kind, "mac-src") == 0) {
                put16(f, 0x0800);
                ipv4_udp(f, own, peer, 9, tag);
        } else if (strcmp(kind, "vlan-ip") == 0 || strcmp(kind, "vlan0-ip") == 0 ||
                   strcmp(kind, "qinq-ip") == 0 || strcmp(kind, "ip-src") == 0) {
                put16(f, 0x0800);
                ipv4_udp(f, foreign, peer, 9, tag);
        } else if (strcmp(kind, "dhcp-offer") == 0) {
                put16(f, 0x0800);
                ipv4_udp(f, own, peer, 67, tag);
        } else if (strcmp(kind, "vlan-arp") == 0) {
                arp_reply(f, mac, gw, peer, tag);
        } else if (strcmp(kind, "arp-mac") == 0) {
                arp_reply(f, foreign_mac, own, peer, tag);
        } else if (strcmp(kind, "arp-ip") == 0) {
                arp_reply(f, mac, foreign, peer, tag);
        } else if (strcmp(kind, "ethertype") == 0) {
                put16(f, 0x88b5);
                put(f, tag, strlen(tag));
        } else if (strcmp(kind, "ipv6-ll") == 0) {
                ipv6_udp(f, &ll, tag);
        } else if (strcmp(kind, "v6-unspec") == 0) {
                ipv6_udp(f, &any, tag);
        } else if (strcmp(kind, "ra") == 0) {
                router_adv(f, &ll, tag);
        } else {
                return -1;
        }
        while (f->n < 60) /* the Ethernet minimum, as a NIC pads */
                f->b[f->n++] = 0;
        return 0;
}

static int packet_socket(const char *ifname, struct sockaddr_ll *sll)
{
        int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL_));
        if (fd < 0) {
                perror("socket(AF_PACKET)");
                return -1;
        }
        memset(sll, 0, sizeof(*sll));
        sll->sll_family = AF_PACKET;
        sll->sll_protocol = htons(ETH_P_ALL_);
        sll->sll_ifindex = (int)if_nametoindex(ifname);
        if (!sll->sll_ifindex || bind(fd, (struct sockaddr *)sll, sizeof(*sll)) < 0) {
                fprintf(stderr, "binding to %s: %s\n", ifname, strerror(errno));
                close(fd);
                return -1;
        }
        return fd;
}

static int do_send(int argc, char **argv)
{
        if (argc < 9)
                return 2;
        struct in_addr own, peer, gw, foreign;
        if (!inet_pton(AF_INET, argv[4], &own) || !inet_pton(AF_INET, argv[5], &peer) ||
            !inet_pton(AF_INET, argv[6], &gw) || !inet_pton(AF_INET, argv[7], &foreign)) {
                fprintf(stderr, "bad address\n");
                return 2;
        }
        struct sockaddr_ll sll;
        int fd = packet_socket(argv[2], &sll);
        if (fd < 0)
                return 1;
        struct ifreq ifr = {0};
        (void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[2]);
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
                perror("SIOCGIFHWADDR");
                return 1;
        }
        const uint8_t *mac = (const uint8_t *)ifr.ifr_hwaddr.sa_data;
        int rc = 0;
        for (int i = 8; i < argc; i++) {
                struct frame f;
                if (build(&f, argv[i], mac, argv[3], own, peer, gw, foreign) < 0) {
                        fprintf(stderr, "unknown kind %s\n", argv[i]);
                        return 2;
                }
                sll.sll_halen = 6;
                memcpy(sll.sll_addr, bcast, 6);
                /* Three of each: one lost frame must not look like a filtered one. */
                for (int k = 0; k < 3; k++) {
                        if (sendto(fd, f.b, f.n, 0, (struct sockaddr *)&sll, sizeof(sll)) !=
                            (ssize_t)f.n) {
                                fprintf(stderr, "sending %s: %s\n", argv[i], strerror(errno));
                                rc = 1;
                                break;
                        }
                }
                if (rc == 0)
                        printf("sent %s\n", argv[i]);
        }
        close(fd);
        return rc;
}

struct count {
        char kind[32];
        unsigned int n;
};

static int do_listen(int argc, char **argv)
{
        if (argc != 5)
                return 2;
        struct sockaddr_ll sll;
        int fd = packet_socket(argv[2], &sll);
        if (fd < 0)
                return 1;
        int secs = atoi(argv[3]);
        char needle[64];
        (void)snprintf(needle, sizeof(needle), "%s:", argv[4]);
        size_t nl = strlen(needle);
        struct count c[32];
        size_t nc = 0;
        printf("ready\n");
        fflush(stdout);
        struct timespec end, now;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += secs;
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                long ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
                if (ms <= 0)
                        break;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, (int)ms) <= 0)
                        continue;
                uint8_t b[2048];
                struct sockaddr_ll from;
                socklen_t fl = sizeof(from);
                ssize_t n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
                if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING)
                        continue;
                const uint8_t *m = memmem(b, (size_t)n, needle, nl);
                if (!m)
                        continue;
                const uint8_t *k = m + nl, *e = memchr(k, ';', (size_t)(b + n - k));
                if (!e || e - k >= 32)
                        continue;
                size_t i;
                for (i = 0; i < nc; i++)
                        if (strlen(c[i].kind) == (size_t)(e - k) && !memcmp(c[i].kind, k, e - k))
                                break;
                if (i == nc) {
                        if (nc == 32)
                                continue;
                        memcpy(c[i].kind, k, e - k);
                        c[i].kind[e - k] = '\0';
                        c[i].n = 0;
                        nc++;
                }
                c[i].n++;
        }
        for (size_t i = 0; i < nc; i++)
                printf("%s %u\n", c[i].kind, c[i].n);
        return 0;
}

int main(int argc, char **argv)
{
        int r = 2;
        if (argc > 1 && strcmp(argv[1], "send") == 0)
                r = do_send(argc, argv);
        else if (argc > 1 && strcmp(argv[1], "listen") == 0)
                r = do_listen(argc, argv);
        if (r == 2)
                fprintf(stderr,
                        "usage: %s send IFACE MAGIC OWN_IP PEER_IP GW_IP FOREIGN_IP "
                        "KIND... | listen IFACE SECONDS MAGIC\n",
                        argv[0]);
        return r;
}
