/*
 * metrics.c - the metrics, liveness and readiness of `fanzha run` (see
 * metrics.h; the table of metrics is in docs/operations.md).
 */
#define _GNU_SOURCE
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "kafka.h"
#include "prom.h"
#include "reload.h"
#include "stream.h"

#define RULES_MAX 65536 /* rules whose counters one scrape sums */

static uint64_t ld(const _Atomic uint64_t *c) {
    return atomic_load_explicit(c, memory_order_relaxed);
}

static const char *sev_name(int s) {
    return s >= FZ_SEV_LOW && s <= FZ_SEV_CRITICAL ? fz_severity_name((fz_severity)s) : "none";
}

/* ---- counters summed over the stream threads ---- */

#define SUM(field)                                                                                 \
    ({                                                                                             \
        uint64_t s_ = 0;                                                                           \
        for (int i_ = 0; i_ < app->nthreads; i_++)                                                 \
            s_ += ld(&fz_sthread_counters_of(app->threads[i_])->field);                            \
        s_;                                                                                        \
    })
#define PSUM(field)                                                                                \
    ({                                                                                             \
        uint64_t s_ = 0;                                                                           \
        for (int i_ = 0; i_ < app->nthreads; i_++)                                                 \
            s_ += ld(&fz_pipeline_counters(fz_sthread_pipeline(app->threads[i_]))->field);         \
        s_;                                                                                        \
    })

