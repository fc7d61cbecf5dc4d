/* vpsd's event loop (loop.c), in sd-event's style: a source is an fd, the events it waits
 * for, a callback and its userdata; a timer is a source over a timerfd. Modules register their
 * own sources; the loop knows none of them. Sources are embedded in their owner's struct (no
 * allocation): container_of gets the owner back in the callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vps/error.h"

struct epoll_event;

#define vpsd_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct vpsd_source;
typedef void (*vpsd_io_fn)(struct vpsd_source *s, uint32_t revents, void *userdata);
/* Called before each wait: returns the milliseconds until it wants the loop to wake, or -1. */
typedef int (*vpsd_prepare_fn)(void *userdata);
/* Called after each round of callbacks. */
typedef void (*vpsd_post_fn)(void *userdata);

struct vpsd_source {
        int fd; /* -1: not watched */
        uint32_t events;
        bool timer; /* its timerfd is read before the callback runs */
        vpsd_io_fn fn;
        void *userdata;
};

#define VPSD_HOOKS 4

struct vpsd_event {
        int epfd; /* -1 before vpsd_event_init */
        bool quit;
        /* The round being dispatched: a source removed by an earlier callback of the same
         * round (and perhaps freed) is struck from it, never called. */
        struct epoll_event *batch;
        int batch_n, batch_i;
        unsigned int n_prepare, n_post;
        struct {
                vpsd_prepare_fn fn;
                void *userdata;
        } prepare[VPSD_HOOKS];
        struct {
                vpsd_post_fn fn;
                void *userdata;
        } post[VPSD_HOOKS];
};

int vpsd_event_init(struct vpsd_event *e, vps_error *err);
void vpsd_event_close(struct vpsd_event *e);
/* Fills in a source without watching it yet (vpsd_event_attach does, once the loop exists). */
void vpsd_source_set(struct vpsd_source *s, int fd, uint32_t events, vpsd_io_fn fn, void *userdata);
int vpsd_event_attach(struct vpsd_event *e, struct vpsd_source *s, vps_error *err);
/* vpsd_source_set and vpsd_event_attach; on failure s is not watched (s->fd is still fd). */
int vpsd_event_add(struct vpsd_event *e, struct vpsd_source *s, int fd, uint32_t events,
                   vpsd_io_fn fn, void *userdata, vps_error *err);
/* Stops watching s (its fd stays open; a no-op when not watched). */
void vpsd_event_del(struct vpsd_event *e, struct vpsd_source *s);

/* A timer: a CLOCK_MONOTONIC timerfd (owned by s) watched by the loop, disarmed. */
int vpsd_timer_new(struct vpsd_event *e, struct vpsd_source *s, vpsd_io_fn fn, void *userdata,
                   vps_error *err);
/* Arms it to fire once: at CLOCK_MONOTONIC ms when absolute, else in ms (0: at once). */
int vpsd_timer_set(struct vpsd_source *s, int64_t ms, bool absolute, vps_error *err);
/* Stops watching it and closes its timerfd (a no-op when there is none). */
void vpsd_timer_free(struct vpsd_event *e, struct vpsd_source *s);

int vpsd_event_add_prepare(struct vpsd_event *e, vpsd_prepare_fn fn, void *userdata);
int vpsd_event_add_post(struct vpsd_event *e, vpsd_post_fn fn, void *userdata);

/* Runs until vpsd_event_exit; returns 0, or a negative errno when the wait failed. */
int vpsd_event_run(struct vpsd_event *e);
void vpsd_event_exit(struct vpsd_event *e);
