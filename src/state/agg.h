/*
 * agg.h - the aggregate store: sliding event-time windows per (rule, key)
 * for behavioural rules (detect/aggrule.h), e.g. "distinct numbers this
 * caller called in the last 10 minutes, and their median call duration".
 *
 * An entry is keyed by a 64-bit hash of the rule id and the key number
 * (fz_agg_entry_key()). It holds the distinct values (64-bit number keys)
 * seen in the window with the event time each was last seen and the
 * duration of that event: exact up to exact_max values; past that the
 * count comes from a sliding HyperLogLog (every register keeps the
 * (time, rank) pairs that can still be its maximum, Chabchoub and Hebrail's
 * "sliding HyperLogLog"; 2^10 registers, about 3 % standard error) and the
 * value list keeps the exact_max newest values as the sample the median is
 * taken from. When every value that left the list has also left the
 * window, the entry is exact again and the sketch is freed.
 *
 * Time: the window of an entry ends at the newest event time it has seen
 * (its own watermark) and covers (end - window, end]. An event older than
 * that is counted as late and does not change the entry. An alert fires at
 * the event whose arrival makes the condition true (distinct >= threshold
 * and, when asked, median duration < bound) and the entry is then quiet
 * for one window: the next alert of the same (rule, key) can come from an
 * event at least window after the one that fired (the re-arm rule).
 *
 * Memory: at most `capacity` entries (8-way sets, like the dedup store);
 * value lists grow by doubling up to exact_max, sketches are 48 KiB; both
 * come from per-size free lists carved out of 1 MiB blocks (no malloc per
 * event once warm) and are charged to max_bytes: an entry that cannot grow within it keeps
 * counting on what it holds (counted in stats.over_budget). When a set is
 * full, an entry whose window is over is reused, else the one idle longest
 * is evicted (counted). Idle entries are also swept a few slots per event.
 *
 * Changelog: with tracking on, changed slots are remembered; fz_agg_changes()
 * hands out a tombstone for every key that left a slot, then the current
 * entry of each changed slot (fz_agg_entry_save() encodes it); replaying
 * them with fz_agg_put()/fz_agg_remove() into an empty store gives the same
 * answers as the original (test agg_changelog_roundtrip).
 *
 * Threads: a store belongs to one thread (a decide task's stream thread, or
 * replay's deciding thread); nothing is locked.
 */
#ifndef FZ_AGG_H
#define FZ_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "common.h"

typedef struct fz_aggs fz_aggs;

/* One event fed to one aggregate rule. */
typedef struct fz_agg_in {
    uint64_t key;            /* fz_agg_entry_key(rule id, key number) */
    uint64_t value;          /* the distinct field's number key; 0 = none */
    int64_t ts_ms;           /* event time */
    int64_t duration_s;      /* calls; -1 when absent */
    int64_t window_ms;       /* the rule's window */
    uint32_t min_distinct;   /* the rule's threshold */
    int64_t median_below_ms; /* 0 = no duration condition */
} fz_agg_in;

typedef struct fz_agg_out {
    int fired;                 /* this event makes the aggregate alert */
    int estimated;             /* distinct comes from the sketch */
    uint64_t distinct;         /* distinct values in the window, this event included */
    int64_t median_duration_s; /* median duration of the window's values; -1 if none */
    int64_t first_ms;          /* oldest event time in the window (of the values held) */
} fz_agg_out;

typedef struct fz_agg_stats {
    uint64_t entries, capacity, evictions, late, over_budget, estimated, bytes;
} fz_agg_stats;

/* exact_max: distinct values held exactly per entry (16..65536);
 * max_bytes: value lists and sketches of all entries together. */
fz_aggs *fz_aggs_new(size_t capacity, uint32_t exact_max, size_t max_bytes, int track, char *errstr,
                     size_t errstr_size);
void fz_aggs_destroy(fz_aggs *a);

/* Feed one event; out says whether the aggregate fires. */
void fz_aggs_hit(fz_aggs *a, const fz_agg_in *in, fz_agg_out *out);

/* The key of (rule id, key number). */
uint64_t fz_agg_entry_key(fz_str rule_id, uint64_t number_key);

/* Changelog. fn(ctx, key, NULL) for a key that left the store; then
 * fn(ctx, key, a) for every changed entry, to be saved with
 * fz_agg_entry_save(a, key, buf) inside fn. Non-zero from fn stops. */
typedef int (*fz_agg_change_fn)(void *ctx, uint64_t key, const fz_aggs *a);
int fz_agg_changes(fz_aggs *a, fz_agg_change_fn fn, void *ctx);
void fz_agg_changes_done(fz_aggs *a);
size_t fz_agg_changed(const fz_aggs *a);
/* Append the entry of key (as it is now) to b. FZ_OK, FZ_ERR_FULL, or
 * FZ_ERR_ARG when key is not in the store. */
fz_err fz_agg_entry_save(const fz_aggs *a, uint64_t key, fz_buf *b);
/* Restore an entry from bytes fz_agg_entry_save() wrote (not a change).
 * A record that is not well formed (truncated, trailing bytes, counts or
 * ranks out of range, times out of order) is refused: -1 with a reason in
 * err, and the store is unchanged. */
int fz_agg_put(fz_aggs *a, uint64_t key, const void *p, size_t n, char *err, size_t err_size);
void fz_agg_remove(fz_aggs *a, uint64_t key);

void fz_aggs_stats_get(const fz_aggs *a, fz_agg_stats *out);

#endif