static void counters(fz_app *app, fz_buf *b) {
    fz_prom_counter(b, "fanzha_records_consumed_total",
                    "Records read from the input and route topics", SUM(consumed));
    fz_prom_counter(b, "fanzha_events_processed_total",
                    "Input events screened (decoded and matched), valid or not", SUM(screened));
    fz_prom_counter(b, "fanzha_events_clean_total", "Input events no rule matched", PSUM(clean));
    fz_prom_counter(b, "fanzha_events_disguised_total",
                    "Input events whose text is written to dodge keyword rules (digits for "
                    "letters, look-alike letters), matched through its skeleton too",
                    PSUM(disguised));
    fz_prom_family(b, "fanzha_events_invalid_total", "counter",
                   "Input events rejected (dead-lettered), by reason");
    for (int r = 1; r < FZ_REASON_COUNT; r++) {
        uint64_t v = 0;
        for (int i = 0; i < app->nthreads; i++)
            v += ld(
                &fz_pipeline_counters(fz_sthread_pipeline(app->threads[i]))->invalid_by_reason[r]);
        fz_prom_labels l;
        fz_prom_labels_init(&l);
        fz_prom_label(&l, "reason", fz_reason_name((fz_reason)r));
        fz_prom_u64(b, "fanzha_events_invalid_total", &l, v);
    }
    fz_prom_counter(b, "fanzha_events_routed_total",
                    "Matched or intercepted events sent to the decide stage", SUM(routed));
    fz_prom_counter(b, "fanzha_events_decided_total",
                    "Routed events judged by the decide stage (alert or repeat)", SUM(decided));
    fz_prom_counter(b, "fanzha_alerts_suppressed_total",
                    "Matched events suppressed as repeats within the dedup window",
                    SUM(suppressed));
    fz_prom_counter(b, "fanzha_intercepts_total",
                    "Transfers of warned subscribers or to flagged numbers (intercepted)",
                    PSUM(intercepts));
    fz_prom_counter(b, "fanzha_dead_letters_total", "Records written to the dead-letter topic",
                    SUM(dead_letters));
    fz_prom_counter(b, "fanzha_outputs_rejected_total",
                    "Outputs the broker refused for good (replaced by dead letters)",
                    SUM(rejected_outputs));
    fz_prom_counter(b, "fanzha_route_duplicates_total",
                    "Route records dropped as produced twice (an at-least-once re-run)",
                    SUM(duplicates));
    fz_prom_counter(b, "fanzha_campaign_summaries_total", "Campaign summaries written",
                    SUM(campaign_summaries));
    fz_prom_counter(b, "fanzha_watch_marks_total", "Numbers marked for interception", SUM(marks));
    fz_prom_counter(b, "fanzha_statistics_records_total", "Statistics records written",
                    SUM(stats_records));
    uint64_t closed = 0, unmeasured = 0;
    for (int i = 0; i < app->nthreads; i++) {
        closed += ld(&fz_sthread_tel(app->threads[i])->windows_closed);
        unmeasured += ld(&fz_sthread_tel(app->threads[i])->latency_unmeasured);
    }
    fz_prom_counter(b, "fanzha_statistics_windows_closed_total",
                    "Statistics windows closed (their final records are due)", closed);
    fz_prom_counter(b, "fanzha_commits_total", "Transactions committed (state and offsets)",
                    SUM(commits));
    fz_prom_family(b, "fanzha_commit_failures_total", "counter",
                   "Commits that failed: retried, or aborted and done again");
    fz_prom_labels l;
    fz_prom_labels_init(&l);
    fz_prom_label(&l, "outcome", "retried");
    fz_prom_u64(b, "fanzha_commit_failures_total", &l, SUM(commit_retries));
    fz_prom_labels_init(&l);
    fz_prom_label(&l, "outcome", "aborted");
    fz_prom_u64(b, "fanzha_commit_failures_total", &l, SUM(aborts));
    fz_prom_counter(b, "fanzha_producer_queue_full_waits_total",
                    "Times a stream thread waited for room in a producer queue (backpressure)",
                    SUM(producer_waits));
    fz_prom_counter(b, "fanzha_producer_resets_total",
                    "Transactional producers replaced after a failed abort", SUM(producer_resets));
    fz_prom_counter(b, "fanzha_restores_total", "Tasks restored from checkpoints and changelogs",
                    SUM(restores));
    fz_prom_counter(b, "fanzha_restore_retries_total",
                    "Restores that failed and were tried again (the cluster away, or a "
                    "transaction still open on the state topic or a changelog)",
                    SUM(restore_retries));
    fz_prom_counter(b, "fanzha_restore_offsets_lost_total",
                    "Tasks restored at a checkpoint ahead of their committed offset: the broker "
                    "lost the offsets of the committed transaction that wrote it",
                    SUM(offsets_lost));
    fz_prom_family(b, "fanzha_restore_seconds_total", "counter", "Time spent restoring tasks");
    fz_prom_f64(b, "fanzha_restore_seconds_total", NULL, (double)SUM(restore_ms) / 1e3);
    fz_prom_counter(b, "fanzha_restored_entries_total", "Store entries read back from changelogs",
                    SUM(restored_entries));
    fz_prom_counter(b, "fanzha_alert_latency_unmeasured_total",
                    "Alerts whose delivery was not timed (too many in flight)", unmeasured);
}

/* Alerts by category and severity: the threads' tables merged. */
static void alerts(fz_app *app, fz_buf *b) {
    typedef struct row {
        char category[64];
        int severity;
        uint64_t n;
    } row;
    row rows[FZ_ALERT_CLASSES + 1];
    int nrows = 0;
    uint64_t other = 0;
    for (int i = 0; i < app->nthreads; i++) {
        fz_alert_class *v = fz_sthread_tel(app->threads[i])->alerts;
        other += ld(&v[FZ_ALERT_CLASSES].count);
        for (int j = 0; j < FZ_ALERT_CLASSES; j++) {
            if (!atomic_load_explicit(&v[j].used, memory_order_acquire)) break;
            int k = 0;
            while (k < nrows &&
                   (rows[k].severity != v[j].severity || strcmp(rows[k].category, v[j].category)))
                k++;
            if (k == nrows) {
                if (nrows == FZ_ALERT_CLASSES) {
                    other += ld(&v[j].count);
                    continue;
                }
                memcpy(rows[k].category, v[j].category, sizeof(rows[k].category));
                rows[k].severity = v[j].severity;
                rows[k].n = 0;
                nrows++;
            }
            rows[k].n += ld(&v[j].count);
        }
    }
    fz_prom_family(b, "fanzha_alerts_total", "counter",
                   "Alerts written, by the primary rule's category and severity");
    for (int k = 0; k < nrows; k++) {
        fz_prom_labels l;
        fz_prom_labels_init(&l);
        fz_prom_label(&l, "category", rows[k].category[0] ? rows[k].category : "none");
        fz_prom_label(&l, "severity", sev_name(rows[k].severity));
        fz_prom_u64(b, "fanzha_alerts_total", &l, rows[k].n);
    }
    if (other || !nrows) {
        fz_prom_labels l;
        fz_prom_labels_init(&l);
        fz_prom_label(&l, "category", "other");
        fz_prom_label(&l, "severity", "none");
        fz_prom_u64(b, "fanzha_alerts_total", &l, other);
    }
}

