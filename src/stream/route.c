/*
 * route.c - see route.h.
 */
#include "route.h"

#include <stdio.h>
#include <string.h>

#include "event.h"
#include "rules.h"

#define MAGIC "FZR"
#define VERSION                                                                                    \
    3 /* written; versions 1 (no ingest time, severity) and 2 (no aggregates) are read too */
#define VERSION_MIN 1

static void put_u8(fz_buf *b, uint8_t v) { fz_buf_putc(b, (char)v); }

static void put_u64(fz_buf *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    fz_buf_put(b, x, 8);
}

static void put_str(fz_buf *b, fz_str s) {
    uint32_t n = (uint32_t)(s.p ? s.n : 0);
    unsigned char x[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 24)};
    fz_buf_put(b, x, 4);
    if (n) fz_buf_put(b, s.p, n);
}

fz_err fz_route_encode(fz_buf *b, const fz_route *r) {
    fz_buf_put(b, MAGIC, 3);
    put_u8(b, VERSION);
    put_u8(b, r->kind);
    put_u8(b, r->mark_kind);
    put_u8(b, r->type);
    put_u8(b, r->matched);
    put_u8(b, r->intercept);
    put_u8(b, r->late);
    put_u8(b, r->has_amount);
    put_u8(b, r->category_input);
    put_u8(b, r->src_seq);
    put_u64(b, (uint64_t)(uint32_t)r->src_partition);
    put_u64(b, (uint64_t)r->src_offset);
    put_u64(b, r->src_lineage);
    put_u64(b, (uint64_t)r->ts_ms);
    put_u64(b, r->key);
    put_u64(b, (uint64_t)r->amount_minor);
    put_u64(b, r->recipient_hash);
    put_u64(b, r->sender_hash);
    put_str(b, r->src_topic);
    put_str(b, r->currency);
    put_str(b, r->category);
    put_str(b, r->rule_id);
    put_str(b, r->rule_category);
    put_str(b, r->ruleset);
    put_str(b, r->sample);
    put_str(b, r->alert_key);
    put_str(b, r->alert_head);
    put_str(b, r->alert_tail);
    /* version 2 */
    put_u64(b, (uint64_t)r->ingest_ms);
    put_u8(b, r->severity);
    put_str(b, r->primary_category);
    /* version 3 */
    put_u64(b, (uint64_t)r->duration_s);
    put_u8(b, r->agg_key_field);
    put_str(b, r->agg_key_json);
    put_str(b, r->event_id);
    put_u8(b, r->nfeeds);
    for (int i = 0; i < r->nfeeds && i < FZ_ROUTE_MAX_FEEDS; i++) {
        const fz_route_feed *f = &r->feeds[i];
        put_str(b, f->rule_id);
        put_str(b, f->rule_category);
        put_str(b, f->rule_json);
        put_u8(b, f->severity);
        put_u8(b, f->distinct_field);
        put_u64(b, f->min_distinct);
        put_u64(b, (uint64_t)f->window_ms);
        put_u64(b, (uint64_t)f->median_below_ms);
        put_u64(b, f->value);
    }
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

int fz_route_decode(const void *p, size_t n, fz_route *r, char *err, size_t err_size) {
    memset(r, 0, sizeof(*r));
    fz_rd d = fz_rd_init(p, n);
    if (n < 4 || memcmp(p, MAGIC, 3) != 0) {
        snprintf(err, err_size, "not a route record (%zu bytes)", n);
        return -1;
    }
    d.p += 3;
    uint8_t ver = fz_rd_u8(&d);
    if (ver < VERSION_MIN || ver > VERSION) {
        snprintf(err, err_size, "route record version %u, this build reads %u to %u", ver,
                 VERSION_MIN, VERSION);
        return -1;
    }
    r->kind = fz_rd_u8(&d);
    r->mark_kind = fz_rd_u8(&d);
    r->type = fz_rd_u8(&d);
    r->matched = fz_rd_u8(&d);
    r->intercept = fz_rd_u8(&d);
    r->late = fz_rd_u8(&d);
    r->has_amount = fz_rd_u8(&d);
    r->category_input = fz_rd_u8(&d);
    r->src_seq = fz_rd_u8(&d);
    r->src_partition = (int32_t)(uint32_t)fz_rd_u64(&d);
    r->src_offset = (int64_t)fz_rd_u64(&d);
    r->src_lineage = fz_rd_u64(&d);
    r->ts_ms = (int64_t)fz_rd_u64(&d);
    r->key = fz_rd_u64(&d);
    r->amount_minor = (int64_t)fz_rd_u64(&d);
    r->recipient_hash = fz_rd_u64(&d);
    r->sender_hash = fz_rd_u64(&d);
    r->src_topic = fz_rd_str(&d);
    r->currency = fz_rd_str(&d);
    r->category = fz_rd_str(&d);
    r->rule_id = fz_rd_str(&d);
    r->rule_category = fz_rd_str(&d);
    r->ruleset = fz_rd_str(&d);
    r->sample = fz_rd_str(&d);
    r->alert_key = fz_rd_str(&d);
    r->alert_head = fz_rd_str(&d);
    r->alert_tail = fz_rd_str(&d);
    if (ver >= 2) {
        r->ingest_ms = (int64_t)fz_rd_u64(&d);
        r->severity = fz_rd_u8(&d);
        r->primary_category = fz_rd_str(&d);
    }
    if (ver >= 3) {
        r->duration_s = (int64_t)fz_rd_u64(&d);
        r->agg_key_field = fz_rd_u8(&d);
        r->agg_key_json = fz_rd_str(&d);
        r->event_id = fz_rd_str(&d);
        r->nfeeds = fz_rd_u8(&d);
        if (r->nfeeds > FZ_ROUTE_MAX_FEEDS) {
            snprintf(err, err_size, "route record with %u aggregate feeds (at most %d)", r->nfeeds,
                     FZ_ROUTE_MAX_FEEDS);
            return -1;
        }
        for (int i = 0; i < r->nfeeds; i++) {
            fz_route_feed *f = &r->feeds[i];
            f->rule_id = fz_rd_str(&d);
            f->rule_category = fz_rd_str(&d);
            f->rule_json = fz_rd_str(&d);
            f->severity = fz_rd_u8(&d);
            f->distinct_field = fz_rd_u8(&d);
            uint64_t md = fz_rd_u64(&d);
            f->min_distinct = md > UINT32_MAX ? UINT32_MAX : (uint32_t)md;
            f->window_ms = (int64_t)fz_rd_u64(&d);
            f->median_below_ms = (int64_t)fz_rd_u64(&d);
            f->value = fz_rd_u64(&d);
            if (!d.bad && (f->window_ms <= 0 || f->min_distinct < 2 || !f->rule_json.p ||
                           !f->rule_id.p || f->distinct_field >= FZ_FIELD_COUNT ||
                           f->severity < FZ_SEV_LOW || f->severity > FZ_SEV_CRITICAL)) {
                snprintf(err, err_size, "aggregate route record without its rule's settings");
                return -1;
            }
        }
    }
    if (d.bad || d.p != d.end) {
        snprintf(err, err_size, "route record truncated or with trailing bytes (%zu bytes)", n);
        return -1;
    }
    if (r->kind == FZ_ROUTE_AGG &&
        (ver < 3 || r->nfeeds == 0 || !r->agg_key_json.p || r->agg_key_field >= FZ_FIELD_COUNT)) {
        snprintf(err, err_size, "aggregate route record without its rule's settings");
        return -1;
    }
    if (r->kind != FZ_ROUTE_DECIDE && r->kind != FZ_ROUTE_MARK && r->kind != FZ_ROUTE_AGG) {
        snprintf(err, err_size, "route record of unknown kind %u", r->kind);
        return -1;
    }
    if (!r->src_topic.p || r->src_partition < 0 || r->src_offset < 0) {
        snprintf(err, err_size, "route record without its source");
        return -1;
    }
    return 0;
}

int32_t fz_route_partition(uint64_t key, int32_t nparts) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (int32_t)(((h >> 32) * (uint64_t)(uint32_t)nparts) >> 32);
}
