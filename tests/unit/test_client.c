/* Unit tests: vpsctl's API client (vpsctl/client.c, local.c, conn.c and upgrade.c; libcurl
 * compiled in, which the local socket's plain requests no longer use) against a fake vpsd on
 * a Unix socket, one forked server per exchange: the bytes each
 * request puts on the wire, the replies it takes (length, chunked, errors, empty, malformed,
 * too large, too slow), the Upgrade of a stream, and the refusal of a listener that is not
 * root's. Needs root for the fake vpsd to pass as one (77 otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"

static char dir[48];
static char sock_path[96];
static char req_path[128];

/* What the fake vpsd does with its one connection. */
struct fake {
        const char *reply;     /* sent once the request is in (NULL: close at once) */
        size_t reply_len;      /* 0: strlen(reply) */
        unsigned int delay_ms; /* before the reply */
        uid_t uid;             /* listen as this user (0: root) */
        bool echo;             /* after the reply, echo what comes (an upgraded stream) */
        unsigned int full_ms;  /* keep the listen backlog full this long before accepting */
};

static void write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k <= 0)
                        return;
                p += k;
                n -= (size_t)k;
        }
}

/* Reads one request (its head, then Content-Length bytes) into req_path. */
static void read_request(int c)
{
        char buf[65536];
        size_t len = 0;
        char *end = NULL;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4)) && len < sizeof(buf)) {
                ssize_t n = read(c, buf + len, sizeof(buf) - len);
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        if (end) {
                char *cl = strcasestr(buf, "\r\nContent-Length:");
                size_t want =
                        (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
                while (len < want && len < sizeof(buf)) {
                        ssize_t n = read(c, buf + len, sizeof(buf) - len);
                        if (n <= 0)
                                break;
                        len += (size_t)n;
                }
        }
        int f = open(req_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        write_all(f, buf, len);
        close(f);
}

static pid_t serve(const struct fake *f)
{
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid > 0) {
                char b;
                close(ready[1]);
                assert_int_equal(read(ready[0], &b, 1), 1);
                close(ready[0]);
                return pid;
        }
        close(ready[0]);
        if (f->uid && setresuid(f->uid, f->uid, f->uid) < 0)
                _exit(2);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
        unlink(sock_path);
        if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, f->full_ms ? 0 : 4) < 0)
                _exit(3);
        /* a backlog of 0 holds one connection: this one, not accepted for full_ms */
        int filler = socket(AF_UNIX, SOCK_STREAM, 0);
        if (f->full_ms && connect(filler, (struct sockaddr *)&a, sizeof(a)) < 0)
                _exit(5);
        write_all(ready[1], "x", 1);
        if (f->full_ms) {
                struct timespec ts = {f->full_ms / 1000, (long)(f->full_ms % 1000) * 1000000};
                nanosleep(&ts, NULL);
                close(accept(s, NULL, NULL));
        }
        int c = accept(s, NULL, NULL);
        if (c < 0)
                _exit(4);
        read_request(c);
        if (f->delay_ms) {
                struct timespec ts = {f->delay_ms / 1000, (long)(f->delay_ms % 1000) * 1000000};
                nanosleep(&ts, NULL);
        }
        if (f->reply)
                write_all(c, f->reply, f->reply_len ? f->reply_len : strlen(f->reply));
        char buf[4096];
        ssize_t n;
        while (f->echo && (n = read(c, buf, sizeof(buf))) > 0)
                write_all(c, buf, (size_t)n);
        close(c);
        _exit(0);
}

static void reap(pid_t pid)
{
        int st;
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
}

static char *request_seen(void)
{
        static char buf[65536];
        int f = open(req_path, O_RDONLY);
        ssize_t n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);
        close(f);
        buf[n < 0 ? 0 : n] = '\0';
        return buf;
}

