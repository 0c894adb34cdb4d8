/*
 * alert.c - see alert.h.
 *
 * Each rule carries its JSON object pre-encoded (rules.c), so an alert is
 * mostly memcpy. The primary rule is the matched rule with the highest
 * severity; among equals, the first in ruleset order.
 */
#include "alert.h"

#include "campaign.h"
#include "hll.h"
#include "privacy.h"

#include "utf8.h"

void fz_alert_put_source(fz_buf *b, const fz_source *src) {
    if (!src) return;
    fz_buf_put_key(b, "source", 0);
    if (src->topic) {
        fz_buf_puts(b, "{\"topic\":");
        fz_buf_put_json_str(b, src->topic, strlen(src->topic));
        fz_buf_puts(b, ",\"partition\":");
        fz_buf_put_i64(b, src->partition);
        fz_buf_puts(b, ",\"offset\":");
        fz_buf_put_i64(b, src->offset);
    } else {
        fz_buf_puts(b, "{\"file\":");
        const char *f = src->file ? src->file : "-";
        fz_buf_put_json_str(b, f, strlen(f));
        fz_buf_puts(b, ",\"line\":");
        fz_buf_put_u64(b, src->line);
    }
    fz_buf_putc(b, '}');
}

/* "event_id": the id, or null when the event was rejected before it. */
static void put_event_id(fz_buf *b, const fz_result *r, int first) {
    fz_buf_put_key(b, "event_id", first);
    if (r->ev.id.p)
        fz_buf_put_json_fz(b, r->ev.id);
    else
        fz_buf_puts(b, "null");
}

static void put_opt_str(fz_buf *b, const char *key, fz_str s) {
    if (!s.p) return;
    fz_buf_put_key(b, key, 0);
    fz_buf_put_json_fz(b, s);
}

/* 1 if rule x has a model term scoring with model `model`. */
static int rule_uses_model(const fz_rule *x, uint32_t model) {
    for (size_t k = 0; k < x->nterms; k++)
        if (x->terms[k].model && x->terms[k].model_idx == model) return 1;
    return 0;
}

/* ,"models":[{"file":..,"score":..}]: the models scored for r; with
 * fired_only, those a matched rule has a term of. Nothing when none. */
static void put_models(fz_buf *b, const fz_ruleset *rs, const fz_result *r, int fired_only) {
    int n = 0;
    for (int i = 0; i < r->nscores; i++) {
        const fz_score *sc = &r->scores[i];
        int used = !fired_only;
        for (int k = 0; k < r->nrules && !used; k++)
            used = rule_uses_model(fz_ruleset_rule(rs, r->rules[k]), sc->model);
        if (!used) continue;
        fz_buf_puts(b, n++ ? ",{\"file\":" : ",\"models\":[{\"file\":");
        const char *path = fz_ruleset_model_path(rs, sc->model);
        fz_buf_put_json_str(b, path, strlen(path));
        fz_buf_printf(b, ",\"score\":%.4f}", (double)sc->score);
    }
    if (n) fz_buf_putc(b, ']');
}

/* The rule an intercept alert names when no rule of the ruleset matched. */
static const char intercept_rule_json[] =
    "{\"id\":\"fanzha.intercept\",\"rev\":1,\"category\":\"intercept\",\"severity\":"
    "\"critical\"}";

static void put_intercept(fz_buf *b, unsigned bits) {
    fz_buf_puts(b, ",\"intercept\":{\"payer_warned\":");
    fz_buf_puts(b, bits & FZ_INTERCEPT_PAYER_WARNED ? "true" : "false");
    fz_buf_puts(b, ",\"payee_flagged\":");
    fz_buf_puts(b, bits & FZ_INTERCEPT_PAYEE_FLAGGED ? "true" : "false");
    fz_buf_putc(b, '}');
}

fz_err fz_alert_encode(fz_buf *b, const fz_ruleset *rs, const fz_result *r, int64_t window_ms,
                       const fz_source *src) {
    return fz_alert_encode_split(b, rs, r, window_ms, src, NULL);
}

