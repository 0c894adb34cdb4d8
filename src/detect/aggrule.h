/*
 * aggrule.h - the `aggregate:` block of a rule: a behavioural term over
 * many events of one key (docs/rules.md, "Behavioural rules").
 *
 *     aggregate: {type: call, key: from, window: 10m, distinct: to,
 *                 min_distinct: 100, median_duration_below: 20s}
 *
 * reads "a caller (key: from) that called at least 100 distinct numbers
 * (distinct: to) within 10 minutes of event time, with a median call
 * duration under 20 s". A rule with an aggregate block never alerts on one
 * event: its pattern and list terms and its condition, when it has any,
 * only choose which events of `type` feed the aggregate; the alert comes
 * from the store (state/agg.h) when the aggregate crosses its threshold.
 *
 * This module parses and validates the block (the ruleset keeps the result,
 * fz_rule.agg, and the list of aggregate rules, fz_ruleset_aggs()) and,
 * per event, finds the aggregate rules it feeds (fz_aggrule_feeds, called
 * by the pipeline's scan); the windows themselves are state/agg.h's.
 */
#ifndef FZ_AGGRULE_H
#define FZ_AGGRULE_H

#include <stdint.h>
#include <yaml.h>

#include "rules.h"

/* Bounds of the block's values (validated with file:line errors). */
#define FZ_AGG_WINDOW_MIN_MS 1000LL
#define FZ_AGG_WINDOW_MAX_MS (7LL * 86400 * 1000)
#define FZ_AGG_MIN_DISTINCT_MAX 1000000u
#define FZ_AGG_MEDIAN_MAX_MS (86400LL * 1000)

struct fz_aggrule {
    uint8_t type;            /* fz_event_type: call, transfer or sms */
    uint8_t key_field;       /* fz_field: from or to */
    uint8_t distinct_field;  /* fz_field: from or to, not key_field */
    uint32_t min_distinct;   /* the alert threshold, >= 2 */
    int64_t window_ms;       /* sliding event-time window */
    int64_t median_below_ms; /* calls: median duration must be under it; 0 = no condition */
    unsigned line;           /* of the block */
};

/* Parse the mapping n of a rule in file into *out. Every problem is added
 * to diags with its line; returns 0 when valid, -1 otherwise. */
int fz_aggrule_parse(yaml_document_t *doc, yaml_node_t *n, const char *file, fz_rule_diags *diags,
                     fz_aggrule *out);

/* Checks that need the whole rule (its terms): a rule with an aggregate
 * may have no terms; a term scanning text needs type sms. */
int fz_aggrule_check_rule(const fz_rule *r, fz_rule_diags *diags);

struct fz_matcher;
struct fz_result;
/* After a scan by m: fill r->aggs with the aggregate rules the event feeds
 * (its type is the rule's, the rule has no terms or its condition matched,
 * and the key and distinct fields hold a number), take those rules out of
 * r->rules (choosing r->primary again among the others) and return the new
 * r->nrules. Allocation-free; the per-event step of pipeline.c. */
int fz_aggrule_feeds(const struct fz_matcher *m, struct fz_result *r);

/* "10m", "20s", "1h", "1d", "500ms" -> milliseconds; -1 if not a duration. */
int64_t fz_aggrule_duration_ms(const char *s);

#endif
