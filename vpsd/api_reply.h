/* api_reply.c: the API's responses, queued on a libmicrohttpd connection. */
#pragma once

#include <microhttpd.h>
#include <stddef.h>

typedef struct json_t json_t;

/* body dumped as JSON (indented with ?pretty=1) and a newline; takes body. hdr and value: a
 * header of its own (Retry-After of a 429), or NULL. */
enum MHD_Result vpsd_queue_json_hdr(struct MHD_Connection *c, unsigned int status, json_t *body,
                                    const char *hdr, const char *value);
enum MHD_Result vpsd_queue_json(struct MHD_Connection *c, unsigned int status, json_t *body);
/* GET /metrics: body is a JSON string holding the text; takes body. */
enum MHD_Result vpsd_queue_text(struct MHD_Connection *c, json_t *body);
/* 200 with *text (len bytes, JSON) as it is; the response takes *text (set to NULL) when
 * it could be made. */
enum MHD_Result vpsd_queue_raw(struct MHD_Connection *c, char **text, size_t len);
