/*
 * pipeline.c - see pipeline.h.
 */
#include "pipeline.h"

#include "aggrule.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "campaign.h"
#include "norm.h"
#include "skel.h"
#include "privacy.h"
#include "stores.h"
#include "textfacts.h"
#include "url.h"
#include "utf8.h"
#include "watch.h"

struct fz_pipeline {
    fz_counters counters; /* first: its own cache line */
    fz_decoder *dec;
    fz_matcher *matcher;
    fz_buf norm;                          /* dedup key scratch */
    char *view_buf[FZ_FIELD_EVENT_COUNT]; /* normalised views, max_event_bytes each */
    fz_url_scan *urls;                    /* the url_* fields' buffers */
    char *facts;                          /* the text_* fields' buffer */
    char *skel_tmp;                       /* the text normalised with its case, max_event_bytes */
    char *skel_buf; /* the text's skeleton: the skeleton view, or a disguised text's
                       unmasked one (matcher.h); SKEL_CAP(max_event_bytes) */
    size_t max_event_bytes;
    const fz_mask_config *masks; /* campaign masks per category; NULL = all */
};

/* The skeleton view's buffer: twice the text, where a few ligatures more
 * than that stop it (skel.h). */
#define SKEL_CAP(max_event_bytes) (2 * (max_event_bytes) + 64)

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
    if (fz_skel_init(errstr, errstr_size) != 0) goto fail; /* the unmasked view's tables */
    p->dec = fz_decoder_new(max_event_bytes, arena_bytes, 1024, errstr, errstr_size);
    if (!p->dec) goto fail;
    p->max_event_bytes = max_event_bytes;
    for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++)
        if (!(p->view_buf[f] = malloc(max_event_bytes + 1))) goto fail_nomem;
    if (!(p->urls = fz_url_scan_new(errstr, errstr_size))) goto fail_nomem;
    if (!(p->facts = malloc(FZ_TEXT_FACTS_ROOM(max_event_bytes)))) goto fail_nomem;
    if (!(p->skel_tmp = malloc(max_event_bytes + 1)) ||
        !(p->skel_buf = malloc(SKEL_CAP(max_event_bytes))))
        goto fail_nomem;
    fz_buf_init(&p->norm, 2 * max_event_bytes + 64);
    if (fz_buf_reserve(&p->norm, 2 * max_event_bytes + 64) != FZ_OK) goto fail_nomem;
    return p;
fail_nomem:
    snprintf(errstr, errstr_size, "pipeline: out of memory");
    for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++) free(p->view_buf[f]);
    fz_url_scan_destroy(p->urls);
    free(p->facts);
    free(p->skel_tmp);
    free(p->skel_buf);
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
    for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++) free(p->view_buf[f]);
    fz_url_scan_destroy(p->urls);
    free(p->facts);
    free(p->skel_tmp);
    free(p->skel_buf);
    free(p);
}

int fz_pipeline_bind(fz_pipeline *p, const fz_ruleset *rs, char *errstr, size_t errstr_size) {
    fz_matcher *m = fz_matcher_new(rs, errstr, errstr_size);
    if (!m) return -1;
    fz_matcher_destroy(fz_pipeline_swap(p, m));
    return 0;
}

fz_matcher *fz_pipeline_swap(fz_pipeline *p, fz_matcher *m) {
    fz_matcher *old = p->matcher;
    p->matcher = m;
    return old;
}

fz_matcher *fz_pipeline_matcher(fz_pipeline *p) { return p->matcher; }
const fz_ruleset *fz_pipeline_ruleset(fz_pipeline *p) { return fz_matcher_ruleset(p->matcher); }

/* The derived views the ruleset scans, as fz_pipeline_derived_views()
 * wants them. */
