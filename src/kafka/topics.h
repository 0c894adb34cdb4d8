/*
 * topics.h - the topics `fanzha run` reads and writes, resolved once at
 * start-up: names, partition counts, and the largest record each accepts.
 *
 * Internal topics are named after the consumer group, like Kafka Streams'
 * (group "fanzha" -> "fanzha.route", "fanzha.dedup-changelog", ...), and are
 * created when missing, or checked when present:
 *
 *   <group>.route               the screen stage's output, the decide stage's
 *                               input (delete policy, 7 d retention)
 *   <group>.dedup-changelog     the decide tasks' dedup stores      (compact)
 *   <group>.campaign-changelog  the decide tasks' campaign tables   (compact)
 *   <group>.watch-changelog     the interception watchlist, owned   (compact,
 *                               per number by the decide tasks and   delete after
 *                               read whole by every instance         2 x look-back)
 *   <group>.agg-changelog       the decide tasks' aggregate windows (compact)
 *
 * All five have the same number of partitions (internal_partitions; by
 * default the largest partition count among the input topics), and the
 * changelogs are co-partitioned with the route topic: decide task p owns
 * partition p of each. The state topic (task checkpoints) and the
 * statistics topic are created compacted when missing.
 *
 * The record size limit of every output topic (its max.message.bytes, or
 * the broker's) is read here, so a record that the broker would refuse for
 * good is recognised before it is produced and dead-lettered instead.
 */
#ifndef FZ_TOPICS_H
#define FZ_TOPICS_H

#include <stdint.h>

#include "config.h"

enum {
    FZ_T_ALERTS = 0,
    FZ_T_DLQ,
    FZ_T_STATS,
    FZ_T_STATE,
    FZ_T_ROUTE,
    FZ_T_DEDUP_LOG,
    FZ_T_CAMPAIGN_LOG,
    FZ_T_WATCH_LOG,
    FZ_T_AGG_LOG,
    FZ_T_COUNT
};

typedef struct fz_topics {
    char *name[FZ_T_COUNT];        /* NULL: off (dead letters, statistics) */
    int64_t max_bytes[FZ_T_COUNT]; /* largest record (key + value + overhead) accepted */
    int32_t partitions;            /* of the route topic and the changelogs */
    int64_t producer_max_bytes;    /* message.max.bytes the producers need */
    int64_t producer_batch_bytes;  /* batch.size: the broker refuses a batch as one record */
} fz_topics;

/* Resolve, create and check the topics for cfg. 0; -1 with a message that
 * names the topic in err (a configuration problem: exit 2); or
 * FZ_TOPICS_UNREACHABLE when the cluster did not answer in time (the caller
 * may try again). Blocks up to about a minute. */
#define FZ_TOPICS_UNREACHABLE (-2)
int fz_topics_prepare(const fz_config *cfg, fz_topics *t, char *err, size_t err_size);
void fz_topics_free(fz_topics *t);

/* Does a record of key_len + len bytes fit topic i? */
static inline int fz_topics_fits(const fz_topics *t, int i, size_t key_len, size_t len) {
    return (int64_t)(key_len + len) + 128 <= t->max_bytes[i];
}

#endif
