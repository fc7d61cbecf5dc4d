/* Unit tests: a backup's MANIFEST (storage/backup_manifest.c): the text both ways, the
 * numbers and paths it refuses, and lookups in walk order, out of order and after adds; the
 * content hashes of formats 1 and 2 (storage/backup_hash.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage/backup.h"
#include "storage/backup_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H    "vpsbackup-manifest 1\n"
#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_roundtrip(void **state)
{
        (void)state;
        const char *text =
                H "+\td\t755\t0\t0\t0\t-5\t2\t7\t-\tupper\n"
                  "=\tf\t4755\t1000\t65534\t18446744073709551615\t9223372036854775807\t3\t"
                  "-9223372036854775808\t" HASH "\tupper/a%20b%25%0A%FF\n"
                  "-\tl\t777\t0\t0\t0\t0\t4\t0\t" HASH "\troot/x\n";
        struct vps_manifest m;
        vps_error err = {0};
        assert_int_equal(vps_manifest_parse(text, strlen(text), &m, &err), 0);
        assert_int_equal(m.n, 3);
        assert_int_equal(m.e[0].mtime_ns, -5);
        assert_int_equal(m.e[1].mode, 04755);
        assert_true(m.e[1].size == UINT64_MAX);
        assert_true(m.e[1].mtime_ns == INT64_MAX);
        assert_true(m.e[1].ctime_ns == INT64_MIN);
        assert_string_equal(m.e[1].path, "upper/a b%\n\xff");
        assert_string_equal(m.e[1].hash, HASH);
        assert_int_equal(m.e[2].kind, VPS_MF_DELETED);
        char *out = NULL;
        size_t len = 0;
        assert_int_equal(vps_manifest_format(&m, &out, &len, &err), 0);
        assert_int_equal(len, strlen(text));
        assert_memory_equal(out, text, len);
        free(out);
        vps_manifest_free(&m);
}

static void test_refused(void **state)
{
        (void)state;
        const char *bad[] = {
                H "+\tf\t644\t0\t0\t0\t0\t1\t0\t-\n",                   /* 10 fields */
                H "+\tf\t648\t0\t0\t0\t0\t1\t0\t-\tupper/x\n",          /* not octal */
                H "+\tf\t644\t-1\t0\t0\t0\t1\t0\t-\tupper/x\n",         /* signed uid */
                H "+\tf\t644\t+1\t0\t0\t0\t1\t0\t-\tupper/x\n",         /* a plus */
                H "+\tf\t644\t 1\t0\t0\t0\t1\t0\t-\tupper/x\n",         /* a space */
                H "+\tf\t644\t4294967296\t0\t0\t0\t1\t0\t-\tupper/x\n", /* uid > 32 bits */
                H "+\tf\t644\t0\t0\t18446744073709551616\t0\t1\t0\t-\tupper/x\n", /* overflow */
                H "+\tf\t644\t0\t0\t0\t9223372036854775808\t1\t0\t-\tupper/x\n",  /* > INT64_MAX */
                H "+\tf\t644\t0\t0\t0\t-9223372036854775809\t1\t0\t-\tupper/x\n", /* < INT64_MIN */
                H "+\tf\t644\t0\t0\t0\t-\t1\t0\t-\tupper/x\n",                    /* a sign alone */
                H "+\tf\t644\t0\t0\t0\t0\t1\t0\t-\tupper/a b\n",                  /* a raw space */
                H "+\tf\t644\t0\t0\t0\t0\t1\t0\t-\tupper/a%00\n", /* an escaped NUL */
                H "+\tf\t644\t0\t0\t0\t0\t1\t0\t-\tupper/a%4\n",  /* a cut escape */
                H "+\tf\t644\t0\t0\t0\t0\t1\t0\t-\t\n",           /* no path */
                H "+\tf\t644\t0\t0\t0\t0\t1\t0\tabc\tupper/x\n",  /* a short hash */
                H "*\tf\t644\t0\t0\t0\t0\t1\t0\t-\tupper/x\n",    /* a kind */
                H "+\tf\t644\t0\t0\t0\t0\t1\t0\t-\tupper/x",      /* no end */
                "vpsbackup-manifest 3\n",
                "vpsbackup-manifest 0\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vps_manifest m;
                vps_error err = {0};
                int r = vps_manifest_parse(bad[i], strlen(bad[i]), &m, &err);
                if (r != -EBADMSG)
                        fail_msg("case %zu taken (%d)", i, r);
                assert_int_equal(m.n, 0);
        }
        /* A NUL inside a line. */
        const char nul[] = H "+\tf\t644\t0\t0\t0\t0\t1\t0\t-\tupper/a\0b\n";
        struct vps_manifest m;
        vps_error err = {0};
        assert_int_equal(vps_manifest_parse(nul, sizeof(nul) - 1, &m, &err), -EBADMSG);
}

static void add(struct vps_manifest *m, const char *path)
{
        struct vps_mf_entry e = {
                .kind = VPS_MF_HERE, .type = 'f', .hash = "-", .path = (char *)path};
        vps_error err = {0};
        assert_int_equal(vps_manifest_add(m, &e, &err), 0);
}

