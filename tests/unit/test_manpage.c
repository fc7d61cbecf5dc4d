/* Unit tests: the man page and vpsctl's help name every option of the field table (the
 * settings create and set take, the limits, and the other API keys with an option). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static char *slurp(FILE *f)
{
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        for (size_t got; (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
                n += got;
                if (n + 1 == cap) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
        }
        buf[n] = '\0';
        return buf;
}

/* text names --opt (as roff writes it, \-\-opt, when roff), not only a longer option. */
static bool names(const char *text, const char *opt, bool roff)
{
        char pat[80] = "--";
        if (roff) /* roff writes each '-' as "\-" */
                strcpy(pat, "\\-\\-");
        for (const char *c = opt; *c && strlen(pat) + 3 < sizeof(pat); c++)
                strcat(pat, *c == '-' && roff ? "\\-" : (char[]){*c, 0});
        for (const char *p = text; (p = strstr(p, pat)); p++) {
                char next = p[strlen(pat)];
                if (!(next >= 'a' && next <= 'z') && next != '-' && next != '_')
                        return true;
        }
        return false;
}

/* Every option the table has: the settings (vps_fields' cli), the limits, the others. */
static void each_option(void (*fn)(const char *opt, void *arg), void *arg)
{
        for (unsigned int i = 0; i < VPS_F_COUNT; i++)
                if (vps_fields[i].cli != VPS_CLI_NONE)
                        fn(vps_fields[i].key, arg);
        for (unsigned int k = 0; k < VPS_LIM_COUNT; k++)
                fn(vps_limit_info[k].name, arg);
        static const char *const others[] = {"ip",      "ipdel",          "userpasswd",
                                             "ssh_key", "reset_counters", "force"};
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
                const char *opt = vps_field_option(others[i], strlen(others[i]));
                assert_non_null(opt);
                fn(opt, arg);
        }
}

static void in_man(const char *opt, void *arg)
{
        if (!names(arg, opt, true))
                fail_msg("man/vpsctl.8 does not name --%s", opt);
}

static void test_man_page_lists_every_option(void **state)
{
        (void)state;
        FILE *f = fopen(MAN_PAGE, "r");
        assert_non_null(f);
        char *text = slurp(f);
        fclose(f);
        each_option(in_man, text);
        free(text);
}

static void in_help(const char *opt, void *arg)
{
        if (!names(arg, opt, false))
                fail_msg("vpsctl set --help does not name --%s", opt);
}

static void test_set_help_lists_every_option(void **state)
{
        (void)state;
        FILE *p = popen(VPSCTL_BIN " set --help", "r");
        assert_non_null(p);
        char *text = slurp(p);
        assert_int_equal(pclose(p), 0);
        each_option(in_help, text);
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_man_page_lists_every_option),
                cmocka_unit_test(test_set_help_lists_every_option),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
