/*
 * norm.h - the normalised views of event fields that rules can match.
 *
 * Fraudsters dodge keyword filters by writing 微 信, 微.信, ｗｅｃｈａｔ,
 * 𝐰𝐞𝐜𝐡𝐚𝐭, 微<U+200B>信 or 微信 in traditional characters (衛星 -> 卫星). A rule
 * that asks for the "normalized" view sees the text after:
 *
 *   1. full-width ASCII (U+FF01..FF5E) -> ASCII, ideographic space -> space,
 *      mathematical alphanumerics (U+1D400..1D7FF) -> ASCII letters/digits,
 *      U+212A KELVIN SIGN -> k, U+017F LONG S -> s (the two non-ASCII
 *      characters that case-insensitive matching takes for ASCII letters);
 *   2. zero-width and format characters dropped (U+00AD, U+034F, U+180E,
 *      U+200B..200F, U+202A..202E, U+2060..2064, U+FEFF);
 *   3. ASCII letters lower-cased;
 *   4. traditional Chinese characters -> simplified, one character at a
 *      time, with a table built at start-up from OpenCC's t2s conversion;
 *   5. separators (white space and . · • * _ - ~ | / \ + ' " ` ^) dropped
 *      between a CJK character and a CJK character, letter or digit (and
 *      between a letter or digit and a CJK character); other runs of white
 *      space collapse to one space.
 *
 * Numbers (from/to) have their own normalised view: the digits only.
 *
 * The output never holds an upper-case ASCII letter, U+212A or U+017F
 * (whatever the input: the prefilter relies on it, see prefilter.h), and
 * is never longer than the input, so a buffer of the input's size is
 * always enough. Functions are pure and thread-safe once
 * fz_norm_init() has returned; they never allocate.
 */
#ifndef FZ_NORM_H
#define FZ_NORM_H

#include <stddef.h>

/* Build the traditional->simplified table (about 30 ms). Idempotent and
 * thread-safe; returns 0, or -1 with errstr filled when OpenCC's data
 * cannot be loaded. */
int fz_norm_init(char *errstr, size_t errstr_size);

/* Normalise UTF-8 text in[0..n) into out (room for n bytes); returns the
 * output length. Invalid UTF-8 bytes are copied unchanged. */
size_t fz_norm_text(const char *in, size_t n, char *out);

/* fz_norm_text() without step 3: ASCII letters keep their case, and
 * full-width and mathematical letters and U+212A become the ASCII letter
 * of their own case (the skeleton view starts from this, see skel.h).
 * Never longer than the input; the SIMD levels give the same bytes. */
size_t fz_norm_text_cased(const char *in, size_t n, char *out);

/* Keep only the ASCII digits of in[0..n); returns the output length. */
size_t fz_norm_number(const char *in, size_t n, char *out);

#endif
