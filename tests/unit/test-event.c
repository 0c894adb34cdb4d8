/*
 * test-event.c - the input contract: fz_event_decode() over a golden table
 * (one row per accepted shape and per rejection reason), escapes, views,
 * skipping of unknown content, and decimal amounts.
 *
 * The golden table is data: each row is a message, the reason expected, a
 * fragment the detail must contain (naming the field), and the id the
 * event must still carry (NULL: no id). Every mismatch is printed before
 * the test fails, so one run shows them all.
 */
#include <stdlib.h>

#include "event.h"
#include "test.h"

#define MAX_BYTES 1024
#define MAX_TOKENS 64

static fz_decoder *new_decoder(size_t max_bytes, size_t arena, unsigned toks) {
    char err[256];
    fz_decoder *d = fz_decoder_new(max_bytes, arena, toks, err, sizeof(err));
    if (!d) fz_test_fail(__FILE__, __LINE__, "fz_decoder_new: %s", err);
    return d;
}

typedef struct golden {
    const char *name;
    const char *json;
    fz_reason reason;
    const char *detail_has; /* NULL: not checked */
    const char *id;         /* expected id; NULL: ev.id.p must be NULL */
} golden;

#define E(...) "{" __VA_ARGS__ "}"
#define SMS "\"ts\":1764288000123,\"type\":\"sms\""

