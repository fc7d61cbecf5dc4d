/* Unit tests: vpsd.conf parsing (config.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "net/net.h"

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
        assert_int_equal(c.cg_max_depth, -2); /* not set: vpsd's defaults */
        assert_int_equal(vps_daemon_conf_parse(&c, "x",
                                               "cgroup_max_depth = 200\n"
                                               "cgroup_max_descendants = max\n",
                                               &err),
                         0);
        assert_int_equal(c.cg_max_depth, 200);
        assert_int_equal(c.cg_max_descendants, -1);
        assert_int_equal(c.cg_remove_ms, 0); /* not set */
        assert_int_equal(vps_daemon_conf_parse(&c, "x", "cgroup_remove_ms = 250\n", &err), 0);
        assert_int_equal(c.cg_remove_ms, 250);
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
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "cgroup_max_depth = -1\n", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "f:1: cgroup_max_depth takes a number"));
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "cgroup_max_descendants = 5x\n", &err),
                         -EINVAL);
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "cgroup_remove_ms = 0\n", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "cgroup_remove_ms takes milliseconds"));
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "cgroup_remove_ms = 60001\n", &err),
                         -EINVAL);
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "bridge = \n", &err), -EINVAL);
        assert_int_equal(
                vps_daemon_conf_parse(&c, "f", "bridge = waytoolongforabridgename\n", &err),
                -EINVAL);
}

static void test_guest_timeout(void **state)
{
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        vps_error err = {0};
        assert_int_equal(c.guest_timeout, 0);
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "guest_timeout = 3\n", &err), 0);
        assert_int_equal(c.guest_timeout, 3);
        static const char *const bad[] = {"0", "-1", "3601", "10s", "", "1e3"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char line[64];
                (void)snprintf(line, sizeof(line), "guest_timeout = %s\n", bad[i]);
                assert_int_equal(vps_daemon_conf_parse(&c, "f", line, &err), -EINVAL);
                assert_int_equal(c.guest_timeout, 3);
        }
        assert_non_null(strstr(err.msg, "guest_timeout takes seconds from 1 to 3600"));
}

static void test_criu_timeout(void **state)
{
        (void)state;
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        vps_error err = {0};
        assert_int_equal(c.criu_timeout, 0); /* not set: VPS_CRIU_TIMEOUT_DEFAULT */
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "criu_timeout = 2\n", &err), 0);
        assert_int_equal(c.criu_timeout, 2);
        assert_int_equal(vps_daemon_conf_parse(&c, "f", "criu_timeout = 86400\n", &err), 0);
        assert_int_equal(c.criu_timeout, VPS_CRIU_TIMEOUT_MAX);
        static const char *const bad[] = {"0", "-1", "86401", "300s", "", "3e2"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char line[64];
                (void)snprintf(line, sizeof(line), "criu_timeout = %s\n", bad[i]);
                assert_int_equal(vps_daemon_conf_parse(&c, "f", line, &err), -EINVAL);
                assert_int_equal(c.criu_timeout, VPS_CRIU_TIMEOUT_MAX);
        }
        assert_non_null(strstr(err.msg, "criu_timeout takes seconds from 1 to 86400"));
}

static void test_load_missing(void **state)
{
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        vps_error err = {0};
        assert_int_equal(vps_daemon_conf_load(&c, "/nonexistent/vpsd.conf", false, &err), 0);
        assert_int_equal(vps_daemon_conf_load(&c, "/nonexistent/vpsd.conf", true, &err), -ENOENT);
}

static void test_numbers(void **state)
{
        struct vps_daemon_conf c;
        vps_daemon_conf_init(&c);
        vps_error err = {0};
        assert_int_equal(c.restart_burst, 0); /* not set: vpsd's defaults */
        const char *text = "restart_burst = 3\nrestart_interval = 30\nrestart_delay_max = 600\n"
                           "log_burst = 50\nlog_interval = 60\nlog_max_size = 20M\n"
                           "log_keep = 5\ntoken_snapshots = 3\nstart_parallel = 4\n";
        assert_int_equal(vps_daemon_conf_parse(&c, "f", text, &err), 0);
        assert_int_equal(c.restart_burst, 3);
        assert_int_equal(c.restart_interval, 30);
        assert_int_equal(c.restart_delay_max, 600);
        assert_int_equal(c.log_burst, 50);
        assert_int_equal(c.log_interval, 60);
        assert_int_equal(c.log_max_size, 20ULL << 20);
        assert_int_equal(c.log_keep, 5);
        assert_int_equal(c.token_snapshots, 3);
        assert_int_equal(c.start_parallel, 4);
        static const char *const bad[] = {
                "restart_burst = 0\n",     "restart_burst = -1\n",
                "restart_interval = 1x\n", "log_keep = 100\n",
                "log_max_size = 1K\n",     "log_max_size = lots\n",
                "log_burst = \n",          "restart_delay_max = 99999999999999999999\n",
                "token_snapshots = 0\n",   "token_snapshots = 1001\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(vps_daemon_conf_parse(&c, "f", bad[i], &err), -EINVAL);
                assert_non_null(strstr(err.msg, "f:1: "));
        }
        assert_int_equal(c.log_keep, 5); /* all or nothing */
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
                cmocka_unit_test(test_parse_all),    cmocka_unit_test(test_defaults_untouched),
                cmocka_unit_test(test_errors),       cmocka_unit_test(test_guest_timeout),
                cmocka_unit_test(test_criu_timeout), cmocka_unit_test(test_load_missing),
                cmocka_unit_test(test_numbers),      cmocka_unit_test(test_host_allow),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
