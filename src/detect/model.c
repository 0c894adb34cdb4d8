/*
 * model.c - see model.h.
 *
 * Design. The workload is one short text (an SMS, ~250 bytes, 80-250
 * n-grams) scored per event on a stream thread, only for events whose
 * rules ask for it (lazy terms, matcher.c). So the scorer is a single
 * pass over the text with no allocation and no per-text table: every
 * n-gram is hashed as it is met and its bucket's weight added to an
 * integer sum; the sum is scaled once at the end. A word is hashed from
 * its bytes with XXH3, a word pair by mixing the two words' hashes. A
 * character n-gram is packed into one u64 (three 21-bit code points), and
 * a fixed-width integer key needs no byte hash: it is mixed with its
 * order's seed and multiplied by 2^64 / golden ratio, and the top bits
 * name the bucket (Fibonacci hashing). That costs one multiply where
 * XXH3's 8-byte path costs several, and measured 20 % of the scoring time
 * (docs/rules.md has the figures); the bucket spread is what the models
 * need: collisions cost them nothing measurable from 2^16 to 2^20 buckets. Weights are int8 with
 * one scale per model: 2^20 buckets are 1 MiB, which stays in the L2
 * cache a stream thread has to itself, and quantisation moves a score by
 * far less than the distance between useful thresholds (the unit tests
 * bound it).
 *
 * The file is parsed defensively: every length is checked against the
 * bytes present before it is used, the checksum before anything else, and
 * values that could not come from `fanzha model train` (bits out of range,
 * unknown flags, non-finite doubles, a threshold outside [0, 1]) are
 * refused with a message naming the file and the field.
 */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static const char magic[8] = {'F', 'Z', 'M', 'O', 'D', 'E', 'L', '\0'};

/* seeds: one per kind and order of n-gram, so "ab" as characters and "ab"
 * as a word land in different buckets */
#define SEED_CHAR 0x6368617200000000ull /* + order */
#define FIB_MUL 0x9E3779B97F4A7C15ull   /* 2^64 / golden ratio */
#define SEED_WORD 0x776f726401000000ull
#define SEED_PAIR 0x776f726402000000ull
#define WORD_MAX_BYTES 32 /* longer words are hashed by their first 32 bytes */

struct fz_model {
    fz_model_features feat;
    uint32_t format;
    double bias;
    double scale;
    double threshold;
    char *meta;
    char version[24];
    int8_t *w; /* 2^bits */
};

int fz_model_features_check(const fz_model_features *f, char *errstr, size_t errstr_size) {
    if (f->bits < FZ_MODEL_MIN_BITS || f->bits > FZ_MODEL_MAX_BITS) {
        snprintf(errstr, errstr_size, "hash bits %u out of range [%d, %d]", f->bits,
                 FZ_MODEL_MIN_BITS, FZ_MODEL_MAX_BITS);
        return -1;
    }
    if (!(f->char_min == 0 && f->char_max == 0) &&
        !(f->char_min >= 1 && f->char_min <= f->char_max && f->char_max <= 3)) {
        snprintf(errstr, errstr_size,
                 "character n-gram orders %u..%u: want 1 <= min <= max <= 3 (or 0..0 for none)",
                 f->char_min, f->char_max);
        return -1;
    }
    if (f->word_max > 2) {
        snprintf(errstr, errstr_size, "word n-gram order %u: at most 2", f->word_max);
        return -1;
    }
    if (f->char_max == 0 && f->word_max == 0) {
        snprintf(errstr, errstr_size, "no features: give character or word n-grams");
        return -1;
    }
    if (f->flags & ~(FZ_MODEL_FOLD_DIGITS | FZ_MODEL_CHARS_NON_ASCII)) {
        snprintf(errstr, errstr_size, "unknown feature flags 0x%x", f->flags);
        return -1;
    }
    if (f->max_chars > FZ_MODEL_MAX_CHARS) {
        snprintf(errstr, errstr_size, "scored characters %u: at most %d (or 0 for the whole text)",
                 f->max_chars, FZ_MODEL_MAX_CHARS);
        return -1;
    }
    return 0;
}

/* The next code point of s[*i..n); an invalid byte is taken alone, as a
 * code point of its own above the Unicode range (the views are valid
 * UTF-8, but the scorer must not depend on it). */
