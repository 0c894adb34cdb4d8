/*
 * test-route.c - route records: a decide and a mark record round-trip
 * field for field; every truncation and random byte damage is refused or
 * decoded within bounds (never read past the record); the partitioner is
 * stable (fixed vectors) and spreads keys evenly.
 */
#include <stdlib.h>
#include <xxhash.h>

#include "campaign.h"
#include "dedup.h"
#include "route.h"
#include "test.h"

static fz_str s(const char *x) { return (fz_str){x, strlen(x)}; }

static int str_eq(fz_str a, const char *b) {
    return b ? a.n == strlen(b) && (a.n == 0 || memcmp(a.p, b, a.n) == 0) : a.p == NULL;
}

static fz_route sample_decide(void) {
    fz_route r;
    memset(&r, 0, sizeof(r));
    r.kind = FZ_ROUTE_DECIDE;
    r.src_topic = s("sms-in");
    r.src_partition = 7;
    r.src_offset = 123456789012LL;
    r.src_seq = 3;
    r.src_lineage = 0x0123456789abcdefULL;
    r.ts_ms = 1764288000123LL;
    r.key = 0xfeedfacecafebeefULL;
    r.type = 2;
    r.matched = 1;
    r.intercept = 3;
    r.late = 0;
    r.has_amount = 1;
    r.category_input = 1;
    r.amount_minor = 1000000000000000LL;
    r.currency = s("CNY");
    r.category = s("impersonate_police");
    r.recipient_hash = 11;
    r.sender_hash = 12;
    r.rule_id = s("zh.police");
    r.rule_category = s("impersonate_police");
    r.ruleset = s("rs-0011223344556677");
    r.sample = s("我是市公安局民警，请将资金转入安全账户");
    r.alert_key = s("+8613900000001");
    r.alert_head = s("{\"type\":\"alert\",\"dedup\":{\"key\":\"x\",\"count\":");
    r.alert_tail = s(",\"window_ms\":600000}}");
    r.ingest_ms = 1764288000456LL;
    r.severity = 4;
    r.primary_category = s("impersonate_police");
    return r;
}

