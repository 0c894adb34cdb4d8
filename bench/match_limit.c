/*
 * match_limit.c - the match limit: how fast the same events can be decoded
 * and scanned with the same Hyperscan databases, and nothing else.
 *
 *   fz_match_limit [--rules DIR] [--rules-compiled FILE] [--rounds N] EVENTS.ndjson
 *
 * Loads the ruleset the way fanzha does (fz_rules_build), reads EVENTS into
 * memory, then per round and per line: decode with fanzha's decoder
 * (fz_event_decode), build the views the databases scan
 * (fz_pipeline_views: raw fields are views into the line, normalised ones
 * are computed), and match them with fanzha's matcher (fz_matcher_scan:
 * every scanned database, the prefilter's factor hits and the confirm
 * scans of the candidates, rule conditions). No verdicts, dedup, campaigns,
 * statistics, encoding or output: what fanzha does beyond this is its own
 * cost. Prints the median events/s over the rounds (and the best), one
 * line, for bench/run; with --per-db, also where the scan time goes (each
 * scanned database timed alone, the confirm scans as the rest) and the
 * prefilter's candidate rate, and the --top N (default 10) regexes that are
 * candidates most often. --no-prefilter loads the rules without it
 * (the reference matcher).
 */
#define _GNU_SOURCE
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "matcher.h"
#include "pipeline.h"
#include "reload.h"
#include "rules.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx) {
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (*(unsigned long long *)ctx)++;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int usage(void) {
    fprintf(stderr, "usage: fz_match_limit [--rules DIR] [--rules-compiled FILE] [--rounds N] "
                    "[--per-db [--top N]] [--no-prefilter] EVENTS.ndjson\n");
    return 2;
}

