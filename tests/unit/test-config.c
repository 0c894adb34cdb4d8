/*
 * test-config.c - configuration: defaults < file < command line; errors
 * name the file and line or the option; librdkafka pass-through with -X;
 * list options; replay's positional input files.
 */
#include <stdlib.h>

#include "config.h"
#include "test.h"

#define ARGV(...) ((char *[]){__VA_ARGS__})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define PARSE(c, scope, cmd, err, ...)                                                             \
    fz_config_parse_args((c), (scope), (cmd), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (err),         \
                         sizeof(err))

static const char *kv_get(const fz_kvlist *l, const char *k) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, k) == 0) return l->v[i].value;
    return NULL;
}

TEST_IMPL(config_defaults) {
    fz_config c;
    fz_config_init(&c);
    ASSERT_STR_EQ(c.brokers, "127.0.0.1:9092");
    ASSERT_STR_EQ(c.group_id, "fanzha");
    ASSERT_EQ_U64(c.n_input_topics, 1);
    ASSERT_STR_EQ(c.input_topics[0], "events");
    ASSERT_EQ_I64(c.dedup_window_ms, 600000);
    ASSERT_EQ_I64(c.max_event_bytes, 65536);
    ASSERT_STR_EQ(c.output, "-");
    ASSERT(c.verdicts == NULL);
    ASSERT_EQ_I64(c.threads, 0);
    ASSERT(fz_config_threads(&c) >= 1);
    c.threads = 3;
    ASSERT_EQ_I64(fz_config_threads(&c), 3);
    fz_config_free(&c);
}

TEST_IMPL(config_cli_beats_file) {
    const char *dir = fz_test_tmpdir();
    const char *path = fz_test_write_str(dir, "fanzha.yaml",
                                         "# config\n"
                                         "brokers: file-broker:9092\n"
                                         "group_id: g-file\n"
                                         "threads: 3\n"
                                         "dedup_window_ms: 1000\n"
                                         "input_topics: [a, b]\n"
                                         "kafka:\n"
                                         "  security.protocol: SSL\n"
                                         "  client.id: from-file\n"
                                         "kafka_producer:\n"
                                         "  linger.ms: '5'\n");
    fz_config c;
    fz_config_init(&c);
    char err[512] = "";
    /* CLI options before --config still win over the file */
    int rc = PARSE(&c, FZ_SCOPE_RUN, "run", err, "--group-id", "g-cli", "--config", (char *)path,
                   "--dedup-window-ms=2000", "-X", "client.id=from-cli");
    fz_test_context("err: %s", err);
    ASSERT_EQ_I64(rc, 0);
    ASSERT_STR_EQ(c.config_file, path);
    ASSERT_STR_EQ(c.brokers, "file-broker:9092"); /* file beats default */
    ASSERT_STR_EQ(c.group_id, "g-cli");           /* CLI beats file */
    ASSERT_EQ_I64(c.threads, 3);
    ASSERT_EQ_I64(c.dedup_window_ms, 2000);
    ASSERT_EQ_U64(c.n_input_topics, 2);
    ASSERT_STR_EQ(c.input_topics[0], "a");
    ASSERT_STR_EQ(c.input_topics[1], "b");
    ASSERT_STR_EQ(kv_get(&c.kafka, "security.protocol"), "SSL");
    ASSERT_STR_EQ(kv_get(&c.kafka, "client.id"), "from-cli");
    ASSERT_EQ_U64(c.kafka.n, 2); /* replaced, not duplicated */
    ASSERT_STR_EQ(kv_get(&c.kafka_producer, "linger.ms"), "5");
    ASSERT_EQ_U64(c.kafka_consumer.n, 0);
    fz_config_free(&c);

    /* -c FILE is the same as --config FILE */
    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "-c", (char *)path), 0);
    ASSERT_STR_EQ(c.group_id, "g-file");
    fz_config_free(&c);
}

