/*
 * kafka.h - what fanzha's Kafka clients share: librdkafka configuration
 * from fz_config, logging into fanzha's log, and reading a topic from its
 * start to its end (the state topic at partition assignment, the
 * statistics topic for `fanzha stats`).
 */
#ifndef FZ_KAFKA_H
#define FZ_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "config.h"

/* Set one property; -1 with "librdkafka property 'k': why" in err. */
int fz_kafka_conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t n);
/* Set every property of l in order; -1 at the first bad one. */
int fz_kafka_conf_apply(rd_kafka_conf_t *c, const fz_kvlist *l, char *err, size_t n);
/*
 * fanzha's consumer defaults, set before the user's `kafka:` and
 * `kafka_consumer:` properties (which may override them). librdkafka 2.0
 * stops fetching a partition once queued.min.messages (100,000) of its
 * messages wait locally and looks again only a second later; a worker
 * pool that drains 100,000 small events in well under a second then sits
 * idle for the rest of it. fanzha bounds its own queues, so the local
 * prefetch is capped by bytes alone: queued.max.messages.kbytes, per
 * partition. heartbeat.interval.ms stays librdkafka's 3,000: a member
 * hears of a rebalance at its next heartbeat, so the stream threads of one
 * instance, joining one after another, start about 3 s apart; 500 ms
 * removed that wait, but integration.scale then lost the statistics of
 * the last window in about one run in ten (an instance stopped while it
 * was being handed partitions from one stopping before it), a bug the
 * slower heartbeat hides, to be fixed before the default moves.
 */
int fz_kafka_consumer_defaults(rd_kafka_conf_t *c, char *err, size_t n);
/* A log_cb that writes librdkafka's log lines through fanzha's log. */
void fz_kafka_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/*
 * An error_cb. A refused login (RD_KAFKA_RESP_ERR__AUTHENTICATION) or a
 * failed TLS handshake (RD_KAFKA_RESP_ERR__SSL: an untrusted or misnamed
 * broker certificate, a client certificate the broker refuses) is a
 * configuration error that librdkafka would retry forever: the first one
 * is kept, with the user, the broker and what to check, for
 * fz_kafka_failed(). A login cut short by a lost connection (librdkafka
 * reports it as an authentication error whose reason names a local error,
 * "Local: Broker transport failure") is not final. Other errors are
 * logged. Called on the thread that polls the client.
 */
void fz_kafka_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque);
/* 1 with the message in msg (may be NULL) once any client of the process
 * met such an error; 0 before. Any thread. */
int fz_kafka_failed(char *msg, size_t n);
/*
 * rd_kafka_metadata() that waits in slices of 500 ms, serving rk's error
 * callback between them, and gives up early with
 * RD_KAFKA_RESP_ERR__AUTHENTICATION once fz_kafka_failed() is set. A
 * consumer must not have partitions assigned yet (a record polled between
 * the slices would be dropped).
 */
rd_kafka_resp_err_t fz_kafka_metadata(rd_kafka_t *rk, int all_topics, rd_kafka_topic_t *only,
                                      const struct rd_kafka_metadata **md, int timeout_ms);

/* rd_kafka_new() with fanzha's log and error callbacks; takes c either way. On failure
 * writes "WHAT: reason" to err and returns NULL. */
rd_kafka_t *fz_kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *c, const char *what,
                                char *err, size_t n);

/* One record read back; a non-zero return stops the read. */
typedef int (*fz_kafka_record_fn)(void *ctx, const rd_kafka_message_t *m);

/*
 * A consumer that assigns partitions itself, reads committed records only,
 * reports partition ends and commits nothing (group.id group_id, which
 * librdkafka needs, is never joined); cfg's brokers, `kafka:` and
 * `kafka_consumer:` properties. An idle partition's fetch is answered
 * after at most fetch_wait_ms. NULL with err.
 */
rd_kafka_t *fz_kafka_reader_new(const fz_config *cfg, const char *group_id, const char *client_id,
                                int fetch_wait_ms, char *err, size_t n);