static const golden cases[] = {
    /* accepted */
    {"sms",
     E("\"id\":\"e1\"," SMS ",\"from\":\"+8613800000000\",\"to\":\"+8613900000000\","
       "\"text\":\"hello\""),
     FZ_REASON_NONE, NULL, "e1"},
    {"call",
     E("\"id\":\"c1\",\"ts\":1,\"type\":\"call\",\"from\":\"a\",\"to\":\"b\","
       "\"duration_s\":30"),
     FZ_REASON_NONE, NULL, "c1"},
    {"transfer",
     E("\"id\":\"t1\",\"ts\":2,\"type\":\"transfer\",\"from\":\"a\",\"to\":\"b\","
       "\"amount\":\"12.50\",\"currency\":\"CNY\""),
     FZ_REASON_NONE, NULL, "t1"},
    {"report",
     E("\"id\":\"r1\",\"ts\":3,\"type\":\"report\",\"from\":\"a\",\"amount\":100,"
       "\"category\":\"investment\""),
     FZ_REASON_NONE, NULL, "r1"},
    {"ts zero", E("\"id\":\"z\",\"ts\":0,\"type\":\"sms\",\"text\":\"x\""), FZ_REASON_NONE, NULL,
     "z"},
    {"null optional", E("\"id\":\"n\"," SMS ",\"text\":\"x\",\"from\":null"), FZ_REASON_NONE, NULL,
     "n"},
    {"surrounding whitespace", " \t\n" E("\"id\":\"w\"," SMS ",\"text\":\"x\"") " \r\n ",
     FZ_REASON_NONE, NULL, "w"},
    {"empty text", E("\"id\":\"et\"," SMS ",\"text\":\"\""), FZ_REASON_NONE, NULL, "et"},

    /* too_large: built at run time, see below */

    /* invalid_utf8: raw bytes are checked before anything else, so no id */
    {"raw 0xFF", E("\"id\":\"u\"," SMS ",\"text\":\"\xff\""), FZ_REASON_INVALID_UTF8,
     "invalid UTF-8 at byte", NULL},
    {"raw overlong", E("\"id\":\"u\"," SMS ",\"text\":\"\xc0\xaf\""), FZ_REASON_INVALID_UTF8,
     "invalid UTF-8", NULL},
    {"raw surrogate", E("\"id\":\"u\"," SMS ",\"text\":\"\xed\xa0\x80\""), FZ_REASON_INVALID_UTF8,
     "invalid UTF-8", NULL},
    {"raw truncated", "{\"id\":\"u\"," SMS ",\"text\":\"\xe8\xb4", FZ_REASON_INVALID_UTF8,
     "invalid UTF-8", NULL},
    {"lone high surrogate escape", E("\"id\":\"u\"," SMS ",\"text\":\"\\ud83d\""),
     FZ_REASON_INVALID_UTF8, "'text'", "u"},
    {"lone low surrogate escape", E("\"id\":\"u\"," SMS ",\"text\":\"a\\ude00b\""),
     FZ_REASON_INVALID_UTF8, "'text'", "u"},
    {"high surrogate then BMP", E("\"id\":\"u\"," SMS ",\"text\":\"\\ud83d\\u0041\""),
     FZ_REASON_INVALID_UTF8, "'text'", "u"},
    {"swapped surrogates", E("\"id\":\"u\"," SMS ",\"text\":\"\\ude00\\ud83d\""),
     FZ_REASON_INVALID_UTF8, "'text'", "u"},

    /* invalid_json */
    {"empty", "", FZ_REASON_INVALID_JSON, NULL, NULL},
    {"blank", "  \n", FZ_REASON_INVALID_JSON, NULL, NULL},
    {"truncated", "{\"id\":\"x\"", FZ_REASON_INVALID_JSON, NULL, NULL},
    {"trailing word", E("\"id\":\"x\"," SMS ",\"text\":\"a\"") " x", FZ_REASON_INVALID_JSON, NULL,
     NULL},
    {"trailing object", E("\"id\":\"x\"," SMS ",\"text\":\"a\"") "{}", FZ_REASON_INVALID_JSON,
     "byte 53", NULL},
    {"trailing number", E("\"id\":\"x\"," SMS ",\"text\":\"a\"") " 1", FZ_REASON_INVALID_JSON, NULL,
     NULL},
    {"tru", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":tru"), FZ_REASON_INVALID_JSON, NULL, NULL},
    {"nul", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":nul"), FZ_REASON_INVALID_JSON, NULL, NULL},
    {"leading zero", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":01"), FZ_REASON_INVALID_JSON,
     NULL, NULL},
    {"bare dot", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":1."), FZ_REASON_INVALID_JSON, NULL,
     NULL},
    {"bare minus", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":-"), FZ_REASON_INVALID_JSON, NULL,
     NULL},
    {"bare exponent", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":1e"), FZ_REASON_INVALID_JSON,
     NULL, NULL},
    {"plus sign", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":+1"), FZ_REASON_INVALID_JSON, NULL,
     NULL},
    {"leading dot", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":.5"), FZ_REASON_INVALID_JSON, NULL,
     NULL},
    {"NaN", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":NaN"), FZ_REASON_INVALID_JSON, NULL, NULL},
    {"nested bad primitive", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":[1,{\"q\":tru}]"),
     FZ_REASON_INVALID_JSON, NULL, NULL},
    {"single quotes", E("\"id\":\"x\"," SMS ",\"text\":'a'"), FZ_REASON_INVALID_JSON, NULL, NULL},
    {"bad escape", E("\"id\":\"x\"," SMS ",\"text\":\"a\\x\""), FZ_REASON_INVALID_JSON, NULL, NULL},
    {"short \\u", E("\"id\":\"x\"," SMS ",\"text\":\"\\u00\""), FZ_REASON_INVALID_JSON, NULL, NULL},
    {"key without value", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\""), FZ_REASON_INVALID_JSON,
     NULL, NULL},
    {"unclosed array", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":["), FZ_REASON_INVALID_JSON,
     NULL, NULL},
    {"amount with leading zero",
     E("\"id\":\"x\",\"ts\":1,\"type\":\"report\",\"from\":\"a\","
       "\"amount\":007.5"),
     FZ_REASON_INVALID_JSON, NULL, NULL},
    {"comment", E("\"id\":\"x\"," SMS ",\"text\":\"a\" /* c */"), FZ_REASON_INVALID_JSON, NULL,
     NULL},

    /* not_object */
    {"array", "[1]", FZ_REASON_NOT_OBJECT, "object", NULL},
    {"string", "\"x\"", FZ_REASON_NOT_OBJECT, "object", NULL},
    {"array of event", "[" E("\"id\":\"x\"," SMS ",\"text\":\"a\"") "]", FZ_REASON_NOT_OBJECT,
     "object", NULL},

    /* too_complex: built at run time, see below */

    /* missing_field */
    {"no id", E(SMS ",\"text\":\"a\""), FZ_REASON_MISSING_FIELD, "'id'", NULL},
    {"id null", E("\"id\":null," SMS ",\"text\":\"a\""), FZ_REASON_WRONG_TYPE, "'id'", NULL},
    {"no ts", E("\"id\":\"m\",\"type\":\"sms\",\"text\":\"a\""), FZ_REASON_MISSING_FIELD, "'ts'",
     "m"},
    {"no type", E("\"id\":\"m\",\"ts\":1,\"text\":\"a\""), FZ_REASON_MISSING_FIELD, "'type'", "m"},
    {"sms without text", E("\"id\":\"m\"," SMS ",\"from\":\"a\""), FZ_REASON_MISSING_FIELD,
     "'text'", "m"},
    {"sms with null text", E("\"id\":\"m\"," SMS ",\"text\":null"), FZ_REASON_MISSING_FIELD,
     "'text'", "m"},
    {"call without to", E("\"id\":\"m\",\"ts\":1,\"type\":\"call\",\"from\":\"a\""),
     FZ_REASON_MISSING_FIELD, "'to'", "m"},
    {"call without from", E("\"id\":\"m\",\"ts\":1,\"type\":\"call\",\"to\":\"a\""),
     FZ_REASON_MISSING_FIELD, "'from'", "m"},
    {"transfer without amount",
     E("\"id\":\"m\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\",\"to\":\"b\""),
     FZ_REASON_MISSING_FIELD, "'amount'", "m"},
    {"transfer without to",
     E("\"id\":\"m\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\",\"amount\":1"),
     FZ_REASON_MISSING_FIELD, "'to'", "m"},
    {"report without from", E("\"id\":\"m\",\"ts\":1,\"type\":\"report\",\"amount\":1"),
     FZ_REASON_MISSING_FIELD, "'from'", "m"},
    {"report without amount", E("\"id\":\"m\",\"ts\":1,\"type\":\"report\",\"from\":\"a\""),
     FZ_REASON_MISSING_FIELD, "'amount'", "m"},

    /* wrong_type */
    {"id number", E("\"id\":5," SMS ",\"text\":\"a\""), FZ_REASON_WRONG_TYPE, "'id'", NULL},
    {"ts string", E("\"id\":\"w\",\"ts\":\"1764288000123\",\"type\":\"sms\",\"text\":\"a\""),
     FZ_REASON_WRONG_TYPE, "'ts'", "w"},
    {"ts float", E("\"id\":\"w\",\"ts\":1.5,\"type\":\"sms\",\"text\":\"a\""), FZ_REASON_WRONG_TYPE,
     "'ts'", "w"},
    {"ts exponent", E("\"id\":\"w\",\"ts\":1e3,\"type\":\"sms\",\"text\":\"a\""),
     FZ_REASON_WRONG_TYPE, "'ts'", "w"},
    {"ts bool", E("\"id\":\"w\",\"ts\":true,\"type\":\"sms\",\"text\":\"a\""), FZ_REASON_WRONG_TYPE,
     "'ts'", "w"},
    {"type number", E("\"id\":\"w\",\"ts\":1,\"type\":1,\"text\":\"a\""), FZ_REASON_WRONG_TYPE,
     "'type'", "w"},
    {"text number", E("\"id\":\"w\"," SMS ",\"text\":5"), FZ_REASON_WRONG_TYPE, "'text'", "w"},
    {"from object", E("\"id\":\"w\"," SMS ",\"text\":\"a\",\"from\":{\"n\":1}"),
     FZ_REASON_WRONG_TYPE, "'from'", "w"},
    {"currency array", E("\"id\":\"w\"," SMS ",\"text\":\"a\",\"currency\":[\"CNY\"]"),
     FZ_REASON_WRONG_TYPE, "'currency'", "w"},
    {"amount bool",
     E("\"id\":\"w\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\",\"to\":\"b\","
       "\"amount\":true"),
     FZ_REASON_WRONG_TYPE, "'amount'", "w"},
    {"amount array",
     E("\"id\":\"w\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\",\"to\":\"b\","
       "\"amount\":[1]"),
     FZ_REASON_WRONG_TYPE, "'amount'", "w"},
    {"duration string",
     E("\"id\":\"w\",\"ts\":1,\"type\":\"call\",\"from\":\"a\",\"to\":\"b\",\"duration_s\":\"5\""),
     FZ_REASON_WRONG_TYPE, "'duration_s'", "w"},
    {"duration float",
     E("\"id\":\"w\",\"ts\":1,\"type\":\"call\",\"from\":\"a\",\"to\":\"b\",\"duration_s\":1.5"),
     FZ_REASON_WRONG_TYPE, "'duration_s'", "w"},

    /* bad_value */
    {"unknown type", E("\"id\":\"b\",\"ts\":1,\"type\":\"email\",\"text\":\"a\""),
     FZ_REASON_BAD_VALUE, "'type'", "b"},
    {"type wrong case", E("\"id\":\"b\",\"ts\":1,\"type\":\"SMS\",\"text\":\"a\""),
     FZ_REASON_BAD_VALUE, "'type'", "b"},
    {"negative ts", E("\"id\":\"b\",\"ts\":-1,\"type\":\"sms\",\"text\":\"a\""),
     FZ_REASON_BAD_VALUE, "'ts'", "b"},
    {"ts overflow", E("\"id\":\"b\",\"ts\":99999999999999999999,\"type\":\"sms\",\"text\":\"a\""),
     FZ_REASON_BAD_VALUE, "'ts'", "b"},
    {"empty id", E("\"id\":\"\"," SMS ",\"text\":\"a\""), FZ_REASON_BAD_VALUE, "'id'", NULL},
    {"amount 3 decimals CNY",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\","
       "\"to\":\"b\",\"amount\":\"12.345\""),
     FZ_REASON_BAD_VALUE, "'amount'", "b"},
    {"amount 3 decimals number",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\","
       "\"to\":\"b\",\"amount\":12.345"),
     FZ_REASON_BAD_VALUE, "'amount'", "b"},
    {"amount negative string",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\","
       "\"to\":\"b\",\"amount\":\"-5\""),
     FZ_REASON_BAD_VALUE, "'amount'", "b"},
    {"amount negative number",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"report\",\"from\":\"a\","
       "\"amount\":-5"),
     FZ_REASON_BAD_VALUE, "'amount'", "b"},
    {"amount exponent",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"report\",\"from\":\"a\","
       "\"amount\":1e3"),
     FZ_REASON_BAD_VALUE, "'amount'", "b"},
    {"amount words",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"report\",\"from\":\"a\","
       "\"amount\":\"ten\""),
     FZ_REASON_BAD_VALUE, "'amount'", "b"},
    {"amount JPY fraction",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"report\",\"from\":\"a\","
       "\"amount\":\"12.5\",\"currency\":\"JPY\""),
     FZ_REASON_BAD_VALUE, "'amount'", "b"},
    {"currency lower case",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\","
       "\"to\":\"b\",\"amount\":1,\"currency\":\"cny\""),
     FZ_REASON_BAD_VALUE, "'currency'", "b"},
    {"currency 4 letters",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\","
       "\"to\":\"b\",\"amount\":1,\"currency\":\"CNYX\""),
     FZ_REASON_BAD_VALUE, "'currency'", "b"},
    {"currency digit",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\","
       "\"to\":\"b\",\"amount\":1,\"currency\":\"C1Y\""),
     FZ_REASON_BAD_VALUE, "'currency'", "b"},
    {"negative duration",
     E("\"id\":\"b\",\"ts\":1,\"type\":\"call\",\"from\":\"a\",\"to\":\"b\",\"duration_s\":-1"),
     FZ_REASON_BAD_VALUE, "'duration_s'", "b"},
};

