/*
 * test-alert.c - the output contract: alerts, replay verdicts and dead
 * letters are single-line strict JSON with the documented fields. Events
 * go through the real pipeline (decode, match, key, dedup) first.
 */
#include <stdlib.h>

#include "alert.h"
#include "pipeline.h"
#include "stores.h"
#include "test.h"

static const char rules_yaml[] =
    "rules:\n"
    "  - {id: a.low, category: cat_a, severity: low, fields: [text], pattern: '冻结'}\n"
    "  - {id: b.crit, rev: 2, category: cat_b, severity: critical, fields: [text], "
    "pattern: '账户'}\n"
    "  - {id: c.high, category: cat_a, severity: high, fields: [text], pattern: '异常'}\n"
    "  - {id: d.crit, category: cat_d, severity: critical, fields: [text], pattern: '银行'}\n"
    "  - {id: e.from, category: cat_e, severity: medium, fields: [from], pattern: '^\\+86170'}\n";

typedef fz_test_pipe fixture;

static void setup(fixture *f) { fz_test_pipe_open(f, rules_yaml, 600000); }

static void teardown(fixture *f) { fz_test_pipe_close(f); }

static void process(fixture *f, const char *msg, fz_result *r) {
    fz_pipeline_reset_arena(f->p);
    fz_pipeline_scan(f->p, msg, strlen(msg), r);
    fz_pipeline_intercept(f->p, NULL, r);
    fz_pipeline_decide(f->p, &f->st, r, NULL, NULL);
}

/* Encoder output is one line of strict JSON. */
static tj *parse_line(const fz_buf *b) {
    ASSERT(!b->failed);
    ASSERT(memchr(b->p, '\n', b->len) == NULL);
    tj *v;
    ASSERT_JSON(v, b->p, b->len);
    ASSERT(v->type == TJ_OBJ);
    return v;
}

static int64_t int_at(const tj *v, const char *path) {
    int64_t x;
    if (!tj_int(tj_get(v, path), &x)) fz_test_fail(__FILE__, __LINE__, "no integer at %s", path);
    return x;
}

static void assert_hex16(const tj *v, uint64_t want) {
    ASSERT(v && v->type == TJ_STR);
    ASSERT_EQ_U64(v->len, 16);
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)want);
    ASSERT_STR_EQ(v->str, hex);
}

