/*
 * decide.c - the decide stage: one route record of a decide task.
 *
 * The task owns its partition's dedup store and campaign table, and the
 * watchlist entries of the numbers routed to it. A decide record is judged
 * (fz_stores_decide, the same decision `fanzha replay` takes), its alert
 * completed with the count and written, campaign summaries written, and
 * the event counted in the task's statistics (unless the screen stage
 * found it late there). A mark is merged into the global watchlist and the
 * number remembered, so the commit writes its merged entry to the watch
 * changelog.
 *
 * A screen task in at-least-once mode that fails before its commit reads
 * its input again and produces the same route records again. Every route
 * record names its input record (source partition, lineage, offset, seq),
 * and sources only move forward, so a record at or below the newest one
 * seen from its source was produced twice and is dropped (counted as a
 * duplicate) - this is the only place where fanzha deduplicates its own
 * redelivery, and it keys on the record's position, never on an event id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "alert.h"
#include "route.h"
#include "stream.h"

#define SEEN_MAX 4096

/* 1 if (offset, seq) from the source was seen already; records it if not. */
static int seen_before(fz_task *k, const fz_route *r) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, r->src_topic.p, r->src_topic.n);
    XXH3_64bits_update(&st, &r->src_partition, sizeof(r->src_partition));
    XXH3_64bits_update(&st, &r->src_lineage, sizeof(r->src_lineage));
    uint64_t id = XXH3_64bits_digest(&st);
    size_t i = 0;
    while (i < k->nseen && k->seen[i].id != id) i++;
    if (i < k->nseen) {
        fz_seen *s = &k->seen[i];
        if (r->src_offset < s->offset || (r->src_offset == s->offset && r->src_seq <= s->seq))
            return 1;
        s->offset = r->src_offset;
        s->seq = r->src_seq;
        if (i > 0) { /* keep the busy sources in front */
            fz_seen x = *s;
            k->seen[i] = k->seen[0];
            k->seen[0] = x;
        }
        return 0;
    }
    if (k->nseen == k->seen_cap) {
        if (k->seen_cap == SEEN_MAX) {
            k->nseen--; /* forget the last (least busy) source */
        } else {
            size_t cap = k->seen_cap ? k->seen_cap * 2 : 16;
            fz_seen *v = realloc(k->seen, cap * sizeof(*v));
            if (!v) return 0; /* out of memory: judge it (a duplicate at worst) */
            k->seen = v;
            k->seen_cap = cap;
        }
    }
    k->seen[k->nseen++] = (fz_seen){id, r->src_offset, r->src_seq};
    return 0;
}

static int emit_campaign(fz_sthread *t, fz_task *k, int64_t offset, const fz_campaign *cp,
                         int state) {
    fz_app *app = fz_sthread_app(t);
    fz_buf *b = fz_sthread_buf(t, 1);
    char key[17];
    snprintf(key, sizeof(key), "%016llx", (unsigned long long)cp->key);
    fz_buf_reset(b);
    if (fz_campaign_encode(b, cp, state, app->cfg->dedup_window_ms) != FZ_OK) return 0;
    int rc = fz_emit(t, k, offset, FZ_T_ALERTS, RD_KAFKA_PARTITION_UA, key, 16, b->p, b->len);
    if (rc == 0)
        atomic_fetch_add_explicit(&fz_sthread_ctr(t)->campaign_summaries, 1, memory_order_relaxed);
    return rc < 0 ? -1 : 0;
}