fz_err fz_alert_encode_split(fz_buf *b, const fz_ruleset *rs, const fz_result *r, int64_t window_ms,
                             const fz_source *src, size_t *count_at) {
    const fz_event *ev = &r->ev;
    const fz_rule *primary = r->nrules > 0 ? fz_ruleset_rule(rs, r->primary) : NULL;
    fz_buf_puts(b, "{\"type\":\"alert\",\"event_id\":");
    fz_buf_put_json_fz(b, ev->id);
    fz_buf_puts(b, ",\"event_type\":\"");
    fz_buf_puts(b, fz_event_type_name(ev->type));
    fz_buf_puts(b, "\",\"ts\":");
    fz_buf_put_i64(b, ev->ts_ms);
    fz_buf_puts(b, ",\"severity\":\"");
    /* money about to leave for a fraudster: always critical */
    fz_buf_puts(b, r->intercept || !primary ? "critical" : fz_severity_name(primary->severity));
    fz_buf_puts(b, "\",\"rule\":");
    if (primary)
        fz_buf_put(b, primary->json, primary->json_len);
    else
        fz_buf_puts(b, intercept_rule_json);
    fz_buf_puts(b, ",\"rules\":[");
    for (int i = 0; i < r->nrules; i++) {
        const fz_rule *x = fz_ruleset_rule(rs, r->rules[i]);
        if (i) fz_buf_putc(b, ',');
        fz_buf_put(b, x->json, x->json_len);
    }
    if (!primary) fz_buf_puts(b, intercept_rule_json);
    fz_buf_putc(b, ']');
    if (r->truncated) fz_buf_puts(b, ",\"rules_truncated\":true");
    put_models(b, rs, r, 1);
    fz_buf_puts(b, ",\"ruleset\":\"");
    fz_buf_puts(b, fz_ruleset_version(rs));
    fz_buf_putc(b, '"');
    size_t alen;
    const char *art = fz_ruleset_artifact_json(rs, &alen); /* "" unless a compiled file */
    fz_buf_put(b, art, alen);
    fz_buf_puts(b, ",\"dedup\":{\"key\":\"");
    fz_buf_put_hex64(b, r->dedup_key);
    fz_buf_puts(b, "\",\"count\":");
    if (count_at)
        *count_at = b->len; /* the decide stage writes the count here */
    else
        fz_buf_put_u64(b, r->dedup_count);
    fz_buf_puts(b, ",\"window_ms\":");
    fz_buf_put_i64(b, window_ms);
    fz_buf_putc(b, '}');
    /* numbers and text as the privacy options allow (privacy.h) */
    const fz_privacy *pv = fz_privacy_get();
    for (int f = FZ_FIELD_FROM; f <= FZ_FIELD_TO; f++) {
        if (!ev->fields[f].p) continue;
        fz_buf_put_key(b, f == FZ_FIELD_FROM ? "from" : "to", 0);
        fz_privacy_put_number(b, pv, ev->fields[f]);
    }
    if (!pv->drop_texts) put_opt_str(b, "text", ev->fields[FZ_FIELD_TEXT]);
    if (ev->has_amount) {
        fz_buf_puts(b, ",\"amount_minor\":");
        fz_buf_put_i64(b, ev->amount_minor);
        put_opt_str(b, "currency", ev->currency);
    }
    if (r->intercept) put_intercept(b, r->intercept);
    fz_alert_put_source(b, src);
    return fz_buf_putc(b, '}');
}

