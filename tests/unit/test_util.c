/* Unit tests: validation and parsing of IDs, names, host names, sizes and signals (util.h). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <fcntl.h>

#include <cmocka.h>

#include "vps/util.h"

static void fill(char *buf, size_t n, char c)
{
        memset(buf, c, n);
        buf[n] = '\0';
}

static void test_id_valid(void **state)
{
        char id63[64], id64[65];
        fill(id63, 63, 'a');
        fill(id64, 64, 'a');
        const char *good[] = {"101", "web-1", "a_b", "A9", id63, "1", "2147483647", "0x1", "1e3"};
        const char *bad[] = {"",    "../x", "-a",         "_a",         id64,         "a/b",
                             "a.b", "a b",  ".",          NULL,         "0",          "0201",
                             "00",  "-1",   "2147483648", "4294967296", "99999999999"};
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                vps_error err = {0};
                assert_true(vps_id_valid(good[i]));
                assert_int_equal(vps_id_check(good[i], &err), 0);
                assert_int_equal(err.code, 0);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_false(vps_id_valid(bad[i]));
}

static void test_id_check_message(void **state)
{
        vps_error err = {0};
        assert_int_equal(vps_id_check("../x", &err), -EINVAL);
        assert_int_equal(err.code, EINVAL);
        assert_non_null(strstr(err.msg, "'../x'"));

        vps_error err2 = {0};
        assert_int_equal(vps_id_check(NULL, &err2), -EINVAL);
        assert_int_equal(err2.code, EINVAL);
        assert_non_null(strstr(err2.msg, "invalid VPS ID"));
        /* No error object: still refused. */
        assert_int_equal(vps_id_check("a/b", NULL), -EINVAL);
}

static void test_template_name(void **state)
{
        vps_error err = {0};
        assert_int_equal(vps_template_name_check("debian-12", &err), 0);
        assert_int_equal(vps_template_name_check("debian-12.1", &err), 0);
        assert_int_equal(vps_template_name_check(".x", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "'.x'"));
        assert_int_equal(vps_template_name_check("a/b", &err), -EINVAL);
        assert_int_equal(vps_template_name_check("", &err), -EINVAL);
        assert_int_equal(vps_template_name_check(NULL, &err), -EINVAL);
}

/* n characters of labels of at most 63 joined by dots ("aaa...a.aaa...a"), as FQDNs go. */
static void fqdn(char *buf, size_t n)
{
        for (size_t i = 0; i < n; i++)
                buf[i] = i % 64 == 63 ? '.' : 'a';
        buf[n] = '\0';
}

static void test_hostname(void **state)
{
        char h63[64], h64[65], f253[254], f254[255];
        fill(h63, 63, 'h');
        fill(h64, 64, 'h');
        fqdn(f253, 253);
        fqdn(f254, 254);
        const char *good[] = {"vps101", "a.example.com", "101", "a-b.c-d", h63, f253, "a"};
        const char *bad[] = {"", "-a", "a-", "a..b", ".a", "a.", h64, "a_b", "a.-b", NULL, f254};
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                vps_error err = {0};
                if (vps_hostname_check(good[i], &err) != 0)
                        fail_msg("'%s' refused: %s", good[i], err.msg);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vps_error err = {0};
                if (vps_hostname_check(bad[i], &err) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i] ? bad[i] : "(null)");
                assert_int_equal(err.code, EINVAL);
        }
}

