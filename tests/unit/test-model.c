/*
 * test-model.c - the text scorer (model.h) and model terms (lazyterm.h):
 * feature hashing against golden values and an independent oracle; the
 * file's round trip (deterministic bytes, the parsed model scores as the
 * naive formula over its dequantised weights, quantisation error bounded);
 * every flipped byte, truncation and extension of a file refused; model
 * terms in rules (errors with file:line, lazy evaluation counted by the
 * scorer calls, model-only rules scoring every text event and never a
 * text-less one, alerts' scores, compiled files carrying the model, the
 * model's bytes in the ruleset version).
 */
#include <math.h>
#include <stdlib.h>
#include <xxhash.h>

#include "alert.h"
#include "matcher.h"
#include "model.h"
#include "norm.h"
#include "rules.h"
#include "ruletest.h"
#include "test.h"

/* fz_model_ngrams() of "ab 12" in 2^16 buckets, character 1-2-grams, word
 * 1-2-grams, digits folded: every bucket as 4 hex digits */
#define MODEL_GOLDEN_HEX "c4849f2badac4e2bd4dd936cb8553c8ab855af88a45899a7"

/* ---- features ---- */

typedef struct grams {
    uint32_t v[256];
    size_t n;
} grams;

static void collect(void *ctx, uint32_t b) {
    grams *g = ctx;
    if (g->n < 256) g->v[g->n++] = b;
}

/* The bucket of a character n-gram, written out from model.c's
 * definition: code points packed 21 bits each, xored with the order's
 * seed, times 2^64 / golden ratio, the top bits. */
