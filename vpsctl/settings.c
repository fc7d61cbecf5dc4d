/* vpsctl: the setting options create and set share, made from libvps's field table
 * (vps_fields, vps_limit_info): each is --KEY VALUE and goes into the body as "KEY", limits
 * under "limits"; their synopsis and help come from the table's metavar and help too. */
#include "vpsctl.h"
#include "config/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELP_WIDTH  88 /* columns of a help line at most */
#define HELP_COLUMN 21 /* where an option's text starts */

/* The i-th setting option (fields with a cli, then the limits): false past the last. */
static bool setting_at(unsigned int i, const char **name, const char **metavar, const char **help,
                       bool *repeat)
{
        for (unsigned int f = 0; f < VPS_F_COUNT; f++) {
                if (vps_fields[f].cli == VPS_CLI_NONE || i-- > 0)
                        continue;
                *name = vps_fields[f].key;
                *metavar = vps_fields[f].metavar;
                *help = vps_fields[f].help;
                *repeat = vps_fields[f].cli == VPS_CLI_LIST ||
                          vps_fields[f].cli == VPS_CLI_LIST_CLEAR;
                return true;
        }
        if (i >= VPS_LIM_COUNT)
                return false;
        *name = vps_limit_info[i].name;
        *metavar = vps_limit_info[i].metavar;
        *help = vps_limit_info[i].help;
        *repeat = false;
        return true;
}

/* Words written on lines of at most HELP_WIDTH columns, the next ones from indent. */
struct wrap {
        FILE *out;
        size_t col, indent;
        bool fresh; /* nothing on the line yet but the indent */
};

static void wrap_word(struct wrap *w, const char *word, size_t len)
{
        if (!w->fresh && w->col + 1 + len > HELP_WIDTH) {
                (void)fprintf(w->out, "\n%*s", (int)w->indent, "");
                w->col = w->indent;
                w->fresh = true;
        }
        if (!w->fresh) {
                (void)fputc(' ', w->out);
                w->col++;
        }
        (void)fwrite(word, 1, len, w->out);
        w->col += len;
        w->fresh = false;
}

/* text's words; a bracketed group ("[--hostname H]") is one word. */
static void wrap_text(struct wrap *w, const char *text)
{
        for (const char *p = text; *p;) {
                if (*p == ' ') {
                        p++;
                        continue;
                }
                size_t n = 0;
                for (int depth = 0; p[n] && (depth > 0 || p[n] != ' '); n++)
                        depth += p[n] == '[' ? 1 : p[n] == ']' ? -1 : 0;
                wrap_word(w, p, n);
                p += n;
        }
}

void vpsctl_setting_synopsis(FILE *out, const char *head, const char *tail)
{
        struct wrap w = {out, 0, HELP_COLUMN, true};
        const char *name, *metavar, *help;
        bool repeat;
        wrap_text(&w, head);
        for (unsigned int i = 0; setting_at(i, &name, &metavar, &help, &repeat); i++) {
                char item[96];
                int n = snprintf(item, sizeof(item), "[--%s %s]%s", name, metavar,
                                 repeat ? "..." : "");
                wrap_word(&w, item, n < 0 ? 0 : (size_t)n);
        }
        wrap_text(&w, tail);
        (void)fputc('\n', out);
}

void vpsctl_setting_help(FILE *out)
{
        const char *name, *metavar, *help;
        bool repeat;
        for (unsigned int i = 0; setting_at(i, &name, &metavar, &help, &repeat); i++) {
                int n = fprintf(out, "  --%s %s", name, metavar);
                struct wrap w = {out, n < 0 ? 0 : (size_t)n, HELP_COLUMN, false};
                if (w.col + 2 > HELP_COLUMN) { /* a long one: its text on the next line */
                        (void)fprintf(out, "\n%*s", HELP_COLUMN, "");
                        w.fresh = true;
                } else {
                        (void)fprintf(out, "%*s", (int)(HELP_COLUMN - 1 - w.col), "");
                }
                w.col = HELP_COLUMN - (w.fresh ? 0 : 1);
                wrap_text(&w, help);
                (void)fputc('\n', out);
        }
}

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