/*
 * A consumer handle that reads nothing: it asks where a partition's log
 * ends, committed or not (isolation.level read_uncommitted; librdkafka's
 * rd_kafka_query_watermark_offsets() asks with the handle's isolation
 * level, and a read_committed one is answered with the last stable offset,
 * which a transaction left open holds back). cfg's brokers, `kafka:` and
 * `kafka_consumer:` properties. NULL with err.
 */
rd_kafka_t *fz_kafka_probe_new(const fz_config *cfg, const char *client_id, char *err, size_t n);

/*
 * Read every partition of topic from its low watermark to the end of its
 * log as it stands when the read starts (its high watermark, not its last
 * stable offset), committed records only, with a consumer that assigns the
 * partitions itself and commits nothing (group.id group_id, which
 * librdkafka's consume calls need, is never joined; cfg's brokers and
 * `kafka:` properties), calling fn for each record in partition order.
 * Every record of a transaction that was committed before the read started
 * is read: a transaction still open then is waited for until it ends
 * (committed, or aborted by its producer or, after transaction.timeout.ms,
 * by its coordinator). Returns 0 when every partition was read to its end,
 * 1 when timeout_ms passed first (fn saw what was read; err says which
 * partition is behind and, when a transaction holds it back, where), -1
 * with a reason in err when the topic cannot be read (missing, no leader,
 * bad property), fn stopped the read, or *cancel (when not NULL) became
 * non-zero: a process told to stop does not wait out timeout_ms. Blocks;
 * any thread.
 */
/* How often a read held back by an open transaction says so (ms). */
#define FZ_KAFKA_HELD_BACK_WARN_MS 15000

int fz_kafka_read_topic(const fz_config *cfg, const char *topic, const char *group_id,
                        int64_t timeout_ms, const _Atomic int *cancel, fz_kafka_record_fn fn,
                        void *ctx, char *err, size_t err_size);
/* The same for partitions parts[0..nparts) of topic (nparts -1: all). Only
 * committed records are read (isolation.level=read_committed); the end of a
 * partition is found past the markers that close transactions and the
 * aborted records before them. */
int fz_kafka_read_partitions(const fz_config *cfg, const char *topic, const int32_t *parts,
                             int nparts, const char *group_id, int64_t timeout_ms,
                             const _Atomic int *cancel, fz_kafka_record_fn fn, void *ctx, char *err,
                             size_t err_size);

/* How the read of one partition of a time range ended. */
typedef enum fz_span_stop {
    FZ_SPAN_EMPTY = 0, /* no record from the range's start before the log's end */
    FZ_SPAN_TIME,      /* at the first record stamped at or after the range's end */
    FZ_SPAN_END,       /* at the end of the log as it stood when the read started */
} fz_span_stop;

/* What was read of one partition. Offsets are [start, end). */
typedef struct fz_kafka_span {
    int32_t partition;
    int64_t start;   /* the first offset stamped from_ms or later (the log end: none) */
    int64_t end;     /* where the read stopped: nothing at or past it was handed over */
    int64_t log_end; /* the partition's high watermark when the read started */
    uint64_t records;
    fz_span_stop stopped_by;
} fz_kafka_span;

/*
 * Read the records of topic stamped in [from_ms, to_ms) (ms since the
 * epoch, record timestamps) without joining a consumer group: each
 * partition, in partition order, from the first offset whose timestamp is
 * from_ms or later (rd_kafka_offsets_for_times(), asked with
 * read_uncommitted so that a range starting in an open transaction is
 * waited for, not skipped) up to its first record stamped to_ms or later,
 * or the end of its log as it stood when the read started, whichever
 * comes first. Records in between are handed over as they lie, even one
 * whose producer stamped it out of order. Committed records only, as
 * fz_kafka_read_partitions() reads, with its cfg, group_id, timeout_ms
 * (the whole read, metadata included), cancel and return values; on 0 or
 * 1, *spans (the caller frees it) holds *nspans partitions, in partition
 * order; on -1 it is NULL. from_ms > to_ms is refused (-1). Blocks; any
 * thread.
 */
int fz_kafka_read_range(const fz_config *cfg, const char *topic, int64_t from_ms, int64_t to_ms,
                        const char *group_id, int64_t timeout_ms, const _Atomic int *cancel,
                        fz_kafka_record_fn fn, void *ctx, fz_kafka_span **spans, int *nspans,
                        char *err, size_t err_size);

#endif