static uint32_t char_bucket(const uint32_t *cps, unsigned k, unsigned bits) {
    uint64_t key = 0;
    for (unsigned i = 0; i < k; i++) key = (key << 21) | cps[i];
    return (uint32_t)(((key ^ (0x6368617200000000ull + k)) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

TEST_IMPL(model_features_golden) {
    fz_model_features f = {16, 1, 2, 2, FZ_MODEL_FOLD_DIGITS, 0};
    grams g = {{0}, 0};
    /* "ab 12": code points a b ' ' 0 0 (digits folded); words "ab", "00" */
    size_t n = fz_model_ngrams(&f, "ab 12", 5, collect, &g);
    ASSERT_EQ_U64(n, g.n);
    ASSERT_EQ_U64(n, 5 + 4 + 2 + 1); /* 5 unigrams, 4 bigrams, 2 words, 1 word pair */
    /* the oracle: order of emission is per code point, unigram then bigram */
    const uint32_t cps[] = {'a', 'b', ' ', '0', '0'};
    ASSERT_EQ_U64(g.v[0], char_bucket(cps, 1, 16));
    ASSERT_EQ_U64(g.v[1], char_bucket(cps + 1, 1, 16));
    ASSERT_EQ_U64(g.v[2], char_bucket(cps, 2, 16));
    /* the word "ab" is emitted when the space ends it */
    ASSERT_EQ_U64(g.v[3],
                  (uint32_t)(XXH3_64bits_withSeed("ab", 2, 0x776f726401000000ull) >> (64 - 16)));
    /* golden: these buckets are what the shipped models were trained with;
     * a change here means every model must be trained again */
    char hex[128];
    size_t o = 0;
    for (size_t i = 0; i < g.n; i++)
        o += (size_t)snprintf(hex + o, sizeof(hex) - o, "%04x", g.v[i]);
    ASSERT_STR_EQ(hex, MODEL_GOLDEN_HEX);
    /* CJK: one code point each; no words */
    g.n = 0;
    fz_model_features c3 = {12, 1, 3, 0, 0, 0};
    n = fz_model_ngrams(&c3, "银行卡", strlen("银行卡"), collect, &g);
    ASSERT_EQ_U64(n, 3 + 2 + 1);
    const uint32_t zh[] = {0x94f6, 0x884c, 0x5361};
    ASSERT_EQ_U64(g.v[5], char_bucket(zh, 3, 12));
    /* digits kept: "12" differs from "00" */
    grams a = {{0}, 0}, b = {{0}, 0};
    fz_model_features keep = {16, 1, 1, 1, 0, 0};
    fz_model_ngrams(&keep, "12", 2, collect, &a);
    fz_model_ngrams(&keep, "00", 2, collect, &b);
    ASSERT(memcmp(a.v, b.v, a.n * sizeof(uint32_t)) != 0);
    fz_model_features fold = {16, 1, 1, 1, FZ_MODEL_FOLD_DIGITS, 0};
    a.n = b.n = 0;
    fz_model_ngrams(&fold, "12", 2, collect, &a);
    fz_model_ngrams(&fold, "00", 2, collect, &b);
    ASSERT_EQ_U64(a.n, b.n);
    ASSERT(memcmp(a.v, b.v, a.n * sizeof(uint32_t)) == 0);
    /* invalid UTF-8 and an empty text do not crash and give what they can */
    g.n = 0;
    ASSERT_EQ_U64(fz_model_ngrams(&f, "\xe4\xb8", 2, collect, &g), 2 + 1);
    ASSERT_EQ_U64(fz_model_ngrams(&f, "", 0, collect, &g), 0);
}

TEST_IMPL(model_features_check) {
    char err[256];
    const fz_model_features bad[] = {
        {9, 1, 3, 2, 0, 0},  {25, 1, 3, 2, 0, 0}, {16, 0, 3, 2, 0, 0},
        {16, 2, 1, 2, 0, 0}, {16, 1, 4, 2, 0, 0}, {16, 1, 3, 3, 0, 0},
        {16, 0, 0, 0, 0, 0}, {16, 1, 3, 2, 4, 0}, {16, 1, 3, 2, 0, FZ_MODEL_MAX_CHARS + 1},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(bad); i++) {
        fz_test_context("case %zu", i);
        ASSERT(fz_model_features_check(&bad[i], err, sizeof(err)) == -1);
        ASSERT(err[0] != '\0');
    }
    const fz_model_features ok = {16, 0, 0, 1, 0, 0};
    ASSERT(fz_model_features_check(&ok, err, sizeof(err)) == 0);
}

/* ---- the file ---- */

static double *random_weights(unsigned bits, double amp) {
    size_t n = (size_t)1 << bits;
    double *w = malloc(n * sizeof(double));
    ASSERT(w != NULL);
    for (size_t i = 0; i < n; i++)
        w[i] = ((double)fz_test_rand_below(2000001) / 1000000.0 - 1.0) * amp;
    return w;
}

typedef struct naive {
    const double *w;
    double sum;
} naive;

static void add_naive(void *ctx, uint32_t b) {
    naive *a = ctx;
    a->sum += a->w[b];
}

static double naive_score(const fz_model_features *f, const double *w, double bias, const char *t) {
    naive a = {w, 0};
    size_t n = fz_model_ngrams(f, t, strlen(t), add_naive, &a);
    double z = bias + (n ? a.sum / sqrt((double)n) : 0);
    return 1 / (1 + exp(-z));
}

/* Make a model file's checksum right again after an edit (the checksum
 * covers the first 24 bytes of the header and the body), so that what is
 * refused is the edited value, not the checksum. */
static void reseal(uint8_t *file, size_t len) {
    XXH3_state_t *st = XXH3_createState();
    ASSERT(st != NULL);
    XXH3_128bits_reset(st);
    XXH3_128bits_update(st, file, 24);
    XXH3_128bits_update(st, file + FZ_MODEL_HEADER_BYTES, len - FZ_MODEL_HEADER_BYTES);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    memcpy(file + 24, c.digest, 16);
}

static const char *const texts[] = {
    "",
    "a",
    "your parcel is held, pay 2.99 gbp at http://x.co/abc",
    "您的账户存在异常已被冻结请点击链接验证",
    "明天下午三点开会",
    "mixed 中文 and english 123",
};

TEST_IMPL(model_file_roundtrip) {
    fz_model_features f = {12, 1, 3, 2, FZ_MODEL_FOLD_DIGITS, 0};
    double *w = random_weights(12, 3.0);
    fz_model_spec spec = {f, -0.25, w, 0.7, "trained by a test\n"};
    char err[256];
    size_t len, len2;
    uint8_t *file = fz_model_serialize(&spec, &len, err, sizeof(err));
    uint8_t *file2 = fz_model_serialize(&spec, &len2, err, sizeof(err));
    ASSERT(file && file2);
    ASSERT_EQ_U64(len, len2);
    ASSERT(memcmp(file, file2, len) == 0); /* deterministic */
    ASSERT_EQ_U64(len, FZ_MODEL_HEADER_BYTES + 36 + strlen(spec.meta) + 4096);
    fz_model *m = fz_model_parse("t.fzm", file, len, err, sizeof(err));
    if (!m) fz_test_fail(__FILE__, __LINE__, "%s", err);
    ASSERT_EQ_U64(fz_model_config(m)->bits, 12);
    ASSERT_EQ_U64(fz_model_config(m)->char_max, 3);
    ASSERT_EQ_U64(fz_model_config(m)->word_max, 2);
    ASSERT(fz_model_threshold(m) == 0.7);
    ASSERT_STR_EQ(fz_model_meta(m), "trained by a test\n");
    ASSERT(strncmp(fz_model_version(m), "fzm-", 4) == 0 && strlen(fz_model_version(m)) == 20);
    /* the dequantised weights: int8 at offset 40 + 36 + meta, times the scale */
    double scale;
    uint64_t bitsv = 0;
    for (int i = 7; i >= 0; i--) bitsv = (bitsv << 8) | file[FZ_MODEL_HEADER_BYTES + 16 + i];
    memcpy(&scale, &bitsv, sizeof(scale));
    const int8_t *q = (const int8_t *)(file + FZ_MODEL_HEADER_BYTES + 36 + strlen(spec.meta));
    double *dq = malloc(4096 * sizeof(double));
    ASSERT(dq != NULL);
    for (size_t i = 0; i < 4096; i++) dq[i] = q[i] * scale;
    for (size_t i = 0; i < FZ_ARRAY_LEN(texts); i++) {
        fz_test_context("text %zu", i);
        double s = fz_model_score(m, texts[i], strlen(texts[i]));
        ASSERT(s >= 0 && s <= 1);
        ASSERT(fabs(s - naive_score(&f, dq, -0.25, texts[i])) < 1e-9);
        /* quantisation: the score moves by little against the exact weights */
        ASSERT(fabs(s - naive_score(&f, w, -0.25, texts[i])) < 0.02);
    }
    ASSERT(fabs(fz_model_score(m, "", 0) - 1 / (1 + exp(0.25))) < 1e-9);
    fz_model_destroy(m);
    free(dq);
    free(w);
    free(file);
    free(file2);
}

TEST_IMPL(model_file_damage_refused) {
    fz_model_features f = {10, 1, 2, 1, 0, 0};
    double *w = random_weights(10, 1.0);
    fz_model_spec spec = {f, 0.5, w, 0.5, "meta"};
    char err[256];
    size_t len;
    uint8_t *file = fz_model_serialize(&spec, &len, err, sizeof(err));
    ASSERT(file != NULL);
    uint8_t *copy = malloc(len + 1);
    ASSERT(copy != NULL);
    for (size_t i = 0; i < len; i++) { /* every byte flipped */
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(copy, file, len);
            copy[i] ^= (uint8_t)(1u << bit);
            fz_test_context("byte %zu bit %d", i, bit);
            err[0] = '\0';
            ASSERT(fz_model_parse("m.fzm", copy, len, err, sizeof(err)) == NULL);
            ASSERT(strncmp(err, "m.fzm: ", 7) == 0);
        }
    }
    for (size_t n = 0; n < len; n++) { /* every truncation */
        fz_test_context("truncated to %zu", n);
        ASSERT(fz_model_parse("m.fzm", file, n, err, sizeof(err)) == NULL);
    }
    memcpy(copy, file, len);
    copy[len] = 0;
    ASSERT(fz_model_parse("m.fzm", copy, len + 1, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "truncated or damaged");
    /* a checksum recomputed over impossible values: refused for the value */
    fz_model_spec s2 = spec;
    s2.feat.bits = 10;
    uint8_t *f2 = fz_model_serialize(&s2, &len, err, sizeof(err));
    ASSERT(f2 != NULL);
    f2[FZ_MODEL_HEADER_BYTES] = 30; /* bits */
    reseal(f2, len);
    ASSERT(fz_model_parse("m.fzm", f2, len, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "hash bits 30");
    ASSERT(fz_model_parse("m.fzm", (const uint8_t *)"FZRULES", 8, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "not a fanzha model file");
    free(f2);
    free(copy);
    free(file);
    free(w);
}

/* max_chars: only the first code points count, a word cut by the bound ends
 * there; the bound is stored (format 2) and the parsed model scores exactly
 * the bounded text; a format 2 file without a bound, or any damaged byte of
 * one, is refused. */
TEST_IMPL(model_max_chars) {
    fz_model_features cap = {12, 1, 2, 1, 0, 3};
    fz_model_features all = cap;
    all.max_chars = 0;
    grams a = {{0}, 0}, b = {{0}, 0};
    /* "abcdef gh" bounded to 3 code points is "abc" */
    ASSERT_EQ_U64(fz_model_ngrams(&cap, "abcdef gh", 9, collect, &a), 3 + 2 + 1);
    fz_model_ngrams(&all, "abc", 3, collect, &b);
    ASSERT_EQ_U64(a.n, b.n);
    ASSERT(memcmp(a.v, b.v, a.n * sizeof(uint32_t)) == 0);
    /* code points, not bytes: three CJK characters are nine bytes */
    a.n = b.n = 0;
    fz_model_ngrams(&cap, "银行卡号码", strlen("银行卡号码"), collect, &a);
    fz_model_ngrams(&all, "银行卡", strlen("银行卡"), collect, &b);
    ASSERT_EQ_U64(a.n, 3 + 2);
    ASSERT(memcmp(a.v, b.v, a.n * sizeof(uint32_t)) == 0);
    /* a text shorter than the bound: the same features */
    a.n = b.n = 0;
    fz_model_ngrams(&cap, "ab", 2, collect, &a);
    fz_model_ngrams(&all, "ab", 2, collect, &b);
    ASSERT_EQ_U64(a.n, b.n);
    ASSERT(memcmp(a.v, b.v, a.n * sizeof(uint32_t)) == 0);

    /* the file keeps the bound */
    fz_model_features f = {12, 1, 2, 2, FZ_MODEL_FOLD_DIGITS, 40};
    double *w = random_weights(12, 1.0);
    fz_model_spec spec = {f, 0.25, w, 0.5, "meta"};
    char err[256];
    size_t len;
    uint8_t *file = fz_model_serialize(&spec, &len, err, sizeof(err));
    ASSERT(file != NULL);
    ASSERT_EQ_U64(file[8], FZ_MODEL_FORMAT);
    fz_model *m = fz_model_parse("m.fzm", file, len, err, sizeof(err));
    ASSERT(m != NULL);
    ASSERT_EQ_U64(fz_model_config(m)->max_chars, 40);
    ASSERT_EQ_U64(fz_model_format(m), FZ_MODEL_FORMAT);
    const char *text = "Your parcel is held at the depot: pay the 2 GBP fee at "
                       "http://parcel-fee.example within 24 hours";
    char head[41];
    memcpy(head, text, 40);
    head[40] = '\0';
    ASSERT(fz_model_score(m, text, strlen(text)) == fz_model_score(m, head, 40));
    double bounded = fz_model_score(m, text, strlen(text));
    fz_model_destroy(m);
    /* without a bound: format 1, as before */
    spec.feat.max_chars = 0;
    uint8_t *f1 = fz_model_serialize(&spec, &len, err, sizeof(err));
    ASSERT(f1 != NULL);
    ASSERT_EQ_U64(f1[8], FZ_MODEL_FORMAT_1);
    m = fz_model_parse("m.fzm", f1, len, err, sizeof(err));
    ASSERT(m != NULL);
    ASSERT_EQ_U64(fz_model_config(m)->max_chars, 0);
    ASSERT_EQ_U64(fz_model_format(m), FZ_MODEL_FORMAT_1);
    ASSERT(fz_model_score(m, head, 40) == bounded); /* same weights */
    ASSERT(fz_model_score(m, text, strlen(text)) != bounded);
    fz_model_destroy(m);
    free(f1);
    /* format 2 with a zero bound, checksum made right: refused */
    spec.feat.max_chars = 40;
    free(file);
    file = fz_model_serialize(&spec, &len, err, sizeof(err));
    ASSERT(file != NULL);
    memset(file + FZ_MODEL_HEADER_BYTES + 36, 0, 4);
    reseal(file, len);
    ASSERT(fz_model_parse("m.fzm", file, len, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "no bound");
    /* a bound above the largest: refused by the writer */
    spec.feat.max_chars = FZ_MODEL_MAX_CHARS + 1;
    ASSERT(fz_model_serialize(&spec, &len, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, "scored characters");
    free(file);
    free(w);
}

/* ---- model terms ---- */

/* A model over word unigrams whose only weight is on the word "fraud":
 * scores 0.5 with no n-gram, about 0.0067 (bias -5) without "fraud" and
 * close to 1 with it in a short text. */
static void write_test_model(const char *dir, const char *name, const char *word) {
    fz_model_features f = {10, 0, 0, 1, 0, 0};
    double *w = calloc(1024, sizeof(double));
    ASSERT(w != NULL);
    grams g = {{0}, 0};
    fz_model_ngrams(&f, word, strlen(word), collect, &g);
    ASSERT_EQ_U64(g.n, 1);
    w[g.v[0]] = 20;
    fz_model_spec spec = {f, -5, w, 0.5, "test model"};
    char err[256];
    size_t len;
    uint8_t *file = fz_model_serialize(&spec, &len, err, sizeof(err));
    ASSERT(file != NULL);
    fz_test_write(dir, name, file, len);
    free(file);
    free(w);
}

typedef struct lazy_fix {
    const char *dir;
    fz_ruleset *rs;
    fz_matcher *m;
    char nbuf[1024];
} lazy_fix;

static void lazy_open(lazy_fix *x, const char *yaml) {
    x->dir = fz_test_tmpdir();
    write_test_model(x->dir, "models/t.fzm", "fraud");
    fz_test_write_str(x->dir, "r.yaml", yaml);
    x->rs = fz_test_load_rules(x->dir);
    char err[256];
    x->m = fz_matcher_new(x->rs, err, sizeof(err));
    if (!x->m) fz_test_fail(__FILE__, __LINE__, "%s", err);
}

static void lazy_close(lazy_fix *x) {
    fz_matcher_destroy(x->m);
    fz_ruleset_unref(x->rs);
}

/* Scan an sms with this text (NULL: an event with no text) and a sender;
 * returns the matched rules' count and fills mt. */
static int lazy_scan(lazy_fix *x, const char *text, fz_matches *mt) {
    fz_views v;
    memset(&v, 0, sizeof(v));
    static const char from[] = "+8613800000000";
    v[FZ_FIELD_FROM][FZ_VIEW_RAW] = (fz_str){from, strlen(from)};
    if (text) {
        v[FZ_FIELD_TEXT][FZ_VIEW_RAW] = (fz_str){text, strlen(text)};
        v[FZ_FIELD_TEXT][FZ_VIEW_NORM] =
            (fz_str){x->nbuf, fz_norm_text(text, strlen(text), x->nbuf)};
    }
    int n = fz_matcher_scan(x->m, &v, mt);
    ASSERT(n >= 0);
    return n;
}

#define HEAD(id) "  - id: " id "\n    category: misc\n    severity: low\n"

#define RULES_OR                                                                                   \
    "rules:\n" HEAD("r.or") "    patterns:\n"                                                      \
                            "      - {name: a, pattern: 'bank'}\n"                                 \
                            "      - {name: m, model: {file: models/t.fzm, min_score: 0.9}}\n"     \
                            "    condition: a or m\n"
#define RULE_NOT                                                                                   \
    HEAD("r.not")                                                                                  \
    "    patterns:\n"                                                                              \
    "      - {name: a, pattern: 'bank'}\n"                                                         \
    "      - {name: m, model: {file: models/t.fzm, min_score: 0.5}}\n"                             \
    "    condition: a and not m\n"

TEST_IMPL(model_term_lazy) {
    lazy_fix x;
    lazy_open(&x, "rules:\n" HEAD(
                      "r.and") "    patterns:\n"
                               "      - {name: a, pattern: 'bank'}\n"
                               "      - {name: m, model: {file: models/t.fzm, min_score: 0.9}}\n"
                               "    condition: a and m\n");
    fz_matches mt;
    /* no "bank": the model is never scored, whatever the text */
    ASSERT_EQ_I64(lazy_scan(&x, "fraud fraud", &mt), 0);
    ASSERT_EQ_I64(lazy_scan(&x, "hello there", &mt), 0);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 0);
    ASSERT_EQ_I64(mt.nscores, 0);
    /* "bank": scored once, fires only when the score reaches min_score */
    ASSERT_EQ_I64(lazy_scan(&x, "bank hello", &mt), 0);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 1);
    ASSERT_EQ_I64(mt.nscores, 1);
    ASSERT(mt.scores[0].score < 0.01);
    ASSERT_EQ_I64(lazy_scan(&x, "bank fraud", &mt), 1);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 2);
    ASSERT(mt.scores[0].score > 0.99);
    ASSERT_EQ_U64(mt.scores[0].model, 0);
    lazy_close(&x);

    /* `a or m`: a found decides alone, the model is not scored */
    lazy_open(&x, RULES_OR);
    ASSERT_EQ_I64(lazy_scan(&x, "bank", &mt), 1);
    ASSERT_EQ_I64(lazy_scan(&x, "bank fraud", &mt), 1);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 0);
    ASSERT_EQ_I64(lazy_scan(&x, "fraud", &mt), 1);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 1);
    lazy_close(&x);

    /* with a rule that needs the score when a is found */
    lazy_open(&x, RULES_OR RULE_NOT);
    ASSERT_EQ_I64(lazy_scan(&x, "bank", &mt), 2); /* r.or by a; r.not needs the score */
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 1);
    ASSERT_EQ_U64(mt.rules[1], 1); /* r.not: bank, and the model says no */
    /* without "bank" r.or is always evaluated: the model decides */
    ASSERT_EQ_I64(lazy_scan(&x, "a fraud", &mt), 1);
    ASSERT_EQ_U64(mt.rules[0], 0);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 2);
    ASSERT_EQ_I64(lazy_scan(&x, "bank fraud", &mt), 1); /* r.or; r.not refused by the model */
    ASSERT_EQ_U64(mt.rules[0], 0);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 3);
    lazy_close(&x);
}

