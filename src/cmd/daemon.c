/*
 * daemon.c - see daemon.h.
 *
 * DESIGN. Threads and what each owns:
 *
 *   consumer thread (the caller of fz_daemon_main): the Kafka consumer,
 *     the rebalance callback, the offset trackers (one fz_track per
 *     assigned partition: head/tail), the per-worker "held" lists, commits,
 *     pause/resume, statistics and rule reloads. It polls, registers each
 *     message in its partition's tracker and hands it to the worker that
 *     owns the partition (partition -> worker is fixed, so one partition's
 *     events are processed, and their alerts produced, in order).
 *   N workers: each owns a pipeline (decoder, scratch, buffers, counters)
 *     and pops from its own bounded queue; it decodes, matches, dedups and
 *     produces alerts / dead letters with the slot as the delivery opaque,
 *     then releases the message. Shared with other workers: the ruleset
 *     (read-only, ref-counted) and the dedup table (striped locks).
 *   delivery thread: serves the producer's delivery reports; a successful
 *     report releases one pending count on the slot.
 *
 * At-least-once: a partition's committed offset only moves past a message
 * once the worker is done with it and every record it produced has been
 * acknowledged by the broker (offsets.h). kill -9 at any point therefore
 * re-processes at most the uncommitted tail; it never skips an alert.
 *
 * Backpressure: a full worker queue (or a full tracker ring) makes the
 * consumer thread hold the message and wait (HELD_WAIT_MS at a time) for
 * room before it polls again; if the held messages still pile up
 * (HELD_PAUSE), it pauses all assigned partitions, keeps calling poll (so
 * it stays in the group) and resumes once the held messages are queued
 * and the queues are below half. A full producer queue
 * makes the worker wait, which fills its queue: the pause propagates.
 * Nothing is ever dropped, and memory is bounded by queue_depth, the
 * tracker rings and librdkafka's own queue limits.
 *
 * Shutdown (SIGTERM/SIGINT) and revocation: stop dispatching, queue the
 * held messages, wait (up to shutdown_timeout_ms) until the trackers of the
 * partitions concerned are idle, commit synchronously, then release them.
 *
 * Statistics (ledger.h): each partition's worker counts its events into
 * the partition's ledger and writes closed windows to stats_topic. With a
 * state_topic it also checkpoints the open windows there (every
 * checkpoint_interval_ms while events flow, when idle, on revocation) and
 * holds back commits past the last checkpoint (part_state.held), so after
 * kill -9 the restart restores the checkpoint, re-reads from it, and counts
 * nothing twice. Re-read events below the committed offset produce no
 * output again (part_state.quiet_until).
 *
 * A delivery that fails for good (message too large, authorisation) is
 * fatal: the daemon stops without committing past it, and exits 1 so the
 * supervisor restarts it and the events are processed again.
 */
#define _GNU_SOURCE
#include "daemon.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "campaign.h"
#include "kafka.h"
#include "ledger.h"
#include "watch.h"
#include "log.h"
#include "offsets.h"
#include "pipeline.h"
#include "queue.h"
#include "reload.h"
#include "stores.h"

#define POP_BATCH 64
#define HELD_CAP 1024
#define HELD_PAUSE 512
#define HELD_WAIT_MS 50 /* per loop, for room in a worker queue before polling again */
#define TRACK_CAP 65536

typedef struct daemon_s daemon_s;

#define RECENT_MAX 16

/*
 * What fanzha keeps per assigned input partition beyond its offsets: the
 * loss-recovery ledger and where the restored checkpoint stands. Set up by
 * the consumer thread on assignment before any message of the partition is
 * queued; then only the partition's worker touches it, until the partition
 * is revoked and drained (the consumer thread writes the last checkpoint).
 */
typedef struct part_state {
    fz_ledger *ledger;    /* NULL when statistics are off */
    int64_t count_from;   /* offsets below are in the restored checkpoint: not counted again */
    int64_t quiet_until;  /* offsets below were committed: their records are out already */
    int64_t next_ckpt_ms; /* worker: monotonic time of the next checkpoint */
    int64_t next_offset;  /* one past the last offset counted; -1 none */
    int64_t last_msg_ts;  /* Kafka timestamp of that message (ms); -1 none */
    int dirty;            /* counted something since the last checkpoint */
    char key[320];        /* "<group>|<topic>|<partition>" */
    const fz_track *track;
    /* Windows closed by events not yet committed: their final records may
     * still be in flight, so checkpoints carry them and a restore writes
     * them again (same key, same values). The worker drops a window once
     * the committed offset passes the event that closed it. */
    fz_ledger_window *recent; /* RECENT_MAX */
    int64_t recent_at[RECENT_MAX];
    int nrecent;
    _Atomic int64_t committed; /* written by the consumer thread on commit */
    /* With checkpoints on, the worker keeps the slot of the first event it
     * counted after the last checkpoint pending until a checkpoint covers
     * it (and so every event up to it): no commit passes an event that a
     * restart could neither re-read nor find in a checkpoint. */
    fz_slot *held;
    int holding_idx; /* in the worker's holding list */
} part_state;

typedef struct worker {
    daemon_s *d;
    int idx;
    pthread_t tid;
    fz_queue *q;
    fz_pipeline *pipe;
    fz_buf out;
    fz_ruleset *rs;                    /* this worker's reference */
    _Atomic uint64_t rs_gen;           /* generation in use; read by the reload thread */
    _Atomic(fz_matcher *) cur_matcher; /* the pipeline's matcher, for rule-stats */
    fz_matcher *retired;               /* replaced by the last swap; freed by the reloader */
    fz_ruleset *retired_rs;
    _Atomic uint64_t swap_max_ns;
    _Atomic uint64_t campaign_summaries;
    fz_campaign closed, summary; /* copies handed back by the campaign table */
    fz_ledger_window win;        /* a window popped from a ledger */
    _Atomic uint64_t stats_records, checkpoints, recent_dropped;
    part_state **holding; /* partitions whose ps->held is set */
    int nholding, holding_cap;
    _Atomic uint64_t produced, dead_letters, produce_waits;
    /* held messages (consumer thread only): FIFO of items not yet queued */
    fz_work held[HELD_CAP];
    size_t held_head, held_len;
} worker;

struct daemon_s {
    const fz_config *cfg;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_topic_t *alerts_rkt, *dlq_rkt;
    rd_kafka_topic_t *stats_rkt, *state_rkt; /* NULL when off */
    fz_buf ckpt_out;                         /* consumer thread's encoding buffer */
    fz_ledger_window ckpt_win;
    fz_stores stores;            /* dedup and sms campaigns: one owner at a time ... */
    pthread_mutex_t stores_lock; /* ... so workers take turns (until the decide stage) */
    fz_watch *watch;             /* interception (shared, locked inside); NULL if off */
    fz_mask_config masks;        /* campaign masks per category, read-only */
    int64_t window_ms;
    int nworkers;
    worker *workers;
    pthread_t dr_tid;
    _Atomic int dr_stop;
    _Atomic int fatal;    /* a delivery or client failed for good */
    _Atomic int stopping; /* workers are being stopped: no reload may wait on them */
    char fatal_msg[512];
    /* ruleset publication: rs and pending[] guarded by rs_lock; rs_gen
     * bumped (release) after they are set */
    pthread_mutex_t rs_lock;
    fz_ruleset *rs;
    fz_matcher **pending; /* per worker: prepared for rs, not yet taken */
    _Atomic uint64_t rs_gen;
    fz_reloader *reloader;
    /* consumer-thread state */
    fz_track *tracks;  /* assigned partitions */
    fz_track *retired; /* released partitions with deliveries outstanding */
    fz_track *last_track;
    int paused;
    int commit_failed;
    uint64_t consumed, commits, pauses;
    _Atomic uint64_t delivered, delivery_failed;
    fz_ratelimit invalid_rl, consume_err_rl;
};

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload; /* SIGHUP; the reload thread polls it */

static void on_signal(int sig) {
    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_stop = 1;
}

