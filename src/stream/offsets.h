/*
 * offsets.h - per-partition tracking of which input offsets are finished,
 * so a commit never passes a message whose alerts are not yet on the
 * broker.
 *
 * Every consumed message gets a slot in its partition's ring, in offset
 * order, with a pending count: 1 for the worker still processing it, plus
 * 1 for each record (alert or dead letter) produced for it. The worker
 * drops its 1 when done; each successful delivery report drops 1. A slot
 * is finished at 0. The committable position is one past the last slot of
 * the unbroken finished prefix.
 *
 * Threads: the consumer thread owns the ring's head and tail (push,
 * advance); workers and the delivery-report thread only change a slot's
 * pending count, atomically. A slot is reused only after head has passed
 * it, and head passes only finished slots, so no one still holds it.
 */
#ifndef FZ_OFFSETS_H
#define FZ_OFFSETS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct fz_slot {
    int64_t offset;
    _Atomic int32_t pending;
} fz_slot;

typedef struct fz_track {
    char *topic;
    int32_t partition;
    int worker;      /* the one worker that processes this partition */
    const void *rkt; /* rd_kafka_topic_t of consumed messages (lookup key) */
    fz_slot *ring;
    uint32_t mask; /* capacity - 1 (power of two) */
    uint64_t head, tail;
    int64_t next_commit; /* offset to commit (last finished + 1); -1 none yet */
    int64_t committed;   /* last offset committed (or found committed); -1 none.
                          * Commits never go below it. */
    void *ext;           /* the owner's per-partition state (it frees it) */
    struct fz_track *next;
} fz_track;

/* capacity is rounded up to a power of two. NULL on OOM. */
fz_track *fz_track_new(const char *topic, int32_t partition, uint32_t capacity, int worker);
void fz_track_destroy(fz_track *t);

/* Register the next consumed offset; pending starts at 1. NULL if the ring
 * is full (the caller holds the message and pauses). Consumer thread. */
fz_slot *fz_track_push(fz_track *t, int64_t offset);

/* Advance head over finished slots; returns 1 if next_commit moved.
 * Consumer thread. */
int fz_track_advance(fz_track *t);

/* 1 if every pushed slot is finished (call advance first). */
static inline int fz_track_idle(const fz_track *t) { return t->head == t->tail; }
static inline uint64_t fz_track_inflight(const fz_track *t) { return t->tail - t->head; }

/* Any thread. */
static inline void fz_slot_add(fz_slot *s, int32_t n) {
    atomic_fetch_add_explicit(&s->pending, n, memory_order_relaxed);
}
static inline void fz_slot_done(fz_slot *s) {
    atomic_fetch_sub_explicit(&s->pending, 1, memory_order_release);
}

#endif
