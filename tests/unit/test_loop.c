/* Unit tests: vpsd's event loop (vpsd/loop.h): sources dispatch to their own callbacks with
 * their userdata, a removed source is not called (also when an earlier callback of the same
 * round removed it), timers fire once and on time, prepare hooks bound the wait and post hooks
 * run after each round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loop.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct watcher {
        int calls;
        uint32_t revents;
        void *userdata;
        struct vpsd_source src; /* found again by container_of */
        int pipe[2];
};

struct ctx {
        struct vpsd_event e;
        int rounds, posts, stop_after;
};

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_read(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct watcher *w = vpsd_container_of(s, struct watcher, src);
        char c;
        w->calls++;
        w->revents = revents;
        w->userdata = userdata;
        (void)!read(w->pipe[0], &c, 1);
}

static void on_timer(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct watcher *w = vpsd_container_of(s, struct watcher, src);
        w->calls++;
        w->userdata = userdata;
}

/* Ends the loop after ctx->stop_after rounds. */
static void post_count(void *userdata)
{
        struct ctx *c = userdata;
        c->posts++;
        if (c->posts >= c->stop_after)
                vpsd_event_exit(&c->e);
}

static int prepare_short(void *userdata)
{
        struct ctx *c = userdata;
        c->rounds++;
        return 5; /* never wait more than 5 ms */
}

static void setup(struct ctx *c, int rounds)
{
        vps_error err;
        *c = (struct ctx){.stop_after = rounds};
        assert_int_equal(vpsd_event_init(&c->e, &err), 0);
        assert_int_equal(vpsd_event_add_prepare(&c->e, prepare_short, c), 0);
        assert_int_equal(vpsd_event_add_post(&c->e, post_count, c), 0);
}

static void test_io_source_dispatch(void **state)
{
        struct ctx c;
        struct watcher a = {0}, b = {0};
        vps_error err;
        setup(&c, 3);
        assert_int_equal(pipe2(a.pipe, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(pipe2(b.pipe, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(vpsd_event_add(&c.e, &a.src, a.pipe[0], EPOLLIN, on_read, &a, &err), 0);
        assert_int_equal(vpsd_event_add(&c.e, &b.src, b.pipe[0], EPOLLIN, on_read, &c, &err), 0);
        assert_int_equal(write(a.pipe[1], "x", 1), 1);
        assert_int_equal(vpsd_event_run(&c.e), 0);
        /* Only the readable one was called, once, with its own userdata. */
        assert_int_equal(a.calls, 1);
        assert_true(a.revents & EPOLLIN);
        assert_ptr_equal(a.userdata, &a);
        assert_int_equal(b.calls, 0);
        assert_int_equal(c.posts, 3);
        assert_true(c.rounds >= 3);
        /* A removed source is not called any more, though its fd is readable. */
        vpsd_event_del(&c.e, &a.src);
        assert_int_equal(write(a.pipe[1], "y", 1), 1);
        assert_int_equal(write(b.pipe[1], "z", 1), 1);
        c.posts = 0;
        c.e.quit = false;
        assert_int_equal(vpsd_event_run(&c.e), 0);
        assert_int_equal(a.calls, 1);
        assert_int_equal(b.calls, 1);
        assert_ptr_equal(b.userdata, &c);
        for (int i = 0; i < 2; i++) {
                close(a.pipe[i]);
                close(b.pipe[i]);
        }
        vpsd_event_close(&c.e);
}

/* Two readable sources, each of whose callbacks removes the other and poisons it (as a
 * source freed by another's callback would be): whichever runs first, the other is not
 * called in the same round. */
struct pair {
        struct ctx *c;
        struct watcher w[2];
};

static void on_read_drop_other(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct pair *p = userdata;
        int me = s == &p->w[1].src;
        struct watcher *other = &p->w[!me];
        p->w[me].calls++;
        if (p->w[me].src.fn != on_read_drop_other) /* poisoned: called after removal */
                p->w[me].revents = 0xdead;
        vpsd_event_del(&p->c->e, &other->src);
        other->src.fn = NULL;
        other->src.userdata = NULL;
        char ch;
        (void)!read(p->w[me].pipe[0], &ch, 1);
}

static void test_removed_in_same_round(void **state)
{
        struct ctx c;
        struct pair p = {.c = &c};
        vps_error err;
        setup(&c, 1);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(pipe2(p.w[i].pipe, O_CLOEXEC | O_NONBLOCK), 0);
                assert_int_equal(vpsd_event_add(&c.e, &p.w[i].src, p.w[i].pipe[0], EPOLLIN,
                                                on_read_drop_other, &p, &err),
                                 0);
                assert_int_equal(write(p.w[i].pipe[1], "x", 1), 1);
        }
        assert_int_equal(vpsd_event_run(&c.e), 0);
        assert_int_equal(p.w[0].calls + p.w[1].calls, 1);
        assert_int_equal(c.posts, 1);
        for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                        close(p.w[i].pipe[j]);
        vpsd_event_close(&c.e);
}

static void test_timers(void **state)
{
        struct ctx c;
        struct watcher rel = {0}, abs = {0}, now = {0}, off = {0};
        vps_error err;
        setup(&c, 10);
        assert_int_equal(vpsd_timer_new(&c.e, &rel.src, on_timer, &c, &err), 0);
        assert_int_equal(vpsd_timer_new(&c.e, &abs.src, on_timer, &c, &err), 0);
        assert_int_equal(vpsd_timer_new(&c.e, &now.src, on_timer, &c, &err), 0);
        assert_int_equal(vpsd_timer_new(&c.e, &off.src, on_timer, &c, &err), 0);
        int64_t t0 = now_ms();
        assert_int_equal(vpsd_timer_set(&rel.src, 20, false, &err), 0);
        assert_int_equal(vpsd_timer_set(&abs.src, t0 + 30, true, &err), 0);
        assert_int_equal(vpsd_timer_set(&now.src, 0, false, &err), 0); /* 0: at once */
        /* off is not armed: it never fires. One round at a time (at most 5 ms each, as
         * prepare_short asks) for 80 ms. */
        do {
                c.e.quit = false;
                c.stop_after = c.posts + 1;
                assert_int_equal(vpsd_event_run(&c.e), 0);
        } while (now_ms() - t0 < 80);
        /* Each fired once: the loop read its timerfd, so it is not readable again. */
        assert_int_equal(rel.calls, 1);
        assert_int_equal(abs.calls, 1);
        assert_int_equal(now.calls, 1);
        assert_int_equal(off.calls, 0);
        assert_ptr_equal(rel.userdata, &c);
        /* Freed: its fd closed, and a second free does nothing. */
        vpsd_timer_free(&c.e, &rel.src);
        assert_int_equal(rel.src.fd, -1);
        vpsd_timer_free(&c.e, &rel.src);
        vpsd_timer_free(&c.e, &abs.src);
        vpsd_timer_free(&c.e, &now.src);
        vpsd_timer_free(&c.e, &off.src);
        vpsd_event_close(&c.e);
}

static void test_hooks_limited(void **state)
{
        struct vpsd_event e;
        vps_error err;
        assert_int_equal(vpsd_event_init(&e, &err), 0);
        for (int i = 0; i < VPSD_HOOKS; i++)
                assert_int_equal(vpsd_event_add_prepare(&e, prepare_short, NULL), 0);
        assert_true(vpsd_event_add_prepare(&e, prepare_short, NULL) < 0);
        vpsd_event_close(&e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_io_source_dispatch),
                cmocka_unit_test(test_removed_in_same_round),
                cmocka_unit_test(test_timers),
                cmocka_unit_test(test_hooks_limited),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
