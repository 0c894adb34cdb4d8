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
        {"blo\xe2\x84\xaa"
         "ed acc\xc5\xbf"
         "ess",
         "bloked accsess"}, /* KELVIN SIGN, LONG S */
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

/*
 * The oracle: fanzha's first implementation of step 1-5, one code point at
 * a time (the fast path now copies ASCII runs without decoding). Its fold
 * leaves out traditional->simplified, so the alphabet below has no
 * traditional characters; everything else is the specification in norm.h.
 */
static int ref_cjk(uint32_t cp) {
    return (cp >= 0x3400 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x3FFFF);
}
static int ref_alnum(uint32_t cp) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
}
static int ref_space(uint32_t cp) {
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}
static int ref_zero_width(uint32_t cp) {
    return cp == 0xAD || cp == 0x34F || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF;
}
static int ref_sep(uint32_t cp) {
    return cp && strchr(".*_-~|/\\+'\"`^", (int)cp) && cp < 0x80
               ? 1
               : cp == 0xB7 || cp == 0x2022 || cp == 0x30FB || cp == 0x2027;
}
static uint32_t ref_fold(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp >= 0xFF01 && cp <= 0xFF5E) return ref_fold(cp - 0xFEE0);
    if (cp == 0x3000) return ' ';
    if (cp >= 0x1D400 && cp <= 0x1D6A3) {
        uint32_t k = (cp - 0x1D400) % 52;
        return 'a' + (k < 26 ? k : k - 26);
    }
    if (cp >= 0x1D7CE && cp <= 0x1D7FF) return '0' + (cp - 0x1D7CE) % 10;
    return cp;
}

static size_t ref_norm(const char *in, size_t n, char *out) {
    size_t i = 0, o = 0, np = 0;
    uint32_t prev = 0;
    char pend[32];
    int pend_space = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = fz_utf8_decode(in + i, n - i, &cp);
        if (len == 0) {
            memcpy(out + o, pend, np);
            o += np;
            np = 0;
            out[o++] = in[i++];
            prev = 0xFFFD;
            continue;
        }
        i += len;
        if (ref_zero_width(cp)) continue;
        uint32_t f = ref_fold(cp);
        if (ref_space(f) || ref_sep(f)) {
            if (np == 0) pend_space = 1;
            if (ref_space(f)) {
                if ((np == 0 || !pend_space || pend[np - 1] != ' ') && np < sizeof(pend))
                    pend[np++] = ' ';
            } else {
                pend_space = 0;
                char tmp[4];
                size_t k = fz_utf8_encode(f, tmp);
                if (np + k <= sizeof(pend)) {
                    memcpy(pend + np, tmp, k);
                    np += k;
                }
            }
            continue;
        }
        if (np) {
            int between =
                (ref_cjk(prev) && (ref_cjk(f) || ref_alnum(f))) || (ref_alnum(prev) && ref_cjk(f));
            if (!between && prev != 0) {
                memcpy(out + o, pend, np);
                o += np;
            }
            np = 0;
        }
        o += fz_utf8_encode(f, out + o);
        prev = f;
    }
    if (np && prev != 0) {
        memcpy(out + o, pend, np);
        o += np;
    }
    return o;
}

/* Random text over ASCII of every class, CJK, full-width, zero-width,
 * mathematical letters, non-ASCII separators and spaces, and bytes that are
 * not UTF-8: the fast path and the oracle agree byte for byte. */
TEST_IMPL(norm_oracle_random) {
    init_norm();
    static const char *const sym[] = {"a",
                                      "Z",
                                      "q",
                                      "7",
                                      " ",
                                      "  ",
                                      "\t",
                                      "\n",
                                      ".",
                                      "-",
                                      "_",
                                      "*",
                                      "/",
                                      "\\",
                                      "'",
                                      "\"",
                                      "^",
                                      "`",
                                      "~",
                                      "|",
                                      "+",
                                      ",",
                                      "!",
                                      ":",
                                      "@",
                                      "#",
                                      "(",
                                      "微",
                                      "信",
                                      "账",
                                      "户",
                                      "冻",
                                      "结",
                                      "Ａ",
                                      "ｚ",
                                      "１",
                                      "．",
                                      "　",
                                      "·",
                                      "•",
                                      "，",
                                      "。",
                                      "\xe2\x80\x8b",
                                      "\xc2\xad",
                                      "\xef\xbb\xbf",
                                      "\xf0\x9d\x90\x80",
                                      "\xf0\x9d\x9f\x8e",
                                      "\xc2\xa0",
                                      "\xe2\x80\x83",
                                      "é",
                                      "Ж",
                                      "😀",
                                      "\xff",
                                      "\xc3",
                                      "\xe5\xbe"};
    char in[2048], out[2048], want[2048];
    for (int iter = 0; iter < 50000; iter++) {
        size_t n = 0, k = fz_test_rand_below(60);
        int run = fz_test_rand_below(4) == 0; /* long runs of one symbol too */
        const char *same = sym[fz_test_rand_below(FZ_ARRAY_LEN(sym))];
        for (size_t j = 0; j < k; j++) {
            const char *s = run ? same : sym[fz_test_rand_below(FZ_ARRAY_LEN(sym))];
            memcpy(in + n, s, strlen(s));
            n += strlen(s);
        }
        in[n] = '\0';
        fz_test_context("iteration %d, input \"%s\"", iter, in);
        size_t m = fz_norm_text(in, n, out), w = ref_norm(in, n, want);
        out[m] = want[w] = '\0';
        if (m != w || memcmp(out, want, m) != 0)
            fz_test_fail(__FILE__, __LINE__, "got \"%s\", oracle \"%s\"", out, want);
    }
}

/* No input puts an upper-case ASCII letter, U+212A or U+017F in the
 * normalised text (the letters caseless matching takes for k and s): every
 * code point alone, inside ASCII context and after a separator, and every
 * invalid byte (the prefilter compiles the factors of caseless patterns
 * on this view as they are, lower case). */
TEST_IMPL(norm_no_upper_ascii) {
    init_norm();
    char in[32], out[32];
    for (uint32_t cp = 1; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp < 0xE000) continue;
        static const char *const ctx[][2] = {{"", ""}, {"a", "b"}, {"\xe4\xb8\xad ", " Q"}};
        for (size_t c = 0; c < FZ_ARRAY_LEN(ctx); c++) {
            size_t n = (size_t)snprintf(in, sizeof(in), "%s", ctx[c][0]);
            n += fz_utf8_encode(cp, in + n);
            n += (size_t)snprintf(in + n, sizeof(in) - n, "%s", ctx[c][1]);
            size_t k = fz_norm_text(in, n, out);
            out[k] = '\0';
            for (size_t i = 0; i < k; i++)
                if (out[i] >= 'A' && out[i] <= 'Z')
                    fz_test_fail(__FILE__, __LINE__, "U+%04X normalises to upper-case ASCII",
                                 (unsigned)cp);
            if (strstr(out, "\xe2\x84\xaa") || strstr(out, "\xc5\xbf"))
                fz_test_fail(__FILE__, __LINE__, "U+%04X leaves U+212A or U+017F", (unsigned)cp);
        }
    }
    for (unsigned b = 0x80; b < 0x100; b++) { /* invalid bytes are copied unchanged */
        in[0] = (char)b;
        in[1] = 'X';
        size_t k = fz_norm_text(in, 2, out);
        for (size_t i = 0; i < k; i++) ASSERT(!(out[i] >= 'A' && out[i] <= 'Z'));
    }
}
