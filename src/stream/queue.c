/*
 * queue.c - see queue.h. A mutex/condvar ring: simple, and with batched
 * pops and signalling only when the other side sleeps, the lock costs a
 * few tens of nanoseconds per message.
 */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct fz_queue {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t not_empty, not_full;
    fz_work *ring;
    size_t cap, head, len;
    int closed;
    int pop_waiting, push_waiting;
};

fz_queue *fz_queue_new(size_t capacity) {
    fz_queue *q = calloc(1, sizeof(*q));
    if (!q) return NULL;
    q->ring = calloc(capacity, sizeof(fz_work));
    if (!q->ring) {
        free(q);
        return NULL;
    }
    q->cap = capacity;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &ca);
    pthread_cond_init(&q->not_full, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

void fz_queue_destroy(fz_queue *q) {
    if (!q) return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
}

static void deadline(struct timespec *ts, int timeout_ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void put_locked(fz_queue *q, const fz_work *w) {
    q->ring[(q->head + q->len) % q->cap] = *w;
    q->len++;
    if (q->pop_waiting) pthread_cond_signal(&q->not_empty);
}

int fz_queue_push(fz_queue *q, const fz_work *w) {
    pthread_mutex_lock(&q->lock);
    int rc = -1;
    if (!q->closed && q->len < q->cap) {
        put_locked(q, w);
        rc = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int fz_queue_push_wait(fz_queue *q, const fz_work *w, int timeout_ms) {
    struct timespec ts;
    pthread_mutex_lock(&q->lock);
    int rc = 0;
    /* the clock is read only when there is something to wait for */
    if (!q->closed && q->len == q->cap) deadline(&ts, timeout_ms);
    while (!q->closed && q->len == q->cap && rc == 0) {
        q->push_waiting++;
        rc = pthread_cond_timedwait(&q->not_full, &q->lock, &ts);
        q->push_waiting--;
    }
    if (!q->closed && q->len < q->cap) {
        put_locked(q, w);
        rc = 0;
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int fz_queue_pop(fz_queue *q, fz_work *out, int max, int timeout_ms) {
    struct timespec ts;
    pthread_mutex_lock(&q->lock);
    int rc = 0;
    if (q->len == 0 && !q->closed) deadline(&ts, timeout_ms);
    while (q->len == 0 && !q->closed && rc == 0) {
        q->pop_waiting++;
        rc = pthread_cond_timedwait(&q->not_empty, &q->lock, &ts);
        q->pop_waiting--;
    }
    int n = 0;
    while (n < max && q->len > 0) {
        out[n++] = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    if (n > 0 && q->push_waiting) pthread_cond_signal(&q->not_full);
    if (n == 0 && q->closed) n = -1;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void fz_queue_close(fz_queue *q) {
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t fz_queue_len(fz_queue *q) {
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t fz_queue_cap(const fz_queue *q) { return q->cap; }
