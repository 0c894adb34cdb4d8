/*
 * test-pipeline.c - the dedup key (fz_pipeline_key): sms texts that differ
 * only in whitespace (ASCII and Unicode spaces), case, width, traditional
 * characters or per-recipient numbers and links share a (campaign) key,
 * real differences do not; call keys follow from+to; transfer and report
 * keys follow their identity fields; event types never share keys. And
 * the pipeline's count of disguised texts (fanzha_events_disguised_total).
 */
#include "campaign.h"
#include "norm.h"
#include "pipeline.h"
#include "test.h"

static fz_event ev_of(fz_event_type type, const char *text, const char *from, const char *to) {
    fz_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.duration_s = -1;
    ev.currency = FZ_STR_LIT("CNY");
    if (text) ev.fields[FZ_FIELD_TEXT] = (fz_str){text, strlen(text)};
    if (from) ev.fields[FZ_FIELD_FROM] = (fz_str){from, strlen(from)};
    if (to) ev.fields[FZ_FIELD_TO] = (fz_str){to, strlen(to)};
    return ev;
}

static uint64_t key_of(fz_event ev) {
    fz_buf b;
    fz_buf_init(&b, 1 << 16);
    uint64_t k = fz_pipeline_key(&b, &ev, FZ_MASK_ALL);
    ASSERT(!b.failed);
    fz_buf_free(&b);
    return k;
}

static uint64_t sms_key(const char *text) {
    char err[256];
    if (fz_norm_init(err, sizeof(err)) != 0) fz_test_fail(__FILE__, __LINE__, "%s", err);
    return key_of(ev_of(FZ_EV_SMS, text, NULL, NULL));
}

TEST_IMPL(pipeline_key_sms_normalised) {
    const char *same[] = {
        "您的账户已冻结 请致电 Bank",
        "您的账户已冻结请致电bank",
        "您的账户已冻结请致电BANK",
        " 您的 账户 已冻结\t请致电\nBaNk \r",
        "您的\xe3\x80\x80账户已冻结\xe3\x80\x80请致电 bank", /* U+3000 ideographic space */
        "您的\xc2\xa0账户已冻结请致电\xc2\xa0"
        "bank",                                             /* U+00A0 no-break space */
        "您的账户\xe2\x80\x83已冻结请致电bank\xe2\x80\x8b", /* em space, zero-width space */
        "\xef\xbb\xbf您的账户已冻结请致电bank",             /* BOM */
        "您的账户已冻结\xe2\x80\xaf请致电\xe2\x81\x9f"
        "bank", /* U+202F, U+205F */
        "您的账户已冻结\f请致电\vbank",
    };
    uint64_t k0 = sms_key(same[0]);
    for (size_t i = 1; i < FZ_ARRAY_LEN(same); i++) {
        fz_test_context("variant %zu: %s", i, same[i]);
        ASSERT_EQ_U64(sms_key(same[i]), k0);
    }
    fz_test_context("%s", "");

    const char *different[] = {
        "您的账户已冻结请致电bank!", /* punctuation counts */
        "您的账户已冻结请致电banc",  /* a letter */
        "您的帐户已冻结请致电bank",  /* a different CJK character (帐 vs 账) */
        "您的账户已冻结请致电bank2", /* a number where there was none */
        "",
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(different); i++) {
        fz_test_context("different %zu: %s", i, different[i]);
        ASSERT(sms_key(different[i]) != k0);
    }
    /* the key sees the normalised view: full-width, traditional characters */
    ASSERT_EQ_U64(sms_key("ＢＡＮＫ"), sms_key("bank"));
    ASSERT_EQ_U64(sms_key("您的帳戶已凍結"), sms_key("您的帐户已冻结"));
    /* a campaign: per-recipient numbers, links and phone numbers are masked */
    ASSERT_EQ_U64(sms_key("您的订单12345已冻结，请致电400-123-4567或访问 a.top"),
                  sms_key("您的订单98765已冻结，请致电 +86 138 0000 1111 或访问 http://b.cn/x"));
    ASSERT(sms_key("您的订单12345已冻结") != sms_key("您的订单12345已退款"));
    ASSERT_EQ_U64(sms_key("A"), sms_key("a"));
    ASSERT(sms_key("ab") != sms_key("ba"));
    /* the key is deterministic across buffers */
    ASSERT_EQ_U64(sms_key("hello world"), sms_key("hello world"));
    /* only the text counts for sms */
    ASSERT_EQ_U64(key_of(ev_of(FZ_EV_SMS, "t", "a", "b")), key_of(ev_of(FZ_EV_SMS, "t", "c", "d")));
}

