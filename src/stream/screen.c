/*
 * screen.c - the screen stage: one input record of a screen task.
 *
 * Workload: every input record passes here (millions a second across a
 * deployment); most are clean and end here after the scan with a handful
 * of integer adds to the task's ledger. A few per cent - matched events,
 * intercepted transfers, the numbers fraud named - leave as route records.
 * Nothing here allocates: buffers are the thread's, views point into the
 * Kafka message or the pipeline's arena.
 */
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "checkpoint.h"
#include "route.h"
#include "privacy.h"
#include "stream.h"

/* Keep the windows the last event closed for the next commit; 1 when the
 * task should commit now. */
int fz_task_pop_windows(fz_sthread *t, fz_task *k) {
    static __thread fz_ledger_window win; /* a window is ~15 KiB: not on the stack */
    int due = 0;
    while (k->ledger && fz_ledger_pop_closed(k->ledger, &win)) {
        due |= fz_task_hold_closed(k, &win);
        atomic_fetch_add_explicit(&fz_sthread_tel(t)->windows_closed, 1, memory_order_relaxed);
    }
    return due;
}

/* Route the event: the decide record, then its marks. -1 stop, FZ_ERR_FULL
 * when the decide record does not fit the route topic. */
static int route(fz_sthread *t, fz_task *k, const rd_kafka_message_t *m, const fz_result *r,
                 int late) {
    fz_app *app = fz_sthread_app(t);
    fz_pipeline *p = fz_sthread_pipeline(t);
    const fz_ruleset *rs = fz_pipeline_ruleset(p);
    fz_buf *ab = fz_sthread_buf(t, 0), *rb = fz_sthread_buf(t, 1);
    fz_source src = {.topic = k->topic, .partition = k->partition, .offset = m->offset};
    size_t count_at = 0;
    fz_buf_reset(ab);
    if (fz_alert_encode_split(ab, rs, r, app->cfg->dedup_window_ms, &src, &count_at) != FZ_OK ||
        ab->failed)
        return FZ_ERR_FULL;
    fz_decide_in in;
    fz_pipeline_decide_in(p, r, &in);
    fz_ledger_event le;
    fz_ledger_event_of(r, rs, &le);
    static __thread char keybuf[FZ_PRIVACY_KEY_OUT];
    const void *akey;
    size_t aklen = fz_privacy_kafka_key(fz_privacy_get(), m->key, m->key_len, keybuf, &akey);
    if (!akey && r->ev.id.p) { /* alerts keyed like their input, else by event id */
        akey = r->ev.id.p;
        aklen = r->ev.id.n;
    }
    fz_route rt = {
        .kind = FZ_ROUTE_DECIDE,
        .src_topic = {k->topic, strlen(k->topic)},
        .src_partition = k->partition,
        .src_offset = m->offset,
        .src_seq = 0,
        .src_lineage = k->lineage,
        .ts_ms = r->ev.ts_ms,
        .key = r->dedup_key,
        .type = (uint8_t)r->ev.type,
        .matched = r->nrules > 0,
        .intercept = r->intercept,
        .late = (uint8_t)late,
        .has_amount = (uint8_t)r->ev.has_amount,
        .category_input = le.category_input,
        .amount_minor = r->ev.amount_minor,
        .currency = r->ev.currency,
        .category = le.category,
        .recipient_hash = in.recipient_hash,
        .sender_hash = in.sender_hash,
        .rule_id = in.rule_id,
        .rule_category = in.category,
        .ruleset = in.ruleset,
        .sample = in.sample,
        .alert_key = {akey, aklen},
        .alert_head = {ab->p, count_at},
        .alert_tail = {ab->p + count_at, ab->len - count_at},
        .ingest_ms = rd_kafka_message_timestamp(m, NULL),
        .severity = r->nrules ? (uint8_t)fz_ruleset_rule(rs, r->primary)->severity : 0,
        .primary_category = r->nrules ? (fz_str){fz_ruleset_rule(rs, r->primary)->category,
                                                 strlen(fz_ruleset_rule(rs, r->primary)->category)}
                                      : FZ_STR_NULL,
    };
    fz_buf_reset(rb);
    if (fz_route_encode(rb, &rt) != FZ_OK) return FZ_ERR_FULL;
    int32_t np = app->topics.partitions;
    int rc = fz_emit(t, k, m->offset, FZ_T_ROUTE, fz_route_partition(rt.key, np), &rt.key, 8, rb->p,
                     rb->len);
    if (rc) return rc;
    fz_sthread_counters *ctr = fz_sthread_ctr(t);
    atomic_fetch_add_explicit(&ctr->routed, 1, memory_order_relaxed);
    for (int i = 0; i < r->nmarks; i++) {
        fz_route mk = {.kind = FZ_ROUTE_MARK,
                       .src_topic = rt.src_topic,
                       .src_partition = k->partition,
                       .src_offset = m->offset,
                       .src_seq = (uint8_t)(i + 1),
                       .src_lineage = k->lineage,
                       .ts_ms = r->ev.ts_ms,
                       .key = r->marks[i].key,
                       .mark_kind = r->marks[i].kind};
        fz_buf_reset(rb);
        if (fz_route_encode(rb, &mk) != FZ_OK) return -1;
        if ((rc = fz_emit(t, k, m->offset, FZ_T_ROUTE, fz_route_partition(mk.key, np), &mk.key, 8,
                          rb->p, rb->len)))
            return rc < 0 ? -1 : 0; /* a mark is tiny: it always fits */
        atomic_fetch_add_explicit(&ctr->marks, 1, memory_order_relaxed);
        if (app->watch && fz_task_note_mark(k, mk.key)) return -1;
    }
    return 0;
}

