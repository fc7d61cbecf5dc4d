/* Cumulative traffic of each VPS (bytes and packets, both ways), for billing: it survives
 * restarts of the VPS and of vpsd, and is zeroed only on request. The live figures are the
 * nftables counters rx_ID and tx_ID, which exist while the VPS's network does; what earlier
 * runs counted is ROOT/vps/ID/traffic.json (0600, written atomically). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "vps/error.h"

struct json_t;
struct vps_manager;
struct vps_inst;

#define VPS_TRAFFIC_FILE "traffic.json"
/* A reader saves what the live counters show at most this often (seconds), so that losing
 * them (a host reboot, a vpsd killed as the VPS stopped) loses at most that much. */
#define VPS_TRAFFIC_SAVE_EVERY 60

enum { VPS_TR_RX_BYTES, VPS_TR_RX_PACKETS, VPS_TR_TX_BYTES, VPS_TR_TX_PACKETS, VPS_TR_COUNT };
extern const char *const vps_traffic_keys[VPS_TR_COUNT]; /* "rx_bytes", ... */

struct vps_traffic {
        uint64_t v[VPS_TR_COUNT];
};

/* What traffic.json holds: base, the totals of counters that are gone; seen, what the live
 * counters showed when last saved (part of the total while they live, added to base when
 * they are gone without being folded); saved, when (unix seconds). */
struct vps_traffic_file {
        struct vps_traffic base, seen;
        int64_t saved;
};

/* Pure parts, for the unit tests. */
int vps_traffic_parse(const char *text, struct vps_traffic_file *ret, vps_error *err);
/* The file's text (caller frees), NULL when out of memory. */
char *vps_traffic_format(const struct vps_traffic_file *f);
/* The total given the file and the live counters (NULL: none exist). A live direction
 * below what was seen is a new counter (the old one went unfolded): base takes what was
 * seen. Returns true when f changed. */
bool vps_traffic_merge(struct vps_traffic_file *f, const struct vps_traffic *live,
                       struct vps_traffic *ret_total);

/* Adds the VPS's live counters to its base and zeroes them (one atomic read-and-reset), or,
 * when there are none, what was last seen of them: before the counters are deleted (a stop,
 * a crash, the last address removed) and before new ones are made (a start). */
int vps_traffic_fold(struct vps_manager *m, const struct vps_config *cfg, vps_error *err);
/* The VPS's total now. live: its counters from vps_net_counters ({"rx_bytes", ...}) or NULL.
 * Saves the live figures when VPS_TRAFFIC_SAVE_EVERY has passed (force: now). */
int vps_traffic_total(struct vps_manager *m, const struct vps_inst *vi, struct json_t *live,
                      bool force_save, struct vps_traffic *ret, vps_error *err);
/* Zeroes the VPS's totals and its live counters (vpsctl set --reset-counters). */
int vps_traffic_reset(struct vps_manager *m, const struct vps_inst *vi, vps_error *err);
/* What every VPS's live counters show, saved (vpsd's exit: the VPSes run on). */
void vps_traffic_save_all(struct vps_manager *m);
/* Sets rx_bytes, rx_packets, tx_bytes, tx_packets of obj. */
void vps_traffic_to_json(const struct vps_traffic *t, struct json_t *obj);
