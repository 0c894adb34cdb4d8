/*
 * aggrule.c - parsing and validating a rule's `aggregate:` block.
 *
 * Design: the block is a flat YAML mapping of scalars; each key is checked
 * on its own (unknown keys, units, bounds, fields) and every problem is
 * reported with the line of its value, so a security team fixing a rule
 * file sees all its mistakes at once. The block only describes the
 * aggregate; the state it needs lives in the decide stage (state/agg.h).
 *
 * Per event (fz_aggrule_feeds, on every scanning thread): the ruleset's
 * aggregate rules are a short list; for each whose type is the event's
 * and whose filter matched (the matcher already evaluated its condition),
 * the key and distinct numbers are hashed (fz_number_key) into the
 * event's feeds. No allocation; the matched aggregate rules leave the
 * event's alerting rules.
 */
#include "aggrule.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "matcher.h"
#include "pipeline.h"
#include "watch.h"

static unsigned line_of(const yaml_node_t *n) { return n ? (unsigned)n->start_mark.line + 1 : 0; }

int64_t fz_aggrule_duration_ms(const char *s) {
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0 || v > 1000000000LL) return -1;
    long long mul;
    if (!strcmp(end, "ms"))
        mul = 1;
    else if (!strcmp(end, "s"))
        mul = 1000;
    else if (!strcmp(end, "m"))
        mul = 60 * 1000;
    else if (!strcmp(end, "h"))
        mul = 3600 * 1000;
    else if (!strcmp(end, "d"))
        mul = 86400LL * 1000;
    else
        return -1;
    if (v > INT64_MAX / mul) return -1;
    return v * mul;
}

static int field_of(const char *v) {
    if (!strcmp(v, "from")) return FZ_FIELD_FROM;
    if (!strcmp(v, "to")) return FZ_FIELD_TO;
    return -1;
}

int fz_aggrule_parse(yaml_document_t *doc, yaml_node_t *n, const char *file, fz_rule_diags *diags,
                     fz_aggrule *out) {
    static const char known[] = "type, key, window, distinct, min_distinct, median_duration_below";
    static const char *const keys[] = {"type",     "key",          "window",
                                       "distinct", "min_distinct", "median_duration_below"};
    memset(out, 0, sizeof(*out));
    out->line = line_of(n);
    if (n->type != YAML_MAPPING_NODE) {
        fz_rule_diags_add(diags, file, line_of(n), 0,
                          "'aggregate' must be a mapping ({type: call, key: from, window: 10m, "
                          "distinct: to, min_distinct: 100})");
        return -1;
    }
    int rc = 0, type = -1, key = -1, distinct = -1;
    unsigned seen = 0; /* bit per entry of keys[] given */
    unsigned median_line = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        const char *k =
            kn && kn->type == YAML_SCALAR_NODE ? (const char *)kn->data.scalar.value : NULL;
        const char *v =
            vn && vn->type == YAML_SCALAR_NODE ? (const char *)vn->data.scalar.value : NULL;
        unsigned vl = line_of(vn ? vn : kn);
        if (!k) {
            fz_rule_diags_add(diags, file, line_of(kn), 0, "aggregate: keys must be scalars");
            rc = -1;
            continue;
        }
        size_t ki = 0;
        while (ki < FZ_ARRAY_LEN(keys) && strcmp(keys[ki], k) != 0) ki++;
        if (ki == FZ_ARRAY_LEN(keys)) {
            fz_rule_diags_add(diags, file, line_of(kn), 0,
                              "aggregate: unknown key '%s' (known: %s)", k, known);
            rc = -1;
            continue;
        }
        seen |= 1u << ki;
        if (!v || !*v) {
            fz_rule_diags_add(diags, file, vl, 0, "aggregate: '%s' must be a non-empty scalar", k);
            rc = -1;
            continue;
        }
        if (!strcmp(k, "type")) {
            if (!strcmp(v, "call"))
                type = FZ_EV_CALL;
            else if (!strcmp(v, "transfer"))
                type = FZ_EV_TRANSFER;
            else if (!strcmp(v, "sms"))
                type = FZ_EV_SMS;
            else {
                fz_rule_diags_add(diags, file, vl, 0,
                                  "aggregate: 'type' must be one of call, transfer, sms, not '%s'",
                                  v);
                rc = -1;
            }
        } else if (!strcmp(k, "key") || !strcmp(k, "distinct")) {
            int f = field_of(v);
            if (f < 0) {
                fz_rule_diags_add(diags, file, vl, 0,
                                  "aggregate: '%s' must be one of from, to, not '%s'", k, v);
                rc = -1;
            } else if (!strcmp(k, "key")) {
                key = f;
            } else {
                distinct = f;
            }
        } else if (!strcmp(k, "window")) {
            int64_t ms = fz_aggrule_duration_ms(v);
            if (ms < FZ_AGG_WINDOW_MIN_MS || ms > FZ_AGG_WINDOW_MAX_MS) {
                fz_rule_diags_add(diags, file, vl, 0,
                                  "aggregate: 'window' must be a duration from 1s to 7d "
                                  "(units ms, s, m, h, d; e.g. 10m), not '%s'",
                                  v);
                rc = -1;
            }
            out->window_ms = ms;
        } else if (!strcmp(k, "min_distinct")) {
            char *end;
            errno = 0;
            unsigned long x = strtoul(v, &end, 10);
            if (errno || *end || v[0] == '-' || x < 2 || x > FZ_AGG_MIN_DISTINCT_MAX) {
                fz_rule_diags_add(diags, file, vl, 0,
                                  "aggregate: 'min_distinct' must be an integer from 2 to %u, "
                                  "not '%s'",
                                  FZ_AGG_MIN_DISTINCT_MAX, v);
                rc = -1;
            }
            out->min_distinct = (uint32_t)x;
        } else { /* median_duration_below */
            int64_t ms = fz_aggrule_duration_ms(v);
            median_line = vl;
            if (ms < 1000 || ms > FZ_AGG_MEDIAN_MAX_MS || ms % 1000) {
                fz_rule_diags_add(diags, file, vl, 0,
                                  "aggregate: 'median_duration_below' must be whole seconds "
                                  "from 1s to 1d (e.g. 20s), not '%s'",
                                  v);
                rc = -1;
            }
            out->median_below_ms = ms;
        }
    }
    for (size_t i = 0; i < 5; i++) /* all but median_duration_below are required */
        if (!(seen & (1u << i))) {
            fz_rule_diags_add(diags, file, out->line, 0, "aggregate: '%s' is missing", keys[i]);
            rc = -1;
        }
    if (rc) return -1;
    if (key == distinct) {
        fz_rule_diags_add(diags, file, out->line, 0,
                          "aggregate: 'key' and 'distinct' are both '%s'; count the other side "
                          "(key: from, distinct: to)",
                          fz_field_name((fz_field)key));
        rc = -1;
    }
    if (out->median_below_ms && type != FZ_EV_CALL) {
        fz_rule_diags_add(diags, file, median_line, 0,
                          "aggregate: 'median_duration_below' needs type call (only calls have "
                          "a duration)");
        rc = -1;
    }
    out->type = (uint8_t)type;
    out->key_field = (uint8_t)key;
    out->distinct_field = (uint8_t)distinct;
    return rc;
}

