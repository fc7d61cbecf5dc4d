/* vpsctl: turning the daemon's JSON objects into tables and JSON text. Pure functions (no
 * I/O other than the FILE * they are given), so that unit tests can call them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vps/error.h"

/* The keys of a VPS object (docs/api.md), NULL-terminated: what `list -o` accepts even when
 * no VPS exists yet. */
extern char *const format_vps_fields[];
/* The columns of `list` without -o. */
extern char *const format_vps_default_fields[];

/* Splits "id,status,ip" into a NULL-terminated vector (free with _cleanup_strv_). An empty
 * spec or item ("id,,ip") is -EINVAL. */
int format_fields_parse(const char *spec, char ***ret_fields, vps_error *err);

/* The first of fields that is neither in known (NULL-terminated, may be NULL) nor a key of
 * any object of the array rows; NULL when all are valid. */
const char *format_fields_unknown(char *const *fields, char *const *known, const json_t *rows);

/* The text of one table cell (malloc'd): missing or null "-", strings as is, arrays joined
 * with ",", numbers in decimal, true/false, objects as compact JSON. Control characters
 * become '?' so that a hostile value cannot drive the terminal. NULL only on ENOMEM. */
char *format_cell(const json_t *value);

/* A column header: the field name in upper case (malloc'd, NULL on ENOMEM). */
char *format_header(const char *field);

/* Writes the objects of rows as left-aligned columns two spaces apart, one line per
 * object, preceded by the headers unless header is false. Returns 0 or a negative errno. */
int format_table(FILE *f, const json_t *rows, char *const *fields, bool header);

/* A new array holding, for each object of rows, a new object with only the given keys (a
 * missing key becomes null), in the order of fields. NULL on ENOMEM. */
json_t *format_project(const json_t *rows, char *const *fields);

/* A new array with the objects of rows whose key has the string value `value` (keep=true)
 * or another value (keep=false). NULL on ENOMEM. */
json_t *format_filter(const json_t *rows, const char *key, const char *value, bool keep);

/* A new array with the objects of rows sorted by the string key, with version sort so that
 * "9" < "10" < "web1"; objects without it come last. NULL on ENOMEM. */
json_t *format_sort(const json_t *rows, const char *key);

/* The array of objects in text (vpsd's GET /v1/vps), each object reduced to the given keys
 * (NULL-terminated; those it lacks stay absent): only their values are parsed (jansson), the
 * rest of each object is skipped as text, so a table of 10,000 VPSes costs no tree of their
 * 40 keys each. Returns 0, or -EBADMSG (err set) when text is not an array of objects. */
int format_scan_rows(const char *text, size_t len, char *const *keys, json_t **ret, vps_error *err);

/* A copy of rows in which the integer `key` is replaced by a human readable size. */
json_t *format_humanize_size(const json_t *rows, const char *key);

/* "2.0M"-style binary size (K, M, G, T, P; plain bytes below 1024). */
void format_size(uint64_t bytes, char *buf, size_t size);

/* json_dumps with JSON_INDENT(2) and a final newline. Returns 0 or a negative errno. */
int format_json(FILE *f, const json_t *j);

/* "VPS 101 exists running": the line of `vpsctl status`. */
int format_status_line(FILE *f, const json_t *vps);
