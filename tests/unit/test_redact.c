/* Unit tests: host paths taken out of a token's error texts (vpsd/redact.c): the prefixes and
 * what lies below them, not names that only begin alike nor paths inside words; several in
 * one text; a text that grows past its buffer ends cleanly; the error of an answer body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redact.h"
#include "vpsd.h"

static const char *const prefixes[] = {"/var/lib/vps", "/run/vps", "/sys/fs/cgroup", "/proc",
                                       "/dev"};

static void redacted(const char *in, const char *want)
{
        char buf[512];
        (void)snprintf(buf, sizeof(buf), "%s", in);
        vpsd_redact_paths(buf, sizeof(buf), prefixes, sizeof(prefixes) / sizeof(prefixes[0]));
        assert_string_equal(buf, want);
}

static void test_paths(void **state)
{
        (void)state;
        redacted("starting VPS 101: opening cgroup /sys/fs/cgroup/vps/101/exec: No such file",
                 "starting VPS 101: opening cgroup (host path): No such file");
        redacted("'/var/lib/vps/vps/101/upper' is full", "'(host path)' is full");
        redacted("the state in /run/vps (full)", "the state in (host path) (full)");
        redacted("/proc/4242/ns/net, /proc/1/root and /dev/pts/3",
                 "(host path), (host path) and (host path)");
        /* Not below a prefix: a longer name, a path inside a word, the guest's own paths. */
        redacted("/run/vpsx/a and /var/lib/vpsd", "/run/vpsx/a and /var/lib/vpsd");
        redacted("x/proc/1 and a/dev", "x/proc/1 and a/dev");
        redacted("no /etc/passwd in the VPS", "no /etc/passwd in the VPS");
        redacted("", "");
}

static void test_grows(void **state)
{
        (void)state;
        /* "/dev" (4 bytes) becomes 11: a buffer too small keeps a whole NUL-terminated text. */
        for (size_t size = 1; size < 40; size++) {
                char buf[64];
                memset(buf, 'Z', sizeof(buf));
                const char *in = "a /dev b /dev c";
                size_t n = strlen(in) + 1 < size ? strlen(in) + 1 : size;
                memcpy(buf, in, n);
                buf[n - 1] = '\0';
                vpsd_redact_paths(buf, size, prefixes, sizeof(prefixes) / sizeof(prefixes[0]));
                assert_true(strlen(buf) < size);
                assert_null(strstr(buf, "/dev"));
                assert_int_equal(buf[size], 'Z'); /* nothing written past size */
                if (size >= 32)
                        assert_string_equal(buf, "a (host path) b (host path) c");
        }
}

static void test_body(void **state)
{
        (void)state;
        struct vpsd *d = calloc(1, sizeof(*d));
        assert_non_null(d);
        (void)snprintf(d->m.root, sizeof(d->m.root), "/srv/vpsroot");
        (void)snprintf(d->m.cg.mount, sizeof(d->m.cg.mount), "/sys/fs/cgroup/unified");
        json_t *b = json_pack("{s:s, s:i}", "error",
                              "restoring: /srv/vpsroot/vps/7/upper: and /sys/fs/cgroup/unified/x",
                              "errno", 5);
        b = vpsd_redact_error(d, b);
        assert_string_equal(json_string_value(json_object_get(b, "error")),
                            "restoring: (host path): and (host path)");
        assert_int_equal(json_integer_value(json_object_get(b, "errno")), 5);
        json_decref(b);
        /* A body without an error text is left as it is. */
        b = json_pack("{s:s}", "status", "/srv/vpsroot");
        b = vpsd_redact_error(d, b);
        assert_string_equal(json_string_value(json_object_get(b, "status")), "/srv/vpsroot");
        json_decref(b);
        free(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_grows),
                cmocka_unit_test(test_body),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
