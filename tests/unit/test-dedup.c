/*
 * test-dedup.c - the repeat-suppression table against a naive oracle (a
 * plain list of {key, first_ms, count} with the same window rule), the
 * disabled window, eviction accounting, the memory bound, and the
 * changelog: a store rebuilt from the changes it handed out answers alike.
 */
#include <stdlib.h>

#include "dedup.h"
#include "test.h"

static fz_dedup *new_dedup(size_t cap, int64_t window_ms) {
    char err[256];
    fz_dedup *d = fz_dedup_new(cap, window_ms, 0, err, sizeof(err));
    if (!d) fz_test_fail(__FILE__, __LINE__, "fz_dedup_new: %s", err);
    return d;
}

typedef struct naive_entry {
    uint64_t key;
    int64_t first_ms;
    uint32_t count;
} naive_entry;

/* The specification: a key's window starts at its first hit; a hit at or
 * after first + window (or window or more before first) starts a new one. */
static uint32_t naive_hit(naive_entry *tab, size_t *n, uint64_t key, int64_t now, int64_t window) {
    for (size_t i = 0; i < *n; i++)
        if (tab[i].key == key) {
            if ((now > tab[i].first_ms ? now - tab[i].first_ms : tab[i].first_ms - now) >= window) {
                tab[i].first_ms = now;
                tab[i].count = 1;
            } else {
                tab[i].count++;
            }
            return tab[i].count;
        }
    tab[*n] = (naive_entry){key, now, 1};
    (*n)++;
    return 1;
}

TEST_IMPL(dedup_oracle) {
    enum { NKEYS = 200, HITS = 50000 };
    const int64_t window = 1000;
    fz_dedup *d = new_dedup(4096, window);
    ASSERT_EQ_I64(fz_dedup_window_ms(d), window);
    uint64_t keys[NKEYS];
    for (int i = 0; i < NKEYS; i++) keys[i] = fz_test_rand() | 2; /* never 0 or 1 */
    naive_entry *tab = calloc(NKEYS, sizeof(*tab));
    ASSERT(tab);
    size_t n = 0;
    int64_t now = 1764288000000LL;
    int repeats = 0, renewals = 0;
    for (int h = 0; h < HITS; h++) {
        /* event time mostly moves forward, sometimes jumps, sometimes
         * goes back a little (out-of-order events) */
        uint64_t r = fz_test_rand_below(100);
        if (r < 80)
            now += (int64_t)fz_test_rand_below(20);
        else if (r < 90)
            now += (int64_t)fz_test_rand_below(2 * window);
        else
            now -= (int64_t)fz_test_rand_below(50);
        /* a hot subset of keys repeats often */
        uint64_t key =
            keys[fz_test_rand_below(4) ? fz_test_rand_below(20) : fz_test_rand_below(NKEYS)];
        uint32_t want = naive_hit(tab, &n, key, now, window);
        uint32_t got = fz_dedup_hit(d, key, now);
        if (got != want)
            fz_test_fail(__FILE__, __LINE__,
                         "hit %d: key %016llx at %lld: fz_dedup_hit = %u, oracle = %u", h,
                         (unsigned long long)key, (long long)now, got, want);
        repeats += want > 1;
        renewals += want == 1;
    }
    fz_dedup_stats st;
    fz_dedup_stats_get(d, &st);
    /* the oracle has no capacity limit: the comparison only holds if
     * nothing live was evicted (200 keys in 512 sets of 8) */
    ASSERT_EQ_U64(st.evictions, 0);
    ASSERT_EQ_U64(st.capacity, 4096);
    ASSERT(st.entries <= NKEYS);
    ASSERT(repeats > HITS / 4 && renewals > NKEYS); /* both paths exercised */
    free(tab);
    fz_dedup_destroy(d);
}

