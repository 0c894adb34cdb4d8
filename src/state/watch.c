/*
 * watch.c - see watch.h.
 *
 * Workload: a mark or two per fraud SMS or call (a few per cent of the
 * stream) and one check per transfer, from every worker; a merge per
 * changelog record from other instances. One lock per call.
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

_Static_assert(sizeof(fz_watch_entry) <= 96, "a watched number must stay within 96 bytes");

struct fz_watch {
    fz_watch_entry *sets;
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
    w->sets = calloc(w->nsets * WAYS, sizeof(fz_watch_entry));
    if (!w->sets) {
        free(w);
        goto nomem;
    }
    fz_prefault(w->sets, w->nsets * WAYS * sizeof(fz_watch_entry));
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

int64_t fz_watch_lookback_ms(const fz_watch *w) { return w->lookback_ms; }

static fz_watch_entry *set_of(fz_watch *w, uint64_t key, pthread_mutex_t **lock) {
    /* mix first: keys are hashes in practice, but any key must spread */
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    uint64_t set = (uint64_t)(((unsigned __int128)h * w->nsets) >> 64);
    *lock = &w->locks[set % STRIPES];
    return &w->sets[set * WAYS];
}

static int run_empty(const fz_watch_run *r) { return r->last_ms == INT64_MIN; }

/* Until when (exclusive) the entry covers anything; INT64_MIN if empty. */
static int64_t entry_expiry(const fz_watch_entry *e, int64_t lookback) {
    int64_t x = INT64_MIN;
    for (int k = 0; k < FZ_WATCH_KINDS; k++)
        if (!run_empty(&e->runs[k])) {
            int64_t u = fz_sat_add(e->runs[k].last_ms, lookback, NULL);
            if (u > x) x = u;
        }
    return x;
}

/* The run rules of watch.h: join when within the look-back of each other,
 * otherwise the later run wins. */
static void run_merge(fz_watch_run *dst, const fz_watch_run *src, int64_t lookback) {
    if (run_empty(src)) return;
    if (run_empty(dst)) {
        *dst = *src;
        return;
    }
    if (src->first_ms <= fz_sat_add(dst->last_ms, lookback, NULL) &&
        dst->first_ms <= fz_sat_add(src->last_ms, lookback, NULL)) {
        if (src->first_ms < dst->first_ms) dst->first_ms = src->first_ms;
        if (src->last_ms > dst->last_ms) dst->last_ms = src->last_ms;
    } else if (src->last_ms > dst->last_ms) {
        *dst = *src;
    }
}

static void entry_clear(fz_watch_entry *e, uint64_t key) {
    e->key = key;
    for (int k = 0; k < FZ_WATCH_KINDS; k++) e->runs[k] = (fz_watch_run){0, INT64_MIN};
}

/* The entry for key in its set, taking a slot if it is new: an empty one,
 * else the one that expires first (an eviction if it is still live at
 * now_ms). Caller holds the set's lock. */
static fz_watch_entry *slot_for(fz_watch *w, fz_watch_entry *s, uint64_t key, int64_t now_ms) {
    fz_watch_entry *empty = NULL, *first = NULL;
    int64_t first_x = INT64_MAX;
    for (int i = 0; i < WAYS; i++) {
        if (s[i].key == key) return &s[i];
        if (s[i].key == 0) {
            if (!empty) empty = &s[i];
            continue;
        }
        int64_t x = entry_expiry(&s[i], w->lookback_ms);
        if (!first || x < first_x) {
            first = &s[i];
            first_x = x;
        }
    }
    if (empty) {
        atomic_fetch_add_explicit(&w->entries, 1, memory_order_relaxed);
        entry_clear(empty, key);
        return empty;
    }
    if (first_x > now_ms) atomic_fetch_add_explicit(&w->evictions, 1, memory_order_relaxed);
    entry_clear(first, key);
    return first;
}

