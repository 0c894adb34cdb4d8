/*
 * matcher.h - per-worker matching of an event's fields against a ruleset.
 *
 * A matcher owns one Hyperscan scratch, per-rule state for the event being
 * scanned (which terms matched) and per-rule counters, and is used by
 * exactly one thread; its counters may be read by others. The ruleset it
 * scans is shared read-only. fz_matcher_new() allocates everything for one
 * ruleset, so a reload can prepare matchers off the hot path and a worker
 * swaps them in with a pointer exchange; scanning never allocates.
 *
 * Revision pairs (rules.h, fz_rule.pair: an enabled rule and its shadow
 * revision) are compared per event: after the conditions are evaluated,
 * each matched revision whose partner matched too counts `both`, from the
 * same per-rule match stamps, so the comparison costs a pass over the
 * touched rules, only in rulesets that have a pair.
 */
#ifndef FZ_MATCHER_H
#define FZ_MATCHER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "lazyterm.h"
#include "rules.h"

/* Most rules reported for one event; more matches are counted, not kept. */
#define FZ_MAX_MATCHES 64
#define FZ_MAX_SHADOW 16
#define FZ_MAX_SCORES 4

/* The views of an event's fields, indexed [field][view]; .p == NULL when
 * absent or not needed. One column more than the rules' views:
 * [FZ_FIELD_TEXT][FZ_VIEW_UNMASKED] is the unmasked text, its skeleton
 * (skel.h), present only when the text is disguised (textfacts.h,
 * FZ_TEXT_DISGUISED). No rule names it; the databases of the text's
 * normalised view scan it as well as the normalised text, and a term found
 * in either is found. */
#define FZ_VIEW_UNMASKED FZ_VIEW_COUNT
typedef fz_str fz_views[FZ_FIELD_COUNT][FZ_VIEW_COUNT + 1];

typedef struct fz_matches {
    int n;            /* enabled rules that matched (in rules[], ascending) */
    int truncated;    /* more than FZ_MAX_MATCHES: rules[] keeps the lowest */
    uint32_t primary; /* highest severity matched, lowest index on ties (n > 0) */
    uint32_t rules[FZ_MAX_MATCHES];
    int nshadow; /* shadow rules that matched (first FZ_MAX_SHADOW kept) */
    uint32_t shadow[FZ_MAX_SHADOW];
    int nscores; /* models scored for the event's model terms (lazyterm.h) */
    fz_score scores[FZ_MAX_SCORES];
} fz_matches;

/* Per-rule counters: written by the owning thread, read by anyone. */
typedef struct fz_rule_counters {
    _Atomic uint64_t matches; /* events the rule matched (shadow rules too) */
    _Atomic uint64_t hits;    /* Hyperscan callbacks for its patterns: the cost indicator */
    _Atomic uint64_t both;    /* a revision of a pair (rules.h, fz_rule.pair): events it and
                               * the other revision both matched; it alone: matches - both */
} fz_rule_counters;

typedef struct fz_matcher fz_matcher;

/* A matcher for rs: scratch, state and counters. It does not keep a
 * reference; the caller keeps rs alive while the matcher is used. */
fz_matcher *fz_matcher_new(const fz_ruleset *rs, char *errstr, size_t errstr_size);
void fz_matcher_destroy(fz_matcher *m);
const fz_ruleset *fz_matcher_ruleset(const fz_matcher *m);

/*
 * Scan every view of every field that some database needs. Fills out and
 * returns out->n, or -1 on a Hyperscan runtime error.
 */
int fz_matcher_scan(fz_matcher *m, const fz_views *views, fz_matches *out);

/* After a scan: did rule idx match (enabled or shadow)? For rule tests. */
int fz_matcher_matched(const fz_matcher *m, uint32_t idx);

/* How the prefilter did on this matcher's scans (owning thread only). */
typedef struct fz_prefilter_stats {
    uint64_t scans;                  /* events scanned */
    uint64_t events_with_candidates; /* events where some regex had to be confirmed */
    uint64_t factor_hits;            /* factor literals found */
    uint64_t factor_targets;         /* clauses they counted for */
    uint64_t candidates;             /* regexes whose factors all hit */
    uint64_t not_needed;             /* of them, not confirmed: no verdict depended on them */
    uint64_t group_scans;            /* confirm databases scanned for them */
    uint64_t confirmed;              /* group scans where some regex matched */
} fz_prefilter_stats;

void fz_matcher_prefilter_stats(const fz_matcher *m, fz_prefilter_stats *out);
/* Per confirm (fz_ruleset_confirms()): scans where it was a candidate. */
const uint64_t *fz_matcher_candidate_counts(const fz_matcher *m);
/* Per database (fz_ruleset_db_at()): how often it was scanned as a
 * confirm group. */
const uint64_t *fz_matcher_confirm_scans(const fz_matcher *m);

/* Models scored by this matcher's scans (each model once per event, only
 * where a rule's outcome depended on it; lazyterm.h). */
uint64_t fz_matcher_models_scored(const fz_matcher *m);

/* Counters of rule idx (array of fz_ruleset_count() entries). */
const fz_rule_counters *fz_matcher_counters(const fz_matcher *m);

#endif
