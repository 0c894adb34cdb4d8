/*
 * config.c - see config.h.
 */
#include "config.h"

#include "campaign.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <yaml.h>

typedef enum opt_type { OPT_STR, OPT_INT, OPT_LIST, OPT_MAP } opt_type;

typedef struct option {
    const char *name; /* config-file key; CLI flag is --name with '_' -> '-' */
    opt_type type;
    unsigned scope;
    size_t off;
    const char *def;
    int64_t min, max;
    const char *help;
} option;

#define OFF(f) offsetof(fz_config, f)

static const option options[] = {
    {"config_file", OPT_STR, FZ_SCOPE_ALL, OFF(config_file), NULL, 0, 0,
     "YAML config file (CLI: --config FILE or -c FILE); options given on the command line "
     "override it"},
    {"brokers", OPT_STR, FZ_SCOPE_RUN | FZ_SCOPE_STATS, OFF(brokers), "127.0.0.1:9092", 0, 0,
     "Kafka bootstrap servers (bootstrap.servers)"},
    {"group_id", OPT_STR, FZ_SCOPE_RUN, OFF(group_id), "fanzha", 0, 0,
     "consumer group; instances with the same group share the input partitions"},
    {"input_topics", OPT_LIST, FZ_SCOPE_RUN, OFF(input_topics), "events", 0, 0,
     "topics to consume events from (comma-separated on the command line)"},
    {"alerts_topic", OPT_STR, FZ_SCOPE_RUN, OFF(alerts_topic), "fanzha.alerts", 0, 0,
     "topic alerts are produced to"},
    {"dead_letter_topic", OPT_STR, FZ_SCOPE_RUN, OFF(dead_letter_topic), "fanzha.dlq", 0, 0,
     "topic malformed events go to, with the reason; empty disables (then they are counted "
     "and logged at a limited rate)"},
    {"rules_dir", OPT_STR, FZ_SCOPE_BOTH, OFF(rules_dir), "rules", 0, 0,
     "directory of *.yaml rule files (searched recursively); CLI also --rules"},
    {"rules_compiled", OPT_STR, FZ_SCOPE_BOTH, OFF(rules_compiled), NULL, 0, 0,
     "load this compiled ruleset (fanzha rules compile) instead of compiling rules_dir; "
     "when rules_dir exists too, the file must hold the same ruleset version"},
    {"rules_cache_dir", OPT_STR, FZ_SCOPE_BOTH, OFF(rules_cache_dir), NULL, 0, 0,
     "directory of compiled Hyperscan databases cached by what they were compiled from "
     "(docs/operations.md); unset: $CACHE_DIRECTORY, else $XDG_CACHE_HOME/fanzha, else "
     "$HOME/.cache/fanzha; 'off' disables"},
    {"rules_cache_max_mb", OPT_INT, FZ_SCOPE_BOTH, OFF(rules_cache_max_mb), "512", 1, 1048576,
     "after each load, remove the least recently used cache entries beyond this size"},
    {"rules_public_key", OPT_STR, FZ_SCOPE_BOTH, OFF(rules_public_key), NULL, 0, 0,
     "file of trusted Ed25519 public keys (fanzha rules keygen; one per line, for rotation): "
     "rules_compiled must then be signed by one of them ('fanzha rules compile --sign'), and "
     "it and its directory must be owned by this user or root and not writable by group or "
     "others; requires rules_compiled; unset = unsigned files are accepted "
     "(docs/operations.md)"},
    {"rules_keep", OPT_INT, FZ_SCOPE_RUN, OFF(rules_keep), "5", 0, 1000,
     "keep this many of the last compiled rulesets that loaded, for 'fanzha admin rollback'; "
     "0 = keep none"},
    {"rules_history_dir", OPT_STR, FZ_SCOPE_RUN, OFF(rules_history_dir), NULL, 0, 0,
     "directory of the kept compiled rulesets (created 0700); unset: 'history' under the "
     "rules cache directory (rules_cache_dir or its default)"},
    {"rules_prefilter", OPT_INT, FZ_SCOPE_BOTH, OFF(rules_prefilter), "1", 0, 1,
     "1 = match regexes behind their literal factors (prefilter and confirm); 0 = scan every "
     "regex on every event (the reference matcher: same verdicts, slower); a compiled ruleset "
     "keeps the mode it was compiled with"},
    {"rules_require_tests", OPT_INT, FZ_SCOPE_BOTH, OFF(rules_require_tests), "1", 0, 1,
     "1 = refuse a ruleset (at start-up and on reload) whose embedded test examples fail"},
    {"rules_watch", OPT_INT, FZ_SCOPE_RUN, OFF(rules_watch), "1", 0, 1,
     "1 = reload when a file under rules_dir (or the rules_compiled file) changes (inotify); "
     "after 'fanzha admin rollback' changes are ignored until 'fanzha admin reload' or SIGHUP"},
    {"rules_watch_debounce_ms", OPT_INT, FZ_SCOPE_RUN, OFF(rules_watch_debounce_ms), "500", 0,
     600000, "after a change, wait this long for the next one before reloading"},
    {"admin_socket", OPT_STR, FZ_SCOPE_RUN, OFF(admin_socket), NULL, 0, 0,
     "Unix socket for admin commands (fanzha admin reload|status|rule-stats|history|rollback); "
     "unset = none. Created mode 0660; only the peers below may use it"},
    {"admin_users", OPT_LIST, FZ_SCOPE_RUN, OFF(admin_users), NULL, 0, 0,
     "users (names or numeric ids) allowed on the admin socket besides root and fanzha's own "
     "user, checked with SO_PEERCRED; comma-separated on the command line"},
    {"admin_groups", OPT_LIST, FZ_SCOPE_RUN, OFF(admin_groups), NULL, 0, 0,
     "groups (names or numeric ids) whose members (primary or supplementary group of the "
     "connecting process) are allowed on the admin socket"},
    {"campaign_masks", OPT_MAP, FZ_SCOPE_BOTH, OFF(campaign_masks), NULL, 0, 0,
     "per rule category, what is masked in an sms text before its dedup (campaign) key is "
     "computed: a comma-separated list of digits, urls, phones, all, none; key 'default' for "
     "the other categories (default: all) (CLI: -X campaign.CATEGORY=LIST)"},
    {"aggregate_capacity", OPT_INT, FZ_SCOPE_BOTH, OFF(aggregate_capacity), "65536", 0,
     INT64_C(1) << 26,
     "hard cap on live (aggregate rule, key) windows, shared by the decide tasks; the one idle "
     "longest is evicted to make room (counted); 0 = aggregate rules off"},
    {"aggregate_exact_max", OPT_INT, FZ_SCOPE_BOTH, OFF(aggregate_exact_max), "1024", 16, 65536,
     "distinct values an aggregate window counts exactly (24 bytes each); past it the count is "
     "a sliding HyperLogLog estimate (about 3 %, 48 KiB) and alerts say \"estimated\": true"},
    {"aggregate_memory_mb", OPT_INT, FZ_SCOPE_BOTH, OFF(aggregate_memory_mb), "256", 1, 1048576,
     "memory for the values and sketches of aggregate windows, shared by the decide tasks; a "
     "window that cannot grow within it counts on what it holds (counted as over_budget)"},
    {"campaign_capacity", OPT_INT, FZ_SCOPE_BOTH, OFF(campaign_capacity), "16384", 0,
     INT64_C(1) << 24,
     "hard cap on live sms campaigns (about 1.5 KiB each); the least recently seen is closed "
     "to make room (counted); 0 = no campaign table: matched sms are deduplicated by their "
     "campaign key like other events, without counts, sketches or summaries"},
    {"campaign_summary_ms", OPT_INT, FZ_SCOPE_BOTH, OFF(campaign_summary_ms), "60000", 0,
     INT64_C(31536000000),
     "write a summary of a running campaign when an event arrives this long (event time) "
     "after its previous summary; 0 = closing summaries only"},
    {"intercept_capacity", OPT_INT, FZ_SCOPE_BOTH, OFF(intercept_capacity), "1048576", 0,
     INT64_C(1) << 32,
     "numbers remembered for interception (recipients warned by fraud, senders and numbers "
     "named in it; 24 bytes each); 0 disables interception"},
    {"intercept_lookback_ms", OPT_INT, FZ_SCOPE_BOTH, OFF(intercept_lookback_ms), "259200000", 1,
     INT64_C(31536000000),
     "a transfer from a warned payer or to a flagged payee within this long (event time) "
     "after the fraud raises a critical intercept alert (default 72 h)"},
    {"ledger_window_ms", OPT_INT, FZ_SCOPE_BOTH, OFF(ledger_window_ms), "60000", 0,
     INT64_C(31536000000),
     "loss-recovery statistics: length of the tumbling windows (event time); 0 disables"},
    {"ledger_grace_ms", OPT_INT, FZ_SCOPE_BOTH, OFF(ledger_grace_ms), "5000", 0,
     INT64_C(31536000000),
     "a window closes once an event this long (event time) past its end arrives; later "
     "events for it are counted as late; at most 5 windows"},
    {"ledger_period_ms", OPT_INT, FZ_SCOPE_ALL, OFF(ledger_period_ms), "86400000", 0,
     INT64_C(31536000000),
     "compare each window with the one this long earlier (default 24 h; 604800000 = 7 d); "
     "0 = previous window only"},
    {"stats_topic", OPT_STR, FZ_SCOPE_RUN | FZ_SCOPE_STATS, OFF(stats_topic), "fanzha.stats", 0, 0,
     "topic of the per-partition statistics records (latest record per key wins); empty "
     "disables statistics in run"},
    {"state_topic", OPT_STR, FZ_SCOPE_RUN, OFF(state_topic), "fanzha.state", 0, 0,
     "compacted topic of every task's checkpoint (position, statistics, lineage), written in "
     "the same transaction as the task's offsets; created when missing"},
    {"checkpoint_interval_ms", OPT_INT, FZ_SCOPE_RUN, OFF(checkpoint_interval_ms), "10000", 100,
     3600000,
     "how often (per task, while events flow) the open statistics windows are written to "
     "stats_topic as interim records (closed windows are written at the next commit)"},
    {"processing_guarantee", OPT_STR, FZ_SCOPE_RUN, OFF(processing_guarantee), "at_least_once", 0,
     0,
     "at_least_once: alerts are produced as soon as they are decided, and may be written again "
     "after a failure; exactly_once: alerts, dead letters and every other output commit in one "
     "Kafka transaction with the input offsets (read them with isolation.level=read_committed). "
     "State and statistics are exact in both"},
    {"instance_id", OPT_STR, FZ_SCOPE_RUN, OFF(instance_id), "", 0, 0,
     "this instance's name in the group, unique and stable across restarts (it names the "
     "transactional producers, so a restarted instance fences its own zombie at once); "
     "default: the host name"},
    {"internal_partitions", OPT_INT, FZ_SCOPE_RUN, OFF(internal_partitions), "0", 0, 100000,
     "partitions of the route topic and the changelogs (the decide stage's parallelism), used "
     "when they are created; 0 = the input topics' largest partition count"},
    {"internal_replication_factor", OPT_INT, FZ_SCOPE_RUN, OFF(internal_replication_factor), "-1",
     -1, 32767, "replication factor of topics fanzha creates; -1 = the broker's default"},
    {"stats_output", OPT_STR, FZ_SCOPE_REPLAY | FZ_SCOPE_STATS, OFF(stats_output), NULL, 0, 0,
     "also write the statistics windows (with their comparisons) as JSON lines to this file"},
    {"stats_windows", OPT_INT, FZ_SCOPE_STATS, OFF(stats_windows), "24", 1, 1000000,
     "how many windows (the newest) the table shows; the totals cover all"},
    {"period", OPT_STR, FZ_SCOPE_STATS, OFF(period), NULL, 0, 0,
     "sum the windows by calendar period in utc_offset: day, week (ISO, Monday to Sunday) or "
     "month, each compared with the previous one (环比) and the same one a year earlier (同比); "
     "the table and stats_output then show periods instead of windows (docs/statistics.md)"},
    {"period_span", OPT_INT, FZ_SCOPE_STATS, OFF(period_span), "0", 0, 100000,
     "compare each period (同比) with the one this many periods earlier; 0 = a year earlier "
     "(the same calendar day or month, or the week 52 weeks earlier)"},
    {"from", OPT_STR, FZ_SCOPE_STATS, OFF(from), NULL, 0, 0,
     "periods and report: the first day (YYYY-MM-DD in utc_offset) of the periods shown; "
     "unset = the first record's"},
    {"to", OPT_STR, FZ_SCOPE_STATS, OFF(to), NULL, 0, 0,
     "periods and report: the last day (YYYY-MM-DD in utc_offset, included); unset = the last "
     "record's"},
    {"utc_offset", OPT_STR, FZ_SCOPE_STATS, OFF(utc_offset), NULL, 0, 0,
     "the centre's time zone as a UTC offset (+08:00, -05:00): periods start at its midnight "
     "and the report shows its times; unset = +08:00 with lang zh, +00:00 with lang en"},
    {"report", OPT_STR, FZ_SCOPE_STATS, OFF(report), NULL, 0, 0,
     "write the loss-recovery report of the last period (default period: week) as one "
     "self-contained HTML page to this file (needs gnuplot for its charts)"},
    {"lang", OPT_STR, FZ_SCOPE_STATS, OFF(lang), "zh", 0, 0, "the report's language: zh or en"},
    {"alerts", OPT_LIST, FZ_SCOPE_STATS, OFF(alerts), NULL, 0, 0,
     "report: files of alert and campaign records (the output of fanzha replay, or the alerts "
     "topic saved with kcat) for its campaign and top-rule tables; comma-separated"},
    {"report_alerts_topic", OPT_STR, FZ_SCOPE_STATS, OFF(report_alerts_topic), NULL, 0, 0,
     "report: also read the alert and campaign records from this topic (e.g. fanzha.alerts, "
     "from its start to its current end, committed records only) for its campaign and "
     "top-rule tables"},
    {"threads", OPT_INT, FZ_SCOPE_BOTH, OFF(threads), "0", 0, 1024,
     "worker threads; 0 = one per online CPU core"},
    {"dedup_window_ms", OPT_INT, FZ_SCOPE_BOTH, OFF(dedup_window_ms), "600000", 0,
     INT64_C(31536000000),
     "repeats of an alerted event within this window (event time) are "
     "counted and suppressed; 0 disables dedup"},
    {"dedup_capacity", OPT_INT, FZ_SCOPE_BOTH, OFF(dedup_capacity), "1048576", 8, INT64_C(1) << 32,
     "hard cap on dedup entries (24 bytes each); the oldest are evicted"},
    {"max_event_bytes", OPT_INT, FZ_SCOPE_BOTH, OFF(max_event_bytes), "65536", 64, 64 * 1024 * 1024,
     "larger events are rejected as too_large"},
    {"max_event_ahead_ms", OPT_INT, FZ_SCOPE_BOTH, OFF(max_event_ahead_ms), "3600000", 0,
     INT64_C(1) << 50,
     "an event whose ts is further than this ahead of the wall clock is rejected (dead letter, "
     "reason ts_ahead); 0 = no bound"},
    {"max_event_lag_ms", OPT_INT, FZ_SCOPE_BOTH, OFF(max_event_lag_ms), "604800000", 0,
     INT64_C(1) << 50,
     "an event whose ts is further than this behind the newest event of its stream (input "
     "partition; the whole input in replay) is rejected (dead letter, reason ts_behind); "
     "0 = no bound"},
    {"commit_interval_ms", OPT_INT, FZ_SCOPE_RUN, OFF(commit_interval_ms), "0", 0, 3600000,
     "how often each stream thread commits (changelogs, checkpoints, statistics and offsets in "
     "one transaction); 0 = 1000 at least once, 100 exactly once (the alert latency)"},
    {"shutdown_timeout_ms", OPT_INT, FZ_SCOPE_RUN, OFF(shutdown_timeout_ms), "30000", 0, 3600000,
     "on SIGTERM/SIGINT or partition revocation, how long to wait for in-flight "
     "alerts to be acknowledged before giving up on them (they are re-processed "
     "later)"},
    {"stats_interval_ms", OPT_INT, FZ_SCOPE_RUN, OFF(stats_interval_ms), "10000", 0, 3600000,
     "period of the statistics log line; 0 disables"},
    {"metrics_address", OPT_STR, FZ_SCOPE_RUN, OFF(metrics_address), "127.0.0.1:9464", 0, 0,
     "HOST:PORT of the HTTP endpoints /metrics (Prometheus), /healthz and /readyz "
     "([ADDR]:PORT for IPv6; port 0 = any free port, logged); off = none"},
    {"metrics_rule_series", OPT_INT, FZ_SCOPE_RUN, OFF(metrics_rule_series), "500", 0, 100000,
     "at most this many rules get their own fanzha_rule_matches_total series (the rest "
     "are summed as rule=\"other\"); 0 = none"},
    {"health_stall_ms", OPT_INT, FZ_SCOPE_RUN, OFF(health_stall_ms), "300000", 1000, 86400000,
     "/healthz fails when a stream thread's record loop has not turned for this long "
     "(restoring state does not count)"},
    {"log_level", OPT_STR, FZ_SCOPE_ALL, OFF(log_level), "info", 0, 0,
     "error, warn, info or debug"},
    {"log_format", OPT_STR, FZ_SCOPE_ALL, OFF(log_format), "text", 0, 0,
     "text: 'TIME LEVEL message' lines; json: one JSON object per line with time, level, "
     "component, msg (and facility, broker, client for librdkafka's lines), for journald and "
     "log collectors (docs/operations.md#logs)"},
    {"privacy_numbers", OPT_STR, FZ_SCOPE_BOTH, OFF(privacy_numbers), "keep", 0, 0,
     "subscriber numbers (from, to) in alerts: keep; mask (13812345678 -> 138****5678); or "
     "hash (keyed BLAKE2b with privacy_hash_key_file, stable per key); with mask or hash, dead "
     "letters omit the payload (docs/alerts.md#privacy)"},
    {"privacy_texts", OPT_STR, FZ_SCOPE_BOTH, OFF(privacy_texts), "keep", 0, 0,
     "message texts in alerts and campaign summaries: keep or drop; with drop, dead letters "
     "omit the payload"},
    {"privacy_hash_key_file", OPT_STR, FZ_SCOPE_BOTH, OFF(privacy_hash_key_file), NULL, 0, 0,
     "file holding the secret key (16-64 bytes; openssl rand -hex 32 > FILE) of privacy_numbers: "
     "hash, and of the payload_hash of dead letters when privacy is on"},
    {"kafka", OPT_MAP, FZ_SCOPE_RUN | FZ_SCOPE_STATS, OFF(kafka), NULL, 0, 0,
     "librdkafka properties for both clients (CLI: -X key=value)"},
    {"kafka_consumer", OPT_MAP, FZ_SCOPE_RUN, OFF(kafka_consumer), NULL, 0, 0,
     "librdkafka properties for the consumer only (CLI: -X consumer.key=value)"},
    {"kafka_producer", OPT_MAP, FZ_SCOPE_RUN, OFF(kafka_producer), NULL, 0, 0,
     "librdkafka properties for the producer only (CLI: -X producer.key=value)"},
    {"output", OPT_STR, FZ_SCOPE_REPLAY, OFF(output), "-", 0, 0,
     "where alerts go, one JSON line each; '-' = stdout (CLI: -o FILE)"},
    {"verdicts", OPT_STR, FZ_SCOPE_REPLAY, OFF(verdicts), NULL, 0, 0,
     "also write one verdict line per input event to this file"},
    {"rule_stats", OPT_STR, FZ_SCOPE_REPLAY, OFF(rule_stats), NULL, 0, 0,
     "at the end, write per-rule counters (matches, shadow matches, cost) as JSON lines to "
     "this file"},
    {"batch_events", OPT_INT, FZ_SCOPE_REPLAY, OFF(batch_events), "8192", 1, 1 << 22,
     "events read per batch (batches are scanned in parallel, decided in input order)"},
};

