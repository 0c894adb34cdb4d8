/*
 * stores.h - the state a decide task owns, and the decision taken over it.
 *
 * A matched event (or an intercepted transfer) is either the first of its
 * kind - it alerts - or a repeat - it is suppressed and counted. SMS that a
 * rule matched are judged by the campaign table (their key is the campaign
 * key: per-recipient variants of one template share it); everything else
 * by the dedup store. fz_stores_decide() is that decision. `fanzha replay`
 * calls it with one set of stores for the whole input; `fanzha run` calls
 * it in the decide stage, whose tasks each own the stores of one partition
 * of the route topic (stream/decide.h): every event with the same key
 * reaches the same task, so the decision is the same at any number of
 * instances.
 *
 * The input is a flat record (fz_decide_in) rather than a decoded event,
 * because in `fanzha run` it arrives in a route record from another stage.
 *
 * Threads: stores belong to one thread; nothing is locked.
 */
#ifndef FZ_STORES_H
#define FZ_STORES_H

#include <stdint.h>

#include "agg.h"
#include "campaign.h"
#include "common.h"
#include "dedup.h"

typedef struct fz_decide_in {
    uint64_t key; /* dedup key: the campaign key for a matched sms */
    int64_t ts_ms;
    uint8_t type;      /* fz_event_type */
    uint8_t matched;   /* a rule matched (not only the watchlist) */
    uint8_t intercept; /* FZ_INTERCEPT_* bits */
    /* a matched sms: what a new campaign records */
    uint64_t recipient_hash, sender_hash;
    fz_str rule_id, category, ruleset, sample;
} fz_decide_in;

typedef struct fz_decide_out {
    uint8_t verdict; /* FZ_VERDICT_ALERT or FZ_VERDICT_SUPPRESSED */
    uint32_t count;  /* occurrences in the window (campaign count for sms) */
    /* campaigns (copies in the caller's buffers given to fz_stores_decide) */
    uint8_t campaign_summary; /* a periodic summary of this event's campaign is due */
    uint8_t campaign_closed;  /* a campaign ended (its window, or evicted) */
    uint8_t campaign_closed_state;
} fz_decide_out;

typedef struct fz_stores_config {
    size_t dedup_capacity;
    size_t campaign_capacity; /* 0: no campaign table (sms go through the dedup store) */
    int64_t window_ms;        /* dedup window; 0 disables dedup and campaigns */
    int64_t summary_ms;       /* periodic campaign summaries (campaign.h) */
    size_t agg_capacity;      /* aggregate windows (agg.h); 0 = none */
    uint32_t agg_exact_max;
    size_t agg_bytes;
} fz_stores_config;

typedef struct fz_stores {
    fz_dedup *dedup;
    fz_campaigns *campaigns; /* NULL when off */
    fz_aggs *aggs;           /* aggregate rules' windows; NULL when off */
} fz_stores;

/* track: keep changes for changelogs. -1 with errstr (out of memory). */
int fz_stores_init(fz_stores *st, const fz_stores_config *cfg, int track, char *errstr,
                   size_t errstr_size);
void fz_stores_destroy(fz_stores *st);

/* Judge one event. closed and summary receive the campaigns out names. */
void fz_stores_decide(fz_stores *st, const fz_decide_in *in, fz_decide_out *out,
                      fz_campaign *closed, fz_campaign *summary);

#endif
