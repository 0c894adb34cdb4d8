/*
 * stream.h - `fanzha run` as a stream-processing topology on Kafka; the
 * types its modules share. (Kafka Streams' model: a stream thread runs
 * tasks; a task is one input partition and owns its state; state is
 * checkpointed, and written to changelogs, in the transaction that commits
 * the task's offset.)
 *
 * DESIGN.
 *
 *   input topics --(screen tasks)--> route topic --(decide tasks)--> alerts
 *                      |                                  |
 *                 dead letters                changelogs, statistics
 *
 * - A *stream thread* (thread.c) is one member of the consumer group: its
 *   own consumer, a transactional producer, and in at-least-once mode an
 *   idempotent producer for outputs. It runs the tasks of the partitions
 *   assigned to it, one record at a time in partition order, and commits
 *   them together every commit_interval_ms. Threads share nothing mutable
 *   but the global watchlist (locked inside) and the ruleset (read-only).
 * - A *screen task* (screen.c) is one input partition: decode, match, the
 *   event-time bounds, the interception check against the global
 *   watchlist. Clean and invalid events end here (counted in the task's
 *   statistics ledger; invalid ones dead-lettered). An event whose outcome
 *   depends on keyed state goes on as a route record keyed by its dedup
 *   key, and every number fraud touched as a mark keyed by the number
 *   (route.h).
 * - A *decide task* (decide.c) is one partition of the route topic. It
 *   owns that partition's dedup store and campaign table (state/stores.h),
 *   decides alert or repeat, writes alerts and campaign summaries, counts
 *   the routed events' statistics, and owns the watchlist entries of the
 *   numbers routed to it: it merges marks into the global view and writes
 *   the merged entries to the watch changelog. A screen task writes its
 *   own marks there too, under its own keys, so whoever takes it over
 *   starts with them.
 * - The *global watchlist* (watchlog.c) is one fz_watch per process, read
 *   by every screen task; a reader thread keeps it up to date from the
 *   watch changelog (all partitions), as a Kafka Streams GlobalKTable is
 *   kept. Screen tasks also apply their own marks at once, so a transfer
 *   right after the SMS that warned its payer, in the same partition, is
 *   intercepted without waiting for the round trip.
 *
 * Commit (thread.c): in one transaction, every task's changed store
 * entries (to its changelog partition), its closed statistics windows, its
 * checkpoint (checkpoint.h), and every task's input offset
 * (send_offsets_to_transaction, with the consumer's group metadata, so a
 * thread that lost its partitions - a zombie - cannot commit). With
 * processing_guarantee exactly_once the outputs (alerts, dead letters,
 * route records) are produced inside that transaction too; with
 * at_least_once they go out at once through the idempotent producer, and
 * the commit first waits until every one of them is acknowledged.
 *
 * Restore (restore.c): a newly assigned task reads its checkpoint and the
 * committed offset (which agree: one transaction wrote both), and a decide
 * task its changelog partitions; it never re-reads input. A task whose
 * partition is handed back to the same process keeps its state.
 */
#ifndef FZ_STREAM_H
#define FZ_STREAM_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "buf.h"
#include "campaign.h"
#include "config.h"
#include "dedup.h"
#include "hist.h"
#include "ledger.h"
#include "log.h"
#include "pipeline.h"
#include "stores.h"
#include "topics.h"
#include "watch.h"

typedef struct fz_watchlog fz_watchlog;
typedef struct fz_task fz_task;
typedef struct fz_sthread fz_sthread;

/* What every stream thread shares; owned by daemon.c. Read-only once the
 * threads run, except where a field says otherwise. */
typedef struct fz_app {
    const fz_config *cfg;
    fz_topics topics;
    int eos;              /* processing_guarantee exactly_once */
    char instance[128];   /* instance_id, resolved */
    int64_t commit_ms;    /* commit interval, resolved */
    fz_mask_config masks; /* campaign masks per category */
    fz_time_bounds bounds;
    fz_stores_config stores; /* one decide task's stores */
    fz_watch *watch;         /* the global watchlist (locked inside); NULL: off */
    fz_watchlog *watchlog;   /* its reader */
    int nthreads;
    fz_sthread **threads;
    /* the ruleset: rs guarded by rs_lock; rs_gen bumped (release) after */
    pthread_mutex_t rs_lock;
    fz_ruleset *rs;
    _Atomic uint64_t rs_gen;
    /* stopping */
    _Atomic int stop;  /* SIGTERM/SIGINT: drain, commit, leave */
    _Atomic int fatal; /* a failure nothing can retry: leave, exit 1 */
    /* room for a Kafka login or TLS failure with its hint */
    char fatal_msg[1024];
    /* tasks revoked cleanly, kept for a reassignment to this process (any
     * thread); guarded by susp_lock */
    pthread_mutex_t susp_lock;
    fz_task *suspended;
    int nsuspended;
} fz_app;

