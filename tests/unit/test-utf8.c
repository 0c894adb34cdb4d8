/*
 * test-utf8.c - strict UTF-8 (RFC 3629): valid and invalid sequences, an
 * encode/decode round trip over every scalar value, and a random-bytes
 * oracle test against the naive decoder in helpers.c.
 */
#include "test.h"
#include "utf8.h"

typedef struct seq {
    const char *s;
    size_t n;
    uint32_t cp;
    const char *what;
} seq;

#define S(lit) lit, sizeof(lit) - 1

TEST_IMPL(utf8_valid_sequences) {
    static const seq ok[] = {
        {S("a"), 0x61, "ASCII"},
        {S("\x7f"), 0x7F, "DEL, last 1-byte"},
        {S("\xc2\x80"), 0x80, "first 2-byte"},
        {S("\xdf\xbf"), 0x7FF, "last 2-byte"},
        {S("\xe0\xa0\x80"), 0x800, "first 3-byte"},
        {S("\xe8\xb4\xa6"), 0x8D26, "CJK 账"},
        {S("\xed\x9f\xbf"), 0xD7FF, "just below the surrogates"},
        {S("\xee\x80\x80"), 0xE000, "just above the surrogates"},
        {S("\xef\xbf\xbf"), 0xFFFF, "last 3-byte"},
        {S("\xf0\x90\x80\x80"), 0x10000, "first 4-byte"},
        {S("\xf0\x9f\x98\x80"), 0x1F600, "emoji"},
        {S("\xf4\x8f\xbf\xbf"), 0x10FFFF, "last code point"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        fz_test_context("%s", ok[i].what);
        uint32_t cp = 0;
        ASSERT_EQ_U64(fz_utf8_decode(ok[i].s, ok[i].n, &cp), ok[i].n);
        ASSERT_EQ_U64(cp, ok[i].cp);
        ASSERT_EQ_U64(fz_utf8_seq_len(ok[i].s, ok[i].n), ok[i].n);
        size_t bad = 12345;
        ASSERT(fz_utf8_valid(ok[i].s, ok[i].n, &bad) == 1);
        ASSERT_EQ_U64(bad, 12345); /* untouched on success */
        /* seq_len looks at one sequence only: trailing bytes do not matter */
        char longer[16];
        memcpy(longer, ok[i].s, ok[i].n);
        memcpy(longer + ok[i].n, "\xff\xff", 2);
        ASSERT_EQ_U64(fz_utf8_seq_len(longer, ok[i].n + 2), ok[i].n);
    }
    const char mixed[] = "plain ascii text, 账户冻结 and \xf0\x9f\x98\x80!";
    ASSERT(fz_utf8_valid(mixed, sizeof(mixed) - 1, NULL) == 1);
    ASSERT(fz_utf8_valid("", 0, NULL) == 1);
}

TEST_IMPL(utf8_invalid_sequences) {
    static const seq bad[] = {
        {S("\x80"), 0, "lone continuation"},
        {S("\xbf"), 0, "lone continuation (last)"},
        {S("\xc0\x80"), 0, "overlong NUL"},
        {S("\xc0\xaf"), 0, "overlong '/'"},
        {S("\xc1\xbf"), 0, "overlong 2-byte"},
        {S("\xe0\x80\x80"), 0, "overlong 3-byte NUL"},
        {S("\xe0\x9f\xbf"), 0, "overlong U+07FF"},
        {S("\xed\xa0\x80"), 0, "surrogate U+D800"},
        {S("\xed\xbf\xbf"), 0, "surrogate U+DFFF"},
        {S("\xf0\x80\x80\x80"), 0, "overlong 4-byte NUL"},
        {S("\xf0\x8f\xbf\xbf"), 0, "overlong U+FFFF"},
        {S("\xf4\x90\x80\x80"), 0, "U+110000"},
        {S("\xf5\x80\x80\x80"), 0, "lead F5"},
        {S("\xf7\xbf\xbf\xbf"), 0, "lead F7"},
        {S("\xf8\x88\x80\x80\x80"), 0, "5-byte form"},
        {S("\xfe"), 0, "FE"},
        {S("\xff"), 0, "FF"},
        {S("\xc2"), 0, "truncated 2-byte"},
        {S("\xe8\xb4"), 0, "truncated 3-byte"},
        {S("\xf0\x9f\x98"), 0, "truncated 4-byte"},
        {S("\xe8\x41\xa6"), 0, "ASCII where a continuation belongs"},
        {S("\xc2\xc2\x80"), 0, "lead where a continuation belongs"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fz_test_context("%s", bad[i].what);
        uint32_t cp;
        ASSERT_EQ_U64(fz_utf8_decode(bad[i].s, bad[i].n, &cp), 0);
        ASSERT_EQ_U64(fz_utf8_seq_len(bad[i].s, bad[i].n), 0);
        size_t off = 999;
        ASSERT(fz_utf8_valid(bad[i].s, bad[i].n, &off) == 0);
        ASSERT_EQ_U64(off, 0);
        /* after a prefix longer than the 8-byte ASCII fast path, at the
         * end (truncation) and in the middle */
        char buf[64];
        memcpy(buf, "abcdefghij", 10);
        memcpy(buf + 10, bad[i].s, bad[i].n);
        off = 999;
        ASSERT(fz_utf8_valid(buf, 10 + bad[i].n, &off) == 0);
        ASSERT_EQ_U64(off, 10);
        memcpy(buf + 10 + bad[i].n, "xyz", 3);
        off = 999;
        ASSERT(fz_utf8_valid(buf, 10 + bad[i].n + 3, &off) == 0);
        ASSERT_EQ_U64(off, 10);
        /* a valid multi-byte character first moves the offset accordingly */
        memcpy(buf, "\xe8\xb4\xa6", 3);
        memcpy(buf + 3, bad[i].s, bad[i].n);
        off = 999;
        ASSERT(fz_utf8_valid(buf, 3 + bad[i].n, &off) == 0);
        ASSERT_EQ_U64(off, 3);
    }
}

TEST_IMPL(utf8_roundtrip_all) {
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            /* the 3-byte form of a surrogate must never decode */
            char s[3] = {(char)0xED, (char)(0x80 | ((cp >> 6) & 0x3F)), (char)(0x80 | (cp & 0x3F))};
            uint32_t x;
            if (fz_utf8_decode(s, 3, &x) != 0)
                fz_test_fail(__FILE__, __LINE__, "surrogate U+%04X decoded", cp);
            continue;
        }
        char out[4];
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        size_t n = fz_utf8_encode(cp, out);
        if (n != want) fz_test_fail(__FILE__, __LINE__, "U+%04X encoded in %zu bytes", cp, n);
        unsigned char ref[4];
        if (tu_encode(cp, ref) != n || memcmp(ref, out, n) != 0)
            fz_test_fail(__FILE__, __LINE__, "U+%04X encodes differently from the reference", cp);
        uint32_t back = 0xFFFFFFFF;
        if (fz_utf8_decode(out, n, &back) != n || back != cp)
            fz_test_fail(__FILE__, __LINE__, "U+%04X does not round-trip (got U+%04X)", cp, back);
        if (n > 1 && fz_utf8_decode(out, n - 1, &back) != 0)
            fz_test_fail(__FILE__, __LINE__, "U+%04X truncated still decodes", cp);
    }
}

