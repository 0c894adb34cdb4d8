/*
 * kafka.c - see kafka.h.
 */
#include "kafka.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/*
 * The first error no retry can fix, from any client of the process:
 * written once by whichever librdkafka callback sees it first (g_failed
 * goes 0 -> 1 while g_failed_msg is written, then 2), read by anyone.
 */
static _Atomic int g_failed;
static char g_failed_msg[768];

int fz_kafka_conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t n) {
    char e2[256];
    if (rd_kafka_conf_set(c, k, v, e2, sizeof(e2)) != RD_KAFKA_CONF_OK) {
        snprintf(err, n, "librdkafka property '%s': %s", k, e2);
        return -1;
    }
    return 0;
}

int fz_kafka_conf_apply(rd_kafka_conf_t *c, const fz_kvlist *l, char *err, size_t n) {
    for (size_t i = 0; i < l->n; i++)
        if (fz_kafka_conf_set(c, l->v[i].key, l->v[i].value, err, n)) return -1;
    return 0;
}

int fz_kafka_consumer_defaults(rd_kafka_conf_t *c, char *err, size_t n) {
    return fz_kafka_conf_set(c, "queued.min.messages", "10000000", err, n);
}

void fz_kafka_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    fz_log_level lv = level <= 3   ? FZ_LOG_ERROR
                      : level <= 4 ? FZ_LOG_WARN
                      : level <= 6 ? FZ_LOG_INFO
                                   : FZ_LOG_DEBUG;
    if (!fz_log_enabled(lv)) return;
    if (fz_log_get_format() != FZ_LOG_JSON) {
        fz_log(lv, "rdkafka %s: %s", fac, buf);
        return;
    }
    /* "[thrd:NAME]: NAME: text" for a broker thread: the broker is a field
     * and the message is the text */
    char thread[256] = "";
    const char *msg = buf, *broker = NULL;
    if (!strncmp(buf, "[thrd:", 6)) {
        const char *end = strstr(buf + 6, "]: ");
        if (end && (size_t)(end - buf - 6) < sizeof(thread)) {
            memcpy(thread, buf + 6, (size_t)(end - buf - 6));
            thread[end - buf - 6] = '\0';
            msg = end + 3;
            /* a broker thread's name ("[proto://]host:port/id") starts its text too */
            size_t tn = strlen(thread);
            if (strchr(thread, '/') && !strncmp(msg, thread, tn) && !strncmp(msg + tn, ": ", 2)) {
                broker = thread;
                msg += tn + 2;
            }
        }
    }
    const fz_log_field fields[] = {
        {"facility", fac},
        {"broker", broker},
        {"client", rk ? rd_kafka_name(rk) : NULL},
    };
    fz_log_fields(lv, "kafka", fields, FZ_ARRAY_LEN(fields), "%s", msg);
}

int fz_kafka_failed(char *msg, size_t n) {
    if (atomic_load_explicit(&g_failed, memory_order_acquire) != 2) return 0;
    if (msg && n) snprintf(msg, n, "%s", g_failed_msg);
    return 1;
}

static void conf_get(rd_kafka_t *rk, const char *key, char *out, size_t n) {
    size_t sz = n;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), key, out, &sz) != RD_KAFKA_CONF_OK) out[0] = '\0';
}