static void *field_ptr(fz_config *c, const option *o) { return (char *)c + o->off; }

static int set_str(char **dst, const char *v) {
    char *n = strdup(v);
    if (!n) return -1;
    free(*dst);
    *dst = n;
    return 0;
}

static void free_list(char ***v, size_t *n) {
    for (size_t i = 0; i < *n; i++) free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

/* A list's count is the size_t member right after its char ** (config.h). */
static size_t *list_count(fz_config *c, const option *o) {
    return (size_t *)((char *)c + o->off + sizeof(char **));
}

/* Set a list from a comma-separated string. */
static int set_list_csv(fz_config *c, const option *o, const char *v) {
    char ***lst = field_ptr(c, o);
    size_t *n = list_count(c, o);
    free_list(lst, n);
    char *dup = strdup(v), *save = NULL;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        *lst = realloc(*lst, (*n + 1) * sizeof(char *));
        (*lst)[(*n)++] = strdup(tok);
    }
    free(dup);
    return 0;
}

static void kv_set(fz_kvlist *l, const char *k, const char *v) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, k) == 0) {
            set_str(&l->v[i].value, v);
            return;
        }
    l->v = realloc(l->v, (l->n + 1) * sizeof(fz_kv));
    l->v[l->n].key = strdup(k);
    l->v[l->n].value = strdup(v);
    l->n++;
}

