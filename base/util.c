/* libvps: validation and parsing of the small values users type (IDs, names, sizes). */
#include "vps/util.h"
#include "vps/syscalls.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool name_valid(const char *s, const char *extra)
{
        if (!s || !isalnum((unsigned char)s[0]))
                return false;
        size_t n = strlen(s);
        if (n > VPS_ID_MAX)
                return false;
        for (size_t i = 1; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!isalnum(c) && c != '_' && c != '-' && !(extra && strchr(extra, c)))
                        return false;
        }
        return true;
}

/* vzctl's numbers: decimal, no leading zero, 1 to 2147483647 (0 is the host). A word of digits
 * alone is read as such a number, so "0201" and "201" can never name two VPSes. */
static bool numeric_id_valid(const char *s)
{
        size_t n = strspn(s, "0123456789");
        if (s[n] != '\0')
                return false;
        return s[0] != '0' && (n < 10 || (n == 10 && strcmp(s, "2147483647") <= 0));
}

uint32_t vps_fnv1a(const char *s)
{
        uint32_t h = 2166136261u;
        for (const char *p = s; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        return h;
}

void vps_printable(const char *s, size_t len, char *ret, size_t size)
{
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        if (size == 0)
                return;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                bool plain = c >= 0x20 && c < 0x7f && c != '\\';
                size_t need = plain ? 1 : 4;
                if (o + need >= size)
                        break;
                if (plain) {
                        ret[o++] = (char)c;
                        continue;
                }
                ret[o++] = '\\';
                ret[o++] = 'x';
                ret[o++] = hex[c >> 4];
                ret[o++] = hex[c & 15];
        }
        ret[o] = '\0';
}

bool vps_id_valid(const char *id)
{
        if (!name_valid(id, NULL))
                return false;
        return strspn(id, "0123456789") != strlen(id) || numeric_id_valid(id);
}

int vps_id_check(const char *id, vps_error *err)
{
        if (vps_id_valid(id))
                return 0;
        return vps_err(err, EINVAL,
                       "invalid VPS ID '%.80s': a number from 1 to 2147483647 without leading "
                       "zeros, or a name of letters, digits, '_' and '-' (at most 63 characters, "
                       "starting with a letter or digit, not digits alone)",
                       id ? id : "");
}

int vps_template_name_check(const char *name, vps_error *err)
{
        if (name_valid(name, "."))
                return 0;
        return vps_err(err, EINVAL,
                       "invalid template name '%.80s': use letters, digits, '_', '-' and '.', "
                       "at most 63 characters, starting with a letter or digit",
                       name ? name : "");
}

/* The first problem of one label (len bytes at l) of hostname h, or 0. */
static int label_check(const char *h, const char *l, size_t len, vps_error *err)
{
        if (len == 0)
                return vps_err(err, EINVAL,
                               "invalid hostname '%.80s': an empty label (a dot at the start or "
                               "the end, or two in a row)",
                               h);
        if (len > VPS_LABEL_MAX)
                return vps_err(err, EINVAL,
                               "invalid hostname '%.80s%s': label '%.20s...' has %zu characters, "
                               "at most %d",
                               h, strlen(h) > 80 ? "..." : "", l, len, VPS_LABEL_MAX);
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)l[i]) && l[i] != '-')
                        return vps_err(err, EINVAL,
                                       isprint((unsigned char)l[i])
                                               ? "invalid hostname '%.80s': '%c' is not allowed "
                                                 "(letters, digits, '-' and '.' only)"
                                               : "invalid hostname '%.80s': character 0x%02x is "
                                                 "not allowed (letters, digits, '-' and '.' only)",
                                       isprint((unsigned char)l[i]) ? h : "", (unsigned char)l[i]);
        if (l[0] == '-' || l[len - 1] == '-')
                return vps_err(err, EINVAL, "invalid hostname '%.80s': label '%.*s' %s with '-'", h,
                               (int)len, l, l[0] == '-' ? "starts" : "ends");
        return 0;
}

int vps_hostname_check(const char *h, vps_error *err)
{
        size_t n = h ? strlen(h) : 0;
        if (n == 0)
                return vps_err(err, EINVAL, "invalid hostname '': it is empty");
        for (const char *l = h;;) {
                size_t len = strcspn(l, ".");
                int r = label_check(h, l, len, err);
                if (r < 0)
                        return r;
                if (!l[len])
                        break;
                l += len + 1;
        }
        if (n > VPS_HOSTNAME_MAX)
                return vps_err(err, EINVAL,
                               "invalid hostname '%.40s...': %zu characters, at most %d", h, n,
                               VPS_HOSTNAME_MAX);
        return 0;
}