TEST_IMPL(model_term_model_only) {
    lazy_fix x;
    lazy_open(&x,
              "rules:\n" HEAD("r.model") "    model: {file: models/t.fzm, min_score: 0.9}\n" HEAD(
                  "r.two") "    patterns:\n"
                           "      - {name: m1, model: {file: models/t.fzm, min_score: 0.9}}\n"
                           "      - {name: m2, model: {file: models/t.fzm, min_score: 0.001}}\n"
                           "    condition: m1 and m2\n");
    fz_matches mt;
    for (int i = 0; i < 5; i++) ASSERT_EQ_I64(lazy_scan(&x, "just words", &mt), 0);
    /* every text event scored, once per event whatever the rules and terms */
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 5);
    ASSERT_EQ_I64(lazy_scan(&x, "fraud", &mt), 2);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 6);
    ASSERT_EQ_I64(mt.nscores, 1);
    /* an event without text: nothing scored, nothing fires */
    ASSERT_EQ_I64(lazy_scan(&x, NULL, &mt), 0);
    ASSERT_EQ_I64(lazy_scan(&x, "", &mt), 0);
    ASSERT_EQ_U64(fz_matcher_models_scored(x.m), 6);
    ASSERT(fz_matcher_matched(x.m, 0) == 0);
    lazy_close(&x);
}