static void set_fatal(daemon_s *d, const char *fmt, ...) FZ_PRINTF(2, 3);
static void set_fatal(daemon_s *d, const char *fmt, ...) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&d->fatal, &expected, 1)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->fatal_msg, sizeof(d->fatal_msg), fmt, ap);
    va_end(ap);
    fz_error("fatal: %s", d->fatal_msg);
}

/* ---- rules ----
 *
 * A reload prepares one matcher per worker on the reload thread, then
 * publishes them with the ruleset under rs_lock and bumps rs_gen. Each
 * worker, between batches, notices the new generation, swaps its matcher
 * in (a pointer exchange: the stall is measured) and parks the old one in
 * w->retired. The reload thread waits until every worker is on the new
 * generation, then frees what they parked: no event is scanned twice or
 * with a half-built ruleset, and the old rules live until nobody uses them.
 */

/* Reload thread (and start-up): publish rs, a reference handed over. */
static int rules_publish(void *ctx, fz_ruleset *rs, char *errstr, size_t errstr_size) {
    daemon_s *d = ctx;
    fz_matcher **ms = calloc((size_t)d->nworkers, sizeof(*ms));
    if (!ms) {
        snprintf(errstr, errstr_size, "out of memory");
        fz_ruleset_unref(rs);
        return -1;
    }
    for (int i = 0; i < d->nworkers; i++)
        if (!(ms[i] = fz_matcher_new(rs, errstr, errstr_size))) {
            for (int k = 0; k < i; k++) fz_matcher_destroy(ms[k]);
            free(ms);
            fz_ruleset_unref(rs);
            return -1;
        }
    pthread_mutex_lock(&d->rs_lock);
    fz_ruleset *old = d->rs;
    d->rs = rs;
    for (int i = 0; i < d->nworkers; i++) {
        fz_matcher_destroy(d->pending[i]); /* not taken yet: superseded */
        d->pending[i] = ms[i];
    }
    uint64_t gen = atomic_fetch_add_explicit(&d->rs_gen, 1, memory_order_release) + 1;
    pthread_mutex_unlock(&d->rs_lock);
    free(ms);
    /* wait for every worker to move; they look at least every 200 ms */
    for (int i = 0; i < d->nworkers; i++) {
        worker *w = &d->workers[i];
        while (atomic_load_explicit(&w->rs_gen, memory_order_acquire) < gen) {
            if (g_stop || atomic_load(&d->fatal) || atomic_load(&d->stopping))
                goto out; /* teardown frees the rest */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    uint64_t max_ns = 0;
    for (int i = 0; i < d->nworkers; i++) {
        worker *w = &d->workers[i];
        fz_matcher_destroy(w->retired);
        fz_ruleset_unref(w->retired_rs);
        w->retired = NULL;
        w->retired_rs = NULL;
        uint64_t ns = atomic_exchange(&w->swap_max_ns, 0);
        if (ns > max_ns) max_ns = ns;
    }
    fz_info("ruleset %s: all %d worker(s) moved; longest worker stall %.1f us",
            fz_ruleset_version(rs), d->nworkers, (double)max_ns / 1e3);
out:
    fz_ruleset_unref(old);
    return 0;
}

/* Worker: move to the published ruleset if it changed. */
static void worker_sync_rules(worker *w) {
    daemon_s *d = w->d;
    uint64_t gen = atomic_load_explicit(&d->rs_gen, memory_order_acquire);
    if (gen == atomic_load_explicit(&w->rs_gen, memory_order_relaxed)) return;
    int64_t t0 = fz_mono_ns();
    pthread_mutex_lock(&d->rs_lock);
    fz_matcher *nm = d->pending[w->idx];
    d->pending[w->idx] = NULL;
    fz_ruleset *rs = fz_ruleset_ref(d->rs);
    gen = atomic_load_explicit(&d->rs_gen, memory_order_relaxed);
    pthread_mutex_unlock(&d->rs_lock);
    if (nm) {
        /* the previous swap's leftovers were freed before this publish */
        w->retired = fz_pipeline_swap(w->pipe, nm);
        w->retired_rs = w->rs;
        w->rs = rs;
        atomic_store(&w->cur_matcher, nm);
    } else {
        fz_ruleset_unref(rs); /* nothing prepared for us: keep what we have */
    }
    uint64_t ns = (uint64_t)(fz_mono_ns() - t0);
    if (ns > atomic_load_explicit(&w->swap_max_ns, memory_order_relaxed))
        atomic_store_explicit(&w->swap_max_ns, ns, memory_order_relaxed);
    atomic_store_explicit(&w->rs_gen, gen, memory_order_release);
}

/* The workers' verdict counters, summed (relaxed reads; any thread). */
typedef struct totals {
    uint64_t events, alerts, suppressed, invalid;
} totals;

static totals sum_counters(daemon_s *d) {
    totals t = {0, 0, 0, 0};
    for (int i = 0; i < d->nworkers; i++) {
        fz_counters *c = fz_pipeline_counters(d->workers[i].pipe);
        t.events += atomic_load_explicit(&c->events, memory_order_relaxed);
        t.alerts += atomic_load_explicit(&c->alerts, memory_order_relaxed);
        t.suppressed += atomic_load_explicit(&c->suppressed, memory_order_relaxed);
        t.invalid += atomic_load_explicit(&c->invalid, memory_order_relaxed);
    }
    return t;
}

static void rules_status(void *ctx, fz_buf *b) {
    daemon_s *d = ctx;
    totals t = sum_counters(d);
    uint64_t ev = t.events, al = t.alerts, su = t.suppressed, inv = t.invalid;
    pthread_mutex_lock(&d->rs_lock);
    fz_buf_printf(b, "\"rules\":%zu,\"patterns\":%zu,\"workers\":%d,", fz_ruleset_count(d->rs),
                  fz_ruleset_pattern_count(d->rs), d->nworkers);
    pthread_mutex_unlock(&d->rs_lock);
    fz_buf_printf(b,
                  "\"events\":%llu,\"alerts\":%llu,\"suppressed\":%llu,\"invalid\":%llu,"
                  "\"delivered\":%llu",
                  (unsigned long long)ev, (unsigned long long)al, (unsigned long long)su,
                  (unsigned long long)inv, (unsigned long long)atomic_load(&d->delivered));
}

/* Reload thread: the only thread that frees matchers, so reading the
 * workers' current matchers here is safe. */
static void rules_stats(void *ctx, fz_buf *b) {
    daemon_s *d = ctx;
    pthread_mutex_lock(&d->rs_lock);
    fz_ruleset *rs = fz_ruleset_ref(d->rs);
    pthread_mutex_unlock(&d->rs_lock);
    const fz_rule_counters *ctr[1024];
    int n = 0;
    for (int i = 0; i < d->nworkers && n < 1024; i++) {
        fz_matcher *m = atomic_load(&d->workers[i].cur_matcher);
        if (m && fz_matcher_ruleset(m) == rs) ctr[n++] = fz_matcher_counters(m);
    }
    fz_rule_stats_encode(b, rs, ctr, n);
    fz_ruleset_unref(rs);
}

/* ---- producing ---- */

/* Produce one record for slot, waiting while the producer queue is full.
 * Returns 0, or -1 after marking the daemon fatal. Worker thread. */
static int produce_buf(daemon_s *d, _Atomic uint64_t *waits, rd_kafka_topic_t *rkt, const fz_buf *b,
                       const void *key, size_t key_len, fz_slot *slot) {
    if (slot) fz_slot_add(slot, 1);
    for (;;) {
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, b->p, b->len, key,
                             key_len, slot) == 0)
            return 0;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* broker slow or down: wait, never drop (backpressure) */
            if (waits) atomic_fetch_add_explicit(waits, 1, memory_order_relaxed);
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            if (atomic_load(&d->fatal)) break;
            continue;
        }
        set_fatal(d, "produce to %s failed: %s", rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
        break;
    }
    return -1; /* slot keeps the count: the offset is never committed */
}

static int produce(worker *w, rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                   fz_slot *slot) {
    return produce_buf(w->d, &w->produce_waits, rkt, &w->out, key, key_len, slot);
}

/* ---- statistics records and checkpoints ---- */

