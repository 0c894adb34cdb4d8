/*
 * kafka_limit.c - the Kafka limit: a plain librdkafka consume -> produce
 * pass-through with fanzha's client settings, on the same broker, topics
 * and partitions.
 *
 *   fz_kafka_limit --count N [fanzha run options: --brokers, --group-id,
 *                  --input-topics, --alerts-topic, -X ...]
 *
 * Takes its options through fanzha's own option table, so the consumer
 * and producer get exactly what `fanzha run` would: the same group
 * settings (auto commit and offset store off, earliest), the same
 * producer (idempotent, message.timeout.ms=0, linger.ms=5) and every -X
 * property. Each consumed message is produced unchanged, with its key, to
 * alerts_topic, and the consumed offsets are committed asynchronously every
 * commit_interval_ms without waiting for the deliveries (lighter than
 * fanzha, which commits only what is acknowledged: this is an upper
 * bound). Stops after N messages are consumed and delivered,
 * commits, and prints messages/s from the first message consumed to the
 * last delivery report, one line, for bench/run.
 */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "kafka.h"
#include "log.h"

static long delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
    else
        delivered++;
}

int main(int argc, char **argv) {
    long count = 0;
    /* --count is ours; everything else is fanzha run's */
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atol(argv[++i]);
        else
            rest[nrest++] = argv[i];
    }
    fz_config cfg;
    char err[512];
    fz_config_init(&cfg);
    if (count <= 0 ||
        fz_config_parse_args(&cfg, FZ_SCOPE_RUN, "run", nrest, rest, err, sizeof(err)) != 0) {
        fprintf(stderr, "usage: fz_kafka_limit --count N [fanzha run options]\n%s\n", err);
        return 2;
    }
    rd_kafka_conf_t *pc = rd_kafka_conf_new(), *cc = rd_kafka_conf_new();
    if (fz_kafka_conf_set(pc, "bootstrap.servers", cfg.brokers, err, sizeof(err)) ||
        fz_kafka_conf_set(pc, "client.id", "fz-kafka-limit", err, sizeof(err)) ||
        fz_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof(err)) ||
        fz_kafka_conf_set(pc, "message.timeout.ms", "0", err, sizeof(err)) ||
        fz_kafka_conf_set(pc, "linger.ms", "5", err, sizeof(err)) ||
        fz_kafka_conf_apply(pc, &cfg.kafka, err, sizeof(err)) ||
        fz_kafka_conf_apply(pc, &cfg.kafka_producer, err, sizeof(err)) ||
        fz_kafka_conf_set(cc, "bootstrap.servers", cfg.brokers, err, sizeof(err)) ||
        fz_kafka_conf_set(cc, "group.id", cfg.group_id, err, sizeof(err)) ||
        fz_kafka_conf_set(cc, "client.id", "fz-kafka-limit", err, sizeof(err)) ||
        fz_kafka_conf_set(cc, "auto.offset.reset", "earliest", err, sizeof(err)) ||
        fz_kafka_consumer_defaults(cc, err, sizeof(err)) ||
        fz_kafka_conf_apply(cc, &cfg.kafka, err, sizeof(err)) ||
        fz_kafka_conf_apply(cc, &cfg.kafka_consumer, err, sizeof(err)) ||
        fz_kafka_conf_set(cc, "enable.auto.commit", "false", err, sizeof(err)) ||
        fz_kafka_conf_set(cc, "enable.auto.offset.store", "false", err, sizeof(err))) {
        fprintf(stderr, "fz_kafka_limit: %s\n", err);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_conf_set_log_cb(pc, fz_kafka_on_log);
    rd_kafka_conf_set_log_cb(cc, fz_kafka_on_log);
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    if (!prod || !cons) {
        fprintf(stderr, "fz_kafka_limit: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(cons);
    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)cfg.n_input_topics);
    for (size_t i = 0; i < cfg.n_input_topics; i++)
        rd_kafka_topic_partition_list_add(topics, cfg.input_topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(cons, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    rd_kafka_topic_t *out = rd_kafka_topic_new(prod, cfg.alerts_topic, NULL);

    long consumed = 0;
    int64_t first = 0, last_commit = fz_mono_ms();
    /* the next offset per partition, committed every commit_interval_ms */
    rd_kafka_topic_partition_list_t *pending = rd_kafka_topic_partition_list_new(64);
    while (consumed < count || delivered + failed < consumed) {
        rd_kafka_poll(prod, 0);
        if (consumed < count) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
            if (m && !m->err) {
                if (!first) first = fz_mono_ms();
                while (rd_kafka_produce(out, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, m->payload,
                                        m->len, m->key, m->key_len, NULL) != 0) {
                    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        fprintf(stderr, "produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
                        return 1;
                    }
                    rd_kafka_poll(prod, 10);
                }
                rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
                    pending, rd_kafka_topic_name(m->rkt), m->partition);
                if (!p)
                    p = rd_kafka_topic_partition_list_add(pending, rd_kafka_topic_name(m->rkt),
                                                          m->partition);
                p->offset = m->offset + 1;
                consumed++;
            }
            if (m) rd_kafka_message_destroy(m);
        } else {
            rd_kafka_poll(prod, 10);
        }
        if (fz_mono_ms() - last_commit >=
            (cfg.commit_interval_ms > 0 ? cfg.commit_interval_ms : 1000)) {
            rd_kafka_commit(cons, pending, 1);
            last_commit = fz_mono_ms();
        }
    }
    int64_t done = fz_mono_ms();
    rd_kafka_flush(prod, 60000);
    rd_kafka_commit(cons, pending, 0);
    double secs = (double)(done - first) / 1000.0;
    printf("kafka-limit: %ld messages consumed and produced, %.3f s, %.0f messages/s, %ld failed\n",
           consumed, secs, secs > 0 ? (double)consumed / secs : 0.0, failed);
    rd_kafka_topic_partition_list_destroy(pending);
    rd_kafka_topic_destroy(out);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);
    fz_config_free(&cfg);
    free(rest);
    return failed ? 1 : 0;
}
