/*
 * test-campaign.c - campaign keys and the HyperLogLog sketch.
 *
 * Keys: per-recipient variants of one template (numbers, links, phone
 * numbers, spacing, full-width, case) share a key; different templates do
 * not; each mask can be switched off. HLL: estimates within 3 standard
 * errors of the exact count from 1 to 200,000 distinct items, duplicates
 * do not move the estimate, and merging equals adding the union.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "campaign.h"
#include "common.h"
#include "hll.h"
#include "norm.h"
#include "test.h"

static uint64_t key(const char *t, unsigned masks) {
    static char a[4096], b[4096];
    char err[256];
    if (fz_norm_init(err, sizeof(err)) != 0) fz_test_fail(__FILE__, __LINE__, "%s", err);
    return fz_campaign_key(t, strlen(t), masks, a, b);
}

static const char *form(const char *t, unsigned masks) {
    static char a[4096], b[4096], show[4096];
    size_t n = fz_campaign_form(t, strlen(t), masks, a, b), o = 0;
    for (size_t i = 0; i < n; i++) { /* placeholders made visible */
        if (b[i] == FZ_MASK_CHAR_URL)
            o += (size_t)sprintf(show + o, "<U>");
        else if (b[i] == FZ_MASK_CHAR_PHONE)
            o += (size_t)sprintf(show + o, "<P>");
        else if (b[i] == FZ_MASK_CHAR_DIGITS)
            o += (size_t)sprintf(show + o, "<D>");
        else
            show[o++] = b[i];
    }
    show[o] = '\0';
    return show;
}

TEST_IMPL(campaign_key_variants) {
    key("", FZ_MASK_ALL); /* init */
    static const char *const same[] = {
        "【工商银行】您的账户6222020012345678异常，请登录 http://icbc-a1.top/x?id=77 或致电 "
        "400-123-4567",
        "【工商银行】您的账户 6222 0200 9999 0000 异常，请登录 www.icbc-zz.cc 或致电 +86 138 0013 "
        "8000",
        "【工商银行】您的账户6222020000000001异常,请登录 icbc-b.vip/pay 或致电 95588123",
        "【工商银行】您的账户６２２２０２００１２３４５６７８异常，请登录 HTTP://ICBC.TOP 或致电 "
        "4001234567",
    };
    uint64_t k0 = key(same[0], FZ_MASK_ALL);
    for (size_t i = 1; i < FZ_ARRAY_LEN(same); i++) {
        fz_test_context("variant %zu: %s -> %s", i, same[i], form(same[i], FZ_MASK_ALL));
        ASSERT_EQ_U64(key(same[i], FZ_MASK_ALL), k0);
    }
    fz_test_context("%s", "");
    /* from the scanner's normalised view: the same key */
    for (size_t i = 0; i < FZ_ARRAY_LEN(same); i++) {
        static char nv[4096], out[4096];
        size_t m = fz_norm_text(same[i], strlen(same[i]), nv);
        ASSERT_EQ_U64(fz_campaign_key_normalised(nv, m, FZ_MASK_ALL, out), k0);
    }
    /* another template is another campaign */
    ASSERT(key("【建设银行】您的积分即将清零，请登录 http://x.top 兑换", FZ_MASK_ALL) != k0);
    /* short numbers are digits, long ones phones */
    ASSERT_STR_EQ(
        form("Order 12345 ships; call 0800 123 4567 or visit Shop.Example.com/t/9", FZ_MASK_ALL),
        "order<D>ships;call<P>orvisit<U>");
    ASSERT_STR_EQ(form("ratio 1.5 and v2.0", FZ_MASK_ALL), "ratio<D>.<D>andv<D>.<D>");
    /* links as the url fields read them (fz_url_span): userinfo, IPv6,
     * letters outside ASCII are part of the link */
    ASSERT_STR_EQ(form("see http://paypal.com@evil.com/x now", FZ_MASK_ALL), "see<U>now");
    ASSERT_STR_EQ(form("go http://[2001:db8::1]:8080/x", FZ_MASK_ALL), "go<U>");
    ASSERT_STR_EQ(form("visit p\xd0\xb0ypal.com ok", FZ_MASK_ALL), "visit<U>ok");
    /* each mask can be switched off */
    ASSERT_STR_EQ(form("call 0800 123 4567 at x.cn", FZ_MASK_URLS), "call08001234567at<U>");
    ASSERT_STR_EQ(form("call 0800 123 4567 at x.cn", FZ_MASK_PHONES), "call<P>atx.cn");
    ASSERT_STR_EQ(form("code 123456 at x.cn", FZ_MASK_DIGITS), "code<D>atx.cn");
    ASSERT_STR_EQ(form("code 123456", 0), "code123456");
    ASSERT(key("pay at a.cn", FZ_MASK_DIGITS) != key("pay at b.cn", FZ_MASK_DIGITS));
    ASSERT_EQ_U64(key("pay at a.cn", FZ_MASK_URLS), key("pay at b.cn", FZ_MASK_URLS));
    ASSERT_EQ_I64(fz_campaign_mask_parse("phones"), FZ_MASK_PHONES);
    ASSERT_EQ_I64(fz_campaign_mask_parse("nope"), -1);
}

