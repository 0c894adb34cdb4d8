/*
 * replay.c - see replay.h.
 *
 * DESIGN. Input is read in batches of up to batch_events lines, into two
 * batch slots used in turn. The scan of a batch (fz_pipeline_scan():
 * decode, match, key - the expensive, share-nothing part) is spread over
 * all threads in chunks of SCAN_CHUNK lines taken from an atomic counter,
 * so cheap and expensive events even out. The calling thread then walks
 * the batch in input order, consults the dedup table and encodes alerts
 * and verdicts - and it does so while the other threads already scan the
 * next batch, in the other slot. Deciding in input order makes the output
 * identical for any --threads value, which is what an analyst comparing
 * runs expects.
 *
 * Per batch: the caller reads batch k into its slot and publishes it, then
 * decides batch k-1 while the helpers scan k, then scans what is left of
 * k itself and waits until every line of k is scanned and every helper
 * that joined k has left it. Only then is k+1 published, so a helper never
 * sees a slot being refilled. A result's views point into its slot's
 * buffer and into the decoder arena of the pipeline that scanned it, so
 * every slot has its own pipeline per thread.
 *
 * Threads: rp->lock guards published, stop, busy and done; the slot being
 * scanned belongs to the scanners between its publication and the end of
 * the wait; everything else belongs to the calling thread.
 */
#include "replay.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "alert.h"
#include "campaign.h"
#include "ledger.h"
#include "watch.h"
#include "log.h"
#include "pipeline.h"
#include "reload.h"
#include "aggalert.h"
#include "stores.h"

typedef struct line_ref {
    size_t off; /* SIZE_MAX: oversized line, bytes not kept */
    size_t len; /* true length */
    uint64_t lineno;
    const char *file;
} line_ref;

#define SCAN_CHUNK 64 /* lines taken at a time by a scanning thread */

/* One batch slot. */
typedef struct batch {
    char *buf;
    line_ref *lines;
    size_t nlines;
    fz_result *results;
    fz_pipeline **pipes; /* one per thread: its decoder arena holds this slot's views */
    _Atomic size_t next; /* next line to scan */
} batch;

typedef struct replay replay;

typedef struct helper {
    replay *rp;
    int idx;
    pthread_t tid;
    int started;
} helper;

struct replay {
    const fz_config *cfg;
    fz_ruleset *rs;
    fz_stores stores; /* dedup and sms campaigns, for the whole input */
    fz_buf kb;        /* an aggregate alert's key */
    uint64_t agg_alerts;
    fz_watch *watch;             /* interception; NULL when off */
    fz_ledger *ledger;           /* loss-recovery statistics; NULL when off */
    fz_ledger_book *book;        /* its closed windows */
    fz_ledger_window win;        /* scratch: a window popped from the ledger */
    fz_campaign closed, summary; /* copies handed back by the table */
    fz_mask_config masks;
    fz_time_bounds bounds;
    int64_t watermark; /* newest event time accepted (fz_pipeline_time_check) */
    int nthreads;
    helper *helpers; /* [1 .. nthreads-1] */
    batch b[2];
    /* hand-over, under lock */
    pthread_mutex_t lock;
    pthread_cond_t go, finished;
    uint64_t published; /* batches published so far; the newest is in b[(published - 1) & 1] */
    int stop;
    int busy;    /* helpers inside the newest batch */
    size_t done; /* its lines scanned */
    /* input: complete lines of the last batch read stay in its slot's buffer */
    char *buf; /* that buffer */
    size_t cap, data_start, data_end;
    size_t next_input;
    FILE *in;
    const char *in_name;
    uint64_t lineno;
};

/* Scan chunks of bt until none is left; returns the lines this thread
 * scanned. Thread t of any; see DESIGN for when bt is safe to touch. */
static size_t scan_batch(batch *bt, int t) {
    fz_pipeline *p = bt->pipes[t];
    size_t n = bt->nlines, mine = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&bt->next, SCAN_CHUNK);
        if (i >= n) break;
        if (mine == 0) fz_pipeline_reset_arena(p); /* a thread that takes no line touches nothing */
        size_t end = i + SCAN_CHUNK < n ? i + SCAN_CHUNK : n;
        for (; i < end; i++) {
            line_ref *l = &bt->lines[i];
            const char *msg = l->off == SIZE_MAX ? bt->buf : bt->buf + l->off;
            fz_pipeline_scan(p, msg, l->len, &bt->results[i]);
            mine++;
        }
    }
    return mine;
}