TEST_IMPL(alert_encode) {
    fixture f;
    setup(&f);
    const char *msg = "{\"id\":\"ev-\\\"1\\\"\",\"ts\":1764288000123,\"type\":\"sms\","
                      "\"from\":\"+8613800000000\",\"to\":\"10086\","
                      "\"text\":\"您的账户已冻结 \\\"quote\\\" back\\\\slash \\u0001 tab\\t\"}";
    fz_result r;
    process(&f, msg, &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_ALERT);
    ASSERT_EQ_I64(r.nrules, 2);
    ASSERT_EQ_U64(r.dedup_count, 1);
    fz_source src = {.topic = "events", .partition = 3, .offset = 12345};
    ASSERT_EQ_I64(fz_alert_encode(&f.b, f.rs, &r, 600000, &src), FZ_OK);
    tj *v = parse_line(&f.b);

    ASSERT(tj_is_str(tj_get(v, "type"), "alert"));
    ASSERT(tj_is_str(tj_get(v, "event_id"), "ev-\"1\""));
    ASSERT(tj_is_str(tj_get(v, "event_type"), "sms"));
    ASSERT_EQ_I64(int_at(v, "ts"), 1764288000123LL);
    /* primary rule: the highest severity (critical beats low) */
    ASSERT(tj_is_str(tj_get(v, "rule.id"), "b.crit"));
    ASSERT_EQ_I64(int_at(v, "rule.rev"), 2);
    ASSERT(tj_is_str(tj_get(v, "rule.category"), "cat_b"));
    ASSERT(tj_is_str(tj_get(v, "rule.severity"), "critical"));
    ASSERT(tj_is_str(tj_get(v, "severity"), "critical"));
    const tj *rules = tj_get(v, "rules");
    ASSERT(rules && rules->type == TJ_ARR && rules->n == 2);
    ASSERT(tj_is_str(tj_get(v, "rules.0.id"), "a.low"));
    ASSERT_EQ_I64(int_at(v, "rules.0.rev"), 1);
    ASSERT(tj_is_str(tj_get(v, "rules.1.id"), "b.crit"));
    ASSERT(tj_get(v, "rules_truncated") == NULL);
    ASSERT(tj_is_str(tj_get(v, "ruleset"), fz_ruleset_version(f.rs)));
    assert_hex16(tj_get(v, "dedup.key"), r.dedup_key);
    ASSERT_EQ_I64(int_at(v, "dedup.count"), 1);
    ASSERT_EQ_I64(int_at(v, "dedup.window_ms"), 600000);
    ASSERT(tj_is_str(tj_get(v, "from"), "+8613800000000"));
    ASSERT(tj_is_str(tj_get(v, "to"), "10086"));
    ASSERT(tj_is_str(tj_get(v, "text"), "您的账户已冻结 \"quote\" back\\slash \x01 tab\t"));
    ASSERT(tj_get(v, "amount_minor") == NULL);
    ASSERT(tj_is_str(tj_get(v, "source.topic"), "events"));
    ASSERT_EQ_I64(int_at(v, "source.partition"), 3);
    ASSERT_EQ_I64(int_at(v, "source.offset"), 12345);
    tj_free(v);

    /* a transfer alert carries its amount; a file source its file and line */
    const char *tr = "{\"id\":\"t1\",\"ts\":5,\"type\":\"transfer\",\"from\":\"+8617000000001\","
                     "\"to\":\"x\",\"amount\":\"12.5\",\"currency\":\"USD\"}";
    process(&f, tr, &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_ALERT);
    fz_buf_reset(&f.b);
    fz_source fsrc = {.file = "in/events \"1\".ndjson", .line = 77};
    ASSERT_EQ_I64(fz_alert_encode(&f.b, f.rs, &r, 0, &fsrc), FZ_OK);
    v = parse_line(&f.b);
    ASSERT(tj_is_str(tj_get(v, "rule.id"), "e.from"));
    ASSERT(tj_is_str(tj_get(v, "rule.severity"), "medium"));
    ASSERT(tj_is_str(tj_get(v, "event_type"), "transfer"));
    ASSERT_EQ_I64(int_at(v, "amount_minor"), 1250);
    ASSERT(tj_is_str(tj_get(v, "currency"), "USD"));
    ASSERT(tj_get(v, "text") == NULL);
    ASSERT(tj_is_str(tj_get(v, "source.file"), "in/events \"1\".ndjson"));
    ASSERT_EQ_I64(int_at(v, "source.line"), 77);
    tj_free(v);
    teardown(&f);
}

/* Highest severity wins wherever it sits; among equals, ruleset order. */
TEST_IMPL(alert_primary_rule) {
    fixture f;
    setup(&f);
    static const struct {
        const char *text;
        const char *primary;
    } t[] = {
        {"冻结", "a.low"},          {"冻结异常", "c.high"}, {"异常冻结", "c.high"},
        {"银行异常冻结", "d.crit"}, {"银行账户", "b.crit"}, /* both critical: b.crit comes first in
                                                               the file */
        {"账户银行", "b.crit"},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(t); i++) {
        fz_test_context("text %s", t[i].text);
        char msg[256];
        snprintf(msg, sizeof(msg), "{\"id\":\"p%zu\",\"ts\":%zu,\"type\":\"sms\",\"text\":\"%s\"}",
                 i, i, t[i].text);
        fz_result r;
        process(&f, msg, &r);
        ASSERT_EQ_I64(r.verdict, FZ_VERDICT_ALERT);
        fz_buf_reset(&f.b);
        ASSERT_EQ_I64(fz_alert_encode(&f.b, f.rs, &r, 1, NULL), FZ_OK);
        tj *v = parse_line(&f.b);
        ASSERT(tj_is_str(tj_get(v, "rule.id"), t[i].primary));
        ASSERT(tj_get(v, "source") == NULL);
        tj_free(v);
    }
    teardown(&f);
}

