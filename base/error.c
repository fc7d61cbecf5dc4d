/* libvps: the one error type, carrying errno and a complete message. */
#include "vps/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Length of the UTF-8 sequence at s as RFC 3629 (and jansson) accept it: no overlong forms,
 * no surrogates, nothing above U+10FFFF; 0 when s does not start one. */
static size_t utf8_seq(const unsigned char *s)
{
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4;
        else
                return 0;
        if (s[0] == 0xe0)
                lo = 0xa0;
        else if (s[0] == 0xed)
                hi = 0x9f;
        else if (s[0] == 0xf0)
                lo = 0x90;
        else if (s[0] == 0xf4)
                hi = 0x8f;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

/* Messages quote what they were given (an ID, a path, a method) and are cut at a byte count:
 * bytes that are not UTF-8 become '?', so that every message fits in a JSON string (vpsd's
 * answers; jansson refuses anything else and the answer would be lost). */
static void utf8_clean(char *msg)
{
        for (unsigned char *p = (unsigned char *)msg; *p;) {
                size_t n = utf8_seq(p);
                if (n == 0) {
                        *p++ = '?';
                        continue;
                }
                p += n;
        }
}

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
                utf8_clean(err->msg);
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
                utf8_clean(err->msg);
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
        utf8_clean(err->msg);
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
        case EADDRINUSE: /* a port or address another holds */
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
        case EOPNOTSUPP: /* what this host cannot do (quotas, a controller) */
        case ENOSYS:
                return 501;
        case ETIMEDOUT:
                return 504;
        default:
                return 500;
        }
}