/* A term that reads the text: on it, the fields derived from it (url_*,
 * text_*) or its model score. */
static int term_reads_text(const fz_term *t) {
    if (t->model) return 1;
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        if ((t->fields & (1u << f)) && (f == FZ_FIELD_TEXT || fz_field_is_derived(f))) return 1;
    return 0;
}

int fz_aggrule_check_rule(const fz_rule *r, fz_rule_diags *diags) {
    int rc = 0;
    for (size_t i = 0; i < r->nterms; i++)
        if (term_reads_text(&r->terms[i]) && r->agg->type != FZ_EV_SMS) {
            fz_rule_diags_add(diags, r->file, r->terms[i].line ? r->terms[i].line : r->agg->line, 0,
                              "rule '%s': term '%s' scans the text, but the aggregate counts "
                              "%s events, which have none; use 'fields: [from]' or '[to]'",
                              r->id ? r->id : "?", r->terms[i].name,
                              fz_event_type_name((fz_event_type)r->agg->type));
            rc = -1;
        }
    if (r->ntests) {
        fz_rule_diags_add(diags, r->file, r->tests[0].line, 0,
                          "rule '%s': 'tests' are for single events; an aggregate rule is tested "
                          "with a case of many events (tests/cases)",
                          r->id ? r->id : "?");
        rc = -1;
    }
    return rc;
}

int fz_aggrule_feeds(const fz_matcher *m, fz_result *r) {
    const fz_ruleset *rs = fz_matcher_ruleset(m);
    size_t naggs;
    const uint32_t *aggs = fz_ruleset_aggs(rs, &naggs);
    r->naggs = 0;
    if (naggs == 0) return r->nrules;
    /* alerting rules only in rules[]; the primary again among them */
    int k = 0;
    for (int i = 0; i < r->nrules; i++) {
        const fz_rule *x = fz_ruleset_rule(rs, r->rules[i]);
        if (x->agg) continue;
        if (k == 0 || x->severity > fz_ruleset_rule(rs, r->primary)->severity)
            r->primary = r->rules[i]; /* rules[] is in index order: the first of equals */
        r->rules[k++] = r->rules[i];
    }
    r->nrules = k;
    for (size_t i = 0; i < naggs && r->naggs < FZ_MAX_AGG_FEEDS; i++) {
        const fz_rule *x = fz_ruleset_rule(rs, aggs[i]);
        const fz_aggrule *a = x->agg;
        if ((unsigned)r->ev.type != a->type) continue;
        if (x->nterms && !fz_matcher_matched(m, aggs[i])) continue;
        uint64_t key = fz_number_key(r->ev.fields[a->key_field]);
        uint64_t value = fz_number_key(r->ev.fields[a->distinct_field]);
        if (!key || !value) continue;
        r->aggs[r->naggs++] = (fz_agg_feed){
            aggs[i], fz_agg_entry_key((fz_str){x->id, strlen(x->id)}, key), key, value};
    }
    return k;
}