TEST_IMPL(hll_accuracy) {
    enum { P = 10 };
    uint8_t regs[1 << P];
    const double se = 1.04 / sqrt((double)(1 << P));
    static const unsigned counts[] = {1, 2, 10, 100, 1000, 5000, 20000, 200000};
    for (size_t c = 0; c < FZ_ARRAY_LEN(counts); c++) {
        fz_hll_init(regs, P);
        uint64_t base = fz_test_rand();
        for (unsigned i = 0; i < counts[c]; i++) {
            uint64_t item = base + i;
            fz_hll_add(regs, P, XXH3_64bits(&item, sizeof(item)));
            if (i % 3 == 0) fz_hll_add(regs, P, XXH3_64bits(&item, sizeof(item))); /* repeats */
        }
        double e = fz_hll_estimate(regs, P), n = counts[c];
        fz_test_context("n=%u estimate=%.1f", counts[c], e);
        ASSERT(fabs(e - n) <= fmax(3 * se * n, 1.0));
    }
}

TEST_IMPL(hll_merge) {
    enum { P = 8 };
    uint8_t a[1 << P], b[1 << P], u[1 << P];
    fz_hll_init(a, P);
    fz_hll_init(b, P);
    fz_hll_init(u, P);
    for (uint64_t i = 0; i < 3000; i++) {
        uint64_t h = XXH3_64bits(&i, sizeof(i));
        fz_hll_add(i < 2000 ? a : b, P, h); /* overlapping halves: 0..1999 and 2000..2999 */
        if (i >= 1000 && i < 2000) fz_hll_add(b, P, h);
        fz_hll_add(u, P, h);
    }
    fz_hll_merge(a, b, P);
    ASSERT(memcmp(a, u, sizeof(a)) == 0);
    fz_hll_init(a, P);
    ASSERT(fz_hll_estimate(a, P) == 0.0);
}

static uint64_t h64(uint64_t x) { return XXH3_64bits(&x, sizeof(x)); }

static fz_campaigns *table(size_t n, size_t ids, int64_t window_ms, int64_t summary_ms) {
    char err[256];
    (void)ids; /* campaigns no longer remember event ids */
    fz_campaigns *c = fz_campaigns_new(n, window_ms, summary_ms, 0, err, sizeof(err));
    if (!c) fz_test_fail(__FILE__, __LINE__, "%s", err);
    return c;
}

static fz_campaign g_closed, g_summary;

static fz_campaign_result hit(fz_campaigns *c, uint64_t key, uint64_t id, int64_t ts, uint64_t rh,
                              uint64_t sh, const char *sample) {
    (void)id; /* the event id does not take part (test campaigns_id_reuse_and_time) */
    fz_campaign_event ev = {key,
                            ts,
                            rh,
                            sh,
                            FZ_STR_LIT("r.one"),
                            FZ_STR_LIT("cat"),
                            FZ_STR_LIT("rs-1"),
                            sample,
                            strlen(sample)};
    fz_campaign_result r;
    fz_campaigns_hit(c, &ev, &r, &g_closed, &g_summary);
    return r;
}

#define DAY_MS (24 * 3600 * 1000LL)

static void count_drained(void *ctx, const fz_campaign *cp) {
    (void)cp;
    (*(uint64_t *)ctx)++;
}