static void kv_free(fz_kvlist *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Set a scalar option from text; errors name the option. */
static int set_value(fz_config *c, const option *o, const char *v, char *err, size_t errsz) {
    switch (o->type) {
    case OPT_STR: return set_str(field_ptr(c, o), v);
    case OPT_LIST: return set_list_csv(c, o, v);
    case OPT_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || x < o->min || x > o->max) {
            snprintf(err, errsz, "option '%s': expected an integer from %lld to %lld, got '%s'",
                     o->name, (long long)o->min, (long long)o->max, v);
            return -1;
        }
        *(int64_t *)field_ptr(c, o) = x;
        return 0;
    }
    case OPT_MAP:
        snprintf(err, errsz, "option '%s' is a map: set it in the config file or with -X", o->name);
        return -1;
    }
    return -1;
}

void fz_config_init(fz_config *c) {
    char err[256];
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < FZ_ARRAY_LEN(options); i++)
        if (options[i].def) set_value(c, &options[i], options[i].def, err, sizeof(err));
}

void fz_config_free(fz_config *c) {
    for (size_t i = 0; i < FZ_ARRAY_LEN(options); i++) {
        const option *o = &options[i];
        if (o->type == OPT_STR) {
            free(*(char **)field_ptr(c, o));
        } else if (o->type == OPT_LIST) {
            free_list(field_ptr(c, o), list_count(c, o));
        } else if (o->type == OPT_MAP) {
            kv_free(field_ptr(c, o));
        }
    }
    for (size_t i = 0; i < c->n_inputs; i++) free(c->inputs[i]);
    free(c->inputs);
    memset(c, 0, sizeof(*c));
}

