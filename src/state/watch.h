/*
 * watch.h - the interception watchlist: numbers that fraud has touched,
 * for a while.
 *
 * When a fraud SMS or call is seen, its recipient is *warned* (they may be
 * about to pay a fraudster) and its sender, and every phone or account
 * number written in its text, is *flagged* (money sent there is probably
 * lost). A transfer whose payer is warned or whose payee is flagged within
 * the look-back (default 72 h of event time) is intercepted: fanzha raises
 * a critical alert so the bank can hold it.
 *
 * Numbers are keyed by fz_number_key(): digits only, a leading "00" dropped
 * and "86" dropped before an 11-digit mobile number starting with 1, so
 * "+86 139-0000-0001", "008613900000001" and "13900000001" are one number.
 * Entries are 24 bytes in 8-way sets with a hard cap; a full set replaces
 * the entry that expires first (counted). Shared by all workers: striped
 * mutexes, one lock per call.
 */
#ifndef FZ_WATCH_H
#define FZ_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define FZ_WATCH_WARNED 1u  /* recipient of fraud */
#define FZ_WATCH_FLAGGED 2u /* sender of fraud, or a number named in it */

typedef struct fz_watch fz_watch;

typedef struct fz_watch_stats {
    uint64_t entries, evictions;
    size_t bytes;
} fz_watch_stats;

/* 0 if s holds no digit. */
uint64_t fz_number_key(fz_str s);

fz_watch *fz_watch_new(size_t capacity, int64_t lookback_ms, char *errstr, size_t errstr_size);
void fz_watch_destroy(fz_watch *w);

/* Mark a number (key from fz_number_key; 0 is ignored) with kind bits, from
 * event time ts_ms until ts_ms + lookback. Marks accumulate; a later event
 * extends the time. Any thread. */
void fz_watch_mark(fz_watch *w, uint64_t key, unsigned kind, int64_t ts_ms);

/* The kind bits of key that are live at event time ts_ms (0 if none). */
unsigned fz_watch_check(fz_watch *w, uint64_t key, int64_t ts_ms);

/* Flag every phone-like or account-like number (7+ ASCII digits, groups
 * separated by single spaces or dashes allowed) written in text. */
void fz_watch_mark_numbers_in(fz_watch *w, fz_str text, unsigned kind, int64_t ts_ms);

void fz_watch_stats_get(fz_watch *w, fz_watch_stats *out);

#endif
