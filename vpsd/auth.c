/* vpsd: remote clients' credentials. A token is "vpst-" ID "-" SECRET (16 and 64 hex digits
 * from the kernel's random source); only the SHA-256 of the whole is stored, so the file
 * gives no token away, and the comparison takes the same time however much matches. */
#include "auth.h"

#include "tls.h"
#include "vps/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static const char *const verb_names[VPSD_VERB_COUNT] = {
        [VPSD_VERB_UNDECLARED] = "undeclared", [VPSD_VERB_ANY] = "any",
        [VPSD_VERB_START] = "start",           [VPSD_VERB_STOP] = "stop",
        [VPSD_VERB_RESTART] = "restart",       [VPSD_VERB_STATUS] = "status",
        [VPSD_VERB_CONSOLE] = "console",       [VPSD_VERB_EXEC] = "exec",
        [VPSD_VERB_PASSWORD] = "password",     [VPSD_VERB_REINSTALL] = "reinstall",
        [VPSD_VERB_SNAPSHOT] = "snapshot",     [VPSD_VERB_BACKUP] = "backup",
        [VPSD_VERB_METRICS] = "metrics",       [VPSD_VERB_ADMIN] = "admin",
};

const char *vpsd_verb_name(enum vpsd_verb v)
{
        return (unsigned int)v < VPSD_VERB_COUNT ? verb_names[v] : "?";
}

enum vpsd_verb vpsd_verb_parse(const char *name)
{
        for (unsigned int v = VPSD_VERB_START; v < VPSD_VERB_ADMIN; v++)
                if (!strcmp(verb_names[v], name))
                        return (enum vpsd_verb)v;
        return VPSD_VERB_UNDECLARED;
}

