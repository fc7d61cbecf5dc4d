/* vpsd: what no request may carry: a control character in its path or query arguments,
 * refused before authentication and routing (api.c). */
#include "reqcheck.h"

#include <stdbool.h>
#include <stddef.h>

/* %HH escapes decoded, but a control character (%00 first: the path would end there, and
 * "/v1/vps/300%00x" act on VPS 300) becomes DEL, which on_access refuses wherever it is. */
size_t vpsd_unescape(void *cls, struct MHD_Connection *c, char *s)
{
        (void)cls;
        (void)c;
        size_t n = MHD_http_unescape(s);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20)
                        s[i] = 0x7f;
        return n;
}

static bool has_control(const char *s)
{
        for (; s && *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static enum MHD_Result arg_has_control(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
        (void)kind;
        bool *found = cls;
        *found = *found || has_control(key) || has_control(value);
        return *found ? MHD_NO : MHD_YES;
}

/* No ID, name or argument with a control character reaches a handler. */
bool vpsd_request_has_control(struct MHD_Connection *c, const char *url)
{
        bool found = has_control(url);
        if (!found)
                (void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, arg_has_control, &found);
        return found;
}
