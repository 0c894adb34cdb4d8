/*
 * model.h - a learned text scorer: a linear classifier (logistic
 * regression) over hashed character and word n-grams of an SMS text's
 * normalised view (norm.h), stored in a `.fzm` model file. Rules use it as
 * a `model:` term (docs/rules.md); `fanzha model train` writes the files
 * (src/cmd/model.c, with liblinear) and `fanzha model eval` measures them.
 *
 * Features, for a text already normalised by fz_norm_text():
 *   - character n-grams of code points, n in [char_min, char_max]
 *     (1 <= char_min <= char_max <= 3, or both 0 for none);
 *   - word n-grams, n in [1, word_max] (word_max 0, 1 or 2), where a word
 *     is a run of ASCII letters and digits (Latin-script words; CJK text
 *     is covered by the character n-grams);
 *   - with FZ_MODEL_FOLD_DIGITS, every ASCII digit counts as '0' (phone
 *     numbers, amounts and codes share their n-grams);
 *   - with FZ_MODEL_CHARS_NON_ASCII, a character n-gram counts only when
 *     its last code point is not ASCII: Chinese text gets its character
 *     n-grams (with the Latin letter or digit before a CJK character), and
 *     Latin text, left to the word n-grams, costs nothing more;
 *   - with max_chars > 0, only the text's first max_chars code points
 *     count (an invalid byte is one code point; a word cut by the bound
 *     ends there). An SMS segment is 70 CJK or 160 Latin characters and
 *     the lure is at the start of a message: the bound keeps the features
 *     a model needs and caps its cost per event, and being stored in the
 *     file, training and scoring see the same features.
 * Each n-gram is hashed into one of 2^bits buckets (words with XXH3,
 * character n-grams packed into an integer with a multiplicative hash;
 * each seeded by its kind and order, see model.c); the feature vector holds, per bucket, the number
 * of n-grams that fell in it divided by sqrt(total n-grams), so long and short texts weigh alike.
 * score = sigmoid(bias + w . x), in [0, 1].
 *
 * File layout (all integers little-endian, doubles as IEEE-754 binary64
 * bits in a little-endian u64):
 *
 *   offset size
 *        0    8  magic "FZMODEL\0"
 *        8    4  format (FZ_MODEL_FORMAT)
 *       12    4  header bytes (FZ_MODEL_HEADER_BYTES)
 *       16    8  body length in bytes
 *       24   16  checksum: XXH3-128, canonical (big-endian), over bytes
 *                 0-23 and then the body
 *       40    -  body:
 *                 u8 bits (10..24), u8 char_min, u8 char_max, u8 word_max,
 *                 u32 flags (FZ_MODEL_FOLD_DIGITS, FZ_MODEL_CHARS_NON_ASCII;
 *                 other bits refused),
 *                 f64 bias, f64 scale (a weight is its int8 times scale),
 *                 f64 threshold (the score eval counts as positive),
 *                 u32 meta length,
 *                 format 2 only: u32 max_chars (1..FZ_MODEL_MAX_CHARS),
 *                 meta (UTF-8 text: how it was trained),
 *                 int8 weights[2^bits]
 *
 * A model without a bound (max_chars 0) is written in format 1, which has
 * no max_chars field, so older fanzha versions still read it; this one
 * reads both formats.
 *
 * The checksum is verified before any byte of the body is parsed, and the
 * body length must be exactly what bits and the meta length say, so a
 * truncated, extended or damaged file is refused with a message naming
 * it. The checksum catches accidents, not attackers (as a compiled
 * ruleset's digest; sign the compiled ruleset that carries the model).
 *
 * Scoring is allocation-free and reentrant: a model is immutable once
 * parsed and any number of threads may score with it. Cost: a multiply
 * (an XXH3 for a word) and one table read per n-gram (docs/rules.md has
 * the figures).
 */
#ifndef FZ_MODEL_H
#define FZ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define FZ_MODEL_FORMAT 2u /* written when max_chars is set; format 1 otherwise */
#define FZ_MODEL_FORMAT_1 1u
#define FZ_MODEL_HEADER_BYTES 40
#define FZ_MODEL_MIN_BITS 10
#define FZ_MODEL_MAX_BITS 24
#define FZ_MODEL_MAX_META 65536
#define FZ_MODEL_FOLD_DIGITS 1u
#define FZ_MODEL_CHARS_NON_ASCII 2u
#define FZ_MODEL_MAX_CHARS 4096 /* largest cap on the scored code points */

/* How a text becomes features. */
typedef struct fz_model_features {
    unsigned bits;     /* 2^bits buckets */
    unsigned char_min; /* character n-grams: orders char_min..char_max (0, 0: none) */
    unsigned char_max;
    unsigned word_max;  /* word n-grams: orders 1..word_max (0: none) */
    unsigned flags;     /* FZ_MODEL_FOLD_DIGITS, FZ_MODEL_CHARS_NON_ASCII */
    unsigned max_chars; /* only the first max_chars code points count (0: all) */
} fz_model_features;

/* Check a feature configuration; 0, or -1 with errstr filled. */
int fz_model_features_check(const fz_model_features *f, char *errstr, size_t errstr_size);

/*
 * Call emit(ctx, bucket) for every n-gram of the normalised text
 * norm[0..n) (a bucket may come several times); returns how many. Pure and
 * allocation-free: training uses it to build its vectors, and scoring
 * runs the same code.
 */
size_t fz_model_ngrams(const fz_model_features *f, const char *norm, size_t n,
                       void (*emit)(void *ctx, uint32_t bucket), void *ctx);

typedef struct fz_model fz_model;

/*
 * Parse a model file's bytes (buf[0..len), which stays the caller's).
 * name names the file in errors ("NAME: truncated ..."). Returns NULL
 * with errstr filled when the file is not a model, another format,
 * truncated, damaged (checksum), or holds impossible values.
 */
fz_model *fz_model_parse(const char *name, const uint8_t *buf, size_t len, char *errstr,
                         size_t errstr_size);
void fz_model_destroy(fz_model *m);

/* Score the normalised text norm[0..n) (fz_norm_text's output): the
 * probability, in [0, 1], that it is fraud. Any thread; never allocates. */
double fz_model_score(const fz_model *m, const char *norm, size_t n);

const fz_model_features *fz_model_config(const fz_model *m);
double fz_model_threshold(const fz_model *m);
/* The training record (NUL-terminated); valid while m is. */
const char *fz_model_meta(const fz_model *m);
/* "fzm-" + 16 hex digits of the file's checksum; valid while m is. */
const char *fz_model_version(const fz_model *m);
/* The file's format (FZ_MODEL_FORMAT_1 or FZ_MODEL_FORMAT). */
unsigned fz_model_format(const fz_model *m);

/* A model to write: the features, bias and one weight per bucket. */
typedef struct fz_model_spec {
    fz_model_features feat;
    double bias;
    const double *weights; /* 2^feat.bits */
    double threshold;
    const char *meta; /* NUL-terminated, at most FZ_MODEL_MAX_META bytes */
} fz_model_spec;

/* The file bytes of spec (weights quantised to int8 with one scale), in
 * a malloc'd buffer of *len bytes; NULL with errstr filled. Deterministic:
 * the same spec gives the same bytes. */
uint8_t *fz_model_serialize(const fz_model_spec *spec, size_t *len, char *errstr,
                            size_t errstr_size);

#endif
