/* shutdown.c: stopping every VPS for a host shutdown (POST /v1/shutdown, vpsd --shutdown-all),
 * and the answers to suspended requests as vpsd exits. */
#pragma once

struct vpsd;

/* Answers the shutdown requests once no VPS runs any more. */
void vpsd_shutdown_check(struct vpsd *d);
/* vpsd --shutdown-all: asks the vpsd on sock to stop every VPS (timeout s each, in
 * parallel) and waits; returns the exit status. */
int vpsd_shutdown_all_client(const char *sock, int timeout);
/* Answers every suspended request (waiting for a stop or a shutdown) with an error, as vpsd
 * exits: libmicrohttpd cannot stop with suspended connections. */
void vpsd_answer_suspended(struct vpsd *d);