/* Check one decode against expectations; prints and returns 1 on mismatch. */
static int check(fz_decoder *d, const char *name, const char *msg, size_t len, fz_reason want,
                 const char *detail_has, const char *id) {
    fz_event ev;
    char detail[256];
    fz_decoder_reset_arena(d);
    fz_reason got = fz_event_decode(d, msg, len, &ev, detail, sizeof(detail));
    const char *why = NULL;
    char idbuf[64] = "";
    if (ev.id.p) snprintf(idbuf, sizeof(idbuf), "%.*s", (int)ev.id.n, ev.id.p);
    if (got != want)
        why = "reason";
    else if (want != FZ_REASON_NONE && detail[0] == '\0')
        why = "empty detail";
    else if (want == FZ_REASON_NONE && detail[0] != '\0')
        why = "detail set on success";
    else if (detail_has && !strstr(detail, detail_has))
        why = "detail does not name the field";
    else if (id ? (!ev.id.p || strcmp(idbuf, id) != 0) : ev.id.p != NULL)
        why = "id";
    if (!why) return 0;
    fprintf(stderr,
            "%s:%d: golden case '%s': %s mismatch: expected %s%s%s id=%s, got %s (%s) id=%s\n",
            __FILE__, __LINE__, name, why, fz_reason_name(want), detail_has ? " naming " : "",
            detail_has ? detail_has : "", id ? id : "(none)", fz_reason_name(got), detail,
            ev.id.p ? idbuf : "(none)");
    return 1;
}

TEST_IMPL(event_golden) {
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    int bad = 0;
    for (size_t i = 0; i < FZ_ARRAY_LEN(cases); i++)
        bad += check(d, cases[i].name, cases[i].json, strlen(cases[i].json), cases[i].reason,
                     cases[i].detail_has, cases[i].id);

    /* too_large: one byte over the limit, and exactly at it */
    char *big = malloc(MAX_BYTES + 2);
    ASSERT(big);
    int pre = snprintf(big, MAX_BYTES, "{\"id\":\"big\"," SMS ",\"text\":\"");
    memset(big + pre, 'x', MAX_BYTES + 1 - (size_t)pre - 2);
    memcpy(big + MAX_BYTES + 1 - 2, "\"}", 2);
    bad += check(d, "too large", big, MAX_BYTES + 1, FZ_REASON_TOO_LARGE, "max_event_bytes", NULL);
    memcpy(big + MAX_BYTES - 2, "\"}", 2);
    bad += check(d, "exactly max_event_bytes", big, MAX_BYTES, FZ_REASON_NONE, NULL, "big");
    free(big);

    /* too_complex: more tokens than the decoder holds (nested, or many keys) */
    char many[2048];
    int n = snprintf(many, sizeof(many), "{\"id\":\"tc\"," SMS ",\"text\":\"a\"");
    for (int k = 0; k < MAX_TOKENS; k++)
        n += snprintf(many + n, sizeof(many) - (size_t)n, ",\"k%d\":%d", k, k);
    n += snprintf(many + n, sizeof(many) - (size_t)n, "}");
    bad += check(d, "too many keys", many, (size_t)n, FZ_REASON_TOO_COMPLEX, "tokens", NULL);
    n = snprintf(many, sizeof(many), "{\"id\":\"tc\"," SMS ",\"text\":\"a\",\"z\":[");
    for (int k = 0; k < MAX_TOKENS; k++)
        n += snprintf(many + n, sizeof(many) - (size_t)n, "%s[]", k ? "," : "");
    n += snprintf(many + n, sizeof(many) - (size_t)n, "]}");
    bad +=
        check(d, "too many nested tokens", many, (size_t)n, FZ_REASON_TOO_COMPLEX, "tokens", NULL);

    fz_decoder_destroy(d);
    if (bad) fz_test_fail(__FILE__, __LINE__, "%d golden case(s) mismatched (listed above)", bad);
}