TEST_IMPL(route_roundtrip) {
    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    fz_route in = sample_decide(), out;
    ASSERT(fz_route_encode(&b, &in) == FZ_OK);
    char err[256];
    ASSERT_EQ_I64(fz_route_decode(b.p, b.len, &out, err, sizeof(err)), 0);
    ASSERT_EQ_I64(out.kind, FZ_ROUTE_DECIDE);
    ASSERT(str_eq(out.src_topic, "sms-in"));
    ASSERT_EQ_I64(out.src_partition, 7);
    ASSERT_EQ_I64(out.src_offset, 123456789012LL);
    ASSERT_EQ_I64(out.src_seq, 3);
    ASSERT_EQ_U64(out.src_lineage, 0x0123456789abcdefULL);
    ASSERT_EQ_I64(out.ts_ms, 1764288000123LL);
    ASSERT_EQ_U64(out.key, 0xfeedfacecafebeefULL);
    ASSERT(out.type == 2 && out.matched == 1 && out.intercept == 3 && out.late == 0);
    ASSERT(out.has_amount == 1 && out.category_input == 1);
    ASSERT_EQ_I64(out.amount_minor, 1000000000000000LL);
    ASSERT(str_eq(out.currency, "CNY") && str_eq(out.category, "impersonate_police"));
    ASSERT_EQ_U64(out.recipient_hash, 11);
    ASSERT_EQ_U64(out.sender_hash, 12);
    ASSERT(str_eq(out.rule_id, "zh.police") && str_eq(out.ruleset, "rs-0011223344556677"));
    ASSERT(str_eq(out.sample, "我是市公安局民警，请将资金转入安全账户"));
    ASSERT(str_eq(out.alert_key, "+8613900000001"));
    ASSERT(str_eq(out.alert_head, "{\"type\":\"alert\",\"dedup\":{\"key\":\"x\",\"count\":"));
    ASSERT(str_eq(out.alert_tail, ",\"window_ms\":600000}}"));
    ASSERT_EQ_I64(out.ingest_ms, 1764288000456LL);
    ASSERT_EQ_I64(out.severity, 4);
    ASSERT(str_eq(out.primary_category, "impersonate_police"));

    /* a version-1 record (an instance not yet upgraded): read, without the
     * version-2 fields */
    unsigned char *v1 = malloc(b.len);
    memcpy(v1, b.p, b.len);
    v1[3] = 1;
    size_t v2_bytes = 9 + 4 + strlen("impersonate_police");
    size_t v3_bytes = 8 + 1 + 2 * 4 + 1; /* a decide record's (empty) aggregate fields */
    /* a version-2 record: read, without the aggregate fields */
    v1[3] = 2;
    ASSERT_EQ_I64(fz_route_decode(v1, b.len - v3_bytes, &out, err, sizeof(err)), 0);
    ASSERT(str_eq(out.primary_category, "impersonate_police"));
    ASSERT(out.nfeeds == 0 && out.agg_key_json.p == NULL);
    v1[3] = 1;
    ASSERT_EQ_I64(fz_route_decode(v1, b.len - v3_bytes - v2_bytes, &out, err, sizeof(err)), 0);
    ASSERT(str_eq(out.alert_tail, ",\"window_ms\":600000}}"));
    ASSERT_EQ_I64(out.ingest_ms, 0);
    ASSERT_EQ_I64(out.severity, 0);
    ASSERT(out.primary_category.p == NULL);
    /* ... but not with the version-2 fields after it */
    ASSERT_EQ_I64(fz_route_decode(v1, b.len - v3_bytes, &out, err, sizeof(err)), -1);
    free(v1);

    /* a mark: absent strings stay absent */
    fz_route m;
    memset(&m, 0, sizeof(m));
    m.kind = FZ_ROUTE_MARK;
    m.src_topic = s("t");
    m.src_offset = 5;
    m.key = 99;
    m.mark_kind = 2;
    m.ts_ms = 7;
    fz_buf_reset(&b);
    ASSERT(fz_route_encode(&b, &m) == FZ_OK);
    ASSERT_EQ_I64(fz_route_decode(b.p, b.len, &out, err, sizeof(err)), 0);
    ASSERT(out.kind == FZ_ROUTE_MARK && out.mark_kind == 2 && out.key == 99 && out.ts_ms == 7);
    ASSERT(out.alert_head.p == NULL && out.sample.p == NULL);
    fz_buf_free(&b);
}

