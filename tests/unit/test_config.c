/* Unit tests: config.json / state.json parsing, validation, save and load (config.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"

#include "tmpdir.h"

static const struct vps_config sample_cfg = {
        .id = "101",
        .ostemplate = "debian-12.1",
        .hostname = "vps101.example.com",
        .uid_base = 100000,
        .uid_count = 65536,
        .created_at = 1700000000,
        .projid = 100007,
        .limits = {.v = {1073741824ULL, 0, 250, 150, 500, 100, 10ULL << 30, 5000, 1, 10 << 20, 300,
                         6, 1},
                   .soft = {VPS_LIMIT_NONE, VPS_LIMIT_NONE, VPS_LIMIT_NONE, VPS_LIMIT_NONE,
                            VPS_LIMIT_NONE, VPS_LIMIT_NONE, 9ULL << 30, 4000, VPS_LIMIT_NONE,
                            VPS_LIMIT_NONE, VPS_LIMIT_NONE, VPS_LIMIT_NONE, VPS_LIMIT_NONE},
                   .cpumask = "0"},
        .n_ip = 2,
        .ip = {"10.88.0.5", "10.88.0.6"},
        .n_ns = 1,
        .nameserver = {"10.88.0.1"},
        .searchdomain = "example.com example.net",
        .onboot = true,
        .bootorder = 7,
        .n_fwd = 1,
        .forward = {"tcp:8080:80"},
        .netmode = VPS_NET_ROUTED,
        .rate = 100000000,
        .features = VPS_FEAT_TUN | VPS_FEAT_NESTING,
};

static void assert_cfg_equal(const struct vps_config *a, const struct vps_config *b)
{
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->ostemplate, b->ostemplate);
        assert_string_equal(a->hostname, b->hostname);
        assert_int_equal(a->uid_base, b->uid_base);
        assert_int_equal(a->uid_count, b->uid_count);
        assert_int_equal(a->created_at, b->created_at);
        assert_int_equal(a->projid, b->projid);
        /* Every field must survive the round trip: a field written but not read back is lost
         * at the next start of vpsd. */
        assert_memory_equal(&a->limits, &b->limits, sizeof(a->limits));
        assert_int_equal(a->n_ip, b->n_ip);
        for (unsigned int i = 0; i < a->n_ip; i++)
                assert_string_equal(a->ip[i], b->ip[i]);
        assert_int_equal(a->n_ns, b->n_ns);
        for (unsigned int i = 0; i < a->n_ns; i++)
                assert_string_equal(a->nameserver[i], b->nameserver[i]);
        assert_string_equal(a->searchdomain, b->searchdomain);
        assert_int_equal(a->onboot, b->onboot);
        assert_int_equal(a->bootorder, b->bootorder);
        assert_int_equal(a->n_fwd, b->n_fwd);
        for (unsigned int i = 0; i < a->n_fwd; i++)
                assert_string_equal(a->forward[i], b->forward[i]);
        assert_int_equal(a->netmode, b->netmode);
        assert_int_equal(a->rate, b->rate);
        assert_int_equal(a->features, b->features);
}

static void test_config_round_trip(void **state)
{
        struct vps_config in = sample_cfg, out;
        vps_error err = {0};
        for (int i = 0; i < 2; i++) {
                char *text = vps_config_to_json(&in);
                assert_non_null(text);
                memset(&out, 0x55, sizeof(out));
                if (vps_config_from_json(text, &out, &err) != 0)
                        fail_msg("%s: %s", text, err.msg);
                free(text);
                assert_cfg_equal(&in, &out);
                in.hostname[0] = '\0'; /* second pass: the optional hostname left empty */
        }
}

/* A valid config.json with one field replaced by raw JSON text (or removed: NULL). */
static char *cfg_with(const char *key, const char *value)
{
        json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", "1", "ostemplate", "t", "uid_base",
                              1, "uid_count", 65536, "created_at", 5);
        assert_non_null(o);
        if (value)
                assert_int_equal(
                        json_object_set_new(
                                o, key, json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)),
                        0);
        else
                assert_int_equal(json_object_del(o, key), 0);
        char *text = json_dumps(o, 0);
        json_decref(o);
        assert_non_null(text);
        return text;
}

