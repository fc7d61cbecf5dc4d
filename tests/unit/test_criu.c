/* Unit tests: the CRIU probe's report and what vpsd says of it (checkpoint/checkpoint.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "checkpoint/checkpoint.h"
#include "vps/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static struct vps_criu_status parsed(const char *report)
{
        struct vps_criu_status st = {.state = VPS_CRIU_PROBING, .path = "/usr/local/sbin/criu"};
        vps_criu_parse_report(report, &st);
        return st;
}

static void test_available(void **state)
{
        (void)state;
        struct vps_criu_status st = parsed("version 4.1.1\ncheck 0 30\nLooks good.\n");
        assert_int_equal(st.state, VPS_CRIU_AVAILABLE);
        assert_string_equal(st.version, "4.1.1");
        assert_string_equal(st.why, "");
        char line[600];
        vps_criu_describe(&st, line, sizeof(line));
        assert_string_equal(line, "available (criu 4.1.1, /usr/local/sbin/criu)");
        json_t *j = vps_criu_status_json(&st);
        assert_non_null(j);
        assert_true(json_is_true(json_object_get(j, "available")));
        assert_string_equal(json_string_value(json_object_get(j, "state")), "available");
        assert_true(json_is_null(json_object_get(j, "why")));
        json_decref(j);
}

/* Bookworm's criu on a 6.18 kernel: the error line is the reason, not the last line. */
static void test_fails_check(void **state)
{
        (void)state;
        struct vps_criu_status st =
                parsed("version 3.17.1\ncheck 1 30\n"
                       "Error (criu/vdso.c:627): vdso: Unexpected rt vDSO area bounds\n"
                       "Error (criu/cr-check.c:1605): Can't fill kdat\nSome checks failed\n");
        assert_int_equal(st.state, VPS_CRIU_UNAVAILABLE);
        assert_string_equal(st.version, "3.17.1");
        assert_non_null(strstr(st.why, "criu 3.17.1 (/usr/local/sbin/criu) fails its check"));
        assert_non_null(strstr(st.why, "Can't fill kdat"));
        char line[600];
        vps_criu_describe(&st, line, sizeof(line));
        assert_int_equal(strncmp(line, "not available: criu 3.17.1", 26), 0);
}

static void test_odd_reports(void **state)
{
        (void)state;
        struct vps_criu_status st = parsed("");
        assert_int_equal(st.state, VPS_CRIU_UNAVAILABLE);
        assert_string_equal(st.why, "the criu probe gave no report");
        st = parsed("version \ncheck -1 30\n");
        assert_int_equal(st.state, VPS_CRIU_UNAVAILABLE);
        assert_non_null(strstr(st.why, "did not finish within 30 s"));
        st = parsed("version 4.1.1\ncheck -2 30\n");
        assert_non_null(strstr(st.why, "could not be run"));
        /* A version with a space in it is no version. */
        st = parsed("version a b\ncheck 0 30\n");
        assert_int_equal(st.state, VPS_CRIU_AVAILABLE);
        assert_string_equal(st.version, "");
        st = parsed("version 4.1\ncheck 1 30\n");
        assert_non_null(strstr(st.why, "it said nothing"));
}

/* A check that passes where vpsd lacks a capability criu needs: not available, named. */
static void test_missing_caps(void **state)
{
        (void)state;
        char names[256];
        vps_criu_missing_caps(~0ull, names, sizeof(names));
        assert_string_equal(names, "");
        vps_criu_missing_caps(0x000001fffeffffffull, names, sizeof(names)); /* no bit 24 */
        assert_string_equal(names, "cap_sys_resource");
        vps_criu_missing_caps(0, names, sizeof(names));
        assert_non_null(strstr(names, "cap_sys_admin"));
        assert_non_null(strstr(names, "cap_sys_ptrace,"));
        struct vps_criu_status st =
                parsed("version 4.1.1\nmissing cap_sys_resource\ncheck 0 30\nLooks good.\n");
        assert_int_equal(st.state, VPS_CRIU_UNAVAILABLE);
        assert_string_equal(st.version, "4.1.1");
        assert_non_null(strstr(st.why, "vpsd lacks cap_sys_resource"));
        st = parsed("version 4.1.1\nmissing \ncheck 0 30\nLooks good.\n");
        assert_int_equal(st.state, VPS_CRIU_AVAILABLE);
        /* A failed check says its own error first. */
        st = parsed("version 4.1.1\nmissing cap_sys_resource\ncheck 1 30\nError (x): y\n");
        assert_non_null(strstr(st.why, "fails its check on this kernel: Error (x): y"));
}

