/*
 * watch.h - the interception watchlist: numbers that fraud has touched,
 * for a while.
 *
 * When a fraud SMS or call is seen, its recipient is *warned* (they may be
 * about to pay a fraudster) and its sender, and every phone or account
 * number written in its text, is *flagged* (money sent there is probably
 * lost). A transfer whose payer is warned or whose payee is flagged is
 * intercepted: fanzha raises a critical alert so the bank can hold it.
 *
 * "Warned at event time T" means a warning (a mark) at some time W with
 * W <= T < W + lookback: a mark never reaches back before its own time, so
 * a transfer at 00:00 is not intercepted by an SMS at 01:00 whatever order
 * the two are processed in. Per number and kind the table keeps one run of
 * marks [first, last], merged only while marks are at most lookback apart,
 * so every T in [first, last + lookback) is covered by a mark at or before
 * it; a mark more than lookback after the run starts a new run (the old one
 * has expired for every later transfer), a mark more than lookback before
 * it is dropped. Marks in time order are therefore answered exactly; out of
 * order by more than the look-back, a warning can be missed but never
 * invented.
 *
 * Numbers are keyed by fz_number_key(): digits only, a leading "00" dropped
 * and "86" dropped before an 11-digit mobile number starting with 1, so
 * "+86 139-0000-0001", "008613900000001" and "13900000001" are one number.
 * Entries are 40 bytes in 8-way sets with a hard cap; a full set replaces
 * the entry that expires first (counted).
 *
 * Threads: fz_watch_* may be called from any thread; striped mutexes, one
 * lock per call. In `fanzha run` one table per process is the global view
 * of the watchlist: every worker checks transfers against it and applies
 * marks, and the watch-changelog reader merges entries written by other
 * instances (stream/watchlog.h).
 */
#ifndef FZ_WATCH_H
#define FZ_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define FZ_WATCH_WARNED 1u  /* recipient of fraud */
#define FZ_WATCH_FLAGGED 2u /* sender of fraud, or a number named in it */
#define FZ_WATCH_KINDS 2

typedef struct fz_watch fz_watch;

/* One run of marks of one kind; empty when last_ms == INT64_MIN. */
typedef struct fz_watch_run {
    int64_t first_ms, last_ms;
} fz_watch_run;

/* A number's entry: what the changelog carries (stream/watchlog.h). */
typedef struct fz_watch_entry {
    uint64_t key;
    fz_watch_run runs[FZ_WATCH_KINDS]; /* [0] warned, [1] flagged */
} fz_watch_entry;

typedef struct fz_watch_stats {
    uint64_t entries, evictions;
    size_t bytes;
} fz_watch_stats;

/* 0 if s holds no digit. */
uint64_t fz_number_key(fz_str s);

fz_watch *fz_watch_new(size_t capacity, int64_t lookback_ms, char *errstr, size_t errstr_size);
void fz_watch_destroy(fz_watch *w);
int64_t fz_watch_lookback_ms(const fz_watch *w);

/* Mark a number (key from fz_number_key; 0 is ignored) with kind bits at
 * event time ts_ms. With out, the entry as it stands after the mark is
 * copied there (returns 1; 0 when nothing was marked). Any thread. */
int fz_watch_mark(fz_watch *w, uint64_t key, unsigned kind, int64_t ts_ms, fz_watch_entry *out);

/* Merge an entry (another table's view of the same number) into w with
 * the run rules above; a merge is idempotent and commutative for runs
 * within the look-back of each other. Any thread. */
void fz_watch_merge(fz_watch *w, const fz_watch_entry *e);

/* Copy key's entry to out; 0, or -1 if the table does not hold it. */
int fz_watch_get(fz_watch *w, uint64_t key, fz_watch_entry *out);

/* The kind bits of key that cover event time ts_ms (0 if none). */
unsigned fz_watch_check(fz_watch *w, uint64_t key, int64_t ts_ms);

/* Call fn for every number (7+ ASCII digits, groups separated by single
 * spaces or dashes allowed) written in text, with its key. */
void fz_watch_numbers_in(fz_str text, void (*fn)(void *ctx, uint64_t key), void *ctx);

/* Flag every such number in text: fz_watch_mark() for each. */
void fz_watch_mark_numbers_in(fz_watch *w, fz_str text, unsigned kind, int64_t ts_ms);

void fz_watch_stats_get(fz_watch *w, fz_watch_stats *out);

#endif
