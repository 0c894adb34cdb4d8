/*
 * task.c - a task's life: creation, lineage, checkpoint, what a commit
 * writes for it, and the registry of suspended tasks. See stream.h.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <xxhash.h>

#include "checkpoint.h"
#include "route.h"
#include "stream.h"

#define SEEN_MAX 4096     /* sources a decide task remembers */
#define SUSPENDED_MAX 512 /* tasks kept for a reassignment */

void fz_task_new_lineage(fz_app *app, fz_task *k) {
    (void)app;
    uint64_t x = 0;
    while (x == 0) {
        if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x))
            x = XXH3_64bits_withSeed(k->key, strlen(k->key), (uint64_t)fz_mono_ns());
    }
    k->lineage = x;
    snprintf(k->lineage_hex, sizeof(k->lineage_hex), "%016llx", (unsigned long long)x);
}

static fz_ledger *new_ledger(const fz_app *app, fz_stage stage) {
    const fz_config *cfg = app->cfg;
    if (!app->topics.name[FZ_T_STATS]) return NULL;
    fz_ledger *l = fz_ledger_new(cfg->ledger_window_ms, cfg->ledger_grace_ms);
    if (l) fz_ledger_set_reopen(l, stage == FZ_STAGE_DECIDE);
    return l;
}

fz_task *fz_task_new(fz_app *app, fz_stage stage, const char *topic, int32_t partition) {
    fz_task *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    k->stage = stage;
    k->topic = strdup(topic);
    k->partition = partition;
    k->position = k->committed = k->last_offset = k->verify_offset = -1;
    k->watermark = INT64_MIN;
    snprintf(k->key, sizeof(k->key), "%s|%s|%d", app->cfg->group_id, topic, partition);
    k->closed = malloc(FZ_TASK_CLOSED_MAX * sizeof(*k->closed));
    if (!k->topic || !k->closed) goto fail;
    if (app->topics.name[FZ_T_STATS] && !(k->ledger = new_ledger(app, stage))) goto fail;
    if (stage == FZ_STAGE_DECIDE) {
        char err[256];
        if (fz_stores_init(&k->stores, &app->stores, 1, err, sizeof(err)) != 0) {
            fz_error("%s[%d]: %s", topic, partition, err);
            goto fail;
        }
    }
    fz_task_new_lineage(app, k);
    return k;
fail:
    fz_task_destroy(k);
    return NULL;
}

void fz_task_destroy(fz_task *k) {
    if (!k) return;
    fz_stores_destroy(&k->stores);
    fz_ledger_destroy(k->ledger);
    free(k->closed);
    free(k->seen);
    free(k->marked);
    free(k->topic);
    free(k);
}

void fz_task_reset(fz_app *app, fz_task *k) {
    fz_ledger_destroy(k->ledger);
    k->ledger = new_ledger(app, k->stage);
    if (app->topics.name[FZ_T_STATS] && !k->ledger) fz_app_fatal(app, "out of memory");
    k->nclosed = 0;
    k->watermark = INT64_MIN;
    k->nseen = 0;
    k->nmarked = 0;
    k->last_offset = -1;
    k->dirty = 1;
    if (k->stage == FZ_STAGE_DECIDE) {
        char err[256];
        fz_stores_destroy(&k->stores);
        if (fz_stores_init(&k->stores, &app->stores, 1, err, sizeof(err)) != 0)
            fz_app_fatal(app, "%s[%d]: %s", k->topic, k->partition, err);
    }
    fz_task_new_lineage(app, k);
}

int fz_task_stats_key(const fz_app *app, const fz_task *k, const fz_ledger_window *w, char *out,
                      size_t n) {
    (void)app;
    if (w->segment >= 0)
        return snprintf(out, n, "%s|%s|%lld|%lld", k->key, k->lineage_hex, (long long)w->start_ms,
                        (long long)w->segment);
    return snprintf(out, n, "%s|%s|%lld", k->key, k->lineage_hex, (long long)w->start_ms);
}

/* ---- seen sources (decide) ---- */

static void seen_save(const fz_task *k, fz_buf *b) {
    uint32_t n = (uint32_t)k->nseen;
    fz_buf_put(b, &n, sizeof(n));
    for (size_t i = 0; i < k->nseen; i++) {
        fz_buf_put(b, &k->seen[i].id, 8);
        fz_buf_put(b, &k->seen[i].offset, 8);
        fz_buf_putc(b, (char)k->seen[i].seq);
    }
}