static unsigned derived_wants(const fz_ruleset *rs) {
    static const struct {
        fz_field f;
        fz_view v;
        unsigned bit;
    } map[] = {
        {FZ_FIELD_URL_HOST, FZ_VIEW_RAW, FZ_URL_WANT_HOST},
        {FZ_FIELD_URL_HOST, FZ_VIEW_NORM, FZ_URL_WANT_HOST_UNI},
        {FZ_FIELD_URL_HOST, FZ_VIEW_SKEL, FZ_URL_WANT_HOST_SKEL},
        {FZ_FIELD_URL_DOMAIN, FZ_VIEW_RAW, FZ_URL_WANT_DOMAIN},
        {FZ_FIELD_URL_DOMAIN, FZ_VIEW_NORM, FZ_URL_WANT_DOMAIN_UNI},
        {FZ_FIELD_URL_DOMAIN, FZ_VIEW_SKEL, FZ_URL_WANT_DOMAIN_SKEL},
        {FZ_FIELD_URL_FLAGS, FZ_VIEW_RAW, FZ_URL_WANT_FLAGS},
        {FZ_FIELD_TEXT_FLAGS, FZ_VIEW_RAW, FZ_TEXT_WANT_FLAGS},
        {FZ_FIELD_TEXT_NUMBERS, FZ_VIEW_RAW, FZ_TEXT_WANT_NUMBERS},
    };
    unsigned want = 0;
    for (size_t i = 0; i < FZ_ARRAY_LEN(map); i++)
        if (fz_ruleset_uses(rs, map[i].f, map[i].v)) want |= map[i].bit;
    return want;
}

unsigned fz_pipeline_derived_views(fz_url_scan *u, const fz_url_brands *brands, unsigned want,
                                   fz_str raw, fz_str norm, char *facts, fz_views *out) {
    fz_url_fields uf;
    /* the link token needs the links, even when no url_* field is wanted */
    if (want & (FZ_URL_WANT_ALL | FZ_TEXT_WANT_FLAGS))
        fz_url_scan_text(u, norm.p, norm.n, brands, want & FZ_URL_WANT_ALL, &uf);
    else
        memset(&uf, 0, sizeof(uf));
    size_t nn = 0;
    char *nums = facts + FZ_TEXT_FLAGS_MAX;
    unsigned fl = fz_text_scan(norm.p, norm.n, (want & FZ_TEXT_WANT_NUMBERS) ? nums : NULL, &nn);
    if (uf.nurls) fl |= FZ_TEXT_LINK;
    /* PayPaI: looked for in texts with a link only, where it leads (a memchr
     * over every text cost the benchmark about 1 %) */
    if ((fl & (FZ_TEXT_DISGUISED | FZ_TEXT_LINK)) == FZ_TEXT_LINK && raw.p &&
        fz_skel_capital_i(raw.p, raw.n))
        fl |= FZ_TEXT_DISGUISED;
    if (want & (FZ_TEXT_WANT_FLAGS | FZ_TEXT_WANT_NUMBERS)) {
        size_t k = fz_text_flags_format(fl, facts);
        (*out)[FZ_FIELD_TEXT_FLAGS][FZ_VIEW_RAW] =
            (want & FZ_TEXT_WANT_FLAGS) && k ? (fz_str){facts, k} : FZ_STR_NULL;
        (*out)[FZ_FIELD_TEXT_NUMBERS][FZ_VIEW_RAW] =
            (want & FZ_TEXT_WANT_NUMBERS) && nn ? (fz_str){nums, nn} : FZ_STR_NULL;
    }
    (*out)[FZ_FIELD_URL_HOST][FZ_VIEW_RAW] = uf.host;
    (*out)[FZ_FIELD_URL_HOST][FZ_VIEW_NORM] = uf.host_uni;
    (*out)[FZ_FIELD_URL_HOST][FZ_VIEW_SKEL] = uf.host_skel;
    (*out)[FZ_FIELD_URL_DOMAIN][FZ_VIEW_RAW] = uf.domain;
    (*out)[FZ_FIELD_URL_DOMAIN][FZ_VIEW_NORM] = uf.domain_uni;
    (*out)[FZ_FIELD_URL_DOMAIN][FZ_VIEW_SKEL] = uf.domain_skel;
    (*out)[FZ_FIELD_URL_FLAGS][FZ_VIEW_RAW] = uf.flags;
    return fl;
}

