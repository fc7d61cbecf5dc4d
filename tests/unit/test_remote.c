/* Unit tests: vpsctl's remotes (vpsctl/remote.c, pins.c, compiled in): names, URLs and
 * fingerprints as given by users, remotes.json read and written in a config dir of the
 * test's own (0600, refused when others may read or change it, or when malformed), and the
 * pins of a certificate against what openssl computes for it. */
#include <errno.h>
#include <fcntl.h>
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

#include "conn.h"
#include "remote.h"

static char home[64];
static char file[128];

static void test_names(void **state)
{
        vps_error err = {0};
        (void)state;
        assert_int_equal(remote_name_check("prod-1.eu_2", &err), 0);
        assert_int_equal(remote_name_check("a", &err), 0);
        static const char *const bad[] = {"",
                                          "-a",
                                          ".a",
                                          "a b",
                                          "a/b",
                                          "local",
                                          "ä",
                                          "a234567890123456789012345678901234567890123456789012345"
                                          "678901234"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (remote_name_check(bad[i], &err) != -EINVAL)
                        fail_msg("accepted: '%s'", bad[i]);
        }
}

static void test_urls(void **state)
{
        static const struct {
                const char *in, *want;
        } good[] = {
                {"https://h.example:8443", "https://h.example:8443"},
                {"https://h.example:8443/", "https://h.example:8443"},
                {"https://10.0.0.1:443", "https://10.0.0.1:443"},
                {"https://[::1]:9443", "https://[::1]:9443"},
                {"https://host", "https://host:443"},
        };
        static const char *const bad[] = {
                "http://h:80",       "h:8443",           "https://",
                "https://h:8443/v1", "https://u@h:8443", "https://h:8443?x=1",
                "https://h:99999",   "ftp://h:21",       "https://h:8443#f",
        };
        vps_error err = {0};
        char *out = NULL;
        (void)state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                assert_int_equal(remote_url_normalize(good[i].in, &out, &err), 0);
                assert_string_equal(out, good[i].want);
                free(out);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (remote_url_normalize(bad[i], &out, &err) != -EINVAL)
                        fail_msg("accepted: '%s'", bad[i]);
                assert_null(out);
                assert_non_null(strstr(err.msg, "https://HOST:PORT"));
        }
}

#define FP "2fa698abd8250c81d64f60c29f6e6830275e0376db8593639548eca2ee597f1c"

static void test_fingerprints(void **state)
{
        char fp[CLIENT_FP_LEN];
        vps_error err = {0};
        (void)state;
        assert_int_equal(remote_fingerprint_normalize(FP, fp, &err), 0);
        assert_string_equal(fp, FP);
        assert_int_equal(
                remote_fingerprint_normalize(
                        "2F:A6:98:AB:D8:25:0C:81:D6:4F:60:C2:9F:6E:68:30:27:5E:03:76:DB:85:"
                        "93:63:95:48:EC:A2:EE:59:7F:1C",
                        fp, &err),
                0);
        assert_string_equal(fp, FP);
        assert_int_equal(remote_fingerprint_normalize(FP "00", fp, &err), -EINVAL);
        assert_int_equal(remote_fingerprint_normalize("2fa6", fp, &err), -EINVAL);
        assert_int_equal(remote_fingerprint_normalize("", fp, &err), -EINVAL);
        assert_int_equal(remote_fingerprint_normalize(
                                 "zfa698abd8250c81d64f60c29f6e6830275e0376db8593639548eca2ee597f1c",
                                 fp, &err),
                         -EINVAL);
}

/* A self-signed certificate (openssl req -x509 -newkey ec) and what openssl says of it:
 * `x509 -fingerprint -sha256`, and the SHA-256 of its public key as curl pins it. */
static const char cert[] = "-----BEGIN CERTIFICATE-----\n"
                           "MIIBczCCARmgAwIBAgIUcLB49N8OuLFqlT89ceMyA9/X+ScwCgYIKoZIzj0EAwIw\n"
                           "DzENMAsGA1UEAwwEdGVzdDAeFw0yNjEyMDYyMzQxMTNaFw0zNjEyMDMyMzQxMTNa\n"
                           "MA8xDTALBgNVBAMMBHRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASAAvhw\n"
                           "sH9s/q9SdV4lxNh3ii14c45JLsiVPmcGIJftX3VtLRv0MjlHW4dExvUgv9qOp8TG\n"
                           "0rhYGgBKCD3d6KRGo1MwUTAdBgNVHQ4EFgQUhEqMLypyy44ymsqnryAcPiZKrDww\n"
                           "HwYDVR0jBBgwFoAUhEqMLypyy44ymsqnryAcPiZKrDwwDwYDVR0TAQH/BAUwAwEB\n"
                           "/zAKBggqhkjOPQQDAgNIADBFAiEAotfrCd7rqEGkb8e/IN8bZbrRR5XwRFuyQIlT\n"
                           "zsCPaDICIDGPIlZsfqis6jhBsMAmK09+y1oOuoqDeHZ+GykzxpXb\n"
                           "-----END CERTIFICATE-----\n";
