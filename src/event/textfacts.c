/*
 * textfacts.c - the text_flags and text_numbers fields (see textfacts.h).
 *
 * One pass over the normalised text. ASCII bytes are classed by comparison;
 * a non-ASCII lead byte is decoded only as far as the ranges need (a
 * two-byte sequence for Latin letters and £ ¥, three bytes for Han, the
 * currency signs of U+20xx and the full-width forms, four for the Han
 * extensions). Bytes that are not UTF-8 (the normalised view copies them
 * unchanged) count as nothing. A number is written while it is read, so
 * the pass needs no buffer of its own; joining across a separator looks
 * ahead at the next group only.
 *
 * Most bytes cannot change the answer: once a Latin letter has been seen,
 * letters are nothing new, nor, once a Han character has, are more of
 * them. On x86-64 (SSE2, at any SIMD level but scalar: simd.h) the pass
 * looks at 16 bytes at a time for the next byte that can (wanted(), or a
 * spacer that may start letters spaced out: spaced_hint()), so a text
 * costs about its digits and its first few characters; the scalar
 * path asks wanted() byte by byte, as the vector one does for the last
 * bytes. Both give the same fields: the unit tests run every input
 * through both.
 */
#include "textfacts.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "simd.h"
#include "skel.h"

static inline int digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int letter(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26; }
static inline int cont(unsigned char c) { return (c & 0xc0) == 0x80; }
static inline int joiner(unsigned char c) { return c == ' ' || c == '-' || c == '.'; }
/* a byte a disguised word puts for a letter (textfacts.h) */
static inline int swap_byte(unsigned char c) {
    return (c >= '0' && c <= '8' && c != '2' && c != '6') || c == '@' || c == '$';
}

/* s[i] is a swap byte: whether it and at most one more stand between two
 * ASCII letters (acc0unt, l33t). */
static inline __attribute__((always_inline)) int leet_at(const unsigned char *s, size_t n,
                                                         size_t i) {
    if (i == 0 || !letter(s[i - 1])) return 0;
    size_t k = i + 1;
    if (k < n && swap_byte(s[k])) k++;
    return k < n && letter(s[k]);
}

/* s[i] is a spacer between a single letter and another spacer (" e r"):
 * whether a run of letters spaced out (skel.h) starts at the letter
 * before it. The spacer after a run's first letter is such a spacer, and
 * the scan visits every one until the text is found disguised, so every
 * run is found there. */
static int spaced_at(const unsigned char *s, size_t n, size_t i) {
    return i > 0 && fz_skel_spaced_run((const char *)s, n, i - 1) != 0;
}

/* Whether s[i] may be the spacer after the first letter of a run of
 * letters spaced out: a spacer, a letter, a spacer, a letter, a spacer
 * (" e r i"). A single letter between spacers is common (" a ", " I "); two
 * in a row are rare, and a run has at least four. */
static inline int spaced_hint(const unsigned char *s, size_t n, size_t i) {
    return i + 4 < n && fz_skel_spacer(s[i]) && letter(s[i + 1]) && fz_skel_spacer(s[i + 2]) &&
           letter(s[i + 3]) && fz_skel_spacer(s[i + 4]);
}

/* FZ_TEXT_DISGUISED when the character cp at s[i..i+len) looks like Latin
 * letters and stands next to an ASCII letter (pаypal), given the flags so
 * far; else 0. */
static unsigned lookalike_at(unsigned flags, const unsigned char *s, size_t n, size_t i, size_t len,
                             uint32_t cp) {
    if (flags & FZ_TEXT_DISGUISED) return 0;
    if (!((i > 0 && letter(s[i - 1])) || (i + len < n && letter(s[i + len])))) return 0;
    return fz_skel_looks_latin(cp) ? FZ_TEXT_DISGUISED : 0;
}