static int seen_load(fz_task *k, const void *p, size_t n) {
    k->nseen = 0;
    if (!p) return 0;
    uint32_t cnt;
    if (n < 4) return -1;
    memcpy(&cnt, p, 4);
    if (cnt > SEEN_MAX || n != 4 + (size_t)cnt * 17) return -1;
    if (cnt > k->seen_cap) {
        fz_seen *v = realloc(k->seen, cnt * sizeof(*v));
        if (!v) return -1;
        k->seen = v;
        k->seen_cap = cnt;
    }
    const char *c = (const char *)p + 4;
    for (uint32_t i = 0; i < cnt; i++, c += 17) {
        memcpy(&k->seen[i].id, c, 8);
        memcpy(&k->seen[i].offset, c + 8, 8);
        k->seen[i].seq = (uint8_t)c[16];
    }
    k->nseen = cnt;
    return 0;
}

/* ---- checkpoint ---- */

fz_err fz_task_checkpoint(fz_task *k, fz_buf *b, fz_buf *scratch) {
    fz_buf_reset(b);
    fz_buf_reset(scratch);
    size_t ledger_at = 0, ledger_len = 0, seen_at = 0, seen_len = 0;
    if (k->ledger) {
        if (fz_ledger_save(k->ledger, scratch) != FZ_OK) return FZ_ERR_FULL;
        ledger_len = scratch->len;
    }
    if (k->stage == FZ_STAGE_DECIDE) {
        seen_at = scratch->len;
        seen_save(k, scratch);
        seen_len = scratch->len - seen_at;
    }
    if (scratch->failed) return FZ_ERR_FULL;
    fz_checkpoint c = {(uint8_t)k->stage,
                       k->lineage,
                       k->position < 0 ? 0 : k->position,
                       k->last_offset,
                       k->last_fp,
                       k->watermark,
                       k->ledger ? scratch->p + ledger_at : NULL,
                       ledger_len,
                       seen_len ? scratch->p + seen_at : NULL,
                       seen_len};
    return fz_checkpoint_encode(b, &c);
}

int fz_task_load(fz_app *app, fz_task *k, const fz_checkpoint *c, char *err, size_t n) {
    if (c->stage != k->stage) {
        snprintf(err, n, "checkpoint is of another stage");
        return -1;
    }
    if (k->ledger && c->ledger) {
        if (!fz_ledger_load(k->ledger, c->ledger, c->ledger_len, err, n)) return -1;
    } else if (k->ledger && !c->ledger) {
        snprintf(err, n, "checkpoint holds no statistics (they were off)");
        return -1;
    }
    if (k->stage == FZ_STAGE_DECIDE && seen_load(k, c->seen, c->seen_len) != 0) {
        snprintf(err, n, "damaged list of seen sources");
        return -1;
    }
    (void)app;
    k->lineage = c->lineage;
    snprintf(k->lineage_hex, sizeof(k->lineage_hex), "%016llx", (unsigned long long)c->lineage);
    k->position = k->committed = c->position;
    k->last_offset = c->last_offset;
    k->last_fp = c->last_fp;
    k->watermark = c->watermark;
    k->dirty = 0;
    /* the checkpoint may count events whose interim records were not yet
     * written (the owner stopped first): write them at the next commit */
    k->counted = k->ledger && fz_ledger_open_count(k->ledger) > 0;
    k->last_event_ms = 0;
    return 0;
}

int fz_task_note_mark(fz_task *k, uint64_t key) {
    if (k->nmarked == k->marked_cap) {
        size_t cap = k->marked_cap ? k->marked_cap * 2 : 256;
        uint64_t *v = realloc(k->marked, cap * sizeof(*v));
        if (!v) return -1;
        k->marked = v;
        k->marked_cap = cap;
    }
    k->marked[k->nmarked++] = key;
    return 0;
}

int fz_task_hold_closed(fz_task *k, const fz_ledger_window *w) {
    memcpy(&k->closed[k->nclosed++], w,
           offsetof(fz_ledger_window, rows) + (size_t)w->nrows * sizeof(fz_ledger_row));
    return k->nclosed >= FZ_TASK_CLOSED_MAX - (FZ_LEDGER_OPEN + 2);
}