static void latency(fz_app *app, fz_buf *b) {
    const fz_hist *hs[256];
    int n = app->nthreads < 256 ? app->nthreads : 256;
    static const struct {
        const char *name, *help;
        size_t off;
    } h[] = {
        {"fanzha_event_to_alert_seconds",
         "From an event's own time (ts) to its alert's delivery report from the broker",
         offsetof(fz_sthread_telemetry, event_to_alert)},
        {"fanzha_ingest_to_alert_seconds",
         "From the input record's Kafka timestamp to its alert's delivery report",
         offsetof(fz_sthread_telemetry, ingest_to_alert)},
        {"fanzha_produce_latency_seconds",
         "From a produce call to its delivery report (every output record)",
         offsetof(fz_sthread_telemetry, produce)},
    };
    for (size_t k = 0; k < sizeof(h) / sizeof(h[0]); k++) {
        for (int i = 0; i < n; i++)
            hs[i] = (const fz_hist *)((const char *)fz_sthread_tel(app->threads[i]) + h[k].off);
        fz_prom_family(b, h[k].name, "histogram", h[k].help);
        fz_prom_hist(b, h[k].name, NULL, hs, n);
    }
}

/* Partitions, lag, queues and stores from the threads' snapshots. */
static void tasks(fz_app *app, fz_buf *b) {
    fz_prom_family(b, "fanzha_consumer_lag", "gauge",
                   "Records of an assigned partition not yet processed (high watermark - "
                   "position; the consumer's cached high watermark)");
    int64_t uncommitted = 0, cq = 0, pq[2] = {0, 0}, assigned[3] = {0, 0, 0}, restoring = 0;
    fz_dedup_stats d = {0};
    fz_campaigns_stats c = {0};
    fz_agg_stats ag = {0};
    for (int i = 0; i < app->nthreads; i++) {
        fz_sthread_telemetry *tel = fz_sthread_tel(app->threads[i]);
        restoring += atomic_load(&tel->restoring);
        pthread_mutex_lock(&tel->lock);
        fz_sthread_snapshot *s = &tel->snap;
        for (int j = 0; j < s->nrows; j++) {
            fz_lag_row *r = &s->rows[j];
            assigned[r->stage == FZ_STAGE_DECIDE ? 2 : 1]++;
            if (r->position >= 0 && r->committed >= 0 && r->position > r->committed)
                uncommitted += r->position - r->committed;
            if (r->high < 0) continue;
            int64_t lag = r->high - (r->position >= 0 ? r->position : 0);
            fz_prom_labels l;
            fz_prom_labels_init(&l);
            fz_prom_label(&l, "topic", r->topic);
            fz_prom_label_i64(&l, "partition", r->partition);
            fz_prom_label(&l, "stage", r->stage == FZ_STAGE_DECIDE ? "decide" : "screen");
            fz_prom_i64(b, "fanzha_consumer_lag", &l, lag < 0 ? 0 : lag);
        }
        cq += s->consumer_queue;
        pq[0] += s->producer_queue[0];
        pq[1] += s->producer_queue[1];
        d.entries += s->dedup.entries, d.capacity += s->dedup.capacity;
        d.evictions += s->dedup.evictions, d.bytes += s->dedup.bytes;
        c.campaigns += s->campaigns.campaigns, c.evictions += s->campaigns.evictions;
        c.bytes += s->campaigns.bytes;
        ag.entries += s->aggs.entries, ag.evictions += s->aggs.evictions;
        ag.bytes += s->aggs.bytes;
        pthread_mutex_unlock(&tel->lock);
    }
    fz_prom_family(b, "fanzha_assigned_partitions", "gauge",
                   "Partitions (tasks) this instance runs, by stage");
    static const char *stages[3] = {NULL, "screen", "decide"};
    for (int s = 1; s <= 2; s++) {
        fz_prom_labels l;
        fz_prom_labels_init(&l);
        fz_prom_label(&l, "stage", stages[s]);
        fz_prom_i64(b, "fanzha_assigned_partitions", &l, assigned[s]);
    }
    fz_prom_gauge(b, "fanzha_restoring_tasks", "Tasks being restored now", restoring);
    fz_prom_gauge(b, "fanzha_uncommitted_records",
                  "Records processed since their task's last commit (in flight)", uncommitted);
    fz_prom_gauge(b, "fanzha_consumer_queue_records",
                  "Records fetched from the brokers, not yet processed", cq);
    fz_prom_family(b, "fanzha_producer_queue_messages", "gauge",
                   "Output and state records produced, not yet acknowledged by the brokers");
    fz_prom_labels l;
    fz_prom_labels_init(&l);
    fz_prom_label(&l, "producer", "output");
    fz_prom_i64(b, "fanzha_producer_queue_messages", &l, pq[0]);
    fz_prom_labels_init(&l);
    fz_prom_label(&l, "producer", "transactional");
    fz_prom_i64(b, "fanzha_producer_queue_messages", &l, pq[1]);

    fz_watch_stats ws = {0};
    if (app->watch) fz_watch_stats_get(app->watch, &ws);
    struct {
        const char *store;
        uint64_t entries, evictions, bytes;
    } st[4] = {{"dedup", d.entries, d.evictions, d.bytes},
               {"campaign", c.campaigns, c.evictions, c.bytes},
               {"aggregate", ag.entries, ag.evictions, ag.bytes},
               {"watch", ws.entries, ws.evictions, 0}};
    fz_prom_family(b, "fanzha_store_entries", "gauge",
                   "Live entries of the keyed state stores this instance holds");
    for (int k = 0; k < 4; k++) {
        fz_prom_labels_init(&l);
        fz_prom_label(&l, "store", st[k].store);
        fz_prom_u64(b, "fanzha_store_entries", &l, st[k].entries);
    }
    fz_prom_family(b, "fanzha_store_evictions_total", "counter",
                   "Live entries dropped for room (over the tasks held now; resets when tasks "
                   "move)");
    for (int k = 0; k < 4; k++) {
        fz_prom_labels_init(&l);
        fz_prom_label(&l, "store", st[k].store);
        fz_prom_u64(b, "fanzha_store_evictions_total", &l, st[k].evictions);
    }
    fz_prom_family(b, "fanzha_store_bytes", "gauge",
                   "Memory of the dedup, campaign and aggregate stores");
    for (int k = 0; k < 3; k++) {
        fz_prom_labels_init(&l);
        fz_prom_label(&l, "store", st[k].store);
        fz_prom_u64(b, "fanzha_store_bytes", &l, st[k].bytes);
    }
    fz_prom_counter(b, "fanzha_watchlog_records_total",
                    "Watch changelog records applied to the global watchlist",
                    app->watchlog ? fz_watchlog_records(app->watchlog) : 0);
}