void fz_kafka_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)opaque;
    /* a connection lost in the middle of a login is reported as an
     * authentication error too ("SaslAuthenticateRequest failed: Local:
     * Broker transport failure"): only the broker's refusal, or a
     * certificate that fails verification, is final */
    int final = (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL) &&
                !strstr(reason, "Local: ");
    if (!final) {
        /* logged as librdkafka does when no error_cb is set; in JSON, a
         * leading "[proto://]host:port/id: " is the broker field */
        char broker[256] = "";
        const char *sep = strstr(reason, ": ");
        size_t bn = sep ? (size_t)(sep - reason) : 0;
        if (sep && bn < sizeof(broker) && memchr(reason, '/', bn) && !memchr(reason, ' ', bn)) {
            memcpy(broker, reason, bn);
            broker[bn] = '\0';
        }
        const fz_log_field fields[] = {{"facility", "ERROR"},
                                       {"error", rd_kafka_err2name(err)},
                                       {"broker", broker[0] ? broker : NULL},
                                       {"client", rd_kafka_name(rk)}};
        if (fz_log_get_format() == FZ_LOG_JSON)
            fz_log_fields(FZ_LOG_ERROR, "kafka", fields, FZ_ARRAY_LEN(fields), "%s",
                          broker[0] ? sep + 2 : reason);
        else
            fz_error("rdkafka ERROR: %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err),
                     reason);
        return;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&g_failed, &expected, 1)) return;
    char user[256], mech[64], proto[32];
    conf_get(rk, "sasl.username", user, sizeof(user));
    conf_get(rk, "sasl.mechanisms", mech, sizeof(mech));
    conf_get(rk, "security.protocol", proto, sizeof(proto));
    /* the reason starts with the broker ("sasl_ssl://host:port/id: ...").
     * librdkafka before 2.6.1 sends a SCRAM nonce that Kafka 4 brokers
     * refuse (librdkafka PR 4895): the right password fails like a wrong one */
    int old_scram = !strncmp(mech, "SCRAM", 5) && rd_kafka_version() < 0x020601ff;
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
        snprintf(g_failed_msg, sizeof(g_failed_msg),
                 "Kafka authentication failed for user '%s' (security.protocol=%s, "
                 "sasl.mechanism=%s): %s; check sasl.username and sasl.password%s%s%s",
                 user, proto, mech, reason, old_scram ? " (note: librdkafka " : "",
                 old_scram ? rd_kafka_version_str() : "",
                 old_scram ? " cannot log in with SCRAM to Kafka 4.0 or later brokers even with "
                             "the right password; 2.6.1 and later can)"
                           : "");
    else
        snprintf(g_failed_msg, sizeof(g_failed_msg),
                 "Kafka TLS connection failed (security.protocol=%s): %s; check ssl.ca.location "
                 "(the CA that signed the broker's certificate), the broker's host name in its "
                 "certificate, and ssl.certificate.location/ssl.key.location if the broker asks "
                 "for a client certificate",
                 proto, reason);
    atomic_store_explicit(&g_failed, 2, memory_order_release);
}

#define TRANSPORT_GRACE_MS 3000

rd_kafka_resp_err_t fz_kafka_metadata(rd_kafka_t *rk, int all_topics, rd_kafka_topic_t *only,
                                      const struct rd_kafka_metadata **md, int timeout_ms) {
    int64_t until = fz_mono_ms() + timeout_ms, transport_since = -1;
    for (;;) {
        int64_t left = until - fz_mono_ms();
        int slice = left > 500 ? 500 : left > 0 ? (int)left : 1;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, all_topics, only, md, slice);
        /* serve the error callback: a refused login or certificate ends the wait */
        if (e && rd_kafka_type(rk) == RD_KAFKA_PRODUCER) {
            rd_kafka_poll(rk, 0);
        } else if (e) { /* nothing assigned yet: only events come back */
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 0);
            if (m) rd_kafka_message_destroy(m);
        }
        if (e && fz_kafka_failed(NULL, 0)) return RD_KAFKA_RESP_ERR__AUTHENTICATION;
        /* a refused login or handshake closes the connection: the request
         * fails with a transport error before the error callback that says
         * why has been served - asked again for up to TRANSPORT_GRACE_MS,
         * serving the callback meanwhile, before the transport error is
         * the answer */
        int transport =
            e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
        if (transport && transport_since < 0) transport_since = fz_mono_ms();
        int again = e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                    (transport && fz_mono_ms() - transport_since < TRANSPORT_GRACE_MS);
        if (!again || fz_mono_ms() >= until) return e;
        if (transport) usleep(50000); /* it failed at once: not a spin */
    }
}

rd_kafka_t *fz_kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *c, const char *what,
                                char *err, size_t n) {
    rd_kafka_conf_set_log_cb(c, fz_kafka_on_log);
    rd_kafka_conf_set_error_cb(c, fz_kafka_on_error);
    char e2[512];
    rd_kafka_t *rk = rd_kafka_new(type, c, e2, sizeof(e2));
    if (!rk) {
        snprintf(err, n, "%s: %s", what, e2);
        rd_kafka_conf_destroy(c);
    }
    return rk; /* c is now owned by rk */
}