static fz_reason decode(fz_decoder *d, const char *msg, fz_event *ev, char *detail) {
    return fz_event_decode(d, msg, strlen(msg), ev, detail, 256);
}

/* The fields of accepted events, not just the verdict. */
TEST_IMPL(event_fields) {
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    fz_event ev;
    char detail[256];

    ASSERT_EQ_I64(decode(d, cases[0].json, &ev, detail), FZ_REASON_NONE);
    ASSERT_EQ_I64(ev.type, FZ_EV_SMS);
    ASSERT_EQ_I64(ev.ts_ms, 1764288000123LL);
    ASSERT_VIEW_EQ(ev.id.p, ev.id.n, "e1");
    ASSERT_VIEW_EQ(ev.fields[FZ_FIELD_TEXT].p, ev.fields[FZ_FIELD_TEXT].n, "hello");
    ASSERT_VIEW_EQ(ev.fields[FZ_FIELD_FROM].p, ev.fields[FZ_FIELD_FROM].n, "+8613800000000");
    ASSERT_VIEW_EQ(ev.fields[FZ_FIELD_TO].p, ev.fields[FZ_FIELD_TO].n, "+8613900000000");
    ASSERT(!ev.has_amount);
    ASSERT_EQ_I64(ev.duration_s, -1);
    ASSERT_VIEW_EQ(ev.currency.p, ev.currency.n, "CNY"); /* default */

    ASSERT_EQ_I64(decode(d, cases[1].json, &ev, detail), FZ_REASON_NONE);
    ASSERT_EQ_I64(ev.type, FZ_EV_CALL);
    ASSERT_EQ_I64(ev.duration_s, 30);
    ASSERT(ev.fields[FZ_FIELD_TEXT].p == NULL);

    ASSERT_EQ_I64(decode(d, cases[2].json, &ev, detail), FZ_REASON_NONE);
    ASSERT_EQ_I64(ev.type, FZ_EV_TRANSFER);
    ASSERT(ev.has_amount);
    ASSERT_EQ_I64(ev.amount_minor, 1250);

    ASSERT_EQ_I64(decode(d, cases[3].json, &ev, detail), FZ_REASON_NONE);
    ASSERT_EQ_I64(ev.type, FZ_EV_REPORT);
    ASSERT_EQ_I64(ev.amount_minor, 10000); /* JSON number 100 CNY */
    ASSERT_VIEW_EQ(ev.category.p, ev.category.n, "investment");
    ASSERT(ev.fields[FZ_FIELD_TO].p == NULL);

    ASSERT_EQ_I64(decode(d,
                         E("\"id\":\"j\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\",\"to\":"
                           "\"b\",\"amount\":\"1000\",\"currency\":\"JPY\""),
                         &ev, detail),
                  FZ_REASON_NONE);
    ASSERT_EQ_I64(ev.amount_minor, 1000);
    ASSERT_EQ_I64(decode(d,
                         E("\"id\":\"k\",\"ts\":1,\"type\":\"transfer\",\"from\":\"a\",\"to\":"
                           "\"b\",\"amount\":1.5,\"currency\":\"KWD\""),
                         &ev, detail),
                  FZ_REASON_NONE);
    ASSERT_EQ_I64(ev.amount_minor, 1500);
    ASSERT_VIEW_EQ(ev.currency.p, ev.currency.n, "KWD");

    /* "" is present, not absent */
    ASSERT_EQ_I64(decode(d, E("\"id\":\"e\"," SMS ",\"text\":\"\",\"to\":\"\""), &ev, detail),
                  FZ_REASON_NONE);
    ASSERT(ev.fields[FZ_FIELD_TEXT].p != NULL && ev.fields[FZ_FIELD_TEXT].n == 0);
    ASSERT(ev.fields[FZ_FIELD_TO].p != NULL && ev.fields[FZ_FIELD_TO].n == 0);
    ASSERT(ev.fields[FZ_FIELD_FROM].p == NULL);

    /* a repeated key: the last one wins */
    ASSERT_EQ_I64(
        decode(d, E("\"id\":\"r\"," SMS ",\"text\":\"first\",\"text\":\"second\""), &ev, detail),
        FZ_REASON_NONE);
    ASSERT_VIEW_EQ(ev.fields[FZ_FIELD_TEXT].p, ev.fields[FZ_FIELD_TEXT].n, "second");
    fz_decoder_destroy(d);
}

