/*
 * matcher_diff.c - the differential test of the prefilter matcher against
 * the reference matcher (matcher_pair.h) over NDJSON events.
 *
 *   fz_matcher_diff RULES_DIR [--max-diffs N] FILE.ndjson|- ...
 *
 * Every line is decoded with fanzha's decoder; each valid event is matched
 * by both; any difference in the verdicts is printed (event id, both rule
 * lists) and makes the exit status 1, as does any rule whose counters
 * (term hits, matches) differ at the end. The summary line says how many
 * events were compared, how many matched a rule, and how many reached
 * confirmation, so a run that compared nothing cannot pass unnoticed: with
 * no valid event, or with no event matched, the status is 1 too.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "event.h"
#include "matcher_pair.h"

static int usage(void) {
    fprintf(stderr, "usage: fz_matcher_diff RULES_DIR [--max-diffs N] FILE.ndjson|- ...\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 3) return usage();
    const char *dir = argv[1];
    long max_diffs = 10;
    fz_config cfg;
    fz_config_init(&cfg);
    size_t max_bytes = (size_t)cfg.max_event_bytes;
    fz_matcher_pair mp;
    if (fz_matcher_pair_open(&mp, dir, max_bytes) != 0) return 1;
    char err[256];
    fz_decoder *dec = fz_decoder_new(max_bytes, max_bytes, 1024, err, sizeof(err));
    if (!dec) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    unsigned long long events = 0, invalid = 0, matched = 0, diffs = 0;
    char *line = NULL;
    size_t cap = 0;
    for (int a = 2; a < argc; a++) {
        if (!strcmp(argv[a], "--max-diffs") && a + 1 < argc) {
            max_diffs = atol(argv[++a]);
            continue;
        }
        FILE *fp = strcmp(argv[a], "-") ? fopen(argv[a], "r") : stdin;
        if (!fp) {
            perror(argv[a]);
            return 1;
        }
        ssize_t got;
        while ((got = getline(&line, &cap, fp)) >= 0) {
            while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) got--;
            if (got == 0) continue;
            fz_event ev;
            char detail[192];
            fz_decoder_reset_arena(dec);
            if (fz_event_decode(dec, line, (size_t)got, &ev, detail, sizeof(detail)) !=
                FZ_REASON_NONE) {
                invalid++;
                continue;
            }
            events++;
            fz_matches out[2];
            int eq = fz_matcher_pair_event(&mp, &ev, out);
            if (eq < 0) {
                fprintf(stderr, "scan error\n");
                return 1;
            }
            if (out[1].n > 0 || out[1].nshadow > 0) matched++;
            if (eq) continue;
            if ((long)diffs++ < max_diffs) {
                fprintf(stderr, "DIFFERENT: %.*s\n", (int)(got < 600 ? got : 600), line);
                fz_matcher_pair_print(&mp, out, stderr);
            }
        }
        if (fp != stdin) fclose(fp);
    }
    free(line);
    fz_prefilter_stats ps;
    fz_matcher_prefilter_stats(mp.m[0], &ps);
    size_t cdiffs = fz_matcher_pair_counters(&mp, (size_t)max_diffs, stderr);
    printf("matcher-diff: %llu events compared (%llu invalid skipped), %llu matched a rule, "
           "%.1f %% reached confirmation; %llu difference(s); %zu rule(s) with other counters\n",
           events, invalid, matched,
           ps.scans ? 100.0 * (double)ps.events_with_candidates / (double)ps.scans : 0.0, diffs,
           cdiffs);
    fz_decoder_destroy(dec);
    fz_matcher_pair_close(&mp);
    fz_config_free(&cfg);
    if (events == 0 || matched == 0) {
        fprintf(stderr, "matcher-diff: nothing compared or nothing matched: not a test\n");
        return 1;
    }
    return diffs || cdiffs ? 1 : 0;
}
