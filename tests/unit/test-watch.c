/*
 * test-watch.c - the interception watchlist: one key per number however it
 * is written, marks live for the look-back and accumulate, numbers found in
 * fraud texts, eviction of the entry that expires first, and a random
 * oracle against a naive map.
 */
#include <stdlib.h>

#include "test.h"
#include "watch.h"

static uint64_t nk(const char *s) { return fz_number_key((fz_str){s, strlen(s)}); }

static fz_watch *watch(size_t cap, int64_t lookback) {
    char err[256];
    fz_watch *w = fz_watch_new(cap, lookback, err, sizeof(err));
    if (!w) fz_test_fail(__FILE__, __LINE__, "%s", err);
    return w;
}

TEST_IMPL(watch_number_key) {
    uint64_t k = nk("13900000001");
    ASSERT(k != 0);
    ASSERT_EQ_U64(nk("+8613900000001"), k);
    ASSERT_EQ_U64(nk("+86 139-0000-0001"), k);
    ASSERT_EQ_U64(nk("008613900000001"), k);
    ASSERT(nk("13900000002") != k);
    ASSERT(nk("+447700900001") != k);
    ASSERT_EQ_U64(nk("6222 0200 1234 5678"), nk("6222020012345678")); /* accounts */
    ASSERT_EQ_U64(nk("no digits"), 0);
}

TEST_IMPL(watch_lookback_and_kinds) {
    enum { H72 = 72 * 3600 * 1000 };
    fz_watch *w = watch(1024, H72);
    uint64_t victim = nk("+8613900000001"), crook = nk("+8617000000009");
    fz_watch_mark(w, victim, FZ_WATCH_WARNED, 1000, NULL);
    fz_watch_mark(w, crook, FZ_WATCH_FLAGGED, 1000, NULL);
    ASSERT_EQ_U64(fz_watch_check(w, victim, 1000 + H72 - 1), FZ_WATCH_WARNED);
    ASSERT_EQ_U64(fz_watch_check(w, victim, 1000 + H72), 0); /* look-back over */
    ASSERT_EQ_U64(fz_watch_check(w, crook, 5000), FZ_WATCH_FLAGGED);
    ASSERT_EQ_U64(fz_watch_check(w, nk("13900000002"), 5000), 0);
    /* kinds accumulate, each with its own look-back */
    fz_watch_mark(w, victim, FZ_WATCH_FLAGGED, 2000000, NULL);
    ASSERT_EQ_U64(fz_watch_check(w, victim, 3000000), FZ_WATCH_WARNED | FZ_WATCH_FLAGGED);
    ASSERT_EQ_U64(fz_watch_check(w, victim, 1000 + H72 - 1), FZ_WATCH_WARNED | FZ_WATCH_FLAGGED);
    ASSERT_EQ_U64(fz_watch_check(w, victim, 2000000 + H72 - 1), FZ_WATCH_FLAGGED);
    ASSERT_EQ_U64(fz_watch_check(w, victim, 1999999), FZ_WATCH_WARNED); /* not flagged yet */
    /* an expired entry marked again starts over with the new kind only */
    fz_watch_mark(w, crook, FZ_WATCH_WARNED, 1000 + 2LL * H72, NULL);
    ASSERT_EQ_U64(fz_watch_check(w, crook, 1000 + 2LL * H72), FZ_WATCH_WARNED);
    fz_watch_destroy(w);
}

TEST_IMPL(watch_numbers_in_text) {
    fz_watch *w = watch(1024, 1000000);
    const char *t =
        "请将资金转入安全账户 6222 0200 1234 5678，或联系王警官 +86 170-0000-1111，编号 12345";
    fz_watch_mark_numbers_in(w, (fz_str){t, strlen(t)}, FZ_WATCH_FLAGGED, 0);
    ASSERT_EQ_U64(fz_watch_check(w, nk("6222020012345678"), 1), FZ_WATCH_FLAGGED);
    ASSERT_EQ_U64(fz_watch_check(w, nk("17000001111"), 1), FZ_WATCH_FLAGGED);
    ASSERT_EQ_U64(fz_watch_check(w, nk("12345"), 1), 0); /* too short to be a number */
    fz_watch_stats st;
    fz_watch_stats_get(w, &st);
    ASSERT_EQ_U64(st.entries, 2);
    fz_watch_destroy(w);
}