static json_t *load_list(int dir, const char *file, const char *key, vps_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (faccessat(dir, file, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return json_array();
        if (vps_read_file_at(dir, file, &text, &len, err) < 0)
                return NULL;
        _cleanup_json_ json_t *o = json_loadb(text, len, 0, NULL);
        json_t *l = json_object_get(o, key);
        if (!json_is_array(l)) {
                vps_err(err, EBADMSG, "%s: no list \"%s\"", file, key);
                return NULL;
        }
        return json_incref(l);
}

static int save_list(struct vpsd_auth *a, const char *file, const char *key, json_t *list,
                     vps_error *err)
{
        _cleanup_close_ int dir = open(a->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (dir < 0)
                return vps_err_sys(err, errno, "opening %s", a->dir);
        _cleanup_json_ json_t *o = json_pack("{s:O}", key, list);
        _cleanup_free_ char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (!text)
                return vps_err(err, ENOMEM, "out of memory");
        return vps_write_file_atomic(dir, file, text, strlen(text), 0600, err);
}

int vpsd_auth_open(struct vpsd_auth *a, const char *root, vps_error *err)
{
        int r = vpsd_remote_dir(root, a->dir, sizeof(a->dir), err);
        if (r < 0)
                return r;
        _cleanup_close_ int dir = open(a->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (dir < 0)
                return vps_err_sys(err, errno, "opening %s", a->dir);
        a->trust = load_list(dir, "trust.json", "trust", err);
        a->tokens = a->trust ? load_list(dir, "tokens.json", "tokens", err) : NULL;
        if (!a->tokens) {
                vpsd_auth_close(a);
                return vps_err_wrap(err, "%s", a->dir);
        }
        return 0;
}

void vpsd_auth_close(struct vpsd_auth *a)
{
        json_decref(a->trust);
        json_decref(a->tokens);
        a->trust = a->tokens = NULL;
}

static bool all_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
                        return false;
        return true;
}

int vpsd_auth_parse_bearer(const char *h, char ret_id[VPSD_TOKEN_ID_LEN + 1],
                           char ret_token[VPSD_TOKEN_LEN + 1])
{
        if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
                return -EINVAL;
        h += 6;
        while (*h == ' ' || *h == '\t')
                h++;
        size_t n = strlen(h);
        while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
                n--;
        if (n != VPSD_TOKEN_LEN || strncmp(h, "vpst-", 5) != 0 || h[5 + VPSD_TOKEN_ID_LEN] != '-' ||
            !all_hex(h + 5, VPSD_TOKEN_ID_LEN) || !all_hex(h + 6 + VPSD_TOKEN_ID_LEN, 64))
                return -EINVAL;
        memcpy(ret_id, h + 5, VPSD_TOKEN_ID_LEN);
        ret_id[VPSD_TOKEN_ID_LEN] = '\0';
        memcpy(ret_token, h, VPSD_TOKEN_LEN);
        ret_token[VPSD_TOKEN_LEN] = '\0';
        return 0;
}

static void sha256_hex(const char *s, char out[VPSD_FP_LEN])
{
        unsigned char h[32];
        memset(h, 0, sizeof(h));
        (void)gnutls_hash_fast(GNUTLS_DIG_SHA256, s, strlen(s), h);
        for (size_t i = 0; i < sizeof(h); i++)
                (void)sprintf(out + 2 * i, "%02x", h[i]);
}

/* Equal strings of VPSD_FP_LEN - 1 characters, in a time that does not depend on where they
 * differ. */
static bool same_hash(const char *a, const char *b)
{
        unsigned char diff = 0;
        for (size_t i = 0; i < VPSD_FP_LEN - 1; i++)
                diff |= (unsigned char)(a[i] ^ b[i]);
        return diff == 0;
}

static void client_of_token(json_t *t, struct vpsd_client *c)
{
        memset(c, 0, sizeof(*c));
        c->kind = VPSD_CLIENT_TOKEN;
        (void)snprintf(c->name, sizeof(c->name), "%s",
                       json_string_value(json_object_get(t, "name")) ?: "?");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(t, "allow"), i, v)
        {
                enum vpsd_verb verb = vpsd_verb_parse(json_string_value(v) ?: "");
                if (verb != VPSD_VERB_UNDECLARED)
                        c->allow |= VPSD_VERB_BIT(verb);
        }
        json_t *vps = json_object_get(t, "vps");
        c->all_vps = !json_is_array(vps);
        json_array_foreach(vps, i, v)
        {
                if (c->n_vps < VPSD_TOKEN_VPS_MAX && json_is_string(v))
                        (void)snprintf(c->vps[c->n_vps++], sizeof(c->vps[0]), "%s",
                                       json_string_value(v));
        }
}

int vpsd_auth_token(struct vpsd_auth *a, const char *header, int64_t now, struct vpsd_client *ret,
                    vps_error *err)
{
        char id[VPSD_TOKEN_ID_LEN + 1], token[VPSD_TOKEN_LEN + 1], hash[VPSD_FP_LEN];
        if (vpsd_auth_parse_bearer(header, id, token) < 0)
                return vps_err(err, EACCES,
                               "authentication needed: a client certificate or "
                               "'Authorization: Bearer TOKEN'");
        sha256_hex(token, hash);
        json_t *hit = NULL, *t;
        size_t i;
        json_array_foreach(a->tokens, i, t)
        {
                const char *tid = json_string_value(json_object_get(t, "id"));
                if (tid && !strcmp(tid, id))
                        hit = t;
        }
        /* No such ID is compared too, with a hash no token has. */
        const char *want = json_string_value(json_object_get(hit, "hash"));
        static const char none[VPSD_FP_LEN] =
                "----------------------------------------------------------------";
        bool ok = same_hash(hash, want && strlen(want) == VPSD_FP_LEN - 1 ? want : none);
        if (!hit || !ok)
                return vps_err(err, EACCES, "invalid token");
        json_int_t exp = json_integer_value(json_object_get(hit, "expires"));
        if (exp && now >= exp)
                return vps_err(err, EACCES, "token expired");
        client_of_token(hit, ret);
        return 0;
}

bool vpsd_auth_trusted(struct vpsd_auth *a, const char *fp, struct vpsd_client *ret)
{
        json_t *t;
        size_t i;
        json_array_foreach(a->trust, i, t)
        {
                const char *f = json_string_value(json_object_get(t, "fingerprint"));
                if (f && strlen(f) == VPSD_FP_LEN - 1 && same_hash(f, fp)) {
                        memset(ret, 0, sizeof(*ret));
                        ret->kind = VPSD_CLIENT_CERT;
                        ret->all_vps = true;
                        ret->allow = ~0u;
                        (void)snprintf(ret->name, sizeof(ret->name), "%s", fp);
                        return true;
                }
        }
        return false;
}

bool vpsd_client_sees(const struct vpsd_client *c, const char *id)
{
        if (c->kind != VPSD_CLIENT_TOKEN || c->all_vps)
                return true;
        for (unsigned int i = 0; i < c->n_vps; i++)
                if (!strcmp(c->vps[i], id))
                        return true;
        return false;
}

int vpsd_trust_add(struct vpsd_auth *a, const char *pem, const char *name, json_t **ret,
                   vps_error *err)
{
        char fp[VPSD_FP_LEN];
        int r = vpsd_tls_pem_fingerprint(pem, strlen(pem), fp, err);
        if (r < 0)
                return r;
        struct vpsd_client c;
        if (vpsd_auth_trusted(a, fp, &c))
                return vps_err(err, EEXIST, "certificate %s is trusted already", fp);
        if (name && (strlen(name) > VPSD_TOKEN_NAME_MAX || vps_hostname_check(name, err) < 0))
                return vps_err(err, EINVAL,
                               "a certificate's name: letters, digits, '-' and "
                               "'.', up to 64 characters");
        _cleanup_json_ json_t *list = json_copy(a->trust);
        json_t *e = json_pack("{s:s, s:s, s:I}", "fingerprint", fp, "name", name ? name : "",
                              "added", (json_int_t)time(NULL));
        if (!list || !e || json_array_append_new(list, e) < 0)
                return vps_err(err, ENOMEM, "out of memory");
        if ((r = save_list(a, "trust.json", "trust", list, err)) < 0)
                return r;
        json_decref(a->trust);
        a->trust = TAKE_PTR(list);
        *ret = json_incref(e);
        return 0;
}

/* Index of the entry whose key is value, or -1. */
static ssize_t find(json_t *list, const char *key, const char *value)
{
        json_t *t;
        size_t i;
        json_array_foreach(list, i, t)
        {
                const char *v = json_string_value(json_object_get(t, key));
                if (v && !strcmp(v, value))
                        return (ssize_t)i;
        }
        return -1;
}

static int remove_entry(struct vpsd_auth *a, json_t **listp, const char *file, const char *key,
                        ssize_t i, vps_error *err)
{
        _cleanup_json_ json_t *list = json_copy(*listp);
        if (!list || json_array_remove(list, (size_t)i) < 0)
                return vps_err(err, ENOMEM, "out of memory");
        int r = save_list(a, file, key, list, err);
        if (r < 0)
                return r;
        json_decref(*listp);
        *listp = TAKE_PTR(list);
        return 0;
}

int vpsd_trust_remove(struct vpsd_auth *a, const char *fp, vps_error *err)
{
        ssize_t i = find(a->trust, "fingerprint", fp);
        if (i < 0)
                i = find(a->trust, "name", fp);
        if (i < 0 || !*fp)
                return vps_err(err, ENOENT, "no trusted certificate %s", fp);
        return remove_entry(a, &a->trust, "trust.json", "trust", i, err);
}

int vpsd_token_revoke(struct vpsd_auth *a, const char *name, vps_error *err)
{
        ssize_t i = find(a->tokens, "name", name);
        if (i < 0)
                i = find(a->tokens, "id", name);
        if (i < 0 || !*name)
                return vps_err(err, ENOENT, "no token %s", name);
        return remove_entry(a, &a->tokens, "tokens.json", "tokens", i, err);
}

int vpsd_token_forget_vps(struct vpsd_auth *a, const char *id, vps_error *err)
{
        if (!a->tokens) /* no remote API */
                return 0;
        _cleanup_json_ json_t *list = json_deep_copy(a->tokens);
        if (!list)
                return vps_err(err, ENOMEM, "out of memory");
        bool changed = false;
        json_t *t;
        size_t i;
        json_array_foreach(list, i, t)
        {
                /* An empty list is no VPS (a token made without --vps has no list). */
                json_t *vps = json_object_get(t, "vps");
                for (size_t k = json_array_size(vps); k-- > 0;)
                        if (!strcmp(json_string_value(json_array_get(vps, k)) ?: "", id)) {
                                (void)json_array_remove(vps, k);
                                changed = true;
                        }
        }
        if (!changed)
                return 0;
        int r = save_list(a, "tokens.json", "tokens", list, err);
        if (r < 0)
                return r;
        json_decref(a->tokens);
        a->tokens = TAKE_PTR(list);
        return 0;
}

json_t *vpsd_token_list(struct vpsd_auth *a)
{
        json_t *out = json_array(), *t;
        size_t i;
        json_array_foreach(a->tokens, i, t)
        {
                json_t *c = json_copy(t);
                json_object_del(c, "hash");
                json_array_append_new(out, c);
        }
        return out;
}

int vpsd_duration_parse(const char *s, int64_t *ret, vps_error *err)
{
        char *end = NULL;
        if (!strcmp(s, "never")) {
                *ret = 0;
                return 0;
        }
        errno = 0;
        long long v = strtoll(s, &end, 10);
        static const struct {
                char unit;
                long long mul;
        } units[] = {{'\0', 1}, {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
        if (!isdigit((unsigned char)*s) || errno || v < 0 || v > 100LL * 365 * 86400)
                return vps_err(err, EINVAL, "a duration: N[s|m|h|d|w] or never, not '%.40s'", s);
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (end[0] == units[i].unit && (!end[0] || !end[1])) {
                        *ret = v * units[i].mul;
                        return 0;
                }
        return vps_err(err, EINVAL, "a duration: N[s|m|h|d|w] or never, not '%.40s'", s);
}

static int random_hex(char *out, size_t nbytes, vps_error *err)
{
        unsigned char b[32];
        if (nbytes > sizeof(b) || getrandom(b, nbytes, 0) != (ssize_t)nbytes)
                return vps_err_sys(err, errno ? errno : EIO, "getrandom");
        for (size_t i = 0; i < nbytes; i++)
                (void)sprintf(out + 2 * i, "%02x", b[i]);
        return 0;
}

/* --vps 101,102 and --allow start,stop: checked lists of strings. */
static int check_list(json_t *l, bool verbs, vps_error *err)
{
        size_t i;
        json_t *v;
        if (!json_is_array(l) || json_array_size(l) > VPSD_TOKEN_VPS_MAX)
                return vps_err(err, EINVAL, "'%s' must be a list of at most %d strings",
                               verbs ? "allow" : "vps", VPSD_TOKEN_VPS_MAX);
        json_array_foreach(l, i, v)
        {
                const char *s = json_string_value(v);
                if (!s)
                        return vps_err(err, EINVAL, "'%s' must be a list of strings",
                                       verbs ? "allow" : "vps");
                if (verbs && vpsd_verb_parse(s) == VPSD_VERB_UNDECLARED)
                        return vps_err(err, EINVAL,
                                       "unknown verb '%.40s' (start, stop, restart, status, "
                                       "console, exec, password, reinstall, snapshot, backup, "
                                       "metrics)",
                                       s);
                if (!verbs && vps_id_check(s, err) < 0)
                        return -err->code;
        }
        return 0;
}

int vpsd_token_create(struct vpsd_auth *a, json_t *body, int64_t now, json_t **ret, vps_error *err)
{
        char id[VPSD_TOKEN_ID_LEN + 1], secret[65], token[VPSD_TOKEN_LEN + 1], hash[VPSD_FP_LEN];
        int r = random_hex(id, VPSD_TOKEN_ID_LEN / 2, err);
        if (r < 0 || (r = random_hex(secret, 32, err)) < 0)
                return r;
        (void)snprintf(token, sizeof(token), "vpst-%s-%s", id, secret);
        sha256_hex(token, hash);
        json_t *jn = json_object_get(body, "name"), *vps = json_object_get(body, "vps");
        json_t *allow = json_object_get(body, "allow"), *exp = json_object_get(body, "expires");
        const char *name = jn ? json_string_value(jn) : id;
        if (!name || !*name || strlen(name) > VPSD_TOKEN_NAME_MAX ||
            vps_hostname_check(name, err) < 0)
                return vps_err(err, EINVAL,
                               "a token's name: letters, digits, '-' and '.', up "
                               "to 64 characters");
        if (find(a->tokens, "name", name) >= 0 || find(a->tokens, "id", name) >= 0)
                return vps_err(err, EEXIST, "a token named %s exists", name);
        if ((vps && (r = check_list(vps, false, err)) < 0) ||
            (allow && (r = check_list(allow, true, err)) < 0))
                return r;
        int64_t secs = 0;
        if (exp && json_is_integer(exp) && json_integer_value(exp) >= 0)
                secs = json_integer_value(exp);
        else if (exp && (!json_is_string(exp) ||
                         (r = vpsd_duration_parse(json_string_value(exp), &secs, err)) < 0))
                return json_is_string(exp) ? r
                                           : vps_err(err, EINVAL, "'expires' must be a duration");
        json_t *all = json_array();
        for (unsigned int v = VPSD_VERB_START; v < VPSD_VERB_ADMIN; v++)
                json_array_append_new(all, json_string(vpsd_verb_name((enum vpsd_verb)v)));
        json_t *e = json_pack("{s:s, s:s, s:s, s:O, s:o, s:I, s:I}", "id", id, "name", name, "hash",
                              hash, "vps", vps ? vps : json_null(), "allow",
                              allow ? json_copy(allow) : all, "created", (json_int_t)now, "expires",
                              (json_int_t)(secs ? now + secs : 0));
        if (allow)
                json_decref(all);
        _cleanup_json_ json_t *list = json_copy(a->tokens);
        if (!e || !list || json_array_append(list, e) < 0) {
                json_decref(e);
                return vps_err(err, ENOMEM, "out of memory");
        }
        if ((r = save_list(a, "tokens.json", "tokens", list, err)) < 0) {
                json_decref(e);
                return r;
        }
        json_decref(a->tokens);
        a->tokens = TAKE_PTR(list);
        /* The answer is a copy: the list keeps the hash. */
        *ret = json_copy(e);
        json_decref(e);
        if (!*ret)
                return vps_err(err, ENOMEM, "out of memory");
        json_object_del(*ret, "hash");
        json_object_set_new(*ret, "token", json_string(token));
        return 0;
}
