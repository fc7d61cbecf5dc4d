/* libFuzzer target: the small text parsers. Each input line goes through the ID, template
 * name, hostname, size, signal and address parsers; the whole input through the mountinfo and
 * /proc/self/cgroup parsers. A parsed address is formatted and parsed again: same address. */
#include "vps/netaddr.h"
#include "cgroup/cgroup.h"
#include "vps/util.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_text.h"

static void one_line(const char *s)
{
        vps_error err = {0};
        (void)vps_id_check(s, &err);
        (void)vps_template_name_check(s, &err);
        (void)vps_hostname_check(s, &err);
        uint64_t bytes;
        (void)vps_size_parse(s, &bytes, &err);
        uint64_t bits;
        if (vps_rate_parse(s, &bits, &err) == 0 && bits != 0 &&
            (bits < 8000 || bits > 400000000000ull)) {
                fprintf(stderr, "fuzz_parsers: rate %llu out of range\n", (unsigned long long)bits);
                abort();
        }
        int sig;
        if (vps_signal_parse(s, &sig, &err) == 0 && (sig <= 0 || sig > 64)) {
                fprintf(stderr, "fuzz_parsers: signal %d out of range\n", sig);
                abort();
        }
        struct ns_addr a, b;
        if (ns_addr_parse(s, &a, &err) == 0) {
                unsigned int max = a.family == AF_INET ? 32 : 128;
                if ((a.family != AF_INET && a.family != AF_INET6) || a.prefix > max) {
                        fprintf(stderr, "fuzz_parsers: bad parsed address\n");
                        abort();
                }
                char text[INET6_ADDRSTRLEN + 1];
                ns_addr_format(&a, text, sizeof(text));
                if (ns_addr_parse(text, &b, &err) != 0 || !ns_addr_equal(&a, &b) ||
                    b.family != a.family || !ns_addr_in(&a, &b)) {
                        fprintf(stderr, "fuzz_parsers: address '%s' does not round trip\n", text);
                        abort();
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = fuzz_text(data, size);
        if (!text)
                return 0;

        vps_error err = {0};
        char out[256];
        (void)vps_cgroup_find_mount(text, out, sizeof(out), &err);
        char small[8];
        (void)vps_cgroup_find_mount(text, small, sizeof(small), &err);
        char self[512];
        (void)vps_cgroup_parse_self(text, self, sizeof(self), &err);
        (void)vps_cgroup_parse_self(text, small, sizeof(small), &err);

        /* Lines (the copy is cut in place; an embedded NUL ends a line early). */
        for (char *line = text, *next; line; line = next) {
                char *nl = memchr(line, '\n', (size_t)(text + size - line));
                next = nl ? nl + 1 : NULL;
                if (nl)
                        *nl = '\0';
                one_line(line);
        }
        free(text);
        return 0;
}
