/* progress_feed.c: a job child's progress on the event stream (GET /v1/events) as "progress"
 * events: {vps, operation, phase, unit, done, total, files, bytes}. The child (a snapshot's,
 * switch's, clone's, reinstall's, backup's or restore's, a fork of vpsd) sends its progress
 * frames' JSON on a socket of its own, at most every 0.5 s plus its last (stream.c); the loop
 * emits each as an event of the VPS and operation it opened the feed for (never what the
 * child says), so the events' filter (a token sees its VPSes alone) applies as to any other
 * event. Opened only while someone subscribes: without subscribers a job costs nothing more. */
#pragma once

struct vpsd;

/* A feed for a child about to be forked for operation op ("snapshot"...) on VPS id: the
 * child's end in *ret_child_fd (-1: no subscriber, no feed), for the parent to close once
 * the child is forked (vpsd_progress_feed_child in the child). The parent's end is watched
 * until the child closes its end (it exits). */
void vpsd_progress_feed_open(struct vpsd *d, const char *id, const char *op, int *ret_child_fd);
