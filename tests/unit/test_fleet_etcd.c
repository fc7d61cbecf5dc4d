/* Unit tests: libvpsfleet's etcd client against a real etcd (a one-member cluster started
 * here on loopback ports of its own, in a temporary directory; skipped without /usr/bin/etcd):
 * put, range, delete, transactions, leases, watch, claims and the failover past a dead
 * endpoint, TLS. No root needed. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "fleet/fleet.h"

#define ETCD_BIN "/usr/bin/etcd"

static pid_t etcd_pid;
static char dir[] = "/tmp/vps-etcd-test.XXXXXX";
static char urls[128]; /* a dead endpoint first, then the live one */
static struct etcd *e;

static int start(void **state)
{
        if (access(ETCD_BIN, X_OK) != 0)
                return 0;
        if (!mkdtemp(dir))
                return -1;
        srand((unsigned int)(getpid() ^ time(NULL)));
        int port = 40000 + rand() % 10000 * 2;
        char client[64], peer[64], cluster[96], data[64];
        (void)snprintf(client, sizeof(client), "http://127.0.0.1:%d", port);
        (void)snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", port + 1);
        (void)snprintf(cluster, sizeof(cluster), "t=%s", peer);
        (void)snprintf(data, sizeof(data), "%s/data", dir);
        (void)snprintf(urls, sizeof(urls), "http://127.0.0.1:%d,%s", port - 1, client);
        etcd_pid = fork();
        if (etcd_pid == 0) {
                int nul = open("/dev/null", O_WRONLY);
                dup2(nul, 1);
                dup2(nul, 2);
                execl(ETCD_BIN, ETCD_BIN, "--name", "t", "--data-dir", data, "--listen-client-urls",
                      client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
                      "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
                      (char *)NULL);
                _exit(127);
        }
        vps_error err;
        if (etcd_open(urls, NULL, &e, &err) < 0)
                return -1;
        etcd_set_timeout(e, 1000);
        for (int i = 0; i < 100; i++) {
                struct etcd_kvs k = {0};
                if (etcd_range(e, "x", 0, 0, &k, &err) == 0)
                        return 0;
                usleep(100000);
        }
        return -1;
}

static int stop(void **state)
{
        if (etcd_pid > 0) {
                kill(etcd_pid, SIGKILL);
                waitpid(etcd_pid, NULL, 0);
                char cmd[96];
                (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                (void)!system(cmd);
        }
        etcd_close(e);
        return 0;
}

static void test_kv(void **state)
{
        vps_error err = {0};
        assert_int_equal(etcd_put(e, "/t/a", "1", 0, &err), 0);
        assert_int_equal(etcd_put(e, "/t/b", "two \"quoted\"\n", 0, &err), 0);
        assert_int_equal(etcd_put(e, "/u", "x", 0, &err), 0);
        /* The dead endpoint was left for the live one, which answers from now on. */
        assert_non_null(strstr(urls, etcd_endpoint(e)));
        assert_int_not_equal(strncmp(urls, etcd_endpoint(e), strlen(etcd_endpoint(e))), 0);
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_range(e, "/t/", ETCD_PREFIX, 0, &k, &err), 0);
        assert_int_equal(k.n, 2);
        assert_string_equal(k.v[0].key, "/t/a");
        assert_string_equal(k.v[1].value, "two \"quoted\"\n");
        etcd_kvs_free(&k);
        assert_int_equal(etcd_range(e, "/t/", ETCD_PREFIX | ETCD_COUNT_ONLY, 0, &k, &err), 0);
        assert_int_equal(k.count, 2);
        assert_int_equal(k.n, 0);
        etcd_kvs_free(&k);
        assert_int_equal(etcd_range(e, "/t/", ETCD_PREFIX, 1, &k, &err), 0);
        assert_int_equal(k.n, 1);
        assert_true(k.more);
        etcd_kvs_free(&k);
        int64_t n = 0;
        assert_int_equal(etcd_delete(e, "/t/", ETCD_PREFIX, &n, &err), 0);
        assert_int_equal(n, 2);
}