static void *helper_main(void *arg) {
    helper *h = arg;
    replay *rp = h->rp;
    char name[32];
    snprintf(name, sizeof(name), "replay-%d", h->idx);
    fz_log_set_component(name);
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&rp->lock);
        while (rp->published == seen && !rp->stop) pthread_cond_wait(&rp->go, &rp->lock);
        if (rp->stop) {
            pthread_mutex_unlock(&rp->lock);
            break;
        }
        seen = rp->published; /* the newest: older ones are finished */
        batch *bt = &rp->b[(seen - 1) & 1];
        rp->busy++;
        pthread_mutex_unlock(&rp->lock);
        size_t mine = scan_batch(bt, h->idx);
        pthread_mutex_lock(&rp->lock);
        rp->done += mine;
        if (--rp->busy == 0 && rp->done == bt->nlines) pthread_cond_signal(&rp->finished);
        pthread_mutex_unlock(&rp->lock);
    }
    return NULL;
}

/* Hand bt (just read) to the helpers. Calling thread. */
static void publish(replay *rp, batch *bt) {
    atomic_store(&bt->next, 0);
    pthread_mutex_lock(&rp->lock);
    rp->done = 0;
    rp->published++;
    pthread_cond_broadcast(&rp->go);
    pthread_mutex_unlock(&rp->lock);
}

/* Scan what is left of bt, then wait until all of it is scanned and no
 * helper is inside it. Calling thread. */
static void finish_scan(replay *rp, batch *bt) {
    size_t mine = scan_batch(bt, 0);
    pthread_mutex_lock(&rp->lock);
    rp->done += mine;
    while (rp->done < bt->nlines || rp->busy > 0) pthread_cond_wait(&rp->finished, &rp->lock);
    pthread_mutex_unlock(&rp->lock);
}

/* Open the next input; returns 0, or -1 when there is none or on error
 * (*err set). */
static int open_next(replay *rp, int *err) {
    const fz_config *c = rp->cfg;
    if (rp->in && rp->in != stdin) fclose(rp->in);
    rp->in = NULL;
    if (c->n_inputs == 0 && rp->next_input == 0) {
        rp->next_input = 1;
        rp->in = stdin;
        rp->in_name = "-";
    } else if (rp->next_input < c->n_inputs) {
        const char *name = c->inputs[rp->next_input++];
        rp->in_name = name;
        rp->in = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
        if (!rp->in) {
            fz_error("%s: cannot open: %s", name, strerror(errno));
            *err = 1;
            return -1;
        }
    } else {
        return -1;
    }
    rp->lineno = 0;
    return 0;
}

static void add_line(replay *rp, batch *bt, size_t off, size_t len) {
    rp->lineno++;
    if (off != SIZE_MAX && len && rp->buf[off + len - 1] == '\r') len--;
    if (len == 0) return; /* blank lines are skipped */
    bt->lines[bt->nlines++] = (line_ref){off, len, rp->lineno, rp->in_name};
}

/*
 * Read up to batch_events lines into bt. The part of a line that the last
 * batch read left at the end of its buffer is copied to the start of bt's
 * first; complete lines stay in bt->buf until bt is read into again. A line longer than the buffer
 * (which is more than twice max_event_bytes) is skipped to its newline and recorded with its length
 * only; the decoder rejects it as too_large without reading it.
 * Returns the number of lines; 0 at the end of all input.
 */
static size_t read_batch(replay *rp, batch *bt, int *err) {
    size_t max_lines = (size_t)rp->cfg->batch_events;
    memmove(bt->buf, rp->buf + rp->data_start, rp->data_end - rp->data_start);
    rp->buf = bt->buf;
    rp->data_end -= rp->data_start;
    rp->data_start = 0;
    bt->nlines = 0;
    size_t pos = 0;
    while (bt->nlines < max_lines) {
        if (!rp->in && open_next(rp, err) != 0) break;
        char *nl = memchr(rp->buf + pos, '\n', rp->data_end - pos);
        if (nl) {
            add_line(rp, bt, pos, (size_t)(nl - rp->buf) - pos);
            pos = (size_t)(nl - rp->buf) + 1;
            continue;
        }
        if (rp->data_end == rp->cap) {
            if (pos > 0) break; /* process this batch, then compact */
            /* one line fills the buffer: measure and drop the rest of it */
            size_t total = rp->data_end;
            int ch;
            while ((ch = getc(rp->in)) != EOF && ch != '\n') total++;
            rp->data_end = 0;
            add_line(rp, bt, SIZE_MAX, total);
            continue;
        }
        size_t got = fread(rp->buf + rp->data_end, 1, rp->cap - rp->data_end, rp->in);
        if (got > 0) {
            rp->data_end += got;
            continue;
        }
        if (ferror(rp->in)) {
            fz_error("%s: read error: %s", rp->in_name, strerror(errno));
            *err = 1;
        }
        if (pos < rp->data_end) { /* last line without a newline */
            add_line(rp, bt, pos, rp->data_end - pos);
            pos = rp->data_end;
        }
        if (rp->in != stdin) fclose(rp->in);
        rp->in = NULL;
        if (bt->nlines > 0) break; /* keep file boundaries simple: flush */
        memmove(rp->buf, rp->buf + pos, rp->data_end - pos);
        rp->data_end -= pos;
        pos = 0;
    }
    rp->data_start = pos;
    return bt->nlines;
}