/* The active ruleset, reloads, and per-rule matches. */
static void rules(fz_ops *o, fz_buf *b) {
    fz_app *app = o->app;
    pthread_mutex_lock(&app->rs_lock);
    fz_ruleset *rs = fz_ruleset_ref(app->rs);
    pthread_mutex_unlock(&app->rs_lock);
    const fz_artifact_info *art = fz_ruleset_artifact(rs);
    fz_prom_family(b, "fanzha_ruleset_info", "info",
                   "The active ruleset (value 1): its version, where it came from (a compiled "
                   "file or the rules directory) and the key that signed it");
    fz_prom_labels l;
    fz_prom_labels_init(&l);
    fz_prom_label(&l, "version", fz_ruleset_version(rs));
    fz_prom_label(&l, "source", art && art->digest[0] ? "compiled" : "directory");
    fz_prom_label(&l, "signer", art && art->signed_ok ? art->key_id : "unsigned");
    fz_prom_u64(b, "fanzha_ruleset_info", &l, 1);
    fz_prom_family(b, "fanzha_ruleset_build_time_seconds", "gauge",
                   "When the active compiled rules file was built (0: compiled at start-up)");
    fz_prom_i64(b, "fanzha_ruleset_build_time_seconds", NULL, art ? art->build_time_s : 0);
    fz_prom_gauge(b, "fanzha_rules", "Rules of the active ruleset", (int64_t)fz_ruleset_count(rs));
    fz_prom_gauge(b, "fanzha_rule_patterns", "Patterns of the active ruleset",
                  (int64_t)fz_ruleset_pattern_count(rs));
    if (o->reloader) {
        fz_prom_family(b, "fanzha_rules_reloads_total", "counter",
                       "Rule reloads, by result (a failed one leaves the old rules serving)");
        static const char *res[3] = {"ok", "failed", "unchanged"};
        uint64_t v[3] = {fz_reloader_ok(o->reloader), fz_reloader_failed(o->reloader),
                         fz_reloader_unchanged(o->reloader)};
        for (int k = 0; k < 3; k++) {
            fz_prom_labels_init(&l);
            fz_prom_label(&l, "result", res[k]);
            fz_prom_u64(b, "fanzha_rules_reloads_total", &l, v[k]);
        }
        fz_prom_gauge(b, "fanzha_rules_source_ok",
                      "1 while the rules source (rules_dir or rules_compiled) is there and "
                      "watched; 0: it vanished and the active ruleset keeps serving",
                      fz_reloader_source_ok(o->reloader, NULL, 0));
        fz_prom_counter(b, "fanzha_rules_source_lost_total", "Times the rules source went missing",
                        fz_reloader_source_lost(o->reloader));
        fz_prom_counter(b, "fanzha_rules_rewatches_total",
                        "Times the rule watches were rebuilt (directory replaced, ConfigMap swap, "
                        "event queue overflow)",
                        fz_reloader_rewatches(o->reloader));
        fz_prom_counter(b, "fanzha_admin_refused_total",
                        "Admin socket connections refused by the peer-credential check",
                        fz_reloader_admin_refused(o->reloader));
        fz_prom_gauge(b, "fanzha_rules_pinned",
                      "1 while a rollback pins the active ruleset (file changes are not loaded)",
                      fz_reloader_pinned(o->reloader));
        fz_prom_family(b, "fanzha_rules_last_reload_timestamp_seconds", "gauge",
                       "When the last reload was tried (0: none yet)");
        fz_prom_f64(b, "fanzha_rules_last_reload_timestamp_seconds", NULL,
                    (double)fz_reloader_last_ms(o->reloader) / 1e3);
    }
    /* per rule: the threads' matchers of this ruleset (o->lock keeps them
     * alive: daemon.c frees replaced matchers under it) */
    size_t nr = fz_ruleset_count(rs);
    int limit = (int)app->cfg->metrics_rule_series;
    if (limit > 0 && nr && nr <= RULES_MAX) {
        uint64_t *m = calloc(2 * nr, sizeof(*m)), *both = m ? m + nr : NULL;
        int pairs = 0;
        for (size_t r = 0; r < nr; r++) pairs |= fz_ruleset_rule(rs, r)->pair != FZ_RULE_NO_PAIR;
        for (int i = 0; m && i < app->nthreads; i++) {
            fz_matcher *mt = fz_sthread_matcher(app->threads[i]);
            if (!mt || fz_matcher_ruleset(mt) != rs) continue;
            const fz_rule_counters *rc = fz_matcher_counters(mt);
            for (size_t r = 0; r < nr; r++) {
                both[r] += ld(&rc[r].both); /* first: it never runs ahead of matches */
                m[r] += ld(&rc[r].matches);
            }
        }
        fz_prom_family(b, "fanzha_rule_matches_total", "counter",
                       "Events each rule matched (shadow rules too), since the ruleset was "
                       "loaded; rules past metrics_rule_series are summed as rule=\"other\"");
        uint64_t other = 0;
        for (size_t r = 0; m && r < nr; r++) {
            if ((int64_t)r >= limit) {
                other += m[r];
                continue;
            }
            const fz_rule *ru = fz_ruleset_rule(rs, r);
            fz_prom_labels_init(&l);
            char rev[16];
            snprintf(rev, sizeof(rev), "%u", ru->rev);
            fz_prom_label(&l, "rule", ru->id);
            fz_prom_label(&l, "rev", rev);
            fz_prom_label(&l, "category", ru->category);
            fz_prom_label(&l, "severity", sev_name(ru->severity));
            fz_prom_label(&l, "status", fz_rule_status_name(ru->status));
            fz_prom_u64(b, "fanzha_rule_matches_total", &l, m[r]);
        }
        if (m && (int64_t)nr > limit) {
            fz_prom_labels_init(&l);
            fz_prom_label(&l, "rule", "other");
            fz_prom_u64(b, "fanzha_rule_matches_total", &l, other);
        }
        if (m && pairs) { /* revision pairs: every pair, whatever metrics_rule_series */
            fz_prom_family(b, "fanzha_rule_revision_events_total", "counter",
                           "Per rule id with an enabled and a shadow revision: events both "
                           "revisions matched, only the enabled one, only the shadow one");
            for (size_t r = 0; r < nr; r++) {
                const fz_rule *ru = fz_ruleset_rule(rs, r);
                if (ru->pair == FZ_RULE_NO_PAIR || ru->status != FZ_STATUS_ENABLED) continue;
                uint32_t p = ru->pair;
                uint64_t eb = both[r] < m[r] ? both[r] : m[r];
                uint64_t sb = both[p] < m[p] ? both[p] : m[p];
                const char *outcome[] = {"both", "only_enabled", "only_shadow"};
                uint64_t v[] = {eb, m[r] - eb, m[p] - sb};
                for (int k = 0; k < 3; k++) {
                    fz_prom_labels_init(&l);
                    fz_prom_label(&l, "rule", ru->id);
                    fz_prom_label(&l, "outcome", outcome[k]);
                    fz_prom_u64(b, "fanzha_rule_revision_events_total", &l, v[k]);
                }
            }
        }
        free(m);
    }
    fz_ruleset_unref(rs);
}

