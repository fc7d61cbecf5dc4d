/* vpsctl migrate --to-node: the fleet node transport (migrate_node.h). */
#include "migrate_node.h"

#include "vpsctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/backup.h"
#include "vps/cleanup.h"

static const char *str(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key)) ?: "";
}

static int copy(char *dst, size_t size, json_t *o, const char *key, vps_error *err)
{
        const char *s = str(o, key);
        if (!s[0] || strlen(s) >= size)
                return vps_err(err, EPROTO, "vpsd's answer has no usable '%s'", key);
        memcpy(dst, s, strlen(s) + 1);
        return 0;
}

int node_dest_check(struct vpsctl *v, const char *id, const char *to, bool full, json_t *vps,
                    struct node_dest *nd, vps_error *err)
{
        _cleanup_json_ json_t *body = json_pack("{s:b, s:s, s:b, s:s}", "check", 1, "to", to,
                                                "full", full, "ostemplate", str(vps, "ostemplate"));
        _cleanup_json_ json_t *ans = NULL;
        if (!body)
                return vps_err(err, ENOMEM, "out of memory");
        int r = vpsctl_request(v, "POST", body, TIMEOUT_SHORT, &ans, err, "/v1/vps/%s/move", id);
        if (r < 0)
                return r;
        if (copy(nd->name, sizeof(nd->name), ans, "node", err) < 0 ||
            copy(nd->self, sizeof(nd->self), ans, "from", err) < 0 ||
            copy(nd->url, sizeof(nd->url), ans, "advertise", err) < 0 ||
            copy(nd->pin, sizeof(nd->pin), ans, "pubkey", err) < 0 ||
            copy(nd->fp, sizeof(nd->fp), ans, "fingerprint", err) < 0 ||
            copy(nd->cert, sizeof(nd->cert), ans, "cert", err) < 0 ||
            copy(nd->key, sizeof(nd->key), ans, "key", err) < 0)
                return -err->code;
        nd->t = (struct client_target){.name = nd->name,
                                       .url = nd->url,
                                       .cert = nd->cert,
                                       .key = nd->key,
                                       .fingerprint = nd->fp,
                                       .pubkey = nd->pin};
        return 0;
}

int node_preflight(struct node_dest *nd, const char *id, vps_error *err)
{
        char path[128];
        (void)snprintf(path, sizeof(path), "/v1/vps/%s", id);
        _cleanup_json_ json_t *ans = NULL;
        int r = client_request(&nd->t, "GET", path, NULL, TIMEOUT_SHORT, &ans, err);
        if (r == -ENOENT)
                return 0;
        if (r == 0)
                return vps_err(err, EEXIST, "node %s already has a VPS %s: nothing done", nd->name,
                               id);
        return vps_err_wrap(err, "node %s", nd->name);
}

/* The restore's frames: progress ignored; its result (1), or its error. */
static int restore_frame(int fd, char *buf, const char *node, vps_error *err)
{
        char type;
        size_t n;
        int r = vps_frame_read(fd, &type, buf, &n, err);
        if (r == -ECONNRESET)
                return vps_err(err, ECONNRESET, "node %s ended the restore without a result", node);
        if (r < 0)
                return r;
        if (type == 'P')
                return 0;
        if (type == 'K')
                return 1;
        if (type == 'E') {
                (void)client_error_from_body(buf, n, 500, err);
                return vps_err_wrap(err, "the restore on node %s", node);
        }
        return vps_err(err, EPROTO, "an unexpected frame from node %s", node);
}

/* The backup's frames (from) relayed to the restore (to) as they come: 0 once it answered. */
static int relay(int from, int to, const char *node, unsigned long long *bytes, vps_error *err)
{
        _cleanup_free_ char *buf = malloc(VPS_FRAME_MAX), *in = malloc(VPS_FRAME_MAX);
        if (!buf || !in)
                return vps_err(err, ENOMEM, "out of memory");
        for (;;) {
                struct pollfd pf = {.fd = to, .events = POLLIN};
                while (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLIN | POLLHUP))) {
                        int r = restore_frame(to, in, node, err);
                        if (r < 0)
                                return r;
                        if (r == 1)
                                return vps_err(err, EPROTO,
                                               "node %s ended the restore before the archive did",
                                               node);
                }
                char type;
                size_t n;
                int r = vps_frame_read(from, &type, buf, &n, err);
                if (r == -ECONNRESET)
                        return vps_err(err, ECONNRESET, "vpsd ended the backup without a result");
                if (r < 0)
                        return r;
                if (type == 'D') {
                        if ((r = vps_frame_write(to, 'D', buf, n, err)) < 0)
                                return vps_err_wrap(err, "sending to node %s", node);
                        *bytes += n;
                } else if (type == 'E') {
                        (void)client_error_from_body(buf, n, 500, err);
                        return vps_err_wrap(err, "the backup here");
                } else if (type == 'K') {
                        break;
                } else if (type != 'P') {
                        return vps_err(err, EPROTO, "an unexpected frame from vpsd");
                }
        }
        int r = vps_frame_write(to, 'Z', NULL, 0, err);
        while (r == 0)
                r = restore_frame(to, in, node, err);
        return r < 0 ? r : 0;
}

