/*
 * matcher_pair.h - the prefilter matcher and the reference matcher side by
 * side, for the differential tests (matcher_diff.c) and the fuzz target
 * (tests/fuzz/fuzz_matcher.c).
 *
 * One rules directory is loaded twice: with the prefilter (the default)
 * and without it (every regex scanned on every event: the matcher as it
 * was before the prefilter, kept as the reference). Both matchers scan the
 * same views; their verdicts - the enabled rules that matched, in order,
 * the truncation flag, the primary rule, and the shadow rules - must be
 * identical, and so must their per-rule counters over a run. Compiled
 * databases come from the rules cache, so only the
 * first run on a machine compiles.
 */
#ifndef FZ_MATCHER_PAIR_H
#define FZ_MATCHER_PAIR_H

#include <stdio.h>
#include <string.h>

#include "matcher.h"
#include "pipeline.h"
#include "reload.h"
#include "rules.h"

typedef struct fz_matcher_pair {
    fz_ruleset *rs[2]; /* [0] prefilter, [1] reference */
    fz_matcher *m[2];
    fz_pipeline *p; /* builds the views (bound to rs[0]; both use the same views) */
} fz_matcher_pair;

static inline int fz_matcher_pair_open(fz_matcher_pair *mp, const char *dir, size_t max_bytes) {
    memset(mp, 0, sizeof(*mp));
    char err[256];
    for (int i = 0; i < 2; i++) {
        fz_rule_diags diags = {0};
        fz_rules_opts o = {.compile = 1, .no_prefilter = i, .cache = fz_rules_cache(NULL)};
        mp->rs[i] = fz_ruleset_load(dir, &o, &diags);
        if (!mp->rs[i]) fz_rule_diags_print(&diags, stderr);
        fz_rule_diags_free(&diags);
        if (!mp->rs[i]) return -1;
        if (i == 0 && !fz_ruleset_prefiltered(mp->rs[0])) return -1;
        mp->m[i] = fz_matcher_new(mp->rs[i], err, sizeof(err));
        if (!mp->m[i]) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    mp->p = fz_pipeline_new(max_bytes, 0, err, sizeof(err));
    if (!mp->p || fz_pipeline_bind(mp->p, mp->rs[0], err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static inline void fz_matcher_pair_close(fz_matcher_pair *mp) {
    fz_pipeline_destroy(mp->p);
    for (int i = 0; i < 2; i++) {
        fz_matcher_destroy(mp->m[i]);
        fz_ruleset_unref(mp->rs[i]);
    }
}

static inline int fz_matches_equal(const fz_matches *a, const fz_matches *b) {
    if (a->n != b->n || a->truncated != b->truncated || a->nshadow != b->nshadow) return 0;
    if (a->n > 0 && a->primary != b->primary) return 0;
    return memcmp(a->rules, b->rules, (size_t)a->n * sizeof(uint32_t)) == 0 &&
           memcmp(a->shadow, b->shadow, (size_t)a->nshadow * sizeof(uint32_t)) == 0;
}

/* Scan ev with both; 1 if they agree, 0 if not, -1 on a scan error. out[0]
 * and out[1] get each one's matches. */
static inline int fz_matcher_pair_event(fz_matcher_pair *mp, const fz_event *ev,
                                        fz_matches out[2]) {
    fz_views views;
    fz_pipeline_views(mp->p, ev, &views);
    for (int i = 0; i < 2; i++)
        if (fz_matcher_scan(mp->m[i], &views, &out[i]) < 0) return -1;
    return fz_matches_equal(&out[0], &out[1]);
}

/* Compare the two matchers' per-rule counters after a run: matches must
 * be equal; the prefilter's term hits may be fewer (a candidate no verdict
 * needed is not confirmed, so not counted) but never more: its shortcuts
 * (a literal-set regex scanned as literals, a shared regex compiled once)
 * count one hit per scan as the regex did. Prints each rule that differs
 * (up to max); returns how many. */
static inline size_t fz_matcher_pair_counters(const fz_matcher_pair *mp, size_t max, FILE *fp) {
    const fz_rule_counters *c0 = fz_matcher_counters(mp->m[0]);
    const fz_rule_counters *c1 = fz_matcher_counters(mp->m[1]);
    size_t bad = 0;
    for (size_t i = 0; i < fz_ruleset_count(mp->rs[0]); i++) {
        uint64_t h0 = atomic_load(&c0[i].hits), h1 = atomic_load(&c1[i].hits);
        uint64_t m0 = atomic_load(&c0[i].matches), m1 = atomic_load(&c1[i].matches);
        if (h0 <= h1 && m0 == m1) continue;
        if (bad++ < max)
            fprintf(fp,
                    "COUNTERS DIFFER: rule %s: hits %llu (prefilter) / %llu (reference), "
                    "matches %llu / %llu\n",
                    fz_ruleset_rule(mp->rs[0], i)->id, (unsigned long long)h0,
                    (unsigned long long)h1, (unsigned long long)m0, (unsigned long long)m1);
    }
    return bad;
}

/* Print the two verdicts as rule ids. */
static inline void fz_matcher_pair_print(const fz_matcher_pair *mp, const fz_matches out[2],
                                         FILE *fp) {
    static const char *const who[2] = {"prefilter", "reference"};
    for (int i = 0; i < 2; i++) {
        fprintf(fp, "  %s:", who[i]);
        for (int k = 0; k < out[i].n; k++)
            fprintf(fp, " %s", fz_ruleset_rule(mp->rs[i], out[i].rules[k])->id);
        for (int k = 0; k < out[i].nshadow; k++)
            fprintf(fp, " shadow:%s", fz_ruleset_rule(mp->rs[i], out[i].shadow[k])->id);
        fprintf(fp, "\n");
    }
}

#endif
