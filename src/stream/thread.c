/*
 * thread.c - a stream thread: one member of the consumer group, its tasks,
 * their commits (see stream.h for the design).
 *
 * DESIGN. Everything here runs on the thread itself: the record loop,
 * librdkafka's rebalance callback (served from the consume call), delivery
 * reports (served by polling the producers), and the commit. Other threads
 * touch only the atomic counters, the matcher hand-over (under app's
 * rs_lock) and, through the registry, suspended tasks.
 *
 * Commit, every app->commit_ms (and when a task holds many closed windows,
 * on revocation and at shutdown):
 *   1. at least once: wait until every output produced so far is
 *      acknowledged (flush the output producer); an output the broker
 *      refused for good becomes a dead letter that references its input;
 *   2. in the open transaction: each task's changelog entries, statistics
 *      records and checkpoint (fz_task_flush);
 *   3. send_offsets_to_transaction with the consumer's group metadata - a
 *      zombie whose generation is gone is refused here - then
 *      commit_transaction.
 * A retriable failure retries the commit; one that requires an abort
 * aborts: exactly once rewinds every task to its committed state (restore
 * again, seek back), at least once keeps its state (everything it holds is
 * still unwritten) and tries again at the next commit.
 *
 * Poison outputs: every output is checked against its topic's limit before
 * it is produced (fz_emit returns FZ_ERR_FULL; the stage dead-letters it).
 * An output refused anyway: at least once, a dead letter replaces it; in a
 * transaction, the transaction aborts, the input record is quarantined,
 * and when it is processed again its outputs go to the dead letters.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "alert.h"
#include "checkpoint.h"
#include "kafka.h"
#include "privacy.h"
#include "stream.h"

#define BATCH 256
#define TXN_TIMEOUT_MS 60000
#define ABORT_TIMEOUT_MS 10000 /* per try; then the producer is replaced */
#define RESTORE_WAIT_MS 240000
#define FAILURES_MAX 256
#define QUARANTINE_MAX 1024
#define FAILED_COPY 4096       /* bytes of a refused output kept for its dead letter */
#define SLOTS_MAX 0x7ffe       /* tasks per thread: a slot + 1 fits 15 bits of a packed opaque */
#define ALERT_BIT (1ull << 63) /* in a packed opaque: an alert, timed at its delivery */
#define PENDING_CAP 65536      /* alerts being timed, per thread (power of two) */
#define SNAPSHOT_MS 1000

/* An alert awaiting its delivery report: when its event happened and when
 * its input record was written. Open addressing by the packed opaque. */
static void snapshot(fz_sthread *t);

typedef struct pending {
    uint64_t key; /* 0: free */
    int64_t event_ms, ingest_ms;
} pending;

typedef struct failure {
    int slot; /* task slot + 1; 0: a state record */
    int64_t offset;
    char topic[256];
    rd_kafka_resp_err_t err;
    size_t len;
    char copy[FAILED_COPY];
} failure;

typedef struct quarantined {
    char topic[256];
    int32_t partition;
    int64_t offset;
} quarantined;

struct fz_sthread {
    fz_app *app;
    int idx;
    pthread_t tid;
    int started;
    rd_kafka_t *consumer, *txp, *outp; /* outp == txp in exactly-once mode */
    rd_kafka_t *offsets; /* reads the group's committed offsets; never joins the group */
    rd_kafka_topic_t *tx[FZ_T_COUNT], *out[FZ_T_COUNT];
    fz_pipeline *pipe;
    /* rules: the reload thread offers a matcher; this thread swaps it in */
    fz_ruleset *rs;
    _Atomic uint64_t rs_gen;
    fz_matcher *offered; /* under app->rs_lock */
    fz_ruleset *offered_rs;
    uint64_t offered_gen;
    fz_matcher *retired; /* replaced by the last swap; freed by the reload thread */
    fz_ruleset *retired_rs;
    _Atomic(fz_matcher *) cur_matcher;
    _Atomic uint64_t swap_max_ns;
    /* tasks */
    fz_task **tasks; /* by slot; NULL slots free */
    int ntasks;      /* slots in use at the end of the table */
    fz_task *last;
    const rd_kafka_topic_t *last_rkt;
    int in_txn;
    int64_t next_commit;
    int lost;             /* assignment lost: nothing may be committed until the next one */
    int txn_broken;       /* a produce into the open transaction failed: abort it */
    int64_t fenced_ms[3]; /* when the transactional producer was last fenced */
    int fenced_next;
    int ever_assigned; /* see fz_sthread_destroy */
    int64_t batch_ms;  /* monotonic time the current batch of records arrived */
    fz_buf buf[4];
    failure *failures;
    int nfailures;
    quarantined *quarantine;
    int nquarantine, quarantine_next;
    fz_ratelimit log_rl;
    fz_sthread_counters ctr;
    fz_sthread_telemetry tel;
    pending *pend; /* PENDING_CAP */
    size_t npend;
    int64_t next_snapshot;
    rd_kafka_queue_t *cq; /* the consumer's queue (its length is a metric) */
};

void fz_app_fatal(fz_app *app, const char *fmt, ...) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&app->fatal, &expected, 1)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(app->fatal_msg, sizeof(app->fatal_msg), fmt, ap);
    va_end(ap);
    fz_error("fatal: %s", app->fatal_msg);
}

fz_buf *fz_sthread_buf(fz_sthread *t, int i) { return &t->buf[i]; }
fz_sthread_counters *fz_sthread_ctr(fz_sthread *t) { return &t->ctr; }
const fz_sthread_counters *fz_sthread_counters_of(const fz_sthread *t) { return &t->ctr; }
fz_app *fz_sthread_app(fz_sthread *t) { return t->app; }
fz_pipeline *fz_sthread_pipeline(fz_sthread *t) { return t->pipe; }
fz_sthread_telemetry *fz_sthread_tel(fz_sthread *t) { return &t->tel; }
uint64_t fz_sthread_rs_gen(const fz_sthread *t) { return atomic_load(&t->rs_gen); }
fz_matcher *fz_sthread_matcher(fz_sthread *t) { return atomic_load(&t->cur_matcher); }

