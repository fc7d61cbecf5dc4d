/* vpsctl: tables and JSON text from the daemon's objects, without touching anything but the
 * FILE * a caller passes in (see format.h). */
#include "format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vps/cleanup.h"

char *const format_vps_fields[] = {
        "id",         "status",   "hostname",  "ip",   "ostemplate", "pid",        "pid_starttime",
        "cgroup",     "uid_base", "uid_count", "root", "created_at", "started_at", "diskspace",
        "diskinodes", "plan",     NULL,
};

char *const format_vps_default_fields[] = {
        "id", "status", "pid", "hostname", "ip", "ostemplate", NULL,
};

int format_fields_parse(const char *spec, char ***ret_fields, vps_error *err)
{
        size_t n = 1;
        for (const char *p = spec; *p; p++)
                n += *p == ',';

        _cleanup_strv_ char **fields = calloc(n + 1, sizeof(char *));
        if (!fields)
                return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
        const char *start = spec;
        for (size_t i = 0; i < n; i++) {
                size_t len = strcspn(start, ",");
                if (len == 0)
                        return vps_err(err, EINVAL, "empty field name in '%s'", spec);
                if (!(fields[i] = strndup(start, len)))
                        return vps_err(err, ENOMEM, "%s", strerror(ENOMEM));
                start += len + 1;
        }
        *ret_fields = TAKE_PTR(fields);
        return 0;
}

static bool strv_contains(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

const char *format_fields_unknown(char *const *fields, char *const *known, const json_t *rows)
{
        for (; *fields; fields++) {
                bool found = strv_contains(known, *fields);
                for (size_t i = 0; !found && i < json_array_size(rows); i++)
                        found = json_object_get(json_array_get(rows, i), *fields) != NULL;
                if (!found)
                        return *fields;
        }
        return NULL;
}

static char *cell_of_array(const json_t *array)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        const json_t *item;
        size_t i;

        if (json_array_size(array) == 0)
                return strdup("-"); /* an empty cell would shift the columns for awk */
        _cleanup_fclose_ FILE *f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        json_array_foreach(array, i, item)
        {
                _cleanup_free_ char *s = format_cell(item);
                if (!s || fprintf(f, "%s%s", i ? "," : "", s) < 0)
                        return NULL;
        }
        if (fclose(TAKE_PTR(f)) != 0)
                return NULL;
        return TAKE_PTR(text);
}

static char *usage_cell(const json_t *v)
{
        const json_t *used = json_object_get(v, "used"), *hard = json_object_get(v, "hard");
        char *s = NULL;
        if (!json_is_integer(used))
                return strdup("-");
        if (json_is_integer(hard))
                return asprintf(&s, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                                json_integer_value(used), json_integer_value(hard)) < 0
                               ? NULL
                               : s;
        return asprintf(&s, "%" JSON_INTEGER_FORMAT "/-", json_integer_value(used)) < 0 ? NULL : s;
}

static char *cell_raw(const json_t *v)
{
        char *s = NULL;

        switch (json_typeof(v)) {
        case JSON_STRING: /* "" would shift the columns, as an empty array would */
                return strdup(json_string_length(v) ? json_string_value(v) : "-");
        case JSON_INTEGER:
                return asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0 ? NULL : s;
        case JSON_REAL:
                return asprintf(&s, "%g", json_real_value(v)) < 0 ? NULL : s;
        case JSON_TRUE: /* as the options take them (--onboot yes|no) */
                return strdup("yes");
        case JSON_FALSE:
                return strdup("no");
        case JSON_ARRAY:
                return cell_of_array(v);
        case JSON_OBJECT:
                if (json_object_get(v, "used")) /* a usage: USED/HARD */
                        return usage_cell(v);
                return json_dumps(v, JSON_COMPACT);
        case JSON_NULL:
        default:
                return strdup("-");
        }
}

