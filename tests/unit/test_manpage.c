/* Unit tests: the man page and vpsctl's help name every option of the field table (the
 * settings create and set take, the limits, and the other API keys with an option); for the
 * settings, the man page's entry and both helps show the table's metavar, the helps its text.
 * The exit statuses of vpsctl(8) are those of vpsctl's table (vpsctl/exits.c), which --help
 * prints, and every errno maps onto one of them. */
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
#include "vpsctl.h"

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

static char *man_page(void)
{
        FILE *f = fopen(MAN_PAGE, "r");
        assert_non_null(f);
        char *text = slurp(f);
        fclose(f);
        return text;
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

/* Every setting option with its metavar and help (each row must have both). */
static void each_setting(void (*fn)(const char *opt, const char *metavar, const char *help,
                                    void *arg),
                         void *arg)
{
        for (unsigned int i = 0; i < VPS_F_COUNT; i++) {
                const struct vps_field *f = &vps_fields[i];
                if (f->cli == VPS_CLI_NONE)
                        continue;
                if (!f->metavar || !f->help)
                        fail_msg("field '%s' has an option but no metavar or help", f->key);
                fn(f->key, f->metavar, f->help, arg);
        }
        for (unsigned int k = 0; k < VPS_LIM_COUNT; k++) {
                const struct vps_limit_info *l = &vps_limit_info[k];
                if (!l->metavar || !l->help)
                        fail_msg("limit '%s' has no metavar or help", l->name);
                fn(l->name, l->metavar, l->help, arg);
        }
}

/* A roff font macro's line (.B, .BI, .BR, .I, .IR, .RB) as it reads: its arguments joined
 * (with spaces for .B and .I), quotes, font escapes and "\-" undone. */
static void roff_line(const char *line, char *out, size_t size)
{
        size_t o = 0;
        bool spaced = line[2] == ' ';
        const char *p = strchr(line, ' ');
        out[0] = '\0';
        for (bool first = true; p && *p && o + 2 < size;) {
                while (*p == ' ')
                        p++;
                if (!*p || *p == '\n')
                        break;
                if (!first && spaced)
                        out[o++] = ' ';
                first = false;
                bool quoted = *p == '"';
                if (quoted)
                        p++;
                for (; *p && *p != '\n' && (quoted ? *p != '"' : *p != ' ') && o + 1 < size; p++) {
                        if (p[0] == '\\' && p[1] == 'f' && p[2]) {
                                p += 2;
                                continue;
                        }
                        if (p[0] == '\\' && p[1] == '-')
                                p++;
                        out[o++] = *p;
                }
                if (quoted && *p == '"')
                        p++;
        }
        out[o] = '\0';
}

/* The man page has an entry whose tag reads "--opt METAVAR". */
static void man_entry(const char *opt, const char *metavar, const char *help, void *arg)
{
        (void)help;
        char want[160], got[160];
        (void)snprintf(want, sizeof(want), "--%s %s", opt, metavar);
        for (const char *l = arg; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, ".TP\n.", 5) != 0)
                        continue;
                const char *tag = l + 4;
                if (strncmp(tag, ".B", 2) != 0 && strncmp(tag, ".I", 2) != 0)
                        continue;
                char line[160];
                const char *end = strchr(tag, '\n');
                (void)snprintf(line, sizeof(line), "%.*s", (int)(end ? end - tag : 150), tag);
                roff_line(line, got, sizeof(got));
                if (strcmp(got, want) == 0)
                        return;
        }
        fail_msg("man/vpsctl.8 has no entry '.TP' '%s'", want);
}

static void in_man(const char *opt, void *arg)
{
        if (!names(arg, opt, true))
                fail_msg("man/vpsctl.8 does not name --%s", opt);
}

static void test_man_page_lists_every_option(void **state)
{
        (void)state;
        char *text = man_page();
        each_option(in_man, text);
        each_setting(man_entry, text);
        free(text);
}

static void in_help(const char *opt, void *arg)
{
        if (!names(arg, opt, false))
                fail_msg("vpsctl set --help does not name --%s", opt);
}

/* text with each run of white space one space. */
static char *squeeze(const char *text)
{
        char *out = malloc(strlen(text) + 1);
        assert_non_null(out);
        size_t o = 0;
        for (const char *p = text; *p; p++)
                if (!(*p == ' ' || *p == '\n') || (o && out[o - 1] != ' '))
                        out[o++] = *p == '\n' ? ' ' : *p;
        out[o] = '\0';
        return out;
}

/* The help shows the option in its synopsis ("[--opt METAVAR]") and its entry with the
 * table's text ("--opt METAVAR HELP", the lines wrapped). */
static void help_entry(const char *opt, const char *metavar, const char *help, void *arg)
{
        char *text = squeeze(arg), *want_help = squeeze(help);
        char syn[160], entry[1024];
        (void)snprintf(syn, sizeof(syn), "[--%s %s]", opt, metavar);
        (void)snprintf(entry, sizeof(entry), " --%s %s %s ", opt, metavar, want_help);
        if (!strstr(text, syn))
                fail_msg("the --help synopsis has no '%s'", syn);
        if (!strstr(text, entry))
                fail_msg("the --help has no entry '%s'", entry);
        free(text);
        free(want_help);
}