/* Each kind of bad name gets its own message. */
static void test_hostname_messages(void **state)
{
        char h64[65], f254[255], lbl[80];
        fill(h64, 64, 'h');
        fqdn(f254, 254);
        (void)snprintf(lbl, sizeof(lbl), "www.%s.com", h64);
        static const struct {
                const char *name, *says;
        } cases[] = {
                {"", "it is empty"},
                {"a..b", "an empty label"},
                {".a", "an empty label"},
                {"-lead", "label '-lead' starts with '-'"},
                {"trail-.example", "label 'trail-' ends with '-'"},
                {"a_b.example", "'_' is not allowed"},
                {"a b", "' ' is not allowed"},
                {"a\tb", "character 0x09 is not allowed"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vps_error err = {0};
                assert_int_equal(vps_hostname_check(cases[i].name, &err), -EINVAL);
                if (!strstr(err.msg, cases[i].says))
                        fail_msg("'%s': '%s' does not say '%s'", cases[i].name, err.msg,
                                 cases[i].says);
        }
        vps_error err = {0};
        assert_int_equal(vps_hostname_check(lbl, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "has 64 characters, at most 63"));
        assert_int_equal(vps_hostname_check(f254, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "254 characters, at most 253"));
}

static void test_hostname_kernel(void **state)
{
        char f253[254], uts[VPS_UTSNAME_MAX + 1], h64[65];
        fqdn(f253, 253);
        vps_hostname_kernel("web.example.com", uts);
        assert_string_equal(uts, "web.example.com");
        fill(h64, 60, 'x');
        strcat(h64, ".abc"); /* 64: still fits */
        vps_hostname_kernel(h64, uts);
        assert_string_equal(uts, h64);
        vps_hostname_kernel(f253, uts); /* too long: the first label */
        assert_int_equal(strlen(uts), 63);
        assert_int_equal(strspn(uts, "a"), 63);
}

static void test_size_parse_ok(void **state)
{
        static const struct {
                const char *s;
                uint64_t v;
        } cases[] = {
                {"0", 0},
                {"100", 100},
                {"1K", 1024},
                {"1k", 1024},
                {"1M", 1024 * 1024},
                {"512M", 512ull << 20},
                {"1G", 1ull << 30},
                {"1.5G", 3ull << 29},
                {"2T", 2ull << 40},
                {"1P", 1ull << 50},
                {"1GiB", 1ull << 30},
                {"1GB", 1ull << 30},
                {"unlimited", UINT64_MAX},
                {"UNLIMITED", UINT64_MAX},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vps_error err = {0};
                uint64_t v = 12345;
                if (vps_size_parse(cases[i].s, &v, &err) != 0)
                        fail_msg("'%s' refused: %s", cases[i].s, err.msg);
                assert_int_equal(v, cases[i].v);
        }
}

static void test_rate_parse(void **state)
{
        static const struct {
                const char *s;
                uint64_t v;
        } ok[] = {
                {"100mbit", 100000000},  {"1gbit", 1000000000}, {"500kbit", 500000},
                {"1.5Gbit", 1500000000}, {"10mbps", 80000000},  {"8000bit", 8000},
                {"unlimited", 0},        {"1mibit", 1048576},
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                vps_error err = {0};
                uint64_t v = 1;
                if (vps_rate_parse(ok[i].s, &v, &err) != 0)
                        fail_msg("'%s' refused: %s", ok[i].s, err.msg);
                assert_int_equal(v, ok[i].v);
        }
        const char *bad[] = {"",       "100",     "100M",    "mbit", "1.mbit",
                             "-1mbit", "1e3mbit", "10 mbit", NULL};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vps_error err = {0};
                uint64_t v = 777;
                if (vps_rate_parse(bad[i], &v, &err) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i] ? bad[i] : "(null)");
                assert_int_equal(v, 777);
        }
        vps_error err = {0};
        uint64_t v = 777;
        assert_int_equal(vps_rate_parse("1bit", &v, &err), -ERANGE);
        assert_int_equal(vps_rate_parse("401gbit", &v, &err), -ERANGE);
        assert_int_equal(v, 777);
}

static void test_size_parse_bad(void **state)
{
        const char *bad[] = {"",     "abc", "-1",    "1X", "1Gx", "1GiBx", " 1",  "K",
                             "0x10", "1e3", "0x1p4", "+1", "1.",  ".5",    "1.5", NULL};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vps_error err = {0};
                uint64_t v = 777;
                if (vps_size_parse(bad[i], &v, &err) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i] ? bad[i] : "(null)");
                assert_int_equal(err.code, EINVAL);
                assert_int_equal(v, 777); /* untouched on failure */
        }
        vps_error err = {0};
        uint64_t v = 777;
        assert_int_equal(vps_size_parse("99999999P", &v, &err), -ERANGE);
        assert_int_equal(err.code, ERANGE);
        assert_int_equal(vps_size_parse("16384P", &v, &err), -ERANGE); /* exactly 2^64 */
        assert_int_equal(v, 777);
}

static void test_signal_parse(void **state)
{
        vps_error err = {0};
        int sig = 0;
        assert_int_equal(vps_signal_parse("SIGTERM", &sig, &err), 0);
        assert_int_equal(sig, SIGTERM);
        assert_int_equal(vps_signal_parse("SIGPWR", &sig, &err), 0);
        assert_int_equal(sig, SIGPWR);
        assert_int_equal(vps_signal_parse("SIGRTMIN+3", &sig, &err), 0);
        assert_int_equal(sig, SIGRTMIN + 3);
        assert_int_equal(vps_signal_parse("SIGRTMIN", &sig, &err), 0);
        assert_int_equal(sig, SIGRTMIN);
        assert_int_equal(vps_signal_parse("15", &sig, &err), 0);
        assert_int_equal(sig, 15);

        const char *bad[] = {"SIGFOO",  "0",   "SIGRTMIN+x", "SIGRTMIN+", "SIGRTMINx",
                             "sigterm", "15x", "",           "99999",     NULL};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vps_error e = {0};
                sig = -1;
                if (vps_signal_parse(bad[i], &sig, &e) != -EINVAL)
                        fail_msg("'%s' accepted as %d", bad[i] ? bad[i] : "(null)", sig);
                assert_int_equal(e.code, EINVAL);
                assert_int_equal(sig, -1);
        }
}

