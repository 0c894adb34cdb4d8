/*
 * test-agg.c - the aggregate store (state/agg.h) against a naive oracle
 * (every event kept, the window counted from scratch): exact below the
 * bound, a sliding HyperLogLog within its error above it, the window
 * sliding in event time, the re-arm rule, the median condition, late
 * events, eviction, the changelog round trip and hostile changelog
 * records; the rule block's parser (durations); aggregate route records.
 */
#include <stdlib.h>
#include <xxhash.h>

#include "agg.h"
#include "aggrule.h"
#include "route.h"
#include "test.h"

#define MB (1u << 20)

static fz_aggs *mk(size_t cap, uint32_t exact, int track) {
    char err[256];
    fz_aggs *a = fz_aggs_new(cap, exact, 256 * MB, track, err, sizeof(err));
    ASSERT(a != NULL);
    return a;
}

static fz_agg_in ev(uint64_t key, uint64_t value, int64_t ts, int64_t window, uint32_t min) {
    return (fz_agg_in){key, value, ts, -1, window, min, 0};
}

/* the oracle: distinct values with ts in (newest - window, newest] */
typedef struct {
    uint64_t v[4096];
    int64_t ts[4096];
    size_t n;
} oracle;

static uint64_t oracle_count(const oracle *o, int64_t newest, int64_t window) {
    uint64_t c = 0;
    for (size_t i = 0; i < o->n; i++) {
        if (o->ts[i] <= newest - window || o->ts[i] > newest) continue;
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = o->v[j] == o->v[i] && o->ts[j] > newest - window && o->ts[j] <= newest;
        c += !dup;
    }
    return c;
}

TEST_IMPL(agg_exact_below_bound) {
    fz_aggs *a = mk(1024, 1024, 0);
    static oracle o;
    o.n = 0;
    int64_t newest = 0, window = 60000;
    int fired = 0;
    for (int i = 0; i < 3000; i++) {
        /* values repeat, time moves forward in uneven steps */
        uint64_t v = 1 + fz_test_rand_below(400);
        int64_t ts = 1000000 + i * 37 + (int64_t)fz_test_rand_below(20);
        if (ts > newest) newest = ts;
        o.v[o.n] = v;
        o.ts[o.n++] = ts;
        fz_agg_in in = ev(42, v, ts, window, 1000000);
        fz_agg_out out;
        fz_aggs_hit(a, &in, &out);
        ASSERT(!out.estimated);
        fz_test_context("event %d", i);
        ASSERT_EQ_U64(out.distinct, oracle_count(&o, newest, window));
        fired |= out.fired;
    }
    ASSERT(!fired);
    fz_aggs_destroy(a);
}

TEST_IMPL(agg_threshold_and_rearm) {
    fz_aggs *a = mk(64, 1024, 0);
    fz_agg_out out;
    int64_t w = 600000;
    /* 5 distinct in 4 minutes: fires at the 5th, exactly there */
    for (int i = 1; i <= 6; i++) {
        fz_agg_in in = ev(7, (uint64_t)i, i * 60000, w, 5);
        fz_aggs_hit(a, &in, &out);
        ASSERT_EQ_I64(out.fired, i == 5);
        ASSERT_EQ_U64(out.distinct, (uint64_t)i);
    }
    ASSERT_EQ_I64(out.first_ms, 60000);
    /* still over the threshold inside the window after the alert: quiet */
    for (int i = 7; i <= 9; i++) {
        fz_agg_in in = ev(7, (uint64_t)i, 300000 + i * 1000, w, 5);
        fz_aggs_hit(a, &in, &out);
        ASSERT(!out.fired);
    }
    /* a window after the alert (at 300,000): re-armed, fires again when the
     * window holds 5 distinct values */
    fz_agg_in in = ev(7, 100, 900000, w, 5);
    fz_aggs_hit(a, &in, &out);
    ASSERT_EQ_U64(out.distinct, 5); /* 7, 8, 9 at 307-309 s, 6 at 360 s, and 100 */
    ASSERT(out.fired);
    /* one key does not count another's values */
    in = ev(8, 1, 900000, w, 2);
    fz_aggs_hit(a, &in, &out);
    ASSERT_EQ_U64(out.distinct, 1);
    fz_aggs_destroy(a);
}