static char *help_of(const char *cmd)
{
        char line[256];
        (void)snprintf(line, sizeof(line), "%s %s --help", VPSCTL_BIN, cmd);
        FILE *p = popen(line, "r");
        assert_non_null(p);
        char *text = slurp(p);
        assert_int_equal(pclose(p), 0);
        return text;
}

/* Only printable text, tabs and newlines: a control character (a "\f" that became a form feed
 * on its way in) makes groff warn and drops the font change. */
static void test_man_page_plain_text(void **state)
{
        char *text = man_page();
        int line = 1;
        for (const char *p = text; *p; p++) {
                if (*p == '\n')
                        line++;
                else if ((unsigned char)*p < 0x20 && *p != '\t')
                        fail_msg("%s:%d: control character 0x%02x", MAN_PAGE, line, *p);
        }
        free(text);
}

static void test_set_help_lists_every_option(void **state)
{
        (void)state;
        char *text = help_of("set");
        each_option(in_help, text);
        each_setting(help_entry, text);
        free(text);
}

static void test_create_help_lists_every_setting(void **state)
{
        (void)state;
        char *text = help_of("create");
        each_setting(help_entry, text);
        free(text);
}

#define MAX_EXITS 32

/* The statuses vpsctl(8) lists under EXIT STATUS (".TP" ".B N" entries), in order. */
static size_t man_exits(const char *text, int *out)
{
        const char *sec = strstr(text, "\n.SH EXIT STATUS\n");
        assert_non_null(sec);
        const char *end = strstr(sec + 1, "\n.SH ");
        size_t n = 0;
        static const char tag[] = "\n.TP\n.B ";
        for (const char *p = sec; (p = strstr(p, tag)) && (!end || p < end); p++) {
                const char *num = p + strlen(tag);
                char *after;
                long v = strtol(num, &after, 10);
                if (after == num || *after != '\n')
                        fail_msg("EXIT STATUS has an entry that is no number: '%.20s'", num);
                assert_true(n < MAX_EXITS);
                out[n++] = (int)v;
        }
        return n;
}

/* The statuses `vpsctl --help` lists after "Exit status:" ("  N  TEXT" lines), in order;
 * each line's text must be the table's. */
static size_t help_exits(const char *text, int *out)
{
        const char *p = strstr(text, "\nExit status:\n");
        assert_non_null(p);
        p += strlen("\nExit status:\n");
        size_t n = 0;
        for (; strncmp(p, "  ", 2) == 0; p = strchr(p, '\n') + 1) {
                char *after;
                long v = strtol(p, &after, 10);
                if (after != p) {
                        assert_true(n < MAX_EXITS);
                        out[n++] = (int)v;
                }
                assert_non_null(strchr(p, '\n'));
        }
        return n;
}

static void test_exit_statuses_agree(void **state)
{
        (void)state;
        char *man = man_page();
        char *help = help_of("");
        int in_man[MAX_EXITS], in_help[MAX_EXITS], in_table[MAX_EXITS];
        size_t nm = man_exits(man, in_man), nh = help_exits(help, in_help), nt = 0;
        for (size_t i = 0; i < vpsctl_n_exits; i++) {
                if (vpsctl_exits[i].status < 0)
                        continue;
                char line[160];
                (void)snprintf(line, sizeof(line), "\n  %d  %s\n", vpsctl_exits[i].status,
                               vpsctl_exits[i].what);
                if (!strstr(help, line))
                        fail_msg("--help has no line '%s'", line + 1);
                in_table[nt++] = vpsctl_exits[i].status;
        }
        assert_true(nt >= 9); /* 0 to 8 at least: the parsers found something */
        for (size_t i = 0; i < nt || i < nm || i < nh; i++) {
                int t = i < nt ? in_table[i] : -1, m = i < nm ? in_man[i] : -1,
                    h = i < nh ? in_help[i] : -1;
                if (t != m || t != h)
                        fail_msg("exit status #%zu: the table says %d, vpsctl(8) %d, --help %d", i,
                                 t, m, h);
        }
        /* Whatever an error's errno, its status is one of them. */
        for (int e = 0; e < 4096; e++) {
                int s = vpsctl_exit_for(e), found = 0;
                for (size_t i = 0; i < nt; i++)
                        found |= in_table[i] == s;
                if (!found || s == 0)
                        fail_msg("errno %d maps to exit status %d, which is no failure listed", e,
                                 s);
        }
        free(man);
        free(help);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_man_page_lists_every_option),
                cmocka_unit_test(test_man_page_plain_text),
                cmocka_unit_test(test_set_help_lists_every_option),
                cmocka_unit_test(test_create_help_lists_every_setting),
                cmocka_unit_test(test_exit_statuses_agree),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