int fz_watch_mark(fz_watch *w, uint64_t key, unsigned kind, int64_t ts_ms, fz_watch_entry *out) {
    if (!key || !kind) return 0;
    pthread_mutex_t *l;
    fz_watch_entry *s = set_of(w, key, &l);
    fz_watch_run mark = {ts_ms, ts_ms};
    pthread_mutex_lock(l);
    fz_watch_entry *e = slot_for(w, s, key, ts_ms);
    for (int k = 0; k < FZ_WATCH_KINDS; k++)
        if (kind & (1u << k)) run_merge(&e->runs[k], &mark, w->lookback_ms);
    if (out) *out = *e;
    pthread_mutex_unlock(l);
    return 1;
}

void fz_watch_merge(fz_watch *w, const fz_watch_entry *in) {
    if (!in->key) return;
    int64_t now = INT64_MIN; /* an incoming entry evicts only what has expired by its own time */
    for (int k = 0; k < FZ_WATCH_KINDS; k++)
        if (!run_empty(&in->runs[k]) && in->runs[k].last_ms > now) now = in->runs[k].last_ms;
    if (now == INT64_MIN) return;
    pthread_mutex_t *l;
    fz_watch_entry *s = set_of(w, in->key, &l);
    pthread_mutex_lock(l);
    fz_watch_entry *e = slot_for(w, s, in->key, now);
    for (int k = 0; k < FZ_WATCH_KINDS; k++) run_merge(&e->runs[k], &in->runs[k], w->lookback_ms);
    pthread_mutex_unlock(l);
}

int fz_watch_get(fz_watch *w, uint64_t key, fz_watch_entry *out) {
    if (!key) return -1;
    pthread_mutex_t *l;
    fz_watch_entry *s = set_of(w, key, &l);
    int rc = -1;
    pthread_mutex_lock(l);
    for (int i = 0; i < WAYS; i++)
        if (s[i].key == key) {
            *out = s[i];
            rc = 0;
            break;
        }
    pthread_mutex_unlock(l);
    return rc;
}

unsigned fz_watch_check(fz_watch *w, uint64_t key, int64_t ts_ms) {
    if (!key) return 0;
    pthread_mutex_t *l;
    fz_watch_entry *s = set_of(w, key, &l);
    unsigned kinds = 0;
    pthread_mutex_lock(l);
    for (int i = 0; i < WAYS; i++)
        if (s[i].key == key) {
            for (int k = 0; k < FZ_WATCH_KINDS; k++) {
                const fz_watch_run *r = &s[i].runs[k];
                if (!run_empty(r) && r->first_ms <= ts_ms &&
                    ts_ms < fz_sat_add(r->last_ms, w->lookback_ms, NULL))
                    kinds |= 1u << k;
            }
            break;
        }
    pthread_mutex_unlock(l);
    return kinds;
}

void fz_watch_numbers_in(fz_str t, void (*fn)(void *ctx, uint64_t key), void *ctx) {
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
        if (digits >= 7) fn(ctx, fz_number_key((fz_str){t.p + start, last - start}));
    }
}

typedef struct mark_ctx {
    fz_watch *w;
    unsigned kind;
    int64_t ts;
} mark_ctx;

static void mark_one(void *ctx, uint64_t key) {
    mark_ctx *m = ctx;
    fz_watch_mark(m->w, key, m->kind, m->ts, NULL);
}

void fz_watch_mark_numbers_in(fz_watch *w, fz_str t, unsigned kind, int64_t ts_ms) {
    mark_ctx m = {w, kind, ts_ms};
    fz_watch_numbers_in(t, mark_one, &m);
}

void fz_watch_stats_get(fz_watch *w, fz_watch_stats *out) {
    out->entries = atomic_load(&w->entries);
    out->evictions = atomic_load(&w->evictions);
    out->bytes = w->nsets * WAYS * sizeof(fz_watch_entry);
}