TEST_IMPL(watch_eviction_and_oracle) {
    fz_watch *w = watch(8, 1000); /* one set of 8 */
    for (uint64_t i = 1; i <= 8; i++) fz_watch_mark(w, i * 7919, FZ_WATCH_WARNED, (int64_t)i, NULL);
    fz_watch_mark(w, 999983, FZ_WATCH_FLAGGED, 9, NULL); /* replaces key 7919 (expires first) */
    ASSERT_EQ_U64(fz_watch_check(w, 7919, 10), 0);
    ASSERT_EQ_U64(fz_watch_check(w, 2 * 7919, 10), FZ_WATCH_WARNED);
    ASSERT_EQ_U64(fz_watch_check(w, 999983, 10), FZ_WATCH_FLAGGED);
    fz_watch_stats st;
    fz_watch_stats_get(w, &st);
    ASSERT_EQ_U64(st.evictions, 1);
    fz_watch_destroy(w);

    /* random marks and checks in time order against the definition: a kind
     * covers t when some mark of it at W has W <= t < W + lookback */
    enum { K = 300, OPS = 60000, LB = 5000 };
    static int64_t last[K][2];
    for (int k = 0; k < K; k++) last[k][0] = last[k][1] = INT64_MIN;
    w = watch(1 << 16, LB);
    for (int64_t t = 0; t < OPS; t++) {
        unsigned k = (unsigned)fz_test_rand_below(K);
        uint64_t key = 1000003ull * (k + 1);
        if (fz_test_rand_below(2)) {
            unsigned kind = 1u + (unsigned)fz_test_rand_below(3);
            for (int b = 0; b < 2; b++)
                if (kind & (1u << b)) last[k][b] = t;
            fz_watch_mark(w, key, kind, t, NULL);
        } else {
            unsigned expect = 0;
            for (int b = 0; b < 2; b++)
                if (last[k][b] != INT64_MIN && t < last[k][b] + LB) expect |= 1u << b;
            fz_test_context("op %lld key %u", (long long)t, k);
            ASSERT_EQ_U64(fz_watch_check(w, key, t), expect);
        }
    }
    fz_watch_destroy(w);
}

/* A warning never reaches back in event time: a transfer at 00:00 is not
 * intercepted by an SMS at 01:00, whatever order they are processed in
 * (a restart re-reading input, or two topics read at different speeds). */
TEST_IMPL(watch_no_warning_from_the_future) {
    enum { H = 3600 * 1000, L = 72 * H };
    fz_watch *w = watch(1024, L);
    uint64_t x = nk("+8613900000001");
    fz_watch_mark(w, x, FZ_WATCH_WARNED, 1 * H, NULL); /* SMS at 01:00 warns X */
    ASSERT_EQ_U64(fz_watch_check(w, x, 0), 0);         /* transfer from X at 00:00 */
    ASSERT_EQ_U64(fz_watch_check(w, x, 1 * H - 1), 0);
    ASSERT_EQ_U64(fz_watch_check(w, x, 1 * H), FZ_WATCH_WARNED);
    ASSERT_EQ_U64(fz_watch_check(w, x, 1 * H + L - 1), FZ_WATCH_WARNED);
    ASSERT_EQ_U64(fz_watch_check(w, x, 1 * H + L), 0);
    /* warnings far apart: a check between them is covered by neither */
    uint64_t y = nk("+8613900000002");
    fz_watch_mark(w, y, FZ_WATCH_WARNED, 0, NULL);
    fz_watch_mark(w, y, FZ_WATCH_WARNED, 100LL * H, NULL);
    ASSERT_EQ_U64(fz_watch_check(w, y, 80LL * H), 0);
    ASSERT_EQ_U64(fz_watch_check(w, y, 100LL * H + 5), FZ_WATCH_WARNED);
    /* warnings closer than the look-back form one covered stretch */
    uint64_t z = nk("+8613900000003");
    fz_watch_mark(w, z, FZ_WATCH_FLAGGED, 10LL * H, NULL);
    fz_watch_mark(w, z, FZ_WATCH_FLAGGED, 60LL * H, NULL);
    ASSERT_EQ_U64(fz_watch_check(w, z, 9LL * H), 0);
    ASSERT_EQ_U64(fz_watch_check(w, z, 50LL * H), FZ_WATCH_FLAGGED);
    ASSERT_EQ_U64(fz_watch_check(w, z, 60LL * H + L - 1), FZ_WATCH_FLAGGED);
    /* event times at the edge of int64: no overflow, no wrap into the past */
    uint64_t e = nk("+8613900000004");
    fz_watch_mark(w, e, FZ_WATCH_WARNED, INT64_MAX - 10, NULL);
    ASSERT_EQ_U64(fz_watch_check(w, e, 5 * H), 0);
    ASSERT_EQ_U64(fz_watch_check(w, e, INT64_MAX - 1), FZ_WATCH_WARNED);
    fz_watch_destroy(w);
}