static unsigned class_2(uint32_t cp) {
    if (cp == 0xa3 || cp == 0xa5) return FZ_TEXT_MONEY; /* £ ¥ */
    if (cp >= 0xc0 && cp <= 0x24f && cp != 0xd7 && cp != 0xf7) return FZ_TEXT_LATIN;
    return 0;
}

static unsigned class_3(uint32_t cp) {
    if ((cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) ||
        (cp >= 0xf900 && cp <= 0xfaff))
        return FZ_TEXT_HAN;
    switch (cp) {
    case 0x20ab: /* ₫ */
    case 0x20ac: /* € */
    case 0x20a9: /* ₩ */
    case 0x20b1: /* ₱ */
    case 0x20b9: /* ₹ */
    case 0x20ba: /* ₺ */
    case 0x20bd: /* ₽ */
    case 0xff04: /* ＄ */
    case 0xffe1: /* ￡ */
    case 0xffe5: /* ￥ */ return FZ_TEXT_MONEY;
    default: return 0;
    }
}

/* The number whose first digit is s[i]: its digits into out; returns
 * where reading stops. */
static size_t number_at(const unsigned char *s, size_t n, size_t i, char *out, size_t *o) {
    for (;;) {
        size_t j = i;
        while (j < n && digit(s[j])) out[(*o)++] = (char)s[j++];
        if (j - i >= 3 && j + 1 < n && joiner(s[j]) && digit(s[j + 1])) {
            size_t k = j + 1;
            while (k < n && k - (j + 1) < 3 && digit(s[k])) k++;
            if (k - (j + 1) >= 3) {
                i = j + 1; /* "138 1234": one number */
                continue;
            }
        }
        return j;
    }
}

/* Whether byte c can change the answer, given the flags found so far. */
static inline int wanted(unsigned char c, unsigned flags) {
    if (digit(c) || c == '$') return 1;
    /* a swap byte or the lead byte of a look-alike (the ranges of
     * fz_skel_looks_latin(): none is CJK E3-E9 or Hangul EB-ED) */
    if (!(flags & FZ_TEXT_DISGUISED) &&
        (c == '@' || c == '|' || (c >= 0xc3 && c <= 0xe2) || c == 0xea || (c >= 0xee && c <= 0xf4)))
        return 1;
    if (!(flags & FZ_TEXT_LATIN) && (letter(c) || (c >= 0xc3 && c <= 0xc9))) return 1;
    if (!(flags & FZ_TEXT_HAN) && ((c >= 0xe3 && c <= 0xe9) || c == 0xef || c == 0xf0)) return 1;
    if (!(flags & FZ_TEXT_MONEY) && (c == 0xc2 || c == 0xe2 || c == 0xef)) return 1;
    return 0;
}

#ifdef __SSE2__
/* x in [lo, hi] (unsigned), per byte */
static inline __m128i in_range(__m128i v, unsigned char lo, unsigned char hi) {
    __m128i x = _mm_sub_epi8(v, _mm_set1_epi8((char)lo));
    __m128i k = _mm_set1_epi8((char)(hi - lo));
    return _mm_cmpeq_epi8(_mm_min_epu8(x, k), x);
}

/* the bytes fz_skel_spacer() takes: ' ' '.' '-' '_' '*' */
static inline __m128i spacers(__m128i v) {
    __m128i a =
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('.')));
    __m128i b =
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')), _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
    return _mm_or_si128(_mm_or_si128(a, b), _mm_cmpeq_epi8(v, _mm_set1_epi8('*')));
}

/* The offset of the first byte in s[0..16) that wanted() would take, or
 * 16 (it reads s[16] to s[19] too): most bytes of a text are letters already seen (or, in Chinese
 * text once one Han character is, more of them), skipped 16 at a time. */
