/*
 * pipeline.h - the per-event work shared by `fanzha run` and
 * `fanzha replay`: decode -> match -> dedup key -> verdict.
 *
 * A pipeline is one thread's private state (decoder, matcher scratch,
 * normalisation buffer, counters); it is used by exactly one thread, and
 * after fz_pipeline_bind() the scan path does not allocate. The ruleset is
 * shared, read-only.
 *
 * The steps, in stream order:
 *  - fz_pipeline_scan(): decode, match, key. No shared mutable state: replay
 *    runs it on all threads at once.
 *  - fz_pipeline_time_check(): the stream's event-time bounds.
 *  - fz_pipeline_intercept(): the watchlist (marks and transfer checks).
 *  - fz_pipeline_decide(): the stores (state/stores.h) say alert or repeat.
 * `replay` runs the last three in input order over one set of state. `run`
 * runs the first three in its screen stage and the decision in its decide
 * stage, where the key's partition owns the stores (stream/).
 */
#ifndef FZ_PIPELINE_H
#define FZ_PIPELINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "dedup.h"
#include "event.h"
#include "matcher.h"
#include "rules.h"

typedef enum fz_verdict {
    FZ_VERDICT_CLEAN = 0,
    FZ_VERDICT_ALERT,
    FZ_VERDICT_SUPPRESSED,
    FZ_VERDICT_INVALID,
} fz_verdict;

const char *fz_verdict_name(fz_verdict v);

/* Everything known about one event after processing. Views in ev are
 * valid while the message and the pipeline's decoder arena are. */
#define FZ_INTERCEPT_PAYER_WARNED 1u  /* the payer received fraud recently */
#define FZ_INTERCEPT_PAYEE_FLAGGED 2u /* the payee sent or was named in fraud */

/* A number that fraud touched (watch.h): the first FZ_MAX_MARKS of an event. */
#define FZ_MAX_MARKS 16
typedef struct fz_mark {
    uint64_t key; /* fz_number_key() */
    uint8_t kind; /* FZ_WATCH_* bits */
} fz_mark;

/* One aggregate rule (detect/aggrule.h) an event feeds: the filter of the
 * rule (its terms and condition, if any) passed and the event has both the
 * key and the distinct field. */
#define FZ_MAX_AGG_FEEDS 8
typedef struct fz_agg_feed {
    uint32_t rule;   /* index in the ruleset */
    uint64_t key;    /* fz_agg_entry_key(rule id, number) */
    uint64_t number; /* number key of the key field */
    uint64_t value;  /* number key of the distinct field */
} fz_agg_feed;

typedef struct fz_result {
    fz_event ev;
    fz_reason reason; /* FZ_REASON_NONE unless invalid */
    fz_verdict verdict;
    int nrules;
    int truncated;    /* more than FZ_MAX_MATCHES rules matched */
    uint32_t primary; /* highest-severity matched rule (valid if nrules > 0) */
    uint32_t rules[FZ_MAX_MATCHES];
    int nshadow; /* shadow rules that matched: counted, never alerted */
    uint32_t shadow[FZ_MAX_SHADOW];
    int nscores; /* models scored for the event (rules' model terms) */
    fz_score scores[FZ_MAX_SCORES];
    uint64_t dedup_key;
    uint32_t dedup_count;
    /* set by the decision when sms go through a campaign table: the caller
     * writes a summary for each (the copies are in its buffers) */
    uint8_t campaign_summary; /* periodic summary of this event's campaign */
    uint8_t campaign_closed;  /* a campaign ended (window over or evicted) */
    uint8_t campaign_closed_state;
    /* transfers: FZ_INTERCEPT_* bits when the watchlist says hold it */
    uint8_t intercept;
    /* matched sms and calls: the numbers they warn and flag */
    uint8_t nmarks;
    fz_mark marks[FZ_MAX_MARKS];
    /* aggregate rules this event feeds (their matches are not in rules[]) */
    uint8_t naggs;
    fz_agg_feed aggs[FZ_MAX_AGG_FEEDS];
    char detail[192];
} fz_result;

/* Per-worker counters; written by the owner only, read by the stats
 * reporter with relaxed loads. */
typedef struct fz_counters {
    _Atomic uint64_t events;
    _Atomic uint64_t alerts;
    _Atomic uint64_t suppressed;
    _Atomic uint64_t clean;
    _Atomic uint64_t invalid;
    _Atomic uint64_t invalid_by_reason[FZ_REASON_COUNT];
    _Atomic uint64_t truncated;
    _Atomic uint64_t scan_errors;
    _Atomic uint64_t intercepts;
    _Atomic uint64_t disguised; /* valid events whose text is disguised (textfacts.h) */
} __attribute__((aligned(FZ_CACHELINE))) fz_counters;

static inline void fz_counter_inc(_Atomic uint64_t *c) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

typedef struct fz_pipeline fz_pipeline;

/* arena_bytes: see fz_decoder_new(); 0 means max_event_bytes. */
fz_pipeline *fz_pipeline_new(size_t max_event_bytes, size_t arena_bytes, char *errstr,
                             size_t errstr_size);
void fz_pipeline_destroy(fz_pipeline *p);
/* (Re)bind to a ruleset before scanning with it: builds a new matcher.
 * May allocate; the caller keeps rs alive while p scans with it. */
int fz_pipeline_bind(fz_pipeline *p, const fz_ruleset *rs, char *errstr, size_t errstr_size);
/* Install a matcher prepared elsewhere (fz_matcher_new) and return the
 * previous one, which the caller now owns. O(1): this is how a worker
 * moves to a reloaded ruleset without stalling. */
