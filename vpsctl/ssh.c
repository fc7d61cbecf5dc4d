/* vpsctl's ssh transport: the destination checked, ssh spawned with an argv (no local shell),
 * the remote command's words each single-quoted for the remote shell, BatchMode on. */
#include "ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "vps/cleanup.h"

extern char **environ;

static bool all_of(const char *s, size_t n, const char *set)
{
        for (size_t i = 0; i < n; i++)
                if (!s[i] || !strchr(set, s[i]))
                        return false;
        return n > 0;
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

int ssh_dest_parse(const char *s, struct ssh_dest *d, vps_error *err)
{
        size_t len = strlen(s);
        if (len == 0 || len >= sizeof(d->name))
                return vps_err(err, EINVAL, "bad destination '%s': [user@]host[:port] expected", s);
        (void)snprintf(d->name, sizeof(d->name), "%s", s);
        const char *at = strchr(s, '@'), *host = at ? at + 1 : s, *port = NULL;
        size_t hlen;
        bool ok = !at || (all_of(s, (size_t)(at - s), ALNUM "._-") && s[0] != '-');
        if (host[0] == '[') { /* [IPv6][:port] */
                const char *end = strchr(host, ']');
                ok = ok && end &&
                     all_of(host + 1, (size_t)(end - host - 1), "0123456789abcdefABCDEF:.");
                hlen = end ? (size_t)(end - host + 1) : 0;
                port = end && end[1] == ':' ? end + 2 : NULL;
                ok = ok && end && (end[1] == '\0' || port);
        } else {
                const char *colon = strchr(host, ':');
                hlen = colon ? (size_t)(colon - host) : strlen(host);
                port = colon ? colon + 1 : NULL;
                ok = ok && all_of(host, hlen, ALNUM ".-") && host[0] != '-' && host[0] != '.';
        }
        if (ok && port) {
                char *end;
                errno = 0;
                long p = strtol(port, &end, 10);
                ok = all_of(port, strlen(port), "0123456789") && !*end && p >= 1 && p <= 65535;
                if (ok)
                        (void)snprintf(d->port, sizeof(d->port), "%ld", p);
        }
        if (!ok)
                return vps_err(err, EINVAL, "bad destination '%s': [user@]host[:port] expected", s);
        /* ssh takes an IPv6 address without its brackets */
        size_t ulen = at ? (size_t)(at - s + 1) : 0;
        bool br = host[0] == '[';
        (void)snprintf(d->target, sizeof(d->target), "%.*s%.*s", (int)ulen, s,
                       (int)(hlen - (br ? 2 : 0)), host + (br ? 1 : 0));
        return 0;
}

/* 'word' with each ' as '\'' : one word for the remote shell whatever it holds. */
static int quote_append(char **cmd, size_t *len, const char *word)
{
        size_t need = *len + 4 * strlen(word) + 4;
        char *n = realloc(*cmd, need);
        if (!n)
                return -ENOMEM;
        *cmd = n;
        char *p = n + *len;
        if (*len)
                *p++ = ' ';
        *p++ = '\'';
        for (const char *w = word; *w; w++) {
                if (*w == '\'') {
                        memcpy(p, "'\\''", 4);
                        p += 4;
                } else
                        *p++ = *w;
        }
        *p++ = '\'';
        *p = '\0';
        *len = (size_t)(p - n);
        return 0;
}

static char *remote_command(const struct ssh_dest *d, const char *const *args)
{
        _cleanup_free_ char *cmd = NULL;
        size_t len = 0;
        if (quote_append(&cmd, &len, d->vpsctl ? d->vpsctl : "vpsctl") < 0 ||
            (d->socket &&
             (quote_append(&cmd, &len, "--socket") < 0 || quote_append(&cmd, &len, d->socket) < 0)))
                return NULL;
        for (size_t i = 0; args[i]; i++)
                if (quote_append(&cmd, &len, args[i]) < 0)
                        return NULL;
        return TAKE_PTR(cmd);
}

int ssh_spawn(const struct ssh_dest *d, const char *const *args, int in_fd, int out_fd, int err_fd,
              pid_t *ret_pid, vps_error *err)
{
        _cleanup_free_ char *cmd = remote_command(d, args);
        if (!cmd)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        /* The operator's -o first: for ssh the first value of an option wins. */
        const char *argv[2 * SSH_MAX_OPTS + 24];
        size_t n = 0;
        argv[n++] = "ssh";
        for (size_t i = 0; i < d->n_opts; i++) {
                argv[n++] = "-o";
                argv[n++] = d->opts[i];
        }
        static const char *const dflt[] = {"BatchMode=yes", "ConnectTimeout=10",
                                           "ServerAliveInterval=5", "ServerAliveCountMax=3"};
        for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++) {
                argv[n++] = "-o";
                argv[n++] = dflt[i];
        }
        argv[n++] = "-T"; /* no tty: the archive's bytes go through as they are */
        if (d->port[0]) {
                argv[n++] = "-p";
                argv[n++] = d->port;
        }
        argv[n++] = "--";
        argv[n++] = d->target;
        argv[n++] = cmd;
        argv[n] = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        if (in_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
        else
                posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
        int r = posix_spawnp(ret_pid, "ssh", &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return vps_err_sys(err, r, "running ssh");
        return 0;
}

int ssh_wait(pid_t pid)
{
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return 255;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *read_all(int fd)
{
        off_t size = lseek(fd, 0, SEEK_END);
        if (size < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return NULL;
        char *buf = malloc((size_t)size + 1);
        if (!buf)
                return NULL;
        size_t got = 0;
        while (got < (size_t)size) {
                ssize_t k = read(fd, buf + got, (size_t)size - got);
                if (k <= 0)
                        break;
                got += (size_t)k;
        }
        buf[got] = '\0';
        return buf;
}

void ssh_last_line(int fd, char *buf, size_t size)
{
        _cleanup_free_ char *all = read_all(fd);
        buf[0] = '\0';
        if (!all)
                return;
        size_t n = strlen(all);
        while (n && (all[n - 1] == '\n' || all[n - 1] == '\r'))
                all[--n] = '\0';
        char *line = strrchr(all, '\n');
        line = line ? line + 1 : all;
        if (!strncmp(line, "vpsctl: ", 8))
                line += 8;
        /* vpsctl -j there: {"error", "errno", "exit"} */
        _cleanup_json_ json_t *j = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(j, "error"));
        (void)snprintf(buf, size, "%s", msg ? msg : line);
}

int ssh_run(const struct ssh_dest *d, const char *const *args, int *ret_status, char **ret_out,
            char *ret_why, size_t why_size, vps_error *err)
{
        _cleanup_close_ int out = memfd_create("ssh-out", MFD_CLOEXEC);
        _cleanup_close_ int errf = memfd_create("ssh-err", MFD_CLOEXEC);
        if (out < 0 || errf < 0)
                return vps_err_sys(err, errno, "memfd_create");
        pid_t pid;
        int r = ssh_spawn(d, args, -1, out, errf, &pid, err);
        if (r < 0)
                return r;
        *ret_status = ssh_wait(pid);
        ssh_last_line(errf, ret_why, why_size);
        if (ret_out && !(*ret_out = read_all(out)))
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        return 0;
}

int ssh_mux_begin(struct ssh_dest *d, struct ssh_mux *x, vps_error *err)
{
        *x = (struct ssh_mux){0};
        if (d->n_opts + 3 > SSH_MAX_OPTS)
                return 0; /* the operator's options fill it: one connection per command */
        (void)snprintf(x->dir, sizeof(x->dir), "/tmp/vpsctl-ssh-XXXXXX");
        if (!mkdtemp(x->dir))
                return vps_err_sys(err, errno, "a directory for ssh's control socket");
        (void)snprintf(x->path_opt, sizeof(x->path_opt), "ControlPath=%s/cm", x->dir);
        d->opts[d->n_opts++] = "ControlMaster=auto";
        d->opts[d->n_opts++] = x->path_opt;
        d->opts[d->n_opts++] = "ControlPersist=30";
        x->on = true;
        return 0;
}

void ssh_mux_end(struct ssh_dest *d, struct ssh_mux *x)
{
        if (!x->on)
                return;
        d->n_opts -= 3;
        const char *argv[] = {
                "ssh", "-o",      x->path_opt, "-O", "exit", "-p", d->port[0] ? d->port : "22",
                "--",  d->target, NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        if (posix_spawnp(&pid, "ssh", &fa, NULL, (char *const *)argv, environ) == 0)
                (void)ssh_wait(pid);
        posix_spawn_file_actions_destroy(&fa);
        char sock[96];
        (void)snprintf(sock, sizeof(sock), "%s/cm", x->dir);
        (void)unlink(sock);
        (void)rmdir(x->dir);
        x->on = false;
}