/* One window of a partition's ledger to stats_topic, keyed
 * "<group>|<topic>|<partition>|<window start>" so the latest record of a
 * key is the current count (interim records are superseded by later ones,
 * and a window re-counted after a restart has the same key). */
static int produce_window(daemon_s *d, fz_buf *b, _Atomic uint64_t *waits, const fz_track *t,
                          const part_state *ps, const fz_ledger_window *win, int final,
                          fz_slot *slot) {
    const fz_config *cfg = d->cfg;
    char key[400];
    int kn = snprintf(key, sizeof(key), "%s|%lld", ps->key, (long long)win->start_ms);
    fz_ledger_source src = {cfg->group_id, t->topic, t->partition, NULL, NULL};
    fz_buf_reset(b);
    if (fz_ledger_window_encode(b, win, cfg->ledger_window_ms, final, &src, NULL) != FZ_OK) {
        set_fatal(d, "statistics record exceeds the output buffer");
        return -1;
    }
    return produce_buf(d, waits, d->stats_rkt, b, key, (size_t)kn, slot);
}

#define CKPT_MAGIC "FZCKPT01"

/* The open windows as interim records, then the checkpoint: the ledger as
 * it stands after every offset below ps->next_offset was counted. */
static int produce_checkpoint(daemon_s *d, fz_buf *b, _Atomic uint64_t *waits, const fz_track *t,
                              part_state *ps, fz_slot *slot) {
    for (int i = 0; i < fz_ledger_open_count(ps->ledger); i++)
        if (produce_window(d, b, waits, t, ps, fz_ledger_open_window(ps->ledger, i), 0, slot))
            return -1;
    if (d->state_rkt) {
        fz_buf_reset(b);
        fz_buf_put(b, CKPT_MAGIC, 8);
        fz_buf_put(b, &ps->next_offset, sizeof(ps->next_offset));
        fz_buf_put(b, &ps->last_msg_ts, sizeof(ps->last_msg_ts));
        uint32_t nr = (uint32_t)ps->nrecent;
        fz_ledger_save(ps->ledger, b);
        fz_buf_put(b, &nr, sizeof(nr));
        for (int i = 0; i < ps->nrecent; i++) {
            fz_buf_put(b, &ps->recent_at[i], sizeof(int64_t));
            fz_ledger_window_save(&ps->recent[i], b);
        }
        if (b->failed) {
            set_fatal(d, "statistics checkpoint exceeds the output buffer");
            return -1;
        }
        if (produce_buf(d, waits, d->state_rkt, b, ps->key, strlen(ps->key), slot)) return -1;
    }
    ps->dirty = 0;
    return 0;
}

static void recent_shift(part_state *ps, int n) {
    ps->nrecent -= n;
    memmove(ps->recent, ps->recent + n, (size_t)ps->nrecent * sizeof(*ps->recent));
    memmove(ps->recent_at, ps->recent_at + n, (size_t)ps->nrecent * sizeof(int64_t));
}

static int holding_add(worker *w, part_state *ps) {
    if (w->nholding == w->holding_cap) {
        int cap = w->holding_cap ? w->holding_cap * 2 : 64;
        part_state **v = realloc(w->holding, (size_t)cap * sizeof(*v));
        if (!v) return -1;
        w->holding = v;
        w->holding_cap = cap;
    }
    ps->holding_idx = w->nholding;
    w->holding[w->nholding++] = ps;
    return 0;
}

/* Checkpoint ps (open windows as interim records, then the state) with the
 * slot it holds, and let that slot go. Worker thread. */
static void worker_checkpoint(worker *w, part_state *ps) {
    daemon_s *d = w->d;
    fz_slot *held = ps->held;
    ps->next_ckpt_ms = fz_mono_ms() + d->cfg->checkpoint_interval_ms;
    if (produce_checkpoint(d, &w->out, &w->produce_waits, ps->track, ps, held) != 0)
        return; /* fatal: the slot stays held, so nothing past it is committed */
    atomic_fetch_add_explicit(&w->checkpoints, 1, memory_order_relaxed);
    if (!held) return;
    part_state *last = w->holding[--w->nholding];
    w->holding[ps->holding_idx] = last;
    last->holding_idx = ps->holding_idx;
    ps->held = NULL;
    fz_slot_done(held); /* after this the consumer thread may free ps */
}

/* Count a processed event; produce the windows it closed and, when due,
 * a checkpoint - all with the event's slot, so they are on the broker
 * before its offset is committed. Worker thread. */
static void ledger_step(worker *w, const fz_track *t, part_state *ps, const fz_result *r,
                        const rd_kafka_message_t *m, fz_slot *slot) {
    daemon_s *d = w->d;
    fz_ledger_add_result(ps->ledger, r, w->rs, m->offset);
    ps->next_offset = m->offset + 1;
    ps->last_msg_ts = rd_kafka_message_timestamp(m, NULL);
    ps->dirty = 1;
    int64_t committed = atomic_load_explicit(&ps->committed, memory_order_relaxed);
    int drop = 0;
    while (drop < ps->nrecent && ps->recent_at[drop] < committed) drop++;
    if (drop) recent_shift(ps, drop);
    while (fz_ledger_pop_closed(ps->ledger, &w->win)) {
        if (produce_window(d, &w->out, &w->produce_waits, t, ps, &w->win, 1, slot) == 0)
            atomic_fetch_add_explicit(&w->stats_records, 1, memory_order_relaxed);
        if (ps->nrecent == RECENT_MAX) { /* commits stalled for 16 windows */
            recent_shift(ps, 1);
            atomic_fetch_add_explicit(&w->recent_dropped, 1, memory_order_relaxed);
        }
        ps->recent_at[ps->nrecent] = m->offset;
        memcpy(&ps->recent[ps->nrecent++], &w->win, sizeof(w->win));
    }
    if (d->state_rkt && !ps->held) {
        /* the first event counted since the last checkpoint: held until a
         * checkpoint covers it, so no commit passes an uncheckpointed count */
        fz_slot_add(slot, 1);
        if (holding_add(w, ps) != 0) {
            fz_slot_done(slot);
            worker_checkpoint(w, ps); /* no room to hold it: checkpoint now */
            return;
        }
        ps->held = slot;
    }
    /* due by time, or the held slot would soon stop the tracker ring */
    if (fz_mono_ms() >= ps->next_ckpt_ms ||
        (ps->held && m->offset - ps->held->offset >= TRACK_CAP / 2))
        worker_checkpoint(w, ps);
}

/* A campaign summary, produced with the slot of the event that caused it
 * (so it is delivered before that offset is committed), keyed by the
 * campaign so one campaign's summaries stay in order. Worker thread. */
static void produce_campaign(worker *w, const fz_campaign *cp, int state, fz_slot *slot) {
    daemon_s *d = w->d;
    char key[17];
    snprintf(key, sizeof(key), "%016llx", (unsigned long long)cp->key);
    fz_buf_reset(&w->out);
    if (fz_campaign_encode(&w->out, cp, state, d->window_ms) != FZ_OK)
        set_fatal(d, "campaign summary exceeds the output buffer");
    else if (produce(w, d->alerts_rkt, key, 16, slot) == 0)
        atomic_fetch_add_explicit(&w->campaign_summaries, 1, memory_order_relaxed);
}

