/*
 * config.h - configuration: one declarative option table drives the config
 * file parser (YAML), the command-line parser, validation and --help.
 *
 * Precedence: built-in defaults < config file (--config FILE) < command
 * line. librdkafka properties pass through untouched: `kafka:` (both
 * clients), `kafka_consumer:` and `kafka_producer:` maps in the file, and
 * -X key=value / -X consumer.key=value / -X producer.key=value on the
 * command line (like kcat's -X), so TLS, SASL and tuning need no code.
 *
 * A config is built by the main thread before any other thread starts and
 * is read-only afterwards.
 */
#ifndef FZ_CONFIG_H
#define FZ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Which command an option belongs to. */
#define FZ_SCOPE_RUN 1u
#define FZ_SCOPE_REPLAY 2u
#define FZ_SCOPE_STATS 4u /* fanzha stats: reads statistics records back */
#define FZ_SCOPE_BOTH (FZ_SCOPE_RUN | FZ_SCOPE_REPLAY)
#define FZ_SCOPE_ALL (FZ_SCOPE_BOTH | FZ_SCOPE_STATS)

typedef struct fz_kv {
    char *key;
    char *value;
} fz_kv;

typedef struct fz_kvlist {
    fz_kv *v;
    size_t n;
} fz_kvlist;

typedef struct fz_config {
    /* run */
    char *brokers;
    char *group_id;
    char **input_topics; /* every list is followed by its count (config.c) */
    size_t n_input_topics;
    char *alerts_topic;
    char *dead_letter_topic; /* "" = disabled */
    int64_t commit_interval_ms;
    int64_t shutdown_timeout_ms;
    int64_t stats_interval_ms;
    fz_kvlist kafka, kafka_consumer, kafka_producer;
    /* both */
    char *rules_dir;
    char *rules_compiled; /* NULL = compile rules_dir */
    int64_t rules_prefilter;
    char *rules_public_key;  /* NULL = signatures not required */
    int64_t rules_keep;      /* kept compiled rulesets; 0 = none */
    char *rules_history_dir; /* NULL = <rules cache dir>/history */
    char *rules_cache_dir;   /* NULL = the default directory; "off" = no cache */
    int64_t rules_cache_max_mb;
    int64_t rules_require_tests;
    int64_t rules_watch;
    int64_t rules_watch_debounce_ms;
    char *admin_socket;
    char **admin_users; /* names or ids; root and our own uid are always allowed */
    size_t n_admin_users;
    char **admin_groups;
    size_t n_admin_groups;
    fz_kvlist campaign_masks; /* category -> mask list */
    int64_t campaign_capacity;
    int64_t aggregate_capacity; /* 0 = aggregate rules off */
    int64_t aggregate_exact_max;
    int64_t aggregate_memory_mb;
    int64_t campaign_summary_ms;
    int64_t intercept_capacity; /* 0 = interception off */
    int64_t intercept_lookback_ms;
    int64_t ledger_window_ms; /* 0 = statistics off */
    int64_t ledger_grace_ms;
    int64_t ledger_period_ms;
    char *stats_topic;                   /* "" = no statistics records in run */
    char *state_topic;                   /* task checkpoints (run: required) */
    char *processing_guarantee;          /* "at_least_once" or "exactly_once" */
    char *instance_id;                   /* names this instance's transactional producers */
    int64_t internal_partitions;         /* 0 = the input topics' largest partition count */
    int64_t internal_replication_factor; /* -1 = the broker's default */
    int64_t checkpoint_interval_ms;
    char *stats_output;    /* replay, stats: NULL = none */
    int64_t stats_windows; /* stats: windows in the table */
    char *period;          /* stats: day | week | month; NULL = windows */
    int64_t period_span;   /* stats: 同比 distance in periods; 0 = a year */
    char *from, *to;       /* stats: YYYY-MM-DD in utc_offset; NULL = the records' span */
    char *utc_offset;      /* stats: "+08:00"; NULL = by lang */
    char *report;          /* stats: HTML report file; NULL = none */
    char *lang;            /* stats: zh | en */
    char **alerts;         /* stats: alert/campaign record files for the report */
    size_t n_alerts;
    char *report_alerts_topic; /* stats: alert records for the report from Kafka; NULL = none */
    int64_t threads;           /* 0 = one per online core */
    int64_t dedup_window_ms;
    int64_t dedup_capacity;
    int64_t max_event_bytes;
    int64_t max_event_ahead_ms; /* 0 = no bound */
    int64_t max_event_lag_ms;   /* 0 = no bound */
    char *metrics_address;      /* "off" = none */
    int64_t metrics_rule_series;
    int64_t health_stall_ms;
    char *log_level;
    char *log_format; /* "text" or "json" */
    /* privacy of outputs (output/privacy.h) */
    char *privacy_numbers;       /* keep | mask | hash */
    char *privacy_texts;         /* keep | drop */
    char *privacy_hash_key_file; /* NULL = none */
    /* replay */
    char *output;     /* "-" = stdout */
    char *verdicts;   /* NULL = none */
    char *rule_stats; /* NULL = none */
    int64_t batch_events;
    char **inputs; /* positional files; none = stdin (replay), the topic (stats) */
    size_t n_inputs;
    char *config_file;
} fz_config;

/* Fill defaults. */
void fz_config_init(fz_config *c);
void fz_config_free(fz_config *c);

/*
 * Parse argv (after the command word) for the given scope: --config FILE
 * is applied first, then every other option in order. Returns 0, 1 if
 * --help was asked (help already printed to stdout), or -1 with a message
 * naming the option (or file:line) in errstr.
 */
int fz_config_parse_args(fz_config *c, unsigned scope, const char *cmd, int argc, char **argv,
                         char *errstr, size_t errstr_size);

/* Load a YAML config file over c. -1 with "file:line: ..." on error. */
int fz_config_load_file(fz_config *c, const char *path, unsigned scope, char *errstr,
                        size_t errstr_size);

/* Apply one -X argument (key=value, consumer.key=value, producer.key=value,
 * campaign.CATEGORY=MASKS) to c, as the command line does; -1 with errstr
 * naming the argument. For commands with their own argument parser. */
int fz_config_set_x(fz_config *c, const char *arg, char *errstr, size_t errstr_size);

/* Print the options of a scope, generated from the table. */
void fz_config_print_help(unsigned scope, void *fp);

struct fz_mask_config;
/* Parse campaign_masks into out (freed with fz_mask_config_free); -1 with
 * errstr naming the bad key. */
int fz_config_campaign_masks(const fz_config *c, struct fz_mask_config *out, char *errstr,
                             size_t errstr_size);

/* Resolved worker thread count. */
int fz_config_threads(const fz_config *c);

#endif
