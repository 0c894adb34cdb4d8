/*
 * restore.c - bring newly assigned tasks to their committed state, never
 * by re-reading input (see stream.h).
 *
 * For a batch of tasks: the committed offsets of their partitions; their
 * checkpoints from the state topic (read to the end of its log as it
 * stands when the read starts, committed records only: a transaction open
 * there is waited for, since the checkpoint that goes with a committed
 * offset may lie beyond it); for decide tasks, their changelog partitions,
 * read the same way. A checkpoint and a committed offset were written by
 * one transaction, so they agree; an offset of the checkpoint's lineage
 * that lags it lost its transaction's offsets at the broker, and the task
 * is restored at the checkpoint (fz_checkpoint_judge). Otherwise (no
 * checkpoint, a damaged one, one from before this format, offsets set by
 * hand) the task starts a new lineage at the committed offset: its
 * statistics records and changelog entries then carry the new lineage and
 * can never overwrite what the old one wrote, so every sum stays exact.
 *
 * A task with a checkpoint is started one record early, at the last record
 * it read (verify_offset): the thread compares that record's fingerprint
 * and skips it (thread.c), or finds that the topic is not the one the task
 * knew (recreated, truncated) and starts the partition again under a new
 * lineage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "kafka.h"
#include "stream.h"

#define READ_TIMEOUT_MS 60000
#define OFFSETS_TIMEOUT_MS 15000 /* then the caller tries again */

typedef struct want {
    fz_task *k;
    void *val; /* the latest checkpoint value read (malloc'd) */
    size_t len;
} want;

typedef struct ckpt_read {
    want *w;
    int n;
} ckpt_read;

static int on_checkpoint(void *ctx, const rd_kafka_message_t *m) {
    ckpt_read *r = ctx;
    for (int i = 0; i < r->n; i++) {
        want *w = &r->w[i];
        if (!w->k) continue; /* kept its state */
        if (m->key_len != strlen(w->k->key) || memcmp(m->key, w->k->key, m->key_len) != 0) continue;
        free(w->val);
        w->val = NULL;
        w->len = 0;
        if (m->payload && m->len && (w->val = malloc(m->len))) {
            memcpy(w->val, m->payload, m->len);
            w->len = m->len;
        }
    }
    return 0;
}

typedef struct log_read {
    fz_task **k; /* decide tasks by route partition (NULL: not restoring) */
    int32_t nparts;
    int campaigns; /* 1: campaign changelog, 2: aggregate changelog, 0: dedup */
    uint64_t entries, foreign, bad;
} log_read;

static int on_changelog(void *ctx, const rd_kafka_message_t *m) {
    log_read *r = ctx;
    if (m->partition < 0 || m->partition >= r->nparts || !r->k[m->partition]) return 0;
    fz_task *k = r->k[m->partition];
    uint64_t key;
    if (fz_changelog_key_read(m->key, m->key_len, &key) != 0) {
        r->bad++;
        return 0;
    }
    if (!m->payload) { /* tombstone */
        if (r->campaigns == 2) {
            if (k->stores.aggs) fz_agg_remove(k->stores.aggs, key);
        } else if (r->campaigns)
            fz_campaigns_remove(k->stores.campaigns, key);
        else
            fz_dedup_remove(k->stores.dedup, key);
        return 0;
    }
    uint64_t lineage;
    if (m->len < 8) {
        r->bad++;
        return 0;
    }
    memcpy(&lineage, m->payload, 8);
    if (lineage != k->lineage) { /* an earlier beginning's entry: not ours */
        r->foreign++;
        return 0;
    }
    const char *p = (const char *)m->payload + 8;
    size_t n = m->len - 8;
    if (r->campaigns == 2) {
        char err[160];
        if (!k->stores.aggs || fz_agg_put(k->stores.aggs, key, p, n, err, sizeof(err)) != 0) {
            if (k->stores.aggs)
                fz_warn("%s[%d]@%lld: aggregate changelog: %s",
                        m->rkt ? rd_kafka_topic_name(m->rkt) : "?", m->partition,
                        (long long)m->offset, err);
            r->bad++;
            return 0;
        }
    } else if (r->campaigns) {
        static __thread fz_campaign cp;
        if (!k->stores.campaigns || fz_campaign_load(&cp, p, n) != n || cp.key != key) {
            r->bad++;
            return 0;
        }
        fz_campaigns_put(k->stores.campaigns, &cp);
    } else {
        fz_dedup_entry e = {key, 0, 0};
        if (n != 12) {
            r->bad++;
            return 0;
        }
        memcpy(&e.first_ms, p, 8);
        memcpy(&e.count, p + 8, 4);
        fz_dedup_put(k->stores.dedup, &e);
    }
    r->entries++;
    return 0;
}