static void process(worker *w, rd_kafka_message_t *m, fz_slot *slot, part_state *ps,
                    const fz_track *t) {
    daemon_s *d = w->d;
    fz_result r;
    /* re-read after a restart to rebuild the ledger: already produced */
    int quiet = ps && m->offset < ps->quiet_until;
    fz_source src = {
        .topic = rd_kafka_topic_name(m->rkt), .partition = m->partition, .offset = m->offset};
    fz_pipeline_reset_arena(w->pipe);
    fz_pipeline_scan(w->pipe, m->payload ? m->payload : "", m->len, &r);
    fz_pipeline_intercept(w->pipe, d->watch, &r);
    pthread_mutex_lock(&d->stores_lock);
    fz_pipeline_decide(w->pipe, &d->stores, &r, &w->closed, &w->summary);
    pthread_mutex_unlock(&d->stores_lock);
    if (ps && ps->ledger && m->offset >= ps->count_from) ledger_step(w, t, ps, &r, m, slot);
    if (quiet) goto done;
    if (r.campaign_closed && fz_campaign_worth_closing(&w->closed))
        produce_campaign(w, &w->closed, r.campaign_closed_state, slot);
    const void *key = m->key;
    size_t key_len = m->key_len;
    if (!key && r.ev.id.p) {
        key = r.ev.id.p;
        key_len = r.ev.id.n;
    }
    if (r.verdict == FZ_VERDICT_ALERT) {
        fz_buf_reset(&w->out);
        if (fz_alert_encode(&w->out, w->rs, &r, d->window_ms, &src) != FZ_OK || w->out.failed)
            set_fatal(d, "alert for %s[%d]@%lld exceeds the output buffer", src.topic,
                      src.partition, (long long)src.offset);
        else if (produce(w, d->alerts_rkt, key, key_len, slot) == 0)
            atomic_fetch_add_explicit(&w->produced, 1, memory_order_relaxed);
    }
    if (r.campaign_summary) produce_campaign(w, &w->summary, FZ_CAMPAIGN_OPEN, slot);
    if (r.verdict == FZ_VERDICT_INVALID) {
        if (d->dlq_rkt) {
            fz_buf_reset(&w->out);
            fz_deadletter_encode(&w->out, &r, m->payload ? m->payload : "", m->len, &src,
                                 fz_now_ms());
            if (w->out.failed) /* cannot happen with the payload cap; never silent */
                set_fatal(d, "dead letter for %s[%d]@%lld exceeds the output buffer", src.topic,
                          src.partition, (long long)src.offset);
            else if (produce(w, d->dlq_rkt, m->key, m->key_len, slot) == 0)
                atomic_fetch_add_explicit(&w->dead_letters, 1, memory_order_relaxed);
        } else {
            uint64_t sup;
            if (fz_ratelimit_allow(&d->invalid_rl, 10000, &sup))
                fz_warn("invalid event %s[%d]@%lld: %s: %s (%llu more not logged)", src.topic,
                        src.partition, (long long)src.offset, fz_reason_name(r.reason), r.detail,
                        (unsigned long long)sup);
        }
    }
done:
    fz_slot_done(slot);
    rd_kafka_message_destroy(m);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    fz_work items[POP_BATCH];
    for (;;) {
        int n = fz_queue_pop(w->q, items, POP_BATCH, 200);
        if (n <= 0) /* idle (or stopping): checkpoint what was counted */
            for (int i = w->nholding - 1; i >= 0; i--) worker_checkpoint(w, w->holding[i]);
        if (n < 0) break;
        worker_sync_rules(w);
        for (int i = 0; i < n; i++) {
            part_state *ps = items[i].part;
            process(w, items[i].msg, items[i].slot, ps, ps ? ps->track : NULL);
        }
    }
    return NULL;
}

/* ---- delivery reports ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    daemon_s *d = opaque;
    fz_slot *slot = m->_private; /* NULL: a checkpoint written on revocation */
    if (m->err) {
        atomic_fetch_add(&d->delivery_failed, 1);
        set_fatal(d, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                  rd_kafka_err2str(m->err));
        return; /* the slot never finishes: its offset is not committed */
    }
    atomic_fetch_add_explicit(&d->delivered, 1, memory_order_relaxed);
    if (slot) fz_slot_done(slot);
}

static void *delivery_main(void *arg) {
    daemon_s *d = arg;
    while (!atomic_load(&d->dr_stop)) rd_kafka_poll(d->producer, 100);
    return NULL;
}

static void on_client_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    daemon_s *d = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        set_fatal(d, "%s: %s", rd_kafka_name(rk), buf);
        return;
    }
    /* transient: librdkafka retries by itself */
    fz_warn("%s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

/* ---- offsets and partitions (consumer thread) ---- */

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque) {
    (void)rk;
    daemon_s *d = opaque;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
    int bad = err != 0;
    for (int i = 0; offsets && i < offsets->cnt; i++) bad |= offsets->elems[i].err != 0;
    if (bad) {
        fz_warn("offset commit failed: %s; retrying on the next commit",
                rd_kafka_err2str(err ? err : RD_KAFKA_RESP_ERR_UNKNOWN));
        d->commit_failed = 1; /* on_commit runs on the consumer thread (poll) */
    }
}

static fz_track *track_find(daemon_s *d, const char *topic, int32_t partition) {
    for (fz_track *t = d->tracks; t; t = t->next)
        if (t->partition == partition && strcmp(t->topic, topic) == 0) return t;
    return NULL;
}

static fz_track *track_for_msg(daemon_s *d, rd_kafka_message_t *m) {
    fz_track *t = d->last_track;
    if (t && t->rkt == m->rkt && t->partition == m->partition) return t;
    for (t = d->tracks; t; t = t->next)
        if (t->partition == m->partition &&
            (t->rkt == m->rkt || strcmp(t->topic, rd_kafka_topic_name(m->rkt)) == 0)) {
            t->rkt = m->rkt;
            d->last_track = t;
            return t;
        }
    return NULL;
}

static void commit_add(rd_kafka_topic_partition_list_t *l, fz_track *t, int force) {
    fz_track_advance(t);
    /* never below what is committed: after a restart the events before the
     * committed offset may be re-read to rebuild the ledger */
    if (t->next_commit < 0 || t->next_commit < t->committed ||
        (t->next_commit == t->committed && !force))
        return;
    rd_kafka_topic_partition_list_add(l, t->topic, t->partition)->offset = t->next_commit;
    t->committed = t->next_commit;
    part_state *ps = t->ext;
    if (ps) atomic_store_explicit(&ps->committed, t->committed, memory_order_relaxed);
}

/* Commit the finished prefix of v[0..n), or of every assigned partition
 * when v is NULL. Consumer thread. */
static void commit_tracks(daemon_s *d, fz_track **v, int n, int sync) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    int force = d->commit_failed;
    d->commit_failed = 0;
    if (v)
        for (int i = 0; i < n; i++) commit_add(l, v[i], force);
    else
        for (fz_track *t = d->tracks; t; t = t->next) commit_add(l, t, force);
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(d->consumer, l, sync ? 0 : 1);
        d->commits++;
        if (sync && err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            fz_warn("synchronous offset commit failed: %s", rd_kafka_err2str(err));
            d->commit_failed = 1;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void set_paused(daemon_s *d, int pause) {
    if (d->paused == pause) return;
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(d->consumer, &a) == 0 && a) {
        if (a->cnt > 0) {
            if (pause)
                rd_kafka_pause_partitions(d->consumer, a);
            else
                rd_kafka_resume_partitions(d->consumer, a);
        }
        rd_kafka_topic_partition_list_destroy(a);
    }
    d->paused = pause;
    if (pause) d->pauses++;
    fz_debug("%s consumption", pause ? "paused" : "resumed");
}

/* Queue held messages; returns 1 if all of them are queued. wait_ms: 0 =
 * do not wait, < 0 = block until they are, > 0 = wait at most that long. */
static int flush_held(daemon_s *d, int64_t wait_ms) {
    int all = 1;
    int64_t until = wait_ms > 0 ? fz_mono_ms() + wait_ms : 0;
    for (int i = 0; i < d->nworkers; i++) {
        worker *w = &d->workers[i];
        while (w->held_len > 0) {
            fz_work *it = &w->held[w->held_head];
            rd_kafka_message_t *m = it->msg;
            if (!it->slot) { /* register in the tracker now, in order */
                fz_track *t = track_for_msg(d, m);
                if (t) it->part = t->ext;
                if (!t) {
                    /* partition revoked meanwhile: not ours; it will be redelivered */
                    rd_kafka_message_destroy(m);
                    goto next;
                }
                it->slot = fz_track_push(t, m->offset);
                if (!it->slot) {
                    /* after a fatal error slots may never finish: don't wait */
                    if (!wait_ms || atomic_load(&d->fatal) || (until && fz_mono_ms() >= until)) {
                        all = 0;
                        break;
                    }
                    fz_track_advance(t);
                    usleep(1000);
                    continue;
                }
            }
            if (fz_queue_push(w->q, it) != 0) { /* full: wait, reading the clock only now */
                int slice = 100;
                if (until) {
                    int64_t left = until - fz_mono_ms();
                    slice = left <= 0 ? 0 : left < 100 ? (int)left : 100;
                }
                if (!wait_ms || slice == 0 || fz_queue_push_wait(w->q, it, slice) != 0) {
                    if (!wait_ms || atomic_load(&d->fatal) || (until && fz_mono_ms() >= until)) {
                        all = 0;
                        break;
                    }
                    continue;
                }
            }
        next:
            w->held_head = (w->held_head + 1) % HELD_CAP;
            w->held_len--;
        }
    }
    return all;
}