TEST_IMPL(route_damage_refused) {
    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    fz_route in = sample_decide(), out;
    ASSERT(fz_route_encode(&b, &in) == FZ_OK);
    char err[256];
    for (size_t n = 0; n < b.len; n++) { /* every truncation */
        char *c = malloc(n + 1);         /* exact size: ASan sees any overread */
        memcpy(c, b.p, n);
        fz_test_context("truncated to %zu of %zu", n, b.len);
        ASSERT_EQ_I64(fz_route_decode(c, n, &out, err, sizeof(err)), -1);
        free(c);
    }
    fz_test_context("%s", "");
    /* random damage: decoded within bounds or refused */
    for (int i = 0; i < 20000; i++) {
        char *c = malloc(b.len);
        memcpy(c, b.p, b.len);
        int k = 1 + (int)fz_test_rand_below(4);
        for (int j = 0; j < k; j++) c[fz_test_rand_below(b.len)] = (char)fz_test_rand();
        if (fz_route_decode(c, b.len, &out, err, sizeof(err)) == 0) {
            const fz_str *v[] = {&out.src_topic, &out.currency,   &out.category,
                                 &out.rule_id,   &out.ruleset,    &out.sample,
                                 &out.alert_key, &out.alert_head, &out.alert_tail};
            for (size_t x = 0; x < FZ_ARRAY_LEN(v); x++)
                if (v[x]->p) ASSERT(v[x]->p >= c && v[x]->p + v[x]->n <= c + b.len);
        } else {
            ASSERT(err[0] != '\0');
        }
        free(c);
    }
    ASSERT_EQ_I64(fz_route_decode("FZR\x04", 4, &out, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "version");
    ASSERT_EQ_I64(fz_route_decode("{\"id\":1}", 8, &out, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "not a route record");
    fz_buf_free(&b);
}

TEST_IMPL(route_partitioner) {
    /* fixed vectors: a change here strands every changelog written before */
    ASSERT_EQ_I64(fz_route_partition(0, 12), 0);
    ASSERT_EQ_I64(fz_route_partition(1, 12), 7);
    ASSERT_EQ_I64(fz_route_partition(0xfeedfacecafebeefULL, 12), 10);
    ASSERT_EQ_I64(fz_route_partition(UINT64_MAX, 1), 0);
    enum { N = 16, K = 160000 };
    int count[N] = {0};
    for (int i = 0; i < K; i++) {
        int32_t p = fz_route_partition(fz_test_rand(), N);
        ASSERT(p >= 0 && p < N);
        count[p]++;
    }
    for (int p = 0; p < N; p++) ASSERT(count[p] > K / N * 9 / 10 && count[p] < K / N * 11 / 10);
}

/*
 * A decide task's stores hold only the keys of its route partition, so
 * their set index must not use the bits the partitioner uses: when the
 * campaign table picked its set from the same bits of the same hash, a
 * task's campaigns fell into 1/N of its sets, and with 6 partitions a
 * table sized for 2,731 campaigns evicted live ones at a few hundred (the
 * chaos runner saw a campaign alert twice). Filled to 60 % with the keys of
 * one partition of 6 (and of 16), a store may evict no more than when
 * filled with as many keys of every partition (8-way sets overflow now and
 * then at that load).
 */
static void fill(int np, int part, size_t cap, uint64_t *camp_ev, uint64_t *dedup_ev) {
    char err[256];
    fz_campaigns *c = fz_campaigns_new(cap, 3600000, 0, 1, err, sizeof(err));
    fz_dedup *d = fz_dedup_new(cap, 3600000, 1, err, sizeof(err));
    ASSERT(c && d);
    static fz_campaign closed, summary;
    size_t n = 0;
    for (uint64_t i = 1; n < cap * 6 / 10; i++) {
        uint64_t key = XXH3_64bits(&i, sizeof(i));
        if (part >= 0 && fz_route_partition(key, np) != part) continue;
        fz_campaign_event ev = {.key = key, .ts_ms = 1000, .sample = "", .sample_len = 0};
        fz_campaign_result r;
        fz_campaigns_hit(c, &ev, &r, &closed, &summary);
        fz_dedup_hit(d, key, 1000);
        n++;
    }
    fz_campaigns_stats cs;
    fz_dedup_stats ds;
    fz_campaigns_stats_get(c, &cs);
    fz_dedup_stats_get(d, &ds);
    *camp_ev = cs.evictions;
    *dedup_ev = ds.evictions;
    fz_campaigns_destroy(c);
    fz_dedup_destroy(d);
}

TEST_IMPL(route_stores_use_every_set) {
    for (int np = 6; np <= 16; np += 10) {
        size_t cap = 16384 / (size_t)np;
        uint64_t c_one, d_one, c_all, d_all;
        fill(np, np / 2, cap, &c_one, &d_one);
        fill(np, -1, cap, &c_all, &d_all);
        fz_test_context("%d partitions: campaigns evicted %llu (any keys: %llu), dedup %llu (%llu)",
                        np, (unsigned long long)c_one, (unsigned long long)c_all,
                        (unsigned long long)d_one, (unsigned long long)d_all);
        ASSERT(c_one <= 2 * c_all + 16);
        ASSERT(d_one <= 2 * d_all + 16);
    }
}
