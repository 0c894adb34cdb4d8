/*
 * utf8.c - see utf8.h.
 *
 * fz_utf8_valid() sees every byte of every event, most of them ASCII (JSON
 * syntax, numbers, English text) with runs of three-byte CJK characters.
 * The scalar path checks ASCII eight bytes at a time and decodes the rest
 * one sequence at a time. The SSE4.2 and AVX2 paths (simd.h) check 16 or
 * 32 bytes at a time with the lookup algorithm of Keiser and Lemire
 * ("Validating UTF-8 in less than one instruction per byte", 2021): three
 * table look-ups on the nibbles of each byte and of the byte before it
 * classify every pair, and a check on the two and three bytes before
 * catches missing or extra continuation bytes; blocks that are ASCII, after
 * a block that ended cleanly, are skipped; the last block overlaps the one
 * before it. The vector loop only says how far the text is valid; the
 * scalar loop takes over from the last character boundary before the first
 * block it rejects (or before a tail too short for a block), so the offset
 * of an error is always the scalar one.
 */
#include "utf8.h"

#include <string.h>

#include "simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FZ_UTF8_X86 1
#endif

size_t fz_utf8_decode(const char *s, size_t n, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) return 0;
    unsigned char c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xC2) return 0;
    if (c < 0xE0) {
        if (n < 2 || (u[1] & 0xC0) != 0x80) return 0;
        *cp = ((uint32_t)(c & 0x1F) << 6) | (u[1] & 0x3F);
        return 2;
    }
    if (c < 0xF0) {
        if (n < 3 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && u[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && u[1] >= 0xA0) return 0; /* surrogate */
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80 || (u[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && u[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && u[1] >= 0x90) return 0; /* > U+10FFFF */
        *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
              ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        return 4;
    }
    return 0;
}

size_t fz_utf8_seq_len(const char *s, size_t n) {
    uint32_t cp;
    return fz_utf8_decode(s, n, &cp);
}

/*
 * The start of the character that holds byte i - 1, or i when that
 * character ends before i: where the scalar check resumes after the vector
 * loop validated s[0..i) except, perhaps, the completeness of its last
 * character. 0 (check everything again) if s[0..i) does not look valid.
 */
static size_t resume_at(const unsigned char *s, size_t i) {
    if (i == 0) return 0;
    size_t k = i - 1;
    for (int back = 0; back < 3 && k > 0 && (s[k] & 0xC0) == 0x80; back++) k--;
    unsigned char c = s[k];
    if (c < 0x80) return k == i - 1 ? i : 0;
    if (c < 0xC0) return 0;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    return k + len <= i ? i : k;
}

#ifdef FZ_UTF8_X86
/* s[0..n) (n >= 3) does not end inside a character: no lead byte in the
 * last byte, no three- or four-byte lead in the last two, no four-byte
 * lead in the last three. */
static inline int ends_whole(const unsigned char *s, size_t n) {
    return s[n - 1] < 0xC0 && s[n - 2] < 0xE0 && s[n - 3] < 0xF0;
}

/* The lookup tables (bit names as in the paper): for the high nibble of
 * the previous byte, its low nibble, and the high nibble of the byte. */
#define TOO_SHORT (1 << 0)
#define TOO_LONG (1 << 1)
#define OVERLONG_3 (1 << 2)
#define TOO_LARGE (1 << 3)
#define SURROGATE (1 << 4)
#define OVERLONG_2 (1 << 5)
#define TOO_LARGE_1000 (1 << 6)
#define OVERLONG_4 (1 << 6)
#define TWO_CONTS (1 << 7)
#define CARRY (TOO_SHORT | TOO_LONG | TWO_CONTS)
#define TABLE_BYTE_1_HIGH                                                                          \
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TWO_CONTS,     \
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TOO_SHORT | OVERLONG_2, TOO_SHORT,                        \
        TOO_SHORT | OVERLONG_3 | SURROGATE, TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4
#define TABLE_BYTE_1_LOW                                                                           \
    CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,                \
        CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, \
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,                    \
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,                    \
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,                    \
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, CARRY | TOO_LARGE | TOO_LARGE_1000,        \
        CARRY | TOO_LARGE | TOO_LARGE_1000
#define TABLE_BYTE_2_HIGH                                                                          \
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,        \
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,              \
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,                                \
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,                                 \
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE, TOO_SHORT, TOO_SHORT,           \
        TOO_SHORT, TOO_SHORT

static const unsigned char byte_1_high[16] = {TABLE_BYTE_1_HIGH};
static const unsigned char byte_1_low[16] = {TABLE_BYTE_1_LOW};
static const unsigned char byte_2_high[16] = {TABLE_BYTE_2_HIGH};

/* Bytes that are not valid where they stand in v (nonzero lanes), given
 * the one, two and three bytes before each (p1, p2, p3). */
__attribute__((target("avx2"))) static inline __m256i block_errors_avx2(__m256i v, __m256i p1,
                                                                        __m256i p2, __m256i p3) {
    const __m256i b1h = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)byte_1_high));
    const __m256i b1l = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)byte_1_low));
    const __m256i b2h = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)byte_2_high));
    const __m256i nib = _mm256_set1_epi8(0x0F);
    __m256i sc = _mm256_and_si256(
        _mm256_and_si256(_mm256_shuffle_epi8(b1h, _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib)),
                         _mm256_shuffle_epi8(b1l, _mm256_and_si256(p1, nib))),
        _mm256_shuffle_epi8(b2h, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
    /* the third and fourth bytes of a sequence must be continuations */
    __m256i third = _mm256_subs_epu8(p2, _mm256_set1_epi8((char)(0xE0 - 0x80)));
    __m256i fourth = _mm256_subs_epu8(p3, _mm256_set1_epi8((char)(0xF0 - 0x80)));
    __m256i must23 = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(must23, sc);
}