static const option *find_option(const char *name, size_t n, unsigned scope) {
    for (size_t i = 0; i < FZ_ARRAY_LEN(options); i++) {
        const option *o = &options[i];
        if (!(o->scope & scope)) continue;
        if (strlen(o->name) != n) continue;
        size_t k;
        for (k = 0; k < n; k++) {
            char a = o->name[k], b = name[k] == '-' ? '_' : name[k];
            if (a != b) break;
        }
        if (k == n) return o;
    }
    return NULL;
}

int fz_config_threads(const fz_config *c) {
    if (c->threads > 0) return (int)c->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- YAML file ---- */

static const char *node_scalar(yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int fz_config_load_file(fz_config *c, const char *path, unsigned scope, char *err, size_t errsz) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errsz, "%s: cannot open config file: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errsz, "%s:%zu: YAML: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        fclose(fp);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = 0; /* empty file */
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        snprintf(err, errsz, "%s:%zu: the config must be a mapping of option: value", path,
                 root->start_mark.line + 1);
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
        const char *k = node_scalar(kn);
        size_t line = kn->start_mark.line + 1;
        const option *o = k ? find_option(k, strlen(k), FZ_SCOPE_ALL) : NULL;
        if (!o || strcmp(o->name, "config_file") == 0) {
            snprintf(err, errsz, "%s:%zu: unknown option '%s' (see fanzha run --help)", path, line,
                     k ? k : "?");
            goto out;
        }
        if (!(o->scope & scope)) continue; /* e.g. broker settings in replay: fine */
        char sub[256];
        if (o->type == OPT_MAP) {
            if (vn->type != YAML_MAPPING_NODE) {
                snprintf(err, errsz, "%s:%zu: '%s' must be a map of librdkafka properties", path,
                         line, k);
                goto out;
            }
            for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top;
                 q++) {
                const char *mk = node_scalar(yaml_document_get_node(&doc, q->key));
                const char *mv = node_scalar(yaml_document_get_node(&doc, q->value));
                if (!mk || !mv) {
                    snprintf(err, errsz, "%s:%zu: '%s': keys and values must be scalars", path,
                             line, k);
                    goto out;
                }
                kv_set(field_ptr(c, o), mk, mv);
            }
        } else if (o->type == OPT_LIST && vn->type == YAML_SEQUENCE_NODE) {
            char ***lst = field_ptr(c, o);
            size_t *n = list_count(c, o);
            free_list(lst, n);
            for (yaml_node_item_t *it = vn->data.sequence.items.start;
                 it < vn->data.sequence.items.top; it++) {
                const char *s = node_scalar(yaml_document_get_node(&doc, *it));
                if (!s) {
                    snprintf(err, errsz, "%s:%zu: '%s' items must be strings", path, line, k);
                    goto out;
                }
                *lst = realloc(*lst, (*n + 1) * sizeof(char *));
                (*lst)[(*n)++] = strdup(s);
            }
        } else {
            const char *v = node_scalar(vn);
            if (!v) {
                snprintf(err, errsz, "%s:%zu: '%s' must be a single value", path, line, k);
                goto out;
            }
            if (set_value(c, o, v, sub, sizeof(sub))) {
                snprintf(err, errsz, "%s:%zu: %s", path, vn->start_mark.line + 1, sub);
                goto out;
            }
        }
    }
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(fp);
    return rc;
}