void vps_hostname_kernel(const char *h, char ret[VPS_UTSNAME_MAX + 1])
{
        size_t n = strlen(h);
        if (n > VPS_UTSNAME_MAX)
                n = strcspn(h, ".");
        if (n > VPS_UTSNAME_MAX) /* no label is longer than 63: only for unchecked names */
                n = VPS_UTSNAME_MAX;
        memcpy(ret, h, n);
        ret[n] = '\0';
}

int vps_size_parse(const char *s, uint64_t *ret, vps_error *err)
{
        if (!s || !*s)
                return vps_err(err, EINVAL, "empty size");
        if (strcasecmp(s, "unlimited") == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        /* Digits with at most one '.', then the unit: no hex, exponents or signs. */
        size_t digits = strspn(s, "0123456789");
        size_t frac = s[digits] == '.' ? strspn(s + digits + 1, "0123456789") : 0;
        if (digits == 0 || (s[digits] == '.' && frac == 0))
                return vps_err(err, EINVAL,
                               "invalid size '%.40s': expected a number with an "
                               "optional K, M, G, T or P suffix",
                               s);
        errno = 0;
        char *end = NULL;
        double v = strtod(s, &end);
        size_t numlen = digits + (s[digits] == '.' ? 1 + frac : 0);
        if (errno || end != s + numlen || !isfinite(v) || v < 0)
                return vps_err(err, EINVAL, "invalid size '%.40s'", s);
        static const char units[] = "KMGTP";
        double mult = 1;
        if (*end) {
                const char *u = strchr(units, toupper((unsigned char)*end));
                if (!u)
                        return vps_err(err, EINVAL, "invalid size '%.40s': unknown unit '%c'", s,
                                       *end);
                for (const char *p = units; p <= u; p++)
                        mult *= 1024;
                end++;
                if (*end == 'i' || *end == 'I')
                        end++;
                if (*end == 'b' || *end == 'B')
                        end++;
                if (*end)
                        return vps_err(err, EINVAL, "invalid size '%.40s': trailing '%s'", s, end);
        }
        double bytes = v * mult;
        /* Range first: converting a double of 2^64 or more to an integer is undefined. */
        if (!isfinite(bytes) || bytes >= 18446744073709551615.0)
                return vps_err(err, ERANGE, "size '%.40s' is too large", s);
        if (bytes != (double)(uint64_t)bytes)
                return vps_err(err, EINVAL, "invalid size '%.40s': not a whole number of bytes", s);
        *ret = (uint64_t)bytes;
        return 0;
}

int vps_rate_parse(const char *s, uint64_t *ret, vps_error *err)
{
        static const struct {
                const char *unit;
                double mult;
        } units[] = {{"bit", 1},      {"kbit", 1e3},        {"mbit", 1e6},
                     {"gbit", 1e9},   {"tbit", 1e12},       {"bps", 8},
                     {"kbps", 8e3},   {"mbps", 8e6},        {"gbps", 8e9},
                     {"kibit", 1024}, {"mibit", 1048576.0}, {"gibit", 1073741824.0}};
        if (!s || !*s)
                return vps_err(err, EINVAL, "empty rate");
        if (strcasecmp(s, "unlimited") == 0) {
                *ret = 0;
                return 0;
        }
        size_t digits = strspn(s, "0123456789");
        size_t frac = s[digits] == '.' ? strspn(s + digits + 1, "0123456789") : 0;
        const char *unit = s + digits + (s[digits] == '.' ? 1 + frac : 0);
        double mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (strcasecmp(unit, units[i].unit) == 0)
                        mult = units[i].mult;
        if (digits == 0 || (s[digits] == '.' && frac == 0) || mult == 0)
                return vps_err(err, EINVAL,
                               "invalid rate '%.40s': expected a number and a unit: kbit, mbit, "
                               "gbit (bits per second) or kbps, mbps (bytes per second)",
                               s);
        double bits = strtod(s, NULL) * mult;
        if (!isfinite(bits) || bits < 8000 || bits > 400e9)
                return vps_err(err, ERANGE, "rate '%.40s' is out of range (8kbit to 400gbit)", s);
        *ret = (uint64_t)bits;
        return 0;
}

int vps_signal_parse(const char *s, int *ret, vps_error *err)
{
        static const struct {
                const char *name;
                int sig;
        } table[] = {
                {"SIGHUP", SIGHUP},   {"SIGINT", SIGINT},   {"SIGQUIT", SIGQUIT},
                {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2},
                {"SIGTERM", SIGTERM}, {"SIGPWR", SIGPWR},
        };
        if (!s || !*s)
                return vps_err(err, EINVAL, "empty signal name");
        if (isdigit((unsigned char)s[0])) {
                char *end = NULL;
                long n = strtol(s, &end, 10);
                if (*end || n <= 0 || n > SIGRTMAX)
                        return vps_err(err, EINVAL, "invalid signal '%.40s'", s);
                *ret = (int)n;
                return 0;
        }
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (strcmp(s, table[i].name) == 0) {
                        *ret = table[i].sig;
                        return 0;
                }
        if (strncmp(s, "SIGRTMIN", 8) == 0) {
                long off = 0;
                if (s[8] == '+') {
                        char *end = NULL;
                        off = strtol(s + 9, &end, 10);
                        if (*end || end == s + 9)
                                off = -1;
                } else if (s[8]) {
                        off = -1;
                }
                if (off >= 0 && off <= SIGRTMAX - SIGRTMIN) {
                        *ret = SIGRTMIN + (int)off;
                        return 0;
                }
        }
        return vps_err(err, EINVAL, "invalid signal '%.40s'", s);
}

int vps_buf_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n, size_t max,
                   size_t hint)
{
        if (n > max - *len)
                return -EMSGSIZE;
        size_t need = *len + n + 1;
        if (need > *cap) {
                size_t c = hint ? hint : *cap ? *cap * 2 : 4096;
                if (c > max + 1)
                        c = max + 1;
                if (c < need)
                        c = need;
                char *p = realloc(*buf, c);
                if (!p)
                        return -ENOMEM;
                *buf = p;
                *cap = c;
        }
        memcpy(*buf + *len, data, n);
        *len += n;
        (*buf)[*len] = '\0';
        return 0;
}

