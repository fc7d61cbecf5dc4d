/* Unit tests: the remote API's gatekeeping. Every row of vpsd's route table declares the verb
 * a remote client needs (a new route without one fails here); the Bearer header parser; a
 * token's view (another VPS is missing, a verb it lacks is refused, a PATCH of logins alone
 * is `password`); durations; failed authentications slowed down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth.h"
#include "authz.h"
#include "handlers.h"
#include "migration_events.h"
#include "vpsd.h"
#include "ratelimit.h"
#include "throttle.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static void test_every_route_has_a_verb(void **state)
{
        (void)state;
        assert_true(vpsd_n_routes > 20);
        for (size_t i = 0; i < vpsd_n_routes; i++) {
                const struct vpsd_route *rt = &vpsd_routes[i];
                if (rt->verb == VPSD_VERB_UNDECLARED || rt->verb >= VPSD_VERB_COUNT)
                        fail_msg("route %s /v1/%s (%d, %s) declares no verb", rt->method, rt->what,
                                 rt->nparts, rt->action ? rt->action : "-");
                /* What changes the host's set of VPSes or templates is the admin's. */
                if (strcmp(rt->method, "GET") != 0 && rt->nparts == 0)
                        assert_int_equal(rt->verb, VPSD_VERB_ADMIN);
        }
}

static const char tok[] = "vpst-0123456789abcdef-"
                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_bearer(void **state)
{
        (void)state;
        char id[VPSD_TOKEN_ID_LEN + 1], t[VPSD_TOKEN_LEN + 1], h[200];
        (void)snprintf(h, sizeof(h), "Bearer %s", tok);
        assert_int_equal(vpsd_auth_parse_bearer(h, id, t), 0);
        assert_string_equal(id, "0123456789abcdef");
        assert_string_equal(t, tok);
        (void)snprintf(h, sizeof(h), "bearer \t %s  ", tok);
        assert_int_equal(vpsd_auth_parse_bearer(h, id, t), 0);
        const char *bad[] = {NULL,
                             "",
                             "Bearer",
                             "Bearer ",
                             "Basic abc",
                             "Bearerx vpst-",
                             "Bearer vpst-0123456789abcdef-0123",
                             "Bearer vpst-0123456789ABCDEF-"
                             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(vpsd_auth_parse_bearer(bad[i], id, t), -EINVAL);
        (void)snprintf(h, sizeof(h), "Bearer %s0", tok);
        assert_int_equal(vpsd_auth_parse_bearer(h, id, t), -EINVAL);
}

static void token_client(struct vpsd_client *c, uint32_t allow)
{
        memset(c, 0, sizeof(*c));
        c->kind = VPSD_CLIENT_TOKEN;
        strcpy(c->name, "t");
        c->allow = allow;
        c->n_vps = 1;
        strcpy(c->vps[0], "101");
}

static void test_authorize(void **state)
{
        (void)state;
        struct vpsd_client c;
        struct vpsd_authz z;
        unsigned int st = 0;
        vps_error err;
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_START));
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/start", "", 0, &z, &st, &err), 0);
        assert_int_equal(z.verb, VPSD_VERB_START);
        assert_string_equal(z.vps, "101");
        /* Another's VPS: missing, in the manager's words. */
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/102/start", "", 0, &z, &st, &err),
                         -ENOENT);
        assert_int_equal(st, 404);
        assert_string_equal(err.msg, "VPS 102 does not exist");
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/stop", "", 0, &z, &st, &err),
                         -EACCES);
        assert_int_equal(st, 403);
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps", "{}", 2, &z, &st, &err), -EACCES);
        /* start --force (a VPS migrate --keep-src kept, whose copy may run elsewhere) and
         * the routes of suspend and resume are the admin's. */
        const char *force = "{\"force\": true}";
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/start", force, strlen(force), &z,
                                        &st, &err),
                         -EACCES);
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/start", "x", 1, &z, &st, &err),
                         -EACCES);
        /* A stopped VPS's restart is a start: with force, the admin's too. */
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_START) | VPSD_VERB_BIT(VPSD_VERB_RESTART));
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/restart", "", 0, &z, &st, &err),
                         0);
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/restart", force, strlen(force), &z,
                                        &st, &err),
                         -EACCES);
        assert_int_equal(st, 403);
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_START));
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/suspend", "", 0, &z, &st, &err),
                         -EACCES);
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/resume", "", 0, &z, &st, &err),
                         -EACCES);
        /* A PATCH of logins alone is `password`; with anything else the admin's. */
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_PASSWORD));
        const char *pw = "{\"userpasswd\": \"root:x\"}";
        assert_int_equal(vpsd_authorize(&c, "PATCH", "/v1/vps/101", pw, strlen(pw), &z, &st, &err),
                         0);
        const char *more = "{\"userpasswd\": \"root:x\", \"ram\": \"8G\"}";
        assert_int_equal(
                vpsd_authorize(&c, "PATCH", "/v1/vps/101", more, strlen(more), &z, &st, &err),
                -EACCES);
        /* The local socket may do everything. */
        memset(&c, 0, sizeof(c));
        c.kind = VPSD_CLIENT_LOCAL;
        assert_int_equal(vpsd_authorize(&c, "DELETE", "/v1/vps/102", "", 0, &z, &st, &err), 0);
        assert_int_equal(z.verb, VPSD_VERB_ADMIN);
}

