/* Unit tests: libvpsfleet's pure parts (base64, endpoints, node names, records) and the
 * failover's answer when no etcd endpoint can be reached (loopback ports nothing listens on). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "fleet/fleet.h"

static void test_b64_roundtrip(void **state)
{
        static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
        static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                            "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
        for (size_t i = 0; i < 7; i++) {
                char *b = etcd_b64(plain[i], strlen(plain[i]));
                assert_string_equal(b, coded[i]);
                size_t n = 99;
                char *back = etcd_unb64(b, &n);
                assert_int_equal(n, strlen(plain[i]));
                assert_string_equal(back, plain[i]);
                free(b);
                free(back);
        }
        /* Bytes with the high bit and NULs survive. */
        const char bin[4] = {'\0', (char)0xff, (char)0x80, 'x'};
        char *b = etcd_b64(bin, 4);
        size_t n = 0;
        char *back = etcd_unb64(b, &n);
        assert_int_equal(n, 4);
        assert_memory_equal(back, bin, 4);
        free(b);
        free(back);
        /* Not base64: NULL, never a guess. */
        assert_null(etcd_unb64("Zm9", NULL));
        assert_null(etcd_unb64("Zm9*", NULL));
        assert_null(etcd_unb64("Z===", NULL));
        assert_null(etcd_unb64("=m9v", NULL));
        assert_null(etcd_unb64("Zg==Zg==", NULL));
}

static void test_endpoints(void **state)
{
        struct etcd *e = NULL;
        vps_error err = {0};
        assert_int_equal(etcd_open("http://127.0.0.1:2379,https://10.0.0.2:2379/", NULL, &e, &err),
                         0);
        assert_string_equal(etcd_endpoint(e), "http://127.0.0.1:2379");
        etcd_close(e);
        static const char *const bad[] = {
                "", "127.0.0.1:2379", "ftp://x", "http://a,,http://b", "http://a b", "http://"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                e = NULL;
                assert_true(etcd_open(bad[i], NULL, &e, &err) < 0);
                assert_null(e);
                assert_int_equal(err.code, EINVAL);
        }
}

static void test_names(void **state)
{
        vps_error err = {0};
        assert_int_equal(fleet_name_check("node-1.dc2_a", &err), 0);
        assert_int_equal(fleet_name_check("", &err), -EINVAL);
        assert_int_equal(fleet_name_check("-x", &err), -EINVAL);
        assert_int_equal(fleet_name_check("a/b", &err), -EINVAL);
        assert_int_equal(fleet_name_check("a\nb", &err), -EINVAL);
        char long_name[80];
        memset(long_name, 'a', 64);
        long_name[64] = '\0';
        assert_int_equal(fleet_name_check(long_name, &err), -EINVAL);
        char *k = fleet_key("/vps/v1/", "owners", "n1", "101");
        assert_string_equal(k, "/vps/v1/owners/n1/101");
        free(k);
}

static void test_record(void **state)
{
        const char *ips[] = {"10.0.0.5", "2001:db8::5"};
        struct fleet_claim c = {.id = "101",
                                .node = "n1",
                                .state = "running",
                                .nonce = "x",
                                .ips = ips,
                                .n_ips = 2};
        char *text = fleet_vps_record(&c);
        json_t *o = json_loads(text, 0, NULL);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "node")), "n1");
        assert_string_equal(json_string_value(json_object_get(o, "state")), "running");
        assert_int_equal(json_array_size(json_object_get(o, "ips")), 2);
        json_decref(o);
        free(text);
}

/* Every endpoint refused: EHOSTUNREACH, "cluster unavailable: " and each endpoint's reason. */
static void test_unavailable(void **state)
{
        struct etcd *e = NULL;
        vps_error err = {0};
        assert_int_equal(etcd_open("http://127.0.0.1:1,http://127.0.0.1:9", NULL, &e, &err), 0);
        etcd_set_timeout(e, 1000);
        struct etcd_kvs kvs = {0};
        assert_int_equal(etcd_range(e, "/x", ETCD_PREFIX, 0, &kvs, &err), -EHOSTUNREACH);
        assert_non_null(strstr(err.msg, "cluster unavailable: http://127.0.0.1:1: "));
        assert_non_null(strstr(err.msg, "; http://127.0.0.1:9: "));
        const char *ips[] = {"10.0.0.5"};
        struct fleet_claim c = {.id = "101", .node = "n1", .ips = ips, .n_ips = 1};
        assert_int_equal(fleet_claim(e, "/vps/v1/", &c, &err), -EHOSTUNREACH);
        etcd_close(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_b64_roundtrip), cmocka_unit_test(test_endpoints),
                cmocka_unit_test(test_names),         cmocka_unit_test(test_record),
                cmocka_unit_test(test_unavailable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