static int emit_alert(fz_sthread *t, fz_task *k, int64_t offset, const fz_route *r,
                      uint32_t count) {
    fz_app *app = fz_sthread_app(t);
    fz_buf *b = fz_sthread_buf(t, 0);
    fz_buf_reset(b);
    fz_buf_put(b, r->alert_head.p, r->alert_head.n);
    fz_buf_put_u64(b, count);
    fz_buf_put(b, r->alert_tail.p, r->alert_tail.n);
    if (b->failed) return FZ_ERR_FULL;
    int rc = fz_emit_alert(t, k, offset, r->alert_key.p, r->alert_key.n, b->p, b->len, r->ts_ms,
                           r->ingest_ms);
    if (rc == FZ_ERR_FULL) { /* refused for good: keep it as a dead letter, move on */
        char detail[192];
        snprintf(detail, sizeof(detail),
                 "alert of %zu bytes exceeds the limit of alerts topic '%s' (%lld)",
                 b->len + r->alert_key.n, app->topics.name[FZ_T_ALERTS],
                 (long long)app->topics.max_bytes[FZ_T_ALERTS]);
        rc = fz_emit_dead_letter(t, k, offset, FZ_REASON_OUTPUT_REJECTED, detail, FZ_STR_NULL, b->p,
                                 b->len, NULL, 0);
    } else if (rc == 0) {
        atomic_fetch_add_explicit(&fz_sthread_ctr(t)->alerts, 1, memory_order_relaxed);
        fz_sthread_count_alert(t,
                               r->primary_category.p ? r->primary_category
                               : r->intercept        ? FZ_STR_LIT("intercept")
                                                     : FZ_STR_LIT(""),
                               r->severity);
    }
    return rc < 0 ? -1 : 0;
}

int fz_decide(fz_sthread *t, fz_task *k, const rd_kafka_message_t *m) {
    fz_app *app = fz_sthread_app(t);
    fz_sthread_counters *ctr = fz_sthread_ctr(t);
    fz_route r;
    char err[256];
    if (fz_route_decode(m->payload, m->len, &r, err, sizeof(err)) != 0) {
        /* not written by a fanzha of this format: keep it, never judge it */
        char detail[300];
        snprintf(detail, sizeof(detail), "route record: %s", err);
        fz_warn("%s[%d]@%lld: %s", k->topic, k->partition, (long long)m->offset, detail);
        return fz_emit_dead_letter(t, k, m->offset, FZ_REASON_BAD_VALUE, detail, FZ_STR_NULL,
                                   m->payload, m->len, m->key, m->key_len) < 0
                   ? -1
                   : 0;
    }
    if (seen_before(k, &r)) {
        atomic_fetch_add_explicit(&ctr->duplicates, 1, memory_order_relaxed);
        return 0;
    }
    k->dirty = 1;
    if (r.kind == FZ_ROUTE_MARK) {
        if (app->watch) {
            fz_watch_mark(app->watch, r.key, r.mark_kind, r.ts_ms, NULL);
            if (fz_task_note_mark(k, r.key) != 0) {
                fz_app_fatal(app, "out of memory");
                return -1;
            }
        }
        return 0;
    }
    if (r.kind == FZ_ROUTE_AGG) return fz_decide_agg(t, k, m->offset, &r);
    atomic_fetch_add_explicit(&ctr->decided, 1, memory_order_relaxed);
    fz_decide_in in = {r.key,           r.ts_ms,          r.type,        r.matched,
                       r.intercept,     r.recipient_hash, r.sender_hash, r.rule_id,
                       r.rule_category, r.ruleset,        r.sample};
    fz_decide_out out;
    static __thread fz_campaign closed, summary;
    fz_stores_decide(&k->stores, &in, &out, &closed, &summary);
    if (out.campaign_closed && fz_campaign_worth_closing(&closed) &&
        emit_campaign(t, k, m->offset, &closed, out.campaign_closed_state))
        return -1;
    if (out.verdict == FZ_VERDICT_ALERT) {
        if (emit_alert(t, k, m->offset, &r, out.count)) return -1;
    } else {
        atomic_fetch_add_explicit(&ctr->suppressed, 1, memory_order_relaxed);
    }
    if (out.campaign_summary && emit_campaign(t, k, m->offset, &summary, FZ_CAMPAIGN_OPEN))
        return -1;
    if (k->ledger && !r.late) {
        fz_ledger_event e = {r.ts_ms,      r.amount_minor,  r.currency, r.category,
                             r.type,       out.verdict,     r.matched,  r.intercept,
                             r.has_amount, r.category_input};
        fz_ledger_add(k->ledger, &e, m->offset);
    }
    return fz_task_pop_windows(t, k);
}
