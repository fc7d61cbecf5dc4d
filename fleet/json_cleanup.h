/* libvpsfleet's cleanup of a json_t (base's _cleanup_json_ is defined by libvps, which this
 * library does not link). */
#pragma once

#include <jansson.h>

static inline void fleet_json_decrefp(json_t **p)
{
        json_decref(*p);
}
#define _cleanup_fjson_ __attribute__((cleanup(fleet_json_decrefp)))
