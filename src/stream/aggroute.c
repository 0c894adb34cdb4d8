/*
 * aggroute.c - aggregate rules in `fanzha run`: the screen stage sends
 * each event that feeds an aggregate rule to the decide task that owns the
 * rule's window for the event's key, and that task counts it and alerts.
 *
 * Design: the window of (rule, key) is keyed state like a dedup entry. Its
 * route record (kind FZ_ROUTE_AGG) is keyed by the key number, so every
 * event of that number - whichever input partition, and so whichever
 * instance, it came from (a mule's payers are different subscribers) -
 * reaches the one decide task of partition fz_route_partition(number),
 * which holds the windows of every rule keyed on it in its store
 * (state/agg.h: keyed by fz_agg_entry_key(rule, number)) and writes them to its
 * partition of <group>.agg-changelog in the commit's transaction, with
 * the offsets. The record carries what the decision and the alert need
 * (the rule's settings and pre-encoded object, the key as the privacy
 * options show it), so a decide task needs no ruleset, as for decide
 * records. The decision is fz_aggs_hit(), the same call `fanzha replay`
 * makes (output/aggalert.c: fz_agg_step).
 *
 * A record is about 250 bytes plus the rules' objects and the event's
 * fields as its alert would show them (numbers and text as the privacy
 * options allow); one is sent per event and key field (from, to) of the
 * aggregate rules it feeds, so an aggregate rule over all calls routes
 * every call: the cost of behavioural
 * rules is the route hop of the events they count
 * (docs/benchmarks/aggregates.md).
 */
#include <stdio.h>
#include <string.h>

#include "aggalert.h"
#include "aggrule.h"
#include "privacy.h"
#include "route.h"
#include "stream.h"

/* One aggregate record per key field: every rule keyed on it shares the
 * record (the SIM-box and robocall rules both count a call by its caller),
 * so an event costs one route record per key number, not per rule. */
int fz_screen_aggs(fz_sthread *t, fz_task *k, const rd_kafka_message_t *m, const fz_result *r) {
    fz_app *app = fz_sthread_app(t);
    if (app->stores.agg_capacity == 0) return 0; /* aggregate rules off: nothing travels */
    const fz_ruleset *rs = fz_pipeline_ruleset(fz_sthread_pipeline(t));
    fz_buf *kb = fz_sthread_buf(t, 0), *rb = fz_sthread_buf(t, 1);
    static __thread char keybuf[FZ_PRIVACY_KEY_OUT];
    const void *akey;
    size_t aklen = fz_privacy_kafka_key(fz_privacy_get(), m->key, m->key_len, keybuf, &akey);
    if (!akey && r->ev.id.p) { /* alerts keyed like their input, else by event id */
        akey = r->ev.id.p;
        aklen = r->ev.id.n;
    }
    const char *ver = fz_ruleset_version(rs);
    size_t alen;
    const char *art = fz_ruleset_artifact_json(rs, &alen);
    fz_sthread_counters *ctr = fz_sthread_ctr(t);
    static __thread fz_route rt;
    for (int kf = FZ_FIELD_FROM; kf <= FZ_FIELD_TO; kf++) {
        memset(&rt, 0, sizeof(rt));
        for (int i = 0; i < r->naggs && rt.nfeeds < FZ_ROUTE_MAX_FEEDS; i++) {
            const fz_rule *x = fz_ruleset_rule(rs, r->aggs[i].rule);
            const fz_aggrule *ag = x->agg;
            if (ag->key_field != kf) continue;
            rt.key = r->aggs[i].number;
            rt.feeds[rt.nfeeds++] = (fz_route_feed){
                .rule_id = {x->id, strlen(x->id)},
                .rule_category = {x->category, strlen(x->category)},
                .rule_json = {x->json, x->json_len},
                .severity = (uint8_t)x->severity,
                .distinct_field = ag->distinct_field,
                .min_distinct = ag->min_distinct,
                .window_ms = ag->window_ms,
                .median_below_ms = ag->median_below_ms,
                .value = r->aggs[i].value,
            };
        }
        if (!rt.nfeeds) continue;
        fz_buf_reset(kb);
        if (fz_agg_key_json(kb, r->ev.fields[kf]) != FZ_OK) return -1;
        size_t klen = kb->len;
        if (fz_agg_event_json(kb, &r->ev) != FZ_OK) return -1;
        rt.kind = FZ_ROUTE_AGG;
        rt.src_topic = (fz_str){k->topic, strlen(k->topic)};
        rt.src_partition = k->partition;
        rt.src_offset = m->offset;
        rt.src_seq = (uint8_t)(1 + FZ_MAX_MARKS + kf);
        rt.src_lineage = k->lineage;
        rt.ts_ms = r->ev.ts_ms;
        rt.type = (uint8_t)r->ev.type;
        rt.ruleset = (fz_str){ver, strlen(ver)};
        rt.sample = (fz_str){art, alen}; /* the ruleset's provenance, for the alert */
        rt.alert_key = (fz_str){akey, aklen};
        rt.ingest_ms = rd_kafka_message_timestamp(m, NULL);
        rt.duration_s = r->ev.duration_s;
        rt.agg_key_field = (uint8_t)kf;
        rt.agg_key_json = (fz_str){kb->p, klen};
        rt.alert_head = (fz_str){kb->p + klen, kb->len - klen}; /* the event's fields */
        rt.event_id = r->ev.id;
        fz_buf_reset(rb);
        if (fz_route_encode(rb, &rt) != FZ_OK) return -1;
        int rc =
            fz_emit(t, k, m->offset, FZ_T_ROUTE, fz_route_partition(rt.key, app->topics.partitions),
                    &rt.key, 8, rb->p, rb->len);
        if (rc < 0) return -1;
        if (rc) { /* larger than the route topic takes (a huge text): not counted */
            fz_warn("%s[%d]@%lld: aggregate record exceeds the route topic's record limit; the "
                    "event is not counted",
                    k->topic, k->partition, (long long)m->offset);
            continue;
        }
        atomic_fetch_add_explicit(&ctr->routed, 1, memory_order_relaxed);
    }
    return 0;
}

