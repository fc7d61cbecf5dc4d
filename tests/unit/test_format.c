/* Unit tests: vpsctl's table and JSON formatting (vpsctl/format.h), compiled in directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "format.h"
#include "vps/cleanup.h"

static json_t *load(const char *text)
{
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        if (!j)
                fail_msg("bad test JSON: %s", jerr.text);
        return j;
}

/* Runs format_table into memory; returns the malloc'd text. */
static char *table(const char *rows_json, char *const *fields, bool header)
{
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        assert_non_null(f);
        json_t *rows = load(rows_json);
        assert_int_equal(format_table(f, rows, fields, header), 0);
        json_decref(rows);
        assert_int_equal(fclose(f), 0);
        return text;
}

static const char rows_json[] =
        "[{\"id\": \"101\", \"status\": \"running\", \"pid\": 1234, "
        "  \"ip\": [\"10.0.0.2\", \"fd00::2\"]},"
        " {\"id\": \"web-1\", \"status\": \"stopped\", \"pid\": null, \"ip\": []},"
        " {\"id\": \"7\", \"status\": \"stopped\"}]";

static void test_table_header(void **state)
{
        char *const fields[] = {"id", "status", "pid", "ip", NULL};
        char *out = table(rows_json, fields, true);
        assert_string_equal(out, "ID     STATUS   PID   IP\n"
                                 "101    running  1234  10.0.0.2,fd00::2\n"
                                 "web-1  stopped  -     -\n"
                                 "7      stopped  -     -\n");
        free(out);
}

static void test_table_no_header(void **state)
{
        char *const fields[] = {"status", "id", NULL};
        char *out = table(rows_json, fields, false);
        assert_string_equal(out, "running  101\n"
                                 "stopped  web-1\n"
                                 "stopped  7\n");
        free(out);
        /* No rows: the header alone, or nothing at all. */
        out = table("[]", fields, true);
        assert_string_equal(out, "STATUS  ID\n");
        free(out);
        out = table("[]", fields, false);
        assert_string_equal(out, "");
        free(out);
}

static void test_table_cells(void **state)
{
        char *const fields[] = {"hostname", "x", NULL};
        /* UTF-8 aligns by characters; control characters are neutralised; other types. */
        /* Booleans as the options take them (yes/no); an empty string is "-", as an empty
         * list is, so that awk's columns stay in place. */
        char *out = table("[{\"hostname\": \"caf\\u00e9\", \"x\": true},"
                          " {\"hostname\": \"a\\u001b[2Jb\", \"x\": {\"k\": 1}},"
                          " {\"hostname\": \"h\", \"x\": [1, \"a\\nb\", null]},"
                          " {\"hostname\": \"\", \"x\": false}]",
                          fields, true);
        assert_string_equal(out, "HOSTNAME  X\n"
                                 "caf\xc3\xa9      yes\n"
                                 "a?[2Jb    {\"k\":1}\n"
                                 "h         1,a?b,-\n"
                                 "-         no\n");
        free(out);
}