static inline void inc(_Atomic uint64_t *c) {
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- rules ---- */

void fz_sthread_offer_matcher(fz_sthread *t, fz_matcher *m, fz_ruleset *rs, uint64_t gen) {
    /* caller holds app->rs_lock */
    fz_matcher_destroy(t->offered); /* not taken yet: superseded */
    fz_ruleset_unref(t->offered_rs);
    t->offered = m;
    t->offered_rs = rs;
    t->offered_gen = gen;
}

static void sync_rules(fz_sthread *t) {
    fz_app *app = t->app;
    uint64_t gen = atomic_load_explicit(&app->rs_gen, memory_order_acquire);
    if (gen == atomic_load_explicit(&t->rs_gen, memory_order_relaxed)) return;
    int64_t t0 = fz_mono_ns();
    pthread_mutex_lock(&app->rs_lock);
    fz_matcher *m = t->offered;
    fz_ruleset *rs = t->offered_rs;
    uint64_t g = t->offered_gen;
    t->offered = NULL;
    t->offered_rs = NULL;
    pthread_mutex_unlock(&app->rs_lock);
    if (m) { /* the previous swap's leftovers were freed before this offer */
        t->retired = fz_pipeline_swap(t->pipe, m);
        t->retired_rs = t->rs;
        t->rs = rs;
        atomic_store(&t->cur_matcher, m);
        gen = g;
    }
    uint64_t ns = (uint64_t)(fz_mono_ns() - t0);
    if (ns > atomic_load(&t->swap_max_ns)) atomic_store(&t->swap_max_ns, ns);
    atomic_store_explicit(&t->rs_gen, gen, memory_order_release);
}

void fz_sthread_release_retired(fz_sthread *t, uint64_t *swap_ns) {
    fz_matcher_destroy(t->retired);
    fz_ruleset_unref(t->retired_rs);
    t->retired = NULL;
    t->retired_rs = NULL;
    *swap_ns = atomic_exchange(&t->swap_max_ns, 0);
}

/* ---- producing ---- */

/* The opaque of an output: its input's task slot + 1 (15 bits) and offset
 * (48 bits); ALERT_BIT on alerts being timed. */
static void *pack(const fz_task *k, int64_t offset) {
    return (void *)(uintptr_t)(((uint64_t)(k->slot + 1) << 48) |
                               ((uint64_t)offset & 0xffffffffffffULL));
}

static int is_quarantined(fz_sthread *t, const fz_task *k, int64_t offset) {
    for (int i = 0; i < t->nquarantine; i++) {
        quarantined *q = &t->quarantine[i];
        if (q->offset == offset && q->partition == k->partition && !strcmp(q->topic, k->topic))
            return 1;
    }
    return 0;
}

/* Produce, waiting while the producer's queue is full (backpressure: the
 * thread reads no more input meanwhile). */
static int produce(fz_sthread *t, rd_kafka_t *p, rd_kafka_topic_t *rkt, int32_t partition,
                   const void *key, size_t klen, const void *val, size_t len, void *opaque) {
    for (;;) {
        if (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, (void *)val, len, key, klen,
                             opaque) == 0)
            return 0;
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            inc(&t->ctr.producer_waits);
            rd_kafka_poll(p, 10); /* serve delivery reports, make room */
            if (atomic_load(&t->app->fatal)) return -1;
            continue;
        }
        if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) return FZ_ERR_FULL;
        if (p == t->txp && (e == RD_KAFKA_RESP_ERR__STATE || e == RD_KAFKA_RESP_ERR__FATAL ||
                            e == RD_KAFKA_RESP_ERR__FENCED)) {
            /* the open transaction failed (the broker was away, say): it
             * cannot commit; the next commit aborts it and what it held is
             * done again */
            if (!t->txn_broken)
                fz_warn("thread %d: produce to %s: %s: the transaction is aborted", t->idx,
                        rd_kafka_topic_name(rkt), rd_kafka_err2str(e));
            t->txn_broken = 1;
            return 0;
        }
        fz_app_fatal(t->app, "produce to %s: %s", rd_kafka_topic_name(rkt), rd_kafka_err2str(e));
        return -1;
    }
}

int fz_emit(fz_sthread *t, fz_task *k, int64_t in_offset, int topic, int32_t partition,
            const void *key, size_t klen, const void *val, size_t len) {
    if (!fz_topics_fits(&t->app->topics, topic, klen, len) || is_quarantined(t, k, in_offset))
        return FZ_ERR_FULL;
    return produce(t, t->outp, t->out[topic], partition, key, klen, val, len, pack(k, in_offset));
}

/* ---- alert latency ---- */

static size_t pend_slot(uint64_t key) { return (size_t)(XXH3_64bits(&key, 8) & (PENDING_CAP - 1)); }

static void pend_put(fz_sthread *t, uint64_t key, int64_t event_ms, int64_t ingest_ms) {
    if (t->npend >= PENDING_CAP * 3 / 4) {
        inc(&t->tel.latency_unmeasured);
        return;
    }
    size_t i = pend_slot(key);
    while (t->pend[i].key && t->pend[i].key != key) i = (i + 1) & (PENDING_CAP - 1);
    if (!t->pend[i].key) t->npend++;
    t->pend[i] = (pending){key, event_ms, ingest_ms};
}

/* Take the entry of key out (backward-shift deletion keeps probing exact). */
static int pend_take(fz_sthread *t, uint64_t key, pending *out) {
    size_t i = pend_slot(key);
    while (t->pend[i].key != key) {
        if (!t->pend[i].key) return 0;
        i = (i + 1) & (PENDING_CAP - 1);
    }
    *out = t->pend[i];
    for (size_t j = (i + 1) & (PENDING_CAP - 1);; j = (j + 1) & (PENDING_CAP - 1)) {
        if (!t->pend[j].key) break;
        size_t home = pend_slot(t->pend[j].key);
        /* move j back to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        t->pend[i] = t->pend[j];
        i = j;
    }
    t->pend[i].key = 0;
    t->npend--;
    return 1;
}

int fz_emit_alert(fz_sthread *t, fz_task *k, int64_t in_offset, const void *key, size_t klen,
                  const void *val, size_t len, int64_t event_ms, int64_t ingest_ms) {
    if (!fz_topics_fits(&t->app->topics, FZ_T_ALERTS, klen, len) || is_quarantined(t, k, in_offset))
        return FZ_ERR_FULL;
    uint64_t packed = (uint64_t)(uintptr_t)pack(k, in_offset) | ALERT_BIT;
    pend_put(t, packed, event_ms, ingest_ms);
    int rc = produce(t, t->outp, t->out[FZ_T_ALERTS], RD_KAFKA_PARTITION_UA, key, klen, val, len,
                     (void *)(uintptr_t)packed);
    if (rc || t->txn_broken) { /* not queued, or into a transaction that is aborted */
        pending gone;
        pend_take(t, packed, &gone);
    }
    return rc;
}

void fz_sthread_count_alert(fz_sthread *t, fz_str category, int severity) {
    fz_alert_class *v = t->tel.alerts;
    int i = 0;
    for (; i < FZ_ALERT_CLASSES && atomic_load_explicit(&v[i].used, memory_order_relaxed); i++)
        if (v[i].severity == severity && strlen(v[i].category) == category.n &&
            !memcmp(v[i].category, category.p, category.n))
            break;
    if (i < FZ_ALERT_CLASSES && !atomic_load_explicit(&v[i].used, memory_order_relaxed)) {
        if (category.n >= sizeof(v[i].category)) {
            i = FZ_ALERT_CLASSES; /* no rule category is this long: "other" */
        } else {
            memcpy(v[i].category, category.p, category.n);
            v[i].category[category.n] = '\0';
            v[i].severity = (uint8_t)severity;
            atomic_store_explicit(&v[i].used, 1, memory_order_release);
        }
    }
    atomic_fetch_add_explicit(&v[i].count, 1, memory_order_relaxed);
}

int fz_emit_state(fz_sthread *t, int topic, int32_t partition, const void *key, size_t klen,
                  const void *val, size_t len) {
    if (!fz_topics_fits(&t->app->topics, topic, klen, len)) {
        fz_app_fatal(t->app, "a %zu-byte record exceeds the limit of topic '%s' (%lld bytes)",
                     klen + len, t->app->topics.name[topic],
                     (long long)t->app->topics.max_bytes[topic]);
        return -1;
    }
    int rc = produce(t, t->txp, t->tx[topic], partition, key, klen, val, len, NULL);
    return rc ? -1 : 0;
}