/* A VPS being migrated away: its token changes nothing (409) but may still look (GET); the
 * admin is not held. */
static void test_migrating(void **state)
{
        (void)state;
        struct vpsd d;
        memset(&d, 0, sizeof(d));
        struct vpsd_client c;
        struct vpsd_authz z;
        unsigned int st = 0;
        vps_error err;
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_START) | VPSD_VERB_BIT(VPSD_VERB_STATUS));
        vpsd_migration_begin(&d, "101", true, "hostb");
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/start", "", 0, &z, &st, &err),
                         -EBUSY);
        assert_int_equal(st, 409);
        assert_non_null(strstr(err.msg, "being migrated"));
        assert_int_equal(vpsd_authorize(&c, "GET", "/v1/vps/101", "", 0, &z, &st, &err), 0);
        /* Without the verb it is still 403, not a hint of the migration. */
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_STATUS));
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/start", "", 0, &z, &st, &err),
                         -EACCES);
        struct vpsd_client local = {.kind = VPSD_CLIENT_LOCAL};
        assert_int_equal(vpsd_authorize(&local, "POST", "/v1/vps/101/start", "", 0, &z, &st, &err),
                         0);
        vpsd_migration_end(&d, "101", true, NULL, NULL);
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_START));
        assert_int_equal(vpsd_authorize(&c, "POST", "/v1/vps/101/start", "", 0, &z, &st, &err), 0);
}

/* A token's answer is narrowed on a copy: the same object, answered to an admin too (the
 * starts waiting on one VPS share it), keeps the host's details. */
static void test_filter_copies(void **state)
{
        (void)state;
        struct vpsd_client c;
        struct vpsd_authz z;
        unsigned int st = 0;
        vps_error err;
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_STATUS));
        assert_int_equal(vpsd_authorize(&c, "GET", "/v1/vps/101", "", 0, &z, &st, &err), 0);
        json_t *view = json_pack("{s:s, s:s, s:i, s:s}", "id", "101", "status", "running", "pid",
                                 4242, "cgroup", "/sys/fs/cgroup/vps/101");
        json_t *admins = json_incref(view);
        json_t *tokens = vpsd_authz_filter(&c, &z, view);
        assert_null(json_object_get(tokens, "pid"));
        assert_null(json_object_get(tokens, "cgroup"));
        assert_string_equal(json_string_value(json_object_get(tokens, "id")), "101");
        assert_int_equal(json_integer_value(json_object_get(admins, "pid")), 4242);
        assert_non_null(json_object_get(admins, "cgroup"));
        json_decref(tokens);
        /* A snapshot's mount point: a token learns only that it is mounted. */
        token_client(&c, VPSD_VERB_BIT(VPSD_VERB_SNAPSHOT));
        assert_int_equal(vpsd_authorize(&c, "GET", "/v1/vps/101/snapshots", "", 0, &z, &st, &err),
                         0);
        json_t *snaps =
                json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:b}]}", "id", "101", "snapshots", "name",
                          "a", "mounted", "/root/secret", "name", "b", "mounted", 0);
        snaps = vpsd_authz_filter(&c, &z, snaps);
        json_t *list = json_object_get(snaps, "snapshots");
        assert_true(json_is_true(json_object_get(json_array_get(list, 0), "mounted")));
        assert_true(json_is_false(json_object_get(json_array_get(list, 1), "mounted")));
        json_decref(snaps);
        json_decref(admins);
}

