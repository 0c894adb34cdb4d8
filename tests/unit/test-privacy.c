/*
 * test-privacy.c - privacy_numbers / privacy_texts: masking keeps the
 * documented prefix and suffix (characters, not bytes) and never needs an
 * escape; the keyed hash is BLAKE2b-128 (checked against Python's hashlib
 * as the oracle), stable for one key and different for another; every
 * number field of every event type, decoded by the real pipeline, leaves
 * an alert masked, hashed or kept, with the text dropped or kept, and the
 * raw number nowhere in it; dead letters lose their payload, campaign
 * summaries their sample; configuration mistakes name the option or file.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "alert.h"
#include "campaign.h"
#include "pipeline.h"
#include "privacy.h"
#include "stores.h"
#include "test.h"

static const char KEY1[] = "0123456789abcdef0123456789abcdef";
static const char KEY2[] = "another-key-of-16+bytes";

static fz_privacy policy(fz_numbers_policy numbers, int drop_texts, const char *key) {
    fz_privacy p;
    memset(&p, 0, sizeof(p));
    p.numbers = numbers;
    p.drop_texts = drop_texts;
    if (key) {
        p.key_len = strlen(key);
        memcpy(p.key, key, p.key_len);
    }
    return p;
}

static const char *number_as(const fz_privacy *p, const char *s, fz_buf *b) {
    fz_buf_reset(b);
    ASSERT_EQ_I64(fz_privacy_put_number(b, p, (fz_str){s, strlen(s)}), FZ_OK);
    ASSERT_EQ_I64(fz_buf_putc(b, '\0'), FZ_OK);
    return b->p;
}

TEST_IMPL(privacy_mask) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"13812345678", "\"138****5678\""},           /* the documented example */
        {"+8613812345678", "\"+86*******5678\""},     /* 14: first 3, last 4 */
        {"6222020000000001", "\"622*********0001\""}, /* an account */
        {"1234567890", "\"********90\""},             /* 5-10: last 2 */
        {"95588", "\"***88\""},
        {"1234", "\"****\""}, /* up to 4: all */
        {"1", "\"*\""},
        {"", "\"\""},
        /* 11 characters in 33 bytes: counted as characters */
        {"１３８１２３４５６７８", "\"１３８****５６７８\""},
        /* a kept character JSON would escape is masked too */
        {"\"38123456\\8", "\"*38****56*8\""},
    };
    fz_privacy p = policy(FZ_NUMBERS_MASK, 0, NULL);
    fz_buf b;
    fz_buf_init(&b, 4096);
    for (size_t i = 0; i < FZ_ARRAY_LEN(cases); i++) {
        fz_test_context("%s", cases[i].in);
        ASSERT_STR_EQ(number_as(&p, cases[i].in, &b), cases[i].out);
    }
    fz_test_context("%s", "");
    /* keep: as it was, escaped */
    fz_privacy k = policy(FZ_NUMBERS_KEEP, 0, NULL);
    ASSERT_STR_EQ(number_as(&k, "+86\"1", &b), "\"+86\\\"1\"");
    fz_buf_free(&b);
}

TEST_IMPL(privacy_hash) {
    fz_buf b;
    fz_buf_init(&b, 4096);
    fz_privacy p1 = policy(FZ_NUMBERS_HASH, 0, KEY1), p2 = policy(FZ_NUMBERS_HASH, 0, KEY2);
    /* oracle: hashlib.blake2b(data, digest_size=16, key=key).hexdigest() */
    ASSERT_STR_EQ(number_as(&p1, "13812345678", &b), "\"429ead79c11aa5088a31d7f1835c3402\"");
    ASSERT_STR_EQ(number_as(&p1, "+8613812345678", &b), "\"b10e69d215f9fb4d1cac58f70f13c102\"");
    ASSERT_STR_EQ(number_as(&p1, "", &b), "\"b2cf8792417c9e5c092d4f049a2cd38a\"");
    ASSERT_STR_EQ(number_as(&p2, "13812345678", &b), "\"5c91d7eba5296a70f2869e72314cae8e\"");
    /* stable for one key, different for another and for another number */
    char a[40], c[40];
    snprintf(a, sizeof(a), "%s", number_as(&p1, "13912345678", &b));
    ASSERT_STR_EQ(number_as(&p1, "13912345678", &b), a);
    snprintf(c, sizeof(c), "%s", number_as(&p2, "13912345678", &b));
    ASSERT(strcmp(a, c) != 0);
    ASSERT(strcmp(a, number_as(&p1, "13912345679", &b)) != 0);
    fz_buf_free(&b);
}