int fz_decide_agg(fz_sthread *t, fz_task *k, int64_t offset, const fz_route *r) {
    if (!k->stores.aggs) return 0; /* aggregate_capacity 0: aggregates off */
    char topic[256];
    snprintf(topic, sizeof(topic), "%.*s", (int)r->src_topic.n, r->src_topic.p);
    fz_source src = {.topic = topic, .partition = r->src_partition, .offset = r->src_offset};
    for (int i = 0; i < r->nfeeds; i++) {
        const fz_route_feed *f = &r->feeds[i];
        fz_agg_in in = {fz_agg_entry_key(f->rule_id, r->key),
                        f->value,
                        r->ts_ms,
                        r->duration_s,
                        f->window_ms,
                        f->min_distinct,
                        f->median_below_ms};
        fz_agg_out out;
        fz_aggs_hit(k->stores.aggs, &in, &out);
        if (!out.fired) continue;
        fz_agg_alert al = {.key = in.key,
                           .event_id = r->event_id,
                           .event_type = r->type,
                           .ts_ms = r->ts_ms,
                           .severity = f->severity,
                           .rule_json = f->rule_json,
                           .rule_id = f->rule_id,
                           .ruleset = r->ruleset,
                           .artifact_json = r->sample,
                           .key_field = r->agg_key_field,
                           .distinct_field = f->distinct_field,
                           .key_json = r->agg_key_json,
                           .event_json = r->alert_head,
                           .window_ms = f->window_ms,
                           .min_distinct = f->min_distinct,
                           .median_below_ms = f->median_below_ms};
        fz_buf *b = fz_sthread_buf(t, 0);
        fz_buf_reset(b);
        if (fz_agg_alert_encode(b, &al, &out, &src) != FZ_OK) {
            fz_app_fatal(fz_sthread_app(t), "aggregate alert exceeds the encoding buffer");
            return -1;
        }
        int rc = fz_emit_alert(t, k, offset, r->alert_key.p, r->alert_key.n, b->p, b->len, r->ts_ms,
                               r->ingest_ms);
        if (rc < 0) return -1;
        if (rc == 0) {
            atomic_fetch_add_explicit(&fz_sthread_ctr(t)->alerts, 1, memory_order_relaxed);
            fz_sthread_count_alert(t, f->rule_category, f->severity);
        }
    }
    return 0;
}
