/* Unit tests: the progress a template build reports, read from the builder's output
 * (template.h): one count that never goes backwards through debootstrap's rounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "template/template.h"

/* Feeds text to b as the builder's output and reads it. */
static void feed(struct vps_build *b, const char *text)
{
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
        close(p[1]);
        b->out_fd = p[0];
        vps_template_build_read(b);
        close(p[0]);
        b->out_fd = -1;
}

static long long field(const struct vps_build *b, const char *key)
{
        json_t *o = vps_template_build_json(b);
        assert_non_null(o);
        json_t *v = json_object_get(o, key);
        assert_true(json_is_integer(v));
        long long n = json_integer_value(v);
        json_decref(o);
        return n;
}

static void test_installing_never_goes_back(void **state)
{
        struct vps_build b = {.pidfd = -1, .out_fd = -1};
        feed(&b, "P: resolving bookworm from http://deb.debian.org/debian\n"
                 "I: Retrieving InRelease \n"
                 "I: Retrieving libc6 2.36-9\n"
                 "I: Retrieving dpkg 1.21\n"
                 "I: Retrieving bash 5.2\n"
                 "I: Extracting libc6...\n");
        assert_string_equal(b.phase, "extracting");
        assert_int_equal(field(&b, "packages"), 3);
        /* debootstrap's rounds: required unpacked, configured, then the base system. */
        const char *lines[] = {
                "I: Installing core packages...",
                "I: Unpacking required packages...",
                "I: Unpacking libc6...",
                "I: Configuring required packages...",
                "I: Configuring libc6...",
                "I: Unpacking the base system...",
                "I: Unpacking dpkg...",
                "I: Unpacking bash...",
                "I: Configuring the base system...",
                "I: Configuring dpkg...",
                "I: Configuring bash...",
                "I: Configuring libc6...",
                "I: Configuring bash...",
        };
        long long last = 0;
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                char l[128];
                (void)snprintf(l, sizeof(l), "%s\n", lines[i]);
                feed(&b, l);
                if (i < 2)
                        continue; /* no step yet */
                assert_string_equal(b.phase, "installing");
                long long done = field(&b, "done");
                assert_true(done >= last);
                assert_int_equal(field(&b, "total"), 6);
                assert_true(done <= 6);
                last = done;
        }
        /* Six steps for three packages; the two lines past them count no further. */
        assert_int_equal(last, 6);
        feed(&b, "P: fix-ups\n");
        assert_string_equal(b.phase, "fix-ups");
        assert_int_equal(field(&b, "total"), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_installing_never_goes_back),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
