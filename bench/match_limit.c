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
 * are computed), and hs_scan every database over its view with a callback
 * that only counts. No rule terms, conditions, verdicts, dedup, encoding or
 * output: what fanzha does beyond this is its own cost. Prints the median
 * events/s over the rounds (and the best), one line, for bench/run; with
 * --per-db, also the share of scan time each database takes (where the
 * time goes).
 */
#define _GNU_SOURCE
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
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
                    "EVENTS.ndjson\n");
    return 2;
}

int main(int argc, char **argv) {
    fz_config cfg;
    fz_config_init(&cfg);
    const char *path = NULL;
    int rounds = 5, per_db = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rules") && i + 1 < argc) {
            free(cfg.rules_dir);
            cfg.rules_dir = strdup(argv[++i]);
        } else if (!strcmp(argv[i], "--rules-compiled") && i + 1 < argc) {
            cfg.rules_compiled = strdup(argv[++i]);
        } else if (!strcmp(argv[i], "--per-db")) {
            per_db = 1;
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

    double *rate = calloc((size_t)rounds, sizeof(double));
    double *db_secs = calloc(ndb + 1, sizeof(double));
    unsigned long long matches = 0, invalid = 0;
    for (int r = 0; r < rounds; r++) {
        matches = invalid = 0;
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            fz_event ev;
            char detail[192];
            fz_decoder_reset_arena(dec);
            if (fz_event_decode(dec, line[i], len[i], &ev, detail, sizeof(detail)) !=
                FZ_REASON_NONE) {
                invalid++;
                continue;
            }
            fz_views views;
            fz_pipeline_views(p, &ev, &views);
            for (size_t k = 0; k < ndb; k++) {
                const fz_db *db = fz_ruleset_db_at(rs, k);
                fz_str v = views[db->field][db->view];
                if (!v.p || v.n == 0) continue;
                double t1 = per_db ? now() : 0;
                hs_scan(db->db, v.p, (unsigned)v.n, 0, scratch, on_match, &matches);
                if (per_db) db_secs[k] += now() - t1;
            }
        }
        rate[r] = (double)n / (now() - t0);
    }
    qsort(rate, (size_t)rounds, sizeof(double), cmp_double);
    printf("match-limit: %zu events, %.0f events/s median of %d round(s), best %.0f; "
           "%llu Hyperscan matches, %llu invalid; %zu database(s), %zu patterns\n",
           n, rate[rounds / 2], rounds, rate[rounds - 1], matches, invalid, ndb,
           fz_ruleset_pattern_count(rs));
    double all = 0;
    for (size_t k = 0; k < ndb; k++) all += db_secs[k];
    for (size_t k = 0; per_db && k < ndb; k++) {
        const fz_db *db = fz_ruleset_db_at(rs, k);
        printf("  database %zu: %s/%s %s, %zu atoms: %.1f %% of scan time, %.2f us per event\n", k,
               fz_field_name(db->field), fz_view_name(db->view), db->literal ? "literal" : "regex",
               db->natoms, all > 0 ? 100.0 * db_secs[k] / all : 0.0,
               1e6 * db_secs[k] / ((double)n * rounds));
    }
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