#define PIN "sha256//ZnXMHARS6r1eVg+LbQmuteCIJaofI41mmJbBgRF5rVU="

static void test_pins(void **state)
{
        char fp[CLIENT_FP_LEN], pin[CLIENT_PIN_LEN];
        vps_error err = {0};
        (void)state;
        assert_int_equal(pins_from_pem(cert, fp, pin, &err), 0);
        assert_string_equal(fp, FP);
        assert_string_equal(pin, PIN);
        assert_int_equal(pins_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n", fp, pin, &err),
                         -EPROTO);
}

static void write_file(const char *text, mode_t mode)
{
        int f = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(f >= 0);
        assert_int_equal(write(f, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(f, mode), 0);
        close(f);
}

static void test_file(void **state)
{
        json_t *all = NULL;
        vps_error err = {0};
        struct stat st;
        char path[256];
        (void)state;

        assert_int_equal(remotes_path(path, sizeof(path), &err), 0);
        assert_string_equal(path, file);
        unlink(file);
        assert_int_equal(remotes_load(&all, &err), 0); /* none yet */
        assert_int_equal(json_object_size(json_object_get(all, "remotes")), 0);
        json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "url", "https://h:8443", "fingerprint", FP,
                              "pubkey", PIN, "token", "secret");
        json_object_set_new(json_object_get(all, "remotes"), "prod", e);
        assert_int_equal(remotes_save(all, &err), 0);
        json_decref(all);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        *strrchr(path, '/') = '\0';
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);

        assert_int_equal(remotes_load(&all, &err), 0);
        struct client_target t;
        assert_int_equal(remote_target(all, "prod", &t, &err), 0);
        assert_string_equal(t.url, "https://h:8443");
        assert_string_equal(t.token, "secret");
        assert_string_equal(t.fingerprint, FP);
        assert_string_equal(t.pubkey, PIN);
        assert_null(t.cert);
        assert_int_equal(remote_target(all, "other", &t, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "no remote 'other'"));
        json_decref(all);

        /* tokens and pins: a file others may read or change is refused */
        assert_int_equal(chmod(file, 0644), 0);
        assert_int_equal(remotes_load(&all, &err), -EPERM);
        assert_non_null(strstr(err.msg, "chmod 600"));
        assert_null(all);
}

static void test_file_malformed(void **state)
{
        static const char *const bad[] = {
                "{",
                "[]",
                "{\"remotes\": []}",
                "{\"remotes\": {\"-x\": {}}}",
                "{\"remotes\": {\"p\": 1}}",
                "{\"remotes\": {\"p\": {\"url\": \"https://h:1\", \"pubkey\": \"" PIN "\"}}}",
                "{\"remotes\": {\"p\": {\"url\": \"http://h:1\", \"fingerprint\": \"" FP
                "\", \"pubkey\": \"" PIN "\"}}}",
                "{\"remotes\": {\"p\": {\"url\": \"https://h:1\", \"fingerprint\": \"00\", "
                "\"pubkey\": \"" PIN "\"}}}",
                "{\"remotes\": {\"p\": {\"url\": \"https://h:1\", \"fingerprint\": \"" FP
                "\", \"pubkey\": \"sha256//x\"}}}",
                "{\"remotes\": {\"p\": {\"url\": \"https://h:1\", \"fingerprint\": \"" FP
                "\", \"pubkey\": \"" PIN "\", \"token\": 5}}}",
                "{\"remotes\": {}, \"remotes\": {}}",
        };
        json_t *all = NULL;
        vps_error err = {0};
        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                write_file(bad[i], 0600);
                if (remotes_load(&all, &err) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
                assert_null(all);
                assert_non_null(strstr(err.msg, file));
        }
}

int main(void)
{
        snprintf(home, sizeof(home), "/tmp/test_remote.XXXXXX");
        if (!mkdtemp(home))
                return 1;
        setenv("XDG_CONFIG_HOME", home, 1);
        snprintf(file, sizeof(file), "%s/vpsctl/remotes.json", home);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),        cmocka_unit_test(test_urls),
                cmocka_unit_test(test_fingerprints), cmocka_unit_test(test_pins),
                cmocka_unit_test(test_file),         cmocka_unit_test(test_file_malformed),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        unlink(file);
        char d[128];
        snprintf(d, sizeof(d), "%s/vpsctl", home);
        rmdir(d);
        rmdir(home);
        return r;
}
