/*
 * dedup.h - the repeat-suppression store: "have we alerted on this key in
 * the last window_ms?".
 *
 * Keys are 64-bit XXH3 hashes of a normalised event (see pipeline.c). The
 * table is a fixed array of 8-way sets allocated once: the hard cap on
 * entries is the capacity rounded up to a multiple of 8, and each entry
 * takes 32 bytes (24 of data, 8 to know what the changelog holds). Time is
 * event time (the event's "ts"), so replaying old data behaves as it did
 * live.
 *
 * Eviction, when a key's set has no free slot: first an entry whose window
 * has expired is reused; otherwise the entry with the oldest first-seen
 * time is evicted (it is the one closest to expiring anyway) and counted
 * in the evictions statistic. An evicted key that repeats alerts again.
 *
 * Changelog: with tracking on, the store remembers which slots changed
 * since the last fz_dedup_changes_done(); fz_dedup_changes() hands out
 * first a tombstone for every key that left the table, then the current
 * entry of every changed slot - in that order, so a key that moved between
 * slots ends up present. Replaying those changes into an empty store with
 * fz_dedup_put()/fz_dedup_remove() gives the same answers as the original
 * (test dedup_changelog_oracle).
 *
 * Threads: a store belongs to one thread (a decide task's stream thread,
 * or replay's deciding thread); nothing is locked.
 */
#ifndef FZ_DEDUP_H
#define FZ_DEDUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct fz_dedup fz_dedup;

typedef struct fz_dedup_entry {
    uint64_t key;
    int64_t first_ms;
    uint32_t count;
} fz_dedup_entry;

typedef struct fz_dedup_stats {
    uint64_t entries;   /* live entries */
    uint64_t capacity;  /* hard cap */
    uint64_t evictions; /* live entries dropped for room */
    uint64_t bytes;     /* memory of the table */
} fz_dedup_stats;

/* window_ms == 0 disables deduplication (every hit returns 1). track: keep
 * the changes for a changelog. */
fz_dedup *fz_dedup_new(size_t capacity, int64_t window_ms, int track, char *errstr,
                       size_t errstr_size);
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

/* Changes since the last fz_dedup_changes_done(): fn(ctx, key, NULL) for a
 * key that left the table, then fn(ctx, key, entry) for every changed
 * entry. A non-zero return from fn stops the walk and is returned. */
typedef int (*fz_dedup_change_fn)(void *ctx, uint64_t key, const fz_dedup_entry *e);
int fz_dedup_changes(fz_dedup *d, fz_dedup_change_fn fn, void *ctx);
/* The changes handed out are durable: forget them. */
void fz_dedup_changes_done(fz_dedup *d);
size_t fz_dedup_changed(const fz_dedup *d);

/* Restore: put an entry as the changelog holds it (not a change), or
 * remove a key. */
void fz_dedup_put(fz_dedup *d, const fz_dedup_entry *e);
void fz_dedup_remove(fz_dedup *d, uint64_t key);

void fz_dedup_stats_get(fz_dedup *d, fz_dedup_stats *out);
int64_t fz_dedup_window_ms(const fz_dedup *d);

#endif
