/*
 * queue.h - bounded single-producer single-consumer work queue between the
 * consumer thread and one worker.
 *
 * Items are two pointers (a Kafka message and its offset-tracking slot),
 * copied in and out; the queue never allocates after creation. The
 * producer side never blocks in fz_queue_push(): a full queue is the
 * consumer thread's signal to pause fetching (backpressure). The worker
 * takes items in batches so the lock is taken once per batch.
 */
#ifndef FZ_QUEUE_H
#define FZ_QUEUE_H

#include <stddef.h>

typedef struct fz_work {
    void *msg;  /* rd_kafka_message_t *, owned by whoever holds the item */
    void *slot; /* fz_slot * */
    void *part; /* the partition's state (daemon.c) */
} fz_work;

typedef struct fz_queue fz_queue;

fz_queue *fz_queue_new(size_t capacity);
void fz_queue_destroy(fz_queue *q);
/* 0 on success, -1 if full or closed. Producer thread only. */
int fz_queue_push(fz_queue *q, const fz_work *w);
/* Like push but waits up to timeout_ms for room; -1 on timeout/closed. */
int fz_queue_push_wait(fz_queue *q, const fz_work *w, int timeout_ms);
/* Take up to max items, waiting up to timeout_ms for the first. Returns
 * the count; 0 on timeout, -1 once closed and empty. Consumer only. */
int fz_queue_pop(fz_queue *q, fz_work *out, int max, int timeout_ms);
/* No more pushes; pop drains what is left then returns -1. Any thread. */
void fz_queue_close(fz_queue *q);
size_t fz_queue_len(fz_queue *q);
size_t fz_queue_cap(const fz_queue *q);

#endif
