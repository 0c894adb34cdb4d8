/*
 * stores.c - see stores.h.
 */
#include "stores.h"

#include <string.h>

#include "event.h"
#include "pipeline.h"

int fz_stores_init(fz_stores *st, const fz_stores_config *cfg, int track, char *errstr,
                   size_t errstr_size) {
    memset(st, 0, sizeof(*st));
    st->dedup = fz_dedup_new(cfg->dedup_capacity, cfg->window_ms, track, errstr, errstr_size);
    if (!st->dedup) return -1;
    if (cfg->window_ms > 0 && cfg->campaign_capacity > 0) {
        st->campaigns = fz_campaigns_new(cfg->campaign_capacity, cfg->window_ms, cfg->summary_ms,
                                         track, errstr, errstr_size);
        if (!st->campaigns) {
            fz_dedup_destroy(st->dedup);
            st->dedup = NULL;
            return -1;
        }
    }
    if (cfg->agg_capacity > 0) {
        st->aggs = fz_aggs_new(cfg->agg_capacity, cfg->agg_exact_max, cfg->agg_bytes, track, errstr,
                               errstr_size);
        if (!st->aggs) {
            fz_campaigns_destroy(st->campaigns);
            fz_dedup_destroy(st->dedup);
            memset(st, 0, sizeof(*st));
            return -1;
        }
    }
    return 0;
}

void fz_stores_destroy(fz_stores *st) {
    fz_dedup_destroy(st->dedup);
    fz_campaigns_destroy(st->campaigns);
    fz_aggs_destroy(st->aggs);
    memset(st, 0, sizeof(*st));
}

void fz_stores_decide(fz_stores *st, const fz_decide_in *in, fz_decide_out *out,
                      fz_campaign *closed, fz_campaign *summary) {
    memset(out, 0, sizeof(*out));
    if (st->campaigns && in->type == FZ_EV_SMS && in->matched) {
        fz_campaign_event ce = {in->key,         in->ts_ms,    in->recipient_hash,
                                in->sender_hash, in->rule_id,  in->category,
                                in->ruleset,     in->sample.p, in->sample.n};
        fz_campaign_result cr;
        fz_campaigns_hit(st->campaigns, &ce, &cr, closed, summary);
        out->campaign_summary = (uint8_t)cr.summary;
        out->campaign_closed = (uint8_t)cr.closed;
        out->campaign_closed_state = (uint8_t)cr.closed_state;
        out->count = (uint32_t)(cr.count > UINT32_MAX ? UINT32_MAX : cr.count);
        out->verdict = cr.outcome == FZ_CAMPAIGN_NEW ? FZ_VERDICT_ALERT : FZ_VERDICT_SUPPRESSED;
        return;
    }
    out->count = fz_dedup_hit(st->dedup, in->key, in->ts_ms);
    out->verdict = out->count > 1 ? FZ_VERDICT_SUPPRESSED : FZ_VERDICT_ALERT;
}