int fz_metrics_write(fz_ops *o, fz_buf *b) {
    pthread_mutex_lock(&o->lock);
    fz_app *app = o->app;
    fz_prom_family(b, "fanzha_build_info", "info", "The fanzha build (value 1)");
    fz_prom_labels l;
    fz_prom_labels_init(&l);
    fz_prom_label(&l, "version", FZ_VERSION);
    fz_prom_u64(b, "fanzha_build_info", &l, 1);
    fz_prom_family(b, "fanzha_start_time_seconds", "gauge", "When the process started");
    fz_prom_f64(b, "fanzha_start_time_seconds", NULL, (double)o->started_ms / 1e3);
    int ready = 0;
    if (o->phase == FZ_PHASE_RUNNING && !atomic_load(&app->fatal)) {
        ready = 1;
        for (int i = 0; i < app->nthreads; i++)
            if (!atomic_load(&fz_sthread_tel(app->threads[i])->joined)) ready = 0;
    }
    fz_prom_gauge(b, "fanzha_ready", "1 when /readyz answers 200", ready);
    if (o->phase != FZ_PHASE_STARTING && app->threads) {
        fz_prom_gauge(b, "fanzha_stream_threads", "Stream threads (consumer group members)",
                      app->nthreads);
        counters(app, b);
        alerts(app, b);
        latency(app, b);
        tasks(app, b);
        rules(o, b);
    }
    pthread_mutex_unlock(&o->lock);
    return 200;
}

