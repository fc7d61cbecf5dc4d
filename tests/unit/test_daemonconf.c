/* Unit tests: vpsd.conf parsing (daemonconf.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vps/daemonconf.h"
#include "vps/network.h"

static void test_parse_all(void **state)
{
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        vps_error err = {0};
        const char *text = "# vpsd settings\n"
                           "\n"
                           "root = /srv/vps\n"
                           "socket=/run/vps/other.sock\n"
                           "  cgroup_parent =  /vps.slice/vps  \n"
                           "bridge = vpsbr1\r\n"
                           "subnet = 10.99.0.0/16\n"
                           "enforce_limits = warn\n"
                           "netmode = routed\n"
                           "uplink = eth1\n"
                           "mtu = 1450\n";
        assert_int_equal(vps_daemon_conf_parse(&c, "vpsd.conf", text, &err), 0);
        assert_string_equal(c.root, "/srv/vps");
        assert_string_equal(c.socket, "/run/vps/other.sock");
        assert_string_equal(c.cgroup_parent, "/vps.slice/vps");
        assert_string_equal(c.bridge, "vpsbr1");
        assert_string_equal(c.subnet, "10.99.0.0/16");
        assert_int_equal(c.enforce_warn, 1);
        assert_string_equal(c.netmode, "routed");
        assert_string_equal(c.uplink, "eth1");
        assert_string_equal(c.mtu, "1450");
        assert_int_equal(vps_daemon_conf_parse(&c, "x", "enforce_limits = strict\n", &err), 0);
        assert_int_equal(c.enforce_warn, 0);
}

static void test_defaults_untouched(void **state)
{
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        vps_error err = {0};
        assert_int_equal(vps_daemon_conf_parse(&c, "x", "# nothing\n", &err), 0);
        assert_string_equal(c.root, "");
        assert_int_equal(c.enforce_warn, -1);
}

static void test_errors(void **state)
{
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        vps_error err = {0};
        /* All or nothing: a bad line leaves c as it was, and names the file and the line. */
        assert_int_equal(
                vps_daemon_conf_parse(&c, "/etc/vps/vpsd.conf", "root = /a\nbogus = 1\n", &err),
                -EINVAL);
        assert_non_null(strstr(err.msg, "/etc/vps/vpsd.conf:2: unknown setting 'bogus'"));
        assert_string_equal(c.root, "");
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "root /a\n", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "f:1: expected 'key = value'"));
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "enforce_limits = maybe\n", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "strict or warn"));
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "netmode = venet\n", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "bridged or routed"));
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "bridge = \n", &err), -EINVAL);
        assert_int_equal(
                vps_daemon_conf_parse(&c, "f", "bridge = waytoolongforabridgename\n", &err),
                -EINVAL);
}

static void test_load_missing(void **state)
{
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        vps_error err = {0};
        assert_int_equal(vps_daemon_conf_load(&c, "/nonexistent/vpsd.conf", false, &err), 0);
        assert_int_equal(vps_daemon_conf_load(&c, "/nonexistent/vpsd.conf", true, &err), -ENOENT);
}

/* host_allow: the ports of the host itself that VPSes may reach, as nft set elements. */
static void test_host_allow(void **state)
{
        struct vps_netconf n;
        vps_error err = {0};
        assert_int_equal(vps_net_configure(&n, "vpsbr0", "10.88.0.0/16", &err), 0);
        assert_string_equal(n.host_tcp, "53"); /* the default: DNS */
        assert_string_equal(n.host_udp, "53");
        assert_int_equal(vps_net_configure_host_allow(&n, "tcp:22, udp:53,tcp:8000-8100", &err), 0);
        assert_string_equal(n.host_tcp, "22, 8000-8100");
        assert_string_equal(n.host_udp, "53");
        assert_int_equal(vps_net_configure_host_allow(&n, "none", &err), 0);
        assert_string_equal(n.host_tcp, "");
        assert_string_equal(n.host_udp, "");
        const char *bad[] = {"tcp:0",   "tcp:65536", "sctp:5",    "tcp:53,", "tcp:5-3",
                             "tcp:53-", "tcp:-5",    "tcp:5x",    "53",      "tcp: 5- 7",
                             "udp:+53", "tcp:",      "none,tcp:1"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err.msg[0] = '\0';
                assert_int_equal(vps_net_configure_host_allow(&n, bad[i], &err), -EINVAL);
                assert_non_null(strstr(err.msg, "host_allow"));
        }
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        assert_int_equal(vps_daemon_conf_parse(&c, "x", "host_allow = tcp:22,udp:53\n", &err), 0);
        assert_string_equal(c.host_allow, "tcp:22,udp:53");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_all),  cmocka_unit_test(test_defaults_untouched),
                cmocka_unit_test(test_errors),     cmocka_unit_test(test_load_missing),
                cmocka_unit_test(test_host_allow),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