/* Random byte strings, biased towards the interesting lead and
 * continuation bytes, checked against the naive validator. */
TEST_IMPL(utf8_oracle_random) {
    static const unsigned char pool[] = {'a',  ' ',  0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                                         0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE8,
                                         0xED, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFE, 0xFF};
    unsigned char s[40];
    int valid_seen = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = (size_t)fz_test_rand_below(sizeof(s) + 1);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = fz_test_rand();
            /* mostly well-formed characters, some raw pool bytes */
            if (r % 4 == 0) {
                s[i] = pool[(r >> 8) % sizeof(pool)];
            } else {
                uint32_t cp = (uint32_t)((r >> 8) % 0x110000);
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
                unsigned char u[4];
                size_t l = tu_encode(cp, u);
                if (i + l > n) l = n - i;
                memcpy(s + i, u, l); /* may be cut short: that is a case too */
                i += l - 1;
            }
        }
        size_t want_bad = 0, got_bad = 0;
        int want = tu_valid(s, n, &want_bad);
        int got = fz_utf8_valid((const char *)s, n, &got_bad);
        valid_seen += want;
        if (want != got || (!want && want_bad != got_bad)) {
            char hex[3 * sizeof(s) + 1] = "";
            for (size_t i = 0; i < n; i++) sprintf(hex + 3 * i, "%02x ", s[i]);
            fz_test_fail(__FILE__, __LINE__,
                         "fz_utf8_valid = %d (bad at %zu), reference = %d (bad at %zu) for %s", got,
                         got_bad, want, want_bad, hex);
        }
    }
    ASSERT(valid_seen > 1000); /* the generator exercises both outcomes */
}
