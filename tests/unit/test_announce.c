/* Unit tests: the announcements of a moved address (netsetup/announce.c): the gratuitous ARP
 * and the unsolicited neighbour advertisement byte by byte (the ICMPv6 checksum summed again
 * here), vpsd.conf's announce setting, and, as root in a network namespace of the test's
 * own, the frames as a neighbour on the other end of a veth receives them. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/net.h"
#include "netsetup/netsetup.h"
#include "vps/cleanup.h"

static const uint8_t mac[6] = {0x02, 0x56, 0x11, 0x22, 0x33, 0x44};

static uint16_t get16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static void test_arp(void **state)
{
        (void)state;
        struct ns_addr a;
        vps_error err = {0};
        assert_int_equal(ns_addr_parse("203.0.113.5", &a, &err), 0);
        uint8_t f[NS_ANNOUNCE_FRAME_MAX];
        for (int reply = 0; reply < 2; reply++) {
                memset(f, 0xee, sizeof(f));
                assert_int_equal(ns_announce_frame(&a, mac, reply, f, sizeof(f)), 42);
                static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
                assert_memory_equal(f, bcast, 6);
                assert_memory_equal(f + 6, mac, 6);
                assert_int_equal(get16(f + 12), 0x0806);
                const uint8_t *p = f + 14;
                assert_int_equal(get16(p), 1); /* Ethernet */
                assert_int_equal(get16(p + 2), 0x0800);
                assert_int_equal(p[4], 6);
                assert_int_equal(p[5], 4);
                assert_int_equal(get16(p + 6), reply ? 2 : 1);
                assert_memory_equal(p + 8, mac, 6);
                static const uint8_t ip[4] = {203, 0, 113, 5};
                assert_memory_equal(p + 14, ip, 4); /* sender and target: the address */
                assert_memory_equal(p + 24, ip, 4);
                static const uint8_t zero[6] = {0};
                assert_memory_equal(p + 18, reply ? mac : zero, 6);
        }
        /* A buffer too small: no frame. */
        assert_int_equal(ns_announce_frame(&a, mac, false, f, 41), 0);
}

/* The one's complement sum of the ICMPv6 message with its pseudo-header, checksum included:
 * 0xffff when the checksum is right. */
static uint16_t sum6(const uint8_t *ip6)
{
        uint32_t s = 0;
        size_t len = get16(ip6 + 4);
        for (int i = 8; i < 40; i += 2) /* source and destination */
                s += get16(ip6 + i);
        s += (uint32_t)len + ip6[6];
        for (size_t i = 0; i < len; i += 2)
                s += get16(ip6 + 40 + i);
        while (s >> 16)
                s = (s & 0xffff) + (s >> 16);
        return (uint16_t)s;
}

static void test_na(void **state)
{
        (void)state;
        struct ns_addr a;
        vps_error err = {0};
        assert_int_equal(ns_addr_parse("2001:db8:7::5", &a, &err), 0);
        uint8_t f[NS_ANNOUNCE_FRAME_MAX];
        assert_int_equal(ns_announce_frame(&a, mac, false, f, sizeof(f)), 86);
        static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
        assert_memory_equal(f, all_nodes_mac, 6);
        assert_memory_equal(f + 6, mac, 6);
        assert_int_equal(get16(f + 12), 0x86dd);
        const uint8_t *ip = f + 14;
        assert_int_equal(ip[0] >> 4, 6);
        assert_int_equal(get16(ip + 4), 32);
        assert_int_equal(ip[6], 58);
        assert_int_equal(ip[7], 255);
        assert_memory_equal(ip + 8, &a.a.v6, 16);
        struct in6_addr all;
        assert_int_equal(inet_pton(AF_INET6, "ff02::1", &all), 1);
        assert_memory_equal(ip + 24, &all, 16);
        const uint8_t *na = ip + 40;
        assert_int_equal(na[0], 136);
        assert_int_equal(na[1], 0);
        assert_int_equal(na[4], 0x20); /* Override only */
        assert_int_equal(na[5] | na[6] | na[7], 0);
        assert_memory_equal(na + 8, &a.a.v6, 16);
        assert_int_equal(na[24], 2);
        assert_int_equal(na[25], 1);
        assert_memory_equal(na + 26, mac, 6);
        assert_int_equal(sum6(ip), 0xffff);
        /* Another address, another checksum, still right. */
        assert_int_equal(ns_addr_parse("fd00::1:ffff", &a, &err), 0);
        assert_int_equal(ns_announce_frame(&a, mac, false, f, sizeof(f)), 86);
        assert_int_equal(sum6(f + 14), 0xffff);
        /* IPv6 has no reply form; a short buffer gets nothing. */
        assert_int_equal(ns_announce_frame(&a, mac, true, f, sizeof(f)), 0);
        assert_int_equal(ns_announce_frame(&a, mac, false, f, 85), 0);
}

