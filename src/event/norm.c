/*
 * norm.c - see norm.h.
 *
 * One pass over the text. Separators are held back in a small pending run
 * until the next kept character shows whether they sit between two CJK
 * characters (drop them) or not (emit them, collapsing white space).
 *
 * Workload: SMS texts of a few hundred bytes, mostly ASCII words with runs
 * of CJK characters. Two fast paths carry most bytes: runs of ASCII words
 * (kept bytes and single spaces, which normalise to themselves
 * lower-cased) and CJK ideographs whose simplified form is an ideograph.
 * The ASCII run is found and lower-cased 32 (AVX2) or 16 (SSE4.2) bytes at
 * a time, or a byte at a time without single spaces on the scalar path;
 * the level is simd.h's, chosen once per call, and every level gives the
 * same bytes (tests/unit/test-simd.c).
 */
#include "norm.h"

#include <opencc/opencc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "simd.h"
#include "utf8.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FZ_NORM_X86 1
#endif

/* simplified form of each BMP code point, or 0 when it has none */
static uint16_t t2s[0x10000];
/* byte -> itself lower-cased when it is an ASCII byte that step 5 keeps (not
 * white space, not a separator, not NUL), else 0. Built with t2s from the
 * classes below; before that every byte takes the code point path, which
 * gives the same output, only slower. */