char *format_cell(const json_t *value)
{
        char *s = value ? cell_raw(value) : strdup("-");
        for (char *p = s; p && *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        return s;
}

char *format_header(const char *field)
{
        char *s = strdup(field);
        for (char *p = s; p && *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 'a' + 'A');
        return s;
}

/* The cells of a table, row-major; row 0 holds the headers when there are any. */
struct grid {
        char **cells;
        size_t rows, cols;
};

static void grid_freep(struct grid *g)
{
        for (size_t i = 0; g->cells && i < g->rows * g->cols; i++)
                free(g->cells[i]);
        free(g->cells);
}

/* Columns line up on a terminal by characters, not bytes: skip UTF-8 continuation bytes. */
static size_t display_width(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char)*s & 0xc0) != 0x80;
        return n;
}

static int grid_fill(struct grid *g, const json_t *rows, char *const *fields, bool header)
{
        size_t r = 0;

        for (size_t c = 0; header && c < g->cols; c++)
                if (!(g->cells[c] = format_header(fields[c])))
                        return -ENOMEM;
        r += header;
        for (size_t i = 0; i < json_array_size(rows); i++, r++) {
                const json_t *row = json_array_get(rows, i);
                for (size_t c = 0; c < g->cols; c++)
                        if (!(g->cells[r * g->cols + c] =
                                      format_cell(json_object_get(row, fields[c]))))
                                return -ENOMEM;
        }
        return 0;
}

static void grid_print(FILE *f, const struct grid *g, const size_t *widths)
{
        for (size_t r = 0; r < g->rows; r++) {
                for (size_t c = 0; c < g->cols; c++) {
                        const char *cell = g->cells[r * g->cols + c];
                        (void)fputs(cell, f);
                        if (c + 1 == g->cols)
                                break; /* no trailing blanks after the last column */
                        (void)fprintf(f, "%*s", (int)(widths[c] - display_width(cell) + 2), "");
                }
                (void)fputc('\n', f);
        }
}

int format_table(FILE *f, const json_t *rows, char *const *fields, bool header)
{
        _cleanup_(grid_freep) struct grid g = {0};
        _cleanup_free_ size_t *widths = NULL;

        while (fields[g.cols])
                g.cols++;
        g.rows = json_array_size(rows) + (header ? 1 : 0);
        if (g.cols == 0 || g.rows == 0)
                return 0;
        g.cells = calloc(g.rows * g.cols, sizeof(char *));
        widths = calloc(g.cols, sizeof(size_t));
        if (!g.cells || !widths)
                return -ENOMEM;
        int r = grid_fill(&g, rows, fields, header);
        if (r < 0)
                return r;
        for (size_t i = 0; i < g.rows * g.cols; i++) {
                size_t w = display_width(g.cells[i]);
                if (w > widths[i % g.cols])
                        widths[i % g.cols] = w;
        }
        grid_print(f, &g, widths);
        return ferror(f) ? -EIO : 0;
}

json_t *format_project(const json_t *rows, char *const *fields)
{
        _cleanup_json_ json_t *out = json_array();
        if (!out)
                return NULL;
        for (size_t i = 0; i < json_array_size(rows); i++) {
                const json_t *row = json_array_get(rows, i);
                json_t *obj = json_object();
                if (!obj || json_array_append_new(out, obj) < 0)
                        return NULL;
                for (char *const *k = fields; *k; k++) {
                        json_t *v = json_object_get(row, *k);
                        if (json_object_set(obj, *k, v ? v : json_null()) < 0)
                                return NULL;
                }
        }
        return TAKE_PTR(out);
}

json_t *format_filter(const json_t *rows, const char *key, const char *value, bool keep)
{
        _cleanup_json_ json_t *out = json_array();
        if (!out)
                return NULL;
        for (size_t i = 0; i < json_array_size(rows); i++) {
                json_t *row = json_array_get(rows, i);
                const char *s = json_string_value(json_object_get(row, key));
                bool match = s && strcmp(s, value) == 0;
                if (match == keep && json_array_append(out, row) < 0)
                        return NULL;
        }
        return TAKE_PTR(out);
}