static int read_changelog(fz_app *app, int topic, log_read *lr, const int32_t *parts, int n,
                          char *err, size_t errsz) {
    char gid[300];
    snprintf(gid, sizeof(gid), "%s.restore", app->cfg->group_id);
    int rc = fz_kafka_read_partitions(app->cfg, app->topics.name[topic], parts, n, gid,
                                      READ_TIMEOUT_MS, &app->stop, on_changelog, lr, err, errsz);
    return rc ? -1 : 0;
}

int fz_restore(fz_app *app, rd_kafka_t *c, fz_task **v, int n,
               rd_kafka_topic_partition_list_t *parts, fz_sthread_counters *ctr) {
    int64_t t0 = fz_mono_ms();
    char err[512];
    int rc = -1;
    want *w = calloc((size_t)n + 1, sizeof(*w));
    fz_task **bypart = calloc((size_t)app->topics.partitions + 1, sizeof(*bypart));
    int32_t *logparts = calloc((size_t)n + 1, sizeof(int32_t));
    rd_kafka_topic_partition_list_t *cl = rd_kafka_topic_partition_list_new(n);
    if (!w || !bypart || !logparts) goto out;
    for (int i = 0; i < n; i++) {
        w[i].k = v[i];
        rd_kafka_topic_partition_list_add(cl, v[i]->topic, v[i]->partition);
    }
    rd_kafka_resp_err_t e = rd_kafka_committed(c, cl, OFFSETS_TIMEOUT_MS);
    if (e) {
        /* read_committed asks for stable offsets: those that a transaction
         * still open carries are not given out until it ends */
        fz_warn("restore: cannot read committed offsets: %s%s", rd_kafka_err2str(e),
                e == RD_KAFKA_RESP_ERR__TIMED_OUT
                    ? " (the broker away, or offsets that a transaction still open carries: "
                      "`kafka-transactions.sh find-hanging` names one that is never ended)"
                    : "");
        goto out;
    }
    /* a task handed back from this process's registry keeps its state if
     * nothing was committed for it elsewhere since */
    int need = 0;
    for (int i = 0; i < n; i++) {
        fz_task *k = v[i];
        int64_t committed = cl->elems[i].err || cl->elems[i].offset < 0 ? -1 : cl->elems[i].offset;
        if (k->committed >= 0 && committed == k->committed) {
            fz_info("%s[%d]: kept its state (committed %lld)", k->topic, k->partition,
                    (long long)committed);
            w[i].k = NULL;
            continue;
        }
        if (k->committed >= 0) fz_task_reset(app, k); /* moved on elsewhere: start over */
        need++;
    }
    if (need) {
        ckpt_read cr = {w, n};
        char gid[300];
        snprintf(gid, sizeof(gid), "%s.restore", app->cfg->group_id);
        int r = fz_kafka_read_topic(app->cfg, app->topics.name[FZ_T_STATE], gid, READ_TIMEOUT_MS,
                                    &app->stop, on_checkpoint, &cr, err, sizeof(err));
        if (r != 0) {
            fz_warn("restore: state topic: %s", err);
            goto out;
        }
    }
    int nlog = 0;
    for (int i = 0; i < n; i++) {
        fz_task *k = w[i].k;
        if (!k) continue;
        int64_t committed = cl->elems[i].err || cl->elems[i].offset < 0 ? -1 : cl->elems[i].offset;
        fz_checkpoint ck;
        const char *why = NULL;
        char judged[256]; /* the verdict's reason (err is fz_task_load's) */
        fz_checkpoint_verdict verdict = FZ_CKPT_DISAGREES;
        if (!w[i].val) {
            why = committed >= 0 ? "no checkpoint" : NULL;
        } else if (fz_checkpoint_decode(w[i].val, w[i].len, &ck, err, sizeof(err)) != 0) {
            why = err;
        } else if ((verdict = fz_checkpoint_judge(&ck, committed, cl->elems[i].metadata,
                                                  cl->elems[i].metadata_size, judged,
                                                  sizeof(judged))) == FZ_CKPT_DISAGREES) {
            why = judged;
        } else if (fz_task_load(app, k, &ck, err, sizeof(err)) != 0) {
            fz_task_reset(app, k);
            why = err;
        } else {
            k->verify_offset = k->last_offset;
            k->verify_fp = k->last_fp;
            if (k->stage == FZ_STAGE_DECIDE) {
                bypart[k->partition] = k;
                logparts[nlog++] = k->partition;
            }
            if (verdict == FZ_CKPT_OFFSET_LOST) {
                /* the next commit writes the checkpoint's offset again */
                k->dirty = 1;
                atomic_fetch_add(&ctr->offsets_lost, 1);
                fz_warn("%s[%d]: %s: restored at the checkpoint, offset %lld (lineage %s)",
                        k->topic, k->partition, judged, (long long)k->position, k->lineage_hex);
                continue;
            }
            fz_info("%s[%d]: restored at offset %lld (lineage %s)", k->topic, k->partition,
                    (long long)k->position, k->lineage_hex);
            continue;
        }
        /* a new beginning: nothing before it is counted or known again */
        k->position = k->committed = committed;
        k->dirty = 1;
        if (why)
            fz_warn("%s[%d]: %s: starting lineage %s at offset %lld (earlier records stand as "
                    "they are)",
                    k->topic, k->partition, why, k->lineage_hex, (long long)committed);
    }
    if (nlog) {
        log_read lr = {bypart, app->topics.partitions, 0, 0, 0, 0};
        if (read_changelog(app, FZ_T_DEDUP_LOG, &lr, logparts, nlog, err, sizeof(err)) != 0) {
            fz_warn("restore: dedup changelog: %s", err);
            goto out;
        }
        lr.campaigns = 1;
        if (app->stores.campaign_capacity > 0 && app->stores.window_ms > 0 &&
            read_changelog(app, FZ_T_CAMPAIGN_LOG, &lr, logparts, nlog, err, sizeof(err)) != 0) {
            fz_warn("restore: campaign changelog: %s", err);
            goto out;
        }
        lr.campaigns = 2;
        if (app->stores.agg_capacity > 0 &&
            read_changelog(app, FZ_T_AGG_LOG, &lr, logparts, nlog, err, sizeof(err)) != 0) {
            fz_warn("restore: aggregate changelog: %s", err);
            goto out;
        }
        atomic_fetch_add(&ctr->restored_entries, lr.entries);
        if (lr.bad)
            fz_warn("restore: %llu damaged changelog record(s) ignored",
                    (unsigned long long)lr.bad);
        for (int i = 0; i < nlog; i++) { /* restoring is not a change */
            fz_task *k = bypart[logparts[i]];
            fz_dedup_changes_done(k->stores.dedup);
            if (k->stores.campaigns) fz_campaigns_changes_done(k->stores.campaigns);
            if (k->stores.aggs) fz_agg_changes_done(k->stores.aggs);
        }
        fz_info("restore: %d decide task(s): %llu store entries in %lld ms", nlog,
                (unsigned long long)lr.entries, (long long)(fz_mono_ms() - t0));
    }
    /* decide tasks merge into the entries their predecessors wrote; screen
     * tasks start with every mark their committed input made (their copies
     * lie in the partitions of the numbers: all of them) */
    int screens = 0;
    for (int i = 0; app->watchlog && i < n; i++) {
        if (v[i]->stage == FZ_STAGE_SCREEN) {
            screens = 1;
            continue;
        }
        if (fz_watchlog_catch_up(app->watchlog, v[i]->partition, READ_TIMEOUT_MS, &app->stop) !=
            0) {
            fz_warn("restore: watch changelog [%d] not caught up in time", v[i]->partition);
            goto out;
        }
    }
    if (screens && fz_watchlog_catch_up(app->watchlog, -1, READ_TIMEOUT_MS, &app->stop) != 0) {
        fz_warn("restore: watch changelog not caught up in time");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        fz_task *k = v[i];
        int64_t start = k->verify_offset >= 0 ? k->verify_offset
                        : k->position >= 0    ? k->position
                                              : RD_KAFKA_OFFSET_BEGINNING;
        for (int j = 0; j < parts->cnt; j++)
            if (parts->elems[j].partition == k->partition &&
                !strcmp(parts->elems[j].topic, k->topic))
                parts->elems[j].offset = start;
    }
    atomic_fetch_add(&ctr->restores, (uint64_t)n);
    atomic_fetch_add(&ctr->restore_ms, (uint64_t)(fz_mono_ms() - t0));
    rc = 0;
out:
    for (int i = 0; w && i < n; i++) free(w[i].val);
    free(w);
    free(bypart);
    free(logparts);
    rd_kafka_topic_partition_list_destroy(cl);
    return rc;
}
