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
    /* another template is another campaign */
    ASSERT(key("【建设银行】您的积分即将清零，请登录 http://x.top 兑换", FZ_MASK_ALL) != k0);
    /* short numbers are digits, long ones phones */
    ASSERT_STR_EQ(
        form("Order 12345 ships; call 0800 123 4567 or visit Shop.Example.com/t/9", FZ_MASK_ALL),
        "order<D>ships;call<P>orvisit<U>");
    ASSERT_STR_EQ(form("ratio 1.5 and v2.0", FZ_MASK_ALL), "ratio<D>.<D>andv<D>.<D>");
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