TEST_IMPL(event_escapes) {
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    fz_event ev;
    char detail[256];
    const fz_str *text = &ev.fields[FZ_FIELD_TEXT];

    ASSERT_EQ_I64(decode(d, E("\"id\":\"e\"," SMS ",\"text\":\"\\u8d26\\u6237\""), &ev, detail),
                  FZ_REASON_NONE);
    ASSERT_VIEW_EQ(text->p, text->n, "\xe8\xb4\xa6\xe6\x88\xb7"); /* 账户 */

    ASSERT_EQ_I64(decode(d, E("\"id\":\"e\"," SMS ",\"text\":\"\\ud83d\\ude00\""), &ev, detail),
                  FZ_REASON_NONE);
    ASSERT_VIEW_EQ(text->p, text->n, "\xf0\x9f\x98\x80"); /* U+1F600 */

    ASSERT_EQ_I64(decode(d, E("\"id\":\"e\"," SMS ",\"text\":\"\\uD83D\\uDE00\""), &ev, detail),
                  FZ_REASON_NONE);
    ASSERT_VIEW_EQ(text->p, text->n, "\xf0\x9f\x98\x80"); /* upper-case hex */

    ASSERT_EQ_I64(
        decode(d,
               E("\"id\":\"e\"," SMS ",\"text\":\"q\\\"b\\\\s\\/n\\nt\\tr\\rb\\bf\\fz\\u0000.\""),
               &ev, detail),
        FZ_REASON_NONE);
    ASSERT_EQ_U64(text->n, 19);
    ASSERT(memcmp(text->p, "q\"b\\s/n\nt\tr\rb\bf\fz\0.", 19) == 0);

    /* an escaped id is unescaped too */
    ASSERT_EQ_I64(decode(d, E("\"id\":\"\\u0041-\\u00e9\"," SMS ",\"text\":\"x\""), &ev, detail),
                  FZ_REASON_NONE);
    ASSERT_VIEW_EQ(ev.id.p, ev.id.n, "A-\xc3\xa9");

    /* plain text next to escapes */
    ASSERT_EQ_I64(
        decode(d, E("\"id\":\"e\"," SMS ",\"text\":\"您的\\u8d26\\u6237已冻结\""), &ev, detail),
        FZ_REASON_NONE);
    ASSERT_VIEW_EQ(text->p, text->n, "您的账户已冻结");

    /* lone surrogate: invalid_utf8 naming the field, id kept */
    ASSERT_EQ_I64(decode(d, E("\"id\":\"ls\"," SMS ",\"text\":\"\\ud800x\""), &ev, detail),
                  FZ_REASON_INVALID_UTF8);
    ASSERT_CONTAINS(detail, "'text'");
    ASSERT_VIEW_EQ(ev.id.p, ev.id.n, "ls");
    ASSERT_EQ_I64(
        decode(d, E("\"id\":\"ls\"," SMS ",\"text\":\"x\",\"from\":\"\\udfff\""), &ev, detail),
        FZ_REASON_INVALID_UTF8);
    ASSERT_CONTAINS(detail, "'from'");
    fz_decoder_destroy(d);
}

static int inside(const char *p, size_t n, const char *buf, size_t len) {
    return p >= buf && p + n <= buf + len;
}

TEST_IMPL(event_views) {
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    fz_event ev;
    char detail[256];
    char msg[] = E("\"id\":\"v1\"," SMS ",\"from\":\"+861\",\"to\":\"+862\",\"text\":\"账户\","
                   "\"currency\":\"USD\",\"category\":\"c\"");
    size_t len = strlen(msg);
    ASSERT_EQ_I64(fz_event_decode(d, msg, len, &ev, detail, sizeof(detail)), FZ_REASON_NONE);
    ASSERT(inside(ev.id.p, ev.id.n, msg, len));
    for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++)
        ASSERT(inside(ev.fields[f].p, ev.fields[f].n, msg, len));
    ASSERT(inside(ev.currency.p, ev.currency.n, msg, len));
    ASSERT(inside(ev.category.p, ev.category.n, msg, len));
    /* the view is exactly the string's contents */
    ASSERT(ev.fields[FZ_FIELD_TEXT].p == strstr(msg, "账户"));

    /* with an escape only that field moves to the arena */
    char msg2[] = E("\"id\":\"v2\"," SMS ",\"from\":\"+861\",\"text\":\"a\\nb\"");
    size_t len2 = strlen(msg2);
    ASSERT_EQ_I64(fz_event_decode(d, msg2, len2, &ev, detail, sizeof(detail)), FZ_REASON_NONE);
    ASSERT(inside(ev.id.p, ev.id.n, msg2, len2));
    ASSERT(inside(ev.fields[FZ_FIELD_FROM].p, ev.fields[FZ_FIELD_FROM].n, msg2, len2));
    ASSERT(!inside(ev.fields[FZ_FIELD_TEXT].p, ev.fields[FZ_FIELD_TEXT].n, msg2, len2));
    fz_str arena_view = ev.fields[FZ_FIELD_TEXT];
    ASSERT_VIEW_EQ(arena_view.p, arena_view.n, "a\nb");

    /* without a reset, a later decode does not overwrite earlier arena views */
    char msg3[] = E("\"id\":\"v3\"," SMS ",\"text\":\"c\\td\"");
    ASSERT_EQ_I64(fz_event_decode(d, msg3, strlen(msg3), &ev, detail, sizeof(detail)),
                  FZ_REASON_NONE);
    ASSERT_VIEW_EQ(arena_view.p, arena_view.n, "a\nb");
    ASSERT_VIEW_EQ(ev.fields[FZ_FIELD_TEXT].p, ev.fields[FZ_FIELD_TEXT].n, "c\td");
    fz_decoder_destroy(d);
}

/* A full arena is reported (never overrun) and a reset makes room again. */
TEST_IMPL(event_arena_limit) {
    fz_decoder *d = new_decoder(128, 128, MAX_TOKENS);
    fz_event ev;
    char detail[256];
    const char *msg = E("\"id\":\"a\"," SMS ",\"text\":\"0123456789\\n0123456789\"");
    int ok = 0;
    fz_reason r = FZ_REASON_NONE;
    for (int i = 0; i < 100 && r == FZ_REASON_NONE; i++) {
        r = decode(d, msg, &ev, detail);
        ok += r == FZ_REASON_NONE;
    }
    ASSERT(ok >= 5 && ok <= 128 / 21);
    ASSERT_EQ_I64(r, FZ_REASON_TOO_LARGE);
    ASSERT_CONTAINS(detail, "'text'");
    fz_decoder_reset_arena(d);
    ASSERT_EQ_I64(decode(d, msg, &ev, detail), FZ_REASON_NONE);
    fz_decoder_destroy(d);
}

