/* reexec.c: SIGHUP execs the binary again, keeping the API socket, consoles and VPSes. */
#pragma once

struct vpsd;

void vpsd_reexec_save_argv(char **argv);
/* Why a re-exec must wait (a build, a stop under way), or NULL. */
const char *vpsd_reexec_blocker(struct vpsd *d);
/* Execs the binary again keeping the API socket and the console ptys; returns on failure. */
void vpsd_reexec(struct vpsd *d);
/* After such an exec: the API socket, or -1; the consoles and children of the VPSes. */
int vpsd_inherited_listen_fd(void);
/* The remote API's listening socket a re-exec kept, or -1. */
int vpsd_inherited_tls_fd(void);
void vpsd_inherit_consoles(struct vpsd *d);
/* The commands run through the API before a re-exec, taken back (after the loop exists). */
void vpsd_inherit_sessions(struct vpsd *d);