static void test_setting(void **state)
{
        (void)state;
        struct vps_netconf n;
        vps_error err = {0};
        const struct {
                const char *text;
                int want;
        } ok[] = {
                {NULL, VPS_ANNOUNCE_MIGRATED},       {"", VPS_ANNOUNCE_MIGRATED},
                {"migrated", VPS_ANNOUNCE_MIGRATED}, {"always", VPS_ANNOUNCE_ALWAYS},
                {"never", VPS_ANNOUNCE_NEVER},
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                n.announce = 99;
                assert_int_equal(vps_net_configure_announce(&n, ok[i].text, &err), 0);
                assert_int_equal(n.announce, ok[i].want);
        }
        const char *bad[] = {"yes", "Always", "always ", "1"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(vps_net_configure_announce(&n, bad[i], &err), -EINVAL);
                assert_non_null(strstr(err.msg, "invalid announce"));
                assert_non_null(strstr(err.msg, "migrated, always or never"));
        }
}

/* As root, in a network namespace of its own: a veth pair a <-> b; what ns_announce sends on
 * a is what b receives, frame for frame. */
static void test_wire(void **state)
{
        (void)state;
        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
                skip();
        vps_error err = {0};
        assert_int_equal(ns_veth_create("ann-a", "ann-b", getpid(), mac, 0, &err), 0);
        unsigned int ia = if_nametoindex("ann-a"), ib = if_nametoindex("ann-b");
        assert_true(ia > 0 && ib > 0);
        assert_int_equal(ns_link_set_flags(ia, IFF_UP, IFF_UP, &err), 0);
        assert_int_equal(ns_link_set_flags(ib, IFF_UP, IFF_UP, &err), 0);
        uint8_t got[6];
        assert_int_equal(ns_link_mac(ib, got, &err), 0);
        assert_memory_equal(got, mac, 6);                           /* the peer's MAC as made */
        assert_int_equal(ns_link_mac(1, got, &err), -EAFNOSUPPORT); /* lo */
        _cleanup_close_ int rx = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        assert_true(rx >= 0);
        struct sockaddr_ll at = {
                .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)ib};
        assert_int_equal(bind(rx, (struct sockaddr *)&at, sizeof(at)), 0);
        struct ns_addr addrs[2];
        assert_int_equal(ns_addr_parse("198.51.100.9", &addrs[0], &err), 0);
        assert_int_equal(ns_addr_parse("2001:db8::9", &addrs[1], &err), 0);
        uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x77};
        assert_int_equal(ns_announce(ia, src, addrs, 2, &err), 0);
        /* The ARP request, the ARP reply, the advertisement: in that order, among whatever
         * else the kernel sends on a new link (its own IPv6 neighbour discovery). */
        uint8_t want[3][NS_ANNOUNCE_FRAME_MAX];
        size_t want_len[3] = {
                ns_announce_frame(&addrs[0], src, false, want[0], sizeof(want[0])),
                ns_announce_frame(&addrs[0], src, true, want[1], sizeof(want[1])),
                ns_announce_frame(&addrs[1], src, false, want[2], sizeof(want[2])),
        };
        int seen = 0;
        while (seen < 3) {
                struct pollfd p = {.fd = rx, .events = POLLIN};
                assert_int_equal(poll(&p, 1, 2000), 1);
                uint8_t buf[2048];
                ssize_t n = recv(rx, buf, sizeof(buf), 0);
                assert_true(n > 0);
                if (memcmp(buf + 6, src, 6) != 0)
                        continue; /* not ours */
                assert_int_equal((size_t)n, want_len[seen]);
                assert_memory_equal(buf, want[seen], want_len[seen]);
                seen++;
        }
        /* A link that is gone: the error names the sending. */
        assert_int_equal(ns_link_del(ia, &err), 0);
        assert_true(ns_announce(ia, src, addrs, 1, &err) < 0);
        assert_non_null(strstr(err.msg, "announcing an address"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_arp),
                cmocka_unit_test(test_na),
                cmocka_unit_test(test_setting),
                cmocka_unit_test(test_wire),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
