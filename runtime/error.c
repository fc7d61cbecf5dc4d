/* libvps: the one error type, carrying errno and a complete message. */
#include "vps/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int set_code(vps_error *err, int errnum)
{
        if (errnum < 0)
                errnum = -errnum;
        if (errnum == 0)
                errnum = EIO;
        if (err)
                err->code = errnum;
        return -errnum;
}

int vps_err(vps_error *err, int errnum, const char *fmt, ...)
{
        int r = set_code(err, errnum);
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
        }
        return r;
}

int vps_err_sys(vps_error *err, int errnum, const char *fmt, ...)
{
        int r = set_code(err, errnum);
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
                if (n >= 0 && (size_t)n < sizeof(err->msg))
                        (void)snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s",
                                       strerror(-r));
        }
        return r;
}

int vps_err_wrap(vps_error *err, const char *fmt, ...)
{
        if (!err)
                return -EIO;
        char ctx[VPS_ERROR_MSG_MAX], old[VPS_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(ctx, sizeof(ctx), fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof(old));
        /* Truncation keeps the start of the message, which is what matters. */
        size_t n = strnlen(ctx, sizeof(err->msg) - 3);
        memcpy(err->msg, ctx, n);
        memcpy(err->msg + n, ": ", 2);
        size_t rest = sizeof(err->msg) - n - 3;
        size_t ol = strnlen(old, rest);
        memcpy(err->msg + n + 2, old, ol);
        err->msg[n + 2 + ol] = '\0';
        return set_code(err, err->code);
}

void vps_err_clear(vps_error *err)
{
        if (err) {
                err->code = 0;
                err->msg[0] = '\0';
        }
}

int vps_err_http_status(int errnum)
{
        switch (errnum < 0 ? -errnum : errnum) {
        case ENOENT:
        case ESRCH:
                return 404;
        case EEXIST:
        case EBUSY:
        case EALREADY:
        case ENOTEMPTY:
        case EINPROGRESS:
                return 409;
        case EINVAL:
        case ERANGE:
        case ENAMETOOLONG:
        case E2BIG:
        case EBADMSG:
                return 400;
        case EPERM:
        case EACCES:
                return 403;
        case EOPNOTSUPP:
        case ENOSYS:
                return 501;
        case ETIMEDOUT:
                return 504;
        default:
                return 500;
        }
}
