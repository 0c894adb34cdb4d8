/*
 * watch.c - see watch.h.
 */
#include "watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define WAYS 8
#define STRIPES 1024

typedef struct entry {
    uint64_t key; /* 0 = empty */
    int64_t until_ms;
    uint32_t kinds;
    uint32_t pad;
} entry;

_Static_assert(sizeof(entry) <= 96, "a watched number must stay within 96 bytes");

struct fz_watch {
    entry *sets;
    uint64_t nsets;
    int64_t lookback_ms;
    pthread_mutex_t locks[STRIPES];
    _Atomic uint64_t entries, evictions;
};

uint64_t fz_number_key(fz_str s) {
    char d[64];
    size_t n = 0;
    for (size_t i = 0; i < s.n && n < sizeof(d); i++)
        if (s.p[i] >= '0' && s.p[i] <= '9') d[n++] = s.p[i];
    if (n == 0) return 0;
    const char *p = d;
    if (n > 2 && p[0] == '0' && p[1] == '0') { /* international prefix */
        p += 2;
        n -= 2;
    }
    if (n == 13 && p[0] == '8' && p[1] == '6' && p[2] == '1') { /* +86 mobile */
        p += 2;
        n -= 2;
    }
    uint64_t k = XXH3_64bits(p, n);
    return k ? k : 1;
}

fz_watch *fz_watch_new(size_t capacity, int64_t lookback_ms, char *errstr, size_t errstr_size) {
    fz_watch *w = calloc(1, sizeof(*w));
    if (!w) goto nomem;
    if (capacity < WAYS) capacity = WAYS;
    w->nsets = (capacity + WAYS - 1) / WAYS;
    w->lookback_ms = lookback_ms;
    w->sets = calloc(w->nsets * WAYS, sizeof(entry));
    if (!w->sets) {
        free(w);
        goto nomem;
    }
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&w->locks[i], NULL);
    return w;
nomem:
    snprintf(errstr, errstr_size, "watchlist: cannot allocate %zu entries", capacity);
    return NULL;
}

void fz_watch_destroy(fz_watch *w) {
    if (!w) return;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&w->locks[i]);
    free(w->sets);
    free(w);
}

static entry *set_of(fz_watch *w, uint64_t key, pthread_mutex_t **lock) {
    /* mix first: keys are hashes in practice, but any key must spread */
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    uint64_t set = (uint64_t)(((unsigned __int128)h * w->nsets) >> 64);
    *lock = &w->locks[set % STRIPES];
    return &w->sets[set * WAYS];
}

void fz_watch_mark(fz_watch *w, uint64_t key, unsigned kind, int64_t ts_ms) {
    if (!key || !kind) return;
    pthread_mutex_t *l;
    entry *s = set_of(w, key, &l);
    int64_t until = ts_ms + w->lookback_ms;
    pthread_mutex_lock(l);
    entry *slot = NULL, *first_to_expire = &s[0];
    for (int i = 0; i < WAYS; i++) {
        if (s[i].key == key) {
            slot = &s[i];
            break;
        }
        if (!slot && s[i].key == 0) slot = &s[i];
        if (s[i].until_ms < first_to_expire->until_ms) first_to_expire = &s[i];
    }
    if (!slot) {
        slot = first_to_expire;
        if (slot->until_ms > ts_ms)
            atomic_fetch_add_explicit(&w->evictions, 1, memory_order_relaxed);
        slot->key = 0;
    }
    if (slot->key != key) {
        if (slot->key == 0) atomic_fetch_add_explicit(&w->entries, 1, memory_order_relaxed);
        slot->key = key;
        slot->kinds = 0;
        slot->until_ms = until;
    }
    if (slot->until_ms <= ts_ms) slot->kinds = 0; /* expired: start over */
    slot->kinds |= kind;
    if (until > slot->until_ms) slot->until_ms = until;
    pthread_mutex_unlock(l);
}

unsigned fz_watch_check(fz_watch *w, uint64_t key, int64_t ts_ms) {
    if (!key) return 0;
    pthread_mutex_t *l;
    entry *s = set_of(w, key, &l);
    unsigned kinds = 0;
    pthread_mutex_lock(l);
    for (int i = 0; i < WAYS; i++)
        if (s[i].key == key) {
            if (ts_ms < s[i].until_ms) kinds = s[i].kinds;
            break;
        }
    pthread_mutex_unlock(l);
    return kinds;
}

void fz_watch_mark_numbers_in(fz_watch *w, fz_str t, unsigned kind, int64_t ts_ms) {
    size_t i = 0;
    while (i < t.n) {
        if (t.p[i] < '0' || t.p[i] > '9') {
            i++;
            continue;
        }
        size_t start = i, digits = 0, last = i;
        while (i < t.n) {
            char c = t.p[i];
            if (c >= '0' && c <= '9') {
                digits++;
                i++;
                last = i;
            } else if ((c == ' ' || c == '-') && i + 1 < t.n && t.p[i + 1] >= '0' &&
                       t.p[i + 1] <= '9') {
                i++;
            } else {
                break;
            }
        }
        if (digits >= 7)
            fz_watch_mark(w, fz_number_key((fz_str){t.p + start, last - start}), kind, ts_ms);
    }
}

void fz_watch_stats_get(fz_watch *w, fz_watch_stats *out) {
    out->entries = atomic_load(&w->entries);
    out->evictions = atomic_load(&w->evictions);
    out->bytes = w->nsets * WAYS * sizeof(entry);
}