void fz_task_committed(fz_task *k) {
    k->flushed = k->interim_flushed = 0;
    k->nclosed = 0;
    k->committed = k->position;
    k->dirty = 0;
    k->nmarked = 0;
    if (k->stage == FZ_STAGE_DECIDE) {
        fz_dedup_changes_done(k->stores.dedup);
        if (k->stores.campaigns) fz_campaigns_changes_done(k->stores.campaigns);
        if (k->stores.aggs) fz_agg_changes_done(k->stores.aggs);
    }
}

/* ---- what a commit writes ---- */

static int flush_window(fz_sthread *t, fz_task *k, const fz_ledger_window *w, int final) {
    fz_app *app = fz_sthread_app(t);
    char key[400];
    int kn = fz_task_stats_key(app, k, w, key, sizeof(key));
    fz_buf *b = fz_sthread_buf(t, 2);
    fz_buf_reset(b);
    fz_ledger_source src = {app->cfg->group_id, k->topic, k->partition,
                            k->stage == FZ_STAGE_SCREEN ? "screen" : "decide", k->lineage_hex};
    if (fz_ledger_window_encode(b, w, app->cfg->ledger_window_ms, final, &src, NULL) != FZ_OK) {
        fz_app_fatal(app, "statistics record exceeds the encoding buffer");
        return -1;
    }
    if (fz_emit_state(t, FZ_T_STATS, RD_KAFKA_PARTITION_UA, key, (size_t)kn, b->p, b->len))
        return -1;
    atomic_fetch_add_explicit(&fz_sthread_ctr(t)->stats_records, 1, memory_order_relaxed);
    return 0;
}

typedef struct log_ctx {
    fz_sthread *t;
    fz_task *k;
    int topic;
    fz_buf *b;
} log_ctx;

static int put_changelog(log_ctx *c, uint64_t key, const void *val, size_t len) {
    unsigned char kb[8];
    fz_changelog_key(key, kb);
    return fz_emit_state(c->t, c->topic, c->k->partition, kb, 8, val, len);
}

/* value: lineage (8 bytes), then the entry */
static int dedup_change(void *ctx, uint64_t key, const fz_dedup_entry *e) {
    log_ctx *c = ctx;
    if (!e) return put_changelog(c, key, NULL, 0);
    fz_buf_reset(c->b);
    fz_buf_put(c->b, &c->k->lineage, 8);
    fz_buf_put(c->b, &e->first_ms, 8);
    fz_buf_put(c->b, &e->count, 4);
    return put_changelog(c, key, c->b->p, c->b->len);
}

static int campaign_change(void *ctx, uint64_t key, const fz_campaign *cp) {
    log_ctx *c = ctx;
    if (!cp) return put_changelog(c, key, NULL, 0);
    fz_buf_reset(c->b);
    fz_buf_put(c->b, &c->k->lineage, 8);
    if (fz_campaign_save(cp, c->b) != FZ_OK) return -1;
    return put_changelog(c, key, c->b->p, c->b->len);
}

