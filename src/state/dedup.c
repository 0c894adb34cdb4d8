/*
 * dedup.c - see dedup.h.
 *
 * Workload: one lookup per matched event (alerts are a few percent of
 * traffic), from every worker. A set is 8 entries of 24 bytes (three cache
 * lines); set choice uses the hash's high bits with a multiply-shift range
 * reduction, so any capacity works.
 */
#include "dedup.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 8
#define STRIPES 4096

typedef struct entry {
    uint64_t key; /* 0 = empty */
    int64_t first_ms;
    uint32_t count;
    uint32_t pad;
} entry;

_Static_assert(sizeof(entry) <= 64, "dedup entry must stay within 64 bytes");

struct fz_dedup {
    entry *sets;
    uint64_t nsets;
    int64_t window_ms;
    pthread_mutex_t locks[STRIPES];
    _Atomic uint64_t entries;
    _Atomic uint64_t evictions;
};

fz_dedup *fz_dedup_new(size_t capacity, int64_t window_ms, char *errstr, size_t errstr_size) {
    if (capacity < WAYS) capacity = WAYS;
    fz_dedup *d = calloc(1, sizeof(*d));
    if (!d) goto nomem;
    d->nsets = (capacity + WAYS - 1) / WAYS;
    d->window_ms = window_ms;
    d->sets = calloc(d->nsets * WAYS, sizeof(entry));
    if (!d->sets) goto nomem_d;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&d->locks[i], NULL);
    return d;
nomem_d:
    free(d);
nomem:
    snprintf(errstr, errstr_size, "dedup: cannot allocate %zu entries", capacity);
    return NULL;
}

void fz_dedup_destroy(fz_dedup *d) {
    if (!d) return;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&d->locks[i]);
    free(d->sets);
    free(d);
}

int64_t fz_dedup_window_ms(const fz_dedup *d) { return d->window_ms; }

/* Is now_ms outside the window of an entry first seen at first_ms? Both
 * ways in event time: an entry dated in the future does not cover the
 * present. Overflow-free for any two int64 times. */
static int outside(int64_t now_ms, int64_t first_ms, int64_t window_ms) {
    uint64_t d = now_ms >= first_ms ? (uint64_t)now_ms - (uint64_t)first_ms
                                    : (uint64_t)first_ms - (uint64_t)now_ms;
    return d >= (uint64_t)window_ms;
}

uint32_t fz_dedup_hit(fz_dedup *d, uint64_t key, int64_t now_ms) {
    if (d->window_ms <= 0) return 1;
    if (key == 0) key = 1;
    uint64_t set = ((key >> 32) * d->nsets) >> 32;
    entry *s = &d->sets[set * WAYS];
    pthread_mutex_t *lk = &d->locks[set % STRIPES];
    uint32_t count;
    pthread_mutex_lock(lk);
    entry *free_slot = NULL, *expired = NULL, *oldest = &s[0];
    for (int i = 0; i < WAYS; i++) {
        entry *e = &s[i];
        if (e->key == key) {
            if (outside(now_ms, e->first_ms, d->window_ms)) { /* window over: start anew */
                e->first_ms = now_ms;
                e->count = 1;
            } else if (e->count < UINT32_MAX) {
                e->count++;
            }
            count = e->count;
            goto out;
        }
        if (e->key == 0) {
            if (!free_slot) free_slot = e;
        } else if (outside(now_ms, e->first_ms, d->window_ms)) {
            if (!expired) expired = e;
        } else if (e->first_ms < oldest->first_ms || oldest->key == 0) {
            oldest = e;
        }
    }
    entry *slot = free_slot ? free_slot : expired ? expired : oldest;
    if (free_slot)
        atomic_fetch_add_explicit(&d->entries, 1, memory_order_relaxed);
    else if (!expired)
        atomic_fetch_add_explicit(&d->evictions, 1, memory_order_relaxed);
    slot->key = key;
    slot->first_ms = now_ms;
    slot->count = 1;
    count = 1;
out:
    pthread_mutex_unlock(lk);
    return count;
}

void fz_dedup_stats_get(fz_dedup *d, fz_dedup_stats *out) {
    out->entries = atomic_load(&d->entries);
    out->capacity = d->nsets * WAYS;
    out->evictions = atomic_load(&d->evictions);
    out->bytes = d->nsets * WAYS * sizeof(entry) + sizeof(*d);
}
