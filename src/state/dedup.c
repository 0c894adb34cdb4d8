/*
 * dedup.c - see dedup.h.
 *
 * Workload: one lookup per matched event (alerts are a few percent of
 * traffic) on the thread that owns the store. A set is 8 entries of 32
 * bytes (four cache lines); set choice uses the hash's high bits with a
 * multiply-shift range reduction, so any capacity works.
 */
#include "dedup.h"

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 8

typedef struct entry {
    uint64_t key; /* 0 = empty */
    int64_t first_ms;
    uint32_t count;
    uint32_t dirty;  /* changed since the last changes_done() (tracking only) */
    uint64_t logged; /* the key the changelog holds for this slot; 0 = none */
} entry;

_Static_assert(sizeof(entry) <= 64, "dedup entry must stay within 64 bytes");

struct fz_dedup {
    entry *sets;
    uint64_t nsets;
    int64_t window_ms;
    int track;
    uint32_t *changed; /* slots with dirty set, in the order they changed */
    size_t nchanged;
    uint64_t entries, evictions;
};

fz_dedup *fz_dedup_new(size_t capacity, int64_t window_ms, int track, char *errstr,
                       size_t errstr_size) {
    if (capacity < WAYS) capacity = WAYS;
    fz_dedup *d = calloc(1, sizeof(*d));
    if (!d) goto nomem;
    d->nsets = (capacity + WAYS - 1) / WAYS;
    d->window_ms = window_ms;
    d->track = track;
    d->sets = calloc(d->nsets * WAYS, sizeof(entry));
    if (!d->sets) goto nomem_d;
    if (track && !(d->changed = malloc(d->nsets * WAYS * sizeof(uint32_t)))) goto nomem_s;
    fz_prefault(d->sets, d->nsets * WAYS * sizeof(entry));
    if (track) fz_prefault(d->changed, d->nsets * WAYS * sizeof(uint32_t));
    return d;
nomem_s:
    free(d->sets);
nomem_d:
    free(d);
nomem:
    snprintf(errstr, errstr_size, "dedup: cannot allocate %zu entries", capacity);
    return NULL;
}

void fz_dedup_destroy(fz_dedup *d) {
    if (!d) return;
    free(d->sets);
    free(d->changed);
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

static entry *set_of(fz_dedup *d, uint64_t key) {
    return &d->sets[(((key >> 32) * d->nsets) >> 32) * WAYS];
}

static void touched(fz_dedup *d, entry *e) {
    if (!d->track || e->dirty) return;
    e->dirty = 1;
    d->changed[d->nchanged++] = (uint32_t)(e - d->sets);
}

/* The slot for a key not in its set s: a free one, an expired one (judged
 * at now_ms), or the one seen first. */
static entry *slot_for(fz_dedup *d, entry *s, int64_t now_ms) {
    entry *free_slot = NULL, *expired = NULL, *oldest = &s[0];
    for (int i = 0; i < WAYS; i++) {
        entry *e = &s[i];
        if (e->key == 0) {
            if (!free_slot) free_slot = e;
        } else if (outside(now_ms, e->first_ms, d->window_ms)) {
            if (!expired) expired = e;
        } else if (e->first_ms < oldest->first_ms || oldest->key == 0) {
            oldest = e;
        }
    }
    if (free_slot) {
        d->entries++;
        return free_slot;
    }
    if (!expired) d->evictions++;
    return expired ? expired : oldest;
}

uint32_t fz_dedup_hit(fz_dedup *d, uint64_t key, int64_t now_ms) {
    if (d->window_ms <= 0) return 1;
    if (key == 0) key = 1;
    entry *s = set_of(d, key);
    for (int i = 0; i < WAYS; i++) {
        entry *e = &s[i];
        if (e->key != key) continue;
        if (outside(now_ms, e->first_ms, d->window_ms)) { /* window over: start anew */
            e->first_ms = now_ms;
            e->count = 1;
        } else if (e->count < UINT32_MAX) {
            e->count++;
        }
        touched(d, e);
        return e->count;
    }
    entry *e = slot_for(d, s, now_ms);
    e->key = key;
    e->first_ms = now_ms;
    e->count = 1;
    touched(d, e);
    return 1;
}

int fz_dedup_changes(fz_dedup *d, fz_dedup_change_fn fn, void *ctx) {
    int rc;
    for (size_t i = 0; i < d->nchanged; i++) { /* keys that left first */
        entry *e = &d->sets[d->changed[i]];
        if (e->logged && e->logged != e->key && (rc = fn(ctx, e->logged, NULL))) return rc;
    }
    for (size_t i = 0; i < d->nchanged; i++) {
        entry *e = &d->sets[d->changed[i]];
        if (!e->key) continue;
        fz_dedup_entry x = {e->key, e->first_ms, e->count};
        if ((rc = fn(ctx, e->key, &x))) return rc;
    }
    return 0;
}

void fz_dedup_changes_done(fz_dedup *d) {
    for (size_t i = 0; i < d->nchanged; i++) {
        entry *e = &d->sets[d->changed[i]];
        e->logged = e->key;
        e->dirty = 0;
    }
    d->nchanged = 0;
}

size_t fz_dedup_changed(const fz_dedup *d) { return d->nchanged; }

void fz_dedup_put(fz_dedup *d, const fz_dedup_entry *x) {
    uint64_t key = x->key ? x->key : 1;
    entry *s = set_of(d, key), *e = NULL;
    for (int i = 0; i < WAYS && !e; i++)
        if (s[i].key == key) e = &s[i];
    if (!e) {
        e = slot_for(d, s, x->first_ms);
        if (e->key) touched(d, e); /* a smaller table than before: the evicted key leaves */
    }
    e->key = key;
    e->first_ms = x->first_ms;
    e->count = x->count;
    if (!e->dirty) e->logged = key;
}

void fz_dedup_remove(fz_dedup *d, uint64_t key) {
    entry *s = set_of(d, key ? key : 1);
    for (int i = 0; i < WAYS; i++)
        if (s[i].key == key) {
            s[i].key = 0;
            if (!s[i].dirty) s[i].logged = 0;
            d->entries--;
            return;
        }
}

void fz_dedup_stats_get(fz_dedup *d, fz_dedup_stats *out) {
    out->entries = d->entries;
    out->capacity = d->nsets * WAYS;
    out->evictions = d->evictions;
    out->bytes = d->nsets * WAYS * (sizeof(entry) + (d->track ? sizeof(uint32_t) : 0)) + sizeof(*d);
}