TEST_IMPL(config_file_errors) {
    const char *dir = fz_test_tmpdir();
    char want[4096];
    fz_config c;
    char err[512];

    const char *p1 = fz_test_write_str(dir, "unknown.yaml",
                                       "group_id: g\n"
                                       "threads: 2\n"
                                       "bogus_option: 1\n");
    fz_config_init(&c);
    err[0] = '\0';
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--config", (char *)p1), -1);
    snprintf(want, sizeof(want), "%s:3: unknown option 'bogus_option'", p1);
    fz_test_context("got: %s", err);
    ASSERT(strncmp(err, want, strlen(want)) == 0);
    fz_config_free(&c);

    const char *p2 = fz_test_write_str(dir, "badint.yaml", "group_id: g\n\nthreads: many\n");
    fz_config_init(&c);
    ASSERT_EQ_I64(fz_config_load_file(&c, p2, FZ_SCOPE_RUN, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3:", p2);
    fz_test_context("got: %s", err);
    ASSERT(strncmp(err, want, strlen(want)) == 0);
    ASSERT_CONTAINS(err, "threads");
    ASSERT_CONTAINS(err, "many");
    fz_config_free(&c);

    const char *p3 = fz_test_write_str(dir, "range.yaml", "max_event_bytes: 10\n");
    fz_config_init(&c);
    ASSERT_EQ_I64(fz_config_load_file(&c, p3, FZ_SCOPE_BOTH, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "max_event_bytes");
    fz_config_free(&c);

    const char *p4 = fz_test_write_str(dir, "syntax.yaml", "group_id: g\nthreads: [1\n");
    fz_config_init(&c);
    ASSERT_EQ_I64(fz_config_load_file(&c, p4, FZ_SCOPE_RUN, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, p4);
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(
        fz_config_load_file(&c, "/nonexistent/fanzha.yaml", FZ_SCOPE_RUN, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "/nonexistent/fanzha.yaml");
    fz_config_free(&c);

    /* a run-only key in replay's config is accepted and ignored */
    const char *p5 = fz_test_write_str(dir, "shared.yaml", "brokers: b:1\nthreads: 2\n");
    fz_config_init(&c);
    ASSERT_EQ_I64(fz_config_load_file(&c, p5, FZ_SCOPE_REPLAY, err, sizeof(err)), 0);
    ASSERT_STR_EQ(c.brokers, "127.0.0.1:9092");
    ASSERT_EQ_I64(c.threads, 2);
    fz_config_free(&c);
}

TEST_IMPL(config_cli_errors) {
    fz_config c;
    char err[512];

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--threads", "abc"), -1);
    ASSERT_CONTAINS(err, "'threads'");
    ASSERT_CONTAINS(err, "abc");
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--threads=12x"), -1);
    ASSERT_CONTAINS(err, "'threads'");
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--dedup-window-ms", "-5"), -1);
    ASSERT_CONTAINS(err, "dedup_window_ms");
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--no-such-thing", "1"), -1);
    ASSERT_CONTAINS(err, "--no-such-thing");
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--group-id"), -1);
    ASSERT_CONTAINS(err, "--group-id");
    fz_config_free(&c);

    /* replay-only options are unknown to run, and the reverse */
    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--verdicts", "v.ndjson"), -1);
    fz_config_free(&c);
    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_REPLAY, "replay", err, "--brokers", "x:1"), -1);
    fz_config_free(&c);
    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_REPLAY, "replay", err, "-X", "a=b"), -1);
    ASSERT_CONTAINS(err, "-X");
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--log-level", "loud"), -1);
    ASSERT_CONTAINS(err, "log_level");
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "stray"), -1);
    ASSERT_CONTAINS(err, "stray");
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "-X", "novalue"), -1);
    ASSERT_CONTAINS(err, "novalue");
    fz_config_free(&c);
}

TEST_IMPL(config_kafka_props) {
    fz_config c;
    fz_config_init(&c);
    char err[512] = "";
    int rc = PARSE(&c, FZ_SCOPE_RUN, "run", err, "-X", "security.protocol=SASL_SSL", "-X",
                   "consumer.fetch.max.bytes=1048576", "-X", "producer.linger.ms=5", "-X",
                   "sasl.password=a=b=c", "-X", "consumer.x=y");
    fz_test_context("err: %s", err);
    ASSERT_EQ_I64(rc, 0);
    ASSERT_EQ_U64(c.kafka.n, 2);
    ASSERT_STR_EQ(kv_get(&c.kafka, "security.protocol"), "SASL_SSL");
    ASSERT_STR_EQ(kv_get(&c.kafka, "sasl.password"), "a=b=c"); /* split at the first '=' */
    ASSERT_EQ_U64(c.kafka_consumer.n, 2);
    ASSERT_STR_EQ(kv_get(&c.kafka_consumer, "fetch.max.bytes"), "1048576");
    ASSERT_STR_EQ(kv_get(&c.kafka_consumer, "x"), "y");
    ASSERT_EQ_U64(c.kafka_producer.n, 1);
    ASSERT_STR_EQ(kv_get(&c.kafka_producer, "linger.ms"), "5");
    ASSERT(kv_get(&c.kafka, "x") == NULL);
    fz_config_free(&c);
}

TEST_IMPL(config_list_option) {
    fz_config c;
    fz_config_init(&c);
    char err[512] = "";
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--input-topics", "sms,calls, transfers,,"),
                  0);
    ASSERT_EQ_U64(c.n_input_topics, 3);
    ASSERT_STR_EQ(c.input_topics[0], "sms");
    ASSERT_STR_EQ(c.input_topics[1], "calls");
    ASSERT_STR_EQ(c.input_topics[2], "transfers");
    /* given again: replaces, does not append */
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--input-topics=one"), 0);
    ASSERT_EQ_U64(c.n_input_topics, 1);
    ASSERT_STR_EQ(c.input_topics[0], "one");
    /* run needs at least one */
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--input-topics", ","), -1);
    ASSERT_CONTAINS(err, "input_topics");
    /* every list keeps its own count */
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--input-topics", "a,b", "--admin-users",
                        "alice,1001", "--admin-groups", "ops"),
                  0);
    ASSERT_EQ_U64(c.n_input_topics, 2);
    ASSERT_EQ_U64(c.n_admin_users, 2);
    ASSERT_STR_EQ(c.admin_users[1], "1001");
    ASSERT_EQ_U64(c.n_admin_groups, 1);
    ASSERT_STR_EQ(c.admin_groups[0], "ops");
    fz_config_free(&c);
    fz_config_init(&c);
    ASSERT_EQ_U64(c.n_admin_users + c.n_admin_groups, 0); /* default: root and our own user */
    fz_config_free(&c);
}

