/* netsetup: announcing an address that has moved to this host (a migrated VPS's): for IPv4 a
 * gratuitous ARP (a request and a reply, as `arping -U` and `arping -A` send them), for IPv6
 * an unsolicited neighbour advertisement (RFC 4861 7.2.6: to all nodes, Override set), each
 * a whole Ethernet frame written to one link through a packet socket, so that the sender's
 * MAC can be the VPS's own (a port of a bridge) or the host's (routed: the host answers for
 * it). The neighbours update the entries they hold; the switches learn the new port. */
#include "netsetup/netsetup.h"

#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vps/cleanup.h"

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};
static const struct in6_addr all_nodes = {{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}};

/* Writes the Ethernet header; returns what follows it. */
static uint8_t *eth(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
        memcpy(p, dst, 6);
        memcpy(p + 6, src, 6);
        p[12] = (uint8_t)(type >> 8);
        p[13] = (uint8_t)type;
        return p + 14;
}

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

/* The one's complement sum of ICMPv6 (RFC 4443 2.3): the pseudo-header of src, dst, len
 * and next header 58, then the message. */
static uint16_t icmp6_sum(const struct in6_addr *src, const struct in6_addr *dst,
                          const uint8_t *msg, size_t len)
{
        uint32_t s = 0;
        for (int i = 0; i < 16; i += 2)
                s += (uint32_t)(src->s6_addr[i] << 8 | src->s6_addr[i + 1]) +
                     (uint32_t)(dst->s6_addr[i] << 8 | dst->s6_addr[i + 1]);
        s += (uint32_t)len + 58;
        for (size_t i = 0; i < len; i += 2)
                s += (uint32_t)(msg[i] << 8 | (i + 1 < len ? msg[i + 1] : 0));
        while (s >> 16)
                s = (s & 0xffff) + (s >> 16);
        return (uint16_t)~s;
}

size_t ns_announce_frame(const struct ns_addr *a, const uint8_t mac[6], bool reply, uint8_t *buf,
                         size_t size)
{
        if (a->family == AF_INET) {
                if (size < NS_ANNOUNCE_FRAME_MAX)
                        return 0;
                memset(buf, 0, 42);
                uint8_t *p = eth(buf, bcast, mac, ETHERTYPE_ARP);
                put16(p, ARPHRD_ETHER);
                put16(p + 2, ETHERTYPE_IP);
                p[4] = 6;
                p[5] = 4;
                put16(p + 6, reply ? ARPOP_REPLY : ARPOP_REQUEST);
                memcpy(p + 8, mac, 6);
                memcpy(p + 14, &a->a.v4, 4);
                /* The target's MAC: unknown in the request (RFC 5227), ours in the reply. */
                if (reply)
                        memcpy(p + 18, mac, 6);
                memcpy(p + 24, &a->a.v4, 4);
                return 42;
        }
        if (a->family != AF_INET6 || reply || size < NS_ANNOUNCE_FRAME_MAX)
                return 0;
        const size_t icmp_len = 24 + 8; /* the advertisement and its target link-layer option */
        memset(buf, 0, 14 + 40 + icmp_len);
        uint8_t *ip = eth(buf, all_nodes_mac, mac, ETHERTYPE_IPV6);
        ip[0] = 0x60;
        put16(ip + 4, (uint16_t)icmp_len);
        ip[6] = 58;  /* ICMPv6 */
        ip[7] = 255; /* the hop limit neighbour discovery requires */
        /* The source: the address itself, which is the sending interface's (RFC 4861 4.4). */
        memcpy(ip + 8, &a->a.v6, 16);
        memcpy(ip + 24, &all_nodes, 16);
        uint8_t *na = ip + 40;
        na[0] = 136;  /* neighbor advertisement */
        na[4] = 0x20; /* Override; neither Router nor Solicited */
        memcpy(na + 8, &a->a.v6, 16);
        na[24] = 2; /* target link-layer address, 8 bytes */
        na[25] = 1;
        memcpy(na + 26, mac, 6);
        put16(na + 2, icmp6_sum(&a->a.v6, &all_nodes, na, icmp_len));
        return 14 + 40 + icmp_len;
}

int ns_link_mac(unsigned int ifindex, uint8_t mac[6], vps_error *err)
{
        struct ifreq ifr = {0};
        if (!if_indextoname(ifindex, ifr.ifr_name))
                return vps_err_sys(err, errno, "link %u", ifindex);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
                return vps_err_sys(err, errno, "the MAC address of %s", ifr.ifr_name);
        if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
                return vps_err(err, EAFNOSUPPORT, "%s is not an Ethernet link", ifr.ifr_name);
        memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
        return 0;
}

int ns_announce(unsigned int ifindex, const uint8_t mac[6], const struct ns_addr *addrs,
                unsigned int n, vps_error *err)
{
        /* Protocol 0: a socket that only sends (nothing is queued to it). */
        _cleanup_close_ int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vps_err_sys(err, errno, "a packet socket");
        uint8_t frame[NS_ANNOUNCE_FRAME_MAX];
        for (unsigned int i = 0; i < n; i++) {
                for (int reply = 0; reply < 2; reply++) {
                        size_t len = ns_announce_frame(&addrs[i], mac, reply, frame, sizeof(frame));
                        if (len == 0)
                                continue;
                        struct sockaddr_ll to = {
                                .sll_family = AF_PACKET,
                                .sll_ifindex = (int)ifindex,
                                .sll_halen = 6,
                        };
                        memcpy(to.sll_addr, frame, 6);
                        if (sendto(fd, frame, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
                                char name[IF_NAMESIZE] = "?";
                                (void)if_indextoname(ifindex, name);
                                return vps_err_sys(err, errno, "announcing an address on %s", name);
                        }
                }
        }
        return 0;
}