/* A prefix read in pages: every key once, in order, each response at most a page. */
static void test_pages(void **state)
{
        (void)state;
        vps_error err;
        char key[32];
        for (int i = 0; i < 30; i++) {
                (void)snprintf(key, sizeof(key), "/p/k%02d", i);
                assert_int_equal(etcd_put(e, key, key + 3, 0, &err), 0);
        }
        assert_int_equal(etcd_put(e, "/p0", "outside", 0, &err), 0);
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_range_pages(e, "/p/", ETCD_PREFIX | ETCD_SERIALIZABLE, 7, &k, &err),
                         0);
        assert_int_equal(k.n, 30);
        assert_int_equal(k.pages, 5);
        assert_int_equal(k.count, 30);
        assert_false(k.more);
        for (int i = 0; i < 30; i++) {
                (void)snprintf(key, sizeof(key), "/p/k%02d", i);
                assert_string_equal(k.v[i].key, key);
                assert_string_equal(k.v[i].value, key + 3);
        }
        etcd_kvs_free(&k);
        /* A page as big as the range: one response; keys only; an exact fit of pages. */
        assert_int_equal(etcd_range_pages(e, "/p/", ETCD_PREFIX | ETCD_KEYS_ONLY, 0, &k, &err), 0);
        assert_int_equal(k.n, 30);
        assert_int_equal(k.pages, 1);
        etcd_kvs_free(&k);
        assert_int_equal(etcd_range_pages(e, "/p/", ETCD_PREFIX, 10, &k, &err), 0);
        assert_int_equal(k.n, 30);
        assert_string_equal(k.v[29].key, "/p/k29");
        etcd_kvs_free(&k);
        assert_int_equal(etcd_range_pages(e, "/none/", ETCD_PREFIX, 10, &k, &err), 0);
        assert_int_equal(k.n, 0);
        assert_int_equal(k.pages, 1);
        etcd_kvs_free(&k);
        int64_t n = 0;
        assert_int_equal(etcd_delete(e, "/p", ETCD_PREFIX, &n, &err), 0);
        assert_int_equal(n, 31);
}

/* Between two pages: one more key and a compaction of the store up to now, so the next page's
 * revision is gone (the first time only). */
static int compactions;
static void compact_now(void *arg)
{
        (void)arg;
        if (compactions++)
                return;
        vps_error err;
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_put(e, "/c/zz", "late", 0, &err), 0);
        assert_int_equal(etcd_range(e, "/c/zz", 0, 0, &k, &err), 0);
        char rev[24];
        (void)snprintf(rev, sizeof(rev), "%lld", (long long)k.revision);
        etcd_kvs_free(&k);
        json_t *req = json_pack("{s:s}", "revision", rev), *reply = NULL;
        assert_int_equal(etcd_call(e, "/v3/kv/compaction", req, &reply, &err), 0);
        json_decref(req);
        json_decref(reply);
}

/* A paged read across a compaction begins again at the newest revision: every key once. */
static void test_pages_compacted(void **state)
{
        (void)state;
        vps_error err;
        char key[32];
        for (int i = 0; i < 12; i++) {
                (void)snprintf(key, sizeof(key), "/c/k%02d", i);
                assert_int_equal(etcd_put(e, key, key + 3, 0, &err), 0);
        }
        struct etcd_kvs k = {0};
        etcd_set_page_hook(e, compact_now, NULL);
        int r = etcd_range_pages(e, "/c/", ETCD_PREFIX, 5, &k, &err);
        etcd_set_page_hook(e, NULL, NULL);
        if (r < 0)
                fail_msg("paged read across a compaction: %s", err.msg);
        assert_int_equal(compactions, 3); /* turned pages: 1 on the compacted try, 2 after */
        assert_int_equal(k.n, 13);
        assert_string_equal(k.v[12].key, "/c/zz");
        etcd_kvs_free(&k);
        int64_t n = 0;
        assert_int_equal(etcd_delete(e, "/c/", ETCD_PREFIX, &n, &err), 0);
        assert_int_equal(n, 13);
}

static void test_txn(void **state)
{
        vps_error err = {0};
        bool ok = false;
        for (int round = 0; round < 2; round++) {
                json_t *cmp = json_array(), *put = json_array(), *fail = json_array();
                json_array_append_new(cmp, etcd_cmp_absent("/x/k"));
                json_array_append_new(put, etcd_op_put("/x/k", "mine", 0));
                json_array_append_new(fail, etcd_op_range("/x/k"));
                json_t *resp = NULL;
                assert_int_equal(etcd_txn(e, cmp, put, fail, &ok, &resp, &err), 0);
                assert_int_equal(ok, round == 0); /* the second finds it there */
                json_decref(cmp);
                json_decref(put);
                json_decref(fail);
                json_decref(resp);
        }
}