/* The Kafka key of alerts and dead letters (often the subscriber number). */
TEST_IMPL(privacy_kafka_key) {
    char out[FZ_PRIVACY_KEY_OUT];
    const void *use;
    fz_privacy keep = policy(FZ_NUMBERS_KEEP, 1, NULL);
    ASSERT_EQ_U64(fz_privacy_kafka_key(&keep, "13812345678", 11, out, &use), 11);
    ASSERT_VIEW_EQ((const char *)use, 11, "13812345678");
    fz_privacy mask = policy(FZ_NUMBERS_MASK, 0, NULL);
    size_t n = fz_privacy_kafka_key(&mask, "13812345678", 11, out, &use);
    ASSERT(use == out);
    ASSERT_VIEW_EQ(out, n, "138****5678");
    n = fz_privacy_kafka_key(&mask, "95588", 5, out, &use);
    ASSERT_VIEW_EQ(out, n, "***88");
    /* bytes, not text; and a long key fits the buffer, its ends kept */
    char big[1000];
    memset(big, 'x', sizeof(big));
    memcpy(big, "abc", 3);
    memcpy(big + sizeof(big) - 4, "wxyz", 4);
    n = fz_privacy_kafka_key(&mask, big, sizeof(big), out, &use);
    ASSERT_EQ_U64(n, FZ_PRIVACY_KEY_OUT);
    ASSERT(!memcmp(out, "abc*", 4) && !memcmp(out + n - 5, "*wxyz", 5));
    /* no key: nothing to rewrite */
    ASSERT_EQ_U64(fz_privacy_kafka_key(&mask, NULL, 0, out, &use), 0);
    ASSERT(use == NULL);
    /* hash: the same keyed hash as the number in the record */
    fz_privacy p1 = policy(FZ_NUMBERS_HASH, 0, KEY1);
    n = fz_privacy_kafka_key(&p1, "13812345678", 11, out, &use);
    ASSERT_VIEW_EQ(out, n, "429ead79c11aa5088a31d7f1835c3402");
}

/* ---- every number field of every event type, through the real pipeline ---- */

static const char rules_yaml[] =
    "rules:\n"
    "  - {id: any.text, category: c, severity: high, fields: [text], pattern: 'FRAUDWORD'}\n"
    "  - {id: any.from, category: c, severity: high, fields: [from], pattern: '^1709'}\n";

typedef fz_test_pipe fixture;

static void setup(fixture *f) { fz_test_pipe_open(f, rules_yaml, 0); }

static void teardown(fixture *f) {
    fz_privacy_set(NULL);
    fz_test_pipe_close(f);
}

/* The alert of msg (which must alert) under policy p, parsed. */
static tj *alert_of(fixture *f, const fz_privacy *p, const char *msg) {
    fz_privacy_set(p);
    fz_result r;
    fz_pipeline_reset_arena(f->p);
    fz_pipeline_scan(f->p, msg, strlen(msg), &r);
    fz_pipeline_intercept(f->p, NULL, &r);
    fz_pipeline_decide(f->p, &f->st, &r, NULL, NULL);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_ALERT);
    /* the decide stage's input (the route record) carries an sms's text as
     * the campaign sample, unless texts are dropped */
    fz_decide_in in;
    memset(&in, 0, sizeof(in));
    fz_pipeline_decide_in(f->p, &r, &in);
    if (r.ev.type == FZ_EV_SMS) ASSERT(p->drop_texts ? in.sample.n == 0 : in.sample.n > 0);
    fz_buf_reset(&f->b);
    fz_source src = {.topic = "events", .partition = 0, .offset = 1};
    ASSERT_EQ_I64(fz_alert_encode(&f->b, f->rs, &r, 0, &src), FZ_OK);
    tj *v;
    ASSERT_JSON(v, f->b.p, f->b.len);
    return v;
}

static int contains(const fz_buf *b, const char *s) {
    return memmem(b->p, b->len, s, strlen(s)) != NULL;
}