static void test_fields_parse(void **state)
{
        vps_error err = {0};
        _cleanup_strv_ char **fields = NULL;
        assert_int_equal(format_fields_parse("id,status", &fields, &err), 0);
        assert_non_null(fields);
        assert_string_equal(fields[0], "id");
        assert_string_equal(fields[1], "status");
        assert_null(fields[2]);

        const char *bad[] = {"id,,x", "", ",id", "id,"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char **v = NULL;
                vps_error e = {0};
                if (format_fields_parse(bad[i], &v, &e) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
                assert_int_equal(e.code, EINVAL);
                assert_null(v);
        }
}

static void test_fields_unknown(void **state)
{
        json_t *rows = load("[{\"id\": \"1\", \"extra\": 2}]");
        char *const ok[] = {"id", "status", "created_at", NULL};
        char *const bad[] = {"id", "bogus", "status", NULL};
        char *const extra[] = {"extra", NULL};
        assert_null(format_fields_unknown(ok, format_vps_fields, rows));
        const char *u = format_fields_unknown(bad, format_vps_fields, rows);
        assert_non_null(u);
        assert_string_equal(u, "bogus");
        /* A key present in some row is accepted even when not known. */
        assert_null(format_fields_unknown(extra, format_vps_fields, rows));
        u = format_fields_unknown(extra, NULL, NULL);
        assert_non_null(u);
        assert_string_equal(u, "extra");
        json_decref(rows);
}

static void assert_json(const json_t *j, const char *want)
{
        assert_non_null(j);
        char *text = json_dumps(j, JSON_COMPACT);
        assert_non_null(text);
        assert_string_equal(text, want);
        free(text);
}

static void test_project(void **state)
{
        json_t *rows = load(rows_json);
        char *const fields[] = {"pid", "id", "nope", NULL};
        json_t *p = format_project(rows, fields);
        assert_json(p, "[{\"pid\":1234,\"id\":\"101\",\"nope\":null},"
                       "{\"pid\":null,\"id\":\"web-1\",\"nope\":null},"
                       "{\"pid\":null,\"id\":\"7\",\"nope\":null}]");
        json_decref(p);
        /* The input is unchanged. */
        assert_int_equal(json_object_size(json_array_get(rows, 0)), 4);
        json_decref(rows);
}

static void test_filter_sort(void **state)
{
        json_t *rows = load("[{\"id\": \"web1\", \"s\": \"up\"}, {\"id\": \"10\", \"s\": \"down\"},"
                            " {\"s\": \"up\"}, {\"id\": \"9\", \"s\": \"up\"}]");
        json_t *j = format_sort(rows, "id");
        assert_json(j, "[{\"id\":\"9\",\"s\":\"up\"},{\"id\":\"10\",\"s\":\"down\"},"
                       "{\"id\":\"web1\",\"s\":\"up\"},{\"s\":\"up\"}]");
        json_decref(j);
        j = format_filter(rows, "s", "up", true);
        assert_int_equal(json_array_size(j), 3);
        json_decref(j);
        j = format_filter(rows, "s", "up", false);
        assert_json(j, "[{\"id\":\"10\",\"s\":\"down\"}]");
        json_decref(j);
        json_decref(rows);
}

static void test_size(void **state)
{
        static const struct {
                uint64_t bytes;
                const char *want;
        } cases[] = {
                {0, "0B"},
                {1023, "1023B"},
                {1024, "1.0K"},
                {1536, "1.5K"},
                {10 * 1024, "10K"},
                {1ull << 20, "1.0M"},
                {512ull << 20, "512M"},
                {(1ull << 30) + (1ull << 29), "1.5G"},
                {3ull << 40, "3.0T"},
                {1ull << 50, "1.0P"},
                {UINT64_MAX, "16E"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[32];
                format_size(cases[i].bytes, buf, sizeof(buf));
                if (strcmp(buf, cases[i].want) != 0)
                        fail_msg("%llu: got '%s', want '%s'", (unsigned long long)cases[i].bytes,
                                 buf, cases[i].want);
        }
        char small[3];
        format_size(1023, small, sizeof(small)); /* truncated, still terminated */
        assert_string_equal(small, "10");
}

static void test_json_and_status(void **state)
{
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        assert_non_null(f);
        json_t *v = load("{\"id\": \"101\", \"status\": \"running\"}");
        assert_int_equal(format_json(f, v), 0);
        assert_int_equal(format_status_line(f, v), 0);
        json_decref(v);
        v = load("{\"id\": \"103\", \"status\": \"running\", \"booting\": true}");
        assert_int_equal(format_status_line(f, v), 0);
        json_decref(v);
        v = load("{}");
        assert_int_equal(format_status_line(f, v), 0);
        json_decref(v);
        /* A reboot loop held back: which restart comes, and when (local time). */
        setenv("TZ", "UTC", 1);
        tzset();
        v = load("{\"id\": \"102\", \"status\": \"backoff\", \"restart_at\": 3723, "
                 "\"restarts\": 7}");
        assert_int_equal(format_status_line(f, v), 0);
        json_decref(v);
        assert_int_equal(fclose(f), 0);
        assert_string_equal(text, "{\n  \"id\": \"101\",\n  \"status\": \"running\"\n}\n"
                                  "VPS 101 exists running\n"
                                  "VPS 103 exists running (booting)\n"
                                  "VPS ? exists unknown\n"
                                  "VPS 102 exists backoff (restart 8 at 01:02:03)\n");
        free(text);
}

/* format_scan_rows: the kept keys as a full parse has them, the rest skipped whatever they
 * hold (strings with escapes and brackets, nesting); anything not an array of objects, or cut
 * short at any byte, refused. */
static void test_scan_rows(void **state)
{
        static const char text[] =
                " [\n  {\"id\": \"101\", \"x\": {\"a\": [1, {\"b\": \"}]\\\"[{\"}], \"c\": null},"
                " \"status\": \"running\", \"ip\": [\"10.0.0.1\", \"10.0.0.2\"], \"pid\": 42,"
                " \"s\\u0074atus\": \"escaped key\", \"hostname\": \"h\\\"\\\\\\u00e9\", \"f\": "
                "-1.5e3,"
                " \"t\": true},\n  {},\n  {\"id\": \"9\", \"pid\": null, \"ostemplate\": "
                "\"busybox\"}\n]\n";
        char *const keys[] = {"id", "status", "pid", "hostname", "ip", "ostemplate", NULL};
        vps_error err;
        json_t *rows = NULL;
        assert_int_equal(format_scan_rows(text, strlen(text), keys, &rows, &err), 0);
        _cleanup_json_ json_t *got = rows;
        _cleanup_json_ json_t *full = load(text);
        assert_int_equal(json_array_size(got), 3);
        for (size_t i = 0; i < 3; i++) {
                json_t *g = json_array_get(got, i), *f = json_array_get(full, i);
                for (char *const *k = keys; *k; k++) {
                        json_t *want = json_object_get(f, *k);
                        if (want)
                                assert_true(json_equal(json_object_get(g, *k), want));
                        else
                                assert_null(json_object_get(g, *k));
                }
                /* Nothing but the keys asked for. */
                const char *k;
                json_t *val;
                json_object_foreach(g, k, val) assert_non_null(json_object_get(f, k));
        }
        /* "s\u0074atus" is status, given again: the last one counts, as for jansson. */
        assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "status")),
                            "escaped key");
        assert_int_equal(json_object_size(json_array_get(got, 0)), 5);

        /* Cut short anywhere: refused (ASan sees any read past the end). */
        size_t n = strlen(text) - 2; /* the last "]\n" */
        for (size_t cut = 0; cut <= n; cut++) {
                char *copy = malloc(cut ? cut : 1);
                memcpy(copy, text, cut);
                json_t *r = NULL;
                assert_int_equal(format_scan_rows(copy, cut, keys, &r, &err), -EBADMSG);
                assert_null(r);
                free(copy);
        }
        static const char *const bad[] = {"",
                                          "{}",
                                          "[1]",
                                          "[{}",
                                          "[{} {}]",
                                          "[{\"a\"}]",
                                          "[{\"a\":}]",
                                          "[{\"a\" 1}]",
                                          "[{}] x",
                                          "[{\"id\":x}]",
                                          "[{\"id\":1,}]",
                                          "[{},]",
                                          "[{\"id\":\"1}]"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                json_t *r = NULL;
                assert_int_equal(format_scan_rows(bad[i], strlen(bad[i]), keys, &r, &err),
                                 -EBADMSG);
        }
        json_t *r = NULL;
        assert_int_equal(format_scan_rows(" [ ] ", 5, keys, &r, &err), 0);
        assert_int_equal(json_array_size(r), 0);
        json_decref(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_header),    cmocka_unit_test(test_table_no_header),
                cmocka_unit_test(test_table_cells),     cmocka_unit_test(test_fields_parse),
                cmocka_unit_test(test_fields_unknown),  cmocka_unit_test(test_project),
                cmocka_unit_test(test_filter_sort),     cmocka_unit_test(test_size),
                cmocka_unit_test(test_json_and_status), cmocka_unit_test(test_scan_rows),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