TEST_IMPL(pipeline_key_call) {
    uint64_t k = key_of(ev_of(FZ_EV_CALL, NULL, "+8613800000000", "+8613900000000"));
    ASSERT_EQ_U64(key_of(ev_of(FZ_EV_CALL, "ignored", "+8613800000000", "+8613900000000")), k);
    ASSERT(key_of(ev_of(FZ_EV_CALL, NULL, "+8613800000000", "+8613900000001")) != k);
    ASSERT(key_of(ev_of(FZ_EV_CALL, NULL, "+8613800000001", "+8613900000000")) != k);
    ASSERT(key_of(ev_of(FZ_EV_CALL, NULL, "+8613900000000", "+8613800000000")) != k); /* swapped */
    /* the boundary between from and to is part of the key */
    ASSERT(key_of(ev_of(FZ_EV_CALL, NULL, "ab", "c")) !=
           key_of(ev_of(FZ_EV_CALL, NULL, "a", "bc")));
    /* call numbers are not whitespace-folded */
    ASSERT(key_of(ev_of(FZ_EV_CALL, NULL, "1 2", "3")) !=
           key_of(ev_of(FZ_EV_CALL, NULL, "12", "3")));
}

TEST_IMPL(pipeline_key_transfer_report) {
    fz_event t = ev_of(FZ_EV_TRANSFER, NULL, "a", "b");
    t.has_amount = 1;
    t.amount_minor = 1250;
    uint64_t k = key_of(t);
    fz_event u = t;
    u.amount_minor = 1251;
    ASSERT(key_of(u) != k);
    u = t;
    u.currency = FZ_STR_LIT("USD");
    ASSERT(key_of(u) != k);
    u = t;
    u.fields[FZ_FIELD_TO] = (fz_str){"c", 1};
    ASSERT(key_of(u) != k);
    u = t;
    u.fields[FZ_FIELD_TEXT] = (fz_str){"memo", 4};
    u.ts_ms = 999;
    ASSERT_EQ_U64(key_of(u), k); /* not identity fields */

    fz_event r = ev_of(FZ_EV_REPORT, NULL, "a", NULL);
    r.has_amount = 1;
    r.amount_minor = 500;
    r.category = FZ_STR_LIT("investment");
    k = key_of(r);
    fz_event s = r;
    s.category = FZ_STR_LIT("romance");
    ASSERT(key_of(s) != k);
    s = r;
    s.amount_minor = 501;
    ASSERT(key_of(s) != k);
    s = r;
    s.fields[FZ_FIELD_TO] = (fz_str){"zz", 2};
    ASSERT_EQ_U64(key_of(s), k); /* a report's key has no 'to' */
}

/* Events of different types whose identity bytes coincide still get
 * different keys. */
TEST_IMPL(pipeline_key_types_separated) {
    /* an sms whose folded text is byte-for-byte the call's from\x1f to\x1f */
    uint64_t sms = key_of(ev_of(FZ_EV_SMS,
                                "a\x1f"
                                "b\x1f",
                                NULL, NULL));
    uint64_t call = key_of(ev_of(FZ_EV_CALL, NULL, "a", "b"));
    ASSERT(sms != call);
    /* the same strings in every type: all keys distinct */
    uint64_t keys[FZ_EV_TYPE_COUNT];
    for (int ty = 0; ty < FZ_EV_TYPE_COUNT; ty++) {
        fz_event ev = ev_of((fz_event_type)ty, "x", "x", "x");
        ev.has_amount = 1;
        ev.amount_minor = 1;
        keys[ty] = key_of(ev);
        for (int j = 0; j < ty; j++) ASSERT(keys[j] != keys[ty]);
    }
}

/* fanzha_events_disguised_total: the pipeline counts the valid events whose
 * text is disguised (textfacts.h), and only those. */
TEST_IMPL(pipeline_counts_disguised) {
    fz_test_pipe f;
    fz_test_pipe_open(&f,
                      "rules:\n"
                      "  - {id: a, category: c, severity: low, pattern: 'account.{0,20}blocked'}\n",
                      600000);
    static const char *const msgs[] = {
        "{\"id\":\"1\",\"ts\":1764288000000,\"type\":\"sms\",\"text\":\"your acc0unt is bl0cked\"}",
        "{\"id\":\"2\",\"ts\":1764288000001,\"type\":\"sms\",\"text\":\"your account is blocked\"}",
        "{\"id\":\"3\",\"ts\":1764288000002,\"type\":\"sms\",\"text\":\"p\u0430ypal ok\"}",
        "{\"id\":\"4\",\"ts\":1764288000003,\"type\":\"sms\",\"text\":\"mp3 4g $100\"}",
        "{\"id\":\"5\",\"ts\":\"bad\",\"type\":\"sms\",\"text\":\"acc0unt\"}",
    };
    static const int matched[] = {1, 1, 0, 0, 0};
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        fz_result r;
        fz_pipeline_reset_arena(f.p);
        fz_pipeline_scan(f.p, msgs[i], strlen(msgs[i]), &r);
        fz_test_context("event %zu", i + 1);
        ASSERT_EQ_I64(r.nrules, matched[i]);
    }
    fz_counters *c = fz_pipeline_counters(f.p);
    ASSERT_EQ_U64(atomic_load(&c->disguised), 2); /* 1 and 3; 5 is invalid */
    ASSERT_EQ_U64(atomic_load(&c->invalid), 1);
    fz_test_pipe_close(&f);
}
