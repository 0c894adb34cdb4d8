/*
 * profile.c - see profile.h.
 *
 * The sample is decoded once: the view of every (field, view) pair that
 * some regex term scans is copied into one corpus per pair, so the timed
 * loops do nothing but hs_scan. Each term's database is compiled, timed
 * and freed before the next, so memory stays at one small database.
 */
#include "profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "norm.h"
#include "pipeline.h"
#include "url.h"
#include "skel.h"

#define MAX_LINE_BYTES (1u << 20)

typedef struct corpus {
    char *bytes;
    size_t len, cap;
    size_t *off; /* event i's view is bytes[off[i] .. off[i + 1]); absent = empty */
} corpus;

typedef struct sample {
    size_t n;
    corpus c[FZ_FIELD_COUNT][FZ_VIEW_COUNT];
    int used[FZ_FIELD_COUNT][FZ_VIEW_COUNT];
    const fz_url_brands *brands; /* for the url_* fields */
} sample;

static int corpus_put(corpus *c, const char *p, size_t n) {
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 1u << 20;
        while (cap < c->len + n) cap *= 2;
        char *nb = realloc(c->bytes, cap);
        if (!nb) return -1;
        c->bytes = nb;
        c->cap = cap;
    }
    if (n) memcpy(c->bytes + c->len, p, n);
    c->len += n;
    return 0;
}

static void sample_free(sample *s) {
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        for (int v = 0; v < FZ_VIEW_COUNT; v++) {
            free(s->c[f][v].bytes);
            free(s->c[f][v].off);
        }
}