static int compare_by_key(const void *a, const void *b, void *key)
{
        const char *sa = json_string_value(json_object_get(*(json_t *const *)a, key));
        const char *sb = json_string_value(json_object_get(*(json_t *const *)b, key));
        if (!sa || !sb)
                return (sa == NULL) - (sb == NULL);
        return strverscmp(sa, sb);
}

json_t *format_sort(const json_t *rows, const char *key)
{
        size_t n = json_array_size(rows);
        _cleanup_free_ json_t **items = calloc(n ? n : 1, sizeof(json_t *));
        _cleanup_json_ json_t *out = json_array();

        if (!items || !out)
                return NULL;
        for (size_t i = 0; i < n; i++)
                items[i] = json_array_get(rows, i);
        qsort_r(items, n, sizeof(json_t *), compare_by_key, (void *)key);
        for (size_t i = 0; i < n; i++)
                if (json_array_append(out, items[i]) < 0)
                        return NULL;
        return TAKE_PTR(out);
}

json_t *format_humanize_size(const json_t *rows, const char *key)
{
        _cleanup_json_ json_t *out = json_array();
        if (!out)
                return NULL;
        for (size_t i = 0; i < json_array_size(rows); i++) {
                json_t *row = json_copy(json_array_get(rows, i));
                if (!row || json_array_append_new(out, row) < 0)
                        return NULL;
                json_t *v = json_object_get(row, key);
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        continue;
                char buf[32];
                format_size((uint64_t)json_integer_value(v), buf, sizeof(buf));
                if (json_object_set_new(row, key, json_string(buf)) < 0)
                        return NULL;
        }
        return TAKE_PTR(out);
}

