/*
 * test-norm.c - the normalised views: golden evasions (spacing, full-width,
 * zero-width, traditional characters, mathematical letters), what must stay
 * apart, number views, and properties over random text: the output is
 * never longer than the input, is valid UTF-8 when the input is, and
 * normalising twice changes nothing.
 */
#include <stdlib.h>

#include "common.h"
#include "norm.h"
#include "test.h"
#include "utf8.h"

static void init_norm(void) {
    char err[256];
    if (fz_norm_init(err, sizeof(err)) != 0) fz_test_fail(__FILE__, __LINE__, "%s", err);
}

static const char *norm(const char *in) {
    static char out[4096];
    size_t n = fz_norm_text(in, strlen(in), out);
    out[n] = '\0';
    return out;
}

TEST_IMPL(norm_golden) {
    init_norm();
    static const char *const cases[][2] = {
        {"加微 信领取", "加微信领取"}, /* space between CJK */
        {"加微.信", "加微信"},         /* separator punctuation */
        {"微·信 * 号", "微信号"},      /* runs of separators */
        {"微\xe2\x80\x8b信", "微信"},  /* zero-width space */
        {"\xef\xbc\xb7\xef\xbd\x85\xef\xbd\x83\xef\xbd\x88\xef\xbd\x81\xef\xbd\x94", "wechat"},
        {"ＶＸ：ａｂ１２３", "vx:ab123"}, /* full-width letters, digits, colon */
        {"銀行帳戶凍結", "银行帐户冻结"}, /* traditional -> simplified */
        {"\xf0\x9d\x90\xb0\xf0\x9d\x90\x9e\xf0\x9d\x90\x9c", "wec"}, /* math bold w e c */
        {"V 信", "v信"},                                             /* Latin next to CJK */
        {"WINNER  of a\t\tprize", "winner of a prize"},              /* white space collapses */
        {"call 0800 123", "call 0800 123"},                          /* ASCII words stay apart */
        {"a.b-c", "a.b-c"},              /* separators between letters stay */
        {"您好，请回电", "您好,请回电"}, /* full-width comma is not dropped */
        {"  leading", "leading"},
        {"", ""},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(cases); i++) {
        fz_test_context("case %zu: \"%s\"", i, cases[i][0]);
        ASSERT_STR_EQ(norm(cases[i][0]), cases[i][1]);
    }
}

TEST_IMPL(norm_number) {
    char out[64];
    size_t n = fz_norm_number("+86 (170) 1234-5678", 19, out);
    ASSERT_VIEW_EQ(out, n, "8617012345678");
    ASSERT_EQ_U64(fz_norm_number("abc", 3, out), 0);
}

/* Random text over a mix of ASCII, separators, CJK (traditional too),
 * full-width and zero-width characters. */
TEST_IMPL(norm_properties) {
    init_norm();
    static const char *const sym[] = {"a",  "B",  " ",  ".",  "-",
                                      "*",  "\t", "微", "信", "銀",
                                      "行", "Ａ", "１", "　", "\xe2\x80\x8b",
                                      "·",  "，", "x",  "9",  "\xf0\x9d\x90\x80"};
    char in[1024], out[1024], out2[1024];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0, k = fz_test_rand_below(40);
        for (size_t j = 0; j < k; j++) {
            const char *s = sym[fz_test_rand_below(FZ_ARRAY_LEN(sym))];
            memcpy(in + n, s, strlen(s));
            n += strlen(s);
        }
        in[n] = '\0';
        fz_test_context("input \"%s\"", in);
        size_t m = fz_norm_text(in, n, out);
        ASSERT(m <= n);
        size_t bad;
        ASSERT(fz_utf8_valid(out, m, &bad));
        size_t m2 = fz_norm_text(out, m, out2);
        ASSERT(m2 == m && memcmp(out, out2, m) == 0); /* idempotent */
    }
}