/* fz_kafka_reader_new(); reset_error: an offset no longer in the log (the
 * retention deleted it since it was looked up) is an error delivered for
 * its partition, not a silent jump to the log's end. */
static rd_kafka_t *reader_new(const fz_config *cfg, const char *group_id, const char *client_id,
                              int fetch_wait_ms, int reset_error, char *err, size_t n) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char wait[16];
    snprintf(wait, sizeof(wait), "%d", fetch_wait_ms);
    if (fz_kafka_conf_set(c, "bootstrap.servers", cfg->brokers, err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka, err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka_consumer, err, n) ||
        fz_kafka_conf_set(c, "group.id", group_id, err, n) ||
        fz_kafka_conf_set(c, "client.id", client_id, err, n) ||
        fz_kafka_conf_set(c, "enable.auto.commit", "false", err, n) ||
        fz_kafka_conf_set(c, "enable.partition.eof", "true", err, n) ||
        fz_kafka_conf_set(c, "fetch.wait.max.ms", wait, err, n) ||
        fz_kafka_conf_set(c, "isolation.level", "read_committed", err, n) ||
        (reset_error && fz_kafka_conf_set(c, "auto.offset.reset", "error", err, n))) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = fz_kafka_client_new(RD_KAFKA_CONSUMER, c, client_id, err, n);
    if (!rk) return NULL;
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

rd_kafka_t *fz_kafka_reader_new(const fz_config *cfg, const char *group_id, const char *client_id,
                                int fetch_wait_ms, char *err, size_t n) {
    return reader_new(cfg, group_id, client_id, fetch_wait_ms, 0, err, n);
}

int fz_kafka_read_topic(const fz_config *cfg, const char *topic, const char *group_id,
                        int64_t timeout_ms, const _Atomic int *cancel, fz_kafka_record_fn fn,
                        void *ctx, char *err, size_t err_size) {
    return fz_kafka_read_partitions(cfg, topic, NULL, -1, group_id, timeout_ms, cancel, fn, ctx,
                                    err, err_size);
}

/* Why the first partition of ids[0..n) whose end hi[i] (> 0) is not yet
 * reached is behind: its last stable offset (asked of the read_committed
 * reader rk) short of that end means a transaction still open (1). */
static int behind(rd_kafka_t *rk, const char *topic, const int32_t *ids, const int64_t *hi, int n,
                  char *out, size_t size) {
    snprintf(out, size, "topic '%s': not read to its end", topic);
    for (int i = 0; i < n; i++) {
        int64_t lo = 0, lso = -1;
        if (hi[i] <= 0) continue;
        if (rd_kafka_query_watermark_offsets(rk, topic, ids[i], &lo, &lso, 5000)) lso = -1;
        if (lso >= 0 && lso < hi[i])
            snprintf(out, size,
                     "topic '%s' partition %d: its committed records end at offset %lld, before "
                     "offset %lld where its log ended when the read started: a transaction "
                     "still open holds them back (`kafka-transactions.sh find-hanging` names "
                     "one that is never ended)",
                     topic, ids[i], (long long)lso, (long long)hi[i]);
        else
            snprintf(out, size, "topic '%s' partition %d: not yet read to offset %lld", topic,
                     ids[i], (long long)hi[i]);
        return lso >= 0 && lso < hi[i];
    }
    return 0;
}

rd_kafka_t *fz_kafka_probe_new(const fz_config *cfg, const char *client_id, char *err, size_t n) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (fz_kafka_conf_set(c, "bootstrap.servers", cfg->brokers, err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka, err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka_consumer, err, n) ||
        fz_kafka_conf_set(c, "client.id", client_id, err, n) ||
        fz_kafka_conf_set(c, "enable.auto.commit", "false", err, n) ||
        /* librdkafka asks ListOffsets with the handle's isolation level:
         * read_committed would answer with the last stable offset */
        fz_kafka_conf_set(c, "isolation.level", "read_uncommitted", err, n)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    return fz_kafka_client_new(RD_KAFKA_CONSUMER, c, client_id, err, n);
}