fz_err fz_verdict_encode(fz_buf *b, const fz_ruleset *rs, const fz_result *r,
                         const fz_source *src) {
    fz_buf_putc(b, '{');
    put_event_id(b, r, 1);
    fz_buf_puts(b, ",\"verdict\":\"");
    fz_buf_puts(b, fz_verdict_name(r->verdict));
    fz_buf_puts(b, "\",\"rules\":[");
    for (int i = 0; i < r->nrules; i++) {
        if (i) fz_buf_putc(b, ',');
        const char *id = fz_ruleset_rule(rs, r->rules[i])->id;
        fz_buf_put_json_str(b, id, strlen(id));
    }
    int intercept_only = r->intercept && r->nrules == 0 &&
                         (r->verdict == FZ_VERDICT_ALERT || r->verdict == FZ_VERDICT_SUPPRESSED);
    if (intercept_only) fz_buf_puts(b, "\"fanzha.intercept\"");
    fz_buf_puts(b, "],\"categories\":[");
    if (intercept_only) fz_buf_puts(b, "\"intercept\"");
    int first = 1;
    for (int i = 0; i < r->nrules; i++) {
        const char *cat = fz_ruleset_rule(rs, r->rules[i])->category;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(fz_ruleset_rule(rs, r->rules[j])->category, cat) == 0;
        if (seen) continue;
        if (!first) fz_buf_putc(b, ',');
        first = 0;
        fz_buf_put_json_str(b, cat, strlen(cat));
    }
    fz_buf_putc(b, ']');
    if (r->nshadow > 0) { /* shadow rules that matched: they never alert */
        fz_buf_puts(b, ",\"shadow_rules\":[");
        for (int i = 0; i < r->nshadow; i++) {
            if (i) fz_buf_putc(b, ',');
            const char *id = fz_ruleset_rule(rs, r->shadow[i])->id;
            fz_buf_put_json_str(b, id, strlen(id));
        }
        fz_buf_putc(b, ']');
    }
    put_models(b, rs, r, 0); /* every score, so thresholds can be tuned on verdicts */
    if (r->verdict == FZ_VERDICT_ALERT || r->verdict == FZ_VERDICT_SUPPRESSED) {
        fz_buf_puts(b, ",\"dedup_count\":");
        fz_buf_put_u64(b, r->dedup_count);
        if (r->intercept) put_intercept(b, r->intercept);
    }
    if (r->verdict == FZ_VERDICT_INVALID) {
        fz_buf_puts(b, ",\"reason\":\"");
        fz_buf_puts(b, fz_reason_name(r->reason));
        fz_buf_puts(b, "\",\"detail\":");
        fz_buf_put_json_str(b, r->detail, strlen(r->detail));
        if (src && !src->topic) {
            fz_buf_puts(b, ",\"line\":");
            fz_buf_put_u64(b, src->line);
        }
    }
    return fz_buf_putc(b, '}');
}

fz_err fz_deadletter_encode(fz_buf *b, const fz_result *r, const char *payload, size_t len,
                            const fz_source *src, int64_t now_ms) {
    return fz_deadletter_encode_ex(b, r->reason, r->detail, r->ev.id, payload, len,
                                   FZ_DEADLETTER_PAYLOAD_MAX, src, now_ms);
}

fz_err fz_deadletter_encode_ex(fz_buf *b, fz_reason reason, const char *detail, fz_str id,
                               const char *payload, size_t len, size_t keep, const fz_source *src,
                               int64_t now_ms) {
    fz_buf_puts(b, "{\"type\":\"dead_letter\",\"reason\":\"");
    fz_buf_puts(b, fz_reason_name(reason));
    fz_buf_puts(b, "\",\"detail\":");
    fz_buf_put_json_str(b, detail, strlen(detail));
    fz_buf_put_key(b, "event_id", 0);
    if (id.p)
        fz_buf_put_json_fz(b, id);
    else
        fz_buf_puts(b, "null");
    fz_buf_puts(b, ",\"at\":");
    fz_buf_put_i64(b, now_ms);
    fz_alert_put_source(b, src);
    fz_buf_puts(b, ",\"payload_bytes\":");
    fz_buf_put_u64(b, len);
    const fz_privacy *pv = fz_privacy_get();
    if (fz_privacy_on(pv)) { /* the payload may hold numbers and text: not carried */
        fz_buf_puts(b, ",\"payload_omitted\":true");
        if (pv->key_len) {
            char hex[FZ_PRIVACY_HASH_HEX + 1];
            fz_privacy_hash_hex(pv, payload, len, hex);
            fz_buf_puts(b, ",\"payload_hash\":\"");
            fz_buf_put(b, hex, FZ_PRIVACY_HASH_HEX);
            fz_buf_putc(b, '"');
        }
        return fz_buf_putc(b, '}');
    }
    if (len > keep) {
        len = keep;
        /* cut at a character boundary so valid text stays valid */
        for (int k = 0; k < 3 && len > 0 && ((unsigned char)payload[len] & 0xC0) == 0x80; k++)
            len--;
        fz_buf_puts(b, ",\"payload_truncated\":true");
    }
    if (fz_utf8_valid(payload, len, NULL)) {
        fz_buf_puts(b, ",\"payload\":");
        fz_buf_put_json_str(b, payload, len);
    } else { /* not text: keep the exact bytes */
        fz_buf_puts(b, ",\"payload_base64\":\"");
        fz_buf_put_base64(b, payload, len);
        fz_buf_putc(b, '"');
    }
    return fz_buf_putc(b, '}');
}

