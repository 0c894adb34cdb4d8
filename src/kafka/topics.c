/*
 * topics.c - see topics.h.
 */
#define _GNU_SOURCE
#include "topics.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "log.h"

#define TIMEOUT_MS 30000
#define DEFAULT_MAX_BYTES 1048588 /* Kafka's default message.max.bytes */

/* An admin-capable client with the user's connection properties. */
static rd_kafka_t *admin_client(const fz_config *cfg, char *err, size_t n) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (fz_kafka_conf_set(c, "bootstrap.servers", cfg->brokers, err, n) ||
        fz_kafka_conf_set(c, "client.id", "fanzha-admin", err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka, err, n)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    return fz_kafka_client_new(RD_KAFKA_PRODUCER, c, "admin client", err, n);
}

/* Partition count of topic, 0 if it does not exist, -1 on error. Asks for
 * every topic's metadata: asking for one topic by name would let a broker
 * with auto.create.topics.enable create it, with the wrong configuration. */
static int partitions_of(rd_kafka_t *rk, const char *topic, char *err, size_t n) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = fz_kafka_metadata(rk, 1, NULL, &md, TIMEOUT_MS);
    int r = -1;
    if (e && fz_kafka_failed(err, n)) return -1; /* refused login or certificate: no retry */
    if (e) {                                     /* the cluster does not answer (yet) */
        snprintf(err, n, "topic '%s': metadata: %s", topic, rd_kafka_err2str(e));
        return FZ_TOPICS_UNREACHABLE;
    }
    r = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic)) {
            rd_kafka_resp_err_t te = md->topics[i].err;
            if (te && te != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                snprintf(err, n, "topic '%s': %s", topic, rd_kafka_err2str(te));
                r = te == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                            te == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION
                        ? FZ_TOPICS_UNREACHABLE
                        : -1;
            } else {
                r = md->topics[i].partition_cnt;
            }
        }
    rd_kafka_metadata_destroy(md);
    return r;
}

typedef struct spec {
    const char *name;
    int partitions;
    const char *const *configs; /* key, value, ..., NULL */
} spec;

