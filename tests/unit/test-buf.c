/*
 * test-buf.c - the capped buffer and its JSON writers: the cap is never
 * exceeded and sticks as "failed", JSON strings escape what RFC 8259
 * requires (plus DEL) and decode back exactly, base64 matches RFC 4648 and
 * a naive decoder, and integers print exactly at their extremes.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "buf.h"
#include "test.h"
#include "utf8.h"

#define ASSERT_BUF(b, lit)                                                                         \
    do {                                                                                           \
        ASSERT_EQ_U64((b)->len, sizeof(lit) - 1);                                                  \
        ASSERT(memcmp((b)->p, (lit), sizeof(lit) - 1) == 0);                                       \
    } while (0)

TEST_IMPL(buf_cap_enforced) {
    fz_buf b;
    fz_buf_init(&b, 10);
    ASSERT_EQ_I64(fz_buf_put(&b, "12345678", 8), FZ_OK);
    ASSERT_EQ_I64(fz_buf_put(&b, "abc", 3), FZ_ERR_FULL);
    ASSERT(b.failed);
    ASSERT_EQ_U64(b.len, 8); /* nothing partial was appended */
    /* failed is sticky: even an append that would fit is refused */
    ASSERT_EQ_I64(fz_buf_putc(&b, 'x'), FZ_ERR_FULL);
    ASSERT_EQ_I64(fz_buf_put(&b, "y", 1), FZ_ERR_FULL);
    ASSERT_EQ_U64(b.len, 8);
    ASSERT(b.cap <= b.max);

    /* reset clears it; filling exactly to the cap is allowed */
    fz_buf_reset(&b);
    ASSERT(!b.failed);
    ASSERT_EQ_U64(b.len, 0);
    ASSERT_EQ_I64(fz_buf_put(&b, "123456789", 9), FZ_OK);
    ASSERT_EQ_I64(fz_buf_putc(&b, '0'), FZ_OK);
    ASSERT_BUF(&b, "1234567890");
    ASSERT_EQ_I64(fz_buf_putc(&b, '!'), FZ_ERR_FULL);
    ASSERT(b.failed);
    ASSERT(b.cap <= b.max);

    /* every writer respects the cap */
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_printf(&b, "%s", "0123456789abc"), FZ_ERR_FULL);
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_put_json_str(&b, "0123456789", 10), FZ_ERR_FULL);
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_put_base64(&b, "0123456789", 10), FZ_ERR_FULL);
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_put_hex64(&b, 1), FZ_ERR_FULL);
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_put_i64(&b, INT64_MIN), FZ_ERR_FULL);
    ASSERT(b.len <= b.max && b.cap <= b.max);
    ASSERT_EQ_I64(fz_buf_reserve(&b, SIZE_MAX), FZ_ERR_FULL);
    fz_buf_free(&b);

    /* printf longer than its 512-byte stack buffer, within the cap */
    fz_buf_init(&b, 4096);
    char big[1500];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ASSERT_EQ_I64(fz_buf_printf(&b, "<%s>", big), FZ_OK);
    ASSERT_EQ_U64(b.len, sizeof(big) + 1);
    ASSERT(b.p[0] == '<' && b.p[b.len - 1] == '>' && b.p[700] == 'q');
    ASSERT_EQ_I64(fz_buf_printf(&b, "%s%s%s", big, big, big), FZ_ERR_FULL);
    fz_buf_free(&b);
}

TEST_IMPL(buf_json_escape) {
    fz_buf b;
    fz_buf_init(&b, 1 << 16);
    static const char in[] = "a\"b\\c/\n\r\t\x01\x1f\x7f \xe8\xb4\xa6\xe6\x88\xb7";
    ASSERT_EQ_I64(fz_buf_put_json_str(&b, in, sizeof(in) - 1), FZ_OK);
    ASSERT_BUF(&b, "\"a\\\"b\\\\c/\\n\\r\\t\\u0001\\u001f\\u007f "
                   "\xe8\xb4\xa6\xe6\x88\xb7\"");
    /* NUL inside the view is data, not a terminator */
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_put_json_str(&b, "x\0y", 3), FZ_OK);
    ASSERT_BUF(&b, "\"x\\u0000y\"");
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_put_json_str(&b, "", 0), FZ_OK);
    ASSERT_BUF(&b, "\"\"");

    /* oracle: random valid UTF-8 full of specials decodes back exactly */
    static const uint32_t alphabet[] = {'"',  '\\',   '/',    0,      1,      8,    9,
                                        10,   13,     0x1F,   0x20,   'A',    0x7F, 0x80,
                                        0xA0, 0x8D26, 0x3000, 0xFEFF, 0x1F600};
    for (int iter = 0; iter < 2000; iter++) {
        char s[256];
        size_t n = 0, len = fz_test_rand_below(40);
        for (size_t k = 0; k < len; k++)
            n += fz_utf8_encode(alphabet[fz_test_rand_below(FZ_ARRAY_LEN(alphabet))], s + n);
        fz_buf_reset(&b);
        ASSERT_EQ_I64(fz_buf_put_json_str(&b, s, n), FZ_OK);
        tj *v;
        ASSERT_JSON(v, b.p, b.len);
        ASSERT(v->type == TJ_STR);
        ASSERT_EQ_U64(v->len, n);
        ASSERT(memcmp(v->str, s, n) == 0);
        tj_free(v);
    }
    fz_buf_free(&b);
}

