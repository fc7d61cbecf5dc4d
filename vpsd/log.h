/* vpsd's log (log.c): one line on stderr (ROOT/vpsd.log with --daemon). Knows nothing else of
 * vpsd, so every module can log. */
#pragma once

#include <stdint.h>

/* A message repeated more than burst times within interval_s (same format, same strings;
 * numbers may differ) is counted and summed up in one line when the interval ends. */
void vpsd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vpsd_log_limit(unsigned int burst, unsigned int interval_s);
/* Rotates path (from then on, if stderr is that file) at max_size bytes, keeping keep old
 * files path.1 (newest) to path.KEEP, each 0600. */
void vpsd_log_rotate_at(const char *path, uint64_t max_size, unsigned int keep);
/* Writes the summaries of intervals that have ended; returns the milliseconds until the next
 * one is due, or -1 when none is (a bound on the loop's wait). */
int vpsd_log_tick(void);