/* The views of ev's fields that rs scans (fz_pipeline_views()). */
static void views_for(fz_pipeline *p, const fz_ruleset *rs, const fz_event *ev, fz_views *out) {
    for (int f = FZ_FIELD_EVENT_COUNT; f < FZ_FIELD_COUNT; f++)
        for (int v = 0; v < FZ_VIEW_COUNT; v++) (*out)[f][v] = FZ_STR_NULL;
    unsigned want = derived_wants(rs);
    for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++) {
        fz_str raw = ev->fields[f];
        (*out)[f][FZ_VIEW_RAW] = raw;
        (*out)[f][FZ_VIEW_NORM] = FZ_STR_NULL;
        (*out)[f][FZ_VIEW_SKEL] = FZ_STR_NULL;
        (*out)[f][FZ_VIEW_UNMASKED] = FZ_STR_NULL;
        if (!raw.p) continue;
        size_t n = raw.n <= p->max_event_bytes ? raw.n : p->max_event_bytes;
        if (f == FZ_FIELD_TEXT && fz_ruleset_uses(rs, (fz_field)f, FZ_VIEW_SKEL)) {
            size_t k =
                fz_skel_text(raw.p, n, p->skel_tmp, p->skel_buf, SKEL_CAP(p->max_event_bytes));
            (*out)[f][FZ_VIEW_SKEL] = (fz_str){p->skel_buf, k};
        }
        /* the links are read from the normalised text */
        int norm_used = fz_ruleset_uses(rs, (fz_field)f, FZ_VIEW_NORM);
        if (!norm_used && !(f == FZ_FIELD_TEXT && want)) continue;
        size_t k = f == FZ_FIELD_TEXT ? fz_norm_text(raw.p, n, p->view_buf[f])
                                      : fz_norm_number(raw.p, n, p->view_buf[f]);
        fz_str norm = {p->view_buf[f], k};
        if (norm_used) (*out)[f][FZ_VIEW_NORM] = norm;
        if (f != FZ_FIELD_TEXT) continue;
        unsigned fl = fz_pipeline_derived_views(p->urls, fz_ruleset_url_brands(rs), want,
                                                (fz_str){raw.p, n}, norm, p->facts, out);
        /* a disguised text: its normalised-view rules scan the skeleton too
         * (the skeleton view's, or made now into its buffer) */
        if (norm_used && (fl & FZ_TEXT_DISGUISED))
            (*out)[f][FZ_VIEW_UNMASKED] =
                (*out)[f][FZ_VIEW_SKEL].p
                    ? (*out)[f][FZ_VIEW_SKEL]
                    : (fz_str){p->skel_buf, fz_skel_text(raw.p, n, p->skel_tmp, p->skel_buf,
                                                         SKEL_CAP(p->max_event_bytes))};
    }
}

void fz_pipeline_views(fz_pipeline *p, const fz_event *ev, fz_views *out) {
    views_for(p, fz_matcher_ruleset(p->matcher), ev, out);
}

void fz_pipeline_reset_arena(fz_pipeline *p) { fz_decoder_reset_arena(p->dec); }
fz_counters *fz_pipeline_counters(fz_pipeline *p) { return &p->counters; }

static void put_field(fz_buf *b, fz_str s) {
    fz_buf_put(b, s.p ? s.p : "", s.n);
    fz_buf_putc(b, '\x1f'); /* unit separator keeps ("ab","c") != ("a","bc") */
}

void fz_pipeline_set_masks(fz_pipeline *p, const fz_mask_config *mc) { p->masks = mc; }