static void test_lease(void **state)
{
        vps_error err = {0};
        int64_t id = 0, ttl = 0;
        assert_int_equal(etcd_lease_grant(e, 2, &id, &err), 0);
        assert_int_equal(etcd_put(e, "/l/k", "v", id, &err), 0);
        assert_int_equal(etcd_lease_keepalive(e, id, &ttl, &err), 0);
        assert_true(ttl > 0 && ttl <= 2);
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_range(e, "/l/k", 0, 0, &k, &err), 0);
        assert_int_equal(k.n, 1);
        assert_int_equal(k.v[0].lease, id);
        etcd_kvs_free(&k);
        assert_int_equal(etcd_lease_revoke(e, id, &err), 0);
        assert_int_equal(etcd_range(e, "/l/k", 0, 0, &k, &err), 0);
        assert_int_equal(k.n, 0); /* gone with its lease */
        etcd_kvs_free(&k);
        assert_int_equal(etcd_lease_keepalive(e, id, &ttl, &err), -ENOENT);
}

struct seen {
        int n;
        char last[64];
        bool deleted;
};

static int on_event(const char *key, const char *value, int64_t rev, void *userdata)
{
        struct seen *s = userdata;
        s->n++;
        (void)snprintf(s->last, sizeof(s->last), "%s=%s", key, value ? value : "(deleted)");
        s->deleted |= !value;
        return s->deleted; /* stop after the delete */
}

static void test_watch(void **state)
{
        vps_error err = {0};
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_range(e, "/none", 0, 0, &k, &err), 0);
        int64_t from = k.revision + 1;
        etcd_kvs_free(&k);
        assert_int_equal(etcd_put(e, "/w/a", "1", 0, &err), 0);
        assert_int_equal(etcd_put(e, "/w/b", "2", 0, &err), 0);
        assert_int_equal(etcd_put(e, "/other", "3", 0, &err), 0);
        assert_int_equal(etcd_delete(e, "/w/a", 0, NULL, &err), 0);
        struct seen s = {0};
        bool stop_flag = false;
        assert_int_equal(etcd_watch(e, "/w/", ETCD_PREFIX, from, on_event, &s, &stop_flag, &err),
                         0);
        assert_int_equal(s.n, 3); /* two puts and the delete; not /other */
        assert_string_equal(s.last, "/w/a=(deleted)");
}

static void test_claims(void **state)
{
        vps_error err = {0};
        const char *ips1[] = {"10.0.0.1", "10.0.0.2"}, *ips2[] = {"10.0.0.2"};
        struct fleet_claim a = {.id = "101",
                                .node = "n1",
                                .state = "creating",
                                .nonce = "a1",
                                .ips = ips1,
                                .n_ips = 2};
        struct fleet_claim b = {.id = "102", .node = "n2", .nonce = "b1", .ips = ips2, .n_ips = 1};
        struct fleet_claim c = {.id = "101", .node = "n2", .nonce = "c1", .ips = NULL};
        assert_int_equal(fleet_claim(e, "/f/", &a, &err), 0);
        assert_int_equal(fleet_claim(e, "/f/", &a, &err), 0); /* its own retry */
        assert_int_equal(fleet_claim(e, "/f/", &b, &err), -EADDRINUSE);
        assert_string_equal(err.msg, "address 10.0.0.2 is held by VPS 101 on node n1");
        assert_int_equal(fleet_claim(e, "/f/", &c, &err), -EEXIST);
        assert_string_equal(err.msg, "VPS 101 already exists on node n1");
        assert_int_equal(fleet_update(e, "/f/", &c, &err), -EEXIST);
        /* n1 lets 10.0.0.2 go: then n2 may have it. */
        a.n_ips = 1;
        a.state = "running";
        assert_int_equal(fleet_update(e, "/f/", &a, &err), 0);
        assert_int_equal(fleet_claim(e, "/f/", &b, &err), 0);
        assert_int_equal(fleet_release(e, "/f/", "101", "n2", &err), -EEXIST);
        assert_int_equal(fleet_release(e, "/f/", "101", "n1", &err), 0);
        assert_int_equal(fleet_release(e, "/f/", "101", "n1", &err), -ENOENT);
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_range(e, "/f/", ETCD_PREFIX, 0, &k, &err), 0);
        /* Left: 102's record, its owner record and its address. */
        assert_int_equal(k.n, 3);
        etcd_kvs_free(&k);
}

