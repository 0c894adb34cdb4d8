/*
 * aggalert.c - see aggalert.h.
 *
 * Design: like every alert, one JSON object built by appending to the
 * caller's capped buffer; the rule's object is pre-encoded (rules.c) and
 * the key arrives already shown as the privacy options allow, so the
 * decide stage needs neither the ruleset nor the raw number.
 */
#include "aggalert.h"

#include "aggrule.h"
#include "alert.h"
#include "privacy.h"

fz_err fz_agg_event_json(fz_buf *b, const fz_event *ev) {
    const fz_privacy *pv = fz_privacy_get();
    for (int f = FZ_FIELD_FROM; f <= FZ_FIELD_TO; f++) {
        if (!ev->fields[f].p) continue;
        fz_buf_put_key(b, f == FZ_FIELD_FROM ? "from" : "to", 0);
        fz_privacy_put_number(b, pv, ev->fields[f]);
    }
    if (!pv->drop_texts && ev->fields[FZ_FIELD_TEXT].p) {
        fz_buf_put_key(b, "text", 0);
        fz_buf_put_json_fz(b, ev->fields[FZ_FIELD_TEXT]);
    }
    if (ev->has_amount) {
        fz_buf_puts(b, ",\"amount_minor\":");
        fz_buf_put_i64(b, ev->amount_minor);
        if (ev->currency.p) {
            fz_buf_put_key(b, "currency", 0);
            fz_buf_put_json_fz(b, ev->currency);
        }
    }
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

fz_err fz_agg_key_json(fz_buf *b, fz_str number) {
    return fz_privacy_put_number(b, fz_privacy_get(), number);
}

fz_err fz_agg_alert_encode(fz_buf *b, const fz_agg_alert *a, const fz_agg_out *out,
                           const fz_source *src) {
    fz_buf_puts(b, "{\"type\":\"alert\",\"event_id\":");
    if (a->event_id.p)
        fz_buf_put_json_fz(b, a->event_id);
    else
        fz_buf_puts(b, "null");
    fz_buf_puts(b, ",\"event_type\":\"");
    fz_buf_puts(b, fz_event_type_name((fz_event_type)a->event_type));
    fz_buf_puts(b, "\",\"ts\":");
    fz_buf_put_i64(b, a->ts_ms);
    fz_buf_puts(b, ",\"severity\":\"");
    fz_buf_puts(b, fz_severity_name((fz_severity)a->severity));
    fz_buf_puts(b, "\",\"rule\":");
    fz_buf_put(b, a->rule_json.p, a->rule_json.n);
    fz_buf_puts(b, ",\"rules\":[");
    fz_buf_put(b, a->rule_json.p, a->rule_json.n);
    fz_buf_puts(b, "],\"ruleset\":");
    fz_buf_put_json_fz(b, a->ruleset);
    fz_buf_put(b, a->artifact_json.p, a->artifact_json.n);
    fz_buf_puts(b, ",\"dedup\":{\"key\":\"");
    fz_buf_put_hex64(b, a->key);
    fz_buf_puts(b, "\",\"count\":1,\"window_ms\":");
    fz_buf_put_i64(b, a->window_ms);
    fz_buf_putc(b, '}');
    fz_buf_put(b, a->event_json.p, a->event_json.n);
    fz_buf_puts(b, ",\"aggregate\":{\"rule\":");
    fz_buf_put_json_fz(b, a->rule_id);
    fz_buf_puts(b, ",\"key_field\":\"");
    fz_buf_puts(b, fz_field_name((fz_field)a->key_field));
    fz_buf_puts(b, "\",\"key\":");
    fz_buf_put(b, a->key_json.p, a->key_json.n);
    fz_buf_puts(b, ",\"window_s\":");
    fz_buf_put_i64(b, a->window_ms / 1000);
    fz_buf_puts(b, ",\"distinct_field\":\"");
    fz_buf_puts(b, fz_field_name((fz_field)a->distinct_field));
    fz_buf_puts(b, "\",\"distinct\":");
    fz_buf_put_u64(b, out->distinct);
    fz_buf_puts(b, ",\"min_distinct\":");
    fz_buf_put_u64(b, a->min_distinct);
    fz_buf_puts(b, out->estimated ? ",\"estimated\":true" : ",\"estimated\":false");
    fz_buf_puts(b, ",\"first_ts\":");
    fz_buf_put_i64(b, out->first_ms);
    if (a->median_below_ms > 0) {
        fz_buf_puts(b, ",\"median_duration_s\":");
        fz_buf_put_i64(b, out->median_duration_s);
        fz_buf_puts(b, ",\"median_duration_below_s\":");
        fz_buf_put_i64(b, a->median_below_ms / 1000);
    }
    fz_buf_putc(b, '}');
    fz_alert_put_source(b, src);
    return fz_buf_putc(b, '}');
}

int fz_agg_step(fz_aggs *aggs, const fz_ruleset *rs, const fz_result *r, fz_buf *ob, fz_buf *kb,
                const fz_source *src) {
    int n = 0;
    if (!aggs || r->verdict == FZ_VERDICT_INVALID) return 0;
    for (int i = 0; i < r->naggs; i++) {
        const fz_rule *x = fz_ruleset_rule(rs, r->aggs[i].rule);
        const fz_aggrule *ag = x->agg;
        fz_agg_in in = {r->aggs[i].key, r->aggs[i].value, r->ev.ts_ms,        r->ev.duration_s,
                        ag->window_ms,  ag->min_distinct, ag->median_below_ms};
        fz_agg_out out;
        fz_aggs_hit(aggs, &in, &out);
        if (!out.fired) continue;
        fz_buf_reset(kb);
        fz_agg_key_json(kb, r->ev.fields[ag->key_field]);
        size_t klen = kb->len;
        fz_agg_event_json(kb, &r->ev);
        const char *ver = fz_ruleset_version(rs);
        size_t alen;
        const char *art = fz_ruleset_artifact_json(rs, &alen);
        fz_agg_alert al = {.key = r->aggs[i].key,
                           .event_id = r->ev.id,
                           .event_type = (uint8_t)r->ev.type,
                           .ts_ms = r->ev.ts_ms,
                           .severity = (uint8_t)x->severity,
                           .rule_json = {x->json, x->json_len},
                           .rule_id = {x->id, strlen(x->id)},
                           .ruleset = {ver, strlen(ver)},
                           .artifact_json = {art, alen},
                           .key_field = ag->key_field,
                           .distinct_field = ag->distinct_field,
                           .key_json = {kb->p, klen},
                           .event_json = {kb->p + klen, kb->len - klen},
                           .window_ms = ag->window_ms,
                           .min_distinct = ag->min_distinct,
                           .median_below_ms = ag->median_below_ms};
        fz_agg_alert_encode(ob, &al, &out, src);
        fz_buf_putc(ob, '\n');
        n++;
    }
    return n;
}