TEST_IMPL(config_replay_positional) {
    fz_config c;
    fz_config_init(&c);
    char err[512] = "";
    int rc = PARSE(&c, FZ_SCOPE_REPLAY, "replay", err, "a.ndjson", "--rules", "my-rules", "-o",
                   "alerts.ndjson", "b.ndjson", "--verdicts", "v.ndjson", "-", "--threads", "2");
    fz_test_context("err: %s", err);
    ASSERT_EQ_I64(rc, 0);
    ASSERT_EQ_U64(c.n_inputs, 3);
    ASSERT_STR_EQ(c.inputs[0], "a.ndjson");
    ASSERT_STR_EQ(c.inputs[1], "b.ndjson");
    ASSERT_STR_EQ(c.inputs[2], "-");
    ASSERT_STR_EQ(c.rules_dir, "my-rules");
    ASSERT_STR_EQ(c.output, "alerts.ndjson");
    ASSERT_STR_EQ(c.verdicts, "v.ndjson");
    ASSERT_EQ_I64(c.threads, 2);
    fz_config_free(&c);

    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_REPLAY, "replay", err, "--rules=r2"), 0);
    ASSERT_STR_EQ(c.rules_dir, "r2");
    ASSERT_EQ_U64(c.n_inputs, 0); /* none: stdin */
    fz_config_free(&c);
}

/* The producer and consumer settings that delivery guarantees rest on
 * cannot be switched off through -X or the kafka maps. */
TEST_IMPL(config_safety_properties) {
    static const char *const bad[] = {
        "enable.idempotence=false",
        "producer.enable.idempotence=false",
        "message.timeout.ms=5000",
        "producer.acks=1",
        "consumer.enable.auto.commit=true",
        "enable.auto.offset.store=true",
        "consumer.isolation.level=read_uncommitted",
        "transactional.id=mine",
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(bad); i++) {
        fz_config c;
        char err[512] = "";
        fz_config_init(&c);
        fz_test_context("-X %s", bad[i]);
        ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "-X", (char *)bad[i]), -1);
        const char *eq = strchr(bad[i], '='), *dot = bad[i];
        if (!strncmp(dot, "producer.", 9) || !strncmp(dot, "consumer.", 9)) dot += 9;
        char prop[64];
        snprintf(prop, sizeof(prop), "%.*s", (int)(eq - dot), dot);
        ASSERT_CONTAINS(err, prop);
        fz_config_free(&c);
    }
    /* the same values they already have are accepted */
    fz_config c;
    char err[512] = "";
    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "-X", "enable.idempotence=true"), 0);
    fz_config_free(&c);
}

TEST_IMPL(config_log_format_and_privacy) {
    const char *dir = fz_test_tmpdir();
    const char *path = fz_test_write_str(dir, "fanzha.yaml",
                                         "log_format: json\n"
                                         "privacy_numbers: mask\n"
                                         "privacy_texts: drop\n"
                                         "privacy_hash_key_file: /etc/fanzha/privacy.key\n");
    fz_config c;
    fz_config_init(&c);
    char err[512] = "";
    ASSERT_STR_EQ(c.log_format, "text");
    ASSERT_STR_EQ(c.privacy_numbers, "keep");
    ASSERT_STR_EQ(c.privacy_texts, "keep");
    ASSERT(c.privacy_hash_key_file == NULL);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_REPLAY, "replay", err, "--config", (char *)path), 0);
    ASSERT_STR_EQ(c.log_format, "json");
    ASSERT_STR_EQ(c.privacy_numbers, "mask");
    ASSERT_STR_EQ(c.privacy_texts, "drop");
    ASSERT_STR_EQ(c.privacy_hash_key_file, "/etc/fanzha/privacy.key");
    fz_config_free(&c);
    /* the command line form, and a value that is not a format */
    fz_config_init(&c);
    ASSERT_EQ_I64(
        PARSE(&c, FZ_SCOPE_RUN, "run", err, "--log-format", "json", "--privacy-numbers", "hash"),
        0);
    ASSERT_STR_EQ(c.log_format, "json");
    ASSERT_STR_EQ(c.privacy_numbers, "hash");
    fz_config_free(&c);
    fz_config_init(&c);
    ASSERT_EQ_I64(PARSE(&c, FZ_SCOPE_RUN, "run", err, "--log-format", "xml"), -1);
    ASSERT_CONTAINS(err, "log_format");
    ASSERT_CONTAINS(err, "xml");
    fz_config_free(&c);
}