uint64_t fz_pipeline_key(fz_buf *b, const fz_event *ev, unsigned masks) {
    fz_buf_reset(b);
    switch (ev->type) {
    case FZ_EV_SMS: {
        /* the campaign key: variants of one template share it */
        fz_str t = ev->fields[FZ_FIELD_TEXT];
        if (fz_buf_reserve(b, 2 * t.n + 1) != FZ_OK) break;
        return fz_campaign_key(t.p ? t.p : "", t.n, masks, b->p, b->p + t.n);
    }
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

/* r's match fields, before a match fills them */
static void clear_match(fz_result *r) {
    r->nrules = 0;
    r->nshadow = 0;
    r->nscores = 0;
    r->truncated = 0;
    r->dedup_key = 0;
    r->dedup_count = 0;
    r->naggs = 0;
}

/* The matching half of a scan: r->ev (decoded by p) through m - views,
 * matcher, aggregate feeds, dedup key. count: into p's counters. */
static void match_with(fz_pipeline *p, fz_matcher *m, fz_result *r, int count) {
    clear_match(r);
    r->reason = FZ_REASON_NONE;
    const fz_ruleset *rs = fz_matcher_ruleset(m);
    fz_views views;
    fz_matches mt;
    views_for(p, rs, &r->ev, &views);
    if (count && views[FZ_FIELD_TEXT][FZ_VIEW_UNMASKED].p) fz_counter_inc(&p->counters.disguised);
    int n = fz_matcher_scan(m, &views, &mt);
    if (n < 0) {
        /* a Hyperscan runtime error (a bug, not bad input): the event cannot
         * be judged, so it goes where invalid events go - the dead-letter
         * topic - to be replayed once fixed, never silently passed */
        r->reason = FZ_REASON_SCAN_ERROR;
        snprintf(r->detail, sizeof(r->detail), "Hyperscan scan failed");
        r->verdict = FZ_VERDICT_INVALID;
        if (count) {
            fz_counter_inc(&p->counters.scan_errors);
            fz_counter_inc(&p->counters.invalid);
            fz_counter_inc(&p->counters.invalid_by_reason[r->reason]);
        }
        return;
    }
    r->nrules = n;
    r->truncated = mt.truncated;
    r->primary = mt.primary;
    memcpy(r->rules, mt.rules, (size_t)n * sizeof(uint32_t));
    r->nshadow = mt.nshadow;
    memcpy(r->shadow, mt.shadow, (size_t)mt.nshadow * sizeof(uint32_t));
    r->nscores = mt.nscores;
    memcpy(r->scores, mt.scores, (size_t)mt.nscores * sizeof(fz_score));
    n = fz_aggrule_feeds(m, r); /* aggregate rules feed their windows instead */
    if (r->truncated && count) fz_counter_inc(&p->counters.truncated);
    if (n == 0) {
        r->verdict = FZ_VERDICT_CLEAN;
        if (count) fz_counter_inc(&p->counters.clean);
        return;
    }
    r->verdict = FZ_VERDICT_ALERT;
    unsigned masks = fz_mask_config_lookup(p->masks, fz_ruleset_rule(rs, r->primary)->category);
    fz_str norm = views[FZ_FIELD_TEXT][FZ_VIEW_NORM];
    if (r->ev.type == FZ_EV_SMS && norm.p && fz_buf_reserve(&p->norm, norm.n + 1) == FZ_OK)
        /* the scanner normalised the text already: reuse it */
        r->dedup_key = fz_campaign_key_normalised(norm.p, norm.n, masks, p->norm.p);
    else
        r->dedup_key = fz_pipeline_key(&p->norm, &r->ev, masks);
}

void fz_pipeline_scan(fz_pipeline *p, const char *msg, size_t len, fz_result *r) {
    fz_counter_inc(&p->counters.events);
    clear_match(r);
    r->reason = fz_event_decode(p->dec, msg, len, &r->ev, r->detail, sizeof(r->detail));
    if (r->reason != FZ_REASON_NONE) {
        r->verdict = FZ_VERDICT_INVALID;
        fz_counter_inc(&p->counters.invalid);
        fz_counter_inc(&p->counters.invalid_by_reason[r->reason]);
        return;
    }
    match_with(p, p->matcher, r, 1);
}

void fz_pipeline_rematch(fz_pipeline *p, fz_matcher *m, fz_result *r) { match_with(p, m, r, 0); }

static void counter_dec(_Atomic uint64_t *c) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - 1,
                          memory_order_relaxed);
}