TEST_IMPL(alert_verdict_encode) {
    fixture f;
    setup(&f);
    fz_result r;
    const char *msg = "{\"id\":\"v1\",\"ts\":10,\"type\":\"sms\",\"text\":\"账户冻结异常\"}";
    process(&f, msg, &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_ALERT);
    process(&f, msg, &r); /* the same event again: suppressed */
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_SUPPRESSED);
    ASSERT_EQ_U64(r.dedup_count, 2);
    fz_source src = {.file = "x.ndjson", .line = 2};
    ASSERT_EQ_I64(fz_verdict_encode(&f.b, f.rs, &r, &src), FZ_OK);
    tj *v = parse_line(&f.b);
    ASSERT(tj_is_str(tj_get(v, "event_id"), "v1"));
    ASSERT(tj_is_str(tj_get(v, "verdict"), "suppressed"));
    ASSERT(tj_get(v, "rules")->n == 3);
    ASSERT(tj_is_str(tj_get(v, "rules.0"), "a.low"));
    ASSERT(tj_is_str(tj_get(v, "rules.1"), "b.crit"));
    ASSERT(tj_is_str(tj_get(v, "rules.2"), "c.high"));
    const tj *cats = tj_get(v, "categories"); /* distinct, in rule order */
    ASSERT(cats && cats->n == 2);
    ASSERT(tj_is_str(tj_get(v, "categories.0"), "cat_a"));
    ASSERT(tj_is_str(tj_get(v, "categories.1"), "cat_b"));
    ASSERT_EQ_I64(int_at(v, "dedup_count"), 2);
    ASSERT(tj_get(v, "reason") == NULL);
    tj_free(v);

    /* clean */
    process(&f, "{\"id\":\"c1\",\"ts\":10,\"type\":\"sms\",\"text\":\"hello\"}", &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_CLEAN);
    fz_buf_reset(&f.b);
    ASSERT_EQ_I64(fz_verdict_encode(&f.b, f.rs, &r, &src), FZ_OK);
    v = parse_line(&f.b);
    ASSERT(tj_is_str(tj_get(v, "verdict"), "clean"));
    ASSERT(tj_get(v, "rules")->type == TJ_ARR && tj_get(v, "rules")->n == 0);
    ASSERT(tj_get(v, "dedup_count") == NULL);
    tj_free(v);

    /* invalid, with the id read before the failure */
    process(&f, "{\"id\":\"bad\\n1\",\"ts\":\"soon\",\"type\":\"sms\",\"text\":\"x\"}", &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_INVALID);
    fz_buf_reset(&f.b);
    ASSERT_EQ_I64(fz_verdict_encode(&f.b, f.rs, &r, &src), FZ_OK);
    v = parse_line(&f.b);
    ASSERT(tj_is_str(tj_get(v, "event_id"), "bad\n1"));
    ASSERT(tj_is_str(tj_get(v, "verdict"), "invalid"));
    ASSERT(tj_is_str(tj_get(v, "reason"), "wrong_type"));
    ASSERT(tj_get(v, "detail")->type == TJ_STR);
    ASSERT(strstr(tj_get(v, "detail")->str, "'ts'") != NULL);
    ASSERT_EQ_I64(int_at(v, "line"), 2);
    tj_free(v);

    /* invalid before any id: event_id is null */
    process(&f, "[1,2]", &r);
    fz_buf_reset(&f.b);
    ASSERT_EQ_I64(fz_verdict_encode(&f.b, f.rs, &r, NULL), FZ_OK);
    v = parse_line(&f.b);
    ASSERT(tj_get(v, "event_id") && tj_get(v, "event_id")->type == TJ_NULL);
    ASSERT(tj_is_str(tj_get(v, "reason"), "not_object"));
    tj_free(v);
    teardown(&f);
}