static unsigned char keep_lower[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static char t2s_err[256];

static int is_space(uint32_t cp);
static int is_sep_punct(uint32_t cp);

static size_t put3(char *p, uint32_t cp) {
    p[0] = (char)(0xE0 | (cp >> 12));
    p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* keep_lower, then t2s: convert every ideograph on its own line and keep
 * the one-to-one, same-length answers (phrase-level conversion has no place
 * in matching). */
static void tables_build(void) {
    for (unsigned c = 1; c < 0x80; c++)
        if (!is_space(c) && !is_sep_punct(c))
            keep_lower[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    static const uint32_t ranges[][2] = {{0x3400, 0x9FFF}, {0xF900, 0xFAFF}};
    opencc_t od = opencc_open(OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP);
    if (od == (opencc_t)-1) {
        snprintf(t2s_err, sizeof(t2s_err), "OpenCC: cannot open %s: %s",
                 OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP, opencc_error());
        return;
    }
    size_t cap = 0;
    for (size_t r = 0; r < FZ_ARRAY_LEN(ranges); r++) cap += (ranges[r][1] - ranges[r][0] + 1) * 4;
    char *in = malloc(cap);
    if (!in) {
        snprintf(t2s_err, sizeof(t2s_err), "OpenCC: out of memory");
        opencc_close(od);
        return;
    }
    size_t n = 0;
    for (size_t r = 0; r < FZ_ARRAY_LEN(ranges); r++)
        for (uint32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
            n += put3(in + n, cp);
            in[n++] = '\n';
        }
    char *out = opencc_convert_utf8(od, in, n);
    if (!out) {
        snprintf(t2s_err, sizeof(t2s_err), "OpenCC: conversion failed: %s", opencc_error());
        goto done;
    }
    const char *o = out;
    for (size_t r = 0; r < FZ_ARRAY_LEN(ranges); r++)
        for (uint32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
            const char *nl = strchr(o, '\n');
            if (!nl) goto freed; /* output shorter than input: keep what we have */
            uint32_t to;
            if (nl - o == 3 && fz_utf8_decode(o, 3, &to) == 3 && to != cp && to <= 0xFFFF)
                t2s[cp] = (uint16_t)to;
            o = nl + 1;
        }
freed:
    opencc_convert_utf8_free(out);
done:
    free(in);
    opencc_close(od);
}

int fz_norm_init(char *errstr, size_t errstr_size) {
    pthread_once(&tables_once, tables_build);
    if (t2s_err[0]) {
        snprintf(errstr, errstr_size, "%s", t2s_err);
        return -1;
    }
    return 0;
}

static int is_cjk(uint32_t cp) {
    return (cp >= 0x3400 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x3FFFF);
}

static int is_alnum(uint32_t cp) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
}

static int is_space(uint32_t cp) {
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static int is_zero_width(uint32_t cp) {
    return cp == 0xAD || cp == 0x34F || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF;
}

static int is_sep_punct(uint32_t cp) {
    switch (cp) {
    case '.':
    case 0xB7:
    case 0x2022:
    case 0x30FB:
    case 0x2027:
    case '*':
    case '_':
    case '-':
    case '~':
    case '|':
    case '/':
    case '\\':
    case '+':
    case '\'':
    case '"':
    case '`':
    case '^': return 1;
    default: return 0;
    }
}

/* Map one code point (steps 1, 4, and 3 when lower is set; without it
 * ASCII letters keep their case and the mapped ones get theirs). */
static inline uint32_t fold(uint32_t cp, int lower) {
    if (cp < 0x80) return (lower && cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp >= 0xFF01 && cp <= 0xFF5E) return fold(cp - 0xFEE0, lower);
    if (cp == 0x3000) return ' ';
    if (cp == 0x212A) return lower ? 'k' : 'K'; /* KELVIN SIGN */
    if (cp == 0x017F) return 's';               /* LONG S */
    if (cp >= 0x1D400 && cp <= 0x1D6A3) {       /* bold, italic, script, ... A-Z a-z */
        uint32_t k = (cp - 0x1D400) % 52;
        return k < 26 ? (lower ? 'a' : 'A') + k : 'a' + (k - 26);
    }
    if (cp >= 0x1D7CE && cp <= 0x1D7FF) return '0' + (cp - 0x1D7CE) % 10;
    if (cp <= 0xFFFF && t2s[cp]) return t2s[cp];
    return cp;
}

#define PENDING_MAX 32

/* The separators waiting in pend go out (they stay between prev and the
 * next kept character f) unless they sit between CJK and CJK, a letter or
 * a digit; leading ones (nothing kept yet) never do. */
static inline int keep_pending(uint32_t prev, uint32_t f) {
    if (prev == 0) return 0;
    return !((is_cjk(prev) && (is_cjk(f) || is_alnum(f))) || (is_alnum(prev) && is_cjk(f)));
}

/*
 * ASCII runs. Given in[0] kept (keep_lower[in[0]] != 0), each returns a
 * length k >= 1 and writes in[0..k) lower-cased to out[0..k) (writing
 * past k, but never past n bytes of out). in[0..k) holds kept bytes and,
 * on the vector paths, single spaces between them: a space that follows a
 * kept ASCII byte and comes before one is emitted as it is (keep_pending),
 * so the result is the scalar one. The run ends before a second space in
 * a row, a space at its end, and any other byte that is not kept. Without
 * lower, the bytes are copied as they are (fz_norm_text_cased()).
 */
static inline size_t ascii_run_scalar(const char *in, size_t n, char *out, int lower) {
    size_t k = 0;
    unsigned char l = keep_lower[(unsigned char)in[0]];
    do {
        out[k] = lower ? (char)l : in[k];
    } while (++k < n && (l = keep_lower[(unsigned char)in[k]]) != 0);
    return k;
}

#ifdef FZ_NORM_X86
/* A byte ends a run (it is neither kept nor a space) when
 * RUN_LO[low nibble] & RUN_HI[high nibble] != 0. Bit 7 is every byte >=
 * 0x80; bits 0-4 are high nibbles 0, 2, 5, 6 and 7 and the low nibbles of
 * NUL, \t-\r; " ' * + - . /; \ ^ _; `; | ~ in each. */
#define RUN_LO                                                                                     \
    0x89, 0x80, 0x82, 0x80, 0x80, 0x80, 0x80, 0x82, 0x80, 0x81, 0x83, 0x83, 0x95, 0x83, 0x96, 0x86
#define RUN_HI                                                                                     \
    0x01, 0x00, 0x02, 0x00, 0x00, 0x04, 0x08, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80

static const unsigned char run_lo[16] = {RUN_LO}, run_hi[16] = {RUN_HI};

/* the bytes that end the run in 16 bytes at p (bit i: p[i]), spaces in
 * *sp; out gets p lower-cased */
__attribute__((target("sse4.2"))) static inline unsigned run_block_sse42(const char *p, char *out,
                                                                         unsigned *sp, int lower) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)run_lo);
    const __m128i hi = _mm_loadu_si128((const __m128i *)run_hi);
    const __m128i nib = _mm_set1_epi8(0x0F);
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i cls = _mm_and_si128(_mm_shuffle_epi8(lo, _mm_and_si128(v, nib)),
                                _mm_shuffle_epi8(hi, _mm_and_si128(_mm_srli_epi16(v, 4), nib)));
    unsigned stop = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(cls, _mm_setzero_si128())) & 0xFFFF;
    *sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
    /* 'A'..'Z' + (0x80 - 'A') are the 26 smallest signed bytes */
    __m128i upper = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - 'A'))),
                                   _mm_set1_epi8((char)(0x80 + 26)));
    if (lower) v = _mm_or_si128(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
    _mm_storeu_si128((__m128i *)out, v);
    return stop;
}