void fz_pipeline_time_check(fz_pipeline *p, const fz_time_bounds *b, int64_t now_ms,
                            int64_t *watermark, fz_result *r) {
    if (r->verdict == FZ_VERDICT_INVALID) return;
    int64_t ts = r->ev.ts_ms;
    fz_reason why = FZ_REASON_NONE;
    if (b->ahead_ms > 0 && ts > fz_sat_add(now_ms, b->ahead_ms, NULL)) {
        why = FZ_REASON_TS_AHEAD;
        snprintf(r->detail, sizeof(r->detail),
                 "field 'ts' is more than max_event_ahead_ms (%lld) ahead of the clock",
                 (long long)b->ahead_ms);
    } else if (b->lag_ms > 0 && *watermark != INT64_MIN &&
               ts < fz_sat_sub(*watermark, b->lag_ms, NULL)) {
        why = FZ_REASON_TS_BEHIND;
        snprintf(r->detail, sizeof(r->detail),
                 "field 'ts' is %lld ms behind the stream's newest event (max_event_lag_ms %lld)",
                 (long long)(*watermark - ts), (long long)b->lag_ms);
    }
    if (why == FZ_REASON_NONE) {
        if (ts > *watermark) *watermark = ts;
        return;
    }
    if (r->verdict == FZ_VERDICT_CLEAN) counter_dec(&p->counters.clean);
    r->verdict = FZ_VERDICT_INVALID; /* (a pending alert was not counted yet) */
    r->reason = why;
    r->nrules = r->nshadow = r->nscores = 0;
    r->naggs = 0;
    fz_counter_inc(&p->counters.invalid);
    fz_counter_inc(&p->counters.invalid_by_reason[why]);
}

/* Collect a mark for r (bounded: FZ_MAX_MARKS a event). */
static void add_mark(fz_result *r, uint64_t key, unsigned kind) {
    if (!key || r->nmarks >= FZ_MAX_MARKS) return;
    for (int i = 0; i < r->nmarks; i++)
        if (r->marks[i].key == key) {
            r->marks[i].kind |= (uint8_t)kind;
            return;
        }
    r->marks[r->nmarks++] = (fz_mark){key, (uint8_t)kind};
}

static void add_flag(void *ctx, uint64_t key) { add_mark(ctx, key, FZ_WATCH_FLAGGED); }