static inline unsigned next_wanted16(const unsigned char *s, unsigned flags) {
    __m128i v = _mm_loadu_si128((const __m128i *)s);
    __m128i m = _mm_or_si128(in_range(v, '0', '9'), _mm_cmpeq_epi8(v, _mm_set1_epi8('$')));
    if (!(flags & FZ_TEXT_LATIN))
        m = _mm_or_si128(m, _mm_or_si128(in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z'),
                                         in_range(v, 0xc3, 0xc9)));
    if (!(flags & FZ_TEXT_HAN))
        m = _mm_or_si128(m, _mm_or_si128(in_range(v, 0xe3, 0xe9), in_range(v, 0xef, 0xf0)));
    __m128i v1 = _mm_loadu_si128((const __m128i *)(s + 1));
    __m128i v2 = _mm_loadu_si128((const __m128i *)(s + 2));
    if (!(flags & FZ_TEXT_DISGUISED)) {
        m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('@')),
                                         _mm_cmpeq_epi8(v, _mm_set1_epi8('|'))));
        /* " x y ": spaced_hint() (letters spaced out) */
        /* (spacers two apart, as in " a ", are common; three in a row of
         * them rare: the test of the letters waits for them) */
        __m128i v4 = _mm_loadu_si128((const __m128i *)(s + 4));
        __m128i sp = _mm_and_si128(_mm_and_si128(spacers(v), spacers(v2)), spacers(v4));
        if (_mm_movemask_epi8(sp)) {
            __m128i v3 = _mm_loadu_si128((const __m128i *)(s + 3));
            __m128i low = _mm_set1_epi8(0x20);
            sp = _mm_and_si128(sp, _mm_and_si128(in_range(_mm_or_si128(v1, low), 'a', 'z'),
                                                 in_range(_mm_or_si128(v3, low), 'a', 'z')));
            m = _mm_or_si128(m, sp);
        }
        if (_mm_movemask_epi8(v)) { /* a byte >= 0x80: look-alike lead bytes */
            __m128i d = _mm_or_si128(in_range(v, 0xc3, 0xe2), in_range(v, 0xee, 0xf4));
            m = _mm_or_si128(m, _mm_or_si128(d, _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xea))));
        }
    }
    if (!(flags & FZ_TEXT_MONEY)) {
        /* the lead bytes of the signs, with the next byte (and the one
         * after for the full-width forms, whose block holds the common
         * punctuation of Chinese text: "，" is EF BC 8C) */
#define EQ(x, c) _mm_cmpeq_epi8((x), _mm_set1_epi8((char)(c)))
        __m128i lat1 = _mm_and_si128(EQ(v, 0xc2), _mm_or_si128(EQ(v1, 0xa3), EQ(v1, 0xa5)));
        __m128i cur = _mm_and_si128(EQ(v, 0xe2), EQ(v1, 0x82));
        __m128i full = _mm_and_si128(
            EQ(v, 0xef),
            _mm_or_si128(_mm_and_si128(EQ(v1, 0xbc), EQ(v2, 0x84)),
                         _mm_and_si128(EQ(v1, 0xbf), _mm_or_si128(EQ(v2, 0xa1), EQ(v2, 0xa5)))));
#undef EQ
        m = _mm_or_si128(m, _mm_or_si128(lat1, _mm_or_si128(cur, full)));
    }
    unsigned bits = (unsigned)_mm_movemask_epi8(m);
    return bits ? (unsigned)__builtin_ctz(bits) : 16;
}
#endif

