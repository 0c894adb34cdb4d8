/*
 * profile.h - where scan time goes: the cost of each regex term of a
 * ruleset, alone, over sample events (`fanzha rules profile`).
 *
 * Hyperscan scans all of a database's patterns in one pass, so one costly
 * regex (a leading unbounded repeat, a large bounded one, a class that
 * matches almost everything) slows every event down, and neither the rule
 * author nor the operator can see which one from the total. The profile
 * compiles each regex term on each field it scans into a database of its
 * own, with the flags fanzha gives it, and times hs_scan over the view of
 * that field that fanzha would scan (raw or normalized) for every sample
 * event. The costs do not add up exactly to the cost of the real database
 * (Hyperscan shares work between patterns), but the ones at the top are
 * the ones to rewrite. List literals are not profiled: a literal database
 * costs little and its cost barely grows with its size.
 *
 * Single-threaded and slow on purpose (clean timings): about a minute for
 * 428 regexes over 10,000 events, most of it compiling them one by one.
 * Main thread only.
 */
#ifndef FZ_PROFILE_H
#define FZ_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

/* One regex term on one field. */
typedef struct fz_scan_cost {
    const fz_rule *rule;
    const fz_term *term;
    fz_field field;
    fz_view view;
    double ns_per_event; /* median over rounds, per sample event (with or
                            without the field) */
    uint64_t matched;    /* sample events it matched */
} fz_scan_cost;

typedef struct fz_profile_info {
    size_t events;   /* decoded sample events */
    size_t invalid;  /* lines that did not decode (skipped) */
    double empty_ns; /* one hs_scan of a database that never matches, per event
                        and field: the floor under every cost */
    double view_bytes[FZ_FIELD_COUNT][FZ_VIEW_COUNT]; /* mean bytes scanned */
} fz_profile_info;

/*
 * Profile every regex term of rs (enabled and shadow rules) over up to
 * max_events events read from the NDJSON file at path, rounds times.
 * On success returns the number of costs and sets *out to a malloc'd array
 * (the caller frees it), most expensive first; *info describes the
 * sample. On failure returns -1 with errstr filled (the file cannot be
 * read, no line decodes, a pattern does not compile).
 * The costs point into rs, which must outlive them.
 */
long fz_profile_scan(const fz_ruleset *rs, const char *path, size_t max_events, int rounds,
                     fz_scan_cost **out, fz_profile_info *info, char *errstr, size_t errstr_size);

#endif