/* How far s[0..n) is valid, as far as 32-byte blocks go; see resume_at(). */
__attribute__((target("avx2"))) static size_t valid_prefix_avx2(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    int open = 0; /* the last block held non-ASCII bytes: check the next one too */
    for (; i + 32 <= n; i += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(u + i));
        int high = _mm256_movemask_epi8(v) != 0;
        if (high || open) {
            __m256i p1, p2, p3;
            if (i == 0) { /* nothing before the text: as if NULs */
                unsigned char b[35] = {0};
                memcpy(b + 3, u, 32);
                p1 = _mm256_loadu_si256((const __m256i *)(b + 2));
                p2 = _mm256_loadu_si256((const __m256i *)(b + 1));
                p3 = _mm256_loadu_si256((const __m256i *)b);
            } else {
                p1 = _mm256_loadu_si256((const __m256i *)(u + i - 1));
                p2 = _mm256_loadu_si256((const __m256i *)(u + i - 2));
                p3 = _mm256_loadu_si256((const __m256i *)(u + i - 3));
            }
            __m256i err = block_errors_avx2(v, p1, p2, p3);
            if (!_mm256_testz_si256(err, err)) return resume_at(u, i);
        }
        open = high;
    }
    if (i < n && i >= 32 && n >= 35) { /* the last 32 bytes, overlapping checked ones */
        size_t b = n - 32;
        __m256i err = block_errors_avx2(_mm256_loadu_si256((const __m256i *)(u + b)),
                                        _mm256_loadu_si256((const __m256i *)(u + b - 1)),
                                        _mm256_loadu_si256((const __m256i *)(u + b - 2)),
                                        _mm256_loadu_si256((const __m256i *)(u + b - 3)));
        if (!_mm256_testz_si256(err, err) || !ends_whole(u, n)) return resume_at(u, i);
        return n;
    }
    return resume_at(u, i);
}

__attribute__((target("sse4.2"))) static inline __m128i block_errors_sse42(__m128i v, __m128i p1,
                                                                           __m128i p2, __m128i p3) {
    const __m128i b1h = _mm_loadu_si128((const __m128i *)byte_1_high);
    const __m128i b1l = _mm_loadu_si128((const __m128i *)byte_1_low);
    const __m128i b2h = _mm_loadu_si128((const __m128i *)byte_2_high);
    const __m128i nib = _mm_set1_epi8(0x0F);
    __m128i sc = _mm_and_si128(
        _mm_and_si128(_mm_shuffle_epi8(b1h, _mm_and_si128(_mm_srli_epi16(p1, 4), nib)),
                      _mm_shuffle_epi8(b1l, _mm_and_si128(p1, nib))),
        _mm_shuffle_epi8(b2h, _mm_and_si128(_mm_srli_epi16(v, 4), nib)));
    __m128i third = _mm_subs_epu8(p2, _mm_set1_epi8((char)(0xE0 - 0x80)));
    __m128i fourth = _mm_subs_epu8(p3, _mm_set1_epi8((char)(0xF0 - 0x80)));
    __m128i must23 = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8((char)0x80));
    return _mm_xor_si128(must23, sc);
}

__attribute__((target("sse4.2"))) static size_t valid_prefix_sse42(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    int open = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(u + i));
        int high = _mm_movemask_epi8(v) != 0;
        if (high || open) {
            __m128i p1, p2, p3;
            if (i == 0) {
                unsigned char b[19] = {0};
                memcpy(b + 3, u, 16);
                p1 = _mm_loadu_si128((const __m128i *)(b + 2));
                p2 = _mm_loadu_si128((const __m128i *)(b + 1));
                p3 = _mm_loadu_si128((const __m128i *)b);
            } else {
                p1 = _mm_loadu_si128((const __m128i *)(u + i - 1));
                p2 = _mm_loadu_si128((const __m128i *)(u + i - 2));
                p3 = _mm_loadu_si128((const __m128i *)(u + i - 3));
            }
            __m128i err = block_errors_sse42(v, p1, p2, p3);
            if (!_mm_testz_si128(err, err)) return resume_at(u, i);
        }
        open = high;
    }
    if (i < n && i >= 16 && n >= 19) { /* the last 16 bytes, overlapping checked ones */
        size_t b = n - 16;
        __m128i err = block_errors_sse42(_mm_loadu_si128((const __m128i *)(u + b)),
                                         _mm_loadu_si128((const __m128i *)(u + b - 1)),
                                         _mm_loadu_si128((const __m128i *)(u + b - 2)),
                                         _mm_loadu_si128((const __m128i *)(u + b - 3)));
        if (!_mm_testz_si128(err, err) || !ends_whole(u, n)) return resume_at(u, i);
        return n;
    }
    return resume_at(u, i);
}
#endif

static size_t valid_prefix_none(const char *s, size_t n) {
    (void)s;
    (void)n;
    return 0;
}

typedef size_t (*valid_prefix_fn)(const char *s, size_t n);
static const valid_prefix_fn valid_prefix[FZ_SIMD_LEVEL_COUNT] = {
    valid_prefix_none,
#ifdef FZ_UTF8_X86
    valid_prefix_sse42,
    valid_prefix_avx2,
#else
    valid_prefix_none,
    valid_prefix_none,
#endif
};

int fz_utf8_valid(const char *s, size_t n, size_t *bad_off) {
    size_t i = valid_prefix[fz_simd_level_get()](s, n);
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = fz_utf8_seq_len(s + i, n - i);
        if (!len) {
            if (bad_off) *bad_off = i;
            return 0;
        }
        i += len;
    }
    return 1;
}

size_t fz_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