static void dispatch(daemon_s *d, rd_kafka_message_t *m) {
    fz_track *t = track_for_msg(d, m);
    if (!t) {
        fz_warn("message from unassigned %s[%d]@%lld ignored (it is not committed)",
                rd_kafka_topic_name(m->rkt), m->partition, (long long)m->offset);
        rd_kafka_message_destroy(m);
        return;
    }
    d->consumed++;
    worker *w = &d->workers[t->worker];
    fz_work it = {m, NULL, t->ext};
    if (w->held_len == 0) {
        it.slot = fz_track_push(t, m->offset);
        if (it.slot && fz_queue_push(w->q, &it) == 0) return;
        /* if it got a slot but no room, it is held with its slot */
    }
    if (w->held_len == HELD_CAP) flush_held(d, -1); /* only if messages kept coming paused */
    w->held[(w->held_head + w->held_len) % HELD_CAP] = it;
    w->held_len++;
    /* A few held messages absorb short bursts; pausing (which drops the
     * client's prefetched messages and refetches on resume) is for when
     * the workers really fall behind. */
    if (w->held_len >= HELD_PAUSE) set_paused(d, 1);
}

/* Wait until the given tracks are idle or the timeout passes. */
static int drain_tracks(daemon_s *d, fz_track **v, int n, int64_t timeout_ms) {
    int64_t until = fz_mono_ms() + timeout_ms;
    flush_held(d, -1);
    for (;;) {
        int idle = 1;
        for (int i = 0; i < n; i++) {
            fz_track_advance(v[i]);
            idle &= fz_track_idle(v[i]);
        }
        if (idle) return 0;
        if (atomic_load(&d->fatal) || fz_mono_ms() >= until) return -1;
        usleep(2000);
    }
}

static uint64_t total_inflight(daemon_s *d, fz_track *list) {
    uint64_t n = 0;
    for (fz_track *t = list; t; t = t->next) {
        fz_track_advance(t);
        n += fz_track_inflight(t);
    }
    return n;
}

static void track_free(fz_track *t) {
    part_state *ps = t->ext;
    if (ps) {
        fz_ledger_destroy(ps->ledger);
        free(ps->recent);
        free(ps);
    }
    fz_track_destroy(t);
}

static void free_retired(daemon_s *d, int force) {
    fz_track **pp = &d->retired;
    while (*pp) {
        fz_track *t = *pp;
        fz_track_advance(t);
        if (force || fz_track_idle(t)) {
            *pp = t->next;
            track_free(t);
        } else {
            pp = &t->next;
        }
    }
}

/*
 * Pick the worker for a newly assigned partition: the one that owns the
 * fewest partitions, so work spreads evenly whatever the partition numbers.
 * A partition whose earlier incarnation is still retired (deliveries, or
 * even queued messages after a drain timeout, outstanding) goes back to
 * the same worker, so its events can never be processed out of order.
 */
static int worker_for(daemon_s *d, const char *topic, int32_t partition) {
    for (fz_track *t = d->retired; t; t = t->next)
        if (t->partition == partition && strcmp(t->topic, topic) == 0) return t->worker;
    int best = 0;
    size_t best_n = SIZE_MAX;
    for (int w = 0; w < d->nworkers; w++) {
        size_t n = 0;
        for (fz_track *t = d->tracks; t; t = t->next) n += t->worker == w;
        if (n < best_n) {
            best = w;
            best_n = n;
        }
    }
    return best;
}

/* A checkpoint wanted for a newly assigned partition, and what was found. */
typedef struct ckpt_want {
    const char *key;
    void *val; /* latest value (malloc'd); NULL if none */
    size_t len;
} ckpt_want;

typedef struct ckpt_read {
    ckpt_want *want;
    int n;
    uint64_t records;
} ckpt_read;

static int on_checkpoint_record(void *ctx, const rd_kafka_message_t *m) {
    ckpt_read *r = ctx;
    r->records++;
    for (int k = 0; k < r->n; k++) {
        ckpt_want *w = &r->want[k];
        if (m->key_len != strlen(w->key) || memcmp(m->key, w->key, m->key_len) != 0) continue;
        free(w->val);
        w->val = m->len ? malloc(m->len) : NULL;
        w->len = w->val ? m->len : 0;
        if (w->val) memcpy(w->val, m->payload, m->len);
    }
    return 0;
}

/*
 * Read state_topic from its beginning to its current end and keep the
 * latest value of each wanted key (the topic is compacted, so this is
 * about one record per partition ever checkpointed). Consumer thread,
 * during assignment. Returns -1 if the topic cannot be read; the
 * partitions then start without a checkpoint.
 */
static int read_checkpoints(daemon_s *d, ckpt_want *want, int n) {
    const fz_config *cfg = d->cfg;
    char err[512], gid[300];
    ckpt_read r = {want, n, 0};
    snprintf(gid, sizeof(gid), "%s.state-reader", cfg->group_id);
    int rc = fz_kafka_read_topic(cfg, cfg->state_topic, gid, 60000, on_checkpoint_record, &r, err,
                                 sizeof(err));
    if (rc < 0) {
        fz_warn("state topic: %s: starting without checkpoints", err);
        return -1;
    }
    if (rc > 0)
        fz_warn("state topic '%s': not read to its end in 60 s; using what was read",
                cfg->state_topic);
    fz_debug("state topic '%s': %llu record(s) read", cfg->state_topic,
             (unsigned long long)r.records);
    return 0;
}

/* The closed windows a checkpoint carries: kept, and written again (their
 * records may never have reached the broker). Consumer thread. */
static int restore_recent(daemon_s *d, const fz_track *t, part_state *ps, const char *p, size_t n) {
    uint32_t nr;
    if (n < sizeof(nr)) return -1;
    memcpy(&nr, p, sizeof(nr));
    p += sizeof(nr);
    n -= sizeof(nr);
    if (nr > RECENT_MAX) return -1;
    for (uint32_t i = 0; i < nr; i++) {
        if (n < sizeof(int64_t)) return -1;
        memcpy(&ps->recent_at[i], p, sizeof(int64_t));
        size_t used = fz_ledger_window_load(&ps->recent[i], p + 8, n - 8);
        if (!used) return -1;
        p += 8 + used;
        n -= 8 + used;
    }
    if (n != 0) return -1;
    ps->nrecent = (int)nr;
    for (int i = 0; i < ps->nrecent; i++)
        produce_window(d, &d->ckpt_out, NULL, t, ps, &ps->recent[i], 1, NULL);
    return 0;
}

/* The first offset of t whose Kafka timestamp is at least state_rebuild_ms
 * before ts (the checkpoint's last message), or -1. */
static int64_t rebuild_from(daemon_s *d, const fz_track *t, int64_t ts) {
    if (d->cfg->state_rebuild_ms <= 0 || ts < 0) return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int64_t want = ts - d->cfg->state_rebuild_ms;
    rd_kafka_topic_partition_list_add(l, t->topic, t->partition)->offset = want < 0 ? 0 : want;
    int64_t r = -1;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(d->consumer, l, 10000);
    if (!e && !l->elems[0].err)
        r = l->elems[0].offset;
    else
        fz_warn("%s[%d]: cannot find the offset %lld ms before the checkpoint (%s): state is "
                "not rebuilt",
                t->topic, t->partition, (long long)d->cfg->state_rebuild_ms,
                rd_kafka_err2str(e ? e : l->elems[0].err));
    rd_kafka_topic_partition_list_destroy(l);
    return r;
}