__attribute__((target("avx2"))) static inline uint32_t run_block_avx2(const char *p, char *out,
                                                                      uint32_t *sp, int lower) {
    const __m256i lo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)run_lo));
    const __m256i hi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)run_hi));
    const __m256i nib = _mm256_set1_epi8(0x0F);
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    __m256i cls =
        _mm256_and_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(v, nib)),
                         _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
    uint32_t stop = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(cls, _mm256_setzero_si256()));
    *sp = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')));
    __m256i upper = _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(0x80 + 26)),
                                      _mm256_add_epi8(v, _mm256_set1_epi8((char)(0x80 - 'A'))));
    if (lower) v = _mm256_or_si256(v, _mm256_and_si256(upper, _mm256_set1_epi8(0x20)));
    _mm256_storeu_si256((__m256i *)out, v);
    return stop;
}

/* the rest of a run after the vector blocks, a byte at a time */
static inline size_t run_tail(const char *in, size_t i, size_t n, char *out, int lower) {
    for (; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ') {
            if (in[i - 1] == ' ') break;
            out[i] = ' ';
            continue;
        }
        unsigned char l = keep_lower[c];
        if (!l) break;
        out[i] = lower ? (char)l : (char)c;
    }
    return in[i - 1] == ' ' ? i - 1 : i;
}

__attribute__((target("sse4.2"))) static inline size_t ascii_run_sse42(const char *in, size_t n,
                                                                       char *out, int lower) {
    size_t i = 0;
    unsigned carry = 0; /* the byte before the block is a space */
    for (; i + 16 <= n; i += 16) {
        unsigned sp, stop = run_block_sse42(in + i, out + i, &sp, lower);
        stop |= sp & ((sp << 1) | carry);
        if (stop) {
            i += (size_t)__builtin_ctz(stop);
            return in[i - 1] == ' ' ? i - 1 : i;
        }
        carry = sp >> 15;
    }
    return run_tail(in, i, n, out, lower);
}

__attribute__((target("avx2"))) static inline size_t ascii_run_avx2(const char *in, size_t n,
                                                                    char *out, int lower) {
    size_t i = 0;
    uint32_t carry = 0;
    for (; i + 32 <= n; i += 32) {
        uint32_t sp, stop = run_block_avx2(in + i, out + i, &sp, lower);
        stop |= sp & ((sp << 1) | carry);
        if (stop) {
            i += (size_t)__builtin_ctz(stop);
            return in[i - 1] == ' ' ? i - 1 : i;
        }
        carry = sp >> 31;
    }
    if (i + 16 <= n) {
        unsigned sp16, stop = run_block_sse42(in + i, out + i, &sp16, lower);
        stop |= sp16 & ((sp16 << 1) | carry);
        if (stop) {
            i += (size_t)__builtin_ctz(stop);
            return in[i - 1] == ' ' ? i - 1 : i;
        }
        i += 16;
    }
    return run_tail(in, i, n, out, lower);
}
#define ASCII_RUN(level, in, n, out)                                                               \
    ((level) == FZ_SIMD_AVX2    ? ascii_run_avx2((in), (n), (out), lower)                          \
     : (level) == FZ_SIMD_SSE42 ? ascii_run_sse42((in), (n), (out), lower)                         \
                                : ascii_run_scalar((in), (n), (out), lower))
#else
#define ASCII_RUN(level, in, n, out) ascii_run_scalar((in), (n), (out), lower)
#endif

/*
 * Most text is ASCII: runs of kept ASCII bytes are copied lower-cased
 * without decoding, and ASCII white space and separators skip the code
 * point path; so do CJK ideographs that simplify to ideographs.
 * Everything else goes one code point at a time. The state stays in
 * locals: separators seen since the last kept character wait in pend
 * until the next kept character says whether they go or stay. Inlined
 * once per SIMD level and case mode, where level and lower are constants.
 */