TEST_IMPL(dedup_window_zero) {
    fz_dedup *d = new_dedup(64, 0);
    for (int i = 0; i < 1000; i++) ASSERT_EQ_U64(fz_dedup_hit(d, 42, 1000), 1);
    for (int i = 0; i < 1000; i++) ASSERT_EQ_U64(fz_dedup_hit(d, (uint64_t)i % 3, i), 1);
    fz_dedup_destroy(d);

    /* window boundary: a hit exactly window_ms later starts a new window */
    d = new_dedup(64, 100);
    ASSERT_EQ_U64(fz_dedup_hit(d, 7, 1000), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 7, 1099), 2);
    ASSERT_EQ_U64(fz_dedup_hit(d, 7, 1050), 3);
    ASSERT_EQ_U64(fz_dedup_hit(d, 7, 1100), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 7, 1101), 2);
    /* keys 0 and UINT64_MAX are ordinary keys */
    ASSERT_EQ_U64(fz_dedup_hit(d, UINT64_MAX, 5000), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, UINT64_MAX, 5001), 2);
    ASSERT_EQ_U64(fz_dedup_hit(d, 0, 5000), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 0, 5001), 2);
    fz_dedup_destroy(d);
}

TEST_IMPL(dedup_eviction) {
    /* capacity 8 is one set: every key lands in it */
    fz_dedup *d = new_dedup(8, 60000);
    fz_dedup_stats st;
    fz_dedup_stats_get(d, &st);
    ASSERT_EQ_U64(st.capacity, 8);
    ASSERT_EQ_U64(st.entries, 0);
    ASSERT_EQ_U64(st.evictions, 0);
    for (uint64_t k = 1; k <= 8; k++)
        ASSERT_EQ_U64(fz_dedup_hit(d, k * 0x9E3779B97F4A7C15ULL, (int64_t)k), 1);
    fz_dedup_stats_get(d, &st);
    ASSERT_EQ_U64(st.entries, 8);
    ASSERT_EQ_U64(st.evictions, 0);
    /* a ninth key evicts the oldest (key 1, first seen at t=1) */
    ASSERT_EQ_U64(fz_dedup_hit(d, 9 * 0x9E3779B97F4A7C15ULL, 9), 1);
    fz_dedup_stats_get(d, &st);
    ASSERT_EQ_U64(st.evictions, 1);
    ASSERT_EQ_U64(st.entries, 8);
    /* key 2 survived; key 1 was forgotten and alerts again */
    ASSERT_EQ_U64(fz_dedup_hit(d, 2 * 0x9E3779B97F4A7C15ULL, 10), 2);
    ASSERT_EQ_U64(fz_dedup_hit(d, 1 * 0x9E3779B97F4A7C15ULL, 11), 1);
    fz_dedup_stats_get(d, &st);
    ASSERT_EQ_U64(st.evictions, 2);
    ASSERT(st.entries <= st.capacity);
    /* expired entries are reused before live ones are evicted */
    for (uint64_t k = 100; k < 108; k++) fz_dedup_hit(d, k * 0x9E3779B97F4A7C15ULL, 1000000);
    fz_dedup_stats_get(d, &st);
    ASSERT_EQ_U64(st.evictions, 2);
    fz_dedup_destroy(d);

    /* many more keys than capacity: the cap holds and evictions are counted */
    d = new_dedup(10, 60000); /* rounds up to a multiple of 8 */
    fz_dedup_stats_get(d, &st);
    ASSERT_EQ_U64(st.capacity, 16);
    for (uint64_t k = 1; k <= 1000; k++) fz_dedup_hit(d, fz_test_rand() | 2, (int64_t)k);
    fz_dedup_stats_get(d, &st);
    ASSERT(st.entries <= 16);
    ASSERT_EQ_U64(st.entries + st.evictions, 1000);
    fz_dedup_destroy(d);
}

TEST_IMPL(dedup_memory) {
    const size_t cap = 1u << 20;
    fz_dedup *d = new_dedup(cap, 1000);
    fz_dedup_stats st;
    fz_dedup_stats_get(d, &st);
    ASSERT_EQ_U64(st.capacity, cap);
    ASSERT(st.bytes >= cap * 16); /* at least a key and a timestamp each */
    ASSERT(st.bytes / st.capacity <= 64);
    fz_dedup_destroy(d);
}

