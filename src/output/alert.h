/*
 * alert.h - the output contract: encoding alerts, replay verdicts and
 * dead-letter records as single-line JSON (docs/alerts.md).
 *
 * Encoders append to a caller-owned fz_buf (one per worker) and return
 * FZ_OK or FZ_ERR_FULL if the buffer's cap was hit. They do not allocate
 * once the buffer has grown to its working size.
 */
#ifndef FZ_ALERT_H
#define FZ_ALERT_H

#include "buf.h"
#include "pipeline.h"
#include "rules.h"

/* Where an event came from: Kafka (topic set) or a file (file set). */
typedef struct fz_source {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *file;
    uint64_t line;
} fz_source;

/* Alert for r (verdict ALERT). */
fz_err fz_alert_encode(fz_buf *b, const fz_ruleset *rs, const fz_result *r, int64_t window_ms,
                       const fz_source *src);
/* The same without the dedup count: *count_at receives the offset in b
 * where it belongs (the screen stage of `fanzha run` encodes the alert, the
 * decide stage, which knows the count, writes it in). */
fz_err fz_alert_encode_split(fz_buf *b, const fz_ruleset *rs, const fz_result *r, int64_t window_ms,
                             const fz_source *src, size_t *count_at);
/* One replay verdict line for r (no trailing newline). */
/* ,"source":{...}: where an event was read (a topic partition and offset,
 * or a file and line); nothing when src is NULL. */
void fz_alert_put_source(fz_buf *b, const fz_source *src);
fz_err fz_verdict_encode(fz_buf *b, const fz_ruleset *rs, const fz_result *r, const fz_source *src);
/* Payload bytes kept in a dead-letter record; longer ones are cut. */
#define FZ_DEADLETTER_PAYLOAD_MAX 65536

/* Dead-letter record for an invalid event: reason, detail, source, and
 * the original payload. */
fz_err fz_deadletter_encode(fz_buf *b, const fz_result *r, const char *payload, size_t len,
                            const fz_source *src, int64_t now_ms);
/* The same from its parts; at most keep bytes of the payload are kept (cut
 * at a character boundary, "payload_truncated": true). id may be null. */
fz_err fz_deadletter_encode_ex(fz_buf *b, fz_reason reason, const char *detail, fz_str id,
                               const char *payload, size_t len, size_t keep, const fz_source *src,
                               int64_t now_ms);

struct fz_campaign;
/* A campaign summary for the alerts topic (one JSON object, no newline):
 * {"type":"campaign","state":..,"key":..,"rule":{"id","category"},"ruleset":..,
 *  "count":..,"recipients_estimate":..,"senders_estimate":..,"first_ts":..,
 *  "last_ts":..,"window_ms":..,"sample":..}. state is a fz_campaign_state. */
fz_err fz_campaign_encode(fz_buf *b, const struct fz_campaign *cp, int state, int64_t window_ms);

/* One JSON line per rule of rs with its counters summed over ctr[0..n)
 * (each an array of fz_ruleset_count(rs) entries, see matcher.h):
 * {"ruleset","id","rev","status","category","severity","matches","hits"}; a
 * revision of a pair (rules.h, fz_rule.pair) adds "pair_rev" (the other
 * revision's rev), "both" (events both revisions matched) and "only"
 * (events this revision matched and the other did not). */
void fz_rule_stats_encode(fz_buf *b, const fz_ruleset *rs, const fz_rule_counters *const *ctr,
                          int n);

#endif
