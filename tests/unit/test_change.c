/* Unit tests: change sets read from API bodies (vps_change_from_json) and the config they make
 * (vps_config_next): refusals, what a running VPS takes live, what needs a stop; no daemon. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"

/* A VPS as vpsd would hold it: one address, a forward, tun. */
static void sample(struct vps_config *c)
{
        *c = (struct vps_config){.id = "101",
                                 .ostemplate = "debian-12",
                                 .hostname = "a.example",
                                 .uid_base = 2000000,
                                 .uid_count = 65536,
                                 .n_ip = 1,
                                 .ip = {"10.88.0.5"},
                                 .n_fwd = 1,
                                 .forward = {"tcp:8080:80"},
                                 .features = VPS_FEAT_TUN};
        vps_limits_init(&c->limits);
}

/* The change of body applied to cur (running or not): 0 and *next, *steps; or the error. */
static int change(const char *body, bool running, struct vps_config *next, unsigned int *steps,
                  vps_error *err)
{
        struct vps_config cur, before;
        sample(&cur);
        before = cur;
        json_t *b = json_loads(body, 0, NULL);
        assert_non_null(b);
        struct vps_change ch;
        int r = vps_change_from_json(b, &cur, false, &ch, err);
        if (r == 0)
                r = vps_config_next(&cur, running, &ch, next, steps, err);
        assert_memory_equal(&cur, &before, sizeof(cur)); /* pure: cur is never touched */
        json_decref(b);
        return r;
}

static void expect_refused(const char *body, bool running, int code, const char *msg)
{
        struct vps_config next;
        unsigned int steps = 0;
        vps_error err = {0};
        int r = change(body, running, &next, &steps, &err);
        if (r != -code)
                fail_msg("%s: got %d (%s), not %d", body, r, err.msg, -code);
        if (!strstr(err.msg, msg))
                fail_msg("%s: '%s' does not say '%s'", body, err.msg, msg);
}

static void test_refusals(void **state)
{
        (void)state;
        expect_refused("{\"nonsense\": 1}", false, EINVAL, "cannot set 'nonsense'");
        expect_refused("{\"id\": \"102\"}", false, EINVAL, "cannot set 'id'");
        expect_refused("{\"bootorder\": 1000001}", false, ERANGE, "bootorder");
        expect_refused("{\"onboot\": 1}", false, EINVAL, "'onboot' must be a boolean");
        expect_refused("{\"ipdel\": [\"10.88.0.9\"]}", false, ENOENT, "has no address 10.88.0.9");
        expect_refused("{\"nameserver\": [\"none\", \"1.1.1.1\"]}", false, EINVAL, "stands alone");
        expect_refused("{\"hostname\": \"a..b\"}", false, EINVAL, "");
        expect_refused("{\"rate\": 5}", false, ERANGE, "out of range");
        expect_refused("{\"features\": \"kvm\"}", false, EINVAL, "unknown feature");
        expect_refused("{\"limits\": {\"ram\": \"lots\"}}", false, EINVAL, "ram");
        /* what needs a stop, refused while it runs: a changed netmode or feature set, and
         * --devnodes even unchanged */
        expect_refused("{\"netmode\": \"routed\"}", true, EBUSY, "stop it to change its netmode");
        expect_refused("{\"features\": \"fuse\"}", true, EBUSY, "stop it to change 'features'");
        expect_refused("{\"devnodes\": \"none\"}", true, EBUSY, "stop it to change 'devnodes'");
        /* the last address while it has forwards */
        expect_refused("{\"ipdel\": [\"all\"]}", false, EBUSY, "has port forwards");
        expect_refused("{\"ipdel\": [\"all\"]}", true, EBUSY, "has port forwards");
}

static void test_stop_only_fields_pass_when_stopped_or_unchanged(void **state)
{
        (void)state;
        struct vps_config next;
        unsigned int steps;
        vps_error err = {0};
        assert_int_equal(change("{\"netmode\": \"routed\", \"features\": \"fuse\", \"devnodes\": "
                                "\"tun\"}",
                                false, &next, &steps, &err),
                         0);
        assert_int_equal(next.netmode, VPS_NET_ROUTED);
        assert_int_equal(next.features, VPS_FEAT_TUN | VPS_FEAT_FUSE);
        assert_int_equal(next.n_dev, 1);
        assert_int_equal(steps, VPS_STEP_SAVE); /* stopped: nothing live */
        /* running, the same netmode and features: accepted, nothing to apply but the save */
        assert_int_equal(change("{\"netmode\": \"bridged\", \"features\": \"tun:on\"}", true, &next,
                                &steps, &err),
                         0);
        assert_int_equal(steps, VPS_STEP_SAVE);
}

