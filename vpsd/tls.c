/* vpsd: the remote API's TLS identity. An ECDSA P-256 key and a self-signed certificate,
 * made with GnuTLS on first use in ROOT/remote (0700; the files 0600), are what clients pin
 * (`vpsd --fingerprint`). A re-exec (SIGHUP) reads them again, so replacing or removing them
 * and reloading gives vpsd a new identity. */
#include "tls.h"

#include "vps/cleanup.h"
#include "vps/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One identity per process: the callback gets no userdata. */
static gnutls_pcert_st server_pcert;
static gnutls_privkey_t server_key;
static bool loaded;
/* The master key of session tickets (resumption, TLS 1.2 and 1.3). In memory alone and new in
 * each process, so a reload (a re-exec) ends every ticket issued before, with the identity
 * they were made under; GnuTLS derives the key that encrypts them from it and rotates that
 * every ticket lifetime (6 h). */
static gnutls_datum_t ticket_key;

int vpsd_remote_dir(const char *root, char *ret, size_t size, vps_error *err)
{
        if ((size_t)snprintf(ret, size, "%s/remote", root) >= size)
                return vps_err(err, ENAMETOOLONG, "state root path too long");
        if (mkdir(ret, 0700) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating %s", ret);
        struct stat st;
        if (lstat(ret, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0)
                return vps_err(err, EPERM, "%s must be a directory of root's", ret);
        if ((st.st_mode & 07777) != 0700 && chmod(ret, 0700) < 0)
                return vps_err_sys(err, errno, "chmod %s", ret);
        return 0;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
        for (size_t i = 0; i < n; i++)
                (void)sprintf(out + 2 * i, "%02x", b[i]);
        out[2 * n] = '\0';
}

static int der_fingerprint(const gnutls_datum_t *der, char ret_fp[VPSD_FP_LEN])
{
        unsigned char h[32];
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, h) < 0)
                return -EIO;
        hex(h, sizeof(h), ret_fp);
        return 0;
}

static void datum_free(gnutls_datum_t *d)
{
        gnutls_free(d->data);
        d->data = NULL;
}

static void crt_deinit(gnutls_x509_crt_t *c)
{
        if (*c)
                gnutls_x509_crt_deinit(*c);
}

static void key_deinit(gnutls_x509_privkey_t *k)
{
        if (*k)
                gnutls_x509_privkey_deinit(*k);
}

/* The names a client may reach vpsd by without pinning: localhost, its host name, loopback. */
static int add_names(gnutls_x509_crt_t crt)
{
        char host[256] = "localhost";
        unsigned char v4[4], v6[16];
        int r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                                     GNUTLS_FSAN_APPEND);
        if (r == 0 && gethostname(host, sizeof(host) - 1) == 0 && strcmp(host, "localhost") != 0)
                r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host,
                                                         (unsigned int)strlen(host),
                                                         GNUTLS_FSAN_APPEND);
        (void)inet_pton(AF_INET, "127.0.0.1", v4);
        (void)inet_pton(AF_INET6, "::1", v6);
        if (r == 0)
                r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v4, 4,
                                                         GNUTLS_FSAN_APPEND);
        if (r == 0)
                r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v6, 16,
                                                         GNUTLS_FSAN_APPEND);
        return r;
}

static int make_identity(int dir, vps_error *err)
{
        _cleanup_(key_deinit) gnutls_x509_privkey_t key = NULL;
        _cleanup_(crt_deinit) gnutls_x509_crt_t crt = NULL;
        unsigned char serial[16];
        time_t now = time(NULL);
        int r = gnutls_x509_privkey_init(&key);
        if (r == 0)
                r = gnutls_x509_privkey_generate(
                        key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
        if (r == 0)
                r = gnutls_x509_crt_init(&crt);
        if (r == 0)
                r = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
        serial[0] &= 0x7f; /* a positive serial */
        if (r == 0)
                r = gnutls_x509_crt_set_version(crt, 3);
        if (r == 0)
                r = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
        if (r == 0)
                r = gnutls_x509_crt_set_activation_time(crt, now - 3600);
        if (r == 0)
                r = gnutls_x509_crt_set_expiration_time(crt, now + 10L * 365 * 86400);
        if (r == 0)
                r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "vpsd", 4);
        if (r == 0)
                r = gnutls_x509_crt_set_key(crt, key);
        /* Its own authority: clients give it as their CA (curl --cacert) or pin it. */
        if (r == 0)
                r = gnutls_x509_crt_set_basic_constraints(crt, 1, 0);
        if (r == 0)
                r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                                               GNUTLS_KEY_KEY_CERT_SIGN);
        if (r == 0)
                r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
        if (r == 0)
                r = add_names(crt);
        if (r == 0)
                r = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
        _cleanup_(datum_free) gnutls_datum_t kp = {0};
        _cleanup_(datum_free) gnutls_datum_t cp = {0};
        if (r == 0)
                r = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kp);
        if (r == 0)
                r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cp);
        if (r < 0)
                return vps_err(err, EIO, "making the TLS certificate: %s", gnutls_strerror(r));
        /* The key first: a certificate is never left without its key. */
        int w = vps_write_file_atomic(dir, "server.key", kp.data, kp.size, 0600, err);
        return w < 0 ? w : vps_write_file_atomic(dir, "server.crt", cp.data, cp.size, 0600, err);
}