/* The changelog: changes handed out by a tracking store, applied in order
 * to a naive map (tombstones remove) and read back into a fresh store with
 * fz_dedup_put, give a store that answers exactly like the original. */
typedef struct dlog {
    fz_dedup_entry v[8192];
    int n;
    uint64_t dels;
} dlog;

static int dlog_apply(void *ctx, uint64_t key, const fz_dedup_entry *e) {
    dlog *l = ctx;
    int i = 0;
    while (i < l->n && l->v[i].key != key) i++;
    if (!e) {
        ASSERT(i < l->n); /* only keys the log holds leave it */
        l->v[i] = l->v[--l->n];
        l->dels++;
        return 0;
    }
    ASSERT_EQ_U64(e->key, key);
    if (i == l->n) l->n++;
    l->v[i] = *e;
    return 0;
}

TEST_IMPL(dedup_changelog_oracle) {
    static dlog l;
    memset(&l, 0, sizeof(l));
    char err[256];
    fz_dedup *d = fz_dedup_new(64, 1000, 1, err, sizeof(err)), *r;
    ASSERT(d);
    int64_t now = 1764288000000;
    for (int h = 0; h < 50000; h++) {
        now += (int64_t)fz_test_rand_below(30);
        fz_dedup_hit(d, (fz_test_rand_below(400) + 1) * 0x9E3779B97F4A7C15ull, now);
        if (fz_test_rand_below(40) == 0) {
            ASSERT(fz_dedup_changes(d, dlog_apply, &l) == 0);
            fz_dedup_changes_done(d);
        }
    }
    ASSERT(fz_dedup_changes(d, dlog_apply, &l) == 0);
    fz_dedup_changes_done(d);
    ASSERT(l.dels > 0);
    r = fz_dedup_new(64, 1000, 1, err, sizeof(err));
    ASSERT(r);
    for (int i = 0; i < l.n; i++) fz_dedup_put(r, &l.v[i]);
    ASSERT_EQ_U64(fz_dedup_changed(r), 0);
    fz_dedup_stats a, b;
    fz_dedup_stats_get(d, &a);
    fz_dedup_stats_get(r, &b);
    ASSERT_EQ_U64(a.entries, b.entries);
    ASSERT_EQ_U64(a.entries, (uint64_t)l.n);
    for (int h = 0; h < 20000; h++) {
        now += (int64_t)fz_test_rand_below(30);
        uint64_t k = (fz_test_rand_below(400) + 1) * 0x9E3779B97F4A7C15ull;
        ASSERT_EQ_U64(fz_dedup_hit(d, k, now), fz_dedup_hit(r, k, now));
    }
    fz_dedup_destroy(d);
    fz_dedup_destroy(r);
}

/* Windows look both ways in event time: an entry dated in the future (a
 * call stamped 2100) does not suppress the present, and times at the edge
 * of int64 neither overflow nor wrap. */
TEST_IMPL(dedup_both_ways_in_time) {
    const int64_t y2026 = 1796588937000LL, y2100 = 4102444800000LL, win = 600000;
    fz_dedup *d = new_dedup(64, win);
    ASSERT_EQ_U64(fz_dedup_hit(d, 77, y2100), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 77, y2026), 1); /* not a repeat of the 2100 call */
    ASSERT_EQ_U64(fz_dedup_hit(d, 77, y2026 + 1000), 2);
    /* an earlier event within the window is a repeat too */
    ASSERT_EQ_U64(fz_dedup_hit(d, 78, y2026), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 78, y2026 - win + 1), 2);
    ASSERT_EQ_U64(fz_dedup_hit(d, 78, y2026 - win), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 79, INT64_MAX), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 79, 0), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 80, 0), 1);
    ASSERT_EQ_U64(fz_dedup_hit(d, 80, INT64_MAX), 1);
    fz_dedup_destroy(d);
}