TEST_IMPL(event_skip_unknown) {
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    fz_event ev;
    char detail[256];
    const char *msg =
        E("\"meta\":{\"id\":\"nested-id\",\"ts\":\"bad\",\"text\":\"nested\",\"deep\":{\"type\":"
          "\"call\"}},\"id\":\"n1\",\"list\":[1,{\"text\":\"in list\"},[\"x\",[null]]],"
          "\"ts\":5,\"empty\":{},\"none\":[],\"type\":\"sms\",\"flag\":false,\"num\":-1.5e-3,"
          "\"text\":\"real\",\"trailer\":{\"a\":[{\"b\":{\"c\":\"d\"}}]}");
    ASSERT_EQ_I64(decode(d, msg, &ev, detail), FZ_REASON_NONE);
    ASSERT_VIEW_EQ(ev.id.p, ev.id.n, "n1");
    ASSERT_EQ_I64(ev.ts_ms, 5);
    ASSERT_EQ_I64(ev.type, FZ_EV_SMS);
    ASSERT_VIEW_EQ(ev.fields[FZ_FIELD_TEXT].p, ev.fields[FZ_FIELD_TEXT].n, "real");
    /* and the nested "text" does not fill a missing top-level one */
    ASSERT_EQ_I64(decode(d, E("\"id\":\"n2\"," SMS ",\"x\":{\"text\":\"nested\"}"), &ev, detail),
                  FZ_REASON_MISSING_FIELD);
    ASSERT_CONTAINS(detail, "'text'");
    fz_decoder_destroy(d);
}

/*
 * Malformed JSON that a tokeniser may let through (stray or missing
 * commas, keys without values, raw control characters in strings) must be
 * rejected as invalid_json, like any other non-JSON.
 */
TEST_IMPL(event_strict_json) {
    static const golden strict[] = {
        {"trailing comma", E("\"id\":\"x\"," SMS ",\"text\":\"a\","), FZ_REASON_INVALID_JSON, NULL,
         NULL},
        {"leading comma", E(",\"id\":\"x\"," SMS ",\"text\":\"a\""), FZ_REASON_INVALID_JSON, NULL,
         NULL},
        {"double comma", E("\"id\":\"x\",," SMS ",\"text\":\"a\""), FZ_REASON_INVALID_JSON, NULL,
         NULL},
        {"missing comma", E("\"id\":\"x\" " SMS ",\"text\":\"a\""), FZ_REASON_INVALID_JSON, NULL,
         NULL},
        {"array missing comma", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":[1 2]"),
         FZ_REASON_INVALID_JSON, NULL, NULL},
        {"array trailing comma", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":[1,]"),
         FZ_REASON_INVALID_JSON, NULL, NULL},
        {"nested key without value", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":{\"k\"}"),
         FZ_REASON_INVALID_JSON, NULL, NULL},
        {"nested key with empty value", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":{\"k\":}"),
         FZ_REASON_INVALID_JSON, NULL, NULL},
        {"colon in array", E("\"id\":\"x\"," SMS ",\"text\":\"a\",\"z\":[\"k\":1]"),
         FZ_REASON_INVALID_JSON, NULL, NULL},
        {"raw tab in string", E("\"id\":\"x\"," SMS ",\"text\":\"a\tb\""), FZ_REASON_INVALID_JSON,
         NULL, NULL},
        {"raw newline in string", E("\"id\":\"x\"," SMS ",\"text\":\"a\nb\""),
         FZ_REASON_INVALID_JSON, NULL, NULL},
    };
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    int bad = 0;
    for (size_t i = 0; i < FZ_ARRAY_LEN(strict); i++) {
        /* the test's own parser agrees these are not JSON */
        char jerr[128];
        tj *v = tj_parse(strict[i].json, strlen(strict[i].json), jerr, sizeof(jerr));
        ASSERT(v == NULL);
        bad += check(d, strict[i].name, strict[i].json, strlen(strict[i].json), strict[i].reason,
                     strict[i].detail_has, strict[i].id);
    }
    fz_decoder_destroy(d);
    if (bad)
        fz_test_fail(__FILE__, __LINE__, "%d malformed message(s) not rejected as invalid_json",
                     bad);
}

/* docs/events.md: key names and the "type" value are compared byte for
 * byte, before unescaping; escapes in values are decoded. */
TEST_IMPL(event_type_escaped) {
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    fz_event ev;
    char detail[256];
    ASSERT_EQ_I64(
        decode(d, E("\"id\":\"x\",\"ts\":1,\"type\":\"s\\u006ds\",\"text\":\"a\""), &ev, detail),
        FZ_REASON_BAD_VALUE);
    ASSERT_CONTAINS(detail, "'type'");
    ASSERT_EQ_I64(decode(d, E("\"id\":\"x\"," SMS ",\"t\\u0065xt\":\"a\""), &ev, detail),
                  FZ_REASON_MISSING_FIELD);
    ASSERT_CONTAINS(detail, "'text'");
    fz_decoder_destroy(d);
}

/* A JSON scalar is JSON, but not an object: not_object, like "x" and [1]
 * (docs/events.md: not_object = "JSON, but not an object"). */
TEST_IMPL(event_scalar_not_object) {
    static const golden scalars[] = {
        {"number", "123", FZ_REASON_NOT_OBJECT, "object", NULL},
        {"negative number", " -1.5e3 ", FZ_REASON_NOT_OBJECT, "object", NULL},
        {"null", "null", FZ_REASON_NOT_OBJECT, "object", NULL},
        {"true", "true\n", FZ_REASON_NOT_OBJECT, "object", NULL},
        {"false", "false", FZ_REASON_NOT_OBJECT, "object", NULL},
    };
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    int bad = 0;
    for (size_t i = 0; i < FZ_ARRAY_LEN(scalars); i++)
        bad += check(d, scalars[i].name, scalars[i].json, strlen(scalars[i].json),
                     scalars[i].reason, scalars[i].detail_has, scalars[i].id);
    fz_decoder_destroy(d);
    if (bad) fz_test_fail(__FILE__, __LINE__, "%d JSON scalar(s) not reported as not_object", bad);
}

/* A string field of a decoded event equals the strict parser's member
 * (absent or null: no view). */
static void same_member(const tj *obj, const char *key, fz_str got, const char *m, size_t n) {
    const tj *v = tj_get(obj, key);
    if (!v || v->type == TJ_NULL) {
        if (got.p) fz_test_fail(__FILE__, __LINE__, "'%s' should be absent: %.*s", key, (int)n, m);
        return;
    }
    if (v->type != TJ_STR || !got.p || got.n != v->len || memcmp(got.p, v->str, v->len) != 0)
        fz_test_fail(__FILE__, __LINE__, "'%s' is \"%.*s\", strict parser says \"%s\": %.*s", key,
                     (int)got.n, got.p ? got.p : "", v->type == TJ_STR ? v->str : "(not a string)",
                     (int)n, m);
}