static inline uint32_t next_cp(const unsigned char *s, size_t n, size_t *i) {
    unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (len == 0 || *i + len > n) {
        (*i)++;
        return 0x110000u + c;
    }
    uint32_t cp = c & (0x7fu >> len);
    for (size_t k = 1; k < len; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xc0) != 0x80) {
            (*i)++;
            return 0x110000u + c;
        }
        cp = (cp << 6) | (cc & 0x3fu);
    }
    *i += len;
    return cp;
}

static inline int word_byte(uint32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* the low 1, 2 or 3 code points of a packed character n-gram */
static const uint64_t ORDER_MASK[4] = {0, (1ull << 21) - 1, (1ull << 42) - 1, (1ull << 63) - 1};

/* The one feature extractor, inlined into both callers so that scoring's
 * emit (a table read) costs no call. */
static inline __attribute__((always_inline)) size_t ngrams(const fz_model_features *f,
                                                           const char *text, size_t n,
                                                           void (*emit)(void *ctx, uint32_t bucket),
                                                           void *ctx) {
    const unsigned char *s = (const unsigned char *)text;
    const unsigned shift = 64 - f->bits;
    const int fold = (f->flags & FZ_MODEL_FOLD_DIGITS) != 0;
    const uint32_t char_from = f->flags & FZ_MODEL_CHARS_NON_ASCII ? 0x80 : 0;
    const size_t max_chars = f->max_chars ? f->max_chars : SIZE_MAX;
    const unsigned char_min = f->char_min, char_max = f->char_max;
    size_t count = 0, i = 0, seen = 0;
    uint64_t packed = 0; /* the last three code points, 21 bits each */
    char word[WORD_MAX_BYTES];
    size_t wlen = 0, wfull = 0;
    uint64_t prev_word = 0;
    int have_prev = 0;
    for (;;) {
        /* one step past the end (or the bound) flushes the last word */
        int end = i >= n || seen >= max_chars;
        uint32_t cp = end ? 0 : next_cp(s, n, &i);
        if (fold && cp >= '0' && cp <= '9') cp = '0';
        if (f->word_max) {
            if (!end && word_byte(cp)) {
                if (wlen < WORD_MAX_BYTES) word[wlen++] = (char)cp;
                wfull++;
            } else if (wfull) {
                uint64_t h = XXH3_64bits_withSeed(word, wlen, SEED_WORD);
                emit(ctx, (uint32_t)(h >> shift));
                count++;
                if (f->word_max >= 2 && have_prev) {
                    /* a pair of 64-bit hashes: mixed like a character n-gram */
                    uint64_t key = (prev_word * FIB_MUL) ^ h ^ SEED_PAIR;
                    emit(ctx, (uint32_t)((((key >> 29) ^ key) * FIB_MUL) >> shift));
                    count++;
                }
                prev_word = h;
                have_prev = 1;
                wlen = wfull = 0;
            }
        }
        if (end) break;
        seen++;
        if (char_max) {
            packed = ((packed << 21) | (cp & 0x1fffffu)) & ORDER_MASK[3];
            if (cp >= char_from) {
                unsigned kmax = seen < char_max ? (unsigned)seen : char_max;
                for (unsigned k = char_min; k <= kmax; k++) {
                    uint64_t key = packed & ORDER_MASK[k];
                    emit(ctx, (uint32_t)(((key ^ (SEED_CHAR + k)) * FIB_MUL) >> shift));
                    count++;
                }
            }
        }
    }
    return count;
}

size_t fz_model_ngrams(const fz_model_features *f, const char *norm, size_t n,
                       void (*emit)(void *ctx, uint32_t bucket), void *ctx) {
    return ngrams(f, norm, n, emit, ctx);
}

typedef struct score_acc {
    const int8_t *w;
    int64_t sum;
} score_acc;

static inline void add_weight(void *ctx, uint32_t bucket) {
    score_acc *a = ctx;
    a->sum += a->w[bucket];
}

/* flatten: XXH3's short-input path is inlined too (GCC kept it a call, 20 %
 * of the English model's scoring; inlined, 2-4 % less per scored text) */
__attribute__((flatten)) double fz_model_score(const fz_model *m, const char *norm, size_t n) {
    score_acc a = {m->w, 0};
    size_t count = ngrams(&m->feat, norm, n, add_weight, &a);
    double z = m->bias;
    if (count) z += m->scale * (double)a.sum / sqrt((double)count);
    return 1.0 / (1.0 + exp(-z));
}

const fz_model_features *fz_model_config(const fz_model *m) { return &m->feat; }
double fz_model_threshold(const fz_model *m) { return m->threshold; }
const char *fz_model_meta(const fz_model *m) { return m->meta; }
const char *fz_model_version(const fz_model *m) { return m->version; }
unsigned fz_model_format(const fz_model *m) { return m->format; }

void fz_model_destroy(fz_model *m) {
    if (!m) return;
    free(m->w);
    free(m->meta);
    free(m);
}

/* ---- the file ---- */

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_f64(uint8_t *p, double d) {
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    put_u64(p, v);
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static double get_f64(const uint8_t *p) {
    uint64_t v = get_u64(p);
    double d;
    memcpy(&d, &v, sizeof(d));
    return d;
}

/* body: bits, char_min, char_max, word_max (4), flags (4), bias, scale,
 * threshold (24), meta length (4), [format 2: max_chars (4)], meta, weights */
#define BODY_FIXED_1 36
#define BODY_FIXED_2 40

static XXH128_hash_t checksum(const uint8_t *file, const uint8_t *body, size_t blen) {
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    XXH3_128bits_update(&st, file, 24);
    XXH3_128bits_update(&st, body, blen);
    return XXH3_128bits_digest(&st);
}

uint8_t *fz_model_serialize(const fz_model_spec *spec, size_t *len, char *errstr,
                            size_t errstr_size) {
    const fz_model_features *f = &spec->feat;
    if (fz_model_features_check(f, errstr, errstr_size) != 0) return NULL;
    size_t mlen = spec->meta ? strlen(spec->meta) : 0;
    if (mlen > FZ_MODEL_MAX_META) {
        snprintf(errstr, errstr_size, "training record longer than %d bytes", FZ_MODEL_MAX_META);
        return NULL;
    }
    if (!isfinite(spec->bias) || !(spec->threshold >= 0 && spec->threshold <= 1)) {
        snprintf(errstr, errstr_size, "bias must be finite and threshold in [0, 1]");
        return NULL;
    }
    size_t nw = (size_t)1 << f->bits;
    double maxabs = 0;
    for (size_t i = 0; i < nw; i++) {
        double a = fabs(spec->weights[i]);
        if (!isfinite(a)) {
            snprintf(errstr, errstr_size, "weight %zu is not finite", i);
            return NULL;
        }
        if (a > maxabs) maxabs = a;
    }
    double scale = maxabs > 0 ? maxabs / 127.0 : 1.0;
    const uint32_t format = f->max_chars ? FZ_MODEL_FORMAT : FZ_MODEL_FORMAT_1;
    const size_t fixed = format == FZ_MODEL_FORMAT_1 ? BODY_FIXED_1 : BODY_FIXED_2;
    size_t blen = fixed + mlen + nw;
    *len = FZ_MODEL_HEADER_BYTES + blen;
    uint8_t *out = calloc(1, *len);
    if (!out) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    memcpy(out, magic, 8);
    put_u32(out + 8, format);
    put_u32(out + 12, FZ_MODEL_HEADER_BYTES);
    put_u64(out + 16, blen);
    uint8_t *b = out + FZ_MODEL_HEADER_BYTES;
    b[0] = (uint8_t)f->bits;
    b[1] = (uint8_t)f->char_min;
    b[2] = (uint8_t)f->char_max;
    b[3] = (uint8_t)f->word_max;
    put_u32(b + 4, f->flags);
    put_f64(b + 8, spec->bias);
    put_f64(b + 16, scale);
    put_f64(b + 24, spec->threshold);
    put_u32(b + 32, (uint32_t)mlen);
    if (format != FZ_MODEL_FORMAT_1) put_u32(b + 36, f->max_chars);
    if (mlen) memcpy(b + fixed, spec->meta, mlen);
    int8_t *w = (int8_t *)(b + fixed + mlen);
    for (size_t i = 0; i < nw; i++) {
        long q = lround(spec->weights[i] / scale);
        w[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, checksum(out, b, blen));
    memcpy(out + 24, c.digest, 16);
    return out;
}

static fz_model *refuse(const char *name, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static fz_model *refuse(const char *name, char *errstr, size_t errstr_size, const char *fmt, ...) {
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(errstr, errstr_size, "%s: %s", name, why);
    return NULL;
}

fz_model *fz_model_parse(const char *name, const uint8_t *buf, size_t len, char *errstr,
                         size_t errstr_size) {
    if (len < 8 || memcmp(buf, magic, 8) != 0)
        return refuse(name, errstr, errstr_size,
                      "not a fanzha model file (no FZMODEL magic; write one with 'fanzha model "
                      "train')");
    if (len < FZ_MODEL_HEADER_BYTES)
        return refuse(name, errstr, errstr_size, "truncated: %zu bytes, shorter than the header",
                      len);
    uint32_t format = get_u32(buf + 8);
    if (format != FZ_MODEL_FORMAT && format != FZ_MODEL_FORMAT_1)
        return refuse(name, errstr, errstr_size,
                      "model format %u; this fanzha reads formats %u and %u: train it again",
                      format, FZ_MODEL_FORMAT_1, FZ_MODEL_FORMAT);
    if (get_u32(buf + 12) != FZ_MODEL_HEADER_BYTES)
        return refuse(name, errstr, errstr_size, "damaged header (header size %u)",
                      get_u32(buf + 12));
    uint64_t blen = get_u64(buf + 16);
    if (blen != len - FZ_MODEL_HEADER_BYTES)
        return refuse(name, errstr, errstr_size,
                      "truncated or damaged: the header announces %llu body bytes, the file "
                      "has %zu",
                      (unsigned long long)blen, len - FZ_MODEL_HEADER_BYTES);
    const uint8_t *b = buf + FZ_MODEL_HEADER_BYTES;
    XXH128_canonical_t want;
    XXH128_canonicalFromHash(&want, checksum(buf, b, (size_t)blen));
    if (memcmp(want.digest, buf + 24, 16) != 0)
        return refuse(name, errstr, errstr_size,
                      "damaged: the checksum does not match its contents");
    /* from here the bytes are the ones written: what follows catches files
     * written by something else than fanzha model train */
    const size_t fixed = format == FZ_MODEL_FORMAT_1 ? BODY_FIXED_1 : BODY_FIXED_2;
    if (blen < fixed) return refuse(name, errstr, errstr_size, "body too short");
    fz_model_features f = {b[0], b[1], b[2], b[3], get_u32(b + 4), 0};
    if (format != FZ_MODEL_FORMAT_1) {
        f.max_chars = get_u32(b + 36);
        if (f.max_chars == 0)
            return refuse(name, errstr, errstr_size,
                          "format %u with no bound on the scored characters", format);
    }
    char why[192];
    if (fz_model_features_check(&f, why, sizeof(why)) != 0)
        return refuse(name, errstr, errstr_size, "%s", why);
    double bias = get_f64(b + 8), scale = get_f64(b + 16), thr = get_f64(b + 24);
    if (!isfinite(bias) || !isfinite(scale) || !(scale > 0))
        return refuse(name, errstr, errstr_size, "bias or weight scale is not a finite number");
    if (!(thr >= 0 && thr <= 1))
        return refuse(name, errstr, errstr_size, "threshold is not in [0, 1]");
    uint32_t mlen = get_u32(b + 32);
    size_t nw = (size_t)1 << f.bits;
    if (mlen > FZ_MODEL_MAX_META || blen != fixed + (uint64_t)mlen + nw)
        return refuse(name, errstr, errstr_size,
                      "sizes disagree: %llu body bytes for %u meta bytes and 2^%u weights",
                      (unsigned long long)blen, mlen, f.bits);
    fz_model *m = calloc(1, sizeof(*m));
    if (!m) return refuse(name, errstr, errstr_size, "out of memory");
    m->feat = f;
    m->bias = bias;
    m->scale = scale;
    m->threshold = thr;
    m->meta = malloc(mlen + 1);
    m->w = malloc(nw);
    if (!m->meta || !m->w) {
        fz_model_destroy(m);
        return refuse(name, errstr, errstr_size, "out of memory");
    }
    memcpy(m->meta, b + fixed, mlen);
    m->meta[mlen] = '\0';
    memcpy(m->w, b + fixed + mlen, nw);
    m->format = format;
    snprintf(m->version, sizeof(m->version), "fzm-%02x%02x%02x%02x%02x%02x%02x%02x", buf[24],
             buf[25], buf[26], buf[27], buf[28], buf[29], buf[30], buf[31]);
    return m;
}
