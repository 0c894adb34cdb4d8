/*
 * decode_bench.c - what decoding and the normalised views cost per event,
 * with no matching at all.
 *
 *   fz_decode_bench [--rules DIR] [--rules-compiled FILE] [--rounds N]
 *                   [--simd LEVEL|all] EVENTS.ndjson
 *
 * Reads EVENTS (one JSON event a line) into memory and times, per round
 * and per line:
 *   decode        fz_event_decode alone (the decoder's arena reset per event,
 *                 as the pipeline does per batch);
 *   decode+views  the same decode, then fz_pipeline_views: the views that
 *                 the bound ruleset scans (for the shipped rules, the
 *                 normalised text).
 * The ruleset is loaded the way fanzha loads it (fz_rules_build), only to
 * know which views to build; compile it once with `fanzha rules compile`
 * and pass --rules-compiled to skip the compile. Prints the median over
 * the rounds (and the best) in µs per event and events/s, and how many
 * events were invalid. Times are the thread's CPU time.
 *
 * --simd picks the decoder's and normaliser's vector level (simd.h: off,
 * sse4.2, avx2; default: FANZHA_SIMD or the best the CPU has); --simd all
 * times every level the CPU has, round by round in turn, so that they
 * share whatever else the machine is doing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "simd.h"
#include "pipeline.h"
#include "reload.h"
#include "rules.h"

/* The thread's CPU time: time slices that other processes on a shared
 * machine take do not count. */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int usage(void) {
    fprintf(stderr, "usage: fz_decode_bench [--rules DIR] [--rules-compiled FILE] [--rounds N] "
                    "[--simd off|sse4.2|avx2|all] EVENTS.ndjson\n");
    return 2;
}

/* The events, in memory: one buffer, lines at off[i] with len[i] bytes. */
typedef struct events {
    char *buf;
    size_t *off, *len, n, bytes;
} events;

static int events_read(const char *path, events *ev) {
    FILE *fp = fopen(path, "r");
    if (!fp) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0, cap = 0, bcap = 0;
    ssize_t got;
    memset(ev, 0, sizeof(*ev));
    while ((got = getline(&line, &lcap, fp)) >= 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) got--;
        if (got == 0) continue;
        if (ev->n == cap) {
            cap = cap ? 2 * cap : 65536;
            ev->off = realloc(ev->off, cap * sizeof(*ev->off));
            ev->len = realloc(ev->len, cap * sizeof(*ev->len));
            if (!ev->off || !ev->len) goto nomem;
        }
        if (ev->bytes + (size_t)got > bcap) {
            bcap = 2 * (ev->bytes + (size_t)got);
            ev->buf = realloc(ev->buf, bcap);
            if (!ev->buf) goto nomem;
        }
        memcpy(ev->buf + ev->bytes, line, (size_t)got);
        ev->off[ev->n] = ev->bytes;
        ev->len[ev->n++] = (size_t)got;
        ev->bytes += (size_t)got;
    }
    free(line);
    fclose(fp);
    return 0;
nomem:
    fprintf(stderr, "fz_decode_bench: out of memory\n");
    free(line);
    fclose(fp);
    return -1;
}

/* One round over every event; returns seconds. */
static double round_once(fz_pipeline *p, fz_decoder *dec, const events *ev, int views,
                         size_t *invalid, size_t *view_bytes) {
    size_t bad = 0, vb = 0;
    double t0 = now();
    for (size_t i = 0; i < ev->n; i++) {
        fz_event e;
        char detail[192];
        fz_decoder_reset_arena(dec);
        if (fz_event_decode(dec, ev->buf + ev->off[i], ev->len[i], &e, detail, sizeof(detail)) !=
            FZ_REASON_NONE) {
            bad++;
            continue;
        }
        if (!views) continue;
        fz_views v;
        fz_pipeline_views(p, &e, &v);
        for (int f = 0; f < FZ_FIELD_COUNT; f++) vb += v[f][FZ_VIEW_NORM].n + v[f][FZ_VIEW_SKEL].n;
    }
    double t = now() - t0;
    *invalid = bad;
    *view_bytes = vb;
    return t;
}

