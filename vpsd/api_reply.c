/* vpsd: the API's responses as libmicrohttpd queues them (api_reply.h): a JSON body dumped,
 * the metrics' text, and a body a route wrote as text itself. */
#include "api_reply.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A JSON answer, with a header of its own when hdr is not NULL (Retry-After of a 429). */
enum MHD_Result vpsd_queue_json_hdr(struct MHD_Connection *c, unsigned int status, json_t *body,
                                    const char *hdr, const char *value)
{
        /* ?pretty=1: indented by two spaces, as `vpsctl ... -j` prints (it then prints the
         * answer as it is, see cmd_list.c). */
        const char *pretty = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pretty");
        size_t flags = pretty && strcmp(pretty, "0") != 0 ? JSON_INDENT(2) : JSON_COMPACT;
        char *text = body ? json_dumps(body, flags) : NULL;
        json_decref(body);
        if (!text)
                text = strdup("{\"error\": \"out of memory\", \"errno\": 12}");
        if (!text)
                return MHD_NO;
        size_t len = strlen(text);
        char *t = realloc(text, len + 2);
        if (t) {
                text = t;
                text[len++] = '\n';
                text[len] = '\0';
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(text);
                return MHD_NO;
        }
        (void)MHD_add_response_header(r, "Content-Type", "application/json");
        if (hdr)
                (void)MHD_add_response_header(r, hdr, value);
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

enum MHD_Result vpsd_queue_json(struct MHD_Connection *c, unsigned int status, json_t *body)
{
        return vpsd_queue_json_hdr(c, status, body, NULL, NULL);
}

/* GET /metrics: the text its route made, as Prometheus reads it. */
enum MHD_Result vpsd_queue_text(struct MHD_Connection *c, json_t *body)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
                json_string_length(body), (void *)json_string_value(body), MHD_RESPMEM_MUST_COPY);
        json_decref(body);
        if (!r)
                return MHD_NO;
        (void)MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
}

/* An answer its route wrote as text (already narrowed to what its client may see). */
enum MHD_Result vpsd_queue_raw(struct MHD_Connection *c, char **text, size_t len)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(len, *text, MHD_RESPMEM_MUST_FREE);
        if (!r)
                return MHD_NO;
        *text = NULL; /* the response's now */
        (void)MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
}