void fz_app_fatal(fz_app *app, const char *fmt, ...) FZ_PRINTF(2, 3);

typedef enum fz_stage { FZ_STAGE_SCREEN = 1, FZ_STAGE_DECIDE = 2 } fz_stage;

/* The input records a decide task has seen, per source (input partition
 * and lineage): the newest (offset, seq). A route record at or below it
 * was produced twice (an at-least-once screen task re-reading after a
 * failure) and is dropped. */
typedef struct fz_seen {
    uint64_t id; /* XXH3 of topic, partition, lineage */
    int64_t offset;
    uint8_t seq;
} fz_seen;

/* One assigned partition. Owned by one stream thread (or, while
 * suspended, by the registry in fz_app). */
struct fz_task {
    fz_stage stage;
    char *topic;
    int32_t partition;
    char key[320]; /* "<group>|<topic>|<partition>": checkpoint key, stats key prefix */
    int slot;      /* index in the thread's table */
    uint64_t lineage;
    char lineage_hex[17];
    int64_t position;    /* next offset to process; -1: unknown (from the beginning) */
    int64_t committed;   /* position at the last commit */
    int64_t last_offset; /* the last record read, and its fingerprint */
    uint64_t last_fp;
    int64_t verify_offset; /* first record expected after assignment; -1: none */
    uint64_t verify_fp;
    int dirty;   /* something to checkpoint */
    int flushed; /* its checkpoint is in the open transaction */
    /* statistics */
    fz_ledger *ledger;        /* NULL: off */
    fz_ledger_window *closed; /* windows closed since the last commit */
    int nclosed;
    int64_t next_interim_ms;
    int counted;           /* counted events since the last interim records */
    int interim_flushed;   /* interim records in the open transaction */
    int64_t last_event_ms; /* monotonic time of the last record */
    /* screen */
    int64_t watermark; /* fz_pipeline_time_check */
    /* decide */
    fz_stores stores;
    fz_seen *seen;
    size_t nseen, seen_cap;
    uint64_t *marked; /* numbers this task marked (or merged) since the last commit */
    size_t nmarked, marked_cap;
    struct fz_task *next; /* suspended list */
};

#define FZ_TASK_CLOSED_MAX 64 /* closed windows held before a commit is forced */

/* Per-thread counters: written by the thread, read (relaxed) by anyone. */
typedef struct fz_sthread_counters {
    _Atomic uint64_t consumed, screened, routed, marks, decided, alerts, suppressed, duplicates,
        dead_letters, rejected_outputs, campaign_summaries, stats_records, commits, commit_retries,
        aborts, restores, restore_ms, restored_entries, restore_retries, offsets_lost, incarnations,
        tasks, producer_waits, producer_resets;
} fz_sthread_counters;

/* Alerts by (category, severity) of one thread: a small fixed table, the
 * last row "other" once it is full. Rows are published (used = 1) after
 * their names are written; only the thread writes. */
#define FZ_ALERT_CLASSES 64
typedef struct fz_alert_class {
    _Atomic uint64_t count;
    _Atomic int used;
    uint8_t severity; /* fz_severity; 0: none (an interception) */
    char category[64];
} fz_alert_class;

/* One assigned partition as the metrics see it. */
typedef struct fz_lag_row {
    char topic[256];
    int32_t partition;
    int stage;         /* fz_stage */
    int64_t position;  /* next offset to process; -1 unknown */
    int64_t committed; /* position at the last commit */
    int64_t high;      /* high watermark (the consumer's cached view); -1 unknown */
} fz_lag_row;

/* What a stream thread publishes about itself, about once a second (and at
 * every assignment change), for the metrics and health endpoints. */
typedef struct fz_sthread_snapshot {
    fz_lag_row *rows;
    int nrows, cap;
    int64_t consumer_queue;       /* records fetched, not yet handed to the thread */
    int64_t producer_queue[2];    /* outputs, transactional: not yet acknowledged */
    fz_dedup_stats dedup;         /* summed over its decide tasks */
    fz_campaigns_stats campaigns; /* summed */
    fz_agg_stats aggs;            /* summed */
    uint64_t dedup_stores;        /* decide tasks */
} fz_sthread_snapshot;