int fz_health_check(fz_ops *o, fz_buf *b) {
    pthread_mutex_lock(&o->lock);
    fz_app *app = o->app;
    int status = 200;
    if (atomic_load(&app->fatal)) {
        status = 503;
        fz_buf_printf(b, "fatal: %s\n", app->fatal_msg);
    } else if (o->phase == FZ_PHASE_RUNNING) {
        int64_t now = fz_mono_ms(), stall = app->cfg->health_stall_ms;
        for (int i = 0; i < app->nthreads; i++) {
            fz_sthread_telemetry *t = fz_sthread_tel(app->threads[i]);
            int64_t beat = atomic_load_explicit(&t->beat_ms, memory_order_relaxed);
            if (atomic_load(&t->exited)) {
                status = 503;
                fz_buf_printf(b, "stream thread %d has stopped\n", i);
            } else if (!atomic_load(&t->restoring) && now - beat > stall) {
                status = 503;
                fz_buf_printf(b,
                              "stream thread %d: its record loop has not turned for %lld ms "
                              "(health_stall_ms %lld)\n",
                              i, (long long)(now - beat), (long long)stall);
            }
        }
    }
    if (status == 200)
        fz_buf_puts(b, o->phase == FZ_PHASE_STARTING   ? "ok: starting\n"
                       : o->phase == FZ_PHASE_STOPPING ? "ok: stopping\n"
                                                       : "ok\n");
    pthread_mutex_unlock(&o->lock);
    return status;
}

