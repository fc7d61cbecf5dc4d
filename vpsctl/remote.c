/* vpsctl: remotes.json, the remotes a user added: read (checked: the user's own file, 0600,
 * every entry well-formed) and written back atomically. */
#include "remote.h"

#include <ctype.h>
#include "curl_dl.h"
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vps/cleanup.h"
#include "vps/util.h"

#define FILE_NAME "remotes.json"

int remote_name_check(const char *name, vps_error *err)
{
        size_t n = strlen(name);
        if (n == 0 || n > REMOTE_NAME_MAX || !isalnum((unsigned char)name[0]) ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
                return vps_err(err, EINVAL,
                               "invalid remote name '%s': 1 to %d letters, digits, '.', '_' or "
                               "'-', starting with a letter or digit",
                               name, REMOTE_NAME_MAX);
        if (strcmp(name, REMOTE_LOCAL) == 0)
                return vps_err(err, EINVAL, "'%s' is the local socket's name, not a remote's",
                               REMOTE_LOCAL);
        return 0;
}

static void urlp(CURLU **u)
{
        if (*u)
                curl_url_cleanup(*u);
}

static void curl_freep(char **s)
{
        if (*s)
                curl_free(*s);
}

int remote_url_normalize(const char *url, char **ret, vps_error *err)
{
        __attribute__((cleanup(urlp))) CURLU *u = curl_url();
        __attribute__((cleanup(curl_freep))) char *scheme = NULL, *host = NULL, *port = NULL,
                                                  *path = NULL, *user = NULL, *query = NULL,
                                                  *frag = NULL;

        *ret = NULL;
        if (!u)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        if (strncmp(url, "https://", 8) != 0)
                return vps_err(err, EINVAL, "invalid remote URL '%s': it must be https://HOST:PORT",
                               url);
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
                return vps_err(err, EINVAL, "invalid remote URL '%s': it must be https://HOST:PORT",
                               url);
        (void)curl_url_get(u, CURLUPART_PATH, &path, 0);
        (void)curl_url_get(u, CURLUPART_USER, &user, 0);
        (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
        (void)curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
        if ((path && strcmp(path, "/") != 0) || user || query || frag)
                return vps_err(err, EINVAL,
                               "invalid remote URL '%s': only https://HOST:PORT, without a path, "
                               "user or query",
                               url);
        if (asprintf(ret, "https://%s:%s", host, port) < 0) {
                *ret = NULL;
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        }
        return 0;
}

int remote_fingerprint_normalize(const char *fp, char ret[CLIENT_FP_LEN], vps_error *err)
{
        size_t n = 0;
        for (const char *p = fp; *p; p++) {
                if (*p == ':')
                        continue;
                if (!isxdigit((unsigned char)*p) || n == CLIENT_FP_LEN - 1)
                        return vps_err(err, EINVAL,
                                       "invalid fingerprint '%s': 64 hex digits (SHA-256) "
                                       "expected, as 'vpsd --fingerprint' prints them",
                                       fp);
                ret[n++] = (char)tolower((unsigned char)*p);
        }
        ret[n] = '\0';
        if (n != CLIENT_FP_LEN - 1)
                return vps_err(err, EINVAL,
                               "invalid fingerprint '%s': 64 hex digits (SHA-256) expected, as "
                               "'vpsd --fingerprint' prints them",
                               fp);
        return 0;
}

/* --- the file ---------------------------------------------------------------------------- */

static int config_dir(char *buf, size_t size, vps_error *err)
{
        const char *xdg = getenv("XDG_CONFIG_HOME");
        const char *home = getenv("HOME");
        int n;

        if (xdg && xdg[0] == '/') {
                n = snprintf(buf, size, "%s/vpsctl", xdg);
        } else {
                if (!home || home[0] != '/') {
                        struct passwd *pw = getpwuid(geteuid());
                        home = pw ? pw->pw_dir : NULL;
                }
                if (!home || home[0] != '/')
                        return vps_err(err, ENOENT,
                                       "no config directory: neither XDG_CONFIG_HOME nor HOME is "
                                       "set to an absolute path");
                n = snprintf(buf, size, "%s/.config/vpsctl", home);
        }
        if (n < 0 || (size_t)n >= size)
                return vps_err(err, ENAMETOOLONG, "the config directory's path is too long");
        return 0;
}

int remotes_path(char *buf, size_t size, vps_error *err)
{
        char dir[4096];
        int r = config_dir(dir, sizeof(dir), err);
        if (r < 0)
                return r;
        int n = snprintf(buf, size, "%s/" FILE_NAME, dir);
        if (n < 0 || (size_t)n >= size)
                return vps_err(err, ENAMETOOLONG, "the config directory's path is too long");
        return 0;
}

static int check_string(json_t *e, const char *key, bool required, const char *path,
                        const char *name, vps_error *err)
{
        json_t *v = json_object_get(e, key);
        if ((!v && !required) || json_is_string(v))
                return 0;
        return vps_err(err, EINVAL, "%s: remote '%s' has %s \"%s\"", path, name,
                       v ? "a malformed" : "no", key);
}

/* Every entry: a valid name, an object with string fields, a URL and a fingerprint. */
static int check_entries(json_t *all, const char *path, vps_error *err)
{
        json_t *remotes = json_object_get(all, "remotes");
        const char *name;
        json_t *e;
        vps_error e2;

        if (!json_is_object(remotes))
                return vps_err(err, EINVAL, "%s: no \"remotes\" object", path);
        json_object_foreach(remotes, name, e)
        {
                if (remote_name_check(name, &e2) < 0)
                        return vps_err(err, EINVAL, "%s: %s", path, e2.msg);
                if (!json_is_object(e))
                        return vps_err(err, EINVAL, "%s: remote '%s' is not an object", path, name);
                static const char *const optional[] = {"token", "cert", "key"};
                int r = check_string(e, "url", true, path, name, err);
                for (size_t i = 0; r == 0 && i < 3; i++)
                        r = check_string(e, optional[i], false, path, name, err);
                if (r == 0)
                        r = check_string(e, "fingerprint", true, path, name, err);
                if (r == 0)
                        r = check_string(e, "pubkey", true, path, name, err);
                if (r < 0)
                        return r;
                char fp[CLIENT_FP_LEN];
                const char *url = json_string_value(json_object_get(e, "url"));
                const char *pin = json_string_value(json_object_get(e, "pubkey"));
                if (strncmp(url, "https://", 8) != 0 ||
                    remote_fingerprint_normalize(
                            json_string_value(json_object_get(e, "fingerprint")), fp, &e2) < 0 ||
                    strncmp(pin, "sha256//", 8) != 0 || strlen(pin) != CLIENT_PIN_LEN - 1)
                        return vps_err(err, EINVAL,
                                       "%s: remote '%s' has a malformed URL, fingerprint or "
                                       "public key",
                                       path, name);
        }
        return 0;
}

int remotes_load(json_t **ret, vps_error *err)
{
        char path[4200];
        struct stat st;
        json_error_t jerr;

        *ret = NULL;
        int r = remotes_path(path, sizeof(path), err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT) {
                *ret = json_pack("{s:{}}", "remotes");
                return *ret ? 0 : vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        }
        if (fd < 0 || fstat(fd, &st) < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        /* it holds tokens and the pins that vouch for the servers */
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
                return vps_err(err, EPERM, "%s is not a file of this user's: refused", path);
        if (st.st_mode & 077)
                return vps_err(err, EPERM,
                               "%s may be read or changed by others (mode %04o): refused; "
                               "'chmod 600' it",
                               path, (unsigned)(st.st_mode & 07777));
        _cleanup_json_ json_t *all = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
        if (!all)
                return vps_err(err, EINVAL, "%s: line %d: %s", path, jerr.line, jerr.text);
        if ((r = check_entries(all, path, err)) < 0)
                return r;
        *ret = TAKE_PTR(all);
        return 0;
}

int remotes_save(json_t *all, vps_error *err)
{
        char dir[4096];
        int r = config_dir(dir, sizeof(dir), err);
        if (r < 0 || (r = vps_mkdir_p(dir, 0700, err)) < 0)
                return r;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return vps_err_sys(err, errno, "opening %s", dir);
        _cleanup_free_ char *text = json_dumps(all, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        _cleanup_free_ char *line = NULL;
        int len = asprintf(&line, "%s\n", text);
        if (len < 0) {
                line = NULL;
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        }
        r = vps_write_file_atomic(dfd, FILE_NAME, line, (size_t)len, 0600, err);
        return r < 0 ? vps_err_wrap(err, "writing %s/" FILE_NAME, dir) : 0;
}

int remote_target(json_t *all, const char *name, struct client_target *ret, vps_error *err)
{
        json_t *e = json_object_get(json_object_get(all, "remotes"), name);
        char path[4200] = FILE_NAME;

        if (!e) {
                (void)remotes_path(path, sizeof(path), err);
                return vps_err(err, ENOENT, "no remote '%s' (%s; 'vpsctl remote list')", name,
                               path);
        }
        *ret = (struct client_target){
                .name = name,
                .url = json_string_value(json_object_get(e, "url")),
                .token = json_string_value(json_object_get(e, "token")),
                .cert = json_string_value(json_object_get(e, "cert")),
                .key = json_string_value(json_object_get(e, "key")),
                .fingerprint = json_string_value(json_object_get(e, "fingerprint")),
                .pubkey = json_string_value(json_object_get(e, "pubkey")),
        };
        return 0;
}