static void test_find(void **state)
{
        (void)state;
        struct vps_manifest m = {0};
        char p[64];
        for (int i = 0; i < 1000; i++) {
                (void)snprintf(p, sizeof(p), "upper/d%d/f%d", i % 7, (i * 7919) % 1000);
                add(&m, p);
        }
        /* In the order added (the hint), in reverse (the index), and absent. */
        for (int i = 0; i < 1000; i++) {
                (void)snprintf(p, sizeof(p), "upper/d%d/f%d", i % 7, (i * 7919) % 1000);
                struct vps_mf_entry *e = vps_manifest_find(&m, p);
                assert_non_null(e);
                assert_ptr_equal(e, &m.e[i]);
        }
        for (int i = 999; i >= 0; i--) {
                (void)snprintf(p, sizeof(p), "upper/d%d/f%d", i % 7, (i * 7919) % 1000);
                assert_ptr_equal(vps_manifest_find(&m, p), &m.e[i]);
        }
        assert_null(vps_manifest_find(&m, "upper/d0"));
        assert_null(vps_manifest_find(&m, "upper/zzz"));
        assert_null(vps_manifest_find(&m, ""));
        /* An add after lookups: found too (the index is made anew). */
        add(&m, "upper/new");
        assert_ptr_equal(vps_manifest_find(&m, "upper/new"), &m.e[1000]);
        (void)snprintf(p, sizeof(p), "%s", m.e[500].path);
        assert_ptr_equal(vps_manifest_find(&m, p), &m.e[500]);
        assert_string_equal(m.e[0].path, "upper/d0/f0");
        vps_manifest_free(&m);
        assert_null(vps_manifest_find(&m, "upper/new"));
}

/* Paths of a parsed manifest live in its text; added ones are its own: both freed. */
static void test_mixed(void **state)
{
        (void)state;
        const char *text = H "+\tf\t644\t0\t0\t0\t0\t1\t0\t-\tupper/x\n";
        struct vps_manifest m;
        vps_error err = {0};
        assert_int_equal(vps_manifest_parse(text, strlen(text), &m, &err), 0);
        add(&m, "upper/y");
        assert_non_null(vps_manifest_find(&m, "upper/x"));
        assert_non_null(vps_manifest_find(&m, "upper/y"));
        assert_int_equal(vps_manifest_reserve(&m, 10, &err), 0);
        assert_string_equal(m.e[0].path, "upper/x");
        vps_manifest_free(&m);
}

/* Format 2 hashes the content, not the way it came: holes or written zeros, any pieces. */
static void test_zhash(void **state)
{
        (void)state;
        enum { SIZE = 3 * 4096 + 100 };
        static uint8_t full[SIZE];
        memcpy(full + 5, "abc", 3);
        memcpy(full + 2 * 4096 + 10, "xyz", 3);
        full[SIZE - 1] = 'e';
        char a[65], b[65], c[65], d[65], one[65], v1[65];
        struct vps_zhash z;
        vps_zhash_init(&z, 2); /* all of it at once, zeros written */
        vps_zhash_data(&z, 0, full, SIZE);
        vps_zhash_finish(&z, SIZE, a);
        vps_zhash_init(&z, 2); /* the data alone, holes between */
        vps_zhash_data(&z, 5, "abc", 3);
        vps_zhash_data(&z, 2 * 4096 + 10, "xyz", 3);
        vps_zhash_data(&z, SIZE - 1, "e", 1);
        vps_zhash_finish(&z, SIZE, b);
        vps_zhash_init(&z, 2); /* byte by byte */
        for (size_t i = 0; i < SIZE; i++)
                vps_zhash_data(&z, i, full + i, 1);
        vps_zhash_finish(&z, SIZE, c);
        assert_string_equal(a, b);
        assert_string_equal(a, c);
        vps_zhash_init(&z, 2); /* one more zero at the end: another file */
        vps_zhash_data(&z, 0, full, SIZE);
        vps_zhash_finish(&z, SIZE + 1, d);
        assert_string_not_equal(a, d);
        full[4096 + 7] = 1; /* a block that was zeros */
        vps_zhash_init(&z, 2);
        vps_zhash_data(&z, 0, full, SIZE);
        vps_zhash_finish(&z, SIZE, one);
        assert_string_not_equal(a, one);
        full[4096 + 7] = 0;
        /* Format 1: the SHA-256 of the content, holes as zeros. */
        vps_zhash_init(&z, 1);
        vps_zhash_data(&z, 5, "abc", 3);
        vps_zhash_data(&z, 2 * 4096 + 10, "xyz", 3);
        vps_zhash_data(&z, SIZE - 1, "e", 1);
        vps_zhash_finish(&z, SIZE, v1);
        vps_sha256_hex(full, SIZE, d);
        assert_string_equal(v1, d);
        assert_string_not_equal(v1, a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_refused),
                cmocka_unit_test(test_find),      cmocka_unit_test(test_mixed),
                cmocka_unit_test(test_zhash),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