typedef struct fz_sthread_telemetry {
    fz_hist event_to_alert;              /* event time -> the alert's delivery report */
    fz_hist ingest_to_alert;             /* the input record's timestamp -> delivery report */
    fz_hist produce;                     /* produce call -> delivery report, every output */
    _Atomic uint64_t latency_unmeasured; /* alerts not timed (the pending table was full) */
    _Atomic uint64_t windows_closed;     /* statistics windows closed */
    fz_alert_class alerts[FZ_ALERT_CLASSES + 1];
    /* health */
    _Atomic int64_t beat_ms; /* monotonic: the record loop's last turn */
    _Atomic int joined;      /* a first assignment (possibly empty) arrived */
    _Atomic int restoring;   /* tasks being restored now */
    _Atomic int exited;      /* the record loop ended */
    pthread_mutex_t lock;    /* snap */
    fz_sthread_snapshot snap;
} fz_sthread_telemetry;

/* thread.c */
fz_sthread *fz_sthread_new(fz_app *app, int idx, char *err, size_t err_size);
int fz_sthread_start(fz_sthread *t);
void fz_sthread_join(fz_sthread *t);
void fz_sthread_destroy(fz_sthread *t);
const fz_sthread_counters *fz_sthread_counters_of(const fz_sthread *t);
fz_sthread_telemetry *fz_sthread_tel(fz_sthread *t);
/* Count an alert of the primary rule's category and severity. */
void fz_sthread_count_alert(fz_sthread *t, fz_str category, int severity);
fz_pipeline *fz_sthread_pipeline(fz_sthread *t);
/* Ruleset publication (daemon.c, reload thread): hand a prepared matcher
 * for generation gen to t; the thread swaps it in between records. */
void fz_sthread_offer_matcher(fz_sthread *t, fz_matcher *m, fz_ruleset *rs, uint64_t gen);
uint64_t fz_sthread_rs_gen(const fz_sthread *t);
/* After every thread moved to gen: free what they replaced (reload thread). */
void fz_sthread_release_retired(fz_sthread *t, uint64_t *swap_ns);
fz_matcher *fz_sthread_matcher(fz_sthread *t);

/* thread.c: what the stages produce with. Outputs (alerts, dead letters,
 * route records, campaign summaries) derive from the input record at
 * in_offset of task k: 0, FZ_ERR_FULL when the record would not fit the
 * topic (the caller dead-letters it instead), -1 when the thread must stop.
 * State records (changelogs, checkpoints, statistics) join the open
 * transaction: 0 or -1. partition RD_KAFKA_PARTITION_UA: by key. */
int fz_emit(fz_sthread *t, fz_task *k, int64_t in_offset, int topic, int32_t partition,
            const void *key, size_t klen, const void *val, size_t len);
/* fz_emit for an alert: its delivery report observes the event-to-alert
 * latencies (event_ms: event time, ingest_ms: the input record's
 * timestamp; <= 0 unknown). */
int fz_emit_alert(fz_sthread *t, fz_task *k, int64_t in_offset, const void *key, size_t klen,
                  const void *val, size_t len, int64_t event_ms, int64_t ingest_ms);
int fz_emit_state(fz_sthread *t, int topic, int32_t partition, const void *key, size_t klen,
                  const void *val, size_t len);
/* A dead letter for the input record at in_offset of k (payload cut to fit
 * the dead-letter topic). 0 or -1; without a dead-letter topic, a log line
 * (rate-limited). */
int fz_emit_dead_letter(fz_sthread *t, fz_task *k, int64_t in_offset, fz_reason reason,
                        const char *detail, fz_str event_id, const void *payload, size_t len,
                        const void *key, size_t klen);
/* Scratch buffers of the thread (0..3), capped at 64 MiB + 8 x max_event_bytes. */
fz_buf *fz_sthread_buf(fz_sthread *t, int i);
fz_sthread_counters *fz_sthread_ctr(fz_sthread *t);
fz_app *fz_sthread_app(fz_sthread *t);

/* screen.c and decide.c: one record of task k. 1 when a commit is due
 * before the next record (the task holds many closed windows), 0, or -1
 * when the thread must stop. */