/* ---- command line ---- */

static int apply_x(fz_config *c, const char *arg, char *err, size_t errsz) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        snprintf(err, errsz, "-X expects key=value, got '%s'", arg);
        return -1;
    }
    char key[256];
    size_t kn = (size_t)(eq - arg);
    if (kn >= sizeof(key)) kn = sizeof(key) - 1;
    memcpy(key, arg, kn);
    key[kn] = '\0';
    if (strncmp(key, "campaign.", 9) == 0)
        kv_set(&c->campaign_masks, key + 9, eq + 1);
    else if (strncmp(key, "consumer.", 9) == 0)
        kv_set(&c->kafka_consumer, key + 9, eq + 1);
    else if (strncmp(key, "producer.", 9) == 0)
        kv_set(&c->kafka_producer, key + 9, eq + 1);
    else
        kv_set(&c->kafka, key, eq + 1);
    return 0;
}

int fz_config_set_x(fz_config *c, const char *arg, char *errstr, size_t errstr_size) {
    return apply_x(c, arg, errstr, errstr_size);
}

/*
 * librdkafka properties that fanzha's delivery guarantees rest on. It sets
 * them itself, after the user's maps; a user value other than the one it
 * sets is refused here rather than silently overridden (or, worse,
 * honoured). value NULL: fanzha owns the property outright.
 */