void migrate_peer_arg(char *buf, size_t size, const char *key, const char *peer)
{
        size_t n = strlen(peer);
        bool ok = n > 0 && n < 64 &&
                  strspn(peer,
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@:[]-") ==
                          n;
        (void)snprintf(buf, size, "%s%s%s", ok ? "&" : "", ok ? key : "", ok ? "=" : "");
        if (ok)
                (void)snprintf(buf + strlen(buf), size - strlen(buf), "%s", peer);
}

int node_transfer(struct vpsctl *v, struct node_dest *nd, const char *id, bool full, json_t *ips,
                  unsigned long long *ret_bytes, bool *ret_maybe, vps_error *err)
{
        char path[1400], to_arg[80], from_arg[80];
        migrate_peer_arg(to_arg, sizeof(to_arg), "migrate_to", nd->name);
        migrate_peer_arg(from_arg, sizeof(from_arg), "migrate_from", nd->self);
        (void)snprintf(path, sizeof(path), "/v1/vps/%s/backup?full=%d&incremental=0%s", id, full,
                       to_arg);
        _cleanup_close_ int fd = -1, to = -1;
        int r = vpsctl_stream_open(v, path, "vps-backup", NULL, &fd, NULL, err);
        if (r < 0 || (r = vps_frame_write(fd, 'Z', NULL, 0, err)) < 0)
                return vps_err_wrap(err, "the backup here");
        size_t used =
                (size_t)snprintf(path, sizeof(path), "/v1/restore?id=%s&size=0%s", id, from_arg);
        size_t i;
        json_t *ip;
        json_array_foreach(ips, i, ip)
        {
                const char *s = json_string_value(ip) ?: "";
                if (used + strlen(s) + 10 >= sizeof(path) ||
                    strspn(s, "0123456789abcdefABCDEF.:") != strlen(s))
                        return vps_err(err, EINVAL, "VPS %s: an address '%.60s' not sent", id, s);
                used += (size_t)snprintf(path + used, sizeof(path) - used, "%s%s",
                                         i ? "," : "&ipadd=", s);
        }
        if ((r = client_stream_open(&nd->t, path, "vps-restore", NULL, &to, NULL, err)) < 0)
                return vps_err_wrap(err, "node %s", nd->name);
        *ret_maybe = true;
        r = relay(fd, to, nd->name, ret_bytes, err);
        /* Refused there (the ID taken meanwhile, no template, no room): nothing was made. */
        if (r < 0 && (err->code == EEXIST || err->code == ENOENT || err->code == ENOSPC))
                *ret_maybe = false;
        return r;
}

int node_simple(struct node_dest *nd, const char *id, const char *verb, vps_error *err)
{
        char path[128];
        bool destroy = !strcmp(verb, "destroy");
        (void)snprintf(path, sizeof(path), destroy ? "/v1/vps/%s?force=1" : "/v1/vps/%s/%s", id,
                       verb);
        _cleanup_json_ json_t *ans = NULL;
        int r = client_request(&nd->t, destroy ? "DELETE" : "POST", path, NULL, TIMEOUT_NONE, &ans,
                               err);
        return r < 0 ? vps_err_wrap(err, "%s %s on node %s", verb, id, nd->name) : 0;
}

int node_move(struct vpsctl *v, struct node_dest *nd, const char *id, bool back, bool running,
              vps_error *err)
{
        _cleanup_json_ json_t *body =
                json_pack("{s:s, s:s, s:s}", "from", back ? nd->name : nd->self, "to",
                          back ? nd->self : nd->name, "state", running ? "running" : "stopped");
        _cleanup_json_ json_t *ans = NULL;
        if (!body)
                return vps_err(err, ENOMEM, "out of memory");
        int r = vpsctl_request(v, "POST", body, TIMEOUT_SHORT, &ans, err, "/v1/vps/%s/move", id);
        if (r < 0)
                return vps_err_wrap(err, "moving VPS %s's records in the cluster", id);
        nd->moved = !back;
        return 0;
}

static int tpl_version(const struct client_target *t, const char *name, char *buf, size_t size,
                       vps_error *err)
{
        char path[200];
        (void)snprintf(path, sizeof(path), "/v1/templates/%s", name);
        _cleanup_json_ json_t *ans = NULL;
        int r = client_request(t, "GET", path, NULL, TIMEOUT_SHORT, &ans, err);
        buf[0] = '\0';
        if (r == -ENOENT)
                return 0;
        if (r == 0)
                (void)snprintf(buf, size, "%s", str(ans, "version"));
        return r;
}

int node_template_check(struct vpsctl *v, struct node_dest *nd, const char *tpl, bool *full,
                        bool carry, vps_error *err)
{
        char here[128], there[128];
        if (*full || !tpl[0])
                return 0;
        int r = tpl_version(&v->target, tpl, here, sizeof(here), err);
        if (r == 0 && (r = tpl_version(&nd->t, tpl, there, sizeof(there), err)) < 0)
                (void)vps_err_wrap(err, "node %s", nd->name);
        if (r < 0 || !strcmp(here, there))
                return r;
        if (carry) {
                *full = true;
                return 0;
        }
        return vps_err(err, ENOENT,
                       "node %s has template %s %s%s, not %s as here (--full carries it along)",
                       nd->name, tpl, there[0] ? "in version " : "", there[0] ? there : "missing",
                       here);
}