TEST_IMPL(alert_deadletter_encode) {
    fixture f;
    setup(&f);
    fz_result r;
    /* not UTF-8: the exact bytes travel as payload_base64 */
    const char payload[] = "{\"id\":\"x\",\"text\":\"\xff\xfe\xe8\xb4\"}\x01";
    const size_t plen = sizeof(payload) - 1;
    fz_pipeline_scan(f.p, payload, plen, &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_INVALID);
    fz_source src = {.topic = "events", .partition = 0, .offset = 9};
    ASSERT_EQ_I64(fz_deadletter_encode(&f.b, &r, payload, plen, &src, 1700000000000LL), FZ_OK);
    tj *v = parse_line(&f.b);
    ASSERT(tj_is_str(tj_get(v, "type"), "dead_letter"));
    ASSERT(tj_is_str(tj_get(v, "reason"), "invalid_utf8"));
    ASSERT(tj_get(v, "detail")->type == TJ_STR && tj_get(v, "detail")->len > 0);
    ASSERT(tj_get(v, "event_id")->type == TJ_NULL);
    ASSERT_EQ_I64(int_at(v, "at"), 1700000000000LL);
    ASSERT(tj_is_str(tj_get(v, "source.topic"), "events"));
    ASSERT_EQ_I64(int_at(v, "source.partition"), 0);
    ASSERT_EQ_I64(int_at(v, "source.offset"), 9);
    ASSERT_EQ_I64(int_at(v, "payload_bytes"), (int64_t)plen);
    ASSERT(tj_get(v, "payload") == NULL);
    const tj *b64 = tj_get(v, "payload_base64");
    ASSERT(b64 && b64->type == TJ_STR);
    unsigned char back[sizeof(payload)];
    ASSERT_EQ_I64(tb64_decode(b64->str, b64->len, back), (long)plen);
    ASSERT(memcmp(back, payload, plen) == 0);
    ASSERT(tj_get(v, "payload_truncated") == NULL);
    tj_free(v);

    /* UTF-8 text travels as a JSON string; the id read before the failure stays */
    const char *m2 = "{\"id\":\"e-9\",\"ts\":1,\"type\":\"fax\",\"text\":\"账户\\n\"}";
    fz_pipeline_scan(f.p, m2, strlen(m2), &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_INVALID);
    fz_buf_reset(&f.b);
    ASSERT_EQ_I64(fz_deadletter_encode(&f.b, &r, m2, strlen(m2), NULL, 1), FZ_OK);
    v = parse_line(&f.b);
    ASSERT(tj_is_str(tj_get(v, "event_id"), "e-9"));
    ASSERT(tj_is_str(tj_get(v, "reason"), "bad_value"));
    ASSERT(tj_is_str(tj_get(v, "payload"), m2));
    ASSERT(tj_get(v, "payload_base64") == NULL);
    ASSERT(tj_get(v, "source") == NULL);
    tj_free(v);
    fz_buf_free(&f.b);
    fz_buf_init(&f.b, 1 << 20);

    /* over the cap: cut, flagged, and never in the middle of a character */
    const size_t max = FZ_DEADLETTER_PAYLOAD_MAX;
    size_t big = max + 100;
    char *p = malloc(big);
    ASSERT(p);
    memset(p, 'x', big);
    memcpy(p + max - 1, "\xe8\xb4\xa6", 3); /* 账 straddles the cut */
    fz_pipeline_scan(f.p, p, big, &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_INVALID);
    ASSERT_EQ_I64(fz_deadletter_encode(&f.b, &r, p, big, NULL, 1), FZ_OK);
    v = parse_line(&f.b);
    ASSERT_EQ_I64(int_at(v, "payload_bytes"), (int64_t)big);
    ASSERT(tj_get(v, "payload_truncated")->type == TJ_TRUE);
    const tj *pl = tj_get(v, "payload");
    ASSERT(pl && pl->type == TJ_STR);
    ASSERT_EQ_U64(pl->len, max - 1);
    ASSERT(memcmp(pl->str, p, max - 1) == 0);
    tj_free(v);

    /* not text and over the cap: the first bytes, exactly, in base64 */
    p[10] = (char)0xff;
    fz_pipeline_scan(f.p, p, big, &r);
    fz_buf_reset(&f.b);
    ASSERT_EQ_I64(fz_deadletter_encode(&f.b, &r, p, big, NULL, 1), FZ_OK);
    v = parse_line(&f.b);
    ASSERT(tj_get(v, "payload_truncated")->type == TJ_TRUE);
    b64 = tj_get(v, "payload_base64");
    ASSERT(b64 && b64->type == TJ_STR);
    unsigned char *dec = malloc(max + 3);
    ASSERT(dec);
    long dn = tb64_decode(b64->str, b64->len, dec);
    ASSERT(dn > 0 && (size_t)dn <= max && (size_t)dn >= max - 3);
    ASSERT(memcmp(dec, p, (size_t)dn) == 0);
    free(dec);
    tj_free(v);
    free(p);

    /* a scan error is dead-lettered with its own reason */
    fz_result se;
    memset(&se, 0, sizeof(se));
    se.ev.id = FZ_STR_LIT("s-1");
    se.reason = FZ_REASON_SCAN_ERROR;
    se.verdict = FZ_VERDICT_INVALID;
    snprintf(se.detail, sizeof(se.detail), "Hyperscan scan failed");
    fz_buf_reset(&f.b);
    ASSERT_EQ_I64(fz_deadletter_encode(&f.b, &se, "{}", 2, NULL, 1), FZ_OK);
    v = parse_line(&f.b);
    ASSERT(tj_is_str(tj_get(v, "reason"), "scan_error"));
    ASSERT(tj_is_str(tj_get(v, "event_id"), "s-1"));
    tj_free(v);

    /* a buffer too small for the record reports FZ_ERR_FULL */
    fz_buf small;
    fz_buf_init(&small, 64);
    ASSERT_EQ_I64(fz_deadletter_encode(&small, &r, payload, plen, NULL, 1), FZ_ERR_FULL);
    fz_buf_free(&small);
    teardown(&f);
}