TEST_IMPL(agg_window_slides) {
    fz_aggs *a = mk(64, 1024, 0);
    fz_agg_out out;
    /* one value every 5 minutes: never more than 2 in a 10-minute window */
    for (int i = 0; i < 20; i++) {
        fz_agg_in in = ev(9, (uint64_t)i + 1, (int64_t)i * 300000, 600000, 3);
        fz_aggs_hit(a, &in, &out);
        ASSERT(!out.fired);
        ASSERT_EQ_U64(out.distinct, i == 0 ? 1 : 2);
    }
    /* an event a whole window behind the key's newest is late: not counted */
    fz_agg_in in = ev(9, 999, 19 * 300000 - 600000, 600000, 3);
    fz_aggs_hit(a, &in, &out);
    ASSERT_EQ_U64(out.distinct, 0);
    fz_agg_stats st;
    fz_aggs_stats_get(a, &st);
    ASSERT_EQ_U64(st.late, 1);
    /* out of order inside the window counts */
    in = ev(9, 998, 19 * 300000 - 1000, 600000, 3);
    fz_aggs_hit(a, &in, &out);
    ASSERT_EQ_U64(out.distinct, 3);
    ASSERT(out.fired);
    fz_aggs_destroy(a);
}

TEST_IMPL(agg_median_condition) {
    fz_aggs *a = mk(64, 1024, 0);
    fz_agg_out out;
    /* long calls: over the threshold, never under the median bound */
    for (int i = 1; i <= 10; i++) {
        fz_agg_in in = {11, (uint64_t)i, i * 1000, 120, 600000, 5, 20000};
        fz_aggs_hit(a, &in, &out);
        ASSERT(!out.fired);
    }
    ASSERT_EQ_I64(out.median_duration_s, 120);
    /* short ones take over the median: fires once it is under 20 s */
    int at = 0;
    for (int i = 11; i <= 30 && !at; i++) {
        fz_agg_in in = {11, (uint64_t)i, i * 1000, 5, 600000, 5, 20000};
        fz_aggs_hit(a, &in, &out);
        if (out.fired) at = i;
    }
    ASSERT_EQ_I64(at, 21); /* 11 short of 21 values: the median is 5 */
    ASSERT_EQ_I64(out.median_duration_s, 5);
    /* calls without a duration never satisfy a duration condition */
    fz_agg_in in = {12, 1, 1000, -1, 600000, 2, 20000};
    fz_aggs_hit(a, &in, &out);
    in.value = 2;
    fz_aggs_hit(a, &in, &out);
    ASSERT(!out.fired && out.median_duration_s == -1);
    fz_aggs_destroy(a);
}

TEST_IMPL(agg_sketch_above_bound) {
    fz_aggs *a = mk(64, 64, 0);
    fz_agg_out out;
    int64_t w = 3600000;
    /* 20,000 distinct values in the window: estimated within 3 sigma (10 %) */
    int fired_at = 0;
    for (int i = 0; i < 20000; i++) {
        fz_agg_in in = ev(5, XXH3_64bits(&i, sizeof(i)) | 1, 1000 + i, w, 10000);
        fz_aggs_hit(a, &in, &out);
        if (i < 64) ASSERT(!out.estimated && out.distinct == (uint64_t)i + 1);
        if (out.fired) fired_at = i + 1;
    }
    ASSERT(out.estimated);
    fz_test_context("estimate %llu of 20000", (unsigned long long)out.distinct);
    ASSERT(out.distinct > 18000 && out.distinct < 22000);
    ASSERT(fired_at > 9000 && fired_at < 11000);
    /* the window slides over the sketch too: 2,000 new values an hour later */
    for (int i = 0; i < 2000; i++) {
        int x = 100000 + i;
        fz_agg_in in = ev(5, XXH3_64bits(&x, sizeof(x)) | 1, 1000 + w + 20000 + i, w, 10000);
        fz_aggs_hit(a, &in, &out);
    }
    fz_test_context("estimate %llu of 2000", (unsigned long long)out.distinct);
    ASSERT(!out.estimated || (out.distinct > 1700 && out.distinct < 2300));
    /* once every value the list dropped has left the window: exact again */
    fz_agg_stats st;
    for (int i = 0; i < 10; i++) {
        fz_agg_in in = ev(5, 77 + (uint64_t)i, 1000 + 3 * w + i, w, 10000);
        fz_aggs_hit(a, &in, &out);
    }
    ASSERT(!out.estimated);
    ASSERT_EQ_U64(out.distinct, 10);
    fz_aggs_stats_get(a, &st);
    ASSERT_EQ_U64(st.estimated, 0);
    fz_aggs_destroy(a);
}