/* Read and decode up to max events; fill the corpora that are used. */
static int sample_read(sample *s, const char *path, size_t max, fz_profile_info *info, char *errstr,
                       size_t errstr_size) {
    int rc = -1;
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *line = NULL, *norm = NULL, *unorm = NULL, *facts = NULL, detail[192];
    size_t lcap = 0;
    fz_decoder *dec = NULL;
    fz_url_scan *urls = NULL;
    if (!fp) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    dec = fz_decoder_new(MAX_LINE_BYTES, MAX_LINE_BYTES, 1024, errstr, errstr_size);
    norm = malloc(3 * MAX_LINE_BYTES + 64); /* a view; the skeleton's uses 2 x + 64 */
    unorm = malloc(MAX_LINE_BYTES);         /* the text the links are read from */
    facts = malloc(FZ_TEXT_FACTS_ROOM(MAX_LINE_BYTES));
    urls = fz_url_scan_new(errstr, errstr_size);
    if (!dec || !norm || !unorm || !facts || !urls) {
        if (dec) snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        for (int v = 0; v < FZ_VIEW_COUNT; v++)
            if (s->used[f][v] && !(s->c[f][v].off = malloc((max + 1) * sizeof(size_t)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
            }
    ssize_t got;
    uint64_t lineno = 0;
    while (s->n < max && (got = getline(&line, &lcap, fp)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) got--;
        if (got == 0) continue;
        fz_event ev;
        fz_decoder_reset_arena(dec);
        if (fz_event_decode(dec, line, (size_t)got, &ev, detail, sizeof(detail)) !=
            FZ_REASON_NONE) {
            info->invalid++;
            continue;
        }
        fz_views uv; /* the derived views, as the pipeline computes them */
        memset(&uv, 0, sizeof(uv));
        fz_str text = ev.fields[FZ_FIELD_TEXT];
        int links = 0;
        for (int f = FZ_FIELD_EVENT_COUNT; f < FZ_FIELD_COUNT; f++)
            for (int v = 0; v < FZ_VIEW_COUNT; v++) links |= s->used[f][v];
        if (text.p && links)
            fz_pipeline_derived_views(urls, s->brands, FZ_DERIVED_WANT_ALL, text,
                                      (fz_str){unorm, fz_norm_text(text.p, text.n, unorm)}, facts,
                                      &uv);
        for (int f = 0; f < FZ_FIELD_COUNT; f++)
            for (int v = 0; v < FZ_VIEW_COUNT; v++) {
                if (!s->used[f][v]) continue;
                corpus *c = &s->c[f][v];
                if (f >= FZ_FIELD_EVENT_COUNT) {
                    c->off[s->n] = c->len;
                    if (uv[f][v].p && corpus_put(c, uv[f][v].p, uv[f][v].n) != 0) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto out;
                    }
                    continue;
                }
                fz_str raw = ev.fields[f];
                c->off[s->n] = c->len;
                if (!raw.p) continue;
                const char *p = raw.p;
                size_t n = raw.n;
                if (v == FZ_VIEW_SKEL) {
                    n = fz_skel_text(raw.p, raw.n, norm + 2 * MAX_LINE_BYTES + 64, norm,
                                     2 * MAX_LINE_BYTES + 64);
                    p = norm;
                } else if (v == FZ_VIEW_NORM) {
                    n = f == FZ_FIELD_TEXT ? fz_norm_text(raw.p, raw.n, norm)
                                           : fz_norm_number(raw.p, raw.n, norm);
                    p = norm;
                }
                if (corpus_put(c, p, n) != 0) {
                    snprintf(errstr, errstr_size, "out of memory");
                    goto out;
                }
            }
        s->n++;
    }
    if (ferror(fp)) {
        snprintf(errstr, errstr_size, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    if (s->n == 0) {
        snprintf(errstr, errstr_size, "%s: no event decodes (%llu line(s) read)", path,
                 (unsigned long long)lineno);
        goto out;
    }
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        for (int v = 0; v < FZ_VIEW_COUNT; v++)
            if (s->used[f][v]) {
                s->c[f][v].off[s->n] = s->c[f][v].len;
                info->view_bytes[f][v] = (double)s->c[f][v].len / (double)s->n;
            }
    rc = 0;
out:
    free(line);
    free(norm);
    free(unorm);
    free(facts);
    fz_url_scan_destroy(urls);
    fz_decoder_destroy(dec);
    if (fp != stdin) fclose(fp);
    return rc;
}

static int count_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                       void *ctx) {
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (*(uint64_t *)ctx)++;
    return 1; /* one is enough: stop this scan */
}

static int cmp_ns(const void *a, const void *b) {
    double x = ((const fz_scan_cost *)a)->ns_per_event, y = ((const fz_scan_cost *)b)->ns_per_event;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median ns per event of scanning corpus c with db over rounds rounds;
 * *matched gets the events matched (one round's count). */
static int time_db(const hs_database_t *db, const corpus *c, size_t n, int rounds, double *ns,
                   uint64_t *matched) {
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) return -1;
    double t[16];
    if (rounds > 16) rounds = 16;
    for (int r = 0; r < rounds; r++) {
        uint64_t m = 0;
        int64_t t0 = fz_mono_ns();
        for (size_t i = 0; i < n; i++) {
            size_t a = c->off[i], b = c->off[i + 1];
            if (b == a) continue; /* fanzha does not scan an empty or absent view */
            hs_error_t e =
                hs_scan(db, c->bytes + a, (unsigned)(b - a), 0, scratch, count_match, &m);
            if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED) {
                hs_free_scratch(scratch);
                return -1;
            }
        }
        t[r] = (double)(fz_mono_ns() - t0) / (double)n;
        *matched = m;
    }
    hs_free_scratch(scratch);
    qsort(t, (size_t)rounds, sizeof(double), cmp_double);
    *ns = t[rounds / 2];
    return 0;
}

/* Every regex term of an enabled or shadow rule, on every field it scans:
 * written to costs when not NULL (timings zero), and its corpus marked used.
 * Returns how many. */
static size_t list_terms(const fz_ruleset *rs, sample *s, fz_scan_cost *costs) {
    size_t j = 0;
    for (size_t i = 0; i < fz_ruleset_count(rs); i++) {
        const fz_rule *r = fz_ruleset_rule(rs, i);
        if (r->status == FZ_STATUS_DISABLED) continue;
        for (size_t k = 0; k < r->nterms; k++) {
            const fz_term *t = &r->terms[k];
            if (!t->pattern) continue;
            for (int f = 0; f < FZ_FIELD_COUNT; f++) {
                if (!(t->fields & (1u << f))) continue;
                fz_view v = fz_term_view(t, (fz_field)f);
                s->used[f][v] = 1;
                if (costs) costs[j] = (fz_scan_cost){r, t, (fz_field)f, v, 0, 0};
                j++;
            }
        }
    }
    return j;
}

long fz_profile_scan(const fz_ruleset *rs, const char *path, size_t max_events, int rounds,
                     fz_scan_cost **out, fz_profile_info *info, char *errstr, size_t errstr_size) {
    sample s;
    memset(&s, 0, sizeof(s));
    s.brands = fz_ruleset_url_brands(rs);
    memset(info, 0, sizeof(*info));
    *out = NULL;
    if (rounds < 1) rounds = 1;
    /* which terms, and which corpora they need */
    size_t ncost = list_terms(rs, &s, NULL);
    if (ncost == 0) {
        snprintf(errstr, errstr_size, "the ruleset has no regex terms to profile");
        return -1;
    }
    fz_scan_cost *costs = calloc(ncost, sizeof(*costs));
    if (!costs) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    list_terms(rs, &s, costs);
    if (fz_skel_init(errstr, errstr_size) != 0 ||
        sample_read(&s, path, max_events, info, errstr, errstr_size) != 0)
        goto fail;
    info->events = s.n;

    /* the floor: a database that never matches, on the first corpus used */
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    if (hs_compile("\\x00\\x01\\x02\\x03", HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, NULL, &db, &cerr) !=
        HS_SUCCESS) {
        snprintf(errstr, errstr_size, "Hyperscan: %s", cerr ? cerr->message : "compile failed");
        hs_free_compile_error(cerr);
        goto fail;
    }
    for (int f = 0, done = 0; f < FZ_FIELD_COUNT && !done; f++)
        for (int v = 0; v < FZ_VIEW_COUNT && !done; v++)
            if (s.used[f][v]) {
                uint64_t m;
                time_db(db, &s.c[f][v], s.n, rounds, &info->empty_ns, &m);
                done = 1;
            }
    hs_free_database(db);

    for (size_t j = 0; j < ncost; j++) {
        fz_scan_cost *c = &costs[j];
        const fz_rule *r = c->rule;
        const fz_term *t = c->term;
        db = NULL;
        cerr = NULL;
        if (hs_compile(t->pattern, fz_term_regex_flags(t, c->view), HS_MODE_BLOCK, NULL, &db,
                       &cerr) != HS_SUCCESS) {
            snprintf(errstr, errstr_size, "%s:%u: rule '%s': Hyperscan: %s", r->file, t->line,
                     r->id, cerr ? cerr->message : "compile failed");
            hs_free_compile_error(cerr);
            goto fail;
        }
        int rc = time_db(db, &s.c[c->field][c->view], s.n, rounds, &c->ns_per_event, &c->matched);
        hs_free_database(db);
        if (rc != 0) {
            snprintf(errstr, errstr_size, "%s:%u: rule '%s': Hyperscan scan failed", r->file,
                     t->line, r->id);
            goto fail;
        }
    }
    qsort(costs, ncost, sizeof(*costs), cmp_ns);
    sample_free(&s);
    *out = costs;
    return (long)ncost;
fail:
    sample_free(&s);
    free(costs);
    return -1;
}
