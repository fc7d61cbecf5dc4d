/* console_page.c: GET /console/ID, the browser console's page (a terminal, xterm.js, over
 * the WebSocket of GET /v1/vps/ID/console), and its files under /console/_/. Static, read
 * from a directory of root's (VPSD_CONSOLE_DIR), served before authentication: they hold no
 * secret, and the page asks for the token itself. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>

bool vpsd_console_page_route(const char *url);
enum MHD_Result vpsd_console_page(struct MHD_Connection *c, const char *url);