fz_matcher *fz_pipeline_swap(fz_pipeline *p, fz_matcher *m);
fz_matcher *fz_pipeline_matcher(fz_pipeline *p);
const fz_ruleset *fz_pipeline_ruleset(fz_pipeline *p);
/* Fill the views of ev's fields that the bound ruleset scans (normalised
 * views go to p's buffers, valid until the next call). */
void fz_pipeline_views(fz_pipeline *p, const fz_event *ev, fz_views *out);

/* The views of the fields derived from the normalised text norm into
 * out: the url_* fields (url.h) and the text_* ones (textfacts.h), those
 * in want (FZ_URL_WANT_* and FZ_TEXT_WANT_* bits; the others become
 * NULL). Views point into u and into facts, which has room for
 * FZ_TEXT_FACTS_ROOM(norm.n) bytes. Returns the text's FZ_TEXT_* bits,
 * whatever want says, FZ_TEXT_DISGUISED included (raw is the text as sent,
 * for its capital I: textfacts.h). Shared with the rule tests (ruletest.c)
 * and the profiler (profile.c). */
#define FZ_TEXT_WANT_FLAGS 0x100u
#define FZ_TEXT_WANT_NUMBERS 0x200u
#define FZ_DERIVED_WANT_ALL 0x37fu
#define FZ_TEXT_FACTS_ROOM(n) ((n) + 32)
struct fz_url_scan;
struct fz_url_brands;
unsigned fz_pipeline_derived_views(struct fz_url_scan *u, const struct fz_url_brands *brands,
                                   unsigned want, fz_str raw, fz_str norm, char *facts,
                                   fz_views *out);
/* Start a new batch: previously decoded views become invalid. */
void fz_pipeline_reset_arena(fz_pipeline *p);
fz_counters *fz_pipeline_counters(fz_pipeline *p);

/* Decode, match and compute the dedup key of msg. Sets r->verdict to
 * INVALID or CLEAN, or leaves ALERT pending the decision. */
void fz_pipeline_scan(fz_pipeline *p, const char *msg, size_t len, fz_result *r);
/* Match r->ev, which p decoded (fz_pipeline_scan() left it valid), again
 * with matcher m instead of p's own: views, match, aggregate feeds and
 * dedup key as the scan computes them, for m's ruleset. r's match fields
 * and verdict (CLEAN, ALERT pending, or INVALID with reason scan_error) are
 * overwritten; p's counters are not touched (they count p's matcher). m is
 * the caller's, used by this thread only. `fanzha rules diff` so runs two
 * rulesets over one decode. */
void fz_pipeline_rematch(fz_pipeline *p, fz_matcher *m, fz_result *r);
struct fz_watch;
struct fz_stores;
struct fz_campaign;
struct fz_decide_in;
struct fz_decide_out;

/*
 * Interception, after the scan (and fz_pipeline_time_check): a matched sms
 * or call warns its recipient and flags its sender (and, for sms, every
 * number in the text, the first FZ_MAX_MARKS numbers of the event in all):
 * the marks are listed in r->marks and applied to w. A transfer from a
 * warned payer or to a flagged payee gets r->intercept and alerts even when
 * no rule matched; its dedup key then includes its id. w NULL: off. Any
 * thread (w is locked inside).
 */
void fz_pipeline_intercept(fz_pipeline *p, struct fz_watch *w, fz_result *r);

/* The decision's input for r (verdict ALERT pending). Views point into r
 * and p's ruleset. */
void fz_pipeline_decide_in(fz_pipeline *p, const fz_result *r, struct fz_decide_in *in);
/* Apply a decision to r and count it in p's counters. */
void fz_pipeline_apply(fz_pipeline *p, fz_result *r, const struct fz_decide_out *out);
/* The two above around fz_stores_decide(): replay's stateful step. closed
 * and summary (caller's buffers) receive the campaigns r->campaign_* name. */
void fz_pipeline_decide(fz_pipeline *p, struct fz_stores *st, fz_result *r,
                        struct fz_campaign *closed, struct fz_campaign *summary);

/*
 * Event-time bounds of one stream (an input partition in `fanzha run`, the
 * whole input in replay), checked in stream order after the scan: an event
 * more than ahead_ms ahead of the wall clock (now_ms) becomes invalid with
 * reason ts_ahead, one more than lag_ms behind *watermark (the highest
 * event time accepted so far in the stream) ts_behind; 0 turns a bound off.
 * Accepted events move *watermark (INT64_MIN before the first). p's
 * counters follow the change. A hostile ts can so neither move the
 * watermark out of reach nor reach far behind it.
 */
typedef struct fz_time_bounds {
    int64_t ahead_ms, lag_ms;
} fz_time_bounds;

void fz_pipeline_time_check(fz_pipeline *p, const fz_time_bounds *b, int64_t now_ms,
                            int64_t *watermark, fz_result *r);

/* The dedup key of an event (exposed for tests). For sms it is the
 * campaign key (campaign.h): the normalised text without white space, with
 * the parts named by masks (FZ_MASK_*) masked, so per-recipient variants
 * of one template share it. Otherwise XXH3 over the event type and its
 * identity - call: from, to; transfer: from, to, amount, currency; report:
 * from, amount, currency, category. scratch needs room for twice the text.
 * An intercepted transfer is keyed by its id as well (fz_pipeline_intercept):
 * every transfer holds money of its own, so only a redelivery of the same
 * transfer event is a repeat. */
uint64_t fz_pipeline_key(fz_buf *scratch, const fz_event *ev, unsigned masks);

struct fz_mask_config;
/* Campaign masks per rule category (shared, read-only; NULL = mask all).
 * The key of a matched sms uses the masks of its primary rule's category. */
void fz_pipeline_set_masks(fz_pipeline *p, const struct fz_mask_config *mc);

#endif