static inline __attribute__((always_inline)) unsigned
scan_body(const char *norm, size_t n, char *numbers, size_t *numbers_len, int vec) {
    const unsigned char *s = (const unsigned char *)norm;
    unsigned flags = 0;
    size_t o = 0;
    (void)vec;
    for (size_t i = 0; i < n;) {
#ifdef __SSE2__
        if (vec && n - i >= 20) { /* 16 bytes and the four after them */
            unsigned k = next_wanted16(s + i, flags);
            i += k;
            if (k == 16) continue;
        } else
#endif
            if (!wanted(s[i], flags) && ((flags & FZ_TEXT_DISGUISED) || !spaced_hint(s, n, i))) {
            i++;
            continue;
        }
        unsigned char c = s[i];
        if (!(flags & FZ_TEXT_DISGUISED) &&
            (swap_byte(c) ? leet_at(s, n, i)
             : c == '|'   ? i > 0 && i + 1 < n && letter(s[i - 1]) && letter(s[i + 1])
                          : spaced_hint(s, n, i) && spaced_at(s, n, i)))
            flags |= FZ_TEXT_DISGUISED;
        if (digit(c) && numbers) {
            if (o) numbers[o++] = '\n';
            i = number_at(s, n, i, numbers, &o);
        } else if (c < 0x80) {
            if (letter(c)) flags |= FZ_TEXT_LATIN;
            if (c == '$') flags |= FZ_TEXT_MONEY;
            i++;
        } else if (c >= 0xc2 && c <= 0xdf && i + 1 < n && cont(s[i + 1])) {
            uint32_t cp = ((uint32_t)(c & 0x1f) << 6) | (s[i + 1] & 0x3fu);
            flags |= class_2(cp);
            flags |= lookalike_at(flags, s, n, i, 2, cp);
            i += 2;
        } else if (c >= 0xe0 && c <= 0xef && i + 2 < n && cont(s[i + 1]) && cont(s[i + 2])) {
            uint32_t cp = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[i + 1] & 0x3f) << 6) |
                          (s[i + 2] & 0x3fu);
            flags |= class_3(cp);
            flags |= lookalike_at(flags, s, n, i, 3, cp);
            i += 3;
        } else if (c >= 0xf0 && c <= 0xf4 && i + 3 < n && cont(s[i + 1]) && cont(s[i + 2]) &&
                   cont(s[i + 3])) {
            uint32_t cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3f) << 12) |
                          ((uint32_t)(s[i + 2] & 0x3f) << 6) | (s[i + 3] & 0x3fu);
            if (cp >= 0x20000 && cp <= 0x3134f) flags |= FZ_TEXT_HAN;
            flags |= lookalike_at(flags, s, n, i, 4, cp);
            i += 4;
        } else {
            i++; /* not UTF-8: nothing */
        }
    }
    if (numbers_len) *numbers_len = o;
    return flags;
}

static unsigned scan_scalar(const char *norm, size_t n, char *numbers, size_t *numbers_len) {
    return scan_body(norm, n, numbers, numbers_len, 0);
}

static unsigned scan_vec(const char *norm, size_t n, char *numbers, size_t *numbers_len) {
    return scan_body(norm, n, numbers, numbers_len, 1);
}

unsigned fz_text_scan(const char *norm, size_t n, char *numbers, size_t *numbers_len) {
    return (fz_simd_level_get() == FZ_SIMD_SCALAR ? scan_scalar : scan_vec)(norm, n, numbers,
                                                                            numbers_len);
}

static const struct {
    unsigned bit;
    const char *name;
    size_t len;
} names[] = {{FZ_TEXT_HAN, "han", 3},
             {FZ_TEXT_LATIN, "latin", 5},
             {FZ_TEXT_LINK, "link", 4},
             {FZ_TEXT_MONEY, "money", 5},
             {FZ_TEXT_DISGUISED, "disguised", 9}};

unsigned fz_text_flag_bit(const char *word, size_t n) {
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (n == names[i].len && memcmp(word, names[i].name, n) == 0) return names[i].bit;
    return 0;
}

unsigned fz_text_flags_parse(const char *s, size_t n) {
    unsigned flags = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != ' ') j++;
        flags |= fz_text_flag_bit(s + i, j - i);
        i = j + 1;
    }
    return flags;
}

size_t fz_text_flags_format(unsigned flags, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(flags & names[i].bit)) continue;
        if (o) out[o++] = ' ';
        memcpy(out + o, names[i].name, names[i].len);
        o += names[i].len;
    }
    out[o] = '\0';
    return o;
}