static bool starts(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const struct client_target local = {.socket_path = sock_path};

/* Runs one request against a fake: its return value; *ret and err as the client left them. */
static int run(const struct fake *f, const char *method, const char *path, const char *body,
               long timeout_s, json_t **ret, vps_error *err)
{
        json_t *b = body ? json_loads(body, 0, NULL) : NULL;
        pid_t pid = serve(f);
        int r = client_request(&local, method, path, b, timeout_s, ret, err);
        reap(pid);
        json_decref(b);
        return r;
}

#define OK_JSON                                                                                    \
        "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nContent-Type: application/json\r\n\r\n[1, 2, 3]"

static void test_requests_on_the_wire(void **state)
{
        const struct fake ok = {.reply = OK_JSON};
        json_t *j = NULL;
        vps_error err = {0};
        (void)state;

        assert_int_equal(run(&ok, "GET", "/v1/vps?up=1", NULL, 5, &j, &err), 0);
        assert_int_equal(json_array_size(j), 3);
        json_decref(j);
        const char *seen = request_seen();
        assert_true(starts(seen, "GET /v1/vps?up=1 HTTP/1.1\r\n"));
        assert_non_null(strstr(seen, "\r\nHost: localhost\r\n"));
        assert_non_null(strstr(seen, "\r\nUser-Agent: vpsctl/" VPS_VERSION "\r\n"));
        assert_null(strcasestr(seen, "Content-Length"));
        assert_null(strcasestr(seen, "Authorization"));

        /* a body: its type and length; never an Expect that would wait for 100 Continue */
        assert_int_equal(run(&ok, "POST", "/v1/vps", "{\"id\": \"101\"}", 5, NULL, &err), 0);
        seen = request_seen();
        assert_true(starts(seen, "POST /v1/vps HTTP/1.1\r\n"));
        assert_non_null(strstr(seen, "\r\nContent-Type: application/json\r\n"));
        assert_non_null(strstr(seen, "\r\nContent-Length: 12\r\n"));
        assert_non_null(strstr(seen, "\r\n\r\n{\"id\":\"101\"}"));
        assert_null(strcasestr(seen, "Expect"));

        /* POST and PATCH say their length even without a body; DELETE does not */
        assert_int_equal(run(&ok, "POST", "/v1/vps/7/start", NULL, 5, NULL, &err), 0);
        assert_non_null(strstr(request_seen(), "\r\nContent-Length: 0\r\n"));
        assert_int_equal(run(&ok, "PATCH", "/v1/vps/7", "{\"ram\": \"1G\"}", 5, NULL, &err), 0);
        assert_true(starts(request_seen(), "PATCH /v1/vps/7 HTTP/1.1\r\n"));
        assert_int_equal(run(&ok, "DELETE", "/v1/vps/7?force=1", NULL, 5, NULL, &err), 0);
        seen = request_seen();
        assert_true(starts(seen, "DELETE /v1/vps/7?force=1 HTTP/1.1\r\n"));
        assert_null(strcasestr(seen, "Content-Length"));

        /* what the user typed reaches vpsd percent-encoded, whatever it is */
        assert_int_equal(run(&ok, "GET", "/v1/templates/a b\r\nX: y", NULL, 5, NULL, &err), 0);
        assert_true(starts(request_seen(), "GET /v1/templates/a%20b%0D%0AX:%20y HTTP/1.1\r\n"));
        assert_int_equal(run(&ok, "GE T", "/", NULL, 5, NULL, &err), -EINVAL);
}

static void test_replies(void **state)
{
        json_t *j = NULL;
        vps_error err = {0};
        (void)state;

        const struct fake chunked = {.reply =
                                             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                             "4\r\n{\"a\"\r\n4;x=y\r\n: 1}\r\n0\r\n\r\n"};
        assert_int_equal(run(&chunked, "GET", "/v1/x", NULL, 5, &j, &err), 0);
        assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
        json_decref(j);
        const struct fake empty = {.reply = "HTTP/1.1 204 No Content\r\n\r\n"};
        j = json_true();
        assert_int_equal(run(&empty, "POST", "/v1/x", NULL, 5, &j, &err), 0);
        assert_null(j);
        const struct fake to_eof = {.reply = "HTTP/1.0 200 OK\r\n\r\n{\"b\": 2}"};
        assert_int_equal(run(&to_eof, "GET", "/v1/x", NULL, 5, &j, &err), 0);
        assert_int_equal(json_integer_value(json_object_get(j, "b")), 2);
        json_decref(j);
        char *text = NULL;
        size_t len = 0;
        pid_t pid = serve(&(struct fake){.reply = OK_JSON});
        assert_int_equal(client_request_text(&local, "/v1/vps", 5, &text, &len, &err), 0);
        reap(pid);
        assert_int_equal(len, 9);
        assert_string_equal(text, "[1, 2, 3]");
        free(text);
}

static void test_errors(void **state)
{
        json_t *j = NULL;
        vps_error err = {0};
        (void)state;

        /* vpsd's {"error", "errno"}, option names as vpsctl spells them */
        const struct fake refused = {
                .reply = "HTTP/1.1 409 Conflict\r\nContent-Length: 47\r\n\r\n"
                         "{\"error\": \"bad 'ssh_key' for 101\", \"errno\": 16}"};
        assert_int_equal(run(&refused, "PATCH", "/v1/vps/101", "{}", 5, &j, &err), -EBUSY);
        assert_string_equal(err.msg, "bad --ssh-key for 101");
        assert_null(j);
        const struct fake bare404 = {.reply =
                                             "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"};
        assert_int_equal(run(&bare404, "GET", "/v1/vps/9", NULL, 5, &j, &err), -ENOENT);
        assert_string_equal(err.msg, "vpsd answered with HTTP status 404");

        const struct fake nothing = {.reply = NULL};
        assert_int_equal(run(&nothing, "GET", "/v1/x", NULL, 5, &j, &err), -ECONNRESET);
        assert_non_null(strstr(err.msg, "the connection closed without a reply"));
        assert_non_null(strstr(err.msg, sock_path));
        const struct fake cut = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1,"};
        assert_int_equal(run(&cut, "GET", "/v1/x", NULL, 5, &j, &err), -ECONNRESET);
        const struct fake junk = {.reply = "garbage\r\n\r\n"};
        assert_true(run(&junk, "GET", "/v1/x", NULL, 5, &j, &err) < 0);
        assert_int_equal(err.code, EBADMSG);
        const struct fake bad_chunk = {.reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                                "chunked\r\n\r\n9\r\n[1]\r\n0\r\n\r\n"};
        assert_int_equal(run(&bad_chunk, "GET", "/v1/x", NULL, 5, &j, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "a bad chunked body"));
        const struct fake no_last_chunk = {
                .reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1]\r\n"};
        assert_int_equal(run(&no_last_chunk, "GET", "/v1/x", NULL, 5, &j, &err), -EBADMSG);
        const struct fake bad_json = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[1,"};
        assert_int_equal(run(&bad_json, "GET", "/v1/x", NULL, 5, &j, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "invalid JSON from vpsd"));

        const struct fake slow = {.reply = OK_JSON, .delay_ms = 3000};
        assert_int_equal(run(&slow, "GET", "/v1/x", NULL, 1, &j, &err), -ETIMEDOUT);
        char want[256];
        snprintf(want, sizeof(want), "vpsd at %s did not answer within 1 seconds", sock_path);
        assert_string_equal(err.msg, want);
}

struct collected {
        char text[256];
        size_t len, calls;
        bool stop; /* answer the first piece with -EPIPE */
};

static int collect(const char *data, size_t len, void *arg)
{
        struct collected *c = arg;
        c->calls++;
        if (c->stop)
                return -EPIPE;
        if (c->len + len < sizeof(c->text)) {
                memcpy(c->text + c->len, data, len);
                c->len += len;
                c->text[c->len] = '\0';
        }
        return 0;
}

static int run_stream(const struct fake *f, long timeout_s, struct collected *c, vps_error *err)
{
        pid_t pid = serve(f);
        int r = client_request_stream(&local, "/v1/events", timeout_s, collect, c, err);
        reap(pid);
        return r;
}

/* A streamed GET (events, list -j) on the local socket: its body as it comes, chunks undone,
 * a refusal as an error, the caller's stop, a body cut short. */
static void test_request_stream(void **state)
{
        vps_error err = {0};
        (void)state;

        struct collected c = {0};
        const struct fake chunked = {.reply =
                                             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                             "6\r\n{\"a\":1\r\n2;n=v\r\n}\n\r\n9\r\n{\"b\":22}"
                                             "\n\r\n0\r\nX-T: 1\r\n\r\n"};
        assert_int_equal(run_stream(&chunked, 5, &c, &err), 0);
        assert_string_equal(c.text, "{\"a\":1}\n{\"b\":22}\n");
        assert_true(starts(request_seen(), "GET /v1/events HTTP/1.1\r\n"));
        assert_non_null(strstr(request_seen(), "\r\nConnection: close\r\n"));

        c = (struct collected){0};
        const struct fake by_length = {.reply = OK_JSON};
        assert_int_equal(run_stream(&by_length, 5, &c, &err), 0);
        assert_string_equal(c.text, "[1, 2, 3]");

        c = (struct collected){0};
        const struct fake refused = {.reply = "HTTP/1.1 403 Forbidden\r\nContent-Length: 34\r\n\r\n"
                                              "{\"error\": \"not yours\", \"errno\": 1}"};
        assert_int_equal(run_stream(&refused, 5, &c, &err), -EPERM);
        assert_string_equal(err.msg, "not yours");
        assert_int_equal(c.calls, 0);

        c = (struct collected){.stop = true};
        assert_int_equal(run_stream(&chunked, 5, &c, &err), -EPIPE);
        assert_int_equal(c.calls, 1);

        c = (struct collected){0};
        const struct fake cut = {.reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                          "6\r\n{\"a\":1\r\n"};
        assert_int_equal(run_stream(&cut, 5, &c, &err), -EBADMSG);
        assert_string_equal(c.text, "{\"a\":1");

        c = (struct collected){0};
        const struct fake slow = {.reply = OK_JSON, .delay_ms = 3000};
        assert_int_equal(run_stream(&slow, 1, &c, &err), -ETIMEDOUT);
}

/* The caller's fds are the caller's: a request (one that works, one refused before it
 * connects, a stream) closes none of them. vpsctl exec read its stdin after a request
 * that had closed fd 0 (a connection's fd at 0 before it was set up), and got vpsd's next
 * socket there instead. */
static void test_keeps_stdin(void **state)
{
        json_t *j = NULL;
        vps_error err = {0};
        struct collected c = {0};
        (void)state;

        int saved = dup(0);
        int null = open("/dev/null", O_RDONLY);
        assert_true(null >= 0);
        assert_int_equal(dup2(null, 0), 0);
        struct stat before, after;
        assert_int_equal(fstat(0, &before), 0);
        const struct fake ok = {.reply = OK_JSON};
        assert_int_equal(run(&ok, "GET", "/v1/vps", NULL, 5, &j, &err), 0);
        json_decref(j);
        assert_int_equal(client_request(&local, "GE T", "/", NULL, 5, &j, &err), -EINVAL);
        assert_int_equal(client_request_stream(&local, "x", 5, collect, &c, &err), -EINVAL);
        assert_int_equal(run_stream(&ok, 5, &c, &err), 0);
        assert_int_equal(fstat(0, &after), 0);
        assert_true(before.st_ino == after.st_ino && before.st_dev == after.st_dev);
        if (saved >= 0) {
                dup2(saved, 0);
                close(saved);
        }
        close(null);
}

/* A daemon whose listen backlog is full is waited for, up to the connect timeout. */
static void test_backlog_full(void **state)
{
        json_t *j = NULL;
        vps_error err = {0};
        (void)state;

        const struct fake busy = {.reply = OK_JSON, .full_ms = 1500};
        assert_int_equal(run(&busy, "GET", "/v1/vps", NULL, 5, &j, &err), 0);
        assert_int_equal(json_array_size(j), 3);
        json_decref(j);
        assert_true(starts(request_seen(), "GET /v1/vps HTTP/1.1\r\n"));
        const struct fake stuck = {.reply = OK_JSON, .full_ms = 3000};
        assert_int_equal(run(&stuck, "GET", "/v1/vps", NULL, 1, &j, &err), -ETIMEDOUT);
        assert_non_null(strstr(err.msg, "did not answer within 1 seconds"));
}

static void test_reply_too_large(void **state)
{
        size_t n = (64u << 20) + 1;
        char head[128];
        int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
        char *big = malloc((size_t)hl + n);
        json_t *j = NULL;
        vps_error err = {0};
        (void)state;

        assert_non_null(big);
        memcpy(big, head, (size_t)hl);
        memset(big + hl, ' ', n);
        const struct fake f = {.reply = big, .reply_len = (size_t)hl + n};
        assert_int_equal(run(&f, "GET", "/v1/x", NULL, 30, &j, &err), -EMSGSIZE);
        assert_non_null(strstr(err.msg, "is larger than 67108864 bytes"));
        free(big);
}

static void test_no_daemon(void **state)
{
        vps_error err = {0};
        json_t *j = NULL;
        (void)state;

        unlink(sock_path);
        assert_int_equal(client_request(&local, "GET", "/v1/vps", NULL, 5, &j, &err),
                         -ECONNREFUSED);
        assert_non_null(strstr(err.msg, "cannot connect to vpsd at"));
        assert_non_null(strstr(err.msg, "(is vpsd running?)"));
        const struct client_target too_long = {
                .socket_path =
                        "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock"};
        assert_int_equal(client_request(&too_long, "GET", "/v1/vps", NULL, 5, &j, &err),
                         -ENAMETOOLONG);
        const vps_error why = {.code = ENOENT, .msg = "no remote 'x'"};
        const struct client_target broken = {.name = "x", .broken = &why};
        assert_int_equal(client_request(&broken, "GET", "/v1/vps", NULL, 5, &j, &err), -ENOENT);
        assert_string_equal(err.msg, "no remote 'x'");
}

/* Another user's listener never gets a request (nor a password in one). */
static void test_not_root(void **state)
{
        vps_error err = {0};
        json_t *j = NULL;
        (void)state;

        const struct fake impostor = {.reply = OK_JSON, .uid = 65534};
        unlink(req_path); /* the impostor writes what it got */
        assert_int_equal(
                run(&impostor, "PATCH", "/v1/vps/1", "{\"userpasswd\": \"root:x\"}", 5, &j, &err),
                -EPERM);
        assert_non_null(strstr(err.msg, "is not vpsd's socket"));
        assert_string_equal(request_seen(), "");
}

static void test_stream(void **state)
{
        vps_error err = {0};
        int fd = -1;
        (void)state;

        /* the first bytes of the stream come with the head: none is lost */
        const struct fake up = {
                .reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: vps-console\r\n"
                         "Connection: Upgrade\r\n\r\nhello",
                .echo = true};
        pid_t pid = serve(&up);
        assert_int_equal(client_stream_open(&local, "/v1/vps/7/console", "vps-console", NULL, &fd,
                                            NULL, &err),
                         0);
        char buf[16] = "";
        assert_int_equal(read(fd, buf, 5), 5);
        assert_memory_equal(buf, "hello", 5);
        assert_int_equal(write(fd, "ping", 4), 4);
        assert_int_equal(read(fd, buf, 4), 4);
        assert_memory_equal(buf, "ping", 4);
        assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        reap(pid);
        const char *seen = request_seen();
        assert_true(starts(seen, "POST /v1/vps/7/console HTTP/1.1\r\n"));
        assert_non_null(strstr(seen, "\r\nUpgrade: vps-console\r\n"));

        const struct fake no = {.reply = "HTTP/1.1 409 Conflict\r\nContent-Length: 45\r\n\r\n"
                                         "{\"error\": \"VPS 7 is not running\", \"errno\": 3}"};
        pid = serve(&no);
        assert_int_equal(client_stream_open(&local, "/v1/vps/7/console", "vps-console", NULL, &fd,
                                            NULL, &err),
                         -ESRCH);
        reap(pid);
        assert_string_equal(err.msg, "VPS 7 is not running");

        /* a body goes with the upgrade; a vpsd without the upgrade answers as a plain request */
        json_t *plain = NULL;
        const struct fake old = {.reply = OK_JSON};
        pid = serve(&old);
        assert_int_equal(client_stream_open(&local, "/v1/vps/7/snapshots", "vps-progress",
                                            "{\"name\":\"a\"}", &fd, &plain, &err),
                         0);
        reap(pid);
        assert_int_equal(fd, -1);
        assert_int_equal(json_array_size(plain), 3);
        json_decref(plain);
        seen = request_seen();
        assert_non_null(strstr(seen, "\r\nContent-Type: application/json\r\n"));
        assert_non_null(strstr(seen, "\r\nContent-Length: 12\r\n\r\n{\"name\":\"a\"}"));
}

int main(void)
{
        if (geteuid() != 0) {
                printf("SKIP: the fake vpsd must listen as root, as vpsctl checks\n");
                return 77;
        }
        snprintf(dir, sizeof(dir), "/tmp/test_client.XXXXXX");
        if (!mkdtemp(dir))
                return 1;
        chmod(dir, 0777);
        snprintf(sock_path, sizeof(sock_path), "%s/vpsd.sock", dir);
        snprintf(req_path, sizeof(req_path), "%s/request", dir);
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_requests_on_the_wire),
                cmocka_unit_test(test_replies),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_request_stream),
                cmocka_unit_test(test_keeps_stdin),
                cmocka_unit_test(test_backlog_full),
                cmocka_unit_test(test_reply_too_large),
                cmocka_unit_test(test_no_daemon),
                cmocka_unit_test(test_not_root),
                cmocka_unit_test(test_stream),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        unlink(sock_path);
        unlink(req_path);
        rmdir(dir);
        return r;
}