TEST_IMPL(privacy_every_field) {
    static const struct {
        const char *type, *from, *to, *extra;
    } evs[] = {
        {"sms", "17090001111", "13912345678", ""},
        {"call", "17090002222", "13812345678", ",\"duration_s\":30"},
        {"transfer", "17090003333", "6222020000000099", ",\"amount\":\"10.00\""},
        {"report", "17090004444", "+8613712345678", ",\"amount\":\"99\""},
        {"report", "17090005555", NULL, ",\"amount\":\"99\""}, /* to is optional */
    };
    fixture f;
    setup(&f);
    fz_privacy keep = policy(FZ_NUMBERS_KEEP, 0, NULL), mask = policy(FZ_NUMBERS_MASK, 1, NULL),
               hash = policy(FZ_NUMBERS_HASH, 0, KEY1);
    for (size_t i = 0; i < FZ_ARRAY_LEN(evs); i++) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "{\"id\":\"e%zu\",\"ts\":1764288000000,\"type\":\"%s\",\"from\":\"%s\"%s%s%s,"
                 "\"text\":\"FRAUDWORD secret words\"%s}",
                 i, evs[i].type, evs[i].from, evs[i].to ? ",\"to\":\"" : "",
                 evs[i].to ? evs[i].to : "", evs[i].to ? "\"" : "", evs[i].extra);
        fz_test_context("%s", msg);
        const char *nums[2] = {evs[i].from, evs[i].to};
        const char *keys[2] = {"from", "to"};

        tj *v = alert_of(&f, &keep, msg);
        for (int k = 0; k < 2; k++)
            if (nums[k]) ASSERT(tj_is_str(tj_get(v, keys[k]), nums[k]));
        ASSERT(tj_is_str(tj_get(v, "text"), "FRAUDWORD secret words"));
        tj_free(v);

        v = alert_of(&f, &mask, msg);
        for (int k = 0; k < 2; k++) {
            if (!nums[k]) {
                ASSERT(tj_get(v, keys[k]) == NULL);
                continue;
            }
            fz_buf m;
            fz_buf_init(&m, 256);
            const char *want = number_as(&mask, nums[k], &m);
            const tj *got = tj_get(v, keys[k]);
            ASSERT(got && got->type == TJ_STR && strlen(want) == got->len + 2 &&
                   !memcmp(want + 1, got->str, got->len));
            ASSERT(strchr(got->str, '*') != NULL);
            fz_buf_free(&m);
        }
        ASSERT(tj_get(v, "text") == NULL); /* dropped */
        ASSERT(!contains(&f.b, "secret"));
        for (int k = 0; k < 2; k++)
            if (nums[k]) ASSERT(!contains(&f.b, nums[k]));
        tj_free(v);

        v = alert_of(&f, &hash, msg);
        for (int k = 0; k < 2; k++) {
            if (!nums[k]) continue;
            char hex[FZ_PRIVACY_HASH_HEX + 1];
            fz_privacy_hash_hex(&hash, nums[k], strlen(nums[k]), hex);
            ASSERT(tj_is_str(tj_get(v, keys[k]), hex));
            ASSERT(!contains(&f.b, nums[k]));
        }
        ASSERT(tj_is_str(tj_get(v, "text"), "FRAUDWORD secret words")); /* texts: keep */
        tj_free(v);
    }
    fz_test_context("%s", "");
    teardown(&f);
}

TEST_IMPL(privacy_dead_letter) {
    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    const char payload[] = "{\"id\":\"x\",\"from\":\"13812345678\",\"text\":\"secret\"";
    fz_source src = {.topic = "events", .partition = 1, .offset = 7};
    /* keep: the payload as before */
    fz_privacy_set(NULL);
    ASSERT_EQ_I64(fz_deadletter_encode_ex(&b, FZ_REASON_INVALID_JSON, "malformed JSON", FZ_STR_NULL,
                                          payload, strlen(payload), 65536, &src, 1),
                  FZ_OK);
    ASSERT(memmem(b.p, b.len, "13812345678", 11) != NULL);
    /* any privacy option: no payload; its hash when there is a key */
    for (int withkey = 0; withkey < 2; withkey++) {
        fz_privacy p = policy(FZ_NUMBERS_MASK, 0, withkey ? KEY1 : NULL);
        fz_privacy_set(&p);
        fz_buf_reset(&b);
        ASSERT_EQ_I64(fz_deadletter_encode_ex(&b, FZ_REASON_INVALID_JSON, "malformed JSON",
                                              FZ_STR_NULL, payload, strlen(payload), 10, &src, 1),
                      FZ_OK);
        tj *v;
        ASSERT_JSON(v, b.p, b.len);
        ASSERT(tj_get(v, "payload") == NULL && tj_get(v, "payload_base64") == NULL);
        ASSERT(tj_get(v, "payload_truncated") == NULL);
        ASSERT(tj_get(v, "payload_omitted") && tj_get(v, "payload_omitted")->type == TJ_TRUE);
        int64_t n;
        ASSERT(tj_int(tj_get(v, "payload_bytes"), &n) && n == (int64_t)strlen(payload));
        ASSERT(memmem(b.p, b.len, "1381", 4) == NULL && memmem(b.p, b.len, "secret", 6) == NULL);
        if (withkey) {
            char hex[FZ_PRIVACY_HASH_HEX + 1];
            fz_privacy_hash_hex(&p, payload, strlen(payload), hex);
            ASSERT(tj_is_str(tj_get(v, "payload_hash"), hex));
        } else {
            ASSERT(tj_get(v, "payload_hash") == NULL);
        }
        tj_free(v);
    }
    /* texts: drop alone also omits it */
    fz_privacy d = policy(FZ_NUMBERS_KEEP, 1, NULL);
    fz_privacy_set(&d);
    fz_buf_reset(&b);
    fz_deadletter_encode_ex(&b, FZ_REASON_INVALID_JSON, "x", FZ_STR_NULL, payload, strlen(payload),
                            65536, &src, 1);
    ASSERT(memmem(b.p, b.len, "\"payload_omitted\":true", 22) != NULL);
    fz_privacy_set(NULL);
    fz_buf_free(&b);
}