/* A create's finish: the claim becomes the record only while it is still the node's. */
static void test_finish(void **state)
{
        vps_error err = {0};
        const char *ips[] = {"10.8.0.1"}, *ips2[] = {"10.8.0.2"};
        struct fleet_claim a = {.id = "201",
                                .node = "n1",
                                .state = "creating",
                                .nonce = "f1",
                                .ips = ips,
                                .n_ips = 1,
                                .updated = 1000};
        char *claimed = fleet_vps_record(&a);
        assert_int_equal(fleet_claim(e, "/h/", &a, &err), 0);
        a.state = "stopped";
        a.updated = 1001;
        assert_int_equal(fleet_finish(e, "/h/", &a, claimed, &err), 0);
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_range(e, "/h/vps/201", 0, 0, &k, &err), 0);
        assert_non_null(strstr(k.v[0].value, "\"state\":\"stopped\""));
        etcd_kvs_free(&k);
        /* Finished already: the claim's text is no longer there, so a second finish fails. */
        assert_int_equal(fleet_finish(e, "/h/", &a, claimed, &err), -ESTALE);
        free(claimed);
        /* A claim lost (its keys deleted), then taken by n2: n1's finish is refused, n2's
         * record stays as it is. */
        struct fleet_claim b = a, c = a;
        b.id = c.id = "202";
        b.ips = c.ips = ips2;
        b.state = "creating";
        c.node = "n2";
        c.nonce = "f2";
        claimed = fleet_vps_record(&b);
        assert_int_equal(fleet_claim(e, "/h/", &b, &err), 0);
        assert_int_equal(etcd_delete(e, "/h/vps/202", 0, NULL, &err), 0);
        assert_int_equal(fleet_finish(e, "/h/", &b, claimed, &err), -ESTALE);
        assert_string_equal(err.msg, "VPS 202: this node's claim on its ID and addresses in the "
                                     "cluster was lost before the create ended: not created");
        /* What the lost claim left (n1's owner record, its address) is given back alone. */
        assert_int_equal(fleet_release(e, "/h/", "202", "n1", &err), 0);
        assert_int_equal(fleet_release(e, "/h/", "202", "n1", &err), -ENOENT);
        assert_int_equal(etcd_range(e, "/h/", ETCD_PREFIX, 0, &k, &err), 0);
        assert_int_equal(k.n, 3); /* 201's three keys */
        etcd_kvs_free(&k);
        assert_int_equal(fleet_claim(e, "/h/", &c, &err), 0);
        b.state = "stopped";
        assert_int_equal(fleet_finish(e, "/h/", &b, claimed, &err), -EEXIST);
        assert_string_equal(err.msg, "VPS 202: this node's claim on it in the cluster was lost "
                                     "before the create ended (node n2 holds the ID now): not "
                                     "created");
        free(claimed);
        assert_int_equal(etcd_range(e, "/h/vps/202", 0, 0, &k, &err), 0);
        assert_non_null(strstr(k.v[0].value, "\"node\":\"n2\""));
        etcd_kvs_free(&k);
        assert_int_equal(fleet_release(e, "/h/", "202", "n1", &err), -EEXIST);
        assert_string_equal(err.msg, "VPS 202 is owned by node n2");
}

/* A migration's move of the owner records: one transaction, only from the owner. */
static void test_move(void **state)
{
        vps_error err = {0};
        const char *ips[] = {"10.9.0.1"};
        struct fleet_claim a = {.id = "301",
                                .node = "m1",
                                .state = "running",
                                .nonce = "m",
                                .ips = ips,
                                .n_ips = 1};
        assert_int_equal(fleet_claim(e, "/g/", &a, &err), 0);
        assert_int_equal(fleet_move(e, "/g/", "301", "m2", "m3", NULL, NULL, &err), -EEXIST);
        assert_string_equal(err.msg, "VPS 301 is owned by node m1");
        assert_int_equal(fleet_move(e, "/g/", "399", "m1", "m2", NULL, NULL, &err), -ENOENT);
        char *rec = NULL;
        assert_int_equal(fleet_move(e, "/g/", "301", "m1", "m2", "stopped", &rec, &err), 0);
        assert_non_null(strstr(rec, "\"node\":\"m2\""));
        assert_non_null(strstr(rec, "\"state\":\"stopped\""));
        free(rec);
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_range(e, "/g/", ETCD_PREFIX, 0, &k, &err), 0);
        /* vps/301, owners/m2/301 (m1's gone) and ips/10.9.0.1, all m2's. */
        assert_int_equal(k.n, 3);
        for (size_t i = 0; i < k.n; i++) {
                assert_null(strstr(k.v[i].key, "/m1/"));
                assert_non_null(strstr(k.v[i].value, "\"node\":\"m2\""));
        }
        etcd_kvs_free(&k);
        /* The old owner can neither move it again nor release it; the new one can. */
        assert_int_equal(fleet_move(e, "/g/", "301", "m1", "m3", NULL, NULL, &err), -EEXIST);
        assert_int_equal(fleet_release(e, "/g/", "301", "m1", &err), -EEXIST);
        assert_int_equal(fleet_release(e, "/g/", "301", "m2", &err), 0);
        assert_int_equal(etcd_range(e, "/g/", ETCD_PREFIX, 0, &k, &err), 0);
        assert_int_equal(k.n, 0);
        etcd_kvs_free(&k);
}