static const struct guarded {
    const char *key, *value, *why;
} guarded[] = {
    {"enable.idempotence", "true", "no alert is duplicated or reordered by producer retries"},
    {"acks", "all", "an alert counts as delivered only once every in-sync replica has it"},
    {"message.timeout.ms", NULL, "an alert is never expired locally while the broker is away"},
    {"transactional.id", NULL, "fanzha names its transactional producers after the group"},
    {"enable.auto.commit", "false", "offsets are committed only with the state they belong to"},
    {"enable.auto.offset.store", "false", "offsets are committed only with their state"},
    {"isolation.level", "read_committed", "aborted transactions must stay invisible"},
    {"group.id", NULL, "use --group-id"},
};

static int check_guarded(const fz_kvlist *l, const char *map, char *err, size_t errsz) {
    for (size_t i = 0; i < l->n; i++)
        for (size_t g = 0; g < FZ_ARRAY_LEN(guarded); g++) {
            const struct guarded *k = &guarded[g];
            if (strcmp(l->v[i].key, k->key) != 0) continue;
            int same = k->value && (!strcmp(l->v[i].value, k->value) ||
                                    (!strcmp(k->key, "acks") && !strcmp(l->v[i].value, "-1")));
            if (same) continue;
            if (k->value)
                snprintf(err, errsz,
                         "%s: librdkafka property '%s=%s' is not allowed: fanzha sets %s=%s "
                         "itself (%s)",
                         map, k->key, l->v[i].value, k->key, k->value, k->why);
            else
                snprintf(err, errsz,
                         "%s: librdkafka property '%s' is not allowed: fanzha sets it itself (%s)",
                         map, k->key, k->why);
            return -1;
        }
    return 0;
}