/* Against a naive per-key record, with room for every key. */
TEST_IMPL(campaigns_oracle) {
    enum { K = 500, N = 50000 };
    static struct {
        uint64_t count;
        int64_t first, last;
        int seen;
    } want[K];
    memset(want, 0, sizeof(want));
    fz_campaigns *c = table(1 << 16, 1 << 20, DAY_MS, 0);
    for (uint64_t i = 0; i < N; i++) {
        unsigned k = (unsigned)fz_test_rand_below(K);
        int64_t ts = 1764288000000 + (int64_t)i * 10; /* in order, within one window */
        fz_campaign_result r = hit(c, h64(k), h64(1000000 + i), ts, h64(i), h64(k), "sample");
        ASSERT_EQ_I64(r.outcome, want[k].seen ? FZ_CAMPAIGN_REPEAT : FZ_CAMPAIGN_NEW);
        ASSERT_EQ_I64(r.closed, 0);
        if (!want[k].seen) want[k].first = ts;
        want[k].last = ts;
        want[k].seen = 1;
        want[k].count++;
        ASSERT_EQ_U64(r.count, want[k].count);
    }
    fz_campaign got;
    for (unsigned k = 0; k < K; k++) {
        if (!want[k].seen) continue;
        ASSERT(fz_campaigns_get(c, h64(k), &got) == 0);
        ASSERT_EQ_U64(got.count, want[k].count);
        ASSERT_EQ_I64(got.first_ms, want[k].first);
        ASSERT_EQ_I64(got.last_ms, want[k].last);
        ASSERT_STR_EQ(got.rule_id, "r.one");
        ASSERT_STR_EQ(got.category, "cat");
        ASSERT_VIEW_EQ(got.sample, got.sample_len, "sample");
    }
    fz_campaigns_stats st;
    fz_campaigns_stats_get(c, &st);
    ASSERT_EQ_U64(st.evictions, 0);
    fz_campaigns_destroy(c);
}

/* 5,000 per-recipient variants of one template: one campaign, count 5,000,
 * recipients within the sketch's error. */
TEST_IMPL(campaigns_one_template) {
    fz_campaigns *c = table(4096, 1 << 16, DAY_MS, 0);
    char a[512], b[512], text[256];
    key("", FZ_MASK_ALL); /* norm init */
    uint64_t k0 = 0;
    int news = 0;
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(
            text, sizeof(text),
            "【顺丰】您的快递%08d因地址不详被退回，请联系 400-%03d-%04d 或访问 sf-%d.top 办理",
            i * 7919, i % 1000, i, i);
        uint64_t k = fz_campaign_key(text, (size_t)n, FZ_MASK_ALL, a, b);
        if (i == 0) k0 = k;
        ASSERT_EQ_U64(k, k0);
        news += hit(c, k, h64((uint64_t)i), 1764288000000 + i, h64(8613900000000ull + (uint64_t)i),
                    h64(8617000000000ull + (uint64_t)(i % 50)), text)
                    .outcome == FZ_CAMPAIGN_NEW;
    }
    ASSERT_EQ_I64(news, 1);
    fz_campaign got;
    ASSERT(fz_campaigns_get(c, k0, &got) == 0);
    ASSERT_EQ_U64(got.count, 5000);
    double r = fz_hll_estimate(got.recipients, FZ_CAMPAIGN_P_RECIPIENTS);
    double s = fz_hll_estimate(got.senders, FZ_CAMPAIGN_P_SENDERS);
    fz_test_context("recipients %.0f senders %.1f", r, s);
    ASSERT(fabs(r - 5000) <= 3 * 0.0325 * 5000);
    ASSERT(fabs(s - 50) <= 3 * 0.13 * 50);
    ASSERT_EQ_I64(got.first_ms, 1764288000000);
    ASSERT_EQ_I64(got.last_ms, 1764288000000 + 4999);
    fz_campaigns_destroy(c);
}

/* A full table evicts the least recently seen campaign and hands it back. */
TEST_IMPL(campaigns_eviction) {
    fz_campaigns *c = table(8, 1024, DAY_MS, 0); /* one set of 8 */
    for (uint64_t k = 1; k <= 8; k++)
        ASSERT_EQ_I64(hit(c, h64(k), h64(100 + k), (int64_t)(1000 * k), 0, 0, "").outcome,
                      FZ_CAMPAIGN_NEW);
    hit(c, h64(1), h64(200), 9000, 0, 0, ""); /* campaign 2 is now the least recent */
    fz_campaign_result r = hit(c, h64(9), h64(300), 10000, 0, 0, "");
    ASSERT_EQ_I64(r.outcome, FZ_CAMPAIGN_NEW);
    ASSERT_EQ_I64(r.closed, 1);
    ASSERT_EQ_I64(r.closed_state, FZ_CAMPAIGN_CLOSED_EVICTED);
    ASSERT_EQ_U64(g_closed.key, h64(2));
    ASSERT_EQ_U64(g_closed.count, 1);
    fz_campaign got;
    ASSERT(fz_campaigns_get(c, h64(2), &got) == -1);
    ASSERT(fz_campaigns_get(c, h64(1), &got) == 0 && got.count == 2);
    fz_campaigns_stats st;
    fz_campaigns_stats_get(c, &st);
    ASSERT_EQ_U64(st.evictions, 1);
    ASSERT_EQ_U64(st.campaigns, 8);
    fz_campaigns_destroy(c);
}

