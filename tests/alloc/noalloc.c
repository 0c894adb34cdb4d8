/*
 * noalloc.c - the hot path does not allocate.
 *
 * Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc so every
 * allocation made by fanzha's own code is counted. After a warm-up the
 * per-event work of a worker - decode, match, dedup, alert / dead-letter /
 * verdict encoding - over valid, escaped, matching and malformed events
 * must make no allocation at all, nor may the aggregate store's windows
 * (state/agg.h) as keys come, grow past the bound into a sketch and go,
 * also with the privacy options on (numbers masked and texts dropped, then
 * numbers hashed). Run once with rules that scan the skeleton view too,
 * once with rules that scan every view of the url_* fields, and once with
 * the shipped model rules, whose model terms score texts
 * (tests/CMakeLists.txt): when the ruleset has models, scoring must have
 * happened too.
 *
 * usage: fanzha_noalloc RULES_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "alert.h"
#include "campaign.h"
#include "privacy.h"
#include "watch.h"
#include "pipeline.h"
#include "stores.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

static size_t g_allocs;

void *__wrap_malloc(size_t n) {
    g_allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m) {
    g_allocs++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n) {
    g_allocs++;
    return __real_realloc(p, n);
}

static const char *const events[] = {
    "{\"id\":\"a\",\"ts\":1764288000000,\"type\":\"sms\",\"from\":\"+8613800000001\","
    "\"to\":\"+8613900000001\",\"text\":\"您的账户已被冻结，请回电\"}",
    "{\"id\":\"b\",\"ts\":1764288000001,\"type\":\"sms\",\"text\":\"\\u60a8\\u7684\\u8d26\\u6237"
    "\\u5df2\\u88ab\\u51bb\\u7ed3 \\\"quoted\\\"\"}",
    "{\"id\":\"c\",\"ts\":1764288000002,\"type\":\"call\",\"from\":\"+8617000123456\","
    "\"to\":\"+8613900000002\",\"duration_s\":12,\"extra\":{\"x\":[1,2,3]}}",
    "{\"id\":\"d\",\"ts\":1764288000003,\"type\":\"transfer\",\"from\":\"+1\",\"to\":\"acct\","
    "\"amount\":\"1234.56\",\"currency\":\"CNY\"}",
    "{\"id\":\"e\",\"ts\":1764288000004,\"type\":\"sms\",\"text\":\"URGENT claim your prize\"}",
    "{\"id\":\"f\",\"ts\":\"bad\",\"type\":\"sms\",\"text\":\"x\"}",
    "not json at all",
    "{\"id\":\"g\",\"ts\":1764288000005,\"type\":\"sms\",\"text\":\"\xff\"}",
    "{\"id\":\"h\",\"ts\":1764288000006,\"type\":\"report\",\"from\":\"+2\",\"amount\":99}",
    /* look-alikes for the skeleton view: Cyrillic, a capital I, digits, a ligature */
    "{\"id\":\"i\",\"ts\":1764288000007,\"type\":\"sms\",\"text\":"
    "\"\xd1\x80\xd0\xb0\xd1\x83\xd1\x80"
    "\xd0\xb0l PayPaI acc0unt BL0CKED \xef\xac\x81x \xc7\x86 95588 \xe5\xbe\xae\xe4\xbf\xa1\"}",
    /* links for the url_* fields: IDN both ways, IPs in several forms,
     * userinfo, ports, a shortener, an e-mail address, more links than
     * are analysed */
    "{\"id\":\"j\",\"ts\":1764288000008,\"type\":\"sms\",\"text\":\"Verify: "
    "http://p\xd0\xb0ypal.com/ "
    "https://xn--pypal-4ve.com:8443/a http://u@3232235777/ http://[2001:db8::1]/ bit.ly/x "
    "me@paypal.com www.paypal.com \xe8\xaf\xb7\xe7\x99\xbb\xe5\xbd\x95icbc-vip.cc/a\"}",
    "{\"id\":\"k\",\"ts\":1764288000009,\"type\":\"sms\",\"text\":\"a.cn b.cn c.cn d.cn e.cn f.cn "
    "g.cn "
    "h.cn i.cn j.cn k.cn l.cn m.cn n.cn o.cn p.cn q.cn r.cn s.cn t.cn u.cn v.cn w.cn x.cn y.cn "
    "z.cn aa.cn bb.cn cc.cn dd.cn ee.cn ff.cn gg.cn hh.cn account suspended\"}",
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s RULES_DIR\n", argv[0]);
        return 2;
    }
    char err[256];
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(argv[1], NULL, &diags);
    fz_rule_diags_free(&diags);
    fz_pipeline *p = fz_pipeline_new(65536, 0, err, sizeof(err));
    /* small on purpose: campaigns close by window and by eviction too */
    fz_stores st;
    fz_stores_config sc = {1024, 64, 600000, 60000, 0, 0, 0};
    int st_ok = fz_stores_init(&st, &sc, 1, err, sizeof(err)) == 0;
    static fz_campaign closed, summary;
    fz_watch *wl = fz_watch_new(4096, 3600000, err, sizeof(err));
    if (!rs || !p || !st_ok || !wl || fz_pipeline_bind(p, rs, err, sizeof(err))) {
        fprintf(stderr, "FAIL: set-up: %s\n", err);
        return 1;
    }
    fz_buf out;
    fz_buf_init(&out, 1 << 20);
    fz_result r;
    size_t kinds[4] = {0};
    /* rounds: 0 warm-up, 1 as it is, 2 numbers masked and texts dropped, 3
     * numbers hashed */
    fz_privacy pv;
    memset(&pv, 0, sizeof(pv));
    memcpy(pv.key, "0123456789abcdef", 16);
    pv.key_len = 16;
    for (int round = 0; round < 4; round++) {
        if (round == 1) g_allocs = 0; /* round 0 is the warm-up */
        if (round >= 2) {
            pv.numbers = round == 2 ? FZ_NUMBERS_MASK : FZ_NUMBERS_HASH;
            pv.drop_texts = round == 2;
            fz_privacy_set(&pv);
        }
        for (int i = 0; i < 20000; i++) {
            const char *msg = events[i % (sizeof(events) / sizeof(events[0]))];
            fz_source src = {.topic = "events", .partition = 1, .offset = i};
            fz_pipeline_reset_arena(p);
            fz_pipeline_scan(p, msg, strlen(msg), &r);
            r.ev.ts_ms += ((int64_t)round * 20000 + i) * 1000; /* through dedup windows */
            fz_pipeline_intercept(p, wl, &r);
            fz_pipeline_decide(p, &st, &r, &closed, &summary);
            if (i % 100 == 99) fz_dedup_changes_done(st.dedup); /* as a commit does */
            if (i % 100 == 99) fz_campaigns_changes_done(st.campaigns);
            fz_buf_reset(&out);
            if (r.campaign_closed) fz_campaign_encode(&out, &closed, r.campaign_closed_state, 1);
            if (r.campaign_summary) fz_campaign_encode(&out, &summary, FZ_CAMPAIGN_OPEN, 1);
            if (r.verdict == FZ_VERDICT_ALERT) fz_alert_encode(&out, rs, &r, 600000, &src);
            if (r.verdict == FZ_VERDICT_INVALID)
                fz_deadletter_encode(&out, &r, msg, strlen(msg), &src, 1);
            fz_verdict_encode(&out, rs, &r, &src);
            if (round == 1) kinds[r.verdict]++;
        }
    }
    /* aggregate windows: a small store (evictions), a heavy key per round
     * past the bound (a sketch) and light keys; after the warm-up round
     * windows reuse what earlier ones gave back */
    size_t main_allocs = g_allocs; /* the per-event path's, judged below */
    fz_aggs *ag = fz_aggs_new(64, 64, (size_t)256 << 20, 1, err, sizeof(err));
    if (!ag) {
        fprintf(stderr, "FAIL: set-up: %s\n", err);
        return 1;
    }
    size_t agg_allocs = 0, fired = 0;
    for (int round = 0; round < 4; round++) {
        size_t before = g_allocs;
        int64_t t0 = (int64_t)round * 10 * 600000;
        for (int i = 0; i < 5000; i++) {
            uint64_t key = (i % 3 == 0 ? 1 : 2 + (uint64_t)(i % 300)) * 0x9E3779B97F4A7C15ull;
            fz_agg_in in = {key, (uint64_t)i + 1, t0 + i * 10, 15, 600000, 500, 20000};
            fz_agg_out o;
            fz_aggs_hit(ag, &in, &o);
            fired += (size_t)o.fired;
            if (i % 100 == 99) fz_agg_changes_done(ag);
        }
        if (round > 0) agg_allocs += g_allocs - before;
    }
    fz_aggs_destroy(ag);
    printf("aggregates: %zu alerts; allocations after warm-up: %zu\n", fired, agg_allocs);
    g_allocs = main_allocs;
    if (agg_allocs || fired != 4) {
        fprintf(stderr, "FAIL: the aggregate store allocated after its warm-up or did not alert\n");
        g_allocs += agg_allocs + 1;
    }
    printf("verdicts: clean=%zu alert=%zu suppressed=%zu invalid=%zu; allocations after "
           "warm-up: %zu\n",
           kinds[0], kinds[1], kinds[2], kinds[3], g_allocs);
    uint64_t scored = fz_matcher_models_scored(fz_pipeline_matcher(p));
    printf("model scorings: %llu (the ruleset names %zu model file(s))\n",
           (unsigned long long)scored, fz_ruleset_model_count(rs));
    int ok = g_allocs == 0 && kinds[0] && kinds[1] && kinds[2] && kinds[3] &&
             (fz_ruleset_model_count(rs) == 0 || scored > 0);
    if (!ok) fprintf(stderr, "FAIL: the hot path allocated or a verdict kind was not exercised\n");
    fz_buf_free(&out);
    fz_stores_destroy(&st);
    fz_watch_destroy(wl);
    fz_pipeline_destroy(p);
    fz_ruleset_unref(rs);
    return ok ? 0 : 1;
}