TEST_IMPL(buf_base64) {
    static const char *const rfc4648[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    fz_buf b;
    fz_buf_init(&b, 1 << 16);
    for (size_t i = 0; i < FZ_ARRAY_LEN(rfc4648); i++) {
        fz_buf_reset(&b);
        ASSERT_EQ_I64(fz_buf_put_base64(&b, rfc4648[i][0], strlen(rfc4648[i][0])), FZ_OK);
        ASSERT_VIEW_EQ(b.p, b.len, rfc4648[i][1]);
    }
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_put_base64(&b, "\xff\xfe\x00\xfb\xef", 5), FZ_OK);
    ASSERT_VIEW_EQ(b.p, b.len, "//4A++8="); /* '+' and '/' of the standard alphabet */

    /* oracle: random bytes, appended after existing content, decode back */
    for (int iter = 0; iter < 3000; iter++) {
        unsigned char s[100], back[100];
        size_t n = fz_test_rand_below(sizeof(s) + 1);
        for (size_t k = 0; k < n; k++) s[k] = (unsigned char)fz_test_rand();
        fz_buf_reset(&b);
        fz_buf_puts(&b, "x:");
        ASSERT_EQ_I64(fz_buf_put_base64(&b, s, n), FZ_OK);
        ASSERT(b.p[0] == 'x' && b.p[1] == ':');
        ASSERT_EQ_U64(b.len - 2, (n + 2) / 3 * 4);
        long got = tb64_decode(b.p + 2, b.len - 2, back);
        ASSERT_EQ_I64(got, (long)n);
        ASSERT(memcmp(back, s, n) == 0);
    }
    fz_buf_free(&b);

    /* the cap holds: 6 bytes need 8 characters */
    fz_buf_init(&b, 7);
    ASSERT_EQ_I64(fz_buf_put_base64(&b, "foobar", 6), FZ_ERR_FULL);
    ASSERT(b.failed);
    ASSERT(b.len == 0);
    fz_buf_free(&b);
    fz_buf_init(&b, 8);
    ASSERT_EQ_I64(fz_buf_put_base64(&b, "foobar", 6), FZ_OK);
    ASSERT_VIEW_EQ(b.p, b.len, "Zm9vYmFy");
    fz_buf_free(&b);
}

TEST_IMPL(buf_integers) {
    static const struct {
        int64_t v;
        const char *s;
    } i64[] = {{0, "0"},
               {-1, "-1"},
               {7, "7"},
               {-10, "-10"},
               {INT64_MAX, "9223372036854775807"},
               {INT64_MIN, "-9223372036854775808"},
               {INT64_MIN + 1, "-9223372036854775807"}};
    fz_buf b;
    fz_buf_init(&b, 256);
    for (size_t i = 0; i < FZ_ARRAY_LEN(i64); i++) {
        fz_buf_reset(&b);
        ASSERT_EQ_I64(fz_buf_put_i64(&b, i64[i].v), FZ_OK);
        ASSERT_VIEW_EQ(b.p, b.len, i64[i].s);
    }
    fz_buf_reset(&b);
    fz_buf_put_u64(&b, UINT64_MAX);
    ASSERT_VIEW_EQ(b.p, b.len, "18446744073709551615");
    fz_buf_reset(&b);
    fz_buf_put_u64(&b, 0);
    ASSERT_VIEW_EQ(b.p, b.len, "0");
    fz_buf_reset(&b);
    fz_buf_put_hex64(&b, 0x00ab0000cdef0012ULL);
    ASSERT_VIEW_EQ(b.p, b.len, "00ab0000cdef0012");
    fz_buf_reset(&b);
    fz_buf_put_hex64(&b, UINT64_MAX);
    ASSERT_VIEW_EQ(b.p, b.len, "ffffffffffffffff");
    /* oracle against printf */
    for (int iter = 0; iter < 10000; iter++) {
        int64_t v = (int64_t)fz_test_rand();
        if (iter % 3 == 0) v >>= fz_test_rand_below(63);
        char want[32];
        snprintf(want, sizeof(want), "%" PRId64, v);
        fz_buf_reset(&b);
        fz_buf_put_i64(&b, v);
        ASSERT_VIEW_EQ(b.p, b.len, want);
    }
    /* put_key */
    fz_buf_reset(&b);
    ASSERT_EQ_I64(fz_buf_put_key(&b, "a", 1), FZ_OK);
    ASSERT_EQ_I64(fz_buf_put_key(&b, "b", 0), FZ_OK);
    ASSERT_VIEW_EQ(b.p, b.len, "\"a\":,\"b\":");
    fz_buf_free(&b);
}