static void test_live_steps(void **state)
{
        (void)state;
        struct vps_config next;
        unsigned int steps;
        vps_error err = {0};
        const char *all = "{\"hostname\": \"b.example\", \"ipadd\": [\"10.88.0.6\"], "
                          "\"rate\": \"10mbit\", \"limits\": {\"ram\": \"1G\"}, "
                          "\"nameserver\": [\"1.1.1.1\"], \"onboot\": true, "
                          "\"userpasswd\": \"root:pw\"}";
        assert_int_equal(change(all, true, &next, &steps, &err), 0);
        assert_int_equal(steps, VPS_STEP_LIMITS | VPS_STEP_DISK | VPS_STEP_ADDRESSES |
                                        VPS_STEP_FORWARDS | VPS_STEP_RATE | VPS_STEP_HOSTNAME |
                                        VPS_STEP_GUEST | VPS_STEP_USERPASSWD | VPS_STEP_SAVE);
        assert_string_equal(next.hostname, "b.example");
        assert_int_equal(next.n_ip, 2);
        assert_string_equal(next.ip[1], "10.88.0.6");
        assert_int_equal(next.rate, 10000000);
        assert_int_equal(next.limits.v[VPS_LIM_RAM], 1ull << 30);
        assert_int_equal(next.n_ns, 1);
        assert_string_equal(next.nameserver[0], "1.1.1.1");
        assert_true(next.onboot);
        /* what was not given stays */
        assert_int_equal(next.n_fwd, 1);
        assert_int_equal(next.features, VPS_FEAT_TUN);
        /* stopped: the quota and the logins still apply, the rest is saved only */
        assert_int_equal(change(all, false, &next, &steps, &err), 0);
        assert_int_equal(steps, VPS_STEP_DISK | VPS_STEP_USERPASSWD | VPS_STEP_SAVE);
        /* saved-only fields on a running VPS touch nothing live */
        assert_int_equal(change("{\"onboot\": true, \"bootorder\": 5}", true, &next, &steps, &err),
                         0);
        assert_int_equal(steps, VPS_STEP_SAVE);
        assert_int_equal(next.bootorder, 5);
        /* searchdomain alone: the guest's resolv.conf, nothing else */
        assert_int_equal(change("{\"searchdomain\": \"x.example\"}", true, &next, &steps, &err), 0);
        assert_int_equal(steps, VPS_STEP_GUEST | VPS_STEP_SAVE);
        /* forwards: the filter only */
        assert_int_equal(change("{\"forward\": []}", true, &next, &steps, &err), 0);
        assert_int_equal(steps, VPS_STEP_FORWARDS | VPS_STEP_SAVE);
        assert_int_equal(next.n_fwd, 0);
}

/* Create reads the same fields, over the defaults; id and ostemplate are its own. */
static void test_create_change(void **state)
{
        (void)state;
        struct vps_config base = {0}, next;
        vps_limits_init(&base.limits);
        vps_error err = {0};
        struct vps_change ch;
        json_t *b = json_pack("{s:s, s:s, s:[s], s:s, s:s}", "id", "7", "ostemplate", "t", "ip",
                              "10.88.0.7", "features", "nesting", "hostname", "");
        assert_int_equal(vps_change_from_json(b, &base, true, &ch, &err), 0);
        assert_string_equal(ch.v.id, "7");
        assert_false(VPS_CHANGE_GIVEN(&ch, VPS_F_HOSTNAME)); /* "": vpsd picks one */
        unsigned int steps;
        assert_int_equal(vps_config_next(&base, false, &ch, &next, &steps, &err), 0);
        assert_int_equal(next.features, VPS_FEAT_NESTING);
        assert_int_equal(next.n_ip, 1);
        json_decref(b);
        b = json_pack("{s:s, s:s, s:[s]}", "id", "7", "ostemplate", "t", "ipadd", "10.88.0.7");
        assert_int_equal(vps_change_from_json(b, &base, true, &ch, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "cannot create with 'ipadd'"));
        json_decref(b);
        b = json_pack("{s:i}", "id", 7);
        assert_int_equal(vps_change_from_json(b, &base, true, &ch, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "create needs string fields 'id' and 'ostemplate'"));
        json_decref(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_stop_only_fields_pass_when_stopped_or_unchanged),
                cmocka_unit_test(test_live_steps),
                cmocka_unit_test(test_create_change),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