/* TLS to etcd: an https:// endpoint with a certificate made here (openssl), trusted through
 * cluster_cacert; without it the connection is refused, never made in the clear. */
static void test_tls(void **state)
{
        if (access("/usr/bin/openssl", X_OK) != 0)
                skip();
        char cmd[600], crt[96], key[96];
        (void)snprintf(crt, sizeof(crt), "%s/tls.crt", dir);
        (void)snprintf(key, sizeof(key), "%s/tls.key", dir);
        (void)snprintf(cmd, sizeof(cmd),
                       "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                       "-keyout %s -out %s -days 1 -subj /CN=127.0.0.1 "
                       "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
                       key, crt);
        assert_int_equal(system(cmd), 0);
        int port = 30000 + rand() % 5000 * 2;
        char client[64], peer[64], cluster[96], data[96];
        (void)snprintf(client, sizeof(client), "https://127.0.0.1:%d", port);
        (void)snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", port + 1);
        (void)snprintf(cluster, sizeof(cluster), "s=%s", peer);
        (void)snprintf(data, sizeof(data), "%s/tls-data", dir);
        pid_t pid = fork();
        if (pid == 0) {
                int nul = open("/dev/null", O_WRONLY);
                dup2(nul, 1);
                dup2(nul, 2);
                execl(ETCD_BIN, ETCD_BIN, "--name", "s", "--data-dir", data, "--listen-client-urls",
                      client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
                      "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
                      "--cert-file", crt, "--key-file", key, (char *)NULL);
                _exit(127);
        }
        struct etcd_tls tls = {0};
        (void)snprintf(tls.cacert, sizeof(tls.cacert), "%s", crt);
        struct etcd *s = NULL, *untrusting = NULL;
        vps_error err = {0};
        assert_int_equal(etcd_open(client, &tls, &s, &err), 0);
        etcd_set_timeout(s, 1000);
        int r = -1;
        for (int i = 0; i < 100 && r < 0; i++) {
                if ((r = etcd_put(s, "/tls", "yes", 0, &err)) < 0)
                        usleep(100000);
        }
        assert_int_equal(r, 0);
        struct etcd_kvs k = {0};
        assert_int_equal(etcd_range(s, "/tls", 0, 0, &k, &err), 0);
        assert_int_equal(k.n, 1);
        assert_string_equal(k.v[0].value, "yes");
        etcd_kvs_free(&k);
        assert_int_equal(etcd_open(client, NULL, &untrusting, &err), 0);
        assert_int_equal(etcd_range(untrusting, "/tls", 0, 0, &k, &err), -EHOSTUNREACH);
        assert_non_null(strstr(err.msg, "cluster unavailable: https://127.0.0.1:"));
        etcd_close(s);
        etcd_close(untrusting);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

int main(void)
{
        if (access(ETCD_BIN, X_OK) != 0) {
                printf("SKIP: no %s (Debian's etcd-server)\n", ETCD_BIN);
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kv),     cmocka_unit_test(test_txn),
                cmocka_unit_test(test_lease),  cmocka_unit_test(test_watch),
                cmocka_unit_test(test_claims), cmocka_unit_test(test_finish),
                cmocka_unit_test(test_move),   cmocka_unit_test(test_tls),
                cmocka_unit_test(test_pages),  cmocka_unit_test(test_pages_compacted),
        };
        return cmocka_run_group_tests(tests, start, stop);
}