static int create(rd_kafka_t *rk, const spec *s, int rf, char *err, size_t n) {
    char e2[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(s->name, s->partitions, rf, e2, sizeof(e2));
    if (!nt) {
        snprintf(err, n, "topic '%s': %s", s->name, e2);
        return -1;
    }
    for (const char *const *c = s->configs; c && *c; c += 2)
        rd_kafka_NewTopic_set_config(nt, c[0], c[1]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, TIMEOUT_MS, e2, sizeof(e2));
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS + 5000);
    int rc = -1;
    if (!ev) {
        snprintf(err, n, "topic '%s': no answer to CreateTopics", s->name);
        rc = FZ_TOPICS_UNREACHABLE;
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, n, "topic '%s': %s", s->name, rd_kafka_event_error_string(ev));
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t e =
            cnt ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
        if (!e || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            rc = 0;
            if (!e) fz_info("created topic '%s' (%d partitions)", s->name, s->partitions);
        } else {
            snprintf(err, n, "cannot create topic '%s': %s", s->name,
                     rd_kafka_topic_result_error_string(tr[0]));
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* max.message.bytes and cleanup.policy of a topic (defaults when it has no
 * configuration to show). 0, or FZ_TOPICS_UNREACHABLE with err. */
static int describe(rd_kafka_t *rk, const char *topic, int64_t *max_bytes, char *policy,
                    size_t policy_size, char *err, size_t n) {
    int rc = 0;
    *max_bytes = DEFAULT_MAX_BYTES;
    snprintf(policy, policy_size, "?");
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    char e2[256];
    rd_kafka_AdminOptions_set_request_timeout(o, TIMEOUT_MS, e2, sizeof(e2));
    rd_kafka_DescribeConfigs(rk, &cr, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS + 5000);
    if (ev && !rd_kafka_event_error(ev)) {
        size_t nr;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &nr);
        if (nr == 1 && !rd_kafka_ConfigResource_error(rs[0])) {
            size_t ne;
            const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[0], &ne);
            for (size_t i = 0; i < ne; i++) {
                const char *k = rd_kafka_ConfigEntry_name(es[i]);
                const char *v = rd_kafka_ConfigEntry_value(es[i]);
                if (!v) continue;
                if (!strcmp(k, "max.message.bytes")) *max_bytes = strtoll(v, NULL, 10);
                if (!strcmp(k, "cleanup.policy")) snprintf(policy, policy_size, "%s", v);
            }
        }
    } else {
        snprintf(err, n, "topic '%s': cannot read its configuration: %s", topic,
                 ev ? rd_kafka_event_error_string(ev) : "timed out");
        rc = FZ_TOPICS_UNREACHABLE;
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(cr);
    return rc;
}

void fz_topics_free(fz_topics *t) {
    for (int i = 0; i < FZ_T_COUNT; i++) free(t->name[i]);
    memset(t, 0, sizeof(*t));
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

int fz_topics_prepare(const fz_config *cfg, fz_topics *t, char *err, size_t err_size) {
    memset(t, 0, sizeof(*t));
    const char *g = cfg->group_id;
    t->name[FZ_T_ALERTS] = strdup(cfg->alerts_topic);
    t->name[FZ_T_DLQ] = dup_or_null(cfg->dead_letter_topic);
    t->name[FZ_T_STATS] = cfg->ledger_window_ms > 0 ? dup_or_null(cfg->stats_topic) : NULL;
    t->name[FZ_T_STATE] = dup_or_null(cfg->state_topic);
    static const char *const suffix[] = {".route", ".dedup-changelog", ".campaign-changelog",
                                         ".watch-changelog", ".agg-changelog"};
    for (int i = 0; i < 5; i++)
        if (asprintf(&t->name[FZ_T_ROUTE + i], "%s%s", g, suffix[i]) < 0)
            t->name[FZ_T_ROUTE + i] = NULL;
    for (int i = FZ_T_ROUTE; i < FZ_T_COUNT; i++)
        if (!t->name[i] || !t->name[FZ_T_ALERTS]) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
    if (!t->name[FZ_T_STATE]) {
        snprintf(err, err_size,
                 "option 'state_topic' is required: it holds every task's checkpoint");
        return -1;
    }
    rd_kafka_t *rk = admin_client(cfg, err, err_size);
    if (!rk) return -1;
    int rc = -1;
    /* how many partitions the internal topics have */
    int n = partitions_of(rk, t->name[FZ_T_ROUTE], err, err_size);
    if (n < 0) {
        rc = n;
        goto out;
    }
    if (n == 0) {
        n = (int)cfg->internal_partitions;
        if (n == 0)
            for (size_t i = 0; i < cfg->n_input_topics; i++) {
                int k = partitions_of(rk, cfg->input_topics[i], err, err_size);
                if (k < 0) {
                    rc = k;
                    goto out;
                }
                if (k > n) n = k;
            }
        if (n == 0) {
            snprintf(err, err_size,
                     "none of the input topics exists yet, so the number of internal partitions "
                     "is unknown: create them first or set internal_partitions");
            goto out;
        }
    } else if (cfg->internal_partitions > 0 && n != cfg->internal_partitions) {
        snprintf(err, err_size,
                 "topic '%s' has %d partitions, internal_partitions says %lld: the decide "
                 "stage's state is partitioned by it and cannot be split again in place",
                 t->name[FZ_T_ROUTE], n, (long long)cfg->internal_partitions);
        goto out;
    }
    t->partitions = n;
    char maxb[24];
    int rf = (int)cfg->internal_replication_factor;
    snprintf(maxb, sizeof(maxb), "%d", 16 << 20);
    static const char *const compact_base[] = {"cleanup.policy", "compact", "segment.ms", "3600000",
                                               NULL};
    const char *const route_cfg[] = {
        "cleanup.policy", "delete", "retention.ms", "604800000", "max.message.bytes", maxb, NULL};
    /* every task writes its checkpoint with every commit, and a restore
     * reads the topic from its start: short segments and eager cleaning
     * keep the uncompacted tail small */
    const char *const state_cfg[] = {
        "cleanup.policy",    "compact", "segment.ms", "600000", "min.cleanable.dirty.ratio", "0.1",
        "max.message.bytes", maxb,      NULL};
    /* watchlist entries are never deleted (a number stays marked until its
     * marks are older than the look-back): the changelog also expires by
     * time, long after any mark in it could still intercept */
    char keep[24];
    int64_t lookback2 =
        cfg->intercept_lookback_ms > INT64_MAX / 2 ? INT64_MAX : 2 * cfg->intercept_lookback_ms;
    snprintf(keep, sizeof(keep), "%lld",
             (long long)(lookback2 > 604800000 ? lookback2 : 604800000));
    const char *const watch_cfg[] = {
        "cleanup.policy", "compact,delete", "segment.ms", "3600000", "retention.ms", keep, NULL};
    /* an aggregate window past aggregate_exact_max carries its sketch */
    const char *const agg_cfg[] = {"cleanup.policy",    "compact", "segment.ms", "3600000",
                                   "max.message.bytes", maxb,      NULL};
    spec specs[] = {
        {t->name[FZ_T_ROUTE], n, route_cfg},           {t->name[FZ_T_DEDUP_LOG], n, compact_base},
        {t->name[FZ_T_CAMPAIGN_LOG], n, compact_base}, {t->name[FZ_T_WATCH_LOG], n, watch_cfg},
        {t->name[FZ_T_AGG_LOG], n, agg_cfg},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(specs); i++) {
        int k = partitions_of(rk, specs[i].name, err, err_size);
        if (k < 0) {
            rc = k;
            goto out;
        }
        if (k == 0 && (rc = create(rk, &specs[i], rf, err, err_size)) != 0) goto out;
        rc = -1;
        if (k > 0 && k != n) {
            snprintf(err, err_size,
                     "topic '%s' has %d partitions, '%s' %d: changelogs must be co-partitioned "
                     "with the route topic",
                     specs[i].name, k, t->name[FZ_T_ROUTE], n);
            goto out;
        }
    }
    /* the state and statistics topics: created compacted when missing */
    for (int i = FZ_T_STATS; i <= FZ_T_STATE; i++) {
        if (!t->name[i]) continue;
        int k = partitions_of(rk, t->name[i], err, err_size);
        if (k < 0) {
            rc = k;
            goto out;
        }
        spec sp = {t->name[i], 1, i == FZ_T_STATE ? state_cfg : compact_base};
        if (k == 0 && (rc = create(rk, &sp, rf, err, err_size)) != 0) goto out;
        rc = -1;
    }
    /* limits, and policies that must hold */
    int64_t most = DEFAULT_MAX_BYTES, least = INT64_MAX;
    for (int i = 0; i < FZ_T_COUNT; i++) {
        if (!t->name[i]) continue;
        char policy[64];
        if ((i == FZ_T_ALERTS || i == FZ_T_DLQ) &&
            partitions_of(rk, t->name[i], err, err_size) == 0)
            fz_warn("topic '%s' does not exist yet: the broker must create it on first use "
                    "(auto.create.topics.enable)",
                    t->name[i]);
        if ((rc = describe(rk, t->name[i], &t->max_bytes[i], policy, sizeof(policy), err,
                           err_size)) != 0)
            goto out;
        rc = -1;
        if (i >= FZ_T_DEDUP_LOG || i == FZ_T_STATE) {
            if (!strstr(policy, "compact") && strcmp(policy, "?") != 0) {
                snprintf(err, err_size,
                         "topic '%s' has cleanup.policy=%s: a changelog or checkpoint topic must "
                         "be compacted (cleanup.policy=compact)",
                         t->name[i], policy);
                goto out;
            }
        }
        if (t->max_bytes[i] > most) most = t->max_bytes[i];
        if (t->max_bytes[i] < least) least = t->max_bytes[i];
    }
    t->producer_max_bytes = most > 1000000000 ? 1000000000 : most;
    /* the broker checks max.message.bytes against a whole record batch: no
     * batch of small records may outgrow the smallest limit (one larger
     * record still goes alone) */
    t->producer_batch_bytes = least - 1024 < 1024 ? 1024 : least - 1024;
    if (t->producer_batch_bytes > 1000000) t->producer_batch_bytes = 1000000;
    fz_info("topics: route '%s' and changelogs with %d partition(s); largest records: alerts %lld, "
            "route %lld, state %lld bytes",
            t->name[FZ_T_ROUTE], n, (long long)t->max_bytes[FZ_T_ALERTS],
            (long long)t->max_bytes[FZ_T_ROUTE], (long long)t->max_bytes[FZ_T_STATE]);
    rc = 0;
out:
    rd_kafka_destroy(rk);
    if (rc) fz_topics_free(t);
    return rc;
}