int fz_ready_check(fz_ops *o, fz_buf *b) {
    pthread_mutex_lock(&o->lock);
    fz_app *app = o->app;
    int status = 200;
    fz_buf d;
    fz_buf_init(&d, 1 << 16);
    char kerr[1024];
    if (atomic_load(&app->fatal)) {
        status = 503;
        fz_buf_printf(&d, "fatal: %s\n", app->fatal_msg);
    } else if (fz_kafka_failed(kerr, sizeof(kerr))) { /* the process stops at once */
        status = 503;
        fz_buf_printf(&d, "kafka: %s\n", kerr);
    } else if (o->phase == FZ_PHASE_STARTING) {
        status = 503;
        fz_buf_printf(&d, "starting: %s\n", o->starting);
    } else if (o->phase == FZ_PHASE_STOPPING) {
        status = 503;
        fz_buf_puts(&d, "stopping: finishing in-flight work\n");
    } else {
        int64_t parts = 0, restoring = 0;
        for (int i = 0; i < app->nthreads; i++) {
            fz_sthread_telemetry *t = fz_sthread_tel(app->threads[i]);
            if (!atomic_load(&t->joined)) {
                status = 503;
                fz_buf_printf(&d, "stream thread %d: waiting for its first assignment\n", i);
            }
            restoring += atomic_load(&t->restoring);
            pthread_mutex_lock(&t->lock);
            parts += t->snap.nrows;
            pthread_mutex_unlock(&t->lock);
        }
        fz_buf_printf(&d, "partitions: %lld assigned, %lld restoring\n", (long long)parts,
                      (long long)restoring);
        pthread_mutex_lock(&app->rs_lock);
        fz_buf_printf(&d, "ruleset: %s (%zu rules)\n", fz_ruleset_version(app->rs),
                      fz_ruleset_count(app->rs));
        pthread_mutex_unlock(&app->rs_lock);
        if (o->reloader) {
            char src[512];
            int ok = fz_reloader_source_ok(o->reloader, src, sizeof(src));
            fz_buf_printf(&d, "rules source: %s%s\n", ok ? "" : "MISSING: ", src);
            if (fz_reloader_pinned(o->reloader))
                fz_buf_puts(&d, "rules: pinned by a rollback (file changes are not loaded)\n");
        }
    }
    fz_buf_puts(b, status == 200 ? "ready\n" : "not ready\n");
    fz_buf_put(b, d.p, d.len);
    fz_buf_free(&d);
    pthread_mutex_unlock(&o->lock);
    return status;
}