int fz_screen(fz_sthread *t, fz_task *k, const rd_kafka_message_t *m) {
    fz_app *app = fz_sthread_app(t);
    fz_pipeline *p = fz_sthread_pipeline(t);
    fz_sthread_counters *ctr = fz_sthread_ctr(t);
    static __thread fz_result r; /* ~1 KiB, one per thread */
    const char *payload = m->payload ? m->payload : "";
    fz_pipeline_reset_arena(p);
    fz_pipeline_scan(p, payload, m->len, &r);
    fz_pipeline_time_check(p, &app->bounds, fz_now_ms(), &k->watermark, &r);
    fz_pipeline_intercept(p, app->watch, &r);
    atomic_fetch_add_explicit(&ctr->screened, 1, memory_order_relaxed);
    int rc = 0;
    if (r.verdict == FZ_VERDICT_ALERT) {
        int late = k->ledger ? fz_ledger_route(k->ledger, r.ev.ts_ms) : 0;
        rc = route(t, k, m, &r, late);
        if (rc == FZ_ERR_FULL) { /* cannot travel: the event is kept as a dead letter */
            char detail[192];
            snprintf(detail, sizeof(detail),
                     "its route record or alert exceeds the limit of topic '%s' (%lld bytes)",
                     app->topics.name[FZ_T_ROUTE], (long long)app->topics.max_bytes[FZ_T_ROUTE]);
            rc = fz_emit_dead_letter(t, k, m->offset, FZ_REASON_OUTPUT_REJECTED, detail, r.ev.id,
                                     payload, m->len, m->key, m->key_len);
            if (k->ledger) fz_ledger_add_invalid(k->ledger);
        }
    } else if (r.verdict == FZ_VERDICT_INVALID) {
        rc = fz_emit_dead_letter(t, k, m->offset, r.reason, r.detail, r.ev.id, payload, m->len,
                                 m->key, m->key_len);
        if (k->ledger) fz_ledger_add_invalid(k->ledger);
    } else if (k->ledger) {
        fz_ledger_add_result(k->ledger, &r, fz_pipeline_ruleset(p), m->offset);
    }
    if (rc >= 0 && r.naggs && r.verdict != FZ_VERDICT_INVALID) rc = fz_screen_aggs(t, k, m, &r);
    if (rc < 0) return -1;
    k->dirty = 1;
    return fz_task_pop_windows(t, k);
}