/* A disguised text (matcher.h, FZ_VIEW_UNMASKED): the model's score is
 * the higher of its normalised text's and its skeleton's. */
TEST_IMPL(model_term_unmasked) {
    lazy_fix x;
    lazy_open(&x, "rules:\n" HEAD("r.model") "    model: {file: models/t.fzm, min_score: 0.9}\n");
    static const struct {
        const char *norm, *unmasked;
        int want;
    } g[] = {{"fr4ud", NULL, 0}, {"fr4ud", "fraud", 1}, {"fraud", "xxxxx", 1}, {"x", "y", 0}};
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
        fz_views v;
        memset(&v, 0, sizeof(v));
        v[FZ_FIELD_TEXT][FZ_VIEW_RAW] = v[FZ_FIELD_TEXT][FZ_VIEW_NORM] =
            (fz_str){g[i].norm, strlen(g[i].norm)};
        if (g[i].unmasked)
            v[FZ_FIELD_TEXT][FZ_VIEW_UNMASKED] = (fz_str){g[i].unmasked, strlen(g[i].unmasked)};
        fz_matches mt;
        fz_test_context("'%s' / '%s'", g[i].norm, g[i].unmasked ? g[i].unmasked : "-");
        ASSERT_EQ_I64(fz_matcher_scan(x.m, &v, &mt), g[i].want);
        ASSERT_EQ_I64(mt.nscores, 1);
        ASSERT(g[i].want ? mt.scores[0].score >= 0.9 : mt.scores[0].score < 0.9);
    }
    lazy_close(&x);
}