int fz_screen(fz_sthread *t, fz_task *k, const rd_kafka_message_t *m);
int fz_decide(fz_sthread *t, fz_task *k, const rd_kafka_message_t *m);
/* aggroute.c: the aggregate rules r feeds, as route records keyed by their
 * window (screen stage; 0 or -1), and one such record in the decide stage
 * (0 or -1). */
struct fz_route;
int fz_screen_aggs(fz_sthread *t, fz_task *k, const rd_kafka_message_t *m, const fz_result *r);
int fz_decide_agg(fz_sthread *t, fz_task *k, int64_t offset, const struct fz_route *r);
/* Everything k changed since the last commit, into the open transaction:
 * changelog entries (decide), statistics records, the checkpoint. final:
 * the task is leaving (revocation, shutdown): its open windows are written
 * too. */
int fz_task_flush(fz_sthread *t, fz_task *k, int final);

/* task.c */
fz_task *fz_task_new(fz_app *app, fz_stage stage, const char *topic, int32_t partition);
void fz_task_destroy(fz_task *k);
/* A fresh lineage (a new beginning: nothing restored or a recreated topic). */
void fz_task_new_lineage(fz_app *app, fz_task *k);
/* Drop the task's state (stores, ledger, seen sources) for a new lineage. */
void fz_task_reset(fz_app *app, fz_task *k);
/* The statistics record key of window w. */
int fz_task_stats_key(const fz_app *app, const fz_task *k, const fz_ledger_window *w, char *out,
                      size_t n);
/* Checkpoint bytes of k into b (reset first). */
fz_err fz_task_checkpoint(fz_task *k, fz_buf *b, fz_buf *scratch);
/* Load a decoded checkpoint into k. 0, or -1 with err. */
struct fz_checkpoint;
int fz_task_load(fz_app *app, fz_task *k, const struct fz_checkpoint *c, char *err, size_t n);
/* Keep a window popped from k's ledger for the next commit; 1 when the
 * task holds so many that a commit is due now. */
int fz_task_hold_closed(fz_task *k, const fz_ledger_window *w);
/* Hold every window k's ledger has closed; 1 when a commit is due now. */
int fz_task_pop_windows(fz_sthread *t, fz_task *k);
/* Remember that the watchlist entry of number key changed (flushed with
 * the task's next commit). 0, or -1 out of memory. */
int fz_task_note_mark(fz_task *k, uint64_t key);
/* The commit went through: forget what it wrote. */
void fz_task_committed(fz_task *k);
/* Suspended tasks (fz_app registry). */
void fz_task_suspend(fz_app *app, fz_task *k);
fz_task *fz_task_unsuspend(fz_app *app, const char *topic, int32_t partition);
void fz_task_drop_suspended(fz_app *app);

/* restore.c: make the tasks in v[0..n) ready to run from their committed
 * state: read their checkpoints, compare them with the committed offsets
 * (read through c: a consumer of the group that is not its member), restore
 * decide tasks' stores from their changelogs
 * and wait for the global watchlist. Sets each task's position and verify
 * offset; parts (the same partitions) receive the offsets to start from.
 * 0, or -1 when the cluster could not be read (the caller retries). */
int fz_restore(fz_app *app, rd_kafka_t *c, fz_task **v, int n,
               rd_kafka_topic_partition_list_t *parts, fz_sthread_counters *ctr);

/* watchlog.c: the global watchlist's reader. */
fz_watchlog *fz_watchlog_start(fz_app *app, char *err, size_t err_size);
/* Read every partition (or one) to the end of its log as of now
 * (transactions open now are waited for; what holds a partition back is
 * logged every 15 s); -1 on timeout, or as soon as *cancel (when not NULL)
 * is non-zero. */
int fz_watchlog_catch_up(fz_watchlog *wl, int32_t partition, int64_t timeout_ms,
                         const _Atomic int *cancel);
void fz_watchlog_stop(fz_watchlog *wl);
uint64_t fz_watchlog_records(const fz_watchlog *wl);
/* The changelog value of a watchlist entry, and back. */
fz_err fz_watch_entry_save(const fz_watch_entry *e, fz_buf *b);
int fz_watch_entry_load(fz_watch_entry *e, uint64_t key, const void *p, size_t n);

/* The key of a store's changelog record: the 64-bit key, big-endian. */
void fz_changelog_key(uint64_t key, unsigned char out[8]);
int fz_changelog_key_read(const void *p, size_t n, uint64_t *key);

#endif