/* The window closes a campaign (the next event alerts again, the closed
 * one is handed back); periodic summaries come every summary_ms of event
 * time; draining hands back what is left. */
TEST_IMPL(campaigns_window_and_summaries) {
    fz_campaigns *c = table(4096, 4096, 600000, 60000);
    uint64_t k = h64(42);
    ASSERT_EQ_I64(hit(c, k, h64(1), 0, 0, 0, "").outcome, FZ_CAMPAIGN_NEW);
    fz_campaign_result r = hit(c, k, h64(2), 30000, 0, 0, "");
    ASSERT(r.outcome == FZ_CAMPAIGN_REPEAT && !r.summary && r.count == 2);
    r = hit(c, k, h64(3), 60000, 0, 0, ""); /* a minute after the start */
    ASSERT(r.summary && g_summary.count == 3 && g_summary.summary_count == 3);
    r = hit(c, k, h64(4), 100000, 0, 0, "");
    ASSERT(!r.summary);
    r = hit(c, k, h64(5), 120000, 0, 0, "");
    ASSERT(r.summary && g_summary.count == 5);
    r = hit(c, k, h64(6), 600000, 0, 0, ""); /* the window (from the first event) is over */
    ASSERT_EQ_I64(r.outcome, FZ_CAMPAIGN_NEW);
    ASSERT(r.closed && r.closed_state == FZ_CAMPAIGN_CLOSED_WINDOW);
    ASSERT_EQ_U64(g_closed.count, 5);
    ASSERT_EQ_I64(g_closed.last_ms, 120000);
    ASSERT_EQ_U64(r.count, 1);
    hit(c, h64(43), h64(7), 600001, 0, 0, "");
    uint64_t drained = 0;
    fz_campaigns_drain(c, count_drained, &drained);
    ASSERT_EQ_U64(drained, 2);
    fz_campaign got;
    ASSERT(fz_campaigns_get(c, k, &got) == -1);
    fz_campaigns_destroy(c);
}

/* The changelog: the changes a tracking table hands out, written through
 * the entry codec into a naive key -> bytes map and read back into a fresh
 * table, give a table that answers exactly like the original - through
 * evictions (a small table), window closes and periodic commits. */
typedef struct clog {
    uint64_t keys[4096];
    char vals[4096][2048];
    size_t lens[4096];
    int n;
    uint64_t puts, dels;
} clog;

static int clog_apply(void *ctx, uint64_t key, const fz_campaign *cp) {
    clog *l = ctx;
    int i = 0;
    while (i < l->n && l->keys[i] != key) i++;
    if (!cp) { /* tombstone */
        ASSERT(i < l->n);
        l->keys[i] = l->keys[--l->n];
        memcpy(l->vals[i], l->vals[l->n], l->lens[l->n]);
        l->lens[i] = l->lens[l->n];
        l->dels++;
        return 0;
    }
    if (i == l->n) l->keys[l->n++] = key;
    fz_buf b;
    fz_buf_init(&b, 4096);
    ASSERT(fz_campaign_save(cp, &b) == FZ_OK);
    memcpy(l->vals[i], b.p, b.len);
    l->lens[i] = b.len;
    fz_buf_free(&b);
    l->puts++;
    return 0;
}

