/* Unit tests: the name servers a VPS inherits from the host (guest.h), and the --nameserver
 * keywords in a config (config.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "guest/guest.h"

static void put(const struct tmpdir *t, const char *name, const char *text, char *path, size_t size)
{
        (void)snprintf(path, size, "%s/%s", t->path, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void test_parse(void **state)
{
        struct vps_resolv_file f;
        vps_resolv_parse("# comment\n"
                         "; another\n"
                         "nameserver 192.0.2.1\n"
                         "nameserver\t2001:0db8::0001 \r\n"
                         "nameserver 192.0.2.1\n"    /* a duplicate */
                         "nameserver fe80::1%eth0\n" /* a zone: the host's link */
                         "nameserver bogus\n"
                         "nameserver 10.0.0.0/8\n"
                         "domain old.example\n"
                         "search example.com . corp.example bad_domain\n"
                         "options edns0 trust-ad\n",
                         &f);
        assert_int_equal(f.n, 2);
        assert_string_equal(f.ns[0], "192.0.2.1");
        assert_string_equal(f.ns[1], "2001:db8::1");
        assert_string_equal(f.search, "example.com corp.example"); /* the last line counts */
        vps_resolv_parse("", &f);
        assert_int_equal(f.n, 0);
        assert_string_equal(f.search, "");
}

static void test_is_local(void **state)
{
        assert_true(vps_resolv_is_local("127.0.0.53"));
        assert_true(vps_resolv_is_local("127.1.2.3"));
        assert_true(vps_resolv_is_local("::1"));
        assert_false(vps_resolv_is_local("128.0.0.1"));
        assert_false(vps_resolv_is_local("::2"));
        assert_false(vps_resolv_is_local("10.255.255.53"));
}

static struct vps_config base(enum vps_netmode mode)
{
        struct vps_config c = {.netmode = mode};
        strcpy(c.id, "101");
        return c;
}

static void test_inherit_plain(void **state)
{
        struct tmpdir *t = *state;
        char conf[300], up[300];
        put(t, "resolv.conf", "nameserver 192.0.2.10\nnameserver 2001:db8::53\nsearch a.example\n",
            conf, sizeof(conf));
        (void)snprintf(up, sizeof(up), "%s/missing", t->path);
        vps_error err = {0};
        struct vps_config c = base(VPS_NET_ROUTED);
        assert_int_equal(vps_resolv_inherit(&c, conf, up, &err), 2);
        assert_string_equal(c.nameserver[0], "192.0.2.10");
        assert_string_equal(c.nameserver[1], "2001:db8::53");
        assert_string_equal(c.searchdomain, "a.example");
        /* A bridged VPS has no IPv6; its own search domains win over the host's. */
        c = base(VPS_NET_BRIDGED);
        strcpy(c.searchdomain, "mine.example");
        assert_int_equal(vps_resolv_inherit(&c, conf, up, &err), 1);
        assert_string_equal(c.nameserver[0], "192.0.2.10");
        assert_string_equal(c.searchdomain, "mine.example");
}

static void test_inherit_stub(void **state)
{
        struct tmpdir *t = *state;
        char conf[300], up[300];
        put(t, "stub.conf",
            "# systemd-resolved's stub\nnameserver 127.0.0.53\noptions edns0\nsearch .\n", conf,
            sizeof(conf));
        put(t, "upstream.conf",
            "nameserver 198.51.100.1\nnameserver 127.0.0.1\nnameserver 198.51.100.2\n"
            "nameserver 198.51.100.3\nnameserver 198.51.100.4\nnameserver 198.51.100.5\n"
            "search lan.example\n",
            up, sizeof(up));
        vps_error err = {0};
        struct vps_config c = base(VPS_NET_BRIDGED);
        /* The stub's upstream servers in its place, local ones left out, at most 4. */
        assert_int_equal(vps_resolv_inherit(&c, conf, up, &err), 4);
        assert_string_equal(c.nameserver[0], "198.51.100.1");
        assert_string_equal(c.nameserver[1], "198.51.100.2");
        assert_string_equal(c.nameserver[3], "198.51.100.4");
        assert_string_equal(c.searchdomain, "lan.example");
        /* A stub whose upstream file is missing: no server, and effective says why. */
        (void)snprintf(up, sizeof(up), "%s/missing", t->path);
        struct vps_config in = base(VPS_NET_BRIDGED), eff;
        char why[400];
        vps_resolv_effective(&in, conf, up, &eff, why, sizeof(why));
        assert_int_equal(eff.n_ns, 0);
        assert_non_null(strstr(why, "names no name server"));
        /* The host's own file unreadable: an error, the config unchanged. */
        c = base(VPS_NET_BRIDGED);
        assert_true(vps_resolv_inherit(&c, up, up, &err) < 0);
        assert_int_equal(err.code, ENOENT);
        assert_int_equal(c.n_ns, 0);
}

static void test_effective_keeps_own(void **state)
{
        struct tmpdir *t = *state;
        char conf[300];
        put(t, "resolv.conf", "nameserver 192.0.2.10\n", conf, sizeof(conf));
        struct vps_config c = base(VPS_NET_BRIDGED), eff;
        char why[400];
        strcpy(c.nameserver[0], "203.0.113.7");
        c.n_ns = 1;
        vps_resolv_effective(&c, conf, conf, &eff, why, sizeof(why));
        assert_int_equal(eff.n_ns, 1);
        assert_string_equal(eff.nameserver[0], "203.0.113.7");
        assert_string_equal(why, "");
        strcpy(c.nameserver[0], VPS_NS_NONE);
        vps_resolv_effective(&c, conf, conf, &eff, why, sizeof(why));
        assert_true(vps_ns_none(&eff));
        c.n_ns = 0;
        vps_resolv_effective(&c, conf, conf, &eff, why, sizeof(why));
        assert_int_equal(eff.n_ns, 1);
        assert_string_equal(eff.nameserver[0], "192.0.2.10");
}

/* config.json: [] inherits, ["none"] alone is kept, "none" beside an address is refused. */
static void test_config_keywords(void **state)
{
#define FMT                                                                                        \
        "{\"id\": \"101\", \"ostemplate\": \"busybox\", \"uid_base\": 2000000,"                    \
        " \"uid_count\": 65536, \"created_at\": 1, \"nameserver\": %s}"
        char text[400];
        struct vps_config c;
        vps_error err = {0};
        (void)snprintf(text, sizeof(text), FMT, "[\"none\"]");
        assert_int_equal(vps_config_from_json(text, &c, &err), 0);
        assert_true(vps_ns_none(&c));
        char *out = vps_config_to_json(&c);
        assert_non_null(strstr(out, "\"none\""));
        free(out);
        (void)snprintf(text, sizeof(text), FMT, "[]");
        assert_int_equal(vps_config_from_json(text, &c, &err), 0);
        assert_int_equal(c.n_ns, 0);
        assert_false(vps_ns_none(&c));
        (void)snprintf(text, sizeof(text), FMT, "[\"none\", \"192.0.2.1\"]");
        assert_true(vps_config_from_json(text, &c, &err) < 0);
        (void)snprintf(text, sizeof(text), FMT, "[\"inherit\"]");
        assert_true(vps_config_from_json(text, &c, &err) < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_is_local),
                cmocka_unit_test_setup_teardown(test_inherit_plain, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_inherit_stub, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_effective_keeps_own, setup_dir, teardown_dir),
                cmocka_unit_test(test_config_keywords),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