/* Byte-level mutations of valid events, judged by the strict parser in
 * helpers.c: the decoder says invalid_json exactly when the mutant is not
 * JSON (for valid UTF-8 mutants; duplicate keys are allowed by both), and
 * when it decodes one, its id, text, from and to are the members the
 * strict parser finds (the last of repeated keys). The long text puts
 * escapes and mutations at every offset of the eight-byte string scan. */
TEST_IMPL(event_json_syntax_oracle) {
    static const char *const seeds[] = {
        E("\"id\":\"s1\"," SMS ",\"text\":\"账户 \\u8d26\\n\",\"from\":null"),
        E("\"id\":\"s2\",\"ts\":12,\"type\":\"transfer\",\"from\":\"a\",\"to\":\"b\","
          "\"amount\":12.5,\"meta\":{\"k\":[1,-2.5e-3,true,false,null,{}],\"e\":[]}"),
        E("\"id\":\"s3\",\"ts\":0,\"type\":\"call\",\"from\":\"1\",\"to\":\"2\","
          "\"duration_s\":30,\"x\":[[[\"deep\"]]]"),
        E("\"id\":\"s4\"," SMS ",\"text\":\"Your parcel is held: pay the fee at "
          "http://x.example/\\\"a\\\" now \\u4f60\\u597d, or it goes back \\t to the sender "
          "today; 账户冻结 请点击链接 0123456789abcdefghij\",\"from\":\"10086\",\"to\":"
          "\"13800000000\",\"text\":\"second text wins over the first one, a long one too\""),
    };
    static const char inserts[] = "{}[]:,\" \\/0123456789-+.eEtrufalsn\t\n\x01"
                                  "abc";
    fz_decoder *d = new_decoder(MAX_BYTES, 64 * MAX_BYTES, 256);
    tj_allow_duplicate_keys = 1;
    int json_ok = 0, json_bad = 0, decoded = 0;
    for (int iter = 0; iter < 40000; iter++) {
        const char *seed = seeds[fz_test_rand_below(FZ_ARRAY_LEN(seeds))];
        char m[512];
        size_t n = strlen(seed);
        memcpy(m, seed, n);
        int nmut = 1 + (int)fz_test_rand_below(3);
        for (int k = 0; k < nmut && n > 0; k++) {
            size_t at = fz_test_rand_below(n);
            char c = inserts[fz_test_rand_below(sizeof(inserts) - 1)];
            switch (fz_test_rand_below(3)) {
            case 0: /* delete */
                memmove(m + at, m + at + 1, n - at - 1);
                n--;
                break;
            case 1: /* insert */
                memmove(m + at + 1, m + at, n - at);
                m[at] = c;
                n++;
                break;
            default: /* replace */ m[at] = c; break;
            }
        }
        if (!tu_valid((const unsigned char *)m, n, NULL)) continue; /* invalid_utf8 decides first */
        char jerr[128];
        tj *v = tj_parse(m, n, jerr, sizeof(jerr));
        fz_event ev;
        char detail[256];
        fz_decoder_reset_arena(d);
        fz_reason r = fz_event_decode(d, m, n, &ev, detail, sizeof(detail));
        if ((v != NULL) == (r == FZ_REASON_INVALID_JSON) &&
            !(v && v->type != TJ_OBJ)) /* scalars: see event_scalar_not_object */
            fz_test_fail(__FILE__, __LINE__, "decoder says %s (%s), strict parser says %s: %.*s",
                         fz_reason_name(r), detail, v ? "valid JSON" : jerr, (int)n, m);
        if (v && r == FZ_REASON_NONE) {
            same_member(v, "id", ev.id, m, n);
            same_member(v, "text", ev.fields[FZ_FIELD_TEXT], m, n);
            same_member(v, "from", ev.fields[FZ_FIELD_FROM], m, n);
            same_member(v, "to", ev.fields[FZ_FIELD_TO], m, n);
            decoded++;
        }
        json_ok += v != NULL;
        json_bad += v == NULL;
        tj_free(v);
    }
    tj_allow_duplicate_keys = 0;
    ASSERT(json_ok > 1000 && json_bad > 1000 && decoded > 1000);
    fz_decoder_destroy(d);
}

TEST_IMPL(event_amount_parse) {
    static const struct {
        const char *s;
        int decimals;
        int ok;
        int64_t want;
        const char *why; /* detail fragment on failure */
    } t[] = {
        {"0", 2, 1, 0, NULL},
        {"12", 2, 1, 1200, NULL},
        {"12.5", 2, 1, 1250, NULL},
        {"12.50", 2, 1, 1250, NULL},
        {"12.500", 2, 1, 1250, NULL}, /* trailing zeros beyond the minor unit are fine */
        {"0.01", 2, 1, 1, NULL},
        {"007", 2, 1, 700, NULL},
        {"12.501", 2, 0, 0, "decimal"},
        {"0.001", 2, 0, 0, "decimal"},
        {"92233720368547758.07", 2, 1, INT64_MAX, NULL},
        {"92233720368547758.08", 2, 0, 0, "too large"},
        {"92233720368547758", 2, 1, INT64_MAX - 7, NULL},
        {"92233720368547759", 2, 0, 0, "too large"},
        {"9223372036854775807", 2, 0, 0, "too large"},
        {"9223372036854775807", 0, 1, INT64_MAX, NULL},
        {"9223372036854775808", 0, 0, 0, "too large"},
        {"99999999999999999999999", 0, 0, 0, "too large"},
        {"1000", 0, 1, 1000, NULL}, /* JPY */
        {"1000.0", 0, 1, 1000, NULL},
        {"1000.5", 0, 0, 0, "decimal"},
        {"1.234", 3, 1, 1234, NULL}, /* KWD */
        {"1.2", 3, 1, 1200, NULL},
        {"1.2345", 3, 0, 0, "decimal"},
        {"", 2, 0, 0, "empty"},
        {"-1", 2, 0, 0, "negative"},
        {"-0", 2, 0, 0, "negative"},
        {"+5", 2, 0, 0, NULL},
        {".5", 2, 0, 0, NULL},
        {"5.", 2, 0, 0, NULL},
        {"1,000", 2, 0, 0, NULL},
        {" 5", 2, 0, 0, NULL},
        {"5 ", 2, 0, 0, NULL},
        {"1e3", 2, 0, 0, NULL},
        {"0x10", 2, 0, 0, NULL},
        {"1.2.3", 2, 0, 0, NULL},
        {"١٢", 2, 0, 0, NULL}, /* Arabic-Indic digits */
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(t); i++) {
        fz_test_context("amount \"%s\" with %d decimals", t[i].s, t[i].decimals);
        int64_t out = -42;
        char detail[128] = "";
        int rc =
            fz_amount_parse(t[i].s, strlen(t[i].s), t[i].decimals, &out, detail, sizeof(detail));
        if (t[i].ok) {
            ASSERT_EQ_I64(rc, 0);
            ASSERT_EQ_I64(out, t[i].want);
        } else {
            ASSERT_EQ_I64(rc, -1);
            ASSERT(detail[0] != '\0');
            if (t[i].why) ASSERT_CONTAINS(detail, t[i].why);
        }
    }
    fz_test_context("%s", "");
    /* the length bounds the parse: bytes after n are not read */
    int64_t out;
    char detail[128];
    ASSERT_EQ_I64(fz_amount_parse("12.34xyz", 4, 2, &out, detail, sizeof(detail)), 0);
    ASSERT_EQ_I64(out, 1230);
}