static int agg_change(void *ctx, uint64_t key, const fz_aggs *a) {
    log_ctx *c = ctx;
    if (!a) return put_changelog(c, key, NULL, 0);
    fz_buf_reset(c->b);
    fz_buf_put(c->b, &c->k->lineage, 8);
    if (fz_agg_entry_save(a, key, c->b) != FZ_OK) return -1;
    return put_changelog(c, key, c->b->p, c->b->len);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The watchlist entries of the numbers k marked since the last commit, as
 * the global view has them now. A decide task owns the entries of its
 * partition's numbers (key: the number). A screen task writes its own copy
 * (key: the number, then a hash of the task key) to the same partition, so
 * that whoever takes the task over has the marks its committed input made
 * before it reads on, even while the decide task that owns the number has
 * yet to see them; compaction keeps one record per writer, and merging
 * true observations in any order gives the same entry. */
static int flush_marks(fz_sthread *t, fz_task *k) {
    fz_app *app = fz_sthread_app(t);
    fz_buf *b = fz_sthread_buf(t, 2);
    uint64_t owner = XXH3_64bits(k->key, strlen(k->key));
    qsort(k->marked, k->nmarked, sizeof(uint64_t), cmp_u64);
    for (size_t i = 0; i < k->nmarked; i++) {
        uint64_t num = k->marked[i];
        if (i && num == k->marked[i - 1]) continue;
        fz_watch_entry e;
        if (fz_watch_get(app->watch, num, &e) != 0) continue; /* evicted */
        fz_buf_reset(b);
        if (fz_watch_entry_save(&e, b) != FZ_OK) return -1;
        unsigned char kb[16];
        fz_changelog_key(num, kb);
        size_t kn = 8;
        int32_t p = k->partition;
        if (k->stage == FZ_STAGE_SCREEN) {
            fz_changelog_key(owner, kb + 8);
            kn = 16;
            p = fz_route_partition(num, app->topics.partitions);
        }
        if (fz_emit_state(t, FZ_T_WATCH_LOG, p, kb, kn, b->p, b->len)) return -1;
    }
    return 0;
}

int fz_task_flush(fz_sthread *t, fz_task *k, int final) {
    fz_app *app = fz_sthread_app(t);
    for (int i = 0; i < k->nclosed; i++)
        if (flush_window(t, k, &k->closed[i], 1)) return -1;
    int64_t now = fz_mono_ms();
    /* open windows as interim records: every checkpoint_interval_ms while
     * events flow, and once they stop (or the task leaves), so the records
     * soon show everything its checkpoint counts */
    if (k->ledger && k->counted &&
        (now >= k->next_interim_ms || now - k->last_event_ms >= 200 || final)) {
        k->counted = 0;
        k->interim_flushed = 1;
        k->next_interim_ms = now + app->cfg->checkpoint_interval_ms;
        for (int i = 0; i < fz_ledger_open_count(k->ledger); i++)
            if (flush_window(t, k, fz_ledger_open_window(k->ledger, i), 0)) return -1;
    }
    if (k->stage == FZ_STAGE_DECIDE) {
        log_ctx c = {t, k, FZ_T_DEDUP_LOG, fz_sthread_buf(t, 2)};
        if (fz_dedup_changes(k->stores.dedup, dedup_change, &c)) return -1;
        c.topic = FZ_T_CAMPAIGN_LOG;
        if (k->stores.campaigns && fz_campaigns_changes(k->stores.campaigns, campaign_change, &c))
            return -1;
        c.topic = FZ_T_AGG_LOG;
        if (k->stores.aggs && fz_agg_changes(k->stores.aggs, agg_change, &c)) return -1;
    }
    if (app->watch && k->nmarked && flush_marks(t, k)) return -1;
    if (k->position < 0) return 0; /* nothing read yet: nothing to checkpoint */
    fz_buf *b = fz_sthread_buf(t, 2), *s = fz_sthread_buf(t, 3);
    if (fz_task_checkpoint(k, b, s) != FZ_OK) {
        fz_app_fatal(app, "%s[%d]: checkpoint exceeds the encoding buffer", k->topic, k->partition);
        return -1;
    }
    return fz_emit_state(t, FZ_T_STATE, RD_KAFKA_PARTITION_UA, k->key, strlen(k->key), b->p,
                         b->len);
}

/* ---- suspended tasks ---- */

void fz_task_suspend(fz_app *app, fz_task *k) {
    pthread_mutex_lock(&app->susp_lock);
    k->next = app->suspended;
    app->suspended = k;
    if (++app->nsuspended > SUSPENDED_MAX) { /* forget the oldest */
        fz_task **pp = &app->suspended;
        while ((*pp)->next) pp = &(*pp)->next;
        fz_task_destroy(*pp);
        *pp = NULL;
        app->nsuspended--;
    }
    pthread_mutex_unlock(&app->susp_lock);
}

fz_task *fz_task_unsuspend(fz_app *app, const char *topic, int32_t partition) {
    pthread_mutex_lock(&app->susp_lock);
    fz_task *k = NULL;
    for (fz_task **pp = &app->suspended; *pp; pp = &(*pp)->next)
        if ((*pp)->partition == partition && !strcmp((*pp)->topic, topic)) {
            k = *pp;
            *pp = k->next;
            k->next = NULL;
            app->nsuspended--;
            break;
        }
    pthread_mutex_unlock(&app->susp_lock);
    return k;
}

void fz_task_drop_suspended(fz_app *app) {
    pthread_mutex_lock(&app->susp_lock);
    while (app->suspended) {
        fz_task *k = app->suspended;
        app->suspended = k->next;
        fz_task_destroy(k);
    }
    app->nsuspended = 0;
    pthread_mutex_unlock(&app->susp_lock);
}

void fz_changelog_key(uint64_t key, unsigned char out[8]) {
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(key >> (56 - 8 * i));
}

int fz_changelog_key_read(const void *p, size_t n, uint64_t *key) {
    if (n != 8) return -1;
    const unsigned char *c = p;
    *key = 0;
    for (int i = 0; i < 8; i++) *key = *key << 8 | c[i];
    return 0;
}
