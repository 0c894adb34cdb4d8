/*
 * aggalert.h - the alert of an aggregate rule (detect/aggrule.h): which
 * aggregate crossed its threshold, for which key, and its value.
 *
 *   {"type":"alert","event_id":..,"event_type":"call","ts":..,"severity":..,
 *    "rule":{..},"rules":[{..}],"ruleset":..,
 *    "dedup":{"key":<the window's key>,"count":1,"window_ms":<the rule's window>},
 *    "from":..,"to":..,["text":..,]["amount_minor":..,"currency":..,]
 *    "aggregate":{"rule":..,"key_field":"from","key":..,"window_s":600,
 *                 "distinct_field":"to","distinct":131,"min_distinct":100,
 *                 "estimated":false,"first_ts":..,
 *                 "median_duration_s":12,"median_duration_below_s":20},
 *    "source":{..}}
 *
 * The alert carries the fields every alert has (docs/alerts.md); its
 * dedup key is the window's, its dedup window the rule's, since a window
 * alerts at most once per rule window (agg.h, the re-arm rule).
 * The event named is the one whose arrival made the aggregate cross. The
 * input is flat (no ruleset, no decoded event) because in `fanzha run` it
 * is encoded by the decide stage from a route record.
 */
#ifndef FZ_AGGALERT_H
#define FZ_AGGALERT_H

#include "agg.h"
#include "alert.h"

typedef struct fz_agg_alert {
    uint64_t key; /* the window's key (fz_agg_entry_key): the alert's dedup key */
    fz_str event_id;
    uint8_t event_type; /* fz_event_type */
    int64_t ts_ms;
    uint8_t severity; /* fz_severity of the rule */
    fz_str rule_json; /* the rule's pre-encoded object (fz_rule.json) */
    fz_str rule_id;
    fz_str ruleset;         /* version */
    fz_str artifact_json;   /* fz_ruleset_artifact_json(): "" unless a compiled file */
    uint8_t key_field;      /* fz_field */
    uint8_t distinct_field; /* fz_field */
    fz_str key_json;        /* the key number as the privacy options show it (JSON) */
    fz_str event_json;      /* the event's fields, fz_agg_event_json() */
    int64_t window_ms;
    uint32_t min_distinct;
    int64_t median_below_ms; /* 0: no duration condition */
} fz_agg_alert;

/* The alert for a (fired) out. src may be NULL. */
fz_err fz_agg_alert_encode(fz_buf *b, const fz_agg_alert *a, const fz_agg_out *out,
                           const fz_source *src);

/* `fanzha replay`'s step for one event after its decision: feed each
 * aggregate r feeds (r->aggs) to aggs and append one alert line (with a
 * newline) to ob for each that fires. kb is scratch. Returns the number of
 * alerts. Deciding thread. */
int fz_agg_step(fz_aggs *aggs, const fz_ruleset *rs, const fz_result *r, fz_buf *ob, fz_buf *kb,
                const fz_source *src);

/* The event's part of an alert, as every alert has it (alert.c):
 * `,"from":..,"to":..[,"text":..][,"amount_minor":..,"currency":..]`, numbers
 * and text as the privacy options allow. */
fz_err fz_agg_event_json(fz_buf *b, const fz_event *ev);

/* The JSON of a key number as the privacy options show it (privacy.h). */
fz_err fz_agg_key_json(fz_buf *b, fz_str number);

#endif