TEST_IMPL(agg_eviction_and_budget) {
    fz_aggs *a = mk(8, 1024, 0); /* one set of 8 */
    fz_agg_out out;
    for (uint64_t k = 1; k <= 8; k++) {
        fz_agg_in in = ev(k << 32, 1, (int64_t)k * 1000, 60000, 2);
        fz_aggs_hit(a, &in, &out);
    }
    fz_agg_stats st;
    fz_aggs_stats_get(a, &st);
    ASSERT_EQ_U64(st.entries, 8);
    ASSERT_EQ_U64(st.evictions, 0);
    /* a ninth live key evicts the one idle longest (key 1) */
    fz_agg_in in = ev(9ull << 32, 1, 9000, 60000, 2);
    fz_aggs_hit(a, &in, &out);
    fz_aggs_stats_get(a, &st);
    ASSERT_EQ_U64(st.evictions, 1);
    in = ev(1ull << 32, 2, 9500, 60000, 2); /* key 1 starts over */
    fz_aggs_hit(a, &in, &out);
    ASSERT_EQ_U64(out.distinct, 1);
    /* an expired entry is reused without an eviction */
    in = ev(10ull << 32, 1, 500000, 60000, 2);
    fz_aggs_hit(a, &in, &out);
    fz_aggs_stats_get(a, &st);
    ASSERT_EQ_U64(st.evictions, 2); /* key 2 went for key 1 above */
    fz_aggs_destroy(a);
    /* a budget too small for the values: counted, never exceeded */
    char err[256];
    a = fz_aggs_new(64, 1024, 4096, 0, err, sizeof(err));
    ASSERT(a);
    for (int i = 0; i < 1000; i++) {
        in = ev(3, (uint64_t)i + 1, 1000 + i, 600000, 100000);
        fz_aggs_hit(a, &in, &out);
    }
    fz_aggs_stats_get(a, &st);
    ASSERT(st.over_budget > 0);
    ASSERT(out.distinct < 1000);
    fz_aggs_destroy(a);
}

/* a compacted changelog: the latest record of each key */
typedef struct logmap {
    uint64_t key[512];
    char *val[512];
    size_t len[512];
    size_t n;
    fz_buf *b;
    int puts, tombs;
} logmap;

static int log_change(void *ctx, uint64_t key, const fz_aggs *src) {
    logmap *m = ctx;
    size_t i = 0;
    while (i < m->n && m->key[i] != key) i++;
    if (!src) {
        m->tombs++;
        if (i < m->n) {
            free(m->val[i]);
            m->n--;
            m->key[i] = m->key[m->n];
            m->val[i] = m->val[m->n];
            m->len[i] = m->len[m->n];
        }
        return 0;
    }
    fz_buf_reset(m->b);
    ASSERT(fz_agg_entry_save(src, key, m->b) == FZ_OK);
    if (i == m->n) {
        ASSERT(m->n < 512);
        m->key[m->n++] = key;
    } else {
        free(m->val[i]);
    }
    m->val[i] = malloc(m->b->len);
    memcpy(m->val[i], m->b->p, m->b->len);
    m->len[i] = m->b->len;
    m->puts++;
    return 0;
}

