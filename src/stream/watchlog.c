/*
 * watchlog.c - the global watchlist's reader: one thread per process reads
 * every partition of the watch changelog (read_committed) from the
 * beginning and merges each entry into the process's fz_watch, for ever.
 * Like a Kafka Streams GlobalKTable: each number's entry has one writer
 * (the decide task of its route partition), every instance reads them all.
 *
 * The daemon waits for the first catch-up before its stream threads start
 * (fz_watchlog_catch_up), and a decide task waits for its partition before
 * it runs, so it merges new marks into the entries its predecessor wrote.
 *
 * Positions: per partition, the offset the reader has passed, moved by
 * every record and by partition-EOF events (the end of a transactional
 * partition is a commit marker, which is not delivered as a record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"
#include "stream.h"

#define ENTRY_CODEC 1

struct fz_watchlog {
    fz_app *app;
    rd_kafka_t *rk;
    rd_kafka_t *probe; /* where each partition's log ends (fz_kafka_probe_new) */
    pthread_t tid;
    int started;
    _Atomic int stop;
    int32_t nparts;
    _Atomic int64_t *pos;
    _Atomic uint64_t records, bad;
};

fz_err fz_watch_entry_save(const fz_watch_entry *e, fz_buf *b) {
    fz_buf_putc(b, ENTRY_CODEC);
    for (int k = 0; k < FZ_WATCH_KINDS; k++) {
        fz_buf_put(b, &e->runs[k].first_ms, 8);
        fz_buf_put(b, &e->runs[k].last_ms, 8);
    }
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

int fz_watch_entry_load(fz_watch_entry *e, uint64_t key, const void *p, size_t n) {
    const unsigned char *c = p;
    if (n != 1 + 16 * FZ_WATCH_KINDS || c[0] != ENTRY_CODEC || !key) return -1;
    e->key = key;
    for (int k = 0; k < FZ_WATCH_KINDS; k++) {
        memcpy(&e->runs[k].first_ms, c + 1 + 16 * k, 8);
        memcpy(&e->runs[k].last_ms, c + 9 + 16 * k, 8);
        if (e->runs[k].last_ms != INT64_MIN && e->runs[k].first_ms > e->runs[k].last_ms) return -1;
    }
    return 0;
}

static void advance(fz_watchlog *wl, int32_t p, int64_t off) {
    if (p < 0 || p >= wl->nparts) return;
    int64_t cur = atomic_load(&wl->pos[p]);
    while (off > cur && !atomic_compare_exchange_weak(&wl->pos[p], &cur, off)) {}
}

static void *reader_main(void *arg) {
    fz_watchlog *wl = arg;
    fz_log_set_component("watchlog");
    while (!atomic_load(&wl->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(wl->rk, 100);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            advance(wl, m->partition, m->offset);
        } else if (m->err) {
            fz_debug("watch changelog: %s", rd_kafka_message_errstr(m));
        } else {
            uint64_t key;
            fz_watch_entry e;
            /* the number; a screen task's copy has its owner's hash after it */
            if (fz_changelog_key_read(m->key, m->key_len == 16 ? 8 : m->key_len, &key) == 0 &&
                m->payload && fz_watch_entry_load(&e, key, m->payload, m->len) == 0)
                fz_watch_merge(wl->app->watch, &e);
            else if (m->payload) /* tombstones are not written; anything else is damage */
                atomic_fetch_add(&wl->bad, 1);
            atomic_fetch_add_explicit(&wl->records, 1, memory_order_relaxed);
            advance(wl, m->partition, m->offset + 1);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

fz_watchlog *fz_watchlog_start(fz_app *app, char *err, size_t n) {
    const fz_config *cfg = app->cfg;
    fz_watchlog *wl = calloc(1, sizeof(*wl));
    if (!wl) goto nomem;
    wl->app = app;
    wl->nparts = app->topics.partitions;
    wl->pos = calloc((size_t)wl->nparts, sizeof(*wl->pos));
    if (!wl->pos) goto nomem;
    char gid[300];
    snprintf(gid, sizeof(gid), "%s.watchlog", cfg->group_id);
    /* a mark reaches the other instances this much sooner (an idle
     * partition's fetch is held back by the broker up to this long) */
    if (!(wl->rk = fz_kafka_reader_new(cfg, gid, "fanzha-watchlog", 100, err, n))) goto fail;
    if (!(wl->probe = fz_kafka_probe_new(cfg, "fanzha-watchlog-end", err, n))) goto fail;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(wl->nparts);
    for (int32_t p = 0; p < wl->nparts; p++)
        rd_kafka_topic_partition_list_add(l, app->topics.name[FZ_T_WATCH_LOG], p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(wl->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        snprintf(err, n, "watch changelog: assign: %s", rd_kafka_err2str(e));
        goto fail;
    }
    if (pthread_create(&wl->tid, NULL, reader_main, wl) != 0) {
        snprintf(err, n, "cannot start the watch changelog reader");
        goto fail;
    }
    wl->started = 1;
    return wl;
nomem:
    snprintf(err, n, "out of memory");
fail:
    fz_watchlog_stop(wl);
    return NULL;
}

int fz_watchlog_catch_up(fz_watchlog *wl, int32_t partition, int64_t timeout_ms,
                         const _Atomic int *cancel) {
    const char *topic = wl->app->topics.name[FZ_T_WATCH_LOG];
    int64_t until = fz_mono_ms() + timeout_ms, warn_at = fz_mono_ms() + FZ_KAFKA_HELD_BACK_WARN_MS;
    for (int32_t p = partition < 0 ? 0 : partition;
         p < (partition < 0 ? wl->nparts : partition + 1); p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e;
        /* up to the end of the log, not the last stable offset: an entry
         * committed before now may lie behind a transaction still open. A
         * broker just (re)started answers unknown partition, no leader or
         * nothing at all for a while: asked again until the deadline */
        while ((e = rd_kafka_query_watermark_offsets(wl->probe, topic, p, &lo, &hi, 5000))) {
            if (fz_mono_ms() >= until || (cancel && atomic_load(cancel))) {
                fz_warn("watch changelog [%d]: %s", p, rd_kafka_err2str(e));
                return -1;
            }
            fz_debug("watch changelog [%d]: %s (asking again)", p, rd_kafka_err2str(e));
            usleep(200000);
        }
        while (atomic_load(&wl->pos[p]) < hi && hi > lo) {
            if (fz_mono_ms() >= until || (cancel && atomic_load(cancel))) return -1;
            if (fz_mono_ms() >= warn_at) {
                /* the reader is read_committed: a transaction still open
                 * (a stopped instance's, until its coordinator aborts it)
                 * holds it back at the partition's last stable offset */
                fz_warn("watch changelog '%s' [%d]: read to offset %lld of %lld: waiting (a "
                        "transaction still open holds the rest back until it ends; "
                        "`kafka-transactions.sh find-hanging` names one that is never ended)",
                        topic, p, (long long)atomic_load(&wl->pos[p]), (long long)hi);
                warn_at = fz_mono_ms() + FZ_KAFKA_HELD_BACK_WARN_MS;
            }
            usleep(2000);
        }
    }
    return 0;
}

uint64_t fz_watchlog_records(const fz_watchlog *wl) {
    return wl ? atomic_load_explicit(&wl->records, memory_order_relaxed) : 0;
}

void fz_watchlog_stop(fz_watchlog *wl) {
    if (!wl) return;
    atomic_store(&wl->stop, 1);
    if (wl->started) pthread_join(wl->tid, NULL);
    if (wl->rk) {
        rd_kafka_consumer_close(wl->rk);
        rd_kafka_destroy(wl->rk);
    }
    if (wl->probe) rd_kafka_destroy(wl->probe);
    if (atomic_load(&wl->bad))
        fz_warn("watch changelog: %llu damaged record(s) ignored",
                (unsigned long long)atomic_load(&wl->bad));
    free(wl->pos);
    free(wl);
}