TEST_IMPL(event_currency_decimals) {
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("CNY")), 2);
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("USD")), 2);
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("JPY")), 0);
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("KRW")), 0);
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("KWD")), 3);
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("BHD")), 3);
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("XXX")), 2); /* unknown: 2 */
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("JP")), 2);
    ASSERT_EQ_I64(fz_currency_decimals(FZ_STR_LIT("JPYY")), 2);
    /* the view's length counts, not a terminator */
    ASSERT_EQ_I64(fz_currency_decimals((fz_str){"JPYEN", 3}), 0);

    /* names used by dead letters and verdicts */
    ASSERT_STR_EQ(fz_reason_name(FZ_REASON_INVALID_JSON), "invalid_json");
    ASSERT_STR_EQ(fz_reason_name(FZ_REASON_MISSING_FIELD), "missing_field");
    ASSERT_STR_EQ(fz_event_type_name(FZ_EV_TRANSFER), "transfer");
    ASSERT_EQ_I64(fz_field_parse("from", 4), FZ_FIELD_FROM);
    ASSERT_EQ_I64(fz_field_parse("body", 4), -1);
    ASSERT_EQ_I64(fz_field_parse("textx", 4), FZ_FIELD_TEXT);
}

/* Hostile times and money: ts beyond 9999-12-31 and amounts above
 * FZ_AMOUNT_MAX_MINOR are bad values naming the field. */
TEST_IMPL(event_time_and_money_bounds) {
    fz_decoder *d = new_decoder(MAX_BYTES, 4 * MAX_BYTES, MAX_TOKENS);
    fz_event ev;
    char detail[256];
    ASSERT_EQ_I64(decode(d, "{\"id\":\"a\",\"ts\":253402300799999,\"type\":\"sms\",\"text\":\"x\"}",
                         &ev, detail),
                  FZ_REASON_NONE);
    ASSERT_EQ_I64(decode(d, "{\"id\":\"a\",\"ts\":253402300800000,\"type\":\"sms\",\"text\":\"x\"}",
                         &ev, detail),
                  FZ_REASON_BAD_VALUE);
    ASSERT_CONTAINS(detail, "'ts'");
    ASSERT_EQ_I64(
        decode(d, "{\"id\":\"a\",\"ts\":9223372036854775807,\"type\":\"sms\",\"text\":\"x\"}", &ev,
               detail),
        FZ_REASON_BAD_VALUE);
    ASSERT_CONTAINS(detail, "'ts'");
    /* every length of ts, through the eight-digits-at-a-time parse */
    static const char *const ts_ok[] = {
        "7", "12345678", "123456789", "1764288000123", "100000000000000", "253402300799999"};
    for (size_t k = 0; k < FZ_ARRAY_LEN(ts_ok); k++) {
        char msg[128];
        snprintf(msg, sizeof(msg), "{\"id\":\"a\",\"ts\":%s,\"type\":\"sms\",\"text\":\"x\"}",
                 ts_ok[k]);
        ASSERT_EQ_I64(decode(d, msg, &ev, detail), FZ_REASON_NONE);
        ASSERT_EQ_I64(ev.ts_ms, strtoll(ts_ok[k], NULL, 10));
    }
    ASSERT_EQ_I64(decode(d,
                         "{\"id\":\"a\",\"ts\":123456789012345678,\"type\":\"sms\",\"text\":\"x\"}",
                         &ev, detail),
                  FZ_REASON_BAD_VALUE);
    ASSERT_EQ_I64(
        decode(d, "{\"id\":\"a\",\"ts\":-12345678,\"type\":\"sms\",\"text\":\"x\"}", &ev, detail),
        FZ_REASON_BAD_VALUE);
    /* 10^15 minor units is the most; two of the largest amounts still sum in int64 */
    ASSERT_EQ_I64(decode(d,
                         "{\"id\":\"r\",\"ts\":1,\"type\":\"report\",\"from\":\"1\","
                         "\"amount\":\"10000000000000.00\"}",
                         &ev, detail),
                  FZ_REASON_NONE);
    ASSERT_EQ_I64(ev.amount_minor, 1000000000000000LL);
    ASSERT_EQ_I64(decode(d,
                         "{\"id\":\"r\",\"ts\":1,\"type\":\"report\",\"from\":\"1\","
                         "\"amount\":\"10000000000000.01\"}",
                         &ev, detail),
                  FZ_REASON_BAD_VALUE);
    ASSERT_CONTAINS(detail, "'amount'");
    ASSERT_EQ_I64(decode(d,
                         "{\"id\":\"r\",\"ts\":1,\"type\":\"report\",\"from\":\"1\","
                         "\"amount\":\"50000000000000000\"}",
                         &ev, detail),
                  FZ_REASON_BAD_VALUE);
    fz_decoder_destroy(d);
}