TEST_IMPL(model_term_alert) {
    const char *dir = fz_test_tmpdir();
    write_test_model(dir, "models/t.fzm", "fraud");
    fz_test_write_str(dir, "r.yaml",
                      "rules:\n" HEAD("r.model") "    model: {file: models/t.fzm, min_score: 0.9}\n"
                                                 "    tests:\n      should_match: ['fraud here']\n"
                                                 "      should_not_match: ['nothing here']\n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    char err[256];
    /* the embedded examples go through the model term */
    fz_rule_diags d = {0};
    fz_ruletest_summary sum;
    ASSERT_EQ_I64(fz_ruletest_run(rs, &d, &sum, err, sizeof(err)), 0);
    ASSERT_EQ_U64(sum.examples, 2);
    fz_rule_diags_free(&d);
    fz_pipeline *p = fz_pipeline_new(4096, 0, err, sizeof(err));
    ASSERT(p != NULL);
    ASSERT(fz_pipeline_bind(p, rs, err, sizeof(err)) == 0);
    static const char ev[] =
        "{\"id\":\"e1\",\"ts\":1764288000000,\"type\":\"sms\",\"from\":\"+861\",\"to\":\"+862\","
        "\"text\":\"FRAUD now\"}";
    fz_result r;
    memset(&r, 0, sizeof(r));
    fz_pipeline_scan(p, ev, strlen(ev), &r);
    ASSERT_EQ_I64(r.verdict, FZ_VERDICT_ALERT);
    fz_buf b;
    fz_buf_init(&b, 1 << 16);
    ASSERT(fz_alert_encode(&b, rs, &r, 0, NULL) == FZ_OK);
    tj *j;
    ASSERT_JSON(j, b.p, b.len);
    ASSERT(tj_is_str(tj_get(j, "models.0.file"), "models/t.fzm"));
    const tj *sc = tj_get(j, "models.0.score");
    ASSERT(sc && sc->type == TJ_NUM && atof(sc->str) > 0.99);
    tj_free(j);
    fz_buf_reset(&b);
    ASSERT(fz_verdict_encode(&b, rs, &r, NULL) == FZ_OK);
    ASSERT_JSON(j, b.p, b.len);
    ASSERT(tj_is_str(tj_get(j, "models.0.file"), "models/t.fzm"));
    tj_free(j);
    fz_buf_free(&b);
    fz_pipeline_destroy(p);
    fz_ruleset_unref(rs);
}

static fz_ruleset *load_err(const char *dir, fz_rule_diags *d) {
    memset(d, 0, sizeof(*d));
    fz_ruleset *rs = fz_ruleset_load(dir, NULL, d);
    ASSERT(rs == NULL);
    ASSERT(d->errors >= 1);
    return rs;
}

static const fz_rule_diag *first_err(const fz_rule_diags *d) {
    for (size_t i = 0; i < d->n; i++)
        if (!d->v[i].warning) return &d->v[i];
    return NULL;
}

TEST_IMPL(model_term_errors) {
    static const struct {
        const char *rule; /* after HEAD */
        unsigned line;
        const char *msg;
    } cases[] = {
        {"    model: {file: models/t.fzm, min_score: 1.5}\n", 5, "must be a number in [0, 1]"},
        {"    model: {file: models/t.fzm}\n", 5, "needs 'file' and 'min_score'"},
        {"    model: {file: models/none.fzm, min_score: 0.5}\n", 5, "cannot open"},
        {"    model: {file: ../t.fzm, min_score: 0.5}\n", 5, "inside the rules directory"},
        {"    model: {file: models/bad.fzm, min_score: 0.5}\n", 5, "checksum does not match"},
        {"    model: {file: models/t.fzm, min_score: 0.5, weight: 2}\n", 5, "unknown model key"},
        {"    model: models/t.fzm\n", 5, "must be a mapping"},
        {"    patterns:\n      - {model: {file: models/t.fzm, min_score: 0.5}, fields: [from]}\n",
         6, "do not apply to it"},
        {"    patterns:\n      - {model: {file: models/t.fzm, min_score: 0.5}, pattern: x}\n", 6,
         "exactly one of 'pattern', 'list' or 'model'"},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(cases); i++) {
        fz_test_context("case %zu", i);
        const char *dir = fz_test_tmpdir();
        write_test_model(dir, "models/t.fzm", "fraud");
        write_test_model(dir, "models/bad.fzm", "fraud");
        char path[4096];
        snprintf(path, sizeof(path), "%s/models/bad.fzm", dir);
        FILE *fp = fopen(path, "r+b");
        ASSERT(fp != NULL);
        fseek(fp, 100, SEEK_SET);
        fputc(0x55, fp);
        fclose(fp);
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "rules:\n" HEAD("r.x") "%s", cases[i].rule);
        fz_test_write_str(dir, "r.yaml", yaml);
        fz_rule_diags d;
        load_err(dir, &d);
        const fz_rule_diag *g = first_err(&d);
        if (!g || g->line != cases[i].line || !strstr(g->msg, cases[i].msg))
            fz_rule_diags_print(&d, stderr);
        ASSERT(g != NULL);
        ASSERT_EQ_U64(g->line, cases[i].line);
        ASSERT_CONTAINS(g->file, "r.yaml");
        ASSERT_CONTAINS(g->msg, cases[i].msg);
        fz_rule_diags_free(&d);
    }
}