void fz_pipeline_intercept(fz_pipeline *p, fz_watch *w, fz_result *r) {
    const fz_event *ev = &r->ev;
    r->intercept = 0;
    r->nmarks = 0;
    if (!w) return;
    if (r->verdict == FZ_VERDICT_ALERT && (ev->type == FZ_EV_SMS || ev->type == FZ_EV_CALL)) {
        /* remember who fraud touched */
        add_mark(r, fz_number_key(ev->fields[FZ_FIELD_TO]), FZ_WATCH_WARNED);
        add_mark(r, fz_number_key(ev->fields[FZ_FIELD_FROM]), FZ_WATCH_FLAGGED);
        if (ev->type == FZ_EV_SMS) fz_watch_numbers_in(ev->fields[FZ_FIELD_TEXT], add_flag, r);
        for (int i = 0; i < r->nmarks; i++)
            fz_watch_mark(w, r->marks[i].key, r->marks[i].kind, ev->ts_ms, NULL);
        return;
    }
    if (ev->type != FZ_EV_TRANSFER || r->verdict == FZ_VERDICT_INVALID) return;
    /* check who a transfer pays */
    unsigned bits = 0;
    if (fz_watch_check(w, fz_number_key(ev->fields[FZ_FIELD_FROM]), ev->ts_ms) & FZ_WATCH_WARNED)
        bits |= FZ_INTERCEPT_PAYER_WARNED;
    if (fz_watch_check(w, fz_number_key(ev->fields[FZ_FIELD_TO]), ev->ts_ms) & FZ_WATCH_FLAGGED)
        bits |= FZ_INTERCEPT_PAYEE_FLAGGED;
    r->intercept = (uint8_t)bits;
    if (!bits) return;
    fz_counter_inc(&p->counters.intercepts);
    if (r->verdict == FZ_VERDICT_CLEAN) { /* no rule matched: the watchlist alone alerts */
        counter_dec(&p->counters.clean);
        r->verdict = FZ_VERDICT_ALERT;
    }
    /* every transfer holds money of its own: only the same transfer event
     * again (same id, payer, payee and amount) is a repeat */
    r->dedup_key =
        fz_pipeline_key(&p->norm, ev, 0) ^
        XXH3_64bits_withSeed(ev->id.p ? ev->id.p : "", ev->id.n, 0x686f6c64 /* "hold" */);
}

void fz_pipeline_decide_in(fz_pipeline *p, const fz_result *r, fz_decide_in *in) {
    memset(in, 0, sizeof(*in));
    in->key = r->dedup_key;
    in->ts_ms = r->ev.ts_ms;
    in->type = (uint8_t)r->ev.type;
    in->matched = r->nrules > 0;
    in->intercept = r->intercept;
    if (r->ev.type != FZ_EV_SMS || r->nrules == 0) return;
    const fz_ruleset *rs = fz_matcher_ruleset(p->matcher);
    const fz_rule *pr = fz_ruleset_rule(rs, r->primary);
    const char *v = fz_ruleset_version(rs);
    in->recipient_hash = fz_number_key(r->ev.fields[FZ_FIELD_TO]);
    in->sender_hash = fz_number_key(r->ev.fields[FZ_FIELD_FROM]);
    in->rule_id = (fz_str){pr->id, strlen(pr->id)};
    in->category = (fz_str){pr->category, strlen(pr->category)};
    in->ruleset = (fz_str){v, strlen(v)};
    fz_str text = r->ev.fields[FZ_FIELD_TEXT];
    /* privacy_texts: drop keeps the text off the route topic and the
     * campaign changelog too, not only out of the summaries */
    in->sample = text.p && !fz_privacy_get()->drop_texts ? text : FZ_STR_LIT("");
}

void fz_pipeline_apply(fz_pipeline *p, fz_result *r, const fz_decide_out *out) {
    r->verdict = (fz_verdict)out->verdict;
    r->dedup_count = out->count;
    r->campaign_summary = out->campaign_summary;
    r->campaign_closed = out->campaign_closed;
    r->campaign_closed_state = out->campaign_closed_state;
    fz_counter_inc(r->verdict == FZ_VERDICT_ALERT ? &p->counters.alerts : &p->counters.suppressed);
}

void fz_pipeline_decide(fz_pipeline *p, fz_stores *st, fz_result *r, fz_campaign *closed,
                        fz_campaign *summary) {
    r->campaign_summary = r->campaign_closed = 0;
    if (r->verdict != FZ_VERDICT_ALERT) return;
    fz_decide_in in;
    fz_decide_out out;
    fz_pipeline_decide_in(p, r, &in);
    fz_stores_decide(st, &in, &out, closed, summary);
    fz_pipeline_apply(p, r, &out);
}