TEST_IMPL(agg_changelog_roundtrip) {
    /* after every commit a store restored from the compacted changelog
     * answers every later event as the original does; a small capacity
     * and bound make eviction, tombstones and the sketch take part */
    fz_aggs *a = mk(32, 32, 1);
    fz_aggs *r = mk(32, 32, 0);
    fz_buf b;
    fz_buf_init(&b, 4 * MB);
    static logmap m;
    memset(&m, 0, sizeof(m));
    m.b = &b;
    int64_t ts = 1000;
    uint64_t fired = 0, estimated = 0;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 200; i++) {
            /* one heavy key (past the bound: the sketch), many light ones */
            int heavy = fz_test_rand_below(10) < 3;
            uint64_t key = (heavy ? 1 : 2 + fz_test_rand_below(60)) * 0x9E3779B97F4A7C15ull;
            uint64_t v = 1 + fz_test_rand_below(heavy ? 5000 : 50);
            ts += (int64_t)fz_test_rand_below(2000);
            fz_agg_in in = {key,
                            v,
                            ts - (int64_t)fz_test_rand_below(30000),
                            (int64_t)fz_test_rand_below(30),
                            120000,
                            20,
                            30000};
            fz_agg_out o1, o2;
            fz_aggs_hit(a, &in, &o1);
            fz_aggs_hit(r, &in, &o2);
            fz_test_context("round %d event %d", round, i);
            ASSERT_EQ_I64(o1.fired, o2.fired);
            ASSERT_EQ_U64(o1.distinct, o2.distinct);
            ASSERT_EQ_I64(o1.estimated, o2.estimated);
            ASSERT_EQ_I64(o1.median_duration_s, o2.median_duration_s);
            fired += (uint64_t)o1.fired;
            estimated += (uint64_t)o1.estimated;
        }
        ASSERT_EQ_I64(fz_agg_changes(a, log_change, &m), 0);
        fz_agg_changes_done(a);
        ASSERT_EQ_U64(fz_agg_changed(a), 0);
        fz_aggs_destroy(r); /* a new owner restores from the changelog */
        r = mk(32, 32, 0);
        char err[200];
        for (size_t i = 0; i < m.n; i++)
            ASSERT_EQ_I64(fz_agg_put(r, m.key[i], m.val[i], m.len[i], err, sizeof(err)), 0);
        fz_agg_stats s1, s2;
        fz_aggs_stats_get(a, &s1);
        fz_aggs_stats_get(r, &s2);
        ASSERT_EQ_U64(s1.entries, s2.entries);
    }
    ASSERT(m.puts > 0 && m.tombs > 0 && fired > 0 && estimated > 0);
    for (size_t i = 0; i < m.n; i++) free(m.val[i]);
    fz_buf_free(&b);
    fz_aggs_destroy(a);
    fz_aggs_destroy(r);
}