/* More rules than an alert lists: the list keeps the lowest indexes and
 * says it was cut, and the primary rule is still the most severe match. */
TEST_IMPL(alert_primary_truncated) {
    const char *dir = fz_test_tmpdir();
    char *yaml = NULL;
    size_t ylen = 0;
    FILE *fp = open_memstream(&yaml, &ylen);
    fprintf(fp, "rules:\n");
    for (int i = 0; i < FZ_MAX_MATCHES + 3; i++)
        fprintf(fp, "  - {id: r.%03d, category: c%d, severity: %s, fields: [text], pattern: 'k'}\n",
                i, i % 3, i == FZ_MAX_MATCHES + 1 ? "critical" : "medium");
    fclose(fp);
    fz_test_write(dir, "r.yaml", yaml, ylen);
    free(yaml);
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(dir, NULL, &diags);
    ASSERT(rs != NULL);
    fz_rule_diags_free(&diags);
    char err[256];
    fz_pipeline *p = fz_pipeline_new(4096, 0, err, sizeof(err));
    ASSERT(p && fz_pipeline_bind(p, rs, err, sizeof(err)) == 0);
    fz_stores st;
    fz_stores_config sc = {64, 0, 1000, 0, 0, 0, 0};
    ASSERT(fz_stores_init(&st, &sc, 0, err, sizeof(err)) == 0);
    fz_result r;
    const char *msg = "{\"id\":\"k1\",\"ts\":1,\"type\":\"sms\",\"text\":\"k\"}";
    fz_pipeline_scan(p, msg, strlen(msg), &r);
    fz_pipeline_decide(p, &st, &r, NULL, NULL);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_ALERT);
    ASSERT(r.truncated);
    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    ASSERT_EQ_I64(fz_alert_encode(&b, rs, &r, 1000, NULL), FZ_OK);
    tj *v = parse_line(&b);
    char want[16];
    snprintf(want, sizeof(want), "r.%03d", FZ_MAX_MATCHES + 1);
    ASSERT(tj_is_str(tj_get(v, "rule.id"), want));
    ASSERT(tj_is_str(tj_get(v, "severity"), "critical"));
    ASSERT_EQ_U64(tj_get(v, "rules")->n, FZ_MAX_MATCHES);
    ASSERT(tj_is_str(tj_get(v, "rules.0.id"), "r.000"));
    ASSERT(tj_get(v, "rules_truncated")->type == TJ_TRUE);
    tj_free(v);
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_verdict_encode(&b, rs, &r, NULL), FZ_OK);
    v = parse_line(&b);
    ASSERT_EQ_U64(tj_get(v, "categories")->n, 3);
    tj_free(v);
    fz_buf_free(&b);
    fz_stores_destroy(&st);
    fz_pipeline_destroy(p);
    fz_ruleset_unref(rs);
}