int main(int argc, char **argv) {
    fz_config cfg;
    fz_config_init(&cfg);
    const char *path = NULL;
    int rounds = 7, all_levels = 0;
    fz_simd_level level = fz_simd_level_get();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rules") && i + 1 < argc) {
            free(cfg.rules_dir);
            cfg.rules_dir = strdup(argv[++i]);
        } else if (!strcmp(argv[i], "--rules-compiled") && i + 1 < argc) {
            cfg.rules_compiled = strdup(argv[++i]);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--simd") && i + 1 < argc) {
            if (!strcmp(argv[++i], "all"))
                all_levels = 1;
            else if (fz_simd_level_parse(argv[i], &level) != 0)
                return usage();
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

    events ev;
    if (events_read(path, &ev) != 0) return 1;
    if (ev.n == 0) {
        fprintf(stderr, "fz_decode_bench: %s holds no events\n", path);
        return 1;
    }

    char err[256];
    size_t max_bytes = (size_t)cfg.max_event_bytes;
    fz_pipeline *p = fz_pipeline_new(max_bytes, 0, err, sizeof(err));
    fz_decoder *dec = fz_decoder_new(max_bytes, max_bytes, 1024, err, sizeof(err));
    if (!p || !dec || fz_pipeline_bind(p, rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "fz_decode_bench: %s\n", err);
        return 1;
    }
    int nviews = 0;
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        nviews += fz_ruleset_uses(rs, f, FZ_VIEW_NORM) + fz_ruleset_uses(rs, f, FZ_VIEW_SKEL);

    /* the levels to time: one, or every level this CPU has */
    fz_simd_level levels[FZ_SIMD_LEVEL_COUNT];
    int nlevels = 0;
    if (all_levels)
        for (int l = 0; l <= (int)fz_simd_level_best(); l++) levels[nlevels++] = (fz_simd_level)l;
    else
        levels[nlevels++] = fz_simd_set_level(level);

    static const char *const what[2] = {"decode", "decode+views"};
    double *secs = calloc((size_t)rounds * 2 * FZ_SIMD_LEVEL_COUNT, sizeof(double));
    if (!secs) return 1;
    printf("%zu events, %.0f bytes each on average; %d normalised view(s); median of %d "
           "round(s)\n",
           ev.n, (double)ev.bytes / (double)ev.n, nviews, rounds);
    size_t invalid[2] = {0}, view_bytes[2] = {0};
    for (int r = -1; r < rounds; r++) /* round -1 warms up */
        for (int views = 0; views < 2; views++)
            for (int l = 0; l < nlevels; l++) {
                fz_simd_set_level(levels[l]);
                double t = round_once(p, dec, &ev, views, &invalid[views], &view_bytes[views]);
                if (r >= 0)
                    secs[((size_t)views * FZ_SIMD_LEVEL_COUNT + (size_t)l) * (size_t)rounds +
                         (size_t)r] = t;
            }
    for (int views = 0; views < 2; views++)
        for (int l = 0; l < nlevels; l++) {
            double *s = secs + ((size_t)views * FZ_SIMD_LEVEL_COUNT + (size_t)l) * (size_t)rounds;
            qsort(s, (size_t)rounds, sizeof(double), cmp_double);
            double med = s[rounds / 2], best = s[0];
            printf("%-13s %-7s %.3f us/event  %.0f events/s  (best %.3f us/event, %.0f MB/s); "
                   "%zu invalid, %zu view bytes\n",
                   what[views], fz_simd_level_name(levels[l]), 1e6 * med / (double)ev.n,
                   (double)ev.n / med, 1e6 * best / (double)ev.n, (double)ev.bytes / med / 1e6,
                   invalid[views], view_bytes[views]);
        }
    free(secs);
    free(ev.buf);
    free(ev.off);
    free(ev.len);
    fz_decoder_destroy(dec);
    fz_pipeline_destroy(p);
    fz_ruleset_unref(rs);
    fz_config_free(&cfg);
    return 0;
}