TEST_IMPL(agg_changelog_hostile) {
    fz_aggs *a = mk(64, 64, 1);
    fz_agg_out out;
    for (int i = 0; i < 200; i++) { /* past the bound: the record has a sketch */
        fz_agg_in in = {77, (uint64_t)i + 1, 1000 + i, 5, 600000, 1000, 0};
        fz_aggs_hit(a, &in, &out);
    }
    ASSERT(out.estimated);
    fz_buf b;
    fz_buf_init(&b, 4 * MB);
    ASSERT(fz_agg_entry_save(a, 77, &b) == FZ_OK);
    ASSERT(fz_agg_entry_save(a, 78, &b) == FZ_ERR_ARG);
    char err[200];
    fz_aggs *r = mk(64, 64, 0);
    ASSERT_EQ_I64(fz_agg_put(r, 77, b.p, b.len, err, sizeof(err)), 0);
    /* every truncation is refused, and leaves the store as it was */
    fz_aggs *t = mk(64, 64, 0);
    for (size_t n = 0; n < b.len; n += (n < 64 ? 1 : 97)) {
        char *c = malloc(n + 1);
        memcpy(c, b.p, n);
        fz_test_context("truncated to %zu of %zu", n, b.len);
        ASSERT_EQ_I64(fz_agg_put(t, 77, c, n, err, sizeof(err)), -1);
        ASSERT(err[0] != '\0');
        free(c);
    }
    fz_test_context("%s", "");
    fz_agg_stats st;
    fz_aggs_stats_get(t, &st);
    ASSERT_EQ_U64(st.entries, 0);
    /* trailing bytes, another version, key 0, more values than the bound */
    char *c = malloc(b.len + 1);
    memcpy(c, b.p, b.len);
    c[b.len] = 0;
    ASSERT_EQ_I64(fz_agg_put(t, 77, c, b.len + 1, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "trailing");
    c[0] = 9;
    ASSERT_EQ_I64(fz_agg_put(t, 77, c, b.len, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "version");
    c[0] = 1;
    ASSERT_EQ_I64(fz_agg_put(t, 0, c, b.len, err, sizeof(err)), -1);
    fz_aggs *small = mk(64, 16, 0);
    ASSERT_EQ_I64(fz_agg_put(small, 77, c, b.len, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "values");
    fz_aggs_destroy(small);
    /* a value listed twice; a value outside the window */
    size_t v0 = 2 + 5 * 8; /* the first value */
    char *d = malloc(b.len);
    memcpy(d, b.p, b.len);
    memcpy(d + v0 + 24, d + v0, 8);
    ASSERT_EQ_I64(fz_agg_put(t, 77, d, b.len, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "twice");
    memcpy(d, b.p, b.len);
    memset(d + v0 + 8, 0x7f, 8); /* after the entry's newest event */
    ASSERT_EQ_I64(fz_agg_put(t, 77, d, b.len, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "window");
    /* random damage: refused, or accepted as a well-formed entry */
    for (int i = 0; i < 3000; i++) {
        memcpy(d, b.p, b.len);
        int k = 1 + (int)fz_test_rand_below(4);
        for (int j = 0; j < k; j++) d[fz_test_rand_below(b.len)] = (char)fz_test_rand();
        if (fz_agg_put(t, 77, d, b.len, err, sizeof(err)) == 0) {
            fz_agg_in in = {77, 5, 1100, 5, 600000, 1000, 0};
            fz_aggs_hit(t, &in, &out); /* usable (ASan watches) */
        }
    }
    free(c);
    free(d);
    fz_aggs_destroy(t);
    fz_aggs_destroy(r);
    fz_aggs_destroy(a);
    fz_buf_free(&b);
}

TEST_IMPL(agg_uses_every_set) {
    /* the keys of one route partition must not crowd into few sets (the
     * campaign table once did: route_stores_use_every_set) */
    fz_aggs *one = mk(16384 / 6, 16, 0), *all = mk(16384 / 6, 16, 0);
    size_t n1 = 0, n2 = 0;
    for (uint64_t i = 1; n1 < 16384 / 6 * 6 / 10; i++) {
        uint64_t key = XXH3_64bits(&i, sizeof(i));
        fz_agg_in in = ev(key, 1, 1000, 600000, 2);
        fz_agg_out out;
        if (n2 < 16384 / 6 * 6 / 10) {
            fz_aggs_hit(all, &in, &out);
            n2++;
        }
        if (fz_route_partition(key, 6) != 3) continue;
        fz_aggs_hit(one, &in, &out);
        n1++;
    }
    fz_agg_stats s1, s2;
    fz_aggs_stats_get(one, &s1);
    fz_aggs_stats_get(all, &s2);
    fz_test_context("evicted %llu (any keys: %llu)", (unsigned long long)s1.evictions,
                    (unsigned long long)s2.evictions);
    ASSERT(s1.evictions <= 2 * s2.evictions + 16);
    fz_aggs_destroy(one);
    fz_aggs_destroy(all);
}

TEST_IMPL(aggrule_durations) {
    ASSERT_EQ_I64(fz_aggrule_duration_ms("10m"), 600000);
    ASSERT_EQ_I64(fz_aggrule_duration_ms("20s"), 20000);
    ASSERT_EQ_I64(fz_aggrule_duration_ms("1h"), 3600000);
    ASSERT_EQ_I64(fz_aggrule_duration_ms("7d"), 604800000);
    ASSERT_EQ_I64(fz_aggrule_duration_ms("500ms"), 500);
    const char *bad[] = {"", "m", "10", "10 m", "-1s", "1.5h", "10min", "99999999999999h", NULL};
    for (int i = 0; bad[i]; i++) {
        fz_test_context("'%s'", bad[i]);
        ASSERT_EQ_I64(fz_aggrule_duration_ms(bad[i]), -1);
    }
}

TEST_IMPL(route_aggregate_record) {
    static fz_route in, out;
    memset(&in, 0, sizeof(in));
    in.kind = FZ_ROUTE_AGG;
    in.src_topic = (fz_str){"calls", 5};
    in.src_partition = 2;
    in.src_offset = 77;
    in.src_seq = 18;
    in.ts_ms = 1764288000000LL;
    in.key = 0xabcdef;
    in.type = 1;
    in.duration_s = -1;
    in.agg_key_field = 1;
    in.agg_key_json = (fz_str){"\"+8613900000000\"", 16};
    in.event_id = (fz_str){"e1", 2};
    in.nfeeds = 2;
    for (int i = 0; i < 2; i++)
        in.feeds[i] = (fz_route_feed){.rule_id = {i ? "x.robocall" : "x.simbox", i ? 10u : 8u},
                                      .rule_category = {"simbox", 6},
                                      .rule_json = {"{\"id\":\"x\"}", 10},
                                      .severity = 3,
                                      .distinct_field = 2,
                                      .min_distinct = 100 + (uint32_t)i,
                                      .window_ms = 600000 * (i + 1),
                                      .median_below_ms = 20000,
                                      .value = 12345 + (uint64_t)i};
    fz_buf b;
    fz_buf_init(&b, MB);
    ASSERT(fz_route_encode(&b, &in) == FZ_OK);
    char err[256];
    ASSERT_EQ_I64(fz_route_decode(b.p, b.len, &out, err, sizeof(err)), 0);
    ASSERT(out.kind == FZ_ROUTE_AGG && out.nfeeds == 2 && out.duration_s == -1);
    ASSERT(out.agg_key_field == 1 && out.key == 0xabcdef);
    ASSERT_VIEW_EQ(out.agg_key_json.p, out.agg_key_json.n, "\"+8613900000000\"");
    ASSERT_VIEW_EQ(out.event_id.p, out.event_id.n, "e1");
    ASSERT_VIEW_EQ(out.feeds[1].rule_id.p, out.feeds[1].rule_id.n, "x.robocall");
    ASSERT(out.feeds[1].value == 12346 && out.feeds[1].window_ms == 1200000);
    ASSERT(out.feeds[1].min_distinct == 101 && out.feeds[1].median_below_ms == 20000);
    ASSERT(out.feeds[0].severity == 3 && out.feeds[0].distinct_field == 2);
    /* every truncation is refused */
    for (size_t n = 0; n < b.len; n++) {
        char *c = malloc(n + 1);
        memcpy(c, b.p, n);
        fz_test_context("truncated to %zu of %zu", n, b.len);
        ASSERT_EQ_I64(fz_route_decode(c, n, &out, err, sizeof(err)), -1);
        free(c);
    }
    fz_test_context("%s", "");
    /* an aggregate record without its rule's settings, or with too many
     * feeds, is refused */
    in.feeds[1].window_ms = 0;
    fz_buf_reset(&b);
    ASSERT(fz_route_encode(&b, &in) == FZ_OK);
    ASSERT_EQ_I64(fz_route_decode(b.p, b.len, &out, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "aggregate");
    in.feeds[1].window_ms = 1;
    in.nfeeds = 0;
    fz_buf_reset(&b);
    ASSERT(fz_route_encode(&b, &in) == FZ_OK);
    ASSERT_EQ_I64(fz_route_decode(b.p, b.len, &out, err, sizeof(err)), -1);
    size_t at = b.len - 1; /* where the feed count goes: the feeds follow it */
    fz_buf_reset(&b);
    in.nfeeds = 2;
    ASSERT(fz_route_encode(&b, &in) == FZ_OK);
    char *c = malloc(b.len);
    memcpy(c, b.p, b.len);
    ASSERT_EQ_I64((unsigned char)c[at], 2);
    c[at] = 9;
    ASSERT_EQ_I64(fz_route_decode(c, b.len, &out, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "feeds");
    free(c);
    fz_buf_free(&b);
}
