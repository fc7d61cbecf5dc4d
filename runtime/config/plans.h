/* Plans: named sets of limits and settings a provider sells (vzctl's sample configs), one file
 * per plan, PLANS_DIR/NAME.conf, of KEY="VALUE" lines whose keys are vpsctl's option names
 * (RAM="1G", NUMPROC="512", DISKSPACE="10G:11G", RATE="100mbit", FEATURES="tun", ONBOOT="yes").
 * A plan becomes the API body fields it stands for; the request's own fields override it. */
#pragma once

#include <stdbool.h>

#include "vps/error.h"

struct json_t;

#define VPS_PLAN_NAME_MAX 63
#define VPS_DEFAULT_PLANS_DIR "/etc/vps/plans"
#define VPS_PLAN_FILE_MAX (64 * 1024)

/* Letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 bytes; "none"
 * is no plan and refused here. */
int vps_plan_name_check(const char *name, vps_error *err);
/* Parses the text of plan name (where: "FILE" for messages) into the body fields it sets:
 * {"limits": {"ram": "1G", ...}, "rate": "100mbit", "features": "tun", "devnodes": "tun",
 * "onboot": true}. Every value is checked as the option would check it; an unknown key, a
 * key given twice, a line that is not KEY="VALUE" or a bad value is refused, naming the line. */
int vps_plan_parse(const char *where, const char *text, struct json_t **ret, vps_error *err);
/* Reads and parses dir/NAME.conf (resolved beneath dir: a plan never names a file outside). */
int vps_plan_load(const char *dir, const char *name, struct json_t **ret, vps_error *err);
/* The body a request means with plan fields under it: a new object holding plan's fields, the
 * request's on top (its "limits" merged key by key). The "plan" key itself is left out. */
struct json_t *vps_plan_merge(struct json_t *plan, struct json_t *request);
/* The body a create (create true) or a PATCH means: its "plan" field (a name, or "none" for no
 * plan; absent: default_plan on create, no change on PATCH) loaded from dir and merged under
 * the request. *ret_body is a new reference (the request itself when no plan applies);
 * ret_plan gets the plan's name, "" for none; *ret_given says whether the body names a plan
 * (or create's default applied). A bad or unknown plan is refused with nothing changed. */
int vps_plan_body(const char *dir, const char *default_plan, struct json_t *request, bool create,
                  char ret_plan[VPS_PLAN_NAME_MAX + 1], bool *ret_given,
                  struct json_t **ret_body, vps_error *err);
