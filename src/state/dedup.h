/*
 * dedup.h - the repeat-suppression table: "have we alerted on this key in
 * the last window_ms?".
 *
 * Keys are 64-bit XXH3 hashes of a normalised event (see pipeline.c). The
 * table is a fixed array of 8-way sets allocated once at start-up: the
 * hard cap on entries is the configured capacity rounded up to a multiple
 * of 8, and each entry takes 24 bytes. Time is event time (the event's
 * "ts"), so replaying old data behaves as it did live.
 *
 * Eviction, when a key's set has no free slot: first an entry whose window
 * has expired is reused; otherwise the entry with the oldest first-seen
 * time is evicted (it is the one closest to expiring anyway) and counted
 * in the evictions statistic. An evicted key that repeats alerts again.
 *
 * Thread safety: any thread may call fz_dedup_hit(); sets are guarded by
 * 4096 striped mutexes, so workers touching different keys rarely meet.
 */
#ifndef FZ_DEDUP_H
#define FZ_DEDUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct fz_dedup fz_dedup;

typedef struct fz_dedup_stats {
    uint64_t entries;   /* live entries (approximate while workers run) */
    uint64_t capacity;  /* hard cap */
    uint64_t evictions; /* live entries dropped for room */
    uint64_t bytes;     /* memory of the table */
} fz_dedup_stats;

/* window_ms == 0 disables deduplication (every hit returns 1). */
fz_dedup *fz_dedup_new(size_t capacity, int64_t window_ms, char *errstr, size_t errstr_size);
void fz_dedup_destroy(fz_dedup *d);

/*
 * Record an occurrence of key at event time now_ms. Returns the number of
 * occurrences in the current window including this one: 1 means first
 * (alert), more means a repeat (suppress). A key whose window started
 * window_ms or more before now_ms - or after it: windows look both ways in
 * event time, so an entry dated in the future never covers the present -
 * starts a new window at now_ms.
 */
uint32_t fz_dedup_hit(fz_dedup *d, uint64_t key, int64_t now_ms);

void fz_dedup_stats_get(fz_dedup *d, fz_dedup_stats *out);
int64_t fz_dedup_window_ms(const fz_dedup *d);

#endif
