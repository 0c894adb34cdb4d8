/*
 * textfacts.h - what a text holds, as two fields a rule can test cheaply.
 *
 * Rules and model gates keep asking the same few questions of a text: is
 * it Chinese, does it carry a link, a price or a number someone is asked
 * to call or pay to. As regexes over the text ('[\x{4e00}-\x{9fa5}]',
 * '[0-9]{7}', '\$|£|€') these have no literal the prefilter can wait for
 * (prefilter.h), so every such regex costs every event a scan of its
 * whole text. Answered once per event, in one pass over the normalised
 * text, they become two short derived fields:
 *
 *   text_flags    tokens, in this order, separated by one space:
 *                   han    a Han ideograph (U+3400..4DBF, U+4E00..9FFF,
 *                          U+F900..FAFF, U+20000..3134F)
 *                   latin  a Latin letter (ASCII, or U+00C0..024F except
 *                          U+00D7 and U+00F7)
 *                   link   a link the url_* fields would hold (url.h:
 *                          what a browser would open)
 *                   money  a currency sign: $ £ ¥ € ₹ ₩ ₱ ₽ ₺ ₫ ￥ ￡ ＄
 *                   disguised  the text is written to dodge keyword
 *                          rules (below)
 *                 empty (no field) when none applies;
 *   text_numbers  one line per number in the text, its digits only: a
 *                 run of ASCII digits (full-width ones are ASCII in the
 *                 normalised text, norm.h), joined across one space, '-'
 *                 or '.' when the groups on both sides have three digits
 *                 or more ("138 1234 5678", "400-820-8820" are one number;
 *                 "2026-12-07", "1.99", "4 2" are not; "+86 138 1234
 *                 5678" is "86" and "13812345678").
 *
 * Rules test them like any field: 'han' as a word of text_flags, a
 * number of 7 digits or more as '^[0-9]{7}' on text_numbers (flag
 * multiline). Both fields have the raw view only.
 *
 * Disguised: a word mixes Latin letters with what only looks like them,
 * so that a keyword rule reads past it. The pass says so when
 *   - one or two of 0 1 3 4 5 7 8 @ $ stand between two ASCII letters
 *     (acc0unt, bl0cked, p4ypal, l33t, p@y), or | does (c|ick);
 *   - a character that looks like Latin letters (skel.h,
 *     fz_skel_looks_latin(): Cyrillic а, Greek Ο) stands next to an ASCII
 *     letter (pаypal, ВАNК with a Latin N);
 *   - letters are spaced out: four or more single ASCII letters in a row,
 *     one spacer apart (v e r i f y, V.E.R.I.F.Y: fz_skel_spaced_run());
 * and the pipeline adds, in a text with a link, a capital I after a
 * lower-case letter in the raw text (PayPaI, fz_skel_capital_i()), which
 * the lower-cased view cannot show. Codes, amounts and words with digits
 * at an end (mp3, 4g, covid19, $100, ca3762, a9x2) are not disguised. A
 * disguised text's rules in the normalised view also scan its skeleton
 * (matcher.h, FZ_VIEW_UNMASKED). Needs fz_skel_init() (without it no
 * look-alike is known).
 *
 * Bounds: text_numbers is never longer than the text (a number's digits
 * come from it, and each line break stands for at least one character
 * that was no digit), text_flags never longer than FZ_TEXT_FLAGS_MAX.
 * Pure functions; nothing here allocates.
 */
#ifndef FZ_TEXTFACTS_H
#define FZ_TEXTFACTS_H

#include <stddef.h>

#define FZ_TEXT_HAN 0x1u
#define FZ_TEXT_LATIN 0x2u
#define FZ_TEXT_LINK 0x4u
#define FZ_TEXT_MONEY 0x8u
#define FZ_TEXT_DISGUISED 0x10u
#define FZ_TEXT_FLAGS_MAX 32 /* "han latin link money disguised" and its NUL */

/*
 * One pass over norm[0..n) (fz_norm_text()'s output): returns the
 * FZ_TEXT_* bits it finds (never FZ_TEXT_LINK: links are the url
 * scanner's, url.h) and, when numbers is not NULL, writes the
 * text_numbers lines into numbers[0..n) and their length to *numbers_len.
 */
unsigned fz_text_scan(const char *norm, size_t n, char *numbers, size_t *numbers_len);

/* The tokens of the bits in flags, as text_flags writes them, into
 * out[0..FZ_TEXT_FLAGS_MAX), NUL-terminated; returns the length. */
size_t fz_text_flags_format(unsigned flags, char *out);

/* The FZ_TEXT_* bit of one token ("han" ...), or 0 for any other word. */
unsigned fz_text_flag_bit(const char *word, size_t n);

/* The bits of a text_flags field s[0..n) (the inverse of
 * fz_text_flags_format(); words that are no token count for nothing). */
unsigned fz_text_flags_parse(const char *s, size_t n);

#endif
