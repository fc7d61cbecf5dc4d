/* vpsctl: the setting options create and set share, made from libvps's field table
 * (vps_fields, vps_limit_info): each is --KEY VALUE and goes into the body as "KEY", limits
 * under "limits". */
#include "vpsctl.h"
#include "config/config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

size_t vpsctl_setting_options(struct option *out, size_t max)
{
        size_t n = 0;
        for (unsigned int i = 0; i < VPS_F_COUNT && n < max; i++)
                if (vps_fields[i].cli != VPS_CLI_NONE)
                        out[n++] = (struct option){vps_fields[i].key, required_argument, NULL,
                                                   VPSCTL_OPT_FIELD + (int)i};
        for (unsigned int k = 0; k < VPS_LIM_COUNT && n < max; k++)
                out[n++] = (struct option){vps_limit_info[k].name, required_argument, NULL,
                                           VPSCTL_OPT_LIMIT + (int)k};
        return n;
}

/* body[key], an array made on first use. */
static json_t *array_of(json_t *body, const char *key)
{
        json_t *a = json_object_get(body, key);
        if (!a) {
                a = json_array();
                json_object_set_new(body, key, a);
        }
        return a;
}

static int field_arg(const struct vpsctl *v, const struct vps_field *f, const char *arg,
                     json_t *body)
{
        char *end = NULL;
        long n;
        switch (f->cli) {
        case VPS_CLI_STRING:
                json_object_set_new(body, f->key, json_string(arg));
                return CMD_CONTINUE;
        case VPS_CLI_LIST:
                json_array_append_new(array_of(body, f->key), json_string(arg));
                return CMD_CONTINUE;
        case VPS_CLI_LIST_CLEAR: {
                json_t *a = array_of(body, f->key);
                if (strcmp(arg, "none") != 0)
                        json_array_append_new(a, json_string(arg));
                return CMD_CONTINUE;
        }
        case VPS_CLI_YESNO:
                if (strcmp(arg, "yes") != 0 && strcmp(arg, "no") != 0)
                        return vpsctl_usage_error(v, "invalid --%s '%s': expected yes or no",
                                                  f->key, arg);
                json_object_set_new(body, f->key, json_boolean(strcmp(arg, "yes") == 0));
                return CMD_CONTINUE;
        case VPS_CLI_INT:
                n = strtol(arg, &end, 10);
                if (!*arg || *end)
                        return vpsctl_usage_error(v, "invalid --%s '%s': expected a number", f->key,
                                                  arg);
                json_object_set_new(body, f->key, json_integer(n));
                return CMD_CONTINUE;
        case VPS_CLI_NONE:
                break;
        }
        return vpsctl_usage_error(v, "--%s is no setting", f->key);
}

int vpsctl_setting_arg(const struct vpsctl *v, int c, const char *arg, json_t **body)
{
        bool field = c >= VPSCTL_OPT_FIELD && c < VPSCTL_OPT_FIELD + VPS_F_COUNT;
        bool limit = c >= VPSCTL_OPT_LIMIT && c < VPSCTL_OPT_LIMIT + VPS_LIM_COUNT;
        if (!field && !limit)
                return 0;
        if (!*body)
                *body = json_object();
        if (field)
                return field_arg(v, &vps_fields[c - VPSCTL_OPT_FIELD], arg, *body);
        json_t *limits = json_object_get(*body, "limits");
        if (!limits) {
                limits = json_object();
                json_object_set_new(*body, "limits", limits);
        }
        json_object_set_new(limits, vps_limit_info[c - VPSCTL_OPT_LIMIT].name, json_string(arg));
        return CMD_CONTINUE;
}