/* Restore the ledgers of newly assigned partitions from their checkpoints
 * and choose where each starts: at the committed offset K, or earlier at
 * the checkpoint's offset O when events after it were committed but not
 * checkpointed. Offsets in [O, K) are re-read quietly: counted, not
 * produced again. Consumer thread. */
static void restore_checkpoints(daemon_s *d, rd_kafka_topic_partition_list_t *parts,
                                fz_track **fresh, int n) {
    ckpt_want *want = calloc((size_t)n, sizeof(*want));
    rd_kafka_topic_partition_list_t *cl = rd_kafka_topic_partition_list_new(n);
    if (!want || !cl) goto out;
    for (int i = 0; i < n; i++) {
        want[i].key = ((part_state *)fresh[i]->ext)->key;
        rd_kafka_topic_partition_list_add(cl, fresh[i]->topic, fresh[i]->partition);
    }
    if (read_checkpoints(d, want, n) != 0) goto out;
    rd_kafka_resp_err_t e = rd_kafka_committed(d->consumer, cl, 10000);
    if (e) {
        fz_warn("cannot read committed offsets (%s): starting without checkpoints",
                rd_kafka_err2str(e));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        fz_track *t = fresh[i];
        part_state *ps = t->ext;
        int64_t k = cl->elems[i].offset >= 0 ? cl->elems[i].offset : -1;
        if (k >= 0) t->committed = k;
        if (!want[i].val) continue;
        char err[256];
        int64_t o, ts;
        if (want[i].len < 24 || memcmp(want[i].val, CKPT_MAGIC, 8) != 0) {
            fz_warn("%s[%d]: checkpoint in '%s' not readable: ignored", t->topic, t->partition,
                    d->cfg->state_topic);
            continue;
        }
        memcpy(&o, (char *)want[i].val + 8, sizeof(o));
        memcpy(&ts, (char *)want[i].val + 16, sizeof(ts));
        size_t used = 0;
        if (o < 0 ||
            !(used = fz_ledger_load(ps->ledger, (char *)want[i].val + 24, want[i].len - 24, err,
                                    sizeof(err))) ||
            restore_recent(d, t, ps, (char *)want[i].val + 24 + used, want[i].len - 24 - used)) {
            fz_warn("%s[%d]: checkpoint ignored: %s", t->topic, t->partition,
                    o < 0  ? "no offset"
                    : used ? "bad list of closed windows"
                           : err);
            fz_ledger_destroy(ps->ledger); /* start from a clean one */
            ps->ledger = fz_ledger_new(d->cfg->ledger_window_ms, d->cfg->ledger_grace_ms);
            ps->nrecent = 0;
            if (!ps->ledger) set_fatal(d, "out of memory");
            continue;
        }
        atomic_store(&ps->committed, k);
        int64_t start = k >= 0 && k < o ? k : o;
        int64_t r = rebuild_from(d, t, ts);
        if (r >= 0 && r < start) start = r;
        ps->count_from = o;
        ps->quiet_until = k;
        ps->next_offset = o;
        for (int j = 0; j < parts->cnt; j++)
            if (parts->elems[j].partition == t->partition &&
                strcmp(parts->elems[j].topic, t->topic) == 0)
                parts->elems[j].offset = start;
        fz_info("%s[%d]: statistics checkpoint at offset %lld, committed %lld: starting at %lld "
                "(%lld event(s) re-read without output to rebuild dedup, campaign and "
                "interception state)",
                t->topic, t->partition, (long long)o, (long long)k, (long long)start,
                (long long)(k > start ? k - start : 0));
    }
out:
    for (int i = 0; want && i < n; i++) free(want[i].val);
    free(want);
    if (cl) rd_kafka_topic_partition_list_destroy(cl);
}

static void partitions_assigned(daemon_s *d, rd_kafka_topic_partition_list_t *parts) {
    const fz_config *cfg = d->cfg;
    fz_track **fresh = calloc((size_t)parts->cnt + 1, sizeof(*fresh));
    int nfresh = 0;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (track_find(d, p->topic, p->partition)) continue;
        fz_track *t =
            fz_track_new(p->topic, p->partition, TRACK_CAP, worker_for(d, p->topic, p->partition));
        part_state *ps = t ? calloc(1, sizeof(*ps)) : NULL;
        if (ps && d->stats_rkt) {
            ps->ledger = fz_ledger_new(cfg->ledger_window_ms, cfg->ledger_grace_ms);
            ps->recent = malloc(RECENT_MAX * sizeof(*ps->recent));
        }
        if (!t || !ps || (d->stats_rkt && (!ps->ledger || !ps->recent))) {
            if (ps) fz_ledger_destroy(ps->ledger);
            if (ps) free(ps->recent);
            free(ps);
            fz_track_destroy(t);
            set_fatal(d, "out of memory tracking %s[%d]", p->topic, p->partition);
            break;
        }
        ps->count_from = ps->quiet_until = ps->next_offset = ps->last_msg_ts = -1;
        atomic_store(&ps->committed, -1);
        ps->next_ckpt_ms = fz_mono_ms() + cfg->checkpoint_interval_ms;
        snprintf(ps->key, sizeof(ps->key), "%s|%s|%d", cfg->group_id, p->topic, p->partition);
        ps->track = t;
        t->ext = ps;
        t->next = d->tracks;
        d->tracks = t;
        if (fresh) fresh[nfresh++] = t;
        fz_info("assigned %s[%d] -> worker %d", p->topic, p->partition, t->worker);
    }
    if (fresh && nfresh && d->stats_rkt && d->state_rkt)
        restore_checkpoints(d, parts, fresh, nfresh);
    free(fresh);
}

