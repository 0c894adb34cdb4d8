/*
 * test-simd.c - every SIMD level (simd.h) against the scalar path: the
 * UTF-8 check, the event decoder and the normaliser give the same answers
 * - validity and error offset, reason, detail and decoded values, output
 * bytes - on the same inputs: random bytes, mutated events, texts with a
 * byte of every value at every offset of the 16- and 32-byte blocks.
 *
 * The other event, norm and utf8 tests run on the default level; CTest
 * runs them again with FANZHA_SIMD=off and FANZHA_SIMD=sse4.2
 * (tests/CMakeLists.txt), so each path also meets the oracles there.
 */
#include <stdlib.h>

#include "event.h"
#include "norm.h"
#include "skel.h"
#include "simd.h"
#include "test.h"
#include "utf8.h"

/* The levels this CPU has, the scalar one first. */
static int levels(fz_simd_level out[FZ_SIMD_LEVEL_COUNT]) {
    int n = 0;
    for (int l = 0; l <= (int)fz_simd_level_best(); l++) out[n++] = (fz_simd_level)l;
    return n;
}

static void hexdump(char *buf, size_t cap, const unsigned char *s, size_t n) {
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%02x ", s[i]);
}

TEST_IMPL(simd_levels) {
    fz_simd_level best = fz_simd_level_best(), l;
    ASSERT_EQ_I64(fz_simd_set_level(FZ_SIMD_SCALAR), FZ_SIMD_SCALAR);
    ASSERT_EQ_I64(fz_simd_level_get(), FZ_SIMD_SCALAR);
    ASSERT_EQ_I64(fz_simd_set_level(FZ_SIMD_AVX2), best); /* at most what the CPU has */
    ASSERT_EQ_I64(fz_simd_level_get(), best);
    ASSERT_EQ_I64(fz_simd_level_parse("off", &l), 0);
    ASSERT_EQ_I64(l, FZ_SIMD_SCALAR);
    ASSERT_EQ_I64(fz_simd_level_parse("sse4.2", &l), 0);
    ASSERT_EQ_I64(l, FZ_SIMD_SSE42);
    ASSERT_EQ_I64(fz_simd_level_parse("avx2", &l), 0);
    ASSERT_EQ_I64(l, FZ_SIMD_AVX2);
    ASSERT_EQ_I64(fz_simd_level_parse("auto", &l), 0);
    ASSERT_EQ_I64(l, best);
    ASSERT_EQ_I64(fz_simd_level_parse("avx512", &l), -1);
    ASSERT_STR_EQ(fz_simd_level_name(FZ_SIMD_SSE42), "sse4.2");
#if defined(__x86_64__)
    /* x86-64 always has SSE2; every machine this runs on has SSE4.2 */
    ASSERT(best >= FZ_SIMD_SSE42);
#endif
}

/* Random byte strings of up to 300 bytes (mostly valid text, runs of ASCII,
 * CJK and emoji, some raw pool bytes), checked on every level against the
 * naive validator in helpers.c: the same answer and the same offset. */