static void test_find(void **state)
{
        (void)state;
        char path[256];
        vps_error err = {0};
        setenv("VPS_CRIU", "/nonexistent/criu", 1);
        assert_int_equal(vps_criu_find(path, sizeof(path), &err), -ENOENT);
        assert_non_null(strstr(err.msg, "/nonexistent/criu"));
        setenv("VPS_CRIU", "/bin/true", 1);
        assert_int_equal(vps_criu_find(path, sizeof(path), &err), 0);
        assert_string_equal(path, "/bin/true");
        unsetenv("VPS_CRIU");
}

/* criu's first error line names what the guest chose (a path, a process's name): it reaches
 * vpsctl's terminal and vpsd's log escaped, never as the guest's escape sequences. */
static void test_log_error_escaped(void **state)
{
        (void)state;
        char dir[] = "/tmp/test_criu.XXXXXX";
        assert_non_null(mkdtemp(dir));
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(mkdirat(fd, VPS_CHECKPOINT_DIR, 0700), 0);
        static const char log[] = "(00.001) Dumping task 1\n"
                                  "(00.020) Error (criu/files-reg.c:1150): Can't dump ghost file "
                                  "/tmp/\x1b]0;owned\x07\x1b[2J\x1b[1;1Hvpsctl: suspended\r\x9b"
                                  "31m\x7f\\x of 5 "
                                  "size, increase limit\n"
                                  "(00.021) Error (criu/cr-dump.c:2100): Dumping FAILED.\n";
        char path[64];
        (void)snprintf(path, sizeof(path), "%s/" VPS_CHECKPOINT_DIR "/dump.log", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(log, 1, sizeof(log) - 1, f), sizeof(log) - 1);
        assert_int_equal(fclose(f), 0);
        vps_error err = {0};
        assert_int_equal(vps_checkpoint_log_error(fd, "dump.log", 1, &err), -EIO);
        for (const char *c = err.msg; *c; c++)
                assert_true(*c >= 0x20 && *c < 0x7f);
        assert_non_null(strstr(err.msg, "criu dump.log (status 1): (00.020) Error "
                                        "(criu/files-reg.c:1150): Can't dump ghost file "
                                        "/tmp/\\x1b]0;owned\\x07\\x1b[2J"));
        assert_non_null(strstr(err.msg, "suspended\\x0d\\x9b31m\\x7f\\x5cx of 5 size"));
        assert_null(strstr(err.msg, "Dumping FAILED"));
        /* Cut at the buffer's end, never inside an escape. */
        char out[8];
        vps_printable("ab\x1b"
                      "cd",
                      5, out, sizeof(out));
        assert_string_equal(out, "ab\\x1bc");
        vps_printable("abcd\x1b", 5, out, 7);
        assert_string_equal(out, "abcd");
        (void)unlinkat(fd, VPS_CHECKPOINT_DIR "/dump.log", 0);
        (void)unlinkat(fd, VPS_CHECKPOINT_DIR, AT_REMOVEDIR);
        close(fd);
        (void)rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_available),   cmocka_unit_test(test_fails_check),
                cmocka_unit_test(test_odd_reports), cmocka_unit_test(test_missing_caps),
                cmocka_unit_test(test_find),        cmocka_unit_test(test_log_error_escaped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
