/*
 * flag_split.c - does mixing patterns with different flags in one Hyperscan
 * database slow scanning? Compiles the patterns of PATTERNS (lines
 * "flags<TAB>regex") once as one database and once as two (split on
 * HS_FLAG_DOTALL, the flag the shipped rules differ in), then scans every
 * line of TEXTS with each, five times, and prints messages/s side by side.
 * Built and run by bench/flag_split.py.
 *
 *   flag_split PATTERNS TEXTS
 */
#define _GNU_SOURCE
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PATTERNS 100000
#define MAX_TEXTS 1000000

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
    (*(long *)ctx)++;
    return 0;
}

static hs_database_t *compile(const char **ex, const unsigned *fl, const unsigned *ids, size_t n) {
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi(ex, fl, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS) {
        fprintf(stderr, "flag_split: compile failed: %s\n", err ? err->message : "?");
        exit(1);
    }
    return db;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: flag_split PATTERNS TEXTS\n");
        return 2;
    }
    static const char *ex[MAX_PATTERNS], *pex[MAX_PATTERNS];
    static unsigned fl[MAX_PATTERNS], ids[MAX_PATTERNS], pfl[MAX_PATTERNS], pids[MAX_PATTERNS];
    size_t n = 0, nt = 0, cap = 0;
    char *line = NULL;
    FILE *f = fopen(argv[1], "r");
    if (!f) return perror(argv[1]), 1;
    while (n < MAX_PATTERNS && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        fl[n] = (unsigned)atoi(line);
        ex[n] = strdup(tab + 1);
        ids[n] = (unsigned)n;
        n++;
    }
    fclose(f);
    char **txt = malloc(MAX_TEXTS * sizeof(char *));
    size_t *len = malloc(MAX_TEXTS * sizeof(size_t));
    f = fopen(argv[2], "r");
    if (!f || !txt || !len) return perror(argv[2]), 1;
    while (nt < MAX_TEXTS && getline(&line, &cap, f) > 0) {
        len[nt] = strcspn(line, "\n");
        txt[nt] = strndup(line, len[nt]);
        nt++;
    }
    fclose(f);
    free(line);

    hs_scratch_t *s = NULL;
    hs_database_t *all = compile(ex, fl, ids, n), *part[2];
    hs_alloc_scratch(all, &s);
    for (int p = 0; p < 2; p++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!!(fl[i] & HS_FLAG_DOTALL) == p) {
                pex[k] = ex[i];
                pfl[k] = fl[i];
                pids[k] = ids[i];
                k++;
            }
        part[p] = compile(pex, pfl, pids, k);
        hs_alloc_scratch(part[p], &s);
        printf("part %d (%s): %zu patterns\n", p, p ? "dotall" : "no dotall", k);
    }
    for (int rep = 0; rep < 5; rep++) {
        long m1 = 0, m2 = 0;
        double t0 = now();
        for (size_t i = 0; i < nt; i++) hs_scan(all, txt[i], (unsigned)len[i], 0, s, on_match, &m1);
        double t1 = now();
        for (size_t i = 0; i < nt; i++)
            for (int p = 0; p < 2; p++)
                hs_scan(part[p], txt[i], (unsigned)len[i], 0, s, on_match, &m2);
        double t2 = now();
        printf("mixed: %.0f msg/s (%ld matches)  split: %.0f msg/s (%ld matches)  "
               "split/mixed throughput %.2f\n",
               (double)nt / (t1 - t0), m1, (double)nt / (t2 - t1), m2, (t1 - t0) / (t2 - t1));
    }
    return 0;
}