/* `fanzha run --help`: what runs where (docs/architecture.md has the rest). */
static const char RUN_TOPOLOGY[] =
    "Instances with the same group_id form one consumer group; each of their stream\n"
    "threads is a member and runs tasks:\n"
    "  screen task  one input partition: decode, match, time bounds, intercept check.\n"
    "               Clean and invalid events end here; matched events, marks and the\n"
    "               events aggregate rules count go on to <group>.route, keyed by\n"
    "               dedup key, number or aggregate window.\n"
    "  decide task  one partition of <group>.route: owns its dedup store, campaign\n"
    "               table and aggregate windows (changelogs <group>.dedup-changelog,\n"
    "               .campaign-changelog, .agg-changelog) and\n"
    "               the watchlist entries of its numbers (<group>.watch-changelog, read\n"
    "               whole by every instance); writes alerts and campaign summaries.\n"
    "Every task writes statistics records (stats_topic) and a checkpoint (state_topic).\n"
    "A thread commits changelogs, statistics, checkpoints and input offsets in one\n"
    "Kafka transaction every commit_interval_ms; a moved or restarted task is restored\n"
    "from its checkpoint and changelogs, never by reading input again.\n"
    "  at_least_once  outputs go out at once; the commit waits for their acks; a crash\n"
    "                 can repeat alerts (same event_id). The default.\n"
    "  exactly_once   outputs join the transaction: read_committed readers see each\n"
    "                 alert once, about commit_interval_ms later.\n"
    "Statistics and state are exact in both. Internal topics are created (or checked)\n"
    "at start-up with internal_partitions partitions. Measured costs:\n"
    "docs/benchmarks/stream.md; operations: docs/operations.md.\n\n";