int main(int argc, char **argv) {
    fz_config cfg;
    fz_config_init(&cfg);
    const char *path = NULL;
    int rounds = 5, per_db = 0, top_n = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rules") && i + 1 < argc) {
            free(cfg.rules_dir);
            cfg.rules_dir = strdup(argv[++i]);
        } else if (!strcmp(argv[i], "--rules-compiled") && i + 1 < argc) {
            cfg.rules_compiled = strdup(argv[++i]);
        } else if (!strcmp(argv[i], "--per-db")) {
            per_db = 1;
        } else if (!strcmp(argv[i], "--no-prefilter")) {
            cfg.rules_prefilter = 0;
        } else if (!strcmp(argv[i], "--top") && i + 1 < argc) {
            top_n = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            return usage();
        }
    }
    if (!path || rounds < 1) return usage();
    cfg.rules_require_tests = 0;
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_rules_build(&cfg, &diags);
    fz_rule_diags_print(&diags, stderr);
    fz_rule_diags_free(&diags);
    if (!rs) return 1;

    /* the events, in memory */
    FILE *fp = fopen(path, "r");
    if (!fp) {
        perror(path);
        return 1;
    }
    char **line = NULL, *buf = NULL;
    size_t *len = NULL, n = 0, cap = 0, bcap = 0;
    ssize_t got;
    while ((got = getline(&buf, &bcap, fp)) >= 0) {
        while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r')) got--;
        if (got == 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            line = realloc(line, cap * sizeof(*line));
            len = realloc(len, cap * sizeof(*len));
            if (!line || !len) return 1;
        }
        line[n] = memcpy(malloc((size_t)got), buf, (size_t)got);
        len[n++] = (size_t)got;
    }
    free(buf);
    fclose(fp);

    char err[256];
    fz_pipeline *p = fz_pipeline_new((size_t)cfg.max_event_bytes, 0, err, sizeof(err));
    fz_decoder *dec = fz_decoder_new((size_t)cfg.max_event_bytes, (size_t)cfg.max_event_bytes, 1024,
                                     err, sizeof(err));
    if (!p || !dec || fz_pipeline_bind(p, rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "fz_match_limit: %s\n", err);
        return 1;
    }
    size_t ndb = fz_ruleset_db_count(rs);
    hs_scratch_t *scratch = NULL;
    for (size_t i = 0; i < ndb; i++)
        if (hs_alloc_scratch(fz_ruleset_db_at(rs, i)->db, &scratch) != HS_SUCCESS) return 1;
    fz_matcher *m = fz_matcher_new(rs, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "fz_match_limit: %s\n", err);
        return 1;
    }

    double *rate = calloc((size_t)rounds, sizeof(double));
    double *db_secs = calloc(ndb + 1, sizeof(double));
    unsigned long long matched = 0, invalid = 0, disguised = 0; /* disguised: per round */
    uint64_t scored = 0; /* model scorings in the first pass */
    double match_secs = 0, views_secs = 0;
    for (int r = 0; r < rounds + 2 * per_db; r++) {
        int timing = r == rounds;    /* an extra --per-db pass: each database alone */
        int views_only = r > rounds; /* and one without matching: decode and views */
        if (r < rounds) matched = invalid = disguised = 0;
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            fz_event ev;
            char detail[192];
            fz_decoder_reset_arena(dec);
            if (fz_event_decode(dec, line[i], len[i], &ev, detail, sizeof(detail)) !=
                FZ_REASON_NONE) {
                invalid += r < rounds;
                continue;
            }
            fz_views views;
            fz_pipeline_views(p, &ev, &views);
            if (views_only) continue;
            disguised += r < rounds && views[FZ_FIELD_TEXT][FZ_VIEW_UNMASKED].p;
            fz_matches mt;
            double t1 = timing ? now() : 0;
            if (fz_matcher_scan(m, &views, &mt) > 0 && r < rounds) matched++;
            if (!timing) continue;
            match_secs += now() - t1;
            for (size_t k = 0; k < ndb; k++) { /* each scanned database alone */
                const fz_db *db = fz_ruleset_db_at(rs, k);
                fz_str v = views[db->field][db->view];
                if (!v.p || v.n == 0) continue; /* confirm groups too: their cost per scan */
                unsigned long long hits = 0;
                double t2 = now();
                hs_scan(db->db, v.p, (unsigned)v.n, 0, scratch, on_match, &hits);
                db_secs[k] += now() - t2;
            }
        }
        if (views_only) views_secs = now() - t0;
        if (r < rounds) rate[r] = (double)n / (now() - t0);
        if (r == 0) scored = fz_matcher_models_scored(m); /* one pass's model scorings */
    }
    qsort(rate, (size_t)rounds, sizeof(double), cmp_double);
    size_t nscanned = 0;
    for (size_t k = 0; k < ndb; k++) nscanned += !fz_ruleset_db_at(rs, k)->confirm;
    printf("match-limit: %zu events, %.0f events/s median of %d round(s), best %.0f; "
           "%llu matched, %llu invalid; %zu database(s) scanned, %zu confirm group(s), "
           "%zu patterns, prefilter %s\n",
           n, rate[rounds / 2], rounds, rate[rounds - 1], matched, invalid, nscanned,
           ndb - nscanned, fz_ruleset_pattern_count(rs), fz_ruleset_prefiltered(rs) ? "on" : "off");
    if (fz_ruleset_model_count(rs))
        printf("  model terms: %zu model file(s), %llu scorings in a pass: %.1f %% of events "
               "reached a scorer\n",
               fz_ruleset_model_count(rs), (unsigned long long)scored,
               n ? 100.0 * (double)scored / (double)n : 0.0);
    if (per_db) {
        double scanned = 0;
        for (size_t k = 0; k < ndb; k++)
            scanned += fz_ruleset_db_at(rs, k)->confirm ? 0 : db_secs[k];
        for (size_t k = 0; k < ndb; k++) {
            const fz_db *db = fz_ruleset_db_at(rs, k);
            if (db->confirm) {
                fz_prefilter_stats ps0;
                fz_matcher_prefilter_stats(m, &ps0);
                double per_ev =
                    ps0.scans ? (double)fz_matcher_confirm_scans(m)[k] / (double)ps0.scans : 0.0;
                printf("  confirm group %zu: %zu regexes, %.2f us per scan, scanned for %.1f %% "
                       "of events: %.3f us per event\n",
                       k, db->natoms, 1e6 * db_secs[k] / (double)n, 100.0 * per_ev,
                       1e6 * db_secs[k] / (double)n * per_ev);
                continue;
            }
            printf("  database %zu: %s/%s %s, %zu atoms: %.1f %% of match time, %.2f us per "
                   "event\n",
                   k, fz_field_name(db->field), fz_view_name(db->view),
                   db->literal ? "literal" : "regex", db->natoms,
                   match_secs > 0 ? 100.0 * db_secs[k] / match_secs : 0.0,
                   1e6 * db_secs[k] / (double)n);
        }
        /* the matcher's own time: a round's median less decode and views;
         * what the scanned databases alone do not explain is the confirm
         * scans, factor bookkeeping and rule conditions */
        double per_event = 1.0 / rate[rounds / 2], dv = views_secs / (double)n;
        printf("  decode and views: %.2f us per event; matching: %.2f us per event\n", 1e6 * dv,
               1e6 * (per_event - dv));
        match_secs = (per_event - dv) * (double)n;
        double rest = match_secs > scanned ? match_secs - scanned : 0;
        fz_prefilter_stats ps;
        fz_matcher_prefilter_stats(m, &ps);
        double ev = ps.scans ? (double)ps.scans : 1;
        printf("  confirm scans and rule conditions: %.1f %% of match time, %.2f us per event\n",
               match_secs > 0 ? 100.0 * rest / match_secs : 0.0, 1e6 * rest / (double)n);
        printf("  prefilter: %zu regexes behind %zu factor literals; %.1f %% of events had a "
               "candidate; %.3f candidates (%.3f not needed by any verdict) and %.3f confirm "
               "group scans per event, %.1f %% of those scans matched\n",
               fz_ruleset_confirm_count(rs), fz_ruleset_factor_count(rs),
               100.0 * (double)ps.events_with_candidates / ev, (double)ps.candidates / ev,
               (double)ps.not_needed / ev, (double)ps.group_scans / ev,
               ps.group_scans ? 100.0 * (double)ps.confirmed / (double)ps.group_scans : 0.0);
        printf("  prefilter: %.2f factor hits per event, counting for %.2f clauses\n",
               (double)ps.factor_hits / ev, (double)ps.factor_targets / ev);
        printf("  disguised texts (scanned unmasked as well): %.2f %% of events\n",
               n ? 100.0 * (double)disguised / (double)n : 0.0);
        const uint64_t *cc = fz_matcher_candidate_counts(m);
        const fz_confirm *cf = fz_ruleset_confirms(rs);
        for (int top = 0; top < top_n; top++) { /* the least selective factors */
            size_t best = SIZE_MAX;
            for (size_t c = 0; c < fz_ruleset_confirm_count(rs); c++)
                if (cc[c] && (best == SIZE_MAX || cc[c] > cc[best])) best = c;
            if (best == SIZE_MAX) break;
            const fz_atom *a = &fz_ruleset_atoms(rs)[cf[best].atom];
            const fz_rule *r = fz_ruleset_rule(rs, a->rule);
            printf("    candidate in %5.1f %% of events: %s:%u: %s term '%s' (confirm group %u)\n",
                   100.0 * (double)cc[best] / ev, r->file, r->terms[a->term].line, r->id,
                   r->terms[a->term].name, cf[best].db);
            ((uint64_t *)cc)[best] = 0;
        }
    }
    fz_matcher_destroy(m);
    free(db_secs);
    for (size_t i = 0; i < n; i++) free(line[i]);
    free(line);
    free(len);
    free(rate);
    hs_free_scratch(scratch);
    fz_decoder_destroy(dec);
    fz_pipeline_destroy(p);
    fz_ruleset_unref(rs);
    fz_config_free(&cfg);
    return 0;
}