int vps_grow(char **buf, size_t *cap, size_t n)
{
        if (n <= *cap)
                return 0;
        size_t c = *cap ? *cap : 256;
        while (c < n)
                c = c > SIZE_MAX / 2 ? n : c * 2;
        char *p = realloc(*buf, c);
        if (!p)
                return -ENOMEM;
        *buf = p;
        *cap = c;
        return 0;
}

ssize_t vps_read_full(int fd, void *buf, size_t len)
{
        size_t got = 0;
        while (got < len) {
                ssize_t n = read(fd, (char *)buf + got, len - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        return (ssize_t)got;
}

ssize_t vps_write_full(int fd, const void *buf, size_t len)
{
        size_t done = 0;
        while (done < len) {
                ssize_t n = write(fd, (const char *)buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                done += (size_t)n;
        }
        return (ssize_t)done;
}

int vps_fd_high(int fd)
{
        if (fd < 0 || fd >= 1024)
                return fd;
        int h = fcntl(fd, F_DUPFD_CLOEXEC, 1024);
        if (h < 0)
                return fd;
        close(fd);
        return h;
}

int vps_close_all_but(unsigned int from, const int *keep, size_t n)
{
        int k[8];
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                if (keep[i] < (int)from)
                        continue;
                if (m == sizeof(k) / sizeof(k[0]))
                        return -E2BIG;
                size_t j = m++;
                for (; j > 0 && k[j - 1] > keep[i]; j--) /* insertion: n is a few */
                        k[j] = k[j - 1];
                k[j] = keep[i];
        }
        for (size_t i = 0; i < m; i++) {
                if ((unsigned int)k[i] > from &&
                    vps_sys_close_range(from, (unsigned int)k[i] - 1, 0) < 0)
                        return -errno;
                from = (unsigned int)k[i] + 1;
        }
        return vps_sys_close_range(from, ~0U, 0) < 0 ? -errno : 0;
}

int vps_oom_score_self(int adj)
{
        char v[16];
        int n = snprintf(v, sizeof(v), "%d", adj);
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write(fd, v, (size_t)n) == n ? 0 : -errno;
        close(fd);
        return r;
}
