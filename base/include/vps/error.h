/* libvps error contract: every fallible function takes a `vps_error *err` and returns a
 * negative errno on failure (0 or a positive value on success). The message is complete
 * and human readable; callers add context with vps_err_wrap(). Library code never prints. */
#pragma once

#include <stdarg.h>

#define VPS_ERROR_MSG_MAX 1024

typedef struct vps_error {
        int code; /* positive errno value, 0 when no error is set */
        char msg[VPS_ERROR_MSG_MAX];
} vps_error;

/* Sets err to errnum and the formatted message; returns -errnum (never 0: errnum 0 is
 * turned into EIO). */
int vps_err(vps_error *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Same, appending ": strerror(errnum)" to the message. */
int vps_err_sys(vps_error *err, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message; returns -err->code. */
int vps_err_wrap(vps_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void vps_err_clear(vps_error *err);

/* The HTTP status that best describes an errno (404 for ENOENT, 409 for EEXIST...). */
int vps_err_http_status(int errnum);