void fz_rule_stats_encode(fz_buf *b, const fz_ruleset *rs, const fz_rule_counters *const *ctr,
                          int n) {
    for (size_t i = 0; i < fz_ruleset_count(rs); i++) {
        const fz_rule *r = fz_ruleset_rule(rs, i);
        uint64_t matches = 0, hits = 0, both = 0;
        for (int k = 0; k < n; k++) { /* both first: it never runs ahead of matches */
            both += atomic_load_explicit(&ctr[k][i].both, memory_order_relaxed);
            matches += atomic_load_explicit(&ctr[k][i].matches, memory_order_relaxed);
            hits += atomic_load_explicit(&ctr[k][i].hits, memory_order_relaxed);
        }
        if (both > matches) both = matches;
        fz_buf_printf(b, "{\"ruleset\":\"%s\",\"id\":", fz_ruleset_version(rs));
        fz_buf_put_json_str(b, r->id, strlen(r->id));
        fz_buf_printf(b, ",\"rev\":%u,\"status\":\"%s\",\"category\":", r->rev,
                      fz_rule_status_name(r->status));
        fz_buf_put_json_str(b, r->category, strlen(r->category));
        fz_buf_printf(b, ",\"severity\":\"%s\",\"matches\":%llu,\"hits\":%llu",
                      fz_severity_name(r->severity), (unsigned long long)matches,
                      (unsigned long long)hits);
        if (r->pair != FZ_RULE_NO_PAIR) /* a revision pair: the evidence over the same events */
            fz_buf_printf(b, ",\"pair_rev\":%u,\"both\":%llu,\"only\":%llu",
                          fz_ruleset_rule(rs, r->pair)->rev, (unsigned long long)both,
                          (unsigned long long)(matches - both));
        fz_buf_puts(b, "}\n");
    }
}

fz_err fz_campaign_encode(fz_buf *b, const fz_campaign *cp, int state, int64_t window_ms) {
    fz_buf_printf(b, "{\"type\":\"campaign\",\"state\":\"%s\",\"key\":\"",
                  fz_campaign_state_name((fz_campaign_state)state));
    fz_buf_put_hex64(b, cp->key);
    fz_buf_puts(b, "\",\"rule\":{\"id\":");
    fz_buf_put_json_str(b, cp->rule_id, strlen(cp->rule_id));
    fz_buf_puts(b, ",\"category\":");
    fz_buf_put_json_str(b, cp->category, strlen(cp->category));
    fz_buf_printf(b, "},\"ruleset\":\"%s\",\"count\":", cp->ruleset);
    fz_buf_put_u64(b, cp->count);
    fz_buf_printf(b, ",\"recipients_estimate\":%.0f,\"senders_estimate\":%.0f,\"first_ts\":",
                  fz_hll_estimate(cp->recipients, FZ_CAMPAIGN_P_RECIPIENTS),
                  fz_hll_estimate(cp->senders, FZ_CAMPAIGN_P_SENDERS));
    fz_buf_put_i64(b, cp->first_ms);
    fz_buf_puts(b, ",\"last_ts\":");
    fz_buf_put_i64(b, cp->last_ms);
    fz_buf_puts(b, ",\"window_ms\":");
    fz_buf_put_i64(b, window_ms);
    fz_buf_puts(b, ",\"sample\":");
    fz_buf_put_json_str(b, cp->sample, fz_privacy_get()->drop_texts ? 0 : cp->sample_len);
    fz_buf_putc(b, '}');
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}