TEST_IMPL(simd_utf8_differential) {
    static const unsigned char pool[] = {'a',  ' ',  0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                         0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE8,
                                         0xED, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFE, 0xFF};
    fz_simd_level lv[FZ_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    unsigned char s[300];
    /* every lead byte and every byte after it, then one or two
     * continuations, around a block boundary: every entry of the tables */
    for (int a = 0x80; a < 0x100; a++)
        for (int b = 0; b < 0x100; b++)
            for (int tail = 1; tail <= 2; tail++)
                for (size_t at = 29; at < 34; at += 2) {
                    memset(s, 'x', 66);
                    s[at] = (unsigned char)a;
                    s[at + 1] = (unsigned char)b;
                    memset(s + at + 2, 0x80 | (b & 0x3F), (size_t)tail);
                    size_t want_bad = 0, got_bad = 0;
                    int want = tu_valid(s, 66, &want_bad);
                    for (int k = 0; k < nl; k++) {
                        fz_simd_set_level(lv[k]);
                        int got = fz_utf8_valid((const char *)s, 66, &got_bad);
                        if (got != want || (!want && got_bad != want_bad))
                            fz_test_fail(__FILE__, __LINE__,
                                         "%s: fz_utf8_valid = %d (bad at %zu), reference = %d "
                                         "(bad at %zu) for %02x %02x at %zu",
                                         fz_simd_level_name(lv[k]), got, got_bad, want, want_bad, a,
                                         b, at);
                    }
                }
    int valid_seen = 0, invalid_seen = 0;
    for (int iter = 0; iter < 100000; iter++) {
        size_t n = (size_t)fz_test_rand_below(sizeof(s) + 1);
        /* ASCII, CJK, any scalar value, ASCII with one bad byte, pool bytes */
        int kind = (int)fz_test_rand_below(5);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = fz_test_rand();
            uint32_t cp = kind == 0 || kind == 3 ? 0x20 + (uint32_t)(r % 0x5F)
                          : kind == 1            ? (r % 3 ? 0x4E00 + (uint32_t)(r % 0x5000) : 'x')
                                                 : (uint32_t)((r >> 8) % 0x110000);
            if ((kind == 2 && r % 8 == 0) || (kind == 4 && r % 2 == 0)) {
                s[i] = pool[(r >> 4) % sizeof(pool)];
                continue;
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
            unsigned char u[4];
            size_t l = tu_encode(cp, u);
            if (i + l > n) l = n - i; /* cut short at the end: a case too */
            memcpy(s + i, u, l);
            i += l - 1;
        }
        if (kind == 3 && n > 0) s[fz_test_rand_below(n)] = pool[fz_test_rand_below(sizeof(pool))];
        size_t want_bad = 0;
        int want = tu_valid(s, n, &want_bad);
        valid_seen += want;
        invalid_seen += !want;
        for (int k = 0; k < nl; k++) {
            fz_simd_set_level(lv[k]);
            size_t got_bad = 0;
            int got = fz_utf8_valid((const char *)s, n, &got_bad);
            if (got != want || (!want && got_bad != want_bad)) {
                char hex[3 * sizeof(s) + 1];
                hexdump(hex, sizeof(hex), s, n);
                fz_test_fail(__FILE__, __LINE__,
                             "%s: fz_utf8_valid = %d (bad at %zu), reference = %d (bad at %zu) "
                             "for %s",
                             fz_simd_level_name(lv[k]), got, got_bad, want, want_bad, hex);
            }
        }
    }
    ASSERT(valid_seen > 10000 && invalid_seen > 10000);
}

/* Decode msg on every level; the results must be the scalar one. */
static int same_str(fz_str a, fz_str b) {
    return (a.p == NULL) == (b.p == NULL) && a.n == b.n && (a.n == 0 || !memcmp(a.p, b.p, a.n));
}

static void decode_all_levels(fz_decoder *d, const char *msg, size_t n, const fz_simd_level *lv,
                              int nl, int *accepted) {
    fz_event want, got;
    char want_detail[256], got_detail[256];
    fz_simd_set_level(FZ_SIMD_SCALAR);
    fz_decoder_reset_arena(d);
    fz_reason want_r = fz_event_decode(d, msg, n, &want, want_detail, sizeof(want_detail));
    *accepted += want_r == FZ_REASON_NONE;
    for (int k = 1; k < nl; k++) {
        fz_simd_set_level(lv[k]);
        /* the second decode goes to the arena after the first: both stay valid */
        fz_reason got_r = fz_event_decode(d, msg, n, &got, got_detail, sizeof(got_detail));
        const char *what = NULL;
        if (got_r != want_r)
            what = "reason";
        else if (strcmp(got_detail, want_detail) != 0)
            what = "detail";
        else if (!same_str(got.id, want.id))
            what = "id";
        else if (got.type != want.type || got.ts_ms != want.ts_ms)
            what = "type or ts";
        else if (!same_str(got.fields[0], want.fields[0]) ||
                 !same_str(got.fields[1], want.fields[1]) ||
                 !same_str(got.fields[2], want.fields[2]))
            what = "text, from or to";
        else if (!same_str(got.currency, want.currency) || !same_str(got.category, want.category))
            what = "currency or category";
        else if (got.amount_minor != want.amount_minor || got.has_amount != want.has_amount ||
                 got.duration_s != want.duration_s)
            what = "amount or duration";
        if (what)
            fz_test_fail(__FILE__, __LINE__,
                         "%s differs on %s: %s (%s) against scalar %s (%s) for: %.*s", what,
                         fz_simd_level_name(lv[k]), fz_reason_name(got_r), got_detail,
                         fz_reason_name(want_r), want_detail, (int)n, msg);
    }
}

/* Events mutated a byte at a time (a long text puts quotes, escapes,
 * control characters and invalid UTF-8 at every offset of the blocks),
 * and raw random bytes. */
TEST_IMPL(simd_event_differential) {
    static const char *const seeds[] = {
        "{\"id\":\"s1\",\"ts\":1764288000123,\"type\":\"sms\",\"from\":\"+8613800000000\","
        "\"to\":\"+8613900000000\",\"text\":\"Your parcel is held: pay the fee at "
        "http://x.example/ now or it goes back to the sender today; 账户冻结 请点击链接 "
        "0123456789abcdefghijklmnopqrstuvwxyz 您的账户已冻结 THE END\"}",
        "{\"id\":\"s2\",\"ts\":12,\"type\":\"transfer\",\"from\":\"a\",\"to\":\"b\","
        "\"amount\":\"12.50\",\"currency\":\"USD\",\"meta\":{\"k\":[1,-2.5e-3,true,null]}}",
        "{\"id\":\"s3\",\"ts\":0,\"type\":\"call\",\"from\":\"1\",\"to\":\"2\",\"duration_s\":30}",
        "{\"id\":\"s4\",\"ts\":5,\"type\":\"sms\",\"text\":\"\\u8d26\\u6237 \\\"quoted\\\" "
        "\\ud83d\\ude00 and a long tail of plain words to cross several blocks\"}",
        "{\"id\":\"s5\",\"ts\":7,\"type\":\"report\",\"from\":\"x\",\"amount\":100,\"category\":"
        "\"investment\"}",
    };
    static const char inserts[] = "{}[]:,\" \\/0123456789-+.eEtrufalsnu\t\n\x01\x1f"
                                  "\x7f\x80\xbf\xc3\xe8\xed\xf0\xff"
                                  "abc";
    fz_simd_level lv[FZ_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    char err[256];
    fz_decoder *d = fz_decoder_new(1024, 64 * 1024, 256, err, sizeof(err));
    ASSERT(d);
    int accepted = 0, total = 0;
    for (int iter = 0; iter < 60000; iter++) {
        char m[1024];
        size_t n;
        if (iter % 10 == 9) { /* random bytes, mostly printable */
            n = (size_t)fz_test_rand_below(400);
            for (size_t i = 0; i < n; i++)
                m[i] = (char)(fz_test_rand_below(4) ? 0x20 + fz_test_rand_below(0x5F)
                                                    : fz_test_rand_below(256));
        } else {
            const char *seed = seeds[fz_test_rand_below(FZ_ARRAY_LEN(seeds))];
            n = strlen(seed);
            memcpy(m, seed, n);
            int nmut = (int)fz_test_rand_below(4); /* 0: the seed itself */
            for (int k = 0; k < nmut && n > 0 && n < sizeof(m) - 1; k++) {
                size_t at = fz_test_rand_below(n);
                char c = inserts[fz_test_rand_below(sizeof(inserts) - 1)];
                switch (fz_test_rand_below(3)) {
                case 0:
                    memmove(m + at, m + at + 1, n - at - 1);
                    n--;
                    break;
                case 1:
                    memmove(m + at + 1, m + at, n - at);
                    m[at] = c;
                    n++;
                    break;
                default: m[at] = c; break;
                }
            }
        }
        fz_test_context("iteration %d", iter);
        decode_all_levels(d, m, n, lv, nl, &accepted);
        total++;
    }
    ASSERT(accepted > total / 10 && accepted < total - total / 10);
    fz_decoder_destroy(d);
}

/* view 0: normalised, 1: normalised with case, 2: skeleton */
static size_t view_of(int view, const char *in, size_t n, char *out) {
    static char tmp[4096];
    return view == 0   ? fz_norm_text(in, n, out)
           : view == 1 ? fz_norm_text_cased(in, n, out)
                       : fz_skel_text(in, n, tmp, out, 8192);
}

static void norm_all_levels(const char *in, size_t n, const fz_simd_level *lv, int nl) {
    static char want[8192], got[8192];
    static const char *const names[] = {"normalized", "normalized (cased)", "skeleton"};
    for (int view = 0; view < 3; view++) {
        fz_simd_set_level(FZ_SIMD_SCALAR);
        size_t w = view_of(view, in, n, want);
        for (int k = 1; k < nl; k++) {
            fz_simd_set_level(lv[k]);
            size_t g = view_of(view, in, n, got);
            if (g != w || memcmp(got, want, w) != 0) {
                char hex[3 * 200 + 1];
                hexdump(hex, sizeof(hex), (const unsigned char *)in, n);
                fz_test_fail(__FILE__, __LINE__, "%s: %s gives \"%.*s\", scalar \"%.*s\" for %s",
                             names[view], fz_simd_level_name(lv[k]), (int)g, got, (int)w, want,
                             hex);
            }
        }
    }
}

/* Every byte value at every offset of a text of ASCII words longer than
 * two 32-byte blocks, alone and doubled, then random texts over words,
 * spaces, separators, CJK, full-width, zero-width and invalid bytes. */
TEST_IMPL(simd_norm_differential) {
    char err[256];
    if (fz_skel_init(err, sizeof(err)) != 0) fz_test_fail(__FILE__, __LINE__, "%s", err);
    fz_simd_level lv[FZ_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    static const char base[] = "Call Me Back at once, the Parcel is HELD for you: pay now ok";
    char in[2048];
    size_t bn = sizeof(base) - 1;
    for (int b = 0; b < 256; b++)
        for (size_t at = 0; at < bn; at++)
            for (int twice = 0; twice < 2; twice++) {
                memcpy(in, base, bn);
                in[at] = (char)b;
                if (twice && at + 1 < bn) in[at + 1] = (char)b;
                fz_test_context("byte %02x at %zu%s", b, at, twice ? " twice" : "");
                norm_all_levels(in, bn, lv, nl);
            }
    static const char *const sym[] = {"a",
                                      "Z",
                                      "q",
                                      "7",
                                      "word",
                                      "WORDS",
                                      " ",
                                      " ",
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
                                      "\x01",
                                      "微",
                                      "信",
                                      "账",
                                      "户",
                                      "銀",
                                      "行",
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
                                      "\xc2\xa0",
                                      "é",
                                      "😀",
                                      "\xff",
                                      "\xc3",
                                      "\xe5\xbe",
                                      "\x7f",
                                      "0",
                                      "$",
                                      "I",
                                      "\xd0\xb0",      /* Cyrillic a */
                                      "\xd0\x86",      /* Cyrillic I */
                                      "\xce\xa1",      /* Greek Rho */
                                      "\xef\xac\x81",  /* fi ligature */
                                      "\xe2\x84\xaa"}; /* Kelvin sign */
    for (int iter = 0; iter < 60000; iter++) {
        size_t n = 0, k = fz_test_rand_below(120);
        int mostly_words = fz_test_rand_below(2) == 0;
        for (size_t j = 0; j < k; j++) {
            const char *s = mostly_words && fz_test_rand_below(4)
                                ? sym[fz_test_rand_below(11)]
                                : sym[fz_test_rand_below(FZ_ARRAY_LEN(sym))];
            memcpy(in + n, s, strlen(s));
            n += strlen(s);
        }
        fz_test_context("iteration %d", iter);
        norm_all_levels(in, n, lv, nl);
    }
}