/* An offset past SIGRTMAX must be refused. */
static void test_signal_rtmin_out_of_range(void **state)
{
        char s[64];
        (void)snprintf(s, sizeof(s), "SIGRTMIN+%d", SIGRTMAX - SIGRTMIN + 1);
        vps_error e = {0};
        int sig = -1;
        assert_int_equal(vps_signal_parse(s, &sig, &e), -EINVAL);
        assert_int_equal(vps_signal_parse("SIGRTMIN+-1", &sig, &e), -EINVAL);
        assert_int_equal(sig, -1);
}

/* SIGRTMIN + a huge offset once overflowed a long and was accepted as another signal. */
static void test_signal_rtmin_huge_offset(void **state)
{
        const char *bad[] = {"SIGRTMIN+9223372036854775807", "SIGRTMIN+99999999999999999999"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vps_error e = {0};
                int sig = -1;
                if (vps_signal_parse(bad[i], &sig, &e) != -EINVAL)
                        fail_msg("'%s' accepted as signal %d", bad[i], sig);
        }
}

/* The growing buffer of vpsd's request bodies and vpsctl's replies. */
static void test_buf_append(void **state)
{
        (void)state;
        char *buf = NULL;
        size_t len = 0, cap = 0;
        assert_int_equal(vps_buf_append(&buf, &len, &cap, "abc", 3, 10, 0), 0);
        assert_string_equal(buf, "abc");
        assert_true(cap >= 4 && cap <= 11);
        assert_int_equal(vps_buf_append(&buf, &len, &cap, "defghij", 7, 10, 0), 0);
        assert_string_equal(buf, "abcdefghij");
        assert_int_equal(vps_buf_append(&buf, &len, &cap, "k", 1, 10, 0), -EMSGSIZE);
        assert_int_equal(len, 10);
        assert_string_equal(buf, "abcdefghij");
        free(buf);
        buf = NULL;
        len = cap = 0;
        assert_int_equal(vps_buf_append(&buf, &len, &cap, "xy", 2, 1000, 501), 0);
        assert_int_equal(cap, 501);
        assert_string_equal(buf, "xy");
        free(buf);
}

static void test_grow(void **state)
{
        (void)state;
        char *b = NULL;
        size_t cap = 0;
        assert_int_equal(vps_grow(&b, &cap, 0), 0);
        assert_null(b);
        assert_int_equal(vps_grow(&b, &cap, 10), 0);
        assert_int_equal(cap, 256);
        memcpy(b, "kept", 5);
        assert_int_equal(vps_grow(&b, &cap, 1000), 0);
        assert_int_equal(cap, 1024);
        assert_string_equal(b, "kept");
        assert_int_equal(vps_grow(&b, &cap, 1024), 0);
        assert_int_equal(cap, 1024);
        free(b);
}

/* Every fd from `from` up closed but those kept, in any order. */
static void test_close_all_but(void **state)
{
        (void)state;
        int fds[6];
        for (int i = 0; i < 6; i++)
                assert_true((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 3);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (vps_close_all_but(3, (const int[]){fds[4], -1, fds[1]}, 3) < 0)
                        _exit(1);
                for (int i = 0; i < 6; i++)
                        if ((fcntl(fds[i], F_GETFD) >= 0) != (i == 1 || i == 4))
                                _exit(2 + i);
                _exit(0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        for (int i = 0; i < 6; i++)
                close(fds[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_id_valid),
                cmocka_unit_test(test_id_check_message),
                cmocka_unit_test(test_template_name),
                cmocka_unit_test(test_hostname),
                cmocka_unit_test(test_hostname_messages),
                cmocka_unit_test(test_hostname_kernel),
                cmocka_unit_test(test_size_parse_ok),
                cmocka_unit_test(test_size_parse_bad),
                cmocka_unit_test(test_rate_parse),
                cmocka_unit_test(test_signal_parse),
                cmocka_unit_test(test_signal_rtmin_out_of_range),
                cmocka_unit_test(test_signal_rtmin_huge_offset),
                cmocka_unit_test(test_buf_append),
                cmocka_unit_test(test_grow),
                cmocka_unit_test(test_close_all_but),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
