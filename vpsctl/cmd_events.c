/* vpsctl events: vpsd's event stream (GET /v1/events, JSON lines in a chunked answer) printed
 * as it comes, until interrupted or vpsd ends it. */
#include "vpsctl.h"
#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vps/cleanup.h"
#include "vps/util.h"

static const char events_usage[] =
        "Usage: vpsctl events [--vps ID] [-j]\n"
        "\n"
        "Print vpsd's events as they happen, until interrupted: VPSes created, destroyed,\n"
        "started, stopped (with the reason), paused, unpaused, changed; OOM kills and other\n"
        "limit hits; the ends of snapshots, switches, clones, reinstalls, backups and\n"
        "restores. One line each: TIME TYPE VPS DETAILS.\n"
        "\n"
        "Options:\n"
        "  --vps ID       only the events of VPS ID\n"
        "  -j, --json     print each event as the JSON line vpsd sent\n"
        "  -h, --help     print this help and exit\n";

#define LINE_MAX_LEN 65536

static void print_event(const char *line, size_t len, bool json)
{
        if (len == 0)
                return; /* a keep-alive */
        if (json) {
                printf("%.*s\n", (int)len, line);
                fflush(stdout);
                return;
        }
        _cleanup_json_ json_t *o = json_loadb(line, len, 0, NULL);
        if (!json_is_object(o))
                return;
        printf("%s  %-16s %s", json_string_value(json_object_get(o, "time")) ?: "?",
               json_string_value(json_object_get(o, "type")) ?: "?",
               json_string_value(json_object_get(o, "vps")) ?: "-");
        const char *key;
        json_t *val;
        json_object_foreach(o, key, val)
        {
                if (!strcmp(key, "time") || !strcmp(key, "type") || !strcmp(key, "vps"))
                        continue;
                _cleanup_free_ char *t = json_is_string(val)
                                                 ? strdup(json_string_value(val))
                                                 : json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
                printf(" %s=%s", key, t ? t : "?");
        }
        printf("\n");
        fflush(stdout);
}

/* The body's bytes after the head: chunk sizes taken off, lines printed as they complete. */
struct dechunk {
        size_t left; /* bytes left in this chunk; 0: a size line is next */
        bool crlf;   /* the CRLF after a chunk is next */
        char size[24];
        size_t sn;
        char line[LINE_MAX_LEN];
        size_t ln;
        bool json, end;
        bool raw; /* not chunked: the body runs to the connection's end */
};

static void body_byte(struct dechunk *c, char ch)
{
        if (ch == '\n') {
                print_event(c->line, c->ln, c->json);
                c->ln = 0;
        } else if (c->ln < sizeof(c->line)) {
                c->line[c->ln++] = ch;
        }
}

static int feed(struct dechunk *c, const char *buf, size_t n, vps_error *err)
{
        for (size_t i = 0; i < n && !c->end; i++) {
                if (c->raw) {
                        body_byte(c, buf[i]);
                } else if (c->left > 0) {
                        body_byte(c, buf[i]);
                        if (--c->left == 0)
                                c->crlf = true;
                } else if (c->crlf) {
                        if (buf[i] == '\n')
                                c->crlf = false;
                } else if (buf[i] == '\n') {
                        c->size[c->sn] = '\0';
                        char *end = NULL;
                        unsigned long long s = strtoull(c->size, &end, 16);
                        if (end == c->size)
                                return vps_err(err, EBADMSG, "a bad chunk from vpsd");
                        c->sn = 0;
                        c->left = (size_t)s;
                        c->end = s == 0;
                } else if (c->sn < sizeof(c->size) - 1) {
                        c->size[c->sn++] = buf[i];
                }
        }
        return 0;
}

int cmd_events(struct vpsctl *v, int argc, char **argv)
{
        static const struct option options[] = {
                {"vps", required_argument, NULL, 'V'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *vps = NULL;
        static struct dechunk c;
        int ch;
        optind = 0;
        while ((ch = getopt_long(argc, argv, ":jh", options, NULL)) != -1) {
                if (ch == 'h')
                        return vpsctl_help(events_usage);
                if (ch == 'j')
                        c.json = true;
                else if (ch == 'V')
                        vps = optarg;
                else
                        return vpsctl_opt_error(v, ch, argv);
        }
        if (optind < argc)
                return vpsctl_usage_error(v, "unexpected argument '%s'", argv[optind]);
        vps_error err = {0};
        if (vps && vps_id_check(vps, &err) < 0)
                return vpsctl_usage_error(v, "--vps: %s", err.msg);
        _cleanup_close_ int fd = client_connect(v->socket, &err);
        if (fd < 0)
                return vpsctl_fail_err(&err);
        _cleanup_free_ char *req = NULL;
        if (asprintf(&req, "GET /v1/events%s%s HTTP/1.1\r\nHost: localhost\r\n\r\n",
                     vps ? "?vps=" : "", vps ? vps : "") < 0)
                return vpsctl_fail_err(&(vps_error){ENOMEM, "out of memory"});
        if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
                return vpsctl_fail_err(&(vps_error){EIO, "sending the request to vpsd failed"});
        /* The head, then the chunked body. */
        char buf[16384];
        size_t have = 0;
        char *body = NULL;
        while (!body) {
                ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
                if (n <= 0)
                        return vpsctl_fail_err(&(vps_error){EPROTO, "vpsd closed the connection"});
                have += (size_t)n;
                buf[have] = '\0';
                body = strstr(buf, "\r\n\r\n");
                if (!body && have == sizeof(buf) - 1)
                        return vpsctl_fail_err(&(vps_error){EBADMSG, "a bad answer from vpsd"});
        }
        body += 4;
        int status = 0;
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                return vpsctl_fail_err(&(vps_error){EBADMSG, "a bad answer from vpsd"});
        size_t blen = have - (size_t)(body - buf);
        if (status != 200) {
                (void)client_error_from_body(body, blen, status, &err);
                return vpsctl_fail_err(&err);
        }
        body[-2] = '\0';
        c.raw = !strcasestr(buf, "chunked");
        if (feed(&c, body, blen, &err) < 0)
                return vpsctl_fail_err(&err);
        while (!c.end) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (feed(&c, buf, (size_t)n, &err) < 0)
                        return vpsctl_fail_err(&err);
        }
        return 0;
}