TEST_IMPL(privacy_campaign_sample) {
    fz_campaign *cp = calloc(1, sizeof(*cp));
    ASSERT(cp);
    cp->key = 1;
    snprintf(cp->rule_id, sizeof(cp->rule_id), "r");
    snprintf(cp->category, sizeof(cp->category), "c");
    snprintf(cp->ruleset, sizeof(cp->ruleset), "rs-1");
    memcpy(cp->sample, "secret text", 11);
    cp->sample_len = 11;
    fz_buf b;
    fz_buf_init(&b, 1 << 16);
    fz_privacy_set(NULL);
    ASSERT_EQ_I64(fz_campaign_encode(&b, cp, FZ_CAMPAIGN_OPEN, 1000), FZ_OK);
    ASSERT(memmem(b.p, b.len, "\"sample\":\"secret text\"", 22) != NULL);
    fz_privacy d = policy(FZ_NUMBERS_MASK, 1, NULL);
    fz_privacy_set(&d);
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_campaign_encode(&b, cp, FZ_CAMPAIGN_OPEN, 1000), FZ_OK);
    ASSERT(memmem(b.p, b.len, "\"sample\":\"\"", 11) != NULL);
    ASSERT(memmem(b.p, b.len, "secret", 6) == NULL);
    fz_privacy_set(NULL);
    fz_buf_free(&b);
    free(cp);
}

TEST_IMPL(privacy_config_errors) {
    fz_config c;
    fz_config_init(&c);
    fz_privacy p;
    char err[512];
    const char *dir = fz_test_tmpdir();
    /* defaults: keep everything */
    ASSERT_EQ_I64(fz_privacy_from_config(&p, &c, err, sizeof(err)), 0);
    ASSERT(!fz_privacy_on(&p));
    free(c.privacy_numbers);
    c.privacy_numbers = strdup("hush");
    ASSERT_EQ_I64(fz_privacy_from_config(&p, &c, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "privacy_numbers");
    ASSERT_CONTAINS(err, "hush");
    free(c.privacy_numbers);
    c.privacy_numbers = strdup("hash");
    ASSERT_EQ_I64(fz_privacy_from_config(&p, &c, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "privacy_hash_key_file");
    /* a key too short, a missing file, a good one */
    fz_test_write_str(dir, "short.key", "abc\n");
    char path[512];
    snprintf(path, sizeof(path), "%s/short.key", dir);
    c.privacy_hash_key_file = strdup(path);
    ASSERT_EQ_I64(fz_privacy_from_config(&p, &c, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "short.key");
    ASSERT_CONTAINS(err, "16 to 64 bytes");
    free(c.privacy_hash_key_file);
    snprintf(path, sizeof(path), "%s/missing.key", dir);
    c.privacy_hash_key_file = strdup(path);
    ASSERT_EQ_I64(fz_privacy_from_config(&p, &c, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "missing.key");
    free(c.privacy_hash_key_file);
    fz_test_write_str(dir, "good.key", "0123456789abcdef0123456789abcdef\n");
    snprintf(path, sizeof(path), "%s/good.key", dir);
    chmod(path, 0600);
    c.privacy_hash_key_file = strdup(path);
    ASSERT_EQ_I64(fz_privacy_from_config(&p, &c, err, sizeof(err)), 0);
    ASSERT_EQ_U64(p.key_len, 32); /* the newline is not part of it */
    fz_buf b;
    fz_buf_init(&b, 256);
    ASSERT_STR_EQ(number_as(&p, "13812345678", &b), "\"429ead79c11aa5088a31d7f1835c3402\"");
    fz_buf_free(&b);
    free(c.privacy_texts);
    c.privacy_texts = strdup("remove");
    ASSERT_EQ_I64(fz_privacy_from_config(&p, &c, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "privacy_texts");
    fz_config_free(&c);
}