TEST_IMPL(campaigns_changelog_roundtrip) {
    static clog l;
    memset(&l, 0, sizeof(l));
    char err[256];
    fz_campaigns *c = fz_campaigns_new(64, 600000, 60000, 1, err, sizeof(err));
    ASSERT(c);
    int64_t ts = 1764288000000;
    for (int i = 0; i < 20000; i++) {
        ts += (int64_t)fz_test_rand_below(5000);
        uint64_t k = h64(fz_test_rand_below(300));
        char sample[32];
        snprintf(sample, sizeof(sample), "t%d", i);
        hit(c, k, 0, ts, h64((uint64_t)i), h64((uint64_t)i % 7), sample);
        if (fz_test_rand_below(50) == 0) { /* a commit */
            ASSERT(fz_campaigns_changes(c, clog_apply, &l) == 0);
            fz_campaigns_changes_done(c);
            ASSERT_EQ_U64(fz_campaigns_changed(c), 0);
        }
    }
    ASSERT(fz_campaigns_changes(c, clog_apply, &l) == 0);
    fz_campaigns_changes_done(c);
    ASSERT(l.dels > 0 && l.puts > l.dels); /* evictions left tombstones */
    fz_campaigns *r = fz_campaigns_new(64, 600000, 60000, 1, err, sizeof(err));
    ASSERT(r);
    for (int i = 0; i < l.n; i++) {
        fz_campaign cp;
        ASSERT_EQ_U64(fz_campaign_load(&cp, l.vals[i], l.lens[i]), l.lens[i]);
        ASSERT_EQ_U64(cp.key, l.keys[i]);
        fz_campaigns_put(r, &cp);
    }
    ASSERT_EQ_U64(fz_campaigns_changed(r), 0); /* restoring is not a change */
    fz_campaigns_stats sa, sb;
    fz_campaigns_stats_get(c, &sa);
    fz_campaigns_stats_get(r, &sb);
    ASSERT_EQ_U64(sa.campaigns, sb.campaigns);
    ASSERT_EQ_U64(sa.campaigns, (uint64_t)l.n);
    for (uint64_t k = 0; k < 300; k++) {
        fz_campaign a, b;
        int ia = fz_campaigns_get(c, h64(k), &a), ib = fz_campaigns_get(r, h64(k), &b);
        ASSERT_EQ_I64(ia, ib);
        if (ia) continue;
        ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
    }
    /* both go on alike */
    for (int i = 0; i < 5000; i++) {
        ts += (int64_t)fz_test_rand_below(5000);
        uint64_t k = h64(fz_test_rand_below(300));
        fz_campaign_result x = hit(c, k, 0, ts, 1, 1, "x"), y = hit(r, k, 0, ts, 1, 1, "x");
        ASSERT_EQ_I64(x.outcome, y.outcome);
        ASSERT_EQ_U64(x.count, y.count);
    }
    /* damaged bytes are refused, never half-loaded */
    fz_campaign cp;
    ASSERT_EQ_U64(fz_campaign_load(&cp, l.vals[0], l.lens[0] - 1), 0);
    char bad[2048];
    memcpy(bad, l.vals[0], l.lens[0]);
    bad[0] = 99; /* another codec version */
    ASSERT_EQ_U64(fz_campaign_load(&cp, bad, l.lens[0]), 0);
    fz_campaigns_destroy(c);
    fz_campaigns_destroy(r);
}

/* Two different fraud texts that reuse one event id (ids from different
 * SMSCs collide) are two campaigns: each alerts. A campaign dated in the
 * future does not swallow the present's events. */
TEST_IMPL(campaigns_id_reuse_and_time) {
    fz_campaigns *c = table(4096, 4096, 600000, 0);
    ASSERT_EQ_I64(hit(c, h64(1), h64(500), 1000, 0, 0, "a").outcome, FZ_CAMPAIGN_NEW);
    ASSERT_EQ_I64(hit(c, h64(2), h64(500), 2000, 0, 0, "b").outcome, FZ_CAMPAIGN_NEW);
    ASSERT_EQ_I64(hit(c, h64(3), h64(501), 4102444800000LL, 0, 0, "c").outcome, FZ_CAMPAIGN_NEW);
    fz_campaign_result r = hit(c, h64(3), h64(502), 1796588937000LL, 0, 0, "c");
    ASSERT_EQ_I64(r.outcome, FZ_CAMPAIGN_NEW); /* 2026 is not inside a 2100 campaign */
    ASSERT_EQ_I64(hit(c, h64(4), h64(503), INT64_MAX, 0, 0, "d").outcome, FZ_CAMPAIGN_NEW);
    ASSERT_EQ_I64(hit(c, h64(4), h64(504), 0, 0, 0, "d").outcome, FZ_CAMPAIGN_NEW);
    fz_campaigns_destroy(c);
}