int fz_emit_dead_letter(fz_sthread *t, fz_task *k, int64_t in_offset, fz_reason reason,
                        const char *detail, fz_str event_id, const void *payload, size_t len,
                        const void *key, size_t klen) {
    fz_app *app = t->app;
    inc(&t->ctr.dead_letters);
    if (!app->topics.name[FZ_T_DLQ]) {
        uint64_t sup;
        if (fz_ratelimit_allow(&t->log_rl, 10000, &sup))
            fz_warn("invalid event %s[%d]@%lld: %s: %s (%llu more not logged)", k->topic,
                    k->partition, (long long)in_offset, fz_reason_name(reason), detail,
                    (unsigned long long)sup);
        return 0;
    }
    fz_source src = {.topic = k->topic, .partition = k->partition, .offset = in_offset};
    /* keep as much of the payload as the topic takes */
    int64_t room = app->topics.max_bytes[FZ_T_DLQ] - 4096 - (int64_t)klen;
    size_t keep = room <= 0 ? 0 : (size_t)room * 3 / 4 /* base64 or escapes */;
    if (keep > FZ_DEADLETTER_PAYLOAD_MAX) keep = FZ_DEADLETTER_PAYLOAD_MAX;
    char keybuf[FZ_PRIVACY_KEY_OUT]; /* under privacy_numbers, the key as a number */
    klen = fz_privacy_kafka_key(fz_privacy_get(), key, klen, keybuf, &key);
    if (!fz_topics_fits(&app->topics, FZ_T_DLQ, klen, 0)) klen = 0, key = NULL;
    fz_buf *b = &t->buf[3];
    fz_buf_reset(b);
    fz_deadletter_encode_ex(b, reason, detail, event_id, payload, len, keep, &src, fz_now_ms());
    if (b->failed) {
        fz_app_fatal(app, "dead letter exceeds the encoding buffer");
        return -1;
    }
    int rc = produce(t, t->outp, t->out[FZ_T_DLQ], RD_KAFKA_PARTITION_UA, key, klen, b->p, b->len,
                     pack(k, in_offset));
    return rc ? -1 : 0;
}

