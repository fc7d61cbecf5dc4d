/* criu_probe.c: whether this host can checkpoint VPSes, probed once at start-up by a child
 * (criu --version, criu check) watched by the loop, never on a VPS's start path; said in one
 * log line and in GET /v1/version's "checkpoint". */
#pragma once

struct vpsd;

/* Starts the probe (d->criu says "probing" until it ends); what cannot start is logged. */
void vpsd_criu_probe(struct vpsd *d);
