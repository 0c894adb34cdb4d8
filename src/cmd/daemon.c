/*
 * daemon.c - `fanzha run`: the process around the stream threads.
 *
 * DESIGN. The main thread resolves the topics (kafka/topics.h), builds the
 * ruleset, starts the global watchlist's reader and waits until it has
 * read the watch changelog to its end, then starts `threads` stream
 * threads (stream/thread.c) - each a member of the consumer group with its
 * own tasks - and the reload thread (rule files, SIGHUP, admin socket). It
 * then only logs statistics until SIGTERM/SIGINT or a fatal error, when it
 * stops the stream threads (each commits and leaves the group), the reader
 * and the reload thread, in that order.
 *
 * Rules: the reload thread prepares one matcher per stream thread, offers
 * them under rs_lock and bumps rs_gen; each thread swaps its matcher in
 * between two records; once all have moved, the reload thread frees the
 * matchers they replaced. No record is scanned with half a ruleset.
 *
 * Threads and what they own: see stream/stream.h.
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "artifact.h"
#include "http.h"
#include "kafka.h"
#include "metrics.h"
#include "reload.h"
#include "stream.h"

static _Atomic int g_stop;             /* lock-free: stored by the signal handler */
#define STARTUP_WAIT_MS 300000         /* for a cluster that does not answer yet */
static volatile sig_atomic_t g_reload; /* SIGHUP; the reload thread polls it */
static fz_ops g_ops;                   /* what the HTTP endpoints read */

static void on_signal(int sig) {
    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_stop = 1;
}

/* ---- rules (reload thread, and start-up) ---- */

