/* Unit tests: the text edits behind --userpasswd and --ssh-key (guest.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guest/guest.h"

static const char shadow[] = "root:*:19000:0:99999:7:::\n"
                             "daemon:*:19000:0:99999:7:::\n"
                             "rooty:!:19000:0:99999:7:::\n";

static void test_shadow_set(void **state)
{
        vps_error err = {0};
        char *out = NULL;
        assert_int_equal(vps_shadow_set(shadow, "root", "$y$abc", 20000, &out, &err), 0);
        assert_string_equal(out, "root:$y$abc:20000:0:99999:7:::\n"
                                 "daemon:*:19000:0:99999:7:::\n"
                                 "rooty:!:19000:0:99999:7:::\n");
        free(out);
        /* The user whose name is a prefix of another's: only the exact one. */
        assert_int_equal(vps_shadow_set(shadow, "rooty", "H", 1, &out, &err), 0);
        assert_non_null(strstr(out, "root:*:19000"));
        assert_non_null(strstr(out, "rooty:H:1:0:99999"));
        free(out);
        assert_int_equal(vps_shadow_set(shadow, "nosuch", "H", 1, &out, &err), -ENOENT);
        assert_int_equal(vps_shadow_set(shadow, "bad:user", "H", 1, &out, &err), -EINVAL);
        assert_int_equal(vps_shadow_set("root:x\n", "root", "H", 1, &out, &err), -EBADMSG);
}

static void test_hash(void **state)
{
        vps_error err = {0};
        char h1[256], h2[256];
        assert_int_equal(vps_hash_password("pw", h1, sizeof(h1), &err), 0);
        assert_int_equal(vps_hash_password("pw", h2, sizeof(h2), &err), 0);
        assert_true(h1[0] == '$');
        assert_string_not_equal(h1, h2); /* salted */
        assert_null(strchr(h1, ':'));
}

static void test_keys_add(void **state)
{
        vps_error err = {0};
        char *out = NULL;
        const char *k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1 user@host\n";
        assert_int_equal(vps_keys_add("", k, &out, &err), 0);
        assert_string_equal(out, k);
        char *again = NULL;
        /* Added once only; a file without a final newline gets one. */
        assert_int_equal(vps_keys_add(out, k, &again, &err), 0);
        assert_string_equal(again, k);
        free(again);
        free(out);
        assert_int_equal(vps_keys_add("ssh-rsa AAAAB3 old",
                                      "# comment\r\n"
                                      "ssh-rsa AAAAB3 new\r\n",
                                      &out, &err),
                         0);
        assert_string_equal(out, "ssh-rsa AAAAB3 old\nssh-rsa AAAAB3 new\n");
        free(out);
        assert_int_equal(vps_keys_add("", "hello world\n", &out, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "'hello world'"));
        assert_int_equal(vps_keys_add("", "ssh-ed25519 AAAA\x01x\n", &out, &err), -EINVAL);
        assert_int_equal(vps_keys_add("", "\n\n", &out, &err), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shadow_set),
                cmocka_unit_test(test_hash),
                cmocka_unit_test(test_keys_add),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
