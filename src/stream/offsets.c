/*
 * offsets.c - see offsets.h.
 */
#include "offsets.h"

#include <stdlib.h>
#include <string.h>

fz_track *fz_track_new(const char *topic, int32_t partition, uint32_t capacity, int worker) {
    uint32_t cap = 1;
    while (cap < capacity) cap <<= 1;
    fz_track *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->ring = calloc(cap, sizeof(fz_slot));
    t->topic = strdup(topic);
    if (!t->ring || !t->topic) {
        fz_track_destroy(t);
        return NULL;
    }
    t->partition = partition;
    t->worker = worker;
    t->mask = cap - 1;
    t->next_commit = -1;
    t->committed = -1;
    return t;
}

void fz_track_destroy(fz_track *t) {
    if (!t) return;
    free(t->ring);
    free(t->topic);
    free(t);
}

fz_slot *fz_track_push(fz_track *t, int64_t offset) {
    if (t->tail - t->head > t->mask) return NULL;
    fz_slot *s = &t->ring[t->tail & t->mask];
    s->offset = offset;
    atomic_store_explicit(&s->pending, 1, memory_order_relaxed);
    t->tail++;
    return s;
}

int fz_track_advance(fz_track *t) {
    int moved = 0;
    while (t->head < t->tail) {
        fz_slot *s = &t->ring[t->head & t->mask];
        if (atomic_load_explicit(&s->pending, memory_order_acquire) != 0) break;
        t->next_commit = s->offset + 1;
        t->head++;
        moved = 1;
    }
    return moved;
}