static int write_all(FILE *fp, const fz_buf *b, const char *name) {
    if (b->len && fwrite(b->p, 1, b->len, fp) != b->len) {
        fz_error("%s: write error: %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

static void print_summary(replay *rp, double secs) {
    uint64_t ev = 0, al = 0, su = 0, cl = 0, inv = 0, by[FZ_REASON_COUNT] = {0};
    for (int k = 0; k < 2 * rp->nthreads; k++) {
        fz_counters *c = fz_pipeline_counters(rp->b[k & 1].pipes[k >> 1]);
        ev += c->events;
        al += c->alerts;
        su += c->suppressed;
        cl += c->clean;
        inv += c->invalid;
        for (int r = 0; r < FZ_REASON_COUNT; r++) by[r] += c->invalid_by_reason[r];
    }
    fprintf(stderr,
            "fanzha replay: %llu events, %llu alerts, %llu suppressed, %llu clean, %llu invalid",
            (unsigned long long)ev, (unsigned long long)al, (unsigned long long)su,
            (unsigned long long)cl, (unsigned long long)inv);
    for (int r = 1; r < FZ_REASON_COUNT; r++)
        if (by[r])
            fprintf(stderr, " %s=%llu", fz_reason_name((fz_reason)r), (unsigned long long)by[r]);
    fprintf(stderr, "; %.3f s, %.0f events/s, %d thread(s), ruleset %s (%zu rules)\n", secs,
            secs > 0 ? (double)ev / secs : 0.0, rp->nthreads, fz_ruleset_version(rp->rs),
            fz_ruleset_count(rp->rs));
    /* the state tables: fixed at start-up, so bytes / capacity is the cost of an entry */
    fz_dedup_stats ds;
    fz_dedup_stats_get(rp->stores.dedup, &ds);
    fprintf(stderr, "state: dedup %llu of %llu entries (%.1f B each)",
            (unsigned long long)ds.entries, (unsigned long long)ds.capacity,
            ds.capacity ? (double)ds.bytes / (double)ds.capacity : 0.0);
    if (rp->stores.campaigns) {
        fz_campaigns_stats cs;
        fz_campaigns_stats_get(rp->stores.campaigns, &cs);
        fprintf(stderr, "; campaigns %llu live, %llu evicted, %.1f MiB",
                (unsigned long long)cs.campaigns, (unsigned long long)cs.evictions,
                (double)cs.bytes / 1048576.0);
    }
    if (rp->watch) {
        fz_watch_stats ws;
        fz_watch_stats_get(rp->watch, &ws);
        size_t cap = ((size_t)rp->cfg->intercept_capacity + 7) / 8 * 8;
        fprintf(stderr, "; watchlist %llu of %zu entries (%.1f B each), %llu evicted",
                (unsigned long long)ws.entries, cap, (double)ws.bytes / (double)cap,
                (unsigned long long)ws.evictions);
    }
    size_t naggs;
    fz_ruleset_aggs(rp->rs, &naggs);
    if (rp->stores.aggs && naggs) {
        fz_agg_stats as;
        fz_aggs_stats_get(rp->stores.aggs, &as);
        fprintf(stderr,
                "; aggregates %llu alerts, %llu of %llu windows (%llu estimated), %llu evicted, "
                "%llu late, %llu over budget, %.1f MiB",
                (unsigned long long)rp->agg_alerts, (unsigned long long)as.entries,
                (unsigned long long)as.capacity, (unsigned long long)as.estimated,
                (unsigned long long)as.evictions, (unsigned long long)as.late,
                (unsigned long long)as.over_budget, (double)as.bytes / 1048576.0);
    }
    fputc('\n', stderr);
}

typedef struct drain_ctx {
    fz_buf *b;
    int64_t window_ms;
} drain_ctx;

/* Closing summary of a campaign still open at the end of the input, in
 * key order of the table (deterministic for a given input). */
static void drain_one(void *ctx, const fz_campaign *cp) {
    drain_ctx *dc = ctx;
    if (!fz_campaign_worth_closing(cp)) return;
    fz_campaign_encode(dc->b, cp, FZ_CAMPAIGN_CLOSED_END, dc->window_ms);
    fz_buf_putc(dc->b, '\n');
}

/* End of input: the open windows close; print the table and write the
 * windows with their comparisons to stats_output. */
static int finish_ledger(replay *rp) {
    const fz_config *cfg = rp->cfg;
    while (fz_ledger_pop_any(rp->ledger, &rp->win))
        if (fz_ledger_book_add(rp->book, &rp->win) != 0) {
            fz_error("out of memory collecting statistics");
            return -1;
        }
    fz_ledger_book_print(rp->book, 10, stderr);
    if (!cfg->stats_output) return 0;
    FILE *fp = strcmp(cfg->stats_output, "-") == 0 ? stdout : fopen(cfg->stats_output, "wb");
    if (!fp) {
        fz_error("%s: cannot open for writing: %s", cfg->stats_output, strerror(errno));
        return -1;
    }
    int rc = fz_ledger_book_write(rp->book, fp);
    if (rc) fz_error("%s: write error: %s", cfg->stats_output, strerror(errno));
    if (fp != stdout && fclose(fp) != 0) rc = -1;
    return rc;
}

/* Per-rule counters summed over every pipeline, as JSON lines. */
static int write_rule_stats(replay *rp, const char *path) {
    int n = 2 * rp->nthreads;
    const fz_rule_counters **ctr = malloc((size_t)n * sizeof(*ctr));
    if (!ctr) {
        fz_error("%s: out of memory", path);
        return -1;
    }
    for (int k = 0; k < n; k++)
        ctr[k] = fz_matcher_counters(fz_pipeline_matcher(rp->b[k & 1].pipes[k >> 1]));
    fz_buf b;
    fz_buf_init(&b, (size_t)1 << 30);
    fz_rule_stats_encode(&b, rp->rs, ctr, n);
    FILE *fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    int rc = fp && !b.failed && fwrite(b.p, 1, b.len, fp) == b.len ? 0 : -1;
    if (fp && fp != stdout && fclose(fp) != 0) rc = -1;
    if (rc) fz_error("%s: cannot write rule statistics: %s", path, strerror(errno));
    fz_buf_free(&b);
    free(ctr);
    return rc;
}

/*
 * The stateful half of bt, in input order: dedup, campaigns, interception,
 * statistics, and the alerts and verdicts encoded into ob and vb (reset
 * first). Returns 0; 1 when an output buffer overflowed (reported); -1
 * with errstr filled. Calling thread.
 */
static int decide(replay *rp, batch *bt, fz_buf *ob, fz_buf *vb, int64_t window, char *errstr,
                  size_t errstr_size) {
    fz_pipeline *p = bt->pipes[0]; /* any of the slot's: only its counters are used */
    fz_buf_reset(ob);
    fz_buf_reset(vb);
    int64_t now = fz_now_ms();
    for (size_t i = 0; i < bt->nlines; i++) {
        fz_result *r = &bt->results[i];
        fz_source src = {.file = bt->lines[i].file, .line = bt->lines[i].lineno};
        fz_pipeline_time_check(p, &rp->bounds, now, &rp->watermark, r);
        fz_pipeline_intercept(p, rp->watch, r);
        fz_pipeline_decide(p, &rp->stores, r, &rp->closed, &rp->summary);
        if (r->campaign_closed && fz_campaign_worth_closing(&rp->closed)) {
            /* the campaign it replaces ends first */
            fz_campaign_encode(ob, &rp->closed, r->campaign_closed_state, window);
            fz_buf_putc(ob, '\n');
        }
        if (r->verdict == FZ_VERDICT_ALERT) {
            fz_alert_encode(ob, rp->rs, r, window, &src);
            fz_buf_putc(ob, '\n');
        }
        if (r->campaign_summary) {
            fz_campaign_encode(ob, &rp->summary, FZ_CAMPAIGN_OPEN, window);
            fz_buf_putc(ob, '\n');
        }
        if (r->naggs) rp->agg_alerts += fz_agg_step(rp->stores.aggs, rp->rs, r, ob, &rp->kb, &src);
        if (rp->ledger) {
            fz_ledger_add_result(rp->ledger, r, rp->rs, -1);
            while (fz_ledger_pop_closed(rp->ledger, &rp->win))
                if (fz_ledger_book_add(rp->book, &rp->win) != 0) {
                    snprintf(errstr, errstr_size, "out of memory");
                    return -1;
                }
        }
        if (rp->cfg->verdicts) {
            fz_verdict_encode(vb, rp->rs, r, &src);
            fz_buf_putc(vb, '\n');
        }
    }
    if (ob->failed || vb->failed) {
        fz_error("output buffer limit reached; lower batch_events");
        return 1;
    }
    return 0;
}

int fz_replay_main(const fz_config *cfg) {
    replay rp_, *rp = &rp_;
    memset(rp, 0, sizeof(*rp));
    rp->cfg = cfg;
    rp->bounds = (fz_time_bounds){cfg->max_event_ahead_ms, cfg->max_event_lag_ms};
    rp->watermark = INT64_MIN;
    pthread_mutex_init(&rp->lock, NULL);
    pthread_cond_init(&rp->go, NULL);
    pthread_cond_init(&rp->finished, NULL);
    int rc = 1, err = 0;
    char errstr[512];
    FILE *out = NULL, *vout = NULL;
    fz_buf ob, vb;
    size_t out_cap = (size_t)cfg->max_event_bytes * 8 + (1u << 20);
    fz_buf_init(&ob, out_cap * 64);
    fz_buf_init(&vb, out_cap * 64);
    fz_buf_init(&rp->kb, 4096);

    fz_rule_diags diags = {0};
    rp->rs = fz_rules_build(cfg, &diags);
    fz_rule_diags_print(&diags, stderr);
    fz_rule_diags_free(&diags);
    if (!rp->rs) {
        fz_error("rules in %s failed to load; nothing replayed",
                 cfg->rules_compiled ? cfg->rules_compiled : cfg->rules_dir);
        return 1;
    }
    if (fz_config_campaign_masks(cfg, &rp->masks, errstr, sizeof(errstr)) != 0) goto out_err;
    fz_stores_config sc = {(size_t)cfg->dedup_capacity,
                           (size_t)cfg->campaign_capacity,
                           cfg->dedup_window_ms,
                           cfg->campaign_summary_ms,
                           (size_t)cfg->aggregate_capacity,
                           (uint32_t)cfg->aggregate_exact_max,
                           (size_t)cfg->aggregate_memory_mb << 20};
    if (fz_stores_init(&rp->stores, &sc, 0, errstr, sizeof(errstr)) != 0) goto out_err;
    if (cfg->intercept_capacity > 0) {
        rp->watch = fz_watch_new((size_t)cfg->intercept_capacity, cfg->intercept_lookback_ms,
                                 errstr, sizeof(errstr));
        if (!rp->watch) goto out_err;
    }
    if (cfg->ledger_window_ms > 0) {
        rp->ledger = fz_ledger_new(cfg->ledger_window_ms, cfg->ledger_grace_ms);
        rp->book = fz_ledger_book_new(cfg->ledger_window_ms, cfg->ledger_period_ms);
        if (!rp->ledger || !rp->book) {
            snprintf(errstr, sizeof(errstr), "out of memory");
            goto out_err;
        }
    }

    out = strcmp(cfg->output, "-") == 0 ? stdout : fopen(cfg->output, "wb");
    if (!out) {
        fz_error("%s: cannot open for writing: %s", cfg->output, strerror(errno));
        goto out;
    }
    if (cfg->verdicts) {
        vout = strcmp(cfg->verdicts, "-") == 0 ? stdout : fopen(cfg->verdicts, "wb");
        if (!vout) {
            fz_error("%s: cannot open for writing: %s", cfg->verdicts, strerror(errno));
            goto out;
        }
    }

    rp->nthreads = fz_config_threads(cfg);
    rp->cap = (size_t)cfg->max_event_bytes * 2 + 2;
    if (rp->cap < (8u << 20)) rp->cap = 8u << 20;
    rp->helpers = calloc((size_t)rp->nthreads, sizeof(helper));
    if (!rp->helpers) {
        snprintf(errstr, sizeof(errstr), "out of memory");
        goto out_err;
    }
    for (int k = 0; k < 2; k++) {
        batch *bt = &rp->b[k];
        bt->buf = malloc(rp->cap);
        bt->lines = malloc((size_t)cfg->batch_events * sizeof(line_ref));
        bt->results = malloc((size_t)cfg->batch_events * sizeof(fz_result));
        bt->pipes = calloc((size_t)rp->nthreads, sizeof(fz_pipeline *));
        if (!bt->buf || !bt->lines || !bt->results || !bt->pipes) {
            snprintf(errstr, sizeof(errstr), "out of memory");
            goto out_err;
        }
        for (int t = 0; t < rp->nthreads; t++) {
            fz_pipeline *pl = bt->pipes[t] =
                fz_pipeline_new((size_t)cfg->max_event_bytes, rp->cap, errstr, sizeof(errstr));
            if (!pl || fz_pipeline_bind(pl, rp->rs, errstr, sizeof(errstr))) goto out_err;
            fz_pipeline_set_masks(pl, &rp->masks);
        }
    }
    rp->buf = rp->b[0].buf;
    for (int t = 1; t < rp->nthreads; t++) {
        helper *h = &rp->helpers[t];
        *h = (helper){.rp = rp, .idx = t};
        if (pthread_create(&h->tid, NULL, helper_main, h) != 0) {
            snprintf(errstr, sizeof(errstr), "cannot start thread");
            goto out_err;
        }
        h->started = 1;
    }

    int64_t t0 = fz_mono_ns();
    int64_t window = cfg->dedup_window_ms;
    batch *prev = NULL; /* scanned, not decided yet */
    for (uint64_t k = 0;; k++) {
        batch *bt = &rp->b[k & 1];
        size_t n = read_batch(rp, bt, &err);
        if (n > 0) publish(rp, bt); /* the helpers scan it ... */
        if (prev) {                 /* ... while this thread decides the one before */
            int d = decide(rp, prev, &ob, &vb, window, errstr, sizeof(errstr));
            if (d < 0) goto out_err;
            if (d > 0) goto out;
            if (write_all(out, &ob, cfg->output)) goto out;
            if (vout && write_all(vout, &vb, cfg->verdicts)) goto out;
        }
        if (n == 0) break;
        finish_scan(rp, bt);
        prev = bt;
    }
    if (rp->stores.campaigns) { /* end of input: every campaign still open closes */
        fz_buf_reset(&ob);
        drain_ctx dc = {&ob, window};
        fz_campaigns_drain(rp->stores.campaigns, drain_one, &dc);
        if (ob.failed) {
            fz_error("output buffer limit reached writing campaign summaries");
            goto out;
        }
        if (write_all(out, &ob, cfg->output)) goto out;
    }
    double secs = (double)(fz_mono_ns() - t0) / 1e9;
    if (fflush(out) != 0 || (vout && fflush(vout) != 0)) {
        fz_error("write error: %s", strerror(errno));
        goto out;
    }
    print_summary(rp, secs);
    if (rp->ledger && finish_ledger(rp) != 0) goto out;
    if (cfg->rule_stats && write_rule_stats(rp, cfg->rule_stats) != 0) goto out;
    rc = err ? 1 : 0;
    goto out;

out_err:
    fz_error("replay: %s", errstr);
out:
    pthread_mutex_lock(&rp->lock);
    rp->stop = 1;
    pthread_cond_broadcast(&rp->go);
    pthread_mutex_unlock(&rp->lock);
    for (int t = 1; rp->helpers && t < rp->nthreads; t++)
        if (rp->helpers[t].started) pthread_join(rp->helpers[t].tid, NULL);
    for (int k = 0; k < 2; k++) {
        batch *bt = &rp->b[k];
        for (int t = 0; bt->pipes && t < rp->nthreads; t++) fz_pipeline_destroy(bt->pipes[t]);
        free(bt->pipes);
        free(bt->buf);
        free(bt->lines);
        free(bt->results);
    }
    free(rp->helpers);
    pthread_mutex_destroy(&rp->lock);
    pthread_cond_destroy(&rp->go);
    pthread_cond_destroy(&rp->finished);
    if (out && out != stdout) fclose(out);
    if (vout && vout != stdout) fclose(vout);
    if (rp->in && rp->in != stdin) fclose(rp->in);
    fz_buf_free(&ob);
    fz_buf_free(&vb);
    fz_buf_free(&rp->kb);
    fz_ledger_destroy(rp->ledger);
    fz_ledger_book_destroy(rp->book);
    fz_stores_destroy(&rp->stores);
    fz_watch_destroy(rp->watch);
    fz_mask_config_free(&rp->masks);
    fz_ruleset_unref(rp->rs);
    return rc;
}