int vpsd_tls_load(const char *root, char ret_fp[VPSD_FP_LEN], vps_error *err)
{
        char path[512];
        int r = vpsd_remote_dir(root, path, sizeof(path), err);
        if (r < 0)
                return r;
        _cleanup_close_ int dir = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (dir < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        if ((faccessat(dir, "server.key", F_OK, AT_SYMLINK_NOFOLLOW) < 0 ||
             faccessat(dir, "server.crt", F_OK, AT_SYMLINK_NOFOLLOW) < 0) &&
            (r = make_identity(dir, err)) < 0)
                return r;
        _cleanup_free_ char *kt = NULL, *ct = NULL;
        size_t kl = 0, cl = 0;
        if ((r = vps_read_file_at(dir, "server.key", &kt, &kl, err)) < 0 ||
            (r = vps_read_file_at(dir, "server.crt", &ct, &cl, err)) < 0)
                return r;
        gnutls_datum_t kd = {(unsigned char *)kt, (unsigned int)kl};
        gnutls_datum_t cd = {(unsigned char *)ct, (unsigned int)cl};
        gnutls_pcert_st pc;
        gnutls_privkey_t pk = NULL;
        r = gnutls_pcert_import_x509_raw(&pc, &cd, GNUTLS_X509_FMT_PEM, 0);
        if (r < 0)
                return vps_err(err, EINVAL, "%s/server.crt: %s", path, gnutls_strerror(r));
        if ((r = gnutls_privkey_init(&pk)) < 0 ||
            (r = gnutls_privkey_import_x509_raw(pk, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
                gnutls_pcert_deinit(&pc);
                if (pk)
                        gnutls_privkey_deinit(pk);
                return vps_err(err, EINVAL, "%s/server.key: %s", path, gnutls_strerror(r));
        }
        if (der_fingerprint(&pc.cert, ret_fp) < 0) {
                gnutls_pcert_deinit(&pc);
                gnutls_privkey_deinit(pk);
                return vps_err(err, EIO, "hashing the TLS certificate failed");
        }
        /* The identity lives as long as the process: handshakes under way may use it. */
        if (loaded) {
                gnutls_pcert_deinit(&server_pcert);
                gnutls_privkey_deinit(server_key);
        }
        server_pcert = pc;
        server_key = pk;
        loaded = true;
        /* No tickets (only full handshakes) if this fails. */
        if (!ticket_key.data && gnutls_session_ticket_key_generate(&ticket_key) < 0)
                ticket_key = (gnutls_datum_t){0};
        return 0;
}

/* libmicrohttpd 0.9.75 makes each session with no ticket key nor session cache, so a client
 * could never resume: the key is given to each new session here, after libmicrohttpd's
 * gnutls_init and before its handshake (the notification comes in between). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
        (void)cls;
        (void)socket_context;
        if (toe != MHD_CONNECTION_NOTIFY_STARTED || !ticket_key.data)
                return;
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ci && ci->tls_session)
                (void)gnutls_session_ticket_enable_server(ci->tls_session, &ticket_key);
}

void *vpsd_tls_connection_callback(void)
{
        return (void *)on_connection;
}

static int retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *key)
{
        (void)req_ca_rdn;
        (void)nreqs;
        (void)pk_algos;
        (void)pk_algos_length;
        if (!loaded)
                return -1;
        /* Any certificate is asked for, no authority named: the client proves it holds the
         * key, and its fingerprint is then looked up among the trusted (auth.c). */
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
        gnutls_certificate_send_x509_rdn_sequence(s, 1);
        *pcert = &server_pcert;
        *pcert_length = 1;
        *key = server_key;
        return 0;
}

void *vpsd_tls_cert_callback(void)
{
        return (void *)retrieve;
}

int vpsd_tls_pem_fingerprint(const char *pem, size_t len, char ret_fp[VPSD_FP_LEN], vps_error *err)
{
        _cleanup_(crt_deinit) gnutls_x509_crt_t crt = NULL;
        _cleanup_(datum_free) gnutls_datum_t der = {0};
        gnutls_datum_t in = {(unsigned char *)pem, (unsigned int)len};
        int r = gnutls_x509_crt_init(&crt);
        if (r == 0)
                r = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM);
        if (r == 0)
                r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der);
        if (r < 0)
                return vps_err(err, EINVAL, "not a PEM certificate: %s", gnutls_strerror(r));
        if (der_fingerprint(&der, ret_fp) < 0)
                return vps_err(err, EIO, "hashing the certificate failed");
        return 0;
}

int vpsd_tls_peer_fingerprint(struct MHD_Connection *c, char ret_fp[VPSD_FP_LEN])
{
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
                return 0;
        unsigned int n = 0;
        const gnutls_datum_t *peers = gnutls_certificate_get_peers(ci->tls_session, &n);
        if (!peers || n == 0)
                return 0;
        return der_fingerprint(&peers[0], ret_fp) < 0 ? 0 : 1;
}

int vpsd_tls_pubkey_hash(unsigned char ret[32])
{
        _cleanup_(datum_free) gnutls_datum_t der = {0};
        if (!loaded || gnutls_pubkey_export2(server_pcert.pubkey, GNUTLS_X509_FMT_DER, &der) < 0 ||
            gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, ret) < 0)
                return -EIO;
        return 0;
}