static void test_duration(void **state)
{
        (void)state;
        int64_t s;
        vps_error err;
        assert_int_equal(vpsd_duration_parse("30d", &s, &err), 0);
        assert_int_equal(s, 30 * 86400);
        assert_int_equal(vpsd_duration_parse("90", &s, &err), 0);
        assert_int_equal(s, 90);
        assert_int_equal(vpsd_duration_parse("never", &s, &err), 0);
        assert_int_equal(s, 0);
        assert_int_equal(vpsd_duration_parse("3x", &s, &err), -EINVAL);
        assert_int_equal(vpsd_duration_parse("-3d", &s, &err), -EINVAL);
        assert_int_equal(vpsd_duration_parse("3dd", &s, &err), -EINVAL);
}

static void test_throttle(void **state)
{
        (void)state;
        static struct vpsd_throttle t;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        struct sockaddr_in b = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000002)};
        unsigned int want[] = {250, 500, 1000, 2000, 4000, 4000};
        for (size_t i = 0; i < 6; i++)
                assert_int_equal(vpsd_throttle_fail(&t, (struct sockaddr *)&a, 1000), want[i]);
        assert_int_equal(vpsd_throttle_fail(&t, (struct sockaddr *)&b, 1000), 250);
        /* Forgiven after five quiet minutes. */
        assert_int_equal(vpsd_throttle_fail(&t, (struct sockaddr *)&a, 1000 + 301000), 250);
}

static uint32_t fnv1a(const char *s)
{
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h;
}

/* Token buckets: names whose hashes meet in one slot keep buckets of their own; a token that
 * spent its bucket gets no fresh one because another took over its slot (that gave two
 * tokens, alternating, no limit at all); past the probes, newcomers share a spent bucket. */
static void test_rate_collisions(void **state)
{
        (void)state;
        static struct vpsd_rate r;
        char names[17][16];
        uint32_t want = fnv1a("tok-0") % VPSD_RATE_SLOTS;
        int n = 0;
        for (unsigned int i = 0; n < 17; i++) {
                char nm[16];
                (void)snprintf(nm, sizeof(nm), "tok-%u", i);
                if (fnv1a(nm) % VPSD_RATE_SLOTS == want)
                        memcpy(names[n++], nm, sizeof(nm));
        }
        unsigned int wait = 0;
        int64_t now = 1000000;
        for (int i = 0; i < VPSD_TOKEN_BURST; i++)
                assert_true(vpsd_rate_take(&r, names[0], now, &wait));
        assert_false(vpsd_rate_take(&r, names[0], now, &wait));
        assert_true(vpsd_rate_take(&r, names[1], now, &wait));  /* its own bucket */
        assert_false(vpsd_rate_take(&r, names[0], now, &wait)); /* still spent */
        assert_int_equal(wait, 1);
        for (int k = 1; k < 16; k++)
                while (vpsd_rate_take(&r, names[k], now, &wait))
                        ;
        /* Sixteen spent buckets in the probes: the seventeenth shares the stalest. */
        assert_false(vpsd_rate_take(&r, names[16], now, &wait));
        /* A second later each has 10 again. */
        for (int i = 0; i < VPSD_TOKEN_RATE; i++)
                assert_true(vpsd_rate_take(&r, names[0], now + 1000, &wait));
        assert_false(vpsd_rate_take(&r, names[0], now + 1000, &wait));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_route_has_a_verb),
                cmocka_unit_test(test_bearer),
                cmocka_unit_test(test_authorize),
                cmocka_unit_test(test_migrating),
                cmocka_unit_test(test_filter_copies),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_throttle),
                cmocka_unit_test(test_rate_collisions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