static inline __attribute__((always_inline)) size_t
norm_text_body(const char *in, size_t n, char *out, fz_simd_level level, int lower) {
    size_t i = 0, o = 0, np = 0;
    uint32_t prev = 0;      /* last kept non-separator code point, after folding; 0 = none */
    char pend[PENDING_MAX]; /* separators since prev, already folded */
    int pend_space = 0;     /* the pending run is white space only */
#define FLUSH_PENDING(f)                                                                           \
    do {                                                                                           \
        if (keep_pending(prev, (f)))                                                               \
            for (size_t k_ = 0; k_ < np; k_++) out[o++] = pend[k_];                                \
        np = 0;                                                                                    \
    } while (0)
#define ADD_SPACE()                                                                                \
    do {                                                                                           \
        if (np == 0) {                                                                             \
            pend[np++] = ' ';                                                                      \
            pend_space = 1;                                                                        \
        } else if ((!pend_space || pend[np - 1] != ' ') && np < PENDING_MAX) {                     \
            pend[np++] = ' ';                                                                      \
        }                                                                                          \
    } while (0)
    while (i < n) {
        unsigned char c = (unsigned char)in[i], l = keep_lower[c];
        if (l) {
            if (np) FLUSH_PENDING(l);
            size_t k = ASCII_RUN(level, in + i, n - i, out + o);
            i += k;
            o += k;
            prev = (unsigned char)out[o - 1];
            continue;
        }
        if (c < 0x80 && (is_space(c) || is_sep_punct(c))) {
            if (is_space(c)) {
                ADD_SPACE();
            } else {
                pend_space = 0;
                if (np < PENDING_MAX) pend[np++] = (char)c;
            }
            i++;
            continue;
        }
        if (c >= 0xE3 && c <= 0xE9 && n - i >= 3) { /* U+3000..9FFF */
            unsigned char c1 = (unsigned char)in[i + 1], c2 = (unsigned char)in[i + 2];
            uint32_t cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(c1 & 0x3F) << 6) | (c2 & 0x3F);
            uint32_t f = cp >= 0x3400 && t2s[cp] ? t2s[cp] : cp;
            if ((c1 & 0xC0) == 0x80 && (c2 & 0xC0) == 0x80 && f >= 0x3400 && f <= 0x9FFF) {
                /* an ideograph (not zero-width, white space or a separator) */
                if (np) FLUSH_PENDING(f);
                o += put3(out + o, f);
                prev = f;
                i += 3;
                continue;
            }
        }
        uint32_t cp;
        size_t len = fz_utf8_decode(in + i, n - i, &cp);
        if (len == 0) { /* not UTF-8: copy the byte as it is */
            for (size_t k = 0; k < np; k++) out[o++] = pend[k];
            np = 0;
            out[o++] = in[i++];
            prev = 0xFFFD;
            continue;
        }
        i += len;
        if (is_zero_width(cp)) continue;
        uint32_t f = fold(cp, lower);
        if (is_space(f)) {
            ADD_SPACE();
        } else if (is_sep_punct(f)) {
            pend_space = 0;
            char tmp[4];
            size_t k = fz_utf8_encode(f, tmp);
            if (np + k <= PENDING_MAX) {
                memcpy(pend + np, tmp, k);
                np += k;
            }
        } else {
            if (np) FLUSH_PENDING(f);
            o += fz_utf8_encode(f, out + o);
            prev = f;
        }
    }
#undef FLUSH_PENDING
#undef ADD_SPACE
    if (np && prev != 0) { /* trailing separators are kept, leading ones dropped */
        memcpy(out + o, pend, np);
        o += np;
    }
    return o;
}

#define NORM_TEXT_FNS(lower, suffix)                                                               \
    static size_t norm_text_scalar##suffix(const char *in, size_t n, char *out) {                  \
        return norm_text_body(in, n, out, FZ_SIMD_SCALAR, lower);                                  \
    }                                                                                              \
    NORM_TEXT_X86(lower, suffix)
#ifdef FZ_NORM_X86
#define NORM_TEXT_X86(lower, suffix)                                                               \
    __attribute__((target("sse4.2"))) static size_t norm_text_sse42##suffix(const char *in,        \
                                                                            size_t n, char *out) { \
        return norm_text_body(in, n, out, FZ_SIMD_SSE42, lower);                                   \
    }                                                                                              \
    __attribute__((target("avx2"))) static size_t norm_text_avx2##suffix(const char *in, size_t n, \
                                                                         char *out) {              \
        return norm_text_body(in, n, out, FZ_SIMD_AVX2, lower);                                    \
    }
#define NORM_TEXT_TABLE(suffix)                                                                    \
    { norm_text_scalar##suffix, norm_text_sse42##suffix, norm_text_avx2##suffix }
#else
#define NORM_TEXT_X86(lower, suffix)
#define NORM_TEXT_TABLE(suffix)                                                                    \
    { norm_text_scalar##suffix, norm_text_scalar##suffix, norm_text_scalar##suffix }
#endif
NORM_TEXT_FNS(1, )
NORM_TEXT_FNS(0, _cased)

typedef size_t (*norm_text_fn)(const char *in, size_t n, char *out);
static const norm_text_fn norm_text[FZ_SIMD_LEVEL_COUNT] = NORM_TEXT_TABLE();
static const norm_text_fn norm_text_cased[FZ_SIMD_LEVEL_COUNT] = NORM_TEXT_TABLE(_cased);

size_t fz_norm_text(const char *in, size_t n, char *out) {
    return norm_text[fz_simd_level_get()](in, n, out);
}

size_t fz_norm_text_cased(const char *in, size_t n, char *out) {
    return norm_text_cased[fz_simd_level_get()](in, n, out);
}

size_t fz_norm_number(const char *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] >= '0' && in[i] <= '9') out[o++] = in[i];
    return o;
}