/*
 * The reads of a topic. Whole: every partition from its low watermark,
 * all assigned at once, records handed over as they arrive. Time range:
 * each partition from the first offset whose timestamp is at least
 * from_ms, one partition after another (so that records come in partition
 * order), a partition ending at its first record stamped to_ms or later.
 * Either way a partition ends at the latest at its log end as it stood
 * when the read started (hi), asked of the read_uncommitted probe.
 */
typedef struct span_read {
    rd_kafka_t *rk;
    const char *topic;
    int ranged;           /* a time range: skip what lies past a partition's end */
    int64_t to_ms;        /* ranged: a record stamped at or after it ends its partition */
    int32_t *ids;         /* [np] partition ids */
    int64_t *hi;          /* [np] offset to read up to; 0 once read to it */
    fz_kafka_span *spans; /* [np] ranged: what was read */
    int np;
    int64_t until; /* fz_mono_ms() deadline of the whole read */
    const _Atomic int *cancel;
    fz_kafka_record_fn fn;
    void *ctx;
} span_read;

/* Consume what is assigned to sr->rk until the partitions whose hi[] is
 * positive (left of them) are read: 0, 1 past the deadline, -1 cancelled
 * or stopped by fn (err says which). */
static int read_assigned(span_read *sr, int left, char *err, size_t err_size) {
    int64_t warn_at = fz_mono_ms() + FZ_KAFKA_HELD_BACK_WARN_MS;
    while (left > 0 && fz_mono_ms() < sr->until) {
        if (sr->cancel && atomic_load(sr->cancel)) {
            snprintf(err, err_size, "topic '%s': read cancelled (stopping)", sr->topic);
            return -1;
        }
        if (fz_mono_ms() >= warn_at) {
            char why[400];
            if (behind(sr->rk, sr->topic, sr->ids, sr->hi, sr->np, why, sizeof(why)))
                fz_warn("%s: waiting", why);
            warn_at = fz_mono_ms() + FZ_KAFKA_HELD_BACK_WARN_MS;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(sr->rk, 200);
        if (!m) continue;
        int i = 0;
        while (i < sr->np && sr->ids[i] != m->partition) i++;
        int open = i < sr->np && sr->hi[i] > 0;
        int stop = 0;
        /* a partition is read when a record at its end arrives, or its end is
         * reached past commit markers and aborted records (which are not
         * delivered) */
        int64_t reached = -1;
        if (sr->ranged && !open) {
            /* a partition read already: what comes after its end is not ours */
        } else if (m->err == 0 && sr->ranged && m->offset >= sr->hi[i]) {
            reached = m->offset;
        } else if (m->err == 0 && sr->ranged && rd_kafka_message_timestamp(m, NULL) >= sr->to_ms) {
            sr->spans[i].end = m->offset; /* the first record past the range */
            sr->spans[i].stopped_by = FZ_SPAN_TIME;
            sr->hi[i] = 0;
            left--;
        } else if (m->err == 0) {
            stop = sr->fn(sr->ctx, m);
            reached = m->offset + 1;
            if (sr->ranged) sr->spans[i].records++;
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            reached = m->offset;
        } else if (sr->ranged && m->rkt) {
            /* the partition cannot be read through (records deleted by the
             * retention under the read, the topic deleted, access refused):
             * what was asked for cannot be read whole */
            snprintf(err, err_size, "topic '%s' partition %d: %s", sr->topic, (int)m->partition,
                     rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return -1;
        } else {
            fz_debug("topic '%s': %s", sr->topic, rd_kafka_message_errstr(m));
        }
        if (reached >= 0 && open && reached >= sr->hi[i]) {
            if (sr->ranged) {
                sr->spans[i].end = sr->hi[i];
                sr->spans[i].stopped_by = FZ_SPAN_END;
            }
            sr->hi[i] = 0;
            left--;
        }
        rd_kafka_message_destroy(m);
        if (stop) {
            snprintf(err, err_size, "topic '%s': read stopped", sr->topic);
            return -1;
        }
    }
    return left > 0 ? 1 : 0;
}

/* The read behind fz_kafka_read_partitions() (range NULL) and
 * fz_kafka_read_range() (spans filled, *spans_out then the caller's). */
static int read_spans(const fz_config *cfg, const char *topic, const int32_t *parts, int nparts,
                      const int64_t *range, const char *group_id, int64_t timeout_ms,
                      const _Atomic int *cancel, fz_kafka_record_fn fn, void *ctx,
                      fz_kafka_span **spans_out, int *nspans_out, char *err, size_t err_size) {
    int rc = -1;
    rd_kafka_topic_partition_list_t *l = NULL, *times = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_t *probe = NULL;
    rd_kafka_topic_t *rkt = NULL;
    span_read sr = {.topic = topic,
                    .ranged = range != NULL,
                    .to_ms = range ? range[1] : 0,
                    .cancel = cancel,
                    .fn = fn,
                    .ctx = ctx};
    /* the end of a partition is known after a fetch that returns nothing,
     * which the broker holds back up to fetch.wait.max.ms: a restore waited
     * the default 500 ms per topic read */
    rd_kafka_t *rk = reader_new(cfg, group_id, "fanzha-reader", 10, range != NULL, err, err_size);
    if (!rk) return -1;
    sr.rk = rk;
    if (!(probe = fz_kafka_probe_new(cfg, "fanzha-reader-end", err, err_size))) goto out;
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    sr.until = fz_mono_ms() + timeout_ms;
    int np = nparts;
    if (nparts < 0) {
        rd_kafka_resp_err_t e = fz_kafka_metadata(rk, 0, rkt, &md, (int)timeout_ms);
        if (!e && (md->topic_cnt != 1 || md->topics[0].err))
            e = md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (e && fz_kafka_failed(err, err_size)) goto out;
        if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
            e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__RESOLVE) {
            snprintf(err, err_size, "brokers %s not reachable (topic '%s'): %s", cfg->brokers,
                     topic, rd_kafka_err2str(e));
            goto out;
        }
        if (e) {
            snprintf(err, err_size, "topic '%s': %s", topic, rd_kafka_err2str(e));
            goto out;
        }
        np = md->topics[0].partition_cnt;
    }
    sr.np = np;
    sr.hi = calloc((size_t)np + 1, sizeof(int64_t));
    sr.ids = calloc((size_t)np + 1, sizeof(int32_t));
    sr.spans = range ? calloc((size_t)np + 1, sizeof(fz_kafka_span)) : NULL;
    l = rd_kafka_topic_partition_list_new(np);
    times = rd_kafka_topic_partition_list_new(np);
    if (!sr.hi || !sr.ids || (range && !sr.spans)) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    for (int i = 0; i < np; i++) {
        int32_t p = parts ? parts[i] : md->topics[0].partitions[i].id;
        sr.ids[i] = p;
        if (range) rd_kafka_topic_partition_list_add(times, topic, p)->offset = range[0];
    }
    if (!parts && np > 1) /* partition order, whatever order the metadata came in */
        for (int i = 1; i < np; i++)
            for (int j = i; j > 0 && sr.ids[j - 1] > sr.ids[j]; j--) {
                int32_t t = sr.ids[j];
                sr.ids[j] = sr.ids[j - 1];
                sr.ids[j - 1] = t;
            }
    if (range && np > 0) {
        /* asked of the read_uncommitted probe: a read_committed lookup finds
         * nothing at or past the last stable offset, so a range starting in
         * an open transaction would look empty instead of waiting for it */
        int64_t left_ms = sr.until - fz_mono_ms();
        rd_kafka_resp_err_t e =
            rd_kafka_offsets_for_times(probe, times, left_ms > 1000 ? (int)left_ms : 1000);
        if (e) {
            snprintf(err, err_size, "topic '%s': looking up offsets for time %lld: %s", topic,
                     (long long)range[0], rd_kafka_err2str(e));
            goto out;
        }
    }
    int left = 0;
    for (int i = 0; i < np; i++) {
        int32_t p = sr.ids[i];
        int64_t lo = 0, h = 0;
        /* the end of the log, not the last stable offset: a record that a
         * transaction committed before the read started may lie behind
         * one still open (another producer's, or one its coordinator has
         * not ended yet); read up to the last stable offset, the read
         * would end before it without a word. Reading to the end of the
         * log waits until every transaction open now is ended. */
        /* a time range keeps to its deadline; a whole read gives each query
         * the full timeout, as it always has */
        int64_t q_ms = timeout_ms;
        if (range) q_ms = sr.until - fz_mono_ms() > 1000 ? sr.until - fz_mono_ms() : 1000;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(probe, topic, p, &lo, &h, (int)q_ms);
        if (e) {
            snprintf(err, err_size, "topic '%s' partition %d: %s", topic, p, rd_kafka_err2str(e));
            goto out;
        }
        int64_t from = lo;
        if (range) {
            rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(times, topic, p);
            if (t && t->err) {
                snprintf(err, err_size, "topic '%s' partition %d: looking up offsets for time: %s",
                         topic, p, rd_kafka_err2str(t->err));
                goto out;
            }
            /* -1: no record stamped from_ms or later */
            from = t && t->offset >= 0 ? t->offset : h;
            if (from < lo) from = lo;
            if (from > h) from = h;
            sr.spans[i] = (fz_kafka_span){.partition = p,
                                          .start = from,
                                          .end = from,
                                          .log_end = h,
                                          .stopped_by = FZ_SPAN_EMPTY};
        }
        if (h > from) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = from;
            sr.hi[i] = h;
            left++;
        }
    }
    rd_kafka_resp_err_t e;
    if (!range) {
        if (left && (e = rd_kafka_assign(rk, l))) {
            snprintf(err, err_size, "topic '%s': assign: %s", topic, rd_kafka_err2str(e));
            goto out;
        }
        rc = read_assigned(&sr, left, err, err_size);
    } else {
        /* one partition at a time, in partition order */
        rc = 0;
        for (int i = 0; i < np && rc == 0; i++) {
            if (sr.hi[i] <= 0) continue;
            rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(one, topic, sr.ids[i])->offset = sr.spans[i].start;
            e = rd_kafka_assign(rk, one);
            rd_kafka_topic_partition_list_destroy(one);
            if (e) {
                snprintf(err, err_size, "topic '%s' partition %d: assign: %s", topic, sr.ids[i],
                         rd_kafka_err2str(e));
                rc = -1;
                goto out;
            }
            rc = read_assigned(&sr, 1, err, err_size);
        }
    }
    if (rc == 1) {
        char why[400];
        behind(rk, topic, sr.ids, sr.hi, np, why, sizeof(why));
        snprintf(err, err_size, "%s (not read to its end in %lld s)", why,
                 (long long)(timeout_ms / 1000));
    }
    if (rc >= 0 && range) {
        *spans_out = sr.spans;
        *nspans_out = np;
        sr.spans = NULL; /* now the caller's */
    }
out:
    if (md) rd_kafka_metadata_destroy(md);
    if (l) rd_kafka_topic_partition_list_destroy(l);
    if (times) rd_kafka_topic_partition_list_destroy(times);
    free(sr.hi);
    free(sr.ids);
    free(sr.spans);
    if (rkt) rd_kafka_topic_destroy(rkt);
    if (probe) rd_kafka_destroy(probe);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

int fz_kafka_read_partitions(const fz_config *cfg, const char *topic, const int32_t *parts,
                             int nparts, const char *group_id, int64_t timeout_ms,
                             const _Atomic int *cancel, fz_kafka_record_fn fn, void *ctx, char *err,
                             size_t err_size) {
    return read_spans(cfg, topic, parts, nparts, NULL, group_id, timeout_ms, cancel, fn, ctx, NULL,
                      NULL, err, err_size);
}

int fz_kafka_read_range(const fz_config *cfg, const char *topic, int64_t from_ms, int64_t to_ms,
                        const char *group_id, int64_t timeout_ms, const _Atomic int *cancel,
                        fz_kafka_record_fn fn, void *ctx, fz_kafka_span **spans, int *nspans,
                        char *err, size_t err_size) {
    *spans = NULL;
    *nspans = 0;
    if (from_ms > to_ms) {
        snprintf(err, err_size, "the range's start %lld is after its end %lld (ms)",
                 (long long)from_ms, (long long)to_ms);
        return -1;
    }
    const int64_t range[2] = {from_ms, to_ms};
    return read_spans(cfg, topic, NULL, -1, range, group_id, timeout_ms, cancel, fn, ctx, spans,
                      nspans, err, err_size);
}