void format_size(uint64_t bytes, char *buf, size_t size)
{
        static const char units[] = "KMGTPE";
        double v = (double)bytes;
        size_t u = 0;

        if (bytes < 1024) {
                (void)snprintf(buf, size, "%" PRIu64 "B", bytes);
                return;
        }
        for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) - 1; u++)
                v /= 1024;
        /* like ls -h: one decimal while it carries information */
        (void)snprintf(buf, size, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

int format_json(FILE *f, const json_t *j)
{
        _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (!text)
                return -ENOMEM;
        if (fputs(text, f) == EOF || fputc('\n', f) == EOF)
                return -EIO;
        return 0;
}

int format_status_line(FILE *f, const json_t *vps)
{
        const char *id = json_string_value(json_object_get(vps, "id"));
        const char *status = json_string_value(json_object_get(vps, "status"));

        if (fprintf(f, "VPS %s exists %s", id ? id : "?", status ? status : "unknown") < 0)
                return -EIO;
        /* Its init cannot take the halt signal yet (a stop now sends it until it can). */
        if (status && strcmp(status, "running") == 0 &&
            json_is_true(json_object_get(vps, "booting")) && fputs(" (booting)", f) == EOF)
                return -EIO;
        /* A reboot loop held back: when vpsd starts it again. */
        json_t *at = json_object_get(vps, "restart_at");
        if (status && strcmp(status, "backoff") == 0 && json_is_integer(at)) {
                time_t t = (time_t)json_integer_value(at);
                struct tm tm;
                char when[32] = "?";
                if (localtime_r(&t, &tm))
                        (void)strftime(when, sizeof(when), "%H:%M:%S", &tm);
                if (fprintf(f, " (restart %" JSON_INTEGER_FORMAT " at %s)",
                            json_integer_value(json_object_get(vps, "restarts")) + 1, when) < 0)
                        return -EIO;
        }
        return fputc('\n', f) == EOF ? -EIO : 0;
}

static const char *skip_ws(const char *p, const char *end)
{
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        return p;
}

/* Past the string that starts at p (on its '"'), or NULL when it does not end. */
static const char *skip_string(const char *p, const char *end)
{
        for (p++; p < end; p++) {
                if (*p == '\\')
                        p++;
                else if (*p == '"')
                        return p + 1;
        }
        return NULL;
}

/* Past the value that starts at p, or NULL when it does not end. Only its extent is found
 * here: the values kept are checked by json_loadb, the others never reach a caller. */
static const char *skip_value(const char *p, const char *end)
{
        if (p >= end)
                return NULL;
        if (*p == '"')
                return skip_string(p, end);
        if (*p != '{' && *p != '[') {
                while (p < end && !strchr(",}] \t\r\n", *p))
                        p++;
                return p;
        }
        size_t depth = 0;
        while (p < end) {
                if (*p == '"') {
                        if (!(p = skip_string(p, end)))
                                return NULL;
                        continue;
                }
                if (*p == '{' || *p == '[')
                        depth++;
                else if ((*p == '}' || *p == ']') && --depth == 0)
                        return p + 1;
                p++;
        }
        return NULL;
}

static bool wanted(char *const *keys, const char *key)
{
        for (; *keys; keys++)
                if (strcmp(*keys, key) == 0)
                        return true;
        return false;
}

/* The key whose text (quotes included) is [k, ke) into name; one written with escapes
 * ("s\\u0074atus") read as a parser reads it; a longer one than name holds is "" (none of
 * ours). False when it is not a valid string. */
static bool key_name(const char *k, const char *ke, char *name, size_t size)
{
        size_t len = (size_t)(ke - k) - 2;
        name[0] = '\0';
        if (!memchr(k + 1, '\\', len)) {
                if (len < size) {
                        memcpy(name, k + 1, len);
                        name[len] = '\0';
                }
                return true;
        }
        _cleanup_json_ json_t *j = json_loadb(k, (size_t)(ke - k), JSON_DECODE_ANY, NULL);
        if (!json_is_string(j))
                return false;
        if (json_string_length(j) < size &&
            !memchr(json_string_value(j), '\0', json_string_length(j)))
                (void)snprintf(name, size, "%s", json_string_value(j));
        return true;
}

/* One object at p (on its '{') into obj; past it, or NULL. */
static const char *scan_object(const char *p, const char *end, char *const *keys, json_t *obj)
{
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}')
                return p + 1;
        while (p < end && *p == '"') {
                const char *k = p, *ke = skip_string(p, end);
                char name[64];
                if (!ke || !key_name(k, ke, name, sizeof(name)))
                        return NULL;
                p = skip_ws(ke, end);
                if (p >= end || *p != ':')
                        return NULL;
                const char *v = skip_ws(p + 1, end), *ve = skip_value(v, end);
                if (!ve || ve == v)
                        return NULL;
                if (wanted(keys, name)) {
                        json_t *val = json_loadb(v, (size_t)(ve - v), JSON_DECODE_ANY, NULL);
                        if (!val || json_object_set_new(obj, name, val) < 0)
                                return NULL;
                }
                p = skip_ws(ve, end);
                if (p < end && *p == '}')
                        return p + 1;
                if (p >= end || *p != ',')
                        return NULL;
                p = skip_ws(p + 1, end);
        }
        return NULL;
}

int format_scan_rows(const char *text, size_t len, char *const *keys, json_t **ret, vps_error *err)
{
        const char *p = skip_ws(text, text + len), *end = text + len;
        _cleanup_json_ json_t *rows = json_array();
        if (!rows)
                return vps_err(err, ENOMEM, "out of memory");
        if (p >= end || *p != '[')
                return vps_err(err, EBADMSG, "not a JSON array");
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']')
                p++;
        else
                for (;;) {
                        json_t *obj = p < end && *p == '{' ? json_object() : NULL;
                        if (!obj || json_array_append_new(rows, obj) < 0 ||
                            !(p = scan_object(p, end, keys, obj)))
                                return vps_err(err, EBADMSG, "not a JSON array of objects");
                        p = skip_ws(p, end);
                        if (p < end && *p == ']') {
                                p++;
                                break;
                        }
                        if (p >= end || *p != ',')
                                return vps_err(err, EBADMSG, "not a JSON array of objects");
                        p = skip_ws(p + 1, end);
                }
        if (skip_ws(p, end) != end)
                return vps_err(err, EBADMSG, "text after the JSON array");
        *ret = TAKE_PTR(rows);
        return 0;
}