/* Finish the work of revoked partitions, commit, and forget them. */
static void partitions_revoked(daemon_s *d, rd_kafka_topic_partition_list_t *parts) {
    fz_track *v[1024];
    int n = 0;
    for (int i = 0; i < parts->cnt && n < (int)FZ_ARRAY_LEN(v); i++) {
        fz_track *t = track_find(d, parts->elems[i].topic, parts->elems[i].partition);
        if (t) v[n++] = t;
    }
    int64_t t0 = fz_mono_ms();
    int rc = drain_tracks(d, v, n, d->cfg->shutdown_timeout_ms);
    if (rc != 0)
        fz_warn("revocation: in-flight work of %d partition(s) not finished after %lld ms; "
                "committing what is done (the rest will be re-processed)",
                n, (long long)(fz_mono_ms() - t0));
    commit_tracks(d, v, n, 1); /* the finished prefix is always safe to commit */
    /* the next owner (or this process after a restart) resumes the ledgers
     * from here; after a drain timeout a worker may still be counting, so
     * the last checkpoint it wrote stands instead */
    for (int i = 0; rc == 0 && i < n; i++) {
        part_state *ps = v[i]->ext;
        if (ps && ps->ledger && ps->dirty)
            produce_checkpoint(d, &d->ckpt_out, NULL, v[i], ps, NULL);
    }
    for (int i = 0; i < n; i++) {
        fz_track **pp = &d->tracks;
        while (*pp != v[i]) pp = &(*pp)->next;
        *pp = v[i]->next;
        v[i]->next = d->retired;
        d->retired = v[i];
        fz_info("revoked %s[%d] (committed %lld)", v[i]->topic, v[i]->partition,
                (long long)v[i]->committed);
    }
    d->last_track = NULL;
    free_retired(d, 0);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    daemon_s *d = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        partitions_assigned(d, parts);
        if (cooperative)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (d->paused) rd_kafka_pause_partitions(rk, parts);
    } else {
        partitions_revoked(d, parts);
        if (cooperative)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e) {
        fz_error("rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/* ---- set-up ---- */

static rd_kafka_t *make_consumer(daemon_s *d, char *err, size_t n) {
    const fz_config *cfg = d->cfg;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (fz_kafka_conf_set(c, "bootstrap.servers", cfg->brokers, err, n) ||
        fz_kafka_conf_set(c, "group.id", cfg->group_id, err, n) ||
        fz_kafka_conf_set(c, "client.id", "fanzha", err, n) ||
        fz_kafka_conf_set(c, "auto.offset.reset", "earliest", err, n) ||
        fz_kafka_consumer_defaults(c, err, n) || fz_kafka_conf_apply(c, &cfg->kafka, err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka_consumer, err, n))
        goto fail;
    /* correctness: fanzha alone decides what is committed */
    if (fz_kafka_conf_set(c, "enable.auto.commit", "false", err, n) ||
        fz_kafka_conf_set(c, "enable.auto.offset.store", "false", err, n))
        goto fail;
    rd_kafka_conf_set_opaque(c, d);
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(c, on_commit);
    rd_kafka_conf_set_error_cb(c, on_client_error);
    rd_kafka_conf_set_log_cb(c, fz_kafka_on_log);
    char e2[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e2, sizeof(e2));
    if (!rk) {
        snprintf(err, n, "consumer: %s", e2);
        goto fail;
    }
    /* c is now owned by rk */
    rd_kafka_poll_set_consumer(rk);
    return rk;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static rd_kafka_t *make_producer(daemon_s *d, char *err, size_t n) {
    const fz_config *cfg = d->cfg;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (fz_kafka_conf_set(c, "bootstrap.servers", cfg->brokers, err, n) ||
        fz_kafka_conf_set(c, "client.id", "fanzha", err, n) ||
        /* idempotence: no duplicates from retries, order kept per partition */
        fz_kafka_conf_set(c, "enable.idempotence", "true", err, n) ||
        /* never expire an alert locally: wait for the broker instead */
        fz_kafka_conf_set(c, "message.timeout.ms", "0", err, n) ||
        fz_kafka_conf_set(c, "linger.ms", "5", err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka, err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka_producer, err, n))
        goto fail;
    rd_kafka_conf_set_opaque(c, d);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_error_cb(c, on_client_error);
    rd_kafka_conf_set_log_cb(c, fz_kafka_on_log);
    char e2[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e2, sizeof(e2));
    if (!rk) {
        snprintf(err, n, "producer: %s", e2);
        goto fail;
    }
    return rk;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static void log_stats(daemon_s *d) {
    totals t = sum_counters(d);
    uint64_t ev = t.events, al = t.alerts, su = t.suppressed, inv = t.invalid, dl = 0, waits = 0;
    uint64_t icp = 0, srec = 0, ckpt = 0, rdrop = 0, csum = 0;
    size_t qlen = 0;
    for (int i = 0; i < d->nworkers; i++) {
        worker *w = &d->workers[i];
        dl += atomic_load(&w->dead_letters);
        waits += atomic_load(&w->produce_waits);
        qlen += fz_queue_len(w->q);
        icp += atomic_load(&fz_pipeline_counters(w->pipe)->intercepts);
        srec += atomic_load(&w->stats_records);
        ckpt += atomic_load(&w->checkpoints);
        rdrop += atomic_load(&w->recent_dropped);
        csum += atomic_load(&w->campaign_summaries);
    }
    fz_dedup_stats ds;
    fz_campaigns_stats cs = {0};
    pthread_mutex_lock(&d->stores_lock);
    fz_dedup_stats_get(d->stores.dedup, &ds);
    if (d->stores.campaigns) fz_campaigns_stats_get(d->stores.campaigns, &cs);
    pthread_mutex_unlock(&d->stores_lock);
    fz_watch_stats ws = {0};
    if (d->watch) fz_watch_stats_get(d->watch, &ws);
    fz_info("stats: consumed=%llu processed=%llu alerts=%llu suppressed=%llu invalid=%llu "
            "dead_letters=%llu delivered=%llu in_flight=%llu queued=%zu paused=%d pauses=%llu "
            "producer_waits=%llu commits=%llu dedup_entries=%llu dedup_evictions=%llu "
            "campaigns=%llu campaign_evictions=%llu campaign_summaries=%llu "
            "watched=%llu watch_evictions=%llu intercepts=%llu stats_records=%llu "
            "checkpoints=%llu closed_windows_dropped=%llu",
            (unsigned long long)d->consumed, (unsigned long long)ev, (unsigned long long)al,
            (unsigned long long)su, (unsigned long long)inv, (unsigned long long)dl,
            (unsigned long long)atomic_load(&d->delivered),
            (unsigned long long)total_inflight(d, d->tracks), qlen, d->paused,
            (unsigned long long)d->pauses, (unsigned long long)waits,
            (unsigned long long)d->commits, (unsigned long long)ds.entries,
            (unsigned long long)ds.evictions, (unsigned long long)cs.campaigns,
            (unsigned long long)cs.evictions, (unsigned long long)csum,
            (unsigned long long)ws.entries, (unsigned long long)ws.evictions,
            (unsigned long long)icp, (unsigned long long)srec, (unsigned long long)ckpt,
            (unsigned long long)rdrop);
}

static int queues_below_half(daemon_s *d) {
    for (int i = 0; i < d->nworkers; i++)
        if (fz_queue_len(d->workers[i].q) * 2 > fz_queue_cap(d->workers[i].q)) return 0;
    return 1;
}

int fz_daemon_main(const fz_config *cfg) {
    daemon_s *d = calloc(1, sizeof(*d));
    char err[1024];
    int rc = 1, started = 0, dr_started = 0;
    if (!d) return 1;
    d->cfg = cfg;
    pthread_mutex_init(&d->rs_lock, NULL);
    d->nworkers = fz_config_threads(cfg);
    d->window_ms = cfg->dedup_window_ms;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    {
        fz_rule_diags diags = {0};
        int64_t t0 = fz_mono_ms();
        d->rs = fz_rules_build(cfg, &diags);
        fz_rules_log_diags(&diags);
        fz_rule_diags_free(&diags);
        if (!d->rs) {
            fz_error("rules in %s rejected; cannot start",
                     cfg->rules_compiled ? cfg->rules_compiled : cfg->rules_dir);
            rc = 2;
            goto out;
        }
        fz_info("ruleset %s active: %zu rules, %zu patterns (loaded in %lld ms)",
                fz_ruleset_version(d->rs), fz_ruleset_count(d->rs), fz_ruleset_pattern_count(d->rs),
                (long long)(fz_mono_ms() - t0));
    }
    d->pending = calloc((size_t)d->nworkers, sizeof(fz_matcher *));
    if (!d->pending) goto out;
    if (fz_config_campaign_masks(cfg, &d->masks, err, sizeof(err)) != 0) {
        rc = 2;
        goto out_err;
    }
    pthread_mutex_init(&d->stores_lock, NULL);
    fz_stores_config sc = {(size_t)cfg->dedup_capacity, (size_t)cfg->campaign_capacity,
                           cfg->dedup_window_ms, cfg->campaign_summary_ms};
    if (fz_stores_init(&d->stores, &sc, 0, err, sizeof(err)) != 0) goto out_err;
    if (cfg->intercept_capacity > 0) {
        d->watch = fz_watch_new((size_t)cfg->intercept_capacity, cfg->intercept_lookback_ms, err,
                                sizeof(err));
        if (!d->watch) goto out_err;
    }
    if (!(d->producer = make_producer(d, err, sizeof(err)))) {
        rc = 2;
        goto out_err;
    }
    d->alerts_rkt = rd_kafka_topic_new(d->producer, cfg->alerts_topic, NULL);
    fz_buf_init(&d->ckpt_out, 4u << 20);
    if (cfg->ledger_window_ms > 0 && cfg->stats_topic && *cfg->stats_topic) {
        d->stats_rkt = rd_kafka_topic_new(d->producer, cfg->stats_topic, NULL);
        if (cfg->state_topic && *cfg->state_topic)
            d->state_rkt = rd_kafka_topic_new(d->producer, cfg->state_topic, NULL);
    }
    if (cfg->dead_letter_topic && *cfg->dead_letter_topic)
        d->dlq_rkt = rd_kafka_topic_new(d->producer, cfg->dead_letter_topic, NULL);
    if (!(d->consumer = make_consumer(d, err, sizeof(err)))) {
        rc = 2;
        goto out_err;
    }

    d->workers = calloc((size_t)d->nworkers, sizeof(worker));
    if (!d->workers) goto out;
    for (int i = 0; i < d->nworkers; i++) {
        worker *w = &d->workers[i];
        w->d = d;
        w->idx = i;
        w->q = fz_queue_new((size_t)cfg->queue_depth);
        w->pipe = fz_pipeline_new((size_t)cfg->max_event_bytes, 0, err, sizeof(err));
        fz_buf_init(&w->out, (size_t)cfg->max_event_bytes * 8 + (1u << 20));
        if (!w->q || !w->pipe) goto out_err;
        if (fz_pipeline_bind(w->pipe, d->rs, err, sizeof(err)) != 0) goto out_err;
        fz_pipeline_set_masks(w->pipe, &d->masks);
        w->rs = fz_ruleset_ref(d->rs);
        atomic_store(&w->cur_matcher, fz_pipeline_matcher(w->pipe));
    }
    for (int i = 0; i < d->nworkers; i++) {
        if (pthread_create(&d->workers[i].tid, NULL, worker_main, &d->workers[i]) != 0) {
            snprintf(err, sizeof(err), "cannot start worker thread");
            goto out_err;
        }
        started = i + 1;
    }
    if (pthread_create(&d->dr_tid, NULL, delivery_main, d) != 0) {
        snprintf(err, sizeof(err), "cannot start delivery thread");
        goto out_err;
    }
    dr_started = 1;
    {
        static const fz_reload_ops ops_tmpl = {NULL, rules_publish, rules_status, rules_stats};
        fz_reload_ops ops = ops_tmpl;
        ops.ctx = d;
        d->reloader = fz_reloader_start(cfg, &ops, d->rs, &g_reload, err, sizeof(err));
        if (!d->reloader) {
            rc = 2;
            goto out_err;
        }
    }

    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)cfg->n_input_topics);
    for (size_t i = 0; i < cfg->n_input_topics; i++)
        rd_kafka_topic_partition_list_add(topics, cfg->input_topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t serr = rd_kafka_subscribe(d->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (serr) {
        snprintf(err, sizeof(err), "subscribe: %s", rd_kafka_err2str(serr));
        goto out_err;
    }
    fz_info("fanzha %s running: %d worker(s), group '%s', brokers %s, alerts -> %s, "
            "dead letters -> %s",
            FZ_VERSION, d->nworkers, cfg->group_id, cfg->brokers, cfg->alerts_topic,
            d->dlq_rkt ? cfg->dead_letter_topic : "(disabled)");

    int64_t next_commit = fz_mono_ms() + cfg->commit_interval_ms;
    int64_t next_stats = cfg->stats_interval_ms ? fz_mono_ms() + cfg->stats_interval_ms : INT64_MAX;
    while (!g_stop && !atomic_load(&d->fatal)) {
        /* Workers behind: wait (briefly) for room rather than take more
         * messages, so a consumer that is merely faster than its workers
         * is slowed to their pace without pausing (a pause drops the
         * client's prefetched messages, and the refetch after it costs
         * far more than the wait). Workers that stay behind still end in
         * a pause, below, and the loop keeps serving rebalances. */
        int all_queued = flush_held(d, d->paused ? 0 : HELD_WAIT_MS);
        if (d->paused && all_queued && queues_below_half(d)) set_paused(d, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(d->consumer, d->paused    ? 20
                                                                    : all_queued ? 100
                                                                                 : 2);
        if (m) {
            if (m->err == 0) {
                dispatch(d, m);
            } else {
                uint64_t sup;
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
                    fz_ratelimit_allow(&d->consume_err_rl, 5000, &sup))
                    fz_warn("consume: %s (%llu similar not logged)", rd_kafka_message_errstr(m),
                            (unsigned long long)sup);
                rd_kafka_message_destroy(m);
            }
        }
        int64_t now = fz_mono_ms();
        if (now >= next_commit) {
            commit_tracks(d, NULL, 0, 0);
            free_retired(d, 0);
            next_commit = now + cfg->commit_interval_ms;
        }
        if (now >= next_stats) {
            log_stats(d);
            next_stats = now + cfg->stats_interval_ms;
        }
    }

    /* ordered shutdown: no reloads from here on */
    fz_reloader_stop(d->reloader);
    d->reloader = NULL;
    fz_info("%s: finishing in-flight work", atomic_load(&d->fatal) ? "stopping after a fatal "
                                                                     "error"
                                                                   : "shutting down");
    int n = 0;
    for (fz_track *t = d->tracks; t; t = t->next) n++;
    fz_track **all = calloc((size_t)n + 1, sizeof(fz_track *));
    n = 0;
    for (fz_track *t = d->tracks; t; t = t->next) all[n++] = t;
    int drained = atomic_load(&d->fatal) ? -1 : drain_tracks(d, all, n, cfg->shutdown_timeout_ms);
    commit_tracks(d, all, n, 1);
    free(all);
    if (drained != 0 && !atomic_load(&d->fatal))
        fz_warn("shutdown: in-flight work not finished in %lld ms; the rest will be re-processed",
                (long long)cfg->shutdown_timeout_ms);
    rd_kafka_consumer_close(d->consumer); /* revokes: nothing left to drain */
    log_stats(d);
    rc = atomic_load(&d->fatal) ? 1 : 0;
    goto out;

out_err:
    fz_error("%s", err);
out:
    atomic_store(&d->stopping, 1);
    for (int i = 0; d->workers && i < d->nworkers; i++)
        if (d->workers[i].q) fz_queue_close(d->workers[i].q);
    for (int i = 0; i < started; i++) pthread_join(d->workers[i].tid, NULL);
    /* messages still held or queued were never processed: not committed */
    for (int i = 0; d->workers && i < d->nworkers; i++) {
        worker *w = &d->workers[i];
        fz_work it;
        while (w->q && fz_queue_pop(w->q, &it, 1, 0) > 0) rd_kafka_message_destroy(it.msg);
        for (; w->held_len > 0; w->held_len--, w->held_head = (w->held_head + 1) % HELD_CAP)
            rd_kafka_message_destroy(w->held[w->held_head].msg);
    }
    if (d->producer) {
        if (rd_kafka_flush(d->producer, (int)cfg->shutdown_timeout_ms) != 0)
            fz_warn("producer flush timed out: %d record(s) not acknowledged",
                    rd_kafka_outq_len(d->producer));
    }
    atomic_store(&d->dr_stop, 1);
    if (dr_started) pthread_join(d->dr_tid, NULL);
    if (d->consumer) rd_kafka_destroy(d->consumer);
    if (d->alerts_rkt) rd_kafka_topic_destroy(d->alerts_rkt);
    if (d->dlq_rkt) rd_kafka_topic_destroy(d->dlq_rkt);
    if (d->stats_rkt) rd_kafka_topic_destroy(d->stats_rkt);
    if (d->state_rkt) rd_kafka_topic_destroy(d->state_rkt);
    fz_buf_free(&d->ckpt_out);
    if (d->producer) rd_kafka_destroy(d->producer);
    fz_reloader_stop(d->reloader); /* when we got here by an error */
    for (int i = 0; d->workers && i < d->nworkers; i++) {
        worker *w = &d->workers[i];
        fz_queue_destroy(w->q);
        fz_pipeline_destroy(w->pipe);
        fz_buf_free(&w->out);
        free(w->holding);
        fz_ruleset_unref(w->rs);
        fz_matcher_destroy(w->retired);
        fz_ruleset_unref(w->retired_rs);
        if (d->pending) fz_matcher_destroy(d->pending[i]);
    }
    free(d->pending);
    while (d->tracks) {
        fz_track *t = d->tracks;
        d->tracks = t->next;
        track_free(t);
    }
    free_retired(d, 1);
    free(d->workers);
    fz_stores_destroy(&d->stores);
    fz_watch_destroy(d->watch);
    fz_mask_config_free(&d->masks);
    fz_ruleset_unref(d->rs);
    pthread_mutex_destroy(&d->rs_lock);
    free(d);
    if (rc == 0) fz_info("stopped cleanly");
    return rc;
}
