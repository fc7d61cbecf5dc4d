/* vpsd: the browser console's static files, a fixed table of names (no path from the request
 * reaches the file system), each with a strict Content-Security-Policy: scripts from this
 * server alone, connections to it alone, no frames, no forms. */
#include "console_page.h"

#include "vps/cleanup.h"
#include "vps/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef VPSD_CONSOLE_DIR
#define VPSD_CONSOLE_DIR "/usr/share/vps/console"
#endif
#define PAGE_FILE_MAX (8 * 1024 * 1024)

/* xterm.js sets its colours and sizes in <style> elements it makes: hence 'unsafe-inline'
 * for styles, never for scripts. */
#define CSP                                                                                        \
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                \
        "connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; "             \
        "form-action 'none'; frame-ancestors 'none'"

static const struct page_file {
        const char *name, *type;
} files[] = {
        {"console.html", "text/html; charset=utf-8"},
        {"console.js", "text/javascript; charset=utf-8"},
        {"console.css", "text/css; charset=utf-8"},
        {"xterm.js", "text/javascript; charset=utf-8"},
        {"xterm.css", "text/css; charset=utf-8"},
};

#define ASSETS "/console/_/"

static const struct page_file *lookup(const char *url)
{
        if (!strncmp(url, ASSETS, strlen(ASSETS))) {
                for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
                        if (!strcmp(url + strlen(ASSETS), files[i].name))
                                return &files[i];
                return NULL;
        }
        if (!strncmp(url, "/console/", 9) && vps_id_valid(url + 9))
                return &files[0];
        return NULL;
}

bool vpsd_console_page_route(const char *url)
{
        return !strncmp(url, "/console/", 9);
}

static enum MHD_Result queue_plain(struct MHD_Connection *c, unsigned int status, const char *msg)
{
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
        if (!r)
                return MHD_NO;
        (void)MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

enum MHD_Result vpsd_console_page(struct MHD_Connection *c, const char *url)
{
        const struct page_file *f = lookup(url);
        if (!f)
                return queue_plain(c, 404, "no such page\n");
        const char *dir = getenv("VPSD_CONSOLE_DIR");
        char path[4096];
        (void)snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : VPSD_CONSOLE_DIR, f->name);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PAGE_FILE_MAX)
                return queue_plain(c, 404,
                                   "the browser console is not installed (xterm.js from npm: "
                                   "see docs/api.md)\n");
        struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
        if (!r)
                return MHD_NO;
        fd = -1; /* MHD's now */
        (void)MHD_add_response_header(r, "Content-Type", f->type);
        (void)MHD_add_response_header(r, "Content-Security-Policy", CSP);
        (void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        (void)MHD_add_response_header(r, "X-Frame-Options", "DENY");
        (void)MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        (void)MHD_add_response_header(r, "Cache-Control", "no-store");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
}