TEST_IMPL(model_term_version_and_compiled) {
    const char *dir = fz_test_tmpdir();
    write_test_model(dir, "models/t.fzm", "fraud");
    fz_test_write_str(
        dir, "r.yaml",
        "rules:\n" HEAD("r.model") "    model: {file: models/t.fzm, min_score: 0.9}\n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    char v1[32];
    snprintf(v1, sizeof(v1), "%s", fz_ruleset_version(rs));
    ASSERT_EQ_U64(fz_ruleset_model_count(rs), 1);
    ASSERT_STR_EQ(fz_ruleset_model_path(rs, 0), "models/t.fzm");
    /* a compiled file carries the model */
    char out[4096], err[256];
    snprintf(out, sizeof(out), "%s/r.fzr", fz_test_tmpdir());
    ASSERT(fz_ruleset_save(rs, out, NULL, err, sizeof(err)) == 0);
    fz_rule_diags d = {0};
    fz_ruleset *back = fz_ruleset_load_compiled(out, fz_ruleset_source_version(rs), NULL, &d);
    if (!back) fz_rule_diags_print(&d, stderr);
    ASSERT(back != NULL);
    ASSERT_EQ_U64(fz_ruleset_model_count(back), 1);
    fz_matcher *m = fz_matcher_new(back, err, sizeof(err));
    ASSERT(m != NULL);
    fz_views v;
    memset(&v, 0, sizeof(v));
    v[FZ_FIELD_TEXT][FZ_VIEW_NORM] = (fz_str){"a fraud", 7};
    fz_matches mt;
    ASSERT_EQ_I64(fz_matcher_scan(m, &v, &mt), 1);
    v[FZ_FIELD_TEXT][FZ_VIEW_NORM] = (fz_str){"a friend", 8};
    ASSERT_EQ_I64(fz_matcher_scan(m, &v, &mt), 0);
    fz_matcher_destroy(m);
    fz_ruleset_unref(back);
    fz_rule_diags_free(&d);
    /* another model file, same rules: another version */
    write_test_model(dir, "models/t.fzm", "scam");
    fz_ruleset *rs2 = fz_test_load_rules(dir);
    ASSERT(strcmp(v1, fz_ruleset_version(rs2)) != 0);
    fz_ruleset_unref(rs2);
    fz_ruleset_unref(rs);
}