/* Delivery reports (this thread, while it polls a producer). */
static int poison(rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || e == RD_KAFKA_RESP_ERR_INVALID_RECORD ||
           e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE || e == RD_KAFKA_RESP_ERR_INVALID_MSG ||
           e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE || e == RD_KAFKA_RESP_ERR_POLICY_VIOLATION;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    fz_sthread *t = opaque;
    uint64_t packed = (uint64_t)(uintptr_t)m->_private;
    if (packed & ALERT_BIT) {
        pending p;
        if (pend_take(t, packed, &p) && !m->err) {
            int64_t now = fz_now_ms();
            if (p.event_ms > 0)
                fz_hist_observe_us(&t->tel.event_to_alert, (now - p.event_ms) * 1000);
            if (p.ingest_ms > 0)
                fz_hist_observe_us(&t->tel.ingest_to_alert, (now - p.ingest_ms) * 1000);
        }
        packed &= ~ALERT_BIT;
    }
    if (!m->err) {
        int64_t us = rd_kafka_message_latency(m);
        if (us >= 0) fz_hist_observe_us(&t->tel.produce, us);
        return;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (!packed) { /* a state record: its transaction fails and is retried or aborted */
        fz_warn("%s: delivery failed: %s", topic, rd_kafka_err2str(m->err));
        return;
    }
    if (rk == t->txp && !poison(m->err)) {
        /* an output of the open transaction (timed out, purged by an abort):
         * the transaction cannot commit; it is aborted and its inputs run
         * again */
        fz_debug("%s: delivery failed: %s (the transaction is aborted)", topic,
                 rd_kafka_err2str(m->err));
        return;
    }
    if (!poison(m->err) || t->nfailures == FAILURES_MAX) {
        fz_app_fatal(t->app, "delivery to %s failed: %s", topic, rd_kafka_err2str(m->err));
        return;
    }
    failure *f = &t->failures[t->nfailures++];
    f->slot = (int)((packed >> 48) & 0x7fff);
    f->offset = (int64_t)(packed & 0xffffffffffffULL);
    snprintf(f->topic, sizeof(f->topic), "%s", topic);
    f->err = m->err;
    f->len = m->len < FAILED_COPY ? m->len : FAILED_COPY;
    if (f->len) memcpy(f->copy, m->payload, f->len);
}

/* Refused outputs reported since the last call: at least once, each
 * becomes a dead letter (the input is processed; its output is replaced);
 * in a transaction, the input is quarantined for the re-run after abort. */
static int handle_failures(fz_sthread *t) {
    for (int i = 0; i < t->nfailures; i++) {
        failure *f = &t->failures[i];
        fz_task *k = f->slot > 0 && f->slot <= t->ntasks ? t->tasks[f->slot - 1] : NULL;
        inc(&t->ctr.rejected_outputs);
        if (!k) continue;
        char detail[512];
        snprintf(detail, sizeof(detail), "topic '%s' refused an output of this input for good: %s",
                 f->topic, rd_kafka_err2str(f->err));
        fz_warn("%s[%d]@%lld: %s", k->topic, k->partition, (long long)f->offset, detail);
        if (t->app->eos) {
            quarantined *q = &t->quarantine[t->quarantine_next];
            t->quarantine_next = (t->quarantine_next + 1) % QUARANTINE_MAX;
            if (t->nquarantine < QUARANTINE_MAX) t->nquarantine++;
            snprintf(q->topic, sizeof(q->topic), "%s", k->topic);
            q->partition = k->partition;
            q->offset = f->offset;
        } else if (!strcmp(f->topic,
                           t->app->topics.name[FZ_T_DLQ] ? t->app->topics.name[FZ_T_DLQ] : "")) {
            fz_app_fatal(t->app, "the dead-letter topic refused a record: %s",
                         rd_kafka_err2str(f->err));
            return -1;
        } else if (fz_emit_dead_letter(t, k, f->offset, FZ_REASON_OUTPUT_REJECTED, detail,
                                       FZ_STR_NULL, f->copy, f->len, NULL, 0)) {
            return -1;
        }
    }
    t->nfailures = 0;
    return 0;
}

/* ---- tasks ---- */

static fz_task *task_of(fz_sthread *t, const rd_kafka_message_t *m) {
    if (t->last && t->last_rkt == m->rkt && t->last->partition == m->partition) return t->last;
    const char *name = rd_kafka_topic_name(m->rkt);
    for (int i = 0; i < t->ntasks; i++) {
        fz_task *k = t->tasks[i];
        if (k && k->partition == m->partition && !strcmp(k->topic, name)) {
            t->last = k;
            t->last_rkt = m->rkt;
            return k;
        }
    }
    return NULL;
}

static int task_add(fz_sthread *t, fz_task *k) {
    int slot = -1;
    for (int i = 0; i < t->ntasks && slot < 0; i++)
        if (!t->tasks[i]) slot = i;
    if (slot < 0) {
        if (t->ntasks >= SLOTS_MAX) return -1;
        fz_task **v = realloc(t->tasks, (size_t)(t->ntasks + 1) * sizeof(*v));
        if (!v) return -1;
        t->tasks = v;
        slot = t->ntasks++;
    }
    t->tasks[slot] = k;
    k->slot = slot;
    inc(&t->ctr.tasks);
    return 0;
}

static void task_remove(fz_sthread *t, fz_task *k) {
    t->tasks[k->slot] = NULL;
    while (t->ntasks > 0 && !t->tasks[t->ntasks - 1]) t->ntasks--;
    if (t->last == k) t->last = NULL;
    atomic_fetch_sub(&t->ctr.tasks, 1);
}

static fz_task *task_find(fz_sthread *t, const char *topic, int32_t partition) {
    for (int i = 0; i < t->ntasks; i++)
        if (t->tasks[i] && t->tasks[i]->partition == partition &&
            !strcmp(t->tasks[i]->topic, topic))
            return t->tasks[i];
    return NULL;
}

/* ---- commit ---- */

/* At least once: every output produced so far acknowledged. */
static int flush_outputs(fz_sthread *t) {
    int64_t warn_at = fz_mono_ms() + 10000;
    while (rd_kafka_outq_len(t->outp) > 0 || t->nfailures) {
        rd_kafka_flush(t->outp, 100);
        if (handle_failures(t)) return -1;
        if (atomic_load(&t->app->fatal)) return -1;
        if (fz_mono_ms() > warn_at) {
            fz_warn("thread %d: %d output(s) not acknowledged for 10 s: the broker is away? "
                    "(waiting: nothing is committed past them)",
                    t->idx, rd_kafka_outq_len(t->outp));
            warn_at = fz_mono_ms() + 10000;
        }
    }
    return 0;
}

static int begin(fz_sthread *t) {
    if (t->in_txn) return 0;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(t->txp);
    if (e) {
        fz_app_fatal(t->app, "begin transaction: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    t->in_txn = 1;
    return 0;
}

static int rewind_tasks(fz_sthread *t);
static rd_kafka_t *make_producer(fz_sthread *t, int transactional, char *err, size_t n);

/* Topic handles of the transactional producer (and, exactly once, of the
 * outputs, which it produces too). */
static void txp_topics(fz_sthread *t, int create) {
    fz_app *app = t->app;
    for (int i = 0; i < FZ_T_COUNT; i++) {
        if (!create) {
            if (t->tx[i]) rd_kafka_topic_destroy(t->tx[i]);
            t->tx[i] = NULL;
            if (app->eos) t->out[i] = NULL;
            continue;
        }
        if (!app->topics.name[i]) continue;
        t->tx[i] = rd_kafka_topic_new(t->txp, app->topics.name[i], NULL);
        if (app->eos) t->out[i] = t->tx[i];
    }
}

/* Register the transactional id with the coordinator (fencing whatever
 * producer had it: a zombie, or this thread's previous one). Retriable
 * errors (the broker away) are retried until stop. 0, or -1 with err. */
static int init_txp(fz_sthread *t, char *err, size_t n) {
    for (;;) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(t->txp, TXN_TIMEOUT_MS);
        if (!e) return 0;
        int again = rd_kafka_error_is_retriable(e) && !atomic_load(&t->app->stop);
        snprintf(err, n, "thread %d: init transactions (transactional.id %s.%s.%d): %s", t->idx,
                 t->app->cfg->group_id, t->app->instance, t->idx, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        if (!again) return -1;
        fz_warn("%s: retrying", err);
        usleep(500000);
    }
}

/* A transaction that cannot be ended (its coordinator aborted it on the
 * transaction timeout while the broker was away, and answers the abort
 * with an invalid-state error): a new producer with the same
 * transactional.id, whose init_transactions() ends whatever the old one
 * left open. What the transaction held is gone, as with an abort. */
static int reset_txp(fz_sthread *t) {
    char err[512];
    rd_kafka_purge(t->txp, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(t->txp, 0);
    txp_topics(t, 0);
    rd_kafka_destroy(t->txp);
    if (t->app->eos) t->outp = NULL;
    t->in_txn = 0;
    t->txn_broken = 0;
    if (!(t->txp = make_producer(t, 1, err, sizeof(err)))) {
        fz_app_fatal(t->app, "%s", err);
        return -1;
    }
    if (t->app->eos) t->outp = t->txp;
    txp_topics(t, 1);
    if (init_txp(t, err, sizeof(err)) != 0) {
        fz_app_fatal(t->app, "%s", err);
        return -1;
    }
    inc(&t->ctr.producer_resets);
    return 0;
}

/* Fenced: another producer with this transactional.id took over (another
 * instance runs with the same instance_id), or no permission. Nothing a new
 * producer could cure without fencing the other one in turn. */
static int fenced(rd_kafka_t *rk, const rd_kafka_error_t *e) {
    rd_kafka_resp_err_t c = rd_kafka_error_code(e);
    if (c == RD_KAFKA_RESP_ERR__FATAL) c = rd_kafka_fatal_error(rk, NULL, 0);
    return c == RD_KAFKA_RESP_ERR__FENCED || c == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           c == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
           c == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
           c == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
           c == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
}

/* A producer is fenced when a newer one took its transactional.id - or,
 * on brokers that bump the producer epoch when they abort a transaction
 * that outlived its timeout (Kafka 4), when the broker was away for longer
 * than that. The second is cured by a new producer; the first (two live
 * instances with one instance_id) would make the two fence each other for
 * ever: a third fencing within two minutes is taken for it. */
static int fenced_again(fz_sthread *t) {
    int64_t now = fz_mono_ms();
    int recent = 0;
    for (int i = 0; i < 3; i++)
        if (t->fenced_ms[i] && now - t->fenced_ms[i] < 120000) recent++;
    t->fenced_ms[t->fenced_next] = now;
    t->fenced_next = (t->fenced_next + 1) % 3;
    return recent >= 2;
}

/* The transaction is gone (aborted, or its producer replaced): exactly
 * once, its outputs went with it, so every task goes back to its committed
 * state; at least once, the tasks keep their state and the next commit
 * writes it again. 0, or -1 fatal. */
static int after_abort(fz_sthread *t) {
    t->in_txn = 0;
    for (int i = 0; i < t->ntasks; i++) {
        fz_task *k = t->tasks[i];
        if (!k) continue;
        k->flushed = 0;
        if (k->interim_flushed) k->counted = 1; /* its interim records went with it */
        k->interim_flushed = 0;
    }
    if (!t->app->eos) return 0;
    t->nfailures = 0;
    return rewind_tasks(t) != 0 || begin(t) != 0 ? -1 : 0;
}

/* Abort the open transaction (or, when that cannot be done, replace the
 * producer), then after_abort(). 0, or -1 fatal. */
static int abort_txn(fz_sthread *t) {
    int rc = -1;
    inc(&t->ctr.aborts);
    t->txn_broken = 0;
    rd_kafka_error_t *a;
    for (int tries = 0; (a = rd_kafka_abort_transaction(t->txp, ABORT_TIMEOUT_MS)) &&
                        rd_kafka_error_is_retriable(a) && tries < 2;
         tries++) {
        rd_kafka_error_destroy(a);
        usleep(200000);
    }
    if (a && fenced(t->txp, a) && fenced_again(t)) {
        fz_app_fatal(t->app,
                     "abort transaction: %s, three times in two minutes (is another "
                     "instance running with the same instance_id?)",
                     rd_kafka_error_string(a));
    } else if (a) {
        /* e.g. the coordinator aborted it itself while the broker was
         * away, and answers with an invalid-state error */
        fz_warn("thread %d: abort transaction: %s: starting a new transactional producer", t->idx,
                rd_kafka_error_string(a));
        if (reset_txp(t) == 0) rc = after_abort(t);
    } else {
        rc = after_abort(t);
    }
    if (a) rd_kafka_error_destroy(a);
    return rc;
}

/* What to do after a transactional call failed: 1 retry the call, 0 the
 * transaction was aborted, -1 fatal. */
static int txn_error(fz_sthread *t, rd_kafka_error_t *e, const char *what) {
    int rc = -1;
    if (rd_kafka_error_is_retriable(e)) {
        inc(&t->ctr.commit_retries);
        fz_debug("thread %d: %s: %s (retrying)", t->idx, what, rd_kafka_error_string(e));
        usleep(100000);
        rc = 1;
    } else if (rd_kafka_error_txn_requires_abort(e)) {
        fz_warn("thread %d: %s: %s: aborting the transaction", t->idx, what,
                rd_kafka_error_string(e));
        rc = abort_txn(t);
    } else if (rd_kafka_error_is_fatal(e) && !(fenced(t->txp, e) && fenced_again(t))) {
        fz_warn("thread %d: %s: %s: starting a new transactional producer", t->idx, what,
                rd_kafka_error_string(e));
        inc(&t->ctr.aborts);
        if (reset_txp(t) == 0) rc = after_abort(t);
    } else {
        fz_app_fatal(t->app, "%s: %s%s", what, rd_kafka_error_string(e),
                     rd_kafka_error_is_fatal(e) ? " (is another instance running with the same "
                                                  "instance_id?)"
                                                : "");
    }
    rd_kafka_error_destroy(e);
    return rc;
}

/* read, changed or closed something since its last commit */
static int changed(const fz_task *k) {
    return k->dirty || k->nclosed || k->position != k->committed;
}

static int commit(fz_sthread *t, int final) {
    fz_app *app = t->app;
    t->next_commit = fz_mono_ms() + app->commit_ms;
    if (t->lost || atomic_load(&app->fatal)) return -1;
    int any = 0;
    for (int i = 0; i < t->ntasks; i++) {
        fz_task *k = t->tasks[i];
        if (k && (changed(k) || k->counted)) any = 1;
    }
    if (!any) return 0;
    if (!app->eos && flush_outputs(t)) return -1;
    for (;;) {
        if (begin(t)) return -1;
        for (int i = 0; i < t->ntasks; i++) {
            fz_task *k = t->tasks[i];
            if (!k) continue;
            k->flushed = 0;
            /* counted: its open windows' records are due once events pause
             * (fz_task_flush), also when nothing else changed since the
             * commit that took its checkpoint */
            if (!changed(k) && !k->counted) continue;
            if (fz_task_flush(t, k, final)) return -1;
            k->flushed = 1;
        }
        if (t->txn_broken) return abort_txn(t) < 0 ? -1 : 0;
        /* a task's offset only with its checkpoint and changelog entries:
         * were an earlier commit reported done but lost at the broker, a
         * later one must not commit the offset without the state */
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->ntasks + 1);
        for (int i = 0; i < t->ntasks; i++) {
            fz_task *k = t->tasks[i];
            if (!k || !k->flushed || k->position < 0) continue;
            rd_kafka_topic_partition_t *p =
                rd_kafka_topic_partition_list_add(l, k->topic, k->partition);
            p->offset = k->position;
            /* its lineage, for a restore that finds the offset behind the
             * checkpoint (checkpoint.h); freed with the list */
            char tag[FZ_CHECKPOINT_TAG_MAX];
            size_t n = fz_checkpoint_offset_tag(k->lineage, tag);
            if ((p->metadata = malloc(n))) {
                memcpy(p->metadata, tag, n);
                p->metadata_size = n;
            }
        }
        rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(t->consumer);
        if (!md) {
            /* the consumer is leaving the group (closing): no offsets can
             * be committed, so nothing of this transaction may be; whoever
             * takes the tasks over restores them from their last commit */
            rd_kafka_topic_partition_list_destroy(l);
            fz_warn("thread %d: commit: the consumer has left the group; the transaction "
                    "is aborted",
                    t->idx);
            return abort_txn(t) < 0 ? -1 : 0;
        }
        rd_kafka_error_t *e = NULL;
        int r;
        for (;;) {
            e = l->cnt ? rd_kafka_send_offsets_to_transaction(t->txp, l, md, TXN_TIMEOUT_MS) : NULL;
            if (!e || (r = txn_error(t, e, "send offsets")) != 1) break;
        }
        rd_kafka_consumer_group_metadata_destroy(md);
        rd_kafka_topic_partition_list_destroy(l);
        if (e) return r < 0 ? -1 : 0; /* aborted: state kept (at least once) or rewound */
        for (;;) {
            e = rd_kafka_commit_transaction(t->txp, TXN_TIMEOUT_MS);
            if (!e || (r = txn_error(t, e, "commit transaction")) != 1) break;
        }
        if (e) return r < 0 ? -1 : 0;
        t->in_txn = 0;
        break;
    }
    for (int i = 0; i < t->ntasks; i++)
        if (t->tasks[i] && t->tasks[i]->flushed) fz_task_committed(t->tasks[i]);
    inc(&t->ctr.commits);
    if (app->eos) return begin(t);
    return 0;
}

/* ---- assignment ---- */

/* Restoring runs on the stream thread, which does not poll its consumer
 * meanwhile: it keeps trying (the cluster may be away for a while) for up
 * to RESTORE_WAIT_MS, well inside librdkafka's max.poll.interval.ms.
 * When the process is told to stop meanwhile, the restore is abandoned
 * (its reads give up at once): -1 without a fatal error - the caller drops
 * the tasks (drop_unrestored), and whoever is assigned them next restores
 * them from their last commit. Otherwise failing for that long is fatal. */
static int restore_tasks(fz_sthread *t, fz_task **v, int n, rd_kafka_topic_partition_list_t *l) {
    fz_app *app = t->app;
    int64_t until = fz_mono_ms() + RESTORE_WAIT_MS;
    for (int attempt = 1;; attempt++) {
        if (fz_restore(app, t->offsets, v, n, l, &t->ctr) == 0) return 0;
        if (atomic_load(&app->stop) && !atomic_load(&app->fatal)) {
            fz_info("thread %d: stopping: the restore of %d task(s) is abandoned; they stay at "
                    "their last commit",
                    t->idx, n);
            return -1;
        }
        if (atomic_load(&app->fatal) || fz_mono_ms() >= until) break;
        inc(&t->ctr.restore_retries);
        fz_warn("thread %d: restoring %d task(s) failed (attempt %d); trying again", t->idx, n,
                attempt);
        sleep(attempt < 5 ? (unsigned)attempt : 5);
    }
    fz_app_fatal(app, "cannot restore the state of %d assigned partition(s)", n);
    return -1;
}

/* Tasks v[0..n) whose restore was abandoned: out of the thread, so that
 * no record is processed into their empty state (a record of a partition
 * without a task is skipped) and nothing of theirs is committed. */
static void drop_unrestored(fz_sthread *t, fz_task **v, int n) {
    for (int i = 0; i < n; i++) {
        if (!v[i]) continue;
        task_remove(t, v[i]);
        fz_task_destroy(v[i]);
        v[i] = NULL;
    }
}

/* EOS abort: every task back to its committed state. */
static int rewind_tasks(fz_sthread *t) {
    int n = 0;
    fz_task **v = calloc((size_t)t->ntasks + 1, sizeof(*v));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->ntasks + 1);
    for (int i = 0; v && i < t->ntasks; i++) {
        fz_task *k = t->tasks[i];
        if (!k) continue;
        fz_task *fresh = fz_task_new(t->app, k->stage, k->topic, k->partition);
        if (!fresh) break;
        fresh->slot = k->slot;
        t->tasks[i] = fresh;
        fz_task_destroy(k);
        v[n++] = fresh;
        rd_kafka_topic_partition_list_add(l, fresh->topic, fresh->partition);
    }
    t->last = NULL;
    int rc = !v || restore_tasks(t, v, n, l) != 0 ? -1 : 0;
    if (rc && v && !atomic_load(&t->app->fatal)) drop_unrestored(t, v, n);
    if (rc == 0 && l->cnt) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(t->consumer, l, TXN_TIMEOUT_MS);
        if (e) {
            fz_app_fatal(t->app, "seek after abort: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            rc = -1;
        }
    }
    free(v);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static void assigned(fz_sthread *t, rd_kafka_topic_partition_list_t *parts) {
    fz_app *app = t->app;
    t->lost = 0;
    t->ever_assigned = 1;
    fz_task **v = calloc((size_t)parts->cnt + 1, sizeof(*v));
    int n = 0;
    for (int i = 0; v && i < parts->cnt; i++) {
        const char *topic = parts->elems[i].topic;
        int32_t p = parts->elems[i].partition;
        if (task_find(t, topic, p)) continue;
        fz_stage st =
            !strcmp(topic, app->topics.name[FZ_T_ROUTE]) ? FZ_STAGE_DECIDE : FZ_STAGE_SCREEN;
        fz_task *k = fz_task_unsuspend(app, topic, p);
        if (!k) k = fz_task_new(app, st, topic, p);
        if (!k || task_add(t, k) != 0) {
            fz_app_fatal(app, "out of memory for %s[%d]", topic, p);
            fz_task_destroy(k);
            break;
        }
        v[n++] = k;
        fz_info("thread %d: assigned %s[%d] (%s)", t->idx, topic, p,
                st == FZ_STAGE_DECIDE ? "decide" : "screen");
    }
    int64_t t0 = fz_mono_ms();
    atomic_store(&t->tel.joined, 1);
    snapshot(t);
    atomic_store(&t->tel.restoring, n);
    if (n && restore_tasks(t, v, n, parts) == 0)
        fz_info("thread %d: %d task(s) ready (restored in %lld ms)", t->idx, n,
                (long long)(fz_mono_ms() - t0));
    else if (n && !atomic_load(&app->fatal))
        drop_unrestored(t, v, n);
    atomic_store(&t->tel.restoring, 0);
    atomic_store_explicit(&t->tel.beat_ms, fz_mono_ms(), memory_order_relaxed);
    free(v);
}

static void revoked(fz_sthread *t, rd_kafka_topic_partition_list_t *parts, int lost) {
    fz_app *app = t->app;
    if (lost) {
        /* another member owns them now: nothing of ours may be committed */
        fz_warn("thread %d: assignment lost (%d partition(s)): dropping their uncommitted work",
                t->idx, parts->cnt);
        t->lost = 1;
        if (t->in_txn) {
            rd_kafka_error_t *e = rd_kafka_abort_transaction(t->txp, ABORT_TIMEOUT_MS);
            if (e) rd_kafka_error_destroy(e);
            t->in_txn = 0;
            t->txn_broken = 0;
        }
        if (!app->eos) rd_kafka_purge(t->outp, RD_KAFKA_PURGE_F_QUEUE);
    } else if (!atomic_load(&app->fatal)) {
        commit(t, 1);
    }
    for (int i = 0; i < parts->cnt; i++) {
        fz_task *k = task_find(t, parts->elems[i].topic, parts->elems[i].partition);
        if (!k) continue;
        task_remove(t, k);
        fz_info("thread %d: revoked %s[%d] at offset %lld", t->idx, k->topic, k->partition,
                (long long)k->committed);
        if (!lost && k->position == k->committed && !k->dirty)
            fz_task_suspend(app, k); /* clean: kept in case it comes back */
        else
            fz_task_destroy(k);
    }
    if (lost && t->ntasks > 0 && app->eos) rewind_tasks(t);
    if (app->eos && !t->in_txn && !atomic_load(&app->fatal)) begin(t);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    fz_sthread *t = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assigned(t, parts);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        revoked(t, parts, rd_kafka_assignment_lost(rk));
        snapshot(t);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e) {
        fz_error("thread %d: rebalance: %s", t->idx, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/* ---- the record loop ---- */

/* The first record after a restore must be the last one the task read. */
static int verify(fz_sthread *t, fz_task *k, const rd_kafka_message_t *m, uint64_t fp) {
    int64_t want = k->verify_offset;
    k->verify_offset = -1;
    if (m->offset == want && fp == k->verify_fp) return 1; /* the same topic: skip it */
    if (m->offset > want) {
        if (m->offset > k->position)
            fz_warn("%s[%d]: offsets %lld to %lld were deleted by retention before they were "
                    "processed",
                    k->topic, k->partition, (long long)k->position, (long long)m->offset - 1);
        return m->offset < k->position; /* already processed: skip */
    }
    /* offset back behind the last one read, or another record there: the
     * topic was recreated (or truncated) since the checkpoint */
    inc(&t->ctr.incarnations);
    fz_error("%s[%d]: the topic is not the one checkpointed (%s at offset %lld): it was recreated "
             "or truncated; its checkpoint and state no longer apply - starting the partition "
             "again from its beginning under a new lineage",
             k->topic, k->partition, m->offset == want ? "another record" : "no record",
             (long long)want);
    fz_task_reset(t->app, k);
    k->position = -1;
    if (m->offset == want) { /* read it again from the beginning */
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, k->topic, k->partition)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_error_t *e = rd_kafka_seek_partitions(t->consumer, l, TXN_TIMEOUT_MS);
        if (e) {
            fz_app_fatal(t->app, "seek: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(l);
        return 1;
    }
    return 0; /* the consumer is at the beginning already: process it */
}

static int handle(fz_sthread *t, rd_kafka_message_t *m) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return 0;
    if (m->err) {
        uint64_t sup;
        if (fz_ratelimit_allow(&t->log_rl, 5000, &sup))
            fz_warn("thread %d: consume: %s (%llu similar not logged)", t->idx,
                    rd_kafka_message_errstr(m), (unsigned long long)sup);
        return 0;
    }
    fz_task *k = task_of(t, m);
    if (!k) return 0; /* revoked meanwhile */
    inc(&t->ctr.consumed);
    uint64_t fp = fz_checkpoint_fingerprint(m->key, m->key_len, m->payload, m->len,
                                            rd_kafka_message_timestamp(m, NULL));
    if (k->verify_offset >= 0 && verify(t, k, m, fp)) return 0;
    if (k->position >= 0 && m->offset < k->position) return 0; /* read before */
    int rc = k->stage == FZ_STAGE_SCREEN ? fz_screen(t, k, m) : fz_decide(t, k, m);
    if (rc < 0) return -1;
    k->position = m->offset + 1;
    k->last_offset = m->offset;
    k->last_fp = fp;
    k->dirty = 1;
    k->counted = k->ledger != NULL;
    k->last_event_ms = t->batch_ms;
    if (rc > 0) commit(t, 0); /* the task holds many closed windows: write them now */
    return 0;
}

/* ---- telemetry ---- */

/* Publish what the metrics read about this thread's tasks and queues. */
static void snapshot(fz_sthread *t) {
    fz_sthread_snapshot *s = &t->tel.snap;
    pthread_mutex_lock(&t->tel.lock);
    if (s->cap < t->ntasks) {
        fz_lag_row *v = realloc(s->rows, (size_t)t->ntasks * sizeof(*v));
        if (v) s->rows = v, s->cap = t->ntasks;
    }
    s->nrows = 0;
    memset(&s->dedup, 0, sizeof(s->dedup));
    memset(&s->campaigns, 0, sizeof(s->campaigns));
    memset(&s->aggs, 0, sizeof(s->aggs));
    s->dedup_stores = 0;
    for (int i = 0; i < t->ntasks; i++) {
        fz_task *k = t->tasks[i];
        if (!k) continue;
        if (k->stage == FZ_STAGE_DECIDE) {
            fz_dedup_stats d;
            fz_dedup_stats_get(k->stores.dedup, &d);
            s->dedup.entries += d.entries, s->dedup.capacity += d.capacity;
            s->dedup.evictions += d.evictions, s->dedup.bytes += d.bytes;
            s->dedup_stores++;
            if (k->stores.campaigns) {
                fz_campaigns_stats c;
                fz_campaigns_stats_get(k->stores.campaigns, &c);
                s->campaigns.campaigns += c.campaigns, s->campaigns.evictions += c.evictions;
                s->campaigns.bytes += c.bytes;
            }
            if (k->stores.aggs) {
                fz_agg_stats a;
                fz_aggs_stats_get(k->stores.aggs, &a);
                s->aggs.entries += a.entries, s->aggs.evictions += a.evictions;
                s->aggs.bytes += a.bytes, s->aggs.late += a.late;
                s->aggs.over_budget += a.over_budget, s->aggs.estimated += a.estimated;
            }
        }
        if (s->nrows == s->cap) continue;
        fz_lag_row *r = &s->rows[s->nrows++];
        snprintf(r->topic, sizeof(r->topic), "%s", k->topic);
        r->partition = k->partition;
        r->stage = k->stage;
        r->position = k->position;
        r->committed = k->committed;
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(t->consumer, k->topic, k->partition, &lo, &hi) || hi < 0)
            hi = -1;
        r->high = hi;
    }
    s->consumer_queue = t->cq ? (int64_t)rd_kafka_queue_length(t->cq) : 0;
    s->producer_queue[0] = t->outp && t->outp != t->txp ? rd_kafka_outq_len(t->outp) : 0;
    s->producer_queue[1] = t->txp ? rd_kafka_outq_len(t->txp) : 0;
    /* nothing in flight: an alert still pending lost its delivery report with
     * a producer that was replaced; forget it */
    if (t->npend && !s->producer_queue[0] && !s->producer_queue[1]) {
        memset(t->pend, 0, PENDING_CAP * sizeof(*t->pend));
        t->npend = 0;
    }
    pthread_mutex_unlock(&t->tel.lock);
    t->next_snapshot = fz_mono_ms() + SNAPSHOT_MS;
}

static void *thread_main(void *arg) {
    fz_sthread *t = arg;
    fz_app *app = t->app;
    char name[32];
    snprintf(name, sizeof(name), "stream-%d", t->idx);
    fz_log_set_component(name);
    t->next_commit = fz_mono_ms() + app->commit_ms;
    if (app->eos && begin(t)) return NULL;
    while (!atomic_load(&app->stop) && !atomic_load(&app->fatal)) {
        atomic_store_explicit(&t->tel.beat_ms, fz_mono_ms(), memory_order_relaxed);
        sync_rules(t);
        /* one record at a time: librdkafka 2.0's batch consume can hand out
         * records from before a rebalance or seek after newer ones */
        for (int i = 0; i < BATCH; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(t->consumer, i ? 0 : 100);
            if (!m) break;
            if (i == 0) t->batch_ms = fz_mono_ms();
            int rc = handle(t, m);
            rd_kafka_message_destroy(m);
            if (rc < 0) goto out;
        }
        t->batch_ms = fz_mono_ms();
        rd_kafka_poll(t->outp, 0);
        if (t->outp != t->txp) rd_kafka_poll(t->txp, 0);
        if (handle_failures(t)) break;
        if (t->batch_ms >= t->next_commit) commit(t, 0);
        if (t->batch_ms >= t->next_snapshot) snapshot(t);
    }
out:
    if (!atomic_load(&app->fatal)) {
        commit(t, 1);
    } else if (t->in_txn) {
        /* ended now rather than by the coordinator after the transaction
         * timeout: open, it holds back the last stable offset of every
         * partition it wrote to and the committed offsets it carries, and
         * whoever takes the tasks over waits for it to restore them */
        rd_kafka_error_t *e = rd_kafka_abort_transaction(t->txp, ABORT_TIMEOUT_MS);
        if (e) {
            fz_debug("thread %d: abort transaction at exit: %s", t->idx, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        t->in_txn = 0;
    }
    atomic_store(&t->tel.exited, 1);
    return NULL;
}

/* ---- set-up ---- */

static rd_kafka_t *make_producer(fz_sthread *t, int transactional, char *err, size_t n) {
    fz_app *app = t->app;
    const fz_config *cfg = app->cfg;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char cid[300], tid[400], maxb[24], batch[24];
    snprintf(cid, sizeof(cid), "fanzha-%s-%d%s", app->instance, t->idx, transactional ? "-tx" : "");
    snprintf(tid, sizeof(tid), "%s.%s.%d", cfg->group_id, app->instance, t->idx);
    snprintf(maxb, sizeof(maxb), "%lld", (long long)app->topics.producer_max_bytes);
    snprintf(batch, sizeof(batch), "%lld", (long long)app->topics.producer_batch_bytes);
    if (fz_kafka_conf_set(c, "bootstrap.servers", cfg->brokers, err, n) ||
        fz_kafka_conf_set(c, "client.id", cid, err, n) ||
        fz_kafka_conf_set(c, "linger.ms", "5", err, n) ||
        fz_kafka_conf_set(c, "message.max.bytes", maxb, err, n) ||
        fz_kafka_conf_set(c, "batch.size", batch, err, n) ||
        (transactional && fz_kafka_conf_set(c, "transaction.timeout.ms", "10000", err, n)) ||
        fz_kafka_conf_apply(c, &cfg->kafka, err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka_producer, err, n) ||
        /* what the guarantees rest on: last, so nothing overrides it */
        fz_kafka_conf_set(c, "enable.idempotence", "true", err, n) ||
        fz_kafka_conf_set(c, "acks", "all", err, n) ||
        (transactional && fz_kafka_conf_set(c, "transactional.id", tid, err, n)) ||
        /* an output is never expired locally: a broker away is backpressure */
        (!transactional && fz_kafka_conf_set(c, "message.timeout.ms", "0", err, n))) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, t);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    return fz_kafka_client_new(RD_KAFKA_PRODUCER, c, "producer", err, n);
}

static rd_kafka_t *make_consumer(fz_sthread *t, char *err, size_t n) {
    fz_app *app = t->app;
    const fz_config *cfg = app->cfg;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char cid[300];
    snprintf(cid, sizeof(cid), "fanzha-%s-%d", app->instance, t->idx);
    if (fz_kafka_conf_set(c, "bootstrap.servers", cfg->brokers, err, n) ||
        fz_kafka_conf_set(c, "group.id", cfg->group_id, err, n) ||
        fz_kafka_conf_set(c, "client.id", cid, err, n) ||
        fz_kafka_conf_set(c, "auto.offset.reset", "earliest", err, n) ||
        /* joining members do not stop the others (KIP-429) */
        fz_kafka_conf_set(c, "partition.assignment.strategy", "cooperative-sticky", err, n) ||
        fz_kafka_consumer_defaults(c, err, n) || fz_kafka_conf_apply(c, &cfg->kafka, err, n) ||
        fz_kafka_conf_apply(c, &cfg->kafka_consumer, err, n) ||
        /* fanzha alone decides what is committed, and only what committed */
        fz_kafka_conf_set(c, "enable.auto.commit", "false", err, n) ||
        fz_kafka_conf_set(c, "enable.auto.offset.store", "false", err, n) ||
        fz_kafka_conf_set(c, "isolation.level", "read_committed", err, n)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, t);
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_t *rk = fz_kafka_client_new(RD_KAFKA_CONSUMER, c, "consumer", err, n);
    if (!rk) return NULL;
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* The committed offsets are read through a consumer of their own, not the
 * group member: librdkafka sends a member's offset fetch behind its
 * pending JoinGroup request, so a restore that ran while a rebalance was
 * waiting for this very thread blocked them both until a timeout (seen
 * after a broker restart: the group stood still for 60 s). */
static rd_kafka_t *make_offsets_reader(fz_sthread *t, char *err, size_t n) {
    char cid[300];
    snprintf(cid, sizeof(cid), "fanzha-%s-%d-offsets", t->app->instance, t->idx);
    /* read_committed: offsets a transaction has not yet committed are
     * waited for */
    return fz_kafka_reader_new(t->app->cfg, t->app->cfg->group_id, cid, 100, err, n);
}

fz_sthread *fz_sthread_new(fz_app *app, int idx, char *err, size_t n) {
    const fz_config *cfg = app->cfg;
    fz_sthread *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    t->app = app;
    t->idx = idx;
    size_t cap = (size_t)cfg->max_event_bytes * 8 + (64u << 20);
    for (int i = 0; i < 4; i++) fz_buf_init(&t->buf[i], cap);
    t->failures = calloc(FAILURES_MAX, sizeof(*t->failures));
    t->quarantine = calloc(QUARANTINE_MAX, sizeof(*t->quarantine));
    t->pipe = fz_pipeline_new((size_t)cfg->max_event_bytes, 0, err, n);
    t->pend = calloc(PENDING_CAP, sizeof(*t->pend));
    pthread_mutex_init(&t->tel.lock, NULL);
    atomic_store(&t->tel.beat_ms, fz_mono_ms());
    if (!t->failures || !t->quarantine || !t->pipe || !t->pend) goto fail;
    pthread_mutex_lock(&app->rs_lock);
    t->rs = fz_ruleset_ref(app->rs);
    atomic_store(&t->rs_gen, atomic_load(&app->rs_gen));
    pthread_mutex_unlock(&app->rs_lock);
    if (fz_pipeline_bind(t->pipe, t->rs, err, n) != 0) goto fail;
    fz_pipeline_set_masks(t->pipe, &app->masks);
    atomic_store(&t->cur_matcher, fz_pipeline_matcher(t->pipe));
    if (!(t->txp = make_producer(t, 1, err, n))) goto fail;
    t->outp = app->eos ? t->txp : make_producer(t, 0, err, n);
    if (!t->outp) goto fail;
    txp_topics(t, 1);
    for (int i = 0; i < FZ_T_COUNT && !app->eos; i++)
        if (app->topics.name[i]) t->out[i] = rd_kafka_topic_new(t->outp, app->topics.name[i], NULL);
    if (init_txp(t, err, n) != 0) goto fail;
    if (!(t->consumer = make_consumer(t, err, n))) goto fail;
    t->cq = rd_kafka_queue_get_consumer(t->consumer);
    if (!(t->offsets = make_offsets_reader(t, err, n))) goto fail;
    return t;
fail:
    fz_sthread_destroy(t);
    return NULL;
}

int fz_sthread_start(fz_sthread *t) {
    const fz_config *cfg = t->app->cfg;
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)cfg->n_input_topics + 1);
    for (size_t i = 0; i < cfg->n_input_topics; i++)
        rd_kafka_topic_partition_list_add(l, cfg->input_topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(l, t->app->topics.name[FZ_T_ROUTE], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(t->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        fz_error("thread %d: subscribe: %s", t->idx, rd_kafka_err2str(e));
        return -1;
    }
    if (pthread_create(&t->tid, NULL, thread_main, t) != 0) return -1;
    t->started = 1;
    return 0;
}

void fz_sthread_join(fz_sthread *t) {
    if (!t || !t->started) return;
    pthread_join(t->tid, NULL);
    t->started = 0;
    /* leave the group: the revocation commits (unless fatal) and suspends */
    rd_kafka_consumer_close(t->consumer);
}

void fz_sthread_destroy(fz_sthread *t) {
    if (!t) return;
    fz_sthread_join(t);
    /* librdkafka before 2.3.0 (Debian 12 has 2.0.2) aborts when a
     * cooperative-sticky consumer that never received an assignment is
     * destroyed (librdkafka issue #4312). Such a consumer has left the group
     * (closed above) and holds nothing else: at exit it is left to the OS. */
    if (t->cq) rd_kafka_queue_destroy(t->cq);
    if (t->consumer && (t->ever_assigned || strcmp(rd_kafka_version_str(), "2.3.0") >= 0))
        rd_kafka_destroy(t->consumer);
    else if (t->consumer)
        fz_debug("thread %d: consumer never assigned: not destroyed (librdkafka #4312)", t->idx);
    for (int i = 0; i < t->ntasks; i++) fz_task_destroy(t->tasks[i]);
    free(t->tasks);
    if (t->outp && t->outp != t->txp) {
        if (rd_kafka_flush(t->outp, (int)t->app->cfg->shutdown_timeout_ms) != 0)
            fz_warn("thread %d: %d output(s) not acknowledged at exit (their input is not "
                    "committed: they are produced again)",
                    t->idx, rd_kafka_outq_len(t->outp));
    }
    for (int i = 0; i < FZ_T_COUNT; i++) {
        if (t->out[i] && t->out[i] != t->tx[i]) rd_kafka_topic_destroy(t->out[i]);
        if (t->tx[i]) rd_kafka_topic_destroy(t->tx[i]);
    }
    if (t->outp && t->outp != t->txp) rd_kafka_destroy(t->outp);
    if (t->txp) rd_kafka_destroy(t->txp);
    if (t->offsets) rd_kafka_destroy(t->offsets);
    fz_pipeline_destroy(t->pipe);
    fz_matcher_destroy(t->offered);
    fz_ruleset_unref(t->offered_rs);
    fz_matcher_destroy(t->retired);
    fz_ruleset_unref(t->retired_rs);
    fz_ruleset_unref(t->rs);
    for (int i = 0; i < 4; i++) fz_buf_free(&t->buf[i]);
    free(t->failures);
    free(t->quarantine);
    free(t->pend);
    free(t->tel.snap.rows);
    pthread_mutex_destroy(&t->tel.lock);
    free(t);
}