int fz_config_parse_args(fz_config *c, unsigned scope, const char *cmd, int argc, char **argv,
                         char *err, size_t errsz) {
    /* pass 1: --help and --config */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("Usage: fanzha %s [OPTIONS]%s\n\n", cmd,
                   scope & (FZ_SCOPE_REPLAY | FZ_SCOPE_STATS) ? " [FILE...]" : "");
            if (scope & FZ_SCOPE_RUN) fputs(RUN_TOPOLOGY, stdout);
            printf("Options (config-file key in brackets):\n");
            fz_config_print_help(scope, stdout);
            return 1;
        }
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            set_str(&c->config_file, argv[i + 1]);
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            set_str(&c->config_file, argv[i] + 9);
        }
    }
    if (c->config_file && fz_config_load_file(c, c->config_file, scope, err, errsz)) return -1;

    /* pass 2: everything else, in order */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) continue;
        if (strcmp(a, "-X") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errsz, "-X needs key=value");
                return -1;
            }
            if (scope == FZ_SCOPE_REPLAY && strncmp(argv[i + 1], "campaign.", 9) != 0) {
                snprintf(err, errsz,
                         "-X passes librdkafka properties, for 'fanzha run' and 'fanzha stats' "
                         "(replay takes -X campaign.CATEGORY=MASKS)");
                return -1;
            }
            if (apply_x(c, argv[++i], err, errsz)) return -1;
            continue;
        }
        if (strcmp(a, "-o") == 0 && (scope & FZ_SCOPE_REPLAY)) a = "--output";
        if (strcmp(a, "--rules") == 0 || strncmp(a, "--rules=", 8) == 0) {
            val = a[7] == '=' ? a + 8 : NULL;
            a = "--rules-dir";
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (a[0] == '-' && a[1] != '\0') {
                snprintf(err, errsz, "unknown option '%s' (see fanzha %s --help)", a, cmd);
                return -1;
            }
            if (scope & (FZ_SCOPE_REPLAY | FZ_SCOPE_STATS)) { /* input file ('-' = stdin) */
                c->inputs = realloc(c->inputs, (c->n_inputs + 1) * sizeof(char *));
                c->inputs[c->n_inputs++] = strdup(a);
                continue;
            }
            snprintf(err, errsz, "unexpected argument '%s' (see fanzha %s --help)", a, cmd);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (eq) val = eq + 1;
        const option *o = find_option(name, nlen, scope);
        if (!o || o->type == OPT_MAP) {
            snprintf(err, errsz, "unknown option '%s' (see fanzha %s --help)", argv[i], cmd);
            return -1;
        }
        if (!val) {
            if (i + 1 >= argc) {
                snprintf(err, errsz, "option '%s' needs a value", argv[i]);
                return -1;
            }
            val = argv[++i];
        }
        if (set_value(c, o, val, err, errsz)) return -1;
    }
    if (fz_log_level_parse(c->log_level) < 0) {
        snprintf(err, errsz, "option 'log_level': expected error, warn, info or debug, got '%s'",
                 c->log_level);
        return -1;
    }
    if (fz_log_format_parse(c->log_format) < 0) {
        snprintf(err, errsz, "option 'log_format': expected text or json, got '%s'", c->log_format);
        return -1;
    }
    if (c->ledger_window_ms > 0 && c->ledger_grace_ms > 5 * c->ledger_window_ms) {
        snprintf(err, errsz, "option 'ledger_grace_ms': %lld ms is more than 5 windows of %lld ms",
                 (long long)c->ledger_grace_ms, (long long)c->ledger_window_ms);
        return -1;
    }
    if ((scope & FZ_SCOPE_RUN) && strcmp(c->processing_guarantee, "at_least_once") != 0 &&
        strcmp(c->processing_guarantee, "exactly_once") != 0) {
        snprintf(err, errsz,
                 "option 'processing_guarantee': expected at_least_once or exactly_once, got '%s'",
                 c->processing_guarantee);
        return -1;
    }
    if ((scope & FZ_SCOPE_RUN) && c->n_input_topics == 0) {
        snprintf(err, errsz, "option 'input_topics': at least one topic is required");
        return -1;
    }
    if ((scope & FZ_SCOPE_RUN) &&
        (check_guarded(&c->kafka, "kafka", err, errsz) ||
         check_guarded(&c->kafka_consumer, "kafka_consumer", err, errsz) ||
         check_guarded(&c->kafka_producer, "kafka_producer", err, errsz)))
        return -1;
    return 0;
}

void fz_config_print_help(unsigned scope, void *fpv) {
    FILE *fp = fpv;
    for (size_t i = 0; i < FZ_ARRAY_LEN(options); i++) {
        const option *o = &options[i];
        if (!(o->scope & scope)) continue;
        char flag[64];
        size_t k = 0;
        flag[k++] = '-';
        flag[k++] = '-';
        for (const char *p = o->name; *p && k < sizeof(flag) - 1; p++)
            flag[k++] = *p == '_' ? '-' : *p;
        flag[k] = '\0';
        if (strcmp(o->name, "config_file") == 0) strcpy(flag, "--config");
        const char *arg = o->type == OPT_INT ? " N" : o->type == OPT_MAP ? "" : " VALUE";
        if (o->type == OPT_MAP)
            fprintf(fp, "  [%s:]\n", o->name);
        else
            fprintf(fp, "  %s%s  [%s]\n", flag, arg, o->name);
        fprintf(fp, "      %s", o->help);
        if (o->def) fprintf(fp, " (default: %s)", *o->def ? o->def : "\"\"");
        fputc('\n', fp);
    }
    if (scope & FZ_SCOPE_STATS)
        fprintf(fp, "  -X KEY=VALUE\n      set a librdkafka property (TLS, SASL) on the reader\n");
    if (scope & FZ_SCOPE_RUN)
        fprintf(fp, "  -X KEY=VALUE\n      set a librdkafka property on both clients; "
                    "-X consumer.KEY=VALUE or -X producer.KEY=VALUE for one\n");
    fprintf(fp, "  -h, --help\n      this help\n");
}

int fz_config_campaign_masks(const fz_config *c, fz_mask_config *out, char *errstr,
                             size_t errstr_size) {
    const fz_kvlist *kv = &c->campaign_masks;
    const char **keys = calloc(kv->n ? kv->n : 1, sizeof(char *));
    const char **vals = calloc(kv->n ? kv->n : 1, sizeof(char *));
    int rc = -1;
    if (keys && vals) {
        for (size_t i = 0; i < kv->n; i++) {
            keys[i] = kv->v[i].key;
            vals[i] = kv->v[i].value;
        }
        rc = fz_mask_config_parse(out, keys, vals, kv->n, errstr, errstr_size);
    } else {
        snprintf(errstr, errstr_size, "out of memory");
    }
    free(keys);
    free(vals);
    return rc;
}