static void test_config_rejects(void **state)
{
        static const char *bad[][2] = {
                {"id", NULL},
                {"id", "\"../x\""},
                {"id", "101"},
                {"id", "\"\""},
                {"ostemplate", "\"a/b\""},
                {"ostemplate", NULL},
                {"uid_base", "0"},
                {"uid_base", "\"100000\""},
                {"uid_base", "4294967295"},
                {"uid_base", NULL},
                {"hostname", "\"a..b\""},
                {"hostname", "7"},
                {"uid_count", "0"},
                {"uid_count", "65537"},
                {"uid_count", "1.5"},
                {"created_at", "-1"},
                {"created_at", NULL},
                {"created_at", "true"},
                /* an embedded NUL would turn "101\0/../x" into "101" */
                {"id", "\"101\\u0000/../x\""},
                {"ip", "[\"10.0.0.300\"]"},
                {"nameserver", "[\"x\"]"},
                {"ip", "\"10.0.0.1\""},
                {"netmode", "\"venet\""},
                {"netmode", "1"},
                {"rate", "-1"},
                {"rate", "\"100mbit\""},
                {"features", "[\"kvm\"]"},
                {"features", "\"tun\""},
                {"features", "[1]"},
                {"features", "[\"tun\\u0000x\"]"},
                {"features", "{\"tun\": true}"},
                {"features", "[\"TUN\"]"},
        };
        struct vps_config c;
        vps_error err = {0};
        char *ok = cfg_with("hostname", "\"h\""); /* the base is valid */
        assert_int_equal(vps_config_from_json(ok, &c, &err), 0);
        free(ok);
        assert_int_equal(vps_config_from_json("not json", &c, &err), -EBADMSG);
        assert_int_equal(vps_config_from_json("[1, 2]", &c, &err), -EBADMSG);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vps_config out = sample_cfg;
                vps_error e = {0};
                char *text = cfg_with(bad[i][0], bad[i][1]);
                int r = vps_config_from_json(text, &out, &e);
                if (r >= 0)
                        fail_msg("accepted: %s", text);
                free(text);
                assert_int_equal(e.code, -r);
                assert_true(r == -EBADMSG || r == -EINVAL);
                assert_true(e.msg[0] != '\0');
                assert_cfg_equal(&out, &sample_cfg); /* untouched */
        }
}

/* A config.json from before --features has no such key: no features. */
static void test_config_features_optional(void **state)
{
        struct vps_config c;
        vps_error err = {0};
        char *text = cfg_with("hostname", "\"h\""); /* the base has no "features" */
        assert_null(strstr(text, "features"));
        assert_int_equal(vps_config_from_json(text, &c, &err), 0);
        free(text);
        assert_int_equal(c.features, 0);
        text = cfg_with("features", "[\"nesting\", \"tun\", \"tun\"]");
        assert_int_equal(vps_config_from_json(text, &c, &err), 0);
        free(text);
        assert_int_equal(c.features, VPS_FEAT_NESTING | VPS_FEAT_TUN);
        text = vps_config_to_json(&c);
        assert_non_null(text);
        assert_non_null(strstr(text, "\"features\": [\n    \"tun\",\n    \"nesting\"\n  ]"));
        free(text);
}

static void test_features_parse(void **state)
{
        static const struct {
                const char *text;
                unsigned int on, off;
        } good[] = {
                {"fuse:on,tun:on,nesting:off", VPS_FEAT_FUSE | VPS_FEAT_TUN, VPS_FEAT_NESTING},
                {"nesting", VPS_FEAT_NESTING, 0},
                {"tun:off", 0, VPS_FEAT_TUN},
                {"none", 0, VPS_FEAT_ALL},
                {"fuse,fuse:on", VPS_FEAT_FUSE, 0}, /* repeated, but not in conflict */
                {"tun,fuse,nesting,io_uring", VPS_FEAT_ALL, 0},
                {"nesting:off,tun:off,fuse:off,io_uring:off", 0, VPS_FEAT_ALL},
                {"io_uring", VPS_FEAT_IO_URING, 0},
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct vps_features_change c = {99, 99};
                vps_error err = {0};
                if (vps_features_parse(good[i].text, &c, &err) != 0)
                        fail_msg("'%s': %s", good[i].text, err.msg);
                assert_int_equal(c.on, good[i].on);
                assert_int_equal(c.off, good[i].off);
        }
        /* set names only what changes: the other features stay as they were. */
        static const struct {
                unsigned int cur;
                const char *text;
                unsigned int want;
        } apply[] = {
                {VPS_FEAT_TUN | VPS_FEAT_FUSE, "fuse:off,nesting", VPS_FEAT_TUN | VPS_FEAT_NESTING},
                {VPS_FEAT_ALL, "none", 0},
                {0, "tun:off", 0},
                {VPS_FEAT_FUSE, "tun", VPS_FEAT_FUSE | VPS_FEAT_TUN},
        };
        for (size_t i = 0; i < sizeof(apply) / sizeof(apply[0]); i++) {
                struct vps_features_change c;
                vps_error err = {0};
                assert_int_equal(vps_features_parse(apply[i].text, &c, &err), 0);
                assert_int_equal(vps_features_apply(apply[i].cur, &c), apply[i].want);
        }
}

