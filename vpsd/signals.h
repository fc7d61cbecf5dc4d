/* signals.c: SIGTERM and SIGINT end the loop (the VPSes keep running), SIGHUP re-executes. */
#pragma once

#include "vps/error.h"

struct vpsd;

/* Blocks them, ignores SIGPIPE and watches a signalfd in the loop. */
int vpsd_signals_init(struct vpsd *d, vps_error *err);
