/*
 * test-queue.c - the bounded consumer->worker queue: a million items from
 * one producer thread reach one batch-popping consumer exactly once and in
 * order; a full queue refuses pushes; close drains, then pop returns -1.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "log.h"
#include "queue.h"
#include "test.h"

enum { NITEMS = 1000000 };

static void *producer(void *arg) {
    fz_queue *q = arg;
    uintptr_t i = 0;
    int spins = 0;
    while (i < NITEMS) {
        fz_work w = {(void *)(i + 1), (void *)(~i), NULL};
        if (i % 3 == 0) {
            if (fz_queue_push_wait(q, &w, 1000) == 0) i++;
        } else if (fz_queue_push(q, &w) == 0) {
            i++;
        } else if (++spins % 64 == 0) {
            sched_yield(); /* full: the real consumer thread pauses fetching here */
        }
    }
    fz_queue_close(q);
    return NULL;
}

TEST_IMPL(queue_spsc_order) {
    fz_queue *q = fz_queue_new(1024);
    ASSERT(q != NULL);
    ASSERT_EQ_U64(fz_queue_cap(q), 1024);
    pthread_t th;
    ASSERT(pthread_create(&th, NULL, producer, q) == 0);
    uintptr_t next = 0;
    fz_work batch[100];
    int rc, max;
    int64_t t0 = fz_mono_ms();
    while ((rc = fz_queue_pop(q, batch, max = 1 + (int)(next % 100), 1000)) != -1) {
        ASSERT(rc >= 0 && rc <= max);
        for (int k = 0; k < rc; k++) {
            if ((uintptr_t)batch[k].msg != next + 1 || (uintptr_t)batch[k].slot != ~next)
                fz_test_fail(__FILE__, __LINE__, "item %lu: got msg %lu", (unsigned long)next,
                             (unsigned long)(uintptr_t)batch[k].msg - 1);
            next++;
        }
        ASSERT(fz_mono_ms() - t0 < 30000);
    }
    ASSERT_EQ_U64(next, NITEMS);
    ASSERT_EQ_U64(fz_queue_len(q), 0);
    pthread_join(th, NULL);
    fz_queue_destroy(q);
}

TEST_IMPL(queue_full) {
    fz_queue *q = fz_queue_new(4);
    ASSERT(q != NULL);
    fz_work w = {(void *)1, NULL, NULL}, out[8];
    for (int i = 0; i < 4; i++) {
        w.msg = (void *)(uintptr_t)(i + 1);
        ASSERT_EQ_I64(fz_queue_push(q, &w), 0);
    }
    ASSERT_EQ_U64(fz_queue_len(q), 4);
    w.msg = (void *)99;
    ASSERT_EQ_I64(fz_queue_push(q, &w), -1);
    int64_t t0 = fz_mono_ms();
    ASSERT_EQ_I64(fz_queue_push_wait(q, &w, 50), -1);
    int64_t waited = fz_mono_ms() - t0;
    ASSERT(waited >= 40 && waited < 5000);
    ASSERT_EQ_U64(fz_queue_len(q), 4);
    /* one out, one in; the ring wraps and keeps order */
    ASSERT_EQ_I64(fz_queue_pop(q, out, 1, 0), 1);
    ASSERT(out[0].msg == (void *)1);
    w.msg = (void *)5;
    ASSERT_EQ_I64(fz_queue_push(q, &w), 0);
    ASSERT_EQ_I64(fz_queue_pop(q, out, 8, 0), 4);
    for (int i = 0; i < 4; i++) ASSERT(out[i].msg == (void *)(uintptr_t)(i + 2));
    /* empty: pop times out with 0 */
    t0 = fz_mono_ms();
    ASSERT_EQ_I64(fz_queue_pop(q, out, 8, 30), 0);
    ASSERT(fz_mono_ms() - t0 >= 20);
    fz_queue_destroy(q);
    fz_queue_destroy(NULL);
}

static void *late_close(void *arg) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    fz_queue_close(arg);
    return NULL;
}

TEST_IMPL(queue_close_drains) {
    fz_queue *q = fz_queue_new(8);
    ASSERT(q != NULL);
    fz_work w = {NULL, NULL, NULL}, out[8];
    for (int i = 0; i < 3; i++) {
        w.msg = (void *)(uintptr_t)(i + 1);
        ASSERT_EQ_I64(fz_queue_push(q, &w), 0);
    }
    fz_queue_close(q);
    ASSERT_EQ_I64(fz_queue_push(q, &w), -1); /* no pushes after close */
    ASSERT_EQ_I64(fz_queue_push_wait(q, &w, 10), -1);
    ASSERT_EQ_I64(fz_queue_pop(q, out, 2, 1000), 2);
    ASSERT(out[0].msg == (void *)1 && out[1].msg == (void *)2);
    ASSERT_EQ_I64(fz_queue_pop(q, out, 8, 1000), 1);
    ASSERT(out[0].msg == (void *)3);
    ASSERT_EQ_I64(fz_queue_pop(q, out, 8, 1000), -1);
    ASSERT_EQ_I64(fz_queue_pop(q, out, 8, 0), -1);
    fz_queue_destroy(q);

    /* close wakes a consumer blocked on an empty queue */
    q = fz_queue_new(8);
    pthread_t th;
    ASSERT(pthread_create(&th, NULL, late_close, q) == 0);
    int64_t t0 = fz_mono_ms();
    ASSERT_EQ_I64(fz_queue_pop(q, out, 8, 10000), -1);
    ASSERT(fz_mono_ms() - t0 < 5000);
    pthread_join(th, NULL);
    fz_queue_destroy(q);
}