static void test_features_rejects(void **state)
{
        static const char *bad[][2] = {
                {"", "empty 'features'"},
                {",", "an empty item"},
                {"fuse,", "an empty item"},
                {",fuse", "an empty item"},
                {"fuse,,tun", "an empty item"},
                {"kvm",
                 "unknown feature 'kvm' in 'features' (known: tun, fuse, nesting, io_uring)"},
                {"io-uring", "unknown feature 'io-uring'"},
                {"tun,kvm:on", "unknown feature 'kvm'"},
                {"FUSE", "unknown feature 'FUSE'"},
                {"fuse:maybe", "invalid value 'maybe' for feature 'fuse'"},
                {"fuse:", "invalid value '' for feature 'fuse'"},
                {"fuse:on:off", "invalid value 'on:off'"},
                {":on", "no feature name"},
                {"fuse:on,fuse:off", "feature 'fuse' is both on and off"},
                {"nesting:off,nesting", "feature 'nesting' is both on and off"},
                {"none,tun", "'none' in 'features' must stand alone"},
                {"tun,none", "'none' in 'features' must stand alone"},
                {"fu se", "invalid 'features'"},
                {"tun\nnesting", "invalid 'features'"},
                {"tun;nesting", "invalid 'features'"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vps_features_change c = {99, 99};
                vps_error err = {0};
                int r = vps_features_parse(bad[i][0], &c, &err);
                if (r != -EINVAL)
                        fail_msg("'%s': got %d", bad[i][0], r);
                if (!strstr(err.msg, bad[i][1]))
                        fail_msg("'%s': '%s' does not say '%s'", bad[i][0], err.msg, bad[i][1]);
                assert_null(strchr(err.msg, '\n')); /* one line */
                assert_int_equal(c.on, 99);         /* untouched */
                assert_int_equal(c.off, 99);
        }
        char long_text[300];
        memset(long_text, 'a', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';
        struct vps_features_change c;
        vps_error err = {0};
        assert_int_equal(vps_features_parse(long_text, &c, &err), -EINVAL);
        assert_int_equal(vps_features_parse(NULL, &c, &err), -EINVAL);
}

static void test_features_format(void **state)
{
        char text[VPS_FEATURES_TEXT_MAX];
        vps_features_format(0, text);
        assert_string_equal(text, "");
        vps_features_format(VPS_FEAT_ALL, text);
        assert_string_equal(text, "tun,fuse,nesting,io_uring");
        for (unsigned int f = 1; f <= VPS_FEAT_ALL; f++) {
                struct vps_features_change c;
                vps_error err = {0};
                vps_features_format(f, text);
                assert_int_equal(vps_features_parse(text, &c, &err), 0);
                assert_int_equal(c.on, f);
                assert_int_equal(c.off, 0);
        }
        assert_string_equal(vps_feature_name(VPS_FEAT_NESTING), "nesting");
        assert_null(vps_feature_name(VPS_FEAT_TUN | VPS_FEAT_FUSE));
        assert_null(vps_feature_name(1u << 7));
}

/* vps_config_set_features: on disk first, then in memory; nothing changes when the save
 * fails. */
static void test_config_set_features(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        struct vps_config c = sample_cfg, out;
        assert_int_equal(vps_config_save(t->fd, &c, &err), 0);
        assert_int_equal(vps_config_set_features(t->fd, &c, VPS_FEAT_FUSE, &err), 0);
        assert_int_equal(c.features, VPS_FEAT_FUSE);
        assert_int_equal(vps_config_load(t->fd, &out, &err), 0);
        assert_cfg_equal(&out, &c);
        assert_int_not_equal(vps_config_set_features(-1, &c, VPS_FEAT_NESTING, &err), 0);
        assert_int_equal(c.features, VPS_FEAT_FUSE);
        assert_int_equal(vps_config_load(t->fd, &out, &err), 0);
        assert_int_equal(out.features, VPS_FEAT_FUSE);
}

static const struct vps_state sample_state = {
        .pid = 4242,
        .starttime = 987654321ull,
        .pidfd_ino = 12345678901ull,
        .started_at = 1700000001,
        .cgroup = "/sys/fs/cgroup/vps/101",
};

static void test_state_round_trip_and_rejects(void **state)
{
        char *text = vps_state_to_json(&sample_state);
        assert_non_null(text);
        struct vps_state out;
        vps_error err = {0};
        assert_int_equal(vps_state_from_json(text, &out, &err), 0);
        free(text);
        assert_int_equal(out.pid, 4242);
        assert_int_equal(out.starttime, 987654321ull);
        assert_int_equal(out.pidfd_ino, 12345678901ull);
        assert_int_equal(out.started_at, 1700000001);
        assert_string_equal(out.cgroup, sample_state.cgroup);
        assert_false(out.paused);

        /* Paused (vpsctl pause) survives a vpsd restart through the run state. */
        struct vps_state paused = sample_state;
        paused.paused = true;
        text = vps_state_to_json(&paused);
        assert_non_null(text);
        assert_non_null(strstr(text, "\"paused\": true"));
        assert_int_equal(vps_state_from_json(text, &out, &err), 0);
        free(text);
        assert_true(out.paused);
        /* An older vpsd's state has no pidfd_ino: 0, the start time decides. */
        assert_int_equal(vps_state_from_json("{\"pid\": 7, \"starttime\": 1, \"started_at\": 1, "
                                             "\"cgroup\": \"/x\"}",
                                             &out, &err),
                         0);
        assert_int_equal(out.pidfd_ino, 0);

        static const char *bad[] = {
                "{\"pid\": 1, \"starttime\": 1, \"started_at\": 1, \"cgroup\": \"/x\", "
                "\"paused\": 1}",
                "",
                "{",
                "\"x\"",
                "{\"pid\": 0, \"starttime\": 1, \"started_at\": 1, \"cgroup\": \"/x\"}",
                "{\"pid\": \"1\", \"starttime\": 1, \"started_at\": 1, \"cgroup\": \"/x\"}",
                "{\"pid\": 1, \"starttime\": -1, \"started_at\": 1, \"cgroup\": \"/x\"}",
                "{\"pid\": 1, \"starttime\": 1, \"started_at\": 1}",
                "{\"pid\": 1, \"starttime\": 1, \"pidfd_ino\": -1, \"started_at\": 1, \"cgroup\": "
                "\"/x\"}",
                "{\"pid\": 1, \"starttime\": 1, \"started_at\": 1, \"cgroup\": 5}",
                "{\"starttime\": 1, \"started_at\": 1, \"cgroup\": \"/x\"}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vps_error e = {0};
                int r = vps_state_from_json(bad[i], &out, &e);
                if (r != -EBADMSG)
                        fail_msg("'%s': got %d", bad[i], r);
                assert_int_equal(e.code, EBADMSG);
        }
}

static void test_config_save_load(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        struct vps_config out;
        assert_int_equal(vps_config_load(t->fd, &out, &err), -ENOENT);
        /* An existing, world readable file is replaced by a private one. */
        assert_int_equal(vps_write_file_atomic(t->fd, "config.json", "{}", 2, 0644, &err), 0);
        assert_int_equal(vps_config_save(t->fd, &sample_cfg, &err), 0);

        struct stat st;
        assert_int_equal(fstatat(t->fd, "config.json", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);

        DIR *d = opendir(t->path);
        assert_non_null(d);
        int entries = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                assert_string_equal(de->d_name, "config.json"); /* no temporary file left */
                entries++;
        }
        closedir(d);
        assert_int_equal(entries, 1);

        assert_int_equal(vps_config_load(t->fd, &out, &err), 0);
        assert_cfg_equal(&out, &sample_cfg);

        /* A corrupt file: the error names the file. */
        assert_int_equal(vps_write_file_atomic(t->fd, "config.json", "{}", 2, 0600, &err), 0);
        assert_int_equal(vps_config_load(t->fd, &out, &err), -EBADMSG);
        assert_int_equal(strncmp(err.msg, "config.json: ", 13), 0);
}

static void test_state_save_load_remove(void **state)
{
        struct tmpdir *t = *state;
        vps_error err = {0};
        struct vps_state out;
        assert_int_equal(vps_state_load(t->fd, "101.json", &out, &err), -ENOENT);
        assert_int_equal(vps_state_save(t->fd, "101.json", &sample_state, &err), 0);
        assert_int_equal(vps_state_load(t->fd, "101.json", &out, &err), 0);
        assert_int_equal(out.pid, sample_state.pid);
        assert_string_equal(out.cgroup, sample_state.cgroup);
        assert_int_equal(vps_state_remove(t->fd, "101.json", &err), 0);
        assert_int_equal(vps_state_load(t->fd, "101.json", &out, &err), -ENOENT);
        assert_int_equal(vps_state_remove(t->fd, "101.json", &err), 0); /* already gone: fine */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_round_trip),
                cmocka_unit_test(test_config_rejects),
                cmocka_unit_test(test_config_features_optional),
                cmocka_unit_test(test_features_parse),
                cmocka_unit_test(test_features_rejects),
                cmocka_unit_test(test_features_format),
                cmocka_unit_test_setup_teardown(test_config_set_features, setup_dir, teardown_dir),
                cmocka_unit_test(test_state_round_trip_and_rejects),
                cmocka_unit_test_setup_teardown(test_config_save_load, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_state_save_load_remove, setup_dir,
                                                teardown_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
