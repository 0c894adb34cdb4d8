/*
 * pipeline.c - see pipeline.h.
 */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "utf8.h"

struct fz_pipeline {
    fz_counters counters; /* first: its own cache line */
    fz_decoder *dec;
    fz_matcher *matcher;
    fz_buf norm;
};

static const char *const verdict_names[] = {"clean", "alert", "suppressed", "invalid"};

const char *fz_verdict_name(fz_verdict v) { return verdict_names[v]; }

fz_pipeline *fz_pipeline_new(size_t max_event_bytes, size_t arena_bytes, char *errstr,
                             size_t errstr_size) {
    fz_pipeline *p =
        aligned_alloc(FZ_CACHELINE, (sizeof(*p) + FZ_CACHELINE - 1) & ~(size_t)(FZ_CACHELINE - 1));
    if (!p) {
        snprintf(errstr, errstr_size, "pipeline: out of memory");
        return NULL;
    }
    memset(p, 0, sizeof(*p));
    p->dec = fz_decoder_new(max_event_bytes, arena_bytes, 1024, errstr, errstr_size);
    if (!p->dec) goto fail;
    p->matcher = fz_matcher_new(errstr, errstr_size);
    if (!p->matcher) goto fail_dec;
    fz_buf_init(&p->norm, max_event_bytes + 64);
    if (fz_buf_reserve(&p->norm, max_event_bytes + 64) != FZ_OK) {
        snprintf(errstr, errstr_size, "pipeline: out of memory");
        goto fail_matcher;
    }
    return p;
fail_matcher:
    fz_matcher_destroy(p->matcher);
fail_dec:
    fz_decoder_destroy(p->dec);
fail:
    free(p);
    return NULL;
}

void fz_pipeline_destroy(fz_pipeline *p) {
    if (!p) return;
    fz_decoder_destroy(p->dec);
    fz_matcher_destroy(p->matcher);
    fz_buf_free(&p->norm);
    free(p);
}

int fz_pipeline_bind(fz_pipeline *p, const fz_ruleset *rs, char *errstr, size_t errstr_size) {
    return fz_matcher_bind(p->matcher, rs, errstr, errstr_size);
}

void fz_pipeline_reset_arena(fz_pipeline *p) { fz_decoder_reset_arena(p->dec); }
fz_counters *fz_pipeline_counters(fz_pipeline *p) { return &p->counters; }

/* Append text with whitespace dropped and ASCII letters lower-cased. */
static void put_folded(fz_buf *b, fz_str s) {
    size_t i = 0;
    while (i < s.n) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x80) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
                i++;
                continue;
            }
            if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            fz_buf_putc(b, (char)c);
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = fz_utf8_decode(s.p + i, s.n - i, &cp);
        if (len == 0) len = 1; /* decoder validated; stay safe anyway */
        /* Unicode spaces: NBSP, en/em spaces..., ideographic space, BOM/ZW */
        int space = cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x3000 || cp == 0xFEFF ||
                    cp == 0x202F || cp == 0x205F;
        if (!space) fz_buf_put(b, s.p + i, len);
        i += len;
    }
}

static void put_field(fz_buf *b, fz_str s) {
    fz_buf_put(b, s.p ? s.p : "", s.n);
    fz_buf_putc(b, '\x1f'); /* unit separator keeps ("ab","c") != ("a","bc") */
}

uint64_t fz_pipeline_key(fz_buf *b, const fz_event *ev) {
    fz_buf_reset(b);
    switch (ev->type) {
    case FZ_EV_SMS: put_folded(b, ev->fields[FZ_FIELD_TEXT]); break;
    case FZ_EV_CALL:
        put_field(b, ev->fields[FZ_FIELD_FROM]);
        put_field(b, ev->fields[FZ_FIELD_TO]);
        break;
    case FZ_EV_TRANSFER:
    case FZ_EV_REPORT:
        put_field(b, ev->fields[FZ_FIELD_FROM]);
        if (ev->type == FZ_EV_TRANSFER) put_field(b, ev->fields[FZ_FIELD_TO]);
        for (int i = 0; i < 8; i++) /* little-endian on every host */
            fz_buf_putc(b, (char)((uint64_t)ev->amount_minor >> (8 * i)));
        put_field(b, ev->currency);
        if (ev->type == FZ_EV_REPORT) put_field(b, ev->category);
        break;
    default: break;
    }
    return XXH3_64bits_withSeed(b->p, b->len, (XXH64_hash_t)ev->type + 1);
}

void fz_pipeline_scan(fz_pipeline *p, const fz_ruleset *rs, const char *msg, size_t len,
                      fz_result *r) {
    fz_counter_inc(&p->counters.events);
    r->nrules = 0;
    r->truncated = 0;
    r->dedup_key = 0;
    r->dedup_count = 0;
    r->reason = fz_event_decode(p->dec, msg, len, &r->ev, r->detail, sizeof(r->detail));
    if (r->reason != FZ_REASON_NONE) {
        r->verdict = FZ_VERDICT_INVALID;
        fz_counter_inc(&p->counters.invalid);
        fz_counter_inc(&p->counters.invalid_by_reason[r->reason]);
        return;
    }
    int n = fz_matcher_scan(p->matcher, rs, &r->ev, r->rules, &r->truncated, &r->primary);
    if (n < 0) {
        /* a Hyperscan runtime error (a bug, not bad input): the event cannot
         * be judged, so it goes where invalid events go - the dead-letter
         * topic - to be replayed once fixed, never silently passed */
        fz_counter_inc(&p->counters.scan_errors);
        r->reason = FZ_REASON_SCAN_ERROR;
        snprintf(r->detail, sizeof(r->detail), "Hyperscan scan failed");
        r->verdict = FZ_VERDICT_INVALID;
        fz_counter_inc(&p->counters.invalid);
        fz_counter_inc(&p->counters.invalid_by_reason[r->reason]);
        return;
    }
    r->nrules = n;
    if (r->truncated) fz_counter_inc(&p->counters.truncated);
    if (n == 0) {
        r->verdict = FZ_VERDICT_CLEAN;
        fz_counter_inc(&p->counters.clean);
        return;
    }
    r->verdict = FZ_VERDICT_ALERT;
    r->dedup_key = fz_pipeline_key(&p->norm, &r->ev);
}

void fz_pipeline_dedup(fz_pipeline *p, fz_dedup *d, fz_result *r) {
    if (r->verdict != FZ_VERDICT_ALERT) return;
    r->dedup_count = fz_dedup_hit(d, r->dedup_key, r->ev.ts_ms);
    if (r->dedup_count > 1) {
        r->verdict = FZ_VERDICT_SUPPRESSED;
        fz_counter_inc(&p->counters.suppressed);
    } else {
        fz_counter_inc(&p->counters.alerts);
    }
}