static int rules_publish(void *ctx, fz_ruleset *rs, char *errstr, size_t errstr_size) {
    fz_app *app = ctx;
    fz_matcher **ms = calloc((size_t)app->nthreads + 1, sizeof(*ms));
    if (!ms) {
        snprintf(errstr, errstr_size, "out of memory");
        fz_ruleset_unref(rs);
        return -1;
    }
    for (int i = 0; i < app->nthreads; i++)
        if (!(ms[i] = fz_matcher_new(rs, errstr, errstr_size))) {
            for (int k = 0; k < i; k++) fz_matcher_destroy(ms[k]);
            free(ms);
            fz_ruleset_unref(rs);
            return -1;
        }
    pthread_mutex_lock(&app->rs_lock);
    fz_ruleset *old = app->rs;
    app->rs = rs;
    uint64_t gen = atomic_load(&app->rs_gen) + 1;
    for (int i = 0; i < app->nthreads; i++)
        fz_sthread_offer_matcher(app->threads[i], ms[i], fz_ruleset_ref(rs), gen);
    atomic_store_explicit(&app->rs_gen, gen, memory_order_release);
    pthread_mutex_unlock(&app->rs_lock);
    free(ms);
    /* wait for every thread to move; each looks between batches (<= 100 ms idle) */
    for (int i = 0; i < app->nthreads; i++)
        while (fz_sthread_rs_gen(app->threads[i]) < gen) {
            if (g_stop || atomic_load(&app->fatal) || atomic_load(&app->stop))
                goto out; /* teardown frees the rest */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    uint64_t max_ns = 0;
    pthread_mutex_lock(&g_ops.lock); /* a scrape reads the matchers' counters */
    for (int i = 0; i < app->nthreads; i++) {
        uint64_t ns;
        fz_sthread_release_retired(app->threads[i], &ns);
        if (ns > max_ns) max_ns = ns;
    }
    pthread_mutex_unlock(&g_ops.lock);
    fz_info("ruleset %s: all %d worker(s) moved; longest worker stall %.1f us",
            fz_ruleset_version(rs), app->nthreads, (double)max_ns / 1e3);
out:
    fz_ruleset_unref(old);
    return 0;
}

typedef struct totals {
    uint64_t consumed, screened, routed, marks, decided, alerts, suppressed, duplicates,
        dead_letters, rejected, campaign_summaries, stats_records, commits, retries, aborts,
        restores, restore_ms, restored_entries, restore_retries, offsets_lost, incarnations, tasks,
        producer_waits, producer_resets;
    uint64_t clean, invalid, intercepts;
} totals;

static totals sum(fz_app *app) {
    totals s;
    memset(&s, 0, sizeof(s));
#define ADD(f, g) s.f += atomic_load_explicit(&c->g, memory_order_relaxed)
    for (int i = 0; i < app->nthreads; i++) {
        const fz_sthread_counters *c = fz_sthread_counters_of(app->threads[i]);
        ADD(consumed, consumed);
        ADD(screened, screened);
        ADD(routed, routed);
        ADD(marks, marks);
        ADD(decided, decided);
        ADD(alerts, alerts);
        ADD(suppressed, suppressed);
        ADD(duplicates, duplicates);
        ADD(dead_letters, dead_letters);
        ADD(rejected, rejected_outputs);
        ADD(campaign_summaries, campaign_summaries);
        ADD(stats_records, stats_records);
        ADD(commits, commits);
        ADD(retries, commit_retries);
        ADD(aborts, aborts);
        ADD(restores, restores);
        ADD(restore_ms, restore_ms);
        ADD(restored_entries, restored_entries);
        ADD(restore_retries, restore_retries);
        ADD(offsets_lost, offsets_lost);
        ADD(incarnations, incarnations);
        ADD(tasks, tasks);
        ADD(producer_waits, producer_waits);
        ADD(producer_resets, producer_resets);
        const fz_counters *pc = fz_pipeline_counters(fz_sthread_pipeline(app->threads[i]));
        s.invalid += atomic_load_explicit(&pc->invalid, memory_order_relaxed);
        s.intercepts += atomic_load_explicit(&pc->intercepts, memory_order_relaxed);
    }
    for (int i = 0; i < app->nthreads; i++) {
        const fz_counters *c = fz_pipeline_counters(fz_sthread_pipeline(app->threads[i]));
        s.clean += atomic_load_explicit(&c->clean, memory_order_relaxed);
    }
#undef ADD
    return s;
}

static void rules_status(void *ctx, fz_buf *b) {
    fz_app *app = ctx;
    totals t = sum(app);
    pthread_mutex_lock(&app->rs_lock);
    fz_buf_printf(b, "\"rules\":%zu,\"patterns\":%zu,\"threads\":%d,", fz_ruleset_count(app->rs),
                  fz_ruleset_pattern_count(app->rs), app->nthreads);
    pthread_mutex_unlock(&app->rs_lock);
    fz_buf_printf(b,
                  "\"processing_guarantee\":\"%s\",\"instance_id\":\"%s\",\"tasks\":%llu,"
                  "\"events\":%llu,\"routed\":%llu,\"alerts\":%llu,\"suppressed\":%llu,"
                  "\"invalid\":%llu,\"dead_letters\":%llu,\"commits\":%llu,\"aborts\":%llu,"
                  "\"restores\":%llu,\"restore_ms\":%llu,\"restored_entries\":%llu",
                  app->eos ? "exactly_once" : "at_least_once", app->instance,
                  (unsigned long long)t.tasks, (unsigned long long)t.screened,
                  (unsigned long long)t.routed, (unsigned long long)t.alerts,
                  (unsigned long long)t.suppressed, (unsigned long long)t.invalid,
                  (unsigned long long)t.dead_letters, (unsigned long long)t.commits,
                  (unsigned long long)t.aborts, (unsigned long long)t.restores,
                  (unsigned long long)t.restore_ms, (unsigned long long)t.restored_entries);
}

/* Reload thread: the only thread that frees matchers, so reading the
 * threads' current matchers here is safe. */
static void rules_stats(void *ctx, fz_buf *b) {
    fz_app *app = ctx;
    pthread_mutex_lock(&app->rs_lock);
    fz_ruleset *rs = fz_ruleset_ref(app->rs);
    pthread_mutex_unlock(&app->rs_lock);
    const fz_rule_counters *ctr[1024];
    int n = 0;
    for (int i = 0; i < app->nthreads && n < 1024; i++) {
        fz_matcher *m = fz_sthread_matcher(app->threads[i]);
        if (m && fz_matcher_ruleset(m) == rs) ctr[n++] = fz_matcher_counters(m);
    }
    fz_rule_stats_encode(b, rs, ctr, n);
    fz_ruleset_unref(rs);
}

static void log_stats(fz_app *app) {
    totals t = sum(app);
    fz_watch_stats ws = {0};
    if (app->watch) fz_watch_stats_get(app->watch, &ws);
    fz_info("stats: consumed=%llu processed=%llu clean=%llu routed=%llu marks=%llu decided=%llu "
            "alerts=%llu suppressed=%llu invalid=%llu dead_letters=%llu rejected_outputs=%llu "
            "duplicates=%llu campaign_summaries=%llu intercepts=%llu stats_records=%llu "
            "commits=%llu commit_retries=%llu aborts=%llu tasks=%llu restores=%llu "
            "restore_ms=%llu restored_entries=%llu restore_retries=%llu offsets_lost=%llu "
            "incarnations=%llu producer_waits=%llu producer_resets=%llu "
            "watched=%llu watch_evictions=%llu watchlog_records=%llu",
            (unsigned long long)t.consumed, (unsigned long long)t.screened,
            (unsigned long long)t.clean, (unsigned long long)t.routed, (unsigned long long)t.marks,
            (unsigned long long)t.decided, (unsigned long long)t.alerts,
            (unsigned long long)t.suppressed, (unsigned long long)t.invalid,
            (unsigned long long)t.dead_letters, (unsigned long long)t.rejected,
            (unsigned long long)t.duplicates, (unsigned long long)t.campaign_summaries,
            (unsigned long long)t.intercepts, (unsigned long long)t.stats_records,
            (unsigned long long)t.commits, (unsigned long long)t.retries,
            (unsigned long long)t.aborts, (unsigned long long)t.tasks,
            (unsigned long long)t.restores, (unsigned long long)t.restore_ms,
            (unsigned long long)t.restored_entries, (unsigned long long)t.restore_retries,
            (unsigned long long)t.offsets_lost, (unsigned long long)t.incarnations,
            (unsigned long long)t.producer_waits, (unsigned long long)t.producer_resets,
            (unsigned long long)ws.entries, (unsigned long long)ws.evictions,
            (unsigned long long)fz_watchlog_records(app->watchlog));
}

/* ---- the HTTP endpoints ---- */

static int http_metrics(void *ctx, fz_buf *out) { return fz_metrics_write(ctx, out); }
static int http_healthz(void *ctx, fz_buf *out) { return fz_health_check(ctx, out); }
static int http_readyz(void *ctx, fz_buf *out) { return fz_ready_check(ctx, out); }

static void ops_phase(fz_phase phase, fz_reloader *r, const char *starting) {
    pthread_mutex_lock(&g_ops.lock);
    g_ops.phase = phase;
    g_ops.reloader = r;
    if (starting) snprintf(g_ops.starting, sizeof(g_ops.starting), "%s", starting);
    pthread_mutex_unlock(&g_ops.lock);
}

/* ---- set-up ---- */

static size_t share(int64_t total, int32_t parts) {
    if (total <= 0) return 0;
    size_t n = (size_t)((total + parts - 1) / parts);
    return n < 8 ? 8 : n;
}

int fz_daemon_main(const fz_config *cfg) {
    fz_app *app = calloc(1, sizeof(*app));
    char err[1024];
    int rc = 1;
    fz_reloader *reloader = NULL;
    fz_http *http = NULL;
    if (!app) return 1;
    app->cfg = cfg;
    pthread_mutex_init(&app->rs_lock, NULL);
    pthread_mutex_init(&app->susp_lock, NULL);
    app->eos = !strcmp(cfg->processing_guarantee, "exactly_once");
    app->commit_ms = cfg->commit_interval_ms > 0 ? cfg->commit_interval_ms : app->eos ? 100 : 1000;
    app->bounds = (fz_time_bounds){cfg->max_event_ahead_ms, cfg->max_event_lag_ms};
    if (cfg->instance_id && *cfg->instance_id)
        snprintf(app->instance, sizeof(app->instance), "%s", cfg->instance_id);
    else if (gethostname(app->instance, sizeof(app->instance) - 1) != 0 || !app->instance[0])
        snprintf(app->instance, sizeof(app->instance), "fanzha");
    app->nthreads = fz_config_threads(cfg);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* the endpoints first: a probe gets an answer while rules load and
     * state is read */
    pthread_mutex_init(&g_ops.lock, NULL);
    g_ops.app = app;
    g_ops.started_ms = fz_now_ms();
    ops_phase(FZ_PHASE_STARTING, NULL, "loading the rules");
    if (cfg->metrics_address && strcmp(cfg->metrics_address, "off") != 0) {
        static const fz_http_ops hops_tmpl = {NULL, http_metrics, http_healthz, http_readyz};
        fz_http_ops hops = hops_tmpl;
        hops.ctx = &g_ops;
        if (!(http = fz_http_start(cfg->metrics_address, &hops, err, sizeof(err)))) {
            rc = 2;
            goto out_err;
        }
        fz_info("metrics: http://%s/metrics (port %d), probes /healthz /readyz",
                cfg->metrics_address, fz_http_port(http));
    }

    {
        fz_rule_diags diags = {0};
        int64_t t0 = fz_mono_ms();
        app->rs = fz_rules_build_kept(cfg, fz_rules_history(cfg), &diags);
        fz_rules_log_diags(&diags);
        fz_rule_diags_free(&diags);
        if (!app->rs) {
            fz_error("rules in %s rejected; cannot start",
                     cfg->rules_compiled ? cfg->rules_compiled : cfg->rules_dir);
            rc = 2;
            goto out;
        }
        fz_info("ruleset %s active: %zu rules, %zu patterns, signer %s (loaded in %lld ms; %zu "
                "of %zu databases from the rules cache)",
                fz_ruleset_version(app->rs), fz_ruleset_count(app->rs),
                fz_ruleset_pattern_count(app->rs), fz_ruleset_artifact(app->rs)->key_id,
                (long long)(fz_mono_ms() - t0), fz_ruleset_cached_dbs(app->rs),
                fz_ruleset_db_count(app->rs));
    }
    if (fz_config_campaign_masks(cfg, &app->masks, err, sizeof(err)) != 0) {
        rc = 2;
        goto out_err;
    }
    ops_phase(FZ_PHASE_STARTING, NULL, "resolving the topics");
    for (int64_t until = fz_mono_ms() + STARTUP_WAIT_MS;;) {
        int r = fz_topics_prepare(cfg, &app->topics, err, sizeof(err));
        if (r == 0) break;
        if (r == FZ_TOPICS_UNREACHABLE && g_stop) {
            fz_info("stopped during start-up (the cluster was not ready: %s)", err);
            rc = 0;
            goto out;
        }
        if (r != FZ_TOPICS_UNREACHABLE || fz_mono_ms() >= until) {
            rc = r == FZ_TOPICS_UNREACHABLE ? 1 : 2;
            goto out_err;
        }
        fz_warn("the cluster is not ready (%s): trying again", err);
        sleep(2);
    }
    int32_t np = app->topics.partitions;
    app->stores = (fz_stores_config){share(cfg->dedup_capacity, np),
                                     share(cfg->campaign_capacity, np),
                                     cfg->dedup_window_ms,
                                     cfg->campaign_summary_ms,
                                     share(cfg->aggregate_capacity, np),
                                     (uint32_t)cfg->aggregate_exact_max,
                                     share(cfg->aggregate_memory_mb << 20, np)};
    if (cfg->intercept_capacity > 0) {
        app->watch = fz_watch_new((size_t)cfg->intercept_capacity, cfg->intercept_lookback_ms, err,
                                  sizeof(err));
        if (!app->watch) goto out_err;
        int64_t t0 = fz_mono_ms();
        ops_phase(FZ_PHASE_STARTING, NULL, "reading the watch changelog");
        if (!(app->watchlog = fz_watchlog_start(app, err, sizeof(err)))) goto out_err;
        if (fz_watchlog_catch_up(app->watchlog, -1, 300000, &g_stop) != 0) {
            if (atomic_load(&g_stop)) { /* told to stop: nothing started yet */
                fz_info("stopped during start-up, before any partition was assigned");
                rc = 0;
                goto out;
            }
            snprintf(err, sizeof(err),
                     "the watch changelog '%s' was not read to its end in 300 s (see the "
                     "warning before)",
                     app->topics.name[FZ_T_WATCH_LOG]);
            goto out_err;
        }
        fz_watch_stats ws;
        fz_watch_stats_get(app->watch, &ws);
        fz_info("watchlist: %llu number(s) read from '%s' in %lld ms",
                (unsigned long long)ws.entries, app->topics.name[FZ_T_WATCH_LOG],
                (long long)(fz_mono_ms() - t0));
    }
    ops_phase(FZ_PHASE_STARTING, NULL, "starting the stream threads");
    fz_sthread **threads = calloc((size_t)app->nthreads, sizeof(*threads));
    if (!threads) goto out;
    pthread_mutex_lock(&g_ops.lock);
    app->threads = threads;
    pthread_mutex_unlock(&g_ops.lock);
    for (int i = 0; i < app->nthreads; i++)
        if (!(app->threads[i] = fz_sthread_new(app, i, err, sizeof(err)))) {
            rc = 2;
            goto out_err;
        }
    for (int i = 0; i < app->nthreads; i++)
        if (fz_sthread_start(app->threads[i]) != 0) {
            snprintf(err, sizeof(err), "cannot start stream thread %d", i);
            goto out_err;
        }
    {
        static const fz_reload_ops ops_tmpl = {NULL, rules_publish, rules_status, rules_stats};
        fz_reload_ops ops = ops_tmpl;
        ops.ctx = app;
        reloader = fz_reloader_start(cfg, &ops, app->rs, &g_reload, err, sizeof(err));
        if (!reloader) {
            rc = 2;
            goto out_err;
        }
    }
    ops_phase(FZ_PHASE_RUNNING, reloader, NULL);
    fz_info("fanzha %s running: instance '%s', %d stream thread(s), group '%s', %s, brokers %s, "
            "alerts -> %s, dead letters -> %s, commit every %lld ms",
            FZ_VERSION, app->instance, app->nthreads, cfg->group_id,
            app->eos ? "exactly once" : "at least once", cfg->brokers, cfg->alerts_topic,
            app->topics.name[FZ_T_DLQ] ? app->topics.name[FZ_T_DLQ] : "(disabled)",
            (long long)app->commit_ms);
    int64_t next_stats = cfg->stats_interval_ms ? fz_mono_ms() + cfg->stats_interval_ms : INT64_MAX;
    while (!g_stop && !atomic_load(&app->fatal)) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        if (fz_kafka_failed(err, sizeof(err))) fz_app_fatal(app, "%s", err);
        if (fz_mono_ms() >= next_stats) {
            log_stats(app);
            next_stats = fz_mono_ms() + cfg->stats_interval_ms;
        }
    }
    fz_info("%s: finishing in-flight work", atomic_load(&app->fatal) ? "stopping after a fatal "
                                                                       "error"
                                                                     : "shutting down");
    rc = 0;
    goto out;

out_err:
    fz_error("%s", err);
out:
    ops_phase(FZ_PHASE_STOPPING, NULL, NULL); /* the endpoints stop reading the reloader */
    fz_reloader_stop(reloader);               /* no reload waits on the threads from here on */
    atomic_store(&app->stop, 1);
    for (int i = 0; app->threads && i < app->nthreads; i++) fz_sthread_join(app->threads[i]);
    if (app->threads && app->nthreads) log_stats(app);
    fz_http_stop(http); /* nothing reads the threads from here on */
    for (int i = 0; app->threads && i < app->nthreads; i++) fz_sthread_destroy(app->threads[i]);
    free(app->threads);
    fz_task_drop_suspended(app);
    fz_watchlog_stop(app->watchlog);
    fz_watch_destroy(app->watch);
    fz_topics_free(&app->topics);
    fz_mask_config_free(&app->masks);
    fz_ruleset_unref(app->rs);
    if (atomic_load(&app->fatal)) rc = 1;
    pthread_mutex_destroy(&g_ops.lock);
    pthread_mutex_destroy(&app->rs_lock);
    pthread_mutex_destroy(&app->susp_lock);
    free(app);
    if (rc == 0) fz_info("stopped cleanly");
    return rc;
}
