/* reqcheck.c: control characters kept out of request paths and arguments (api.c). */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* MHD's unescape callback: %HH decoded, a control character turned into DEL. */
size_t vpsd_unescape(void *cls, struct MHD_Connection *c, char *s);
/* Whether the path or a query argument holds a control character (DEL included). */
bool vpsd_request_has_control(struct MHD_Connection *c, const char *url);
