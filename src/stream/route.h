/*
 * route.h - records of the route topic: from the screen stage to the
 * decide stage of `fanzha run`.
 *
 * The screen stage (one task per input partition) matches every event but
 * owns no keyed state. An event whose outcome depends on state - a matched
 * event (alert or repeat?) or an intercepted transfer - travels as a
 * *decide* record keyed by its dedup key; a number that fraud touched
 * travels as a *mark* record keyed by the number. The route topic's
 * partitions (fz_route_partition() of the key) are the decide stage's
 * tasks, so every event with the same key, and every mark of the same
 * number, reaches the same task whatever the number of instances.
 *
 * A decide record carries what the decision needs (fz_decide_in), what the
 * statistics need (fz_ledger_event), and the alert already encoded but for
 * its dedup count ("head" ... count ... "tail"), so the decide stage needs
 * neither the event nor the ruleset that matched it. Every record names the
 * input record it came from (topic, partition, offset and the lineage of
 * that partition's task), which is how the decide stage recognises a
 * record produced twice.
 *
 * Format: "FZR" and a version byte, fixed fields, then strings with u32
 * lengths; little-endian. Decoding checks every length against the record.
 * Version 2 appends the input record's timestamp and the primary rule's
 * severity; version 1 records (from an instance not yet upgraded) are
 * read with both 0, so a rolling upgrade loses nothing.
 * Pure functions; any thread.
 */
#ifndef FZ_ROUTE_H
#define FZ_ROUTE_H

#include <stdint.h>

#include "buf.h"
#include "common.h"

#define FZ_ROUTE_DECIDE 1
#define FZ_ROUTE_MARK 2
#define FZ_ROUTE_AGG 3 /* one event for one aggregate rule's window (version 3) */

/* One aggregate rule an aggregate record feeds. */
#define FZ_ROUTE_MAX_FEEDS 8
typedef struct fz_route_feed {
    fz_str rule_id, rule_category;
    fz_str rule_json;       /* the rule's object for the alert */
    uint8_t severity;       /* the rule's fz_severity */
    uint8_t distinct_field; /* fz_field */
    uint32_t min_distinct;
    int64_t window_ms;
    int64_t median_below_ms; /* 0: no duration condition */
    uint64_t value;          /* the distinct field's number key */
} fz_route_feed;

typedef struct fz_route {
    uint8_t kind;
    /* the input record */
    fz_str src_topic;
    int32_t src_partition;
    int64_t src_offset;
    uint8_t src_seq; /* 0: the decide record; 1..: its marks (one event, several records) */
    uint64_t src_lineage;
    int64_t ts_ms;
    uint64_t key;      /* decide: the dedup key; mark: fz_number_key() */
    uint8_t mark_kind; /* mark: FZ_WATCH_* bits */
    /* decide */
    uint8_t type, matched, intercept, late, has_amount, category_input;
    int64_t amount_minor;
    fz_str currency, category; /* the statistics row (fz_ledger_event) */
    uint64_t recipient_hash, sender_hash;
    fz_str rule_id, rule_category, ruleset, sample; /* a new campaign's */
    fz_str alert_key;                               /* the Kafka key of the alert */
    fz_str alert_head, alert_tail;                  /* the alert around its dedup count */
    /* version 2 (0 when a version-1 record is read) */
    int64_t ingest_ms;       /* the input record's Kafka timestamp: the latency metrics */
    uint8_t severity;        /* decide: the primary rule's fz_severity (0: none matched) */
    fz_str primary_category; /* decide: the primary rule's category (absent: none matched) */
    /* version 3 (zero when an older record is read): an aggregate record,
     * one per event and key field: the event for every aggregate rule it
     * feeds with that key (key: the key number's fz_number_key(); src_seq
     * 1 + FZ_MAX_MARKS + the key field). ruleset and alert_key are shared
     * with decide records; alert_head holds the alert's event fields and
     * sample the ruleset's artifact JSON (output/aggalert.h). */
    int64_t duration_s; /* the call's, or -1 */
    uint8_t agg_key_field;
    fz_str agg_key_json; /* the key number as the privacy options show it */
    fz_str event_id;
    uint8_t nfeeds; /* 1 to FZ_ROUTE_MAX_FEEDS in an aggregate record */
    fz_route_feed feeds[FZ_ROUTE_MAX_FEEDS];
} fz_route;

/* Append r's encoding to b. FZ_ERR_FULL when b's cap is hit. */
fz_err fz_route_encode(fz_buf *b, const fz_route *r);

/* Decode p[0..n) into *r, whose strings are views into p. 0, or -1 with
 * the reason in err. */
int fz_route_decode(const void *p, size_t n, fz_route *r, char *err, size_t err_size);

/* The route partition of a key among nparts (> 0). Stable: changing it
 * would strand every changelog written before. */
int32_t fz_route_partition(uint64_t key, int32_t nparts);

#endif
