/*
 * skel.h - the skeleton view of the text field: what the text looks like.
 *
 * Fraudsters dodge keyword rules with characters that look like Latin
 * letters (Cyrillic раураl, Greek ΡΑΥΡΑL, PayPaI with a capital I for the
 * l) and with digits for letters inside words (BL0CKED, P4YPAL, acc0unt).
 * A rule that asks for the "skeleton" view sees the text after:
 *
 *   1. the normalised view's steps (norm.h) except lower-casing: full-width
 *      and mathematical letters become ASCII of their own case, zero-width
 *      characters go, traditional Chinese becomes simplified, separators
 *      between CJK characters go, white space collapses;
 *   2. every character outside ASCII and CJK (see below) replaced by its
 *      UTS #39 confusable skeleton as ICU's uspoof_getSkeleton() gives it
 *      for that character alone, with upper-case ASCII in the result
 *      lower-cased and "rn" (the skeleton of m) written m;
 *   3. ASCII letters lower-cased, except that a capital I (or a character
 *      whose skeleton is l and that is upper-case, such as Cyrillic І)
 *      becomes l when the character before it in the same word is a
 *      lower-case letter (PayPaI -> paypal, VERIFY -> verify); | becomes l;
 *   4. inside a word that holds at least one letter, 0 1 3 4 5 7 8 @ $
 *      become o l e a s t b a s; a word is a maximal run of letters
 *      (any script), combining marks, ASCII digits, @ and $; a word of
 *      digits only (95588, $100) keeps them;
 *   5. letters spaced out (v e r i f y, V.E.R.I.F.Y, v-e-r-i-f-y) are
 *      written together (verify): a run of fz_skel_spaced_run() below.
 *
 * CJK characters (U+2E80..9FFF, U+AC00..D7AF, U+F900..FAFF, U+FE30..FE4F,
 * U+FF61..FFDC, U+20000..3FFFF) pass through unchanged and end a word.
 *
 * The output never holds an upper-case ASCII letter (the prefilter relies
 * on it). Unlike the normalised view it can be longer than the input (a
 * ligature's skeleton is several letters): it stops before the first
 * character whose skeleton does not fit in the caller's buffer.
 * fz_skel_init() builds a table of every skeleton from ICU once; after
 * that, the functions are pure, thread-safe and never allocate or call
 * ICU.
 */
#ifndef FZ_SKEL_H
#define FZ_SKEL_H

#include <stddef.h>
#include <stdint.h>

/* No text's skeleton is longer than FZ_SKEL_GROWTH times the text (a
 * skeleton kept is at most 31 bytes, for a character of at least 2). */
#define FZ_SKEL_GROWTH 16

/* Build the skeleton table (about 10 ms) and the normaliser's (fz_norm_init).
 * Idempotent and thread-safe; returns 0, or -1 with errstr filled when ICU's
 * spoof checker or OpenCC cannot be loaded. */
int fz_skel_init(char *errstr, size_t errstr_size);

/* The skeleton view of UTF-8 text in[0..n) into out[0..cap); tmp has room
 * for n bytes (it gets fz_norm_text_cased()'s output). Returns the output
 * length (<= cap). Invalid UTF-8 bytes are copied unchanged. */
size_t fz_skel_text(const char *in, size_t n, char *tmp, char *out, size_t cap);

/* Steps 2-4 alone, over text that fz_norm_text_cased() produced (or any
 * UTF-8: it is defined on all input). Returns the output length (<= cap). */
size_t fz_skel_map(const char *in, size_t n, char *out, size_t cap);

/* Whether code point cp looks like Latin letters: a letter whose
 * skeleton (step 2) is one or two ASCII letters (Cyrillic а, Greek Ο,
 * Latin æ), or an upper-case letter whose skeleton is l (Cyrillic І).
 * 1,232 code points in ICU 72; 0 before fz_skel_init(). */
int fz_skel_looks_latin(uint32_t cp);

/* Letters spaced out: s[j] is an ASCII letter with no ASCII letter or
 * digit before it; returns the end of the run that starts there when
 * FZ_SKEL_SPACED_MIN or more ASCII letters stand each alone (no ASCII
 * letter or digit after it) and each but the first right after one of
 * ' ' '.' '-' '_' '*' that follows the one before ("v e r i f y" ->
 * the offset after 'y'), else 0. Ordinary text has few single letters in
 * a row ("a", "I", "u r"): 14 texts of the 177,315 of the corpora and the
 * standard benchmark have four or more ("G o o d n i g h t", kisses
 * "x x x x", masked digits). Needs no initialisation. */
#define FZ_SKEL_SPACED_MIN 4
static inline int fz_skel_spacer(unsigned char c) {
    return c == ' ' || c == '.' || c == '-' || c == '_' || c == '*';
}
static inline size_t fz_skel_spaced_run(const char *text, size_t n, size_t j) {
    const unsigned char *s = (const unsigned char *)text;
#define FZ_SKEL_ALPHA_(c) ((unsigned char)(((c) | 0x20) - 'a') < 26)
#define FZ_SKEL_ALNUM_(c) (FZ_SKEL_ALPHA_(c) || ((c) >= '0' && (c) <= '9'))
    if (j >= n || !FZ_SKEL_ALPHA_(s[j]) || (j > 0 && FZ_SKEL_ALNUM_(s[j - 1]))) return 0;
    size_t count = 0, end = 0;
    while (j < n && FZ_SKEL_ALPHA_(s[j]) && (j + 1 == n || !FZ_SKEL_ALNUM_(s[j + 1]))) {
        count++;
        end = j + 1;
        if (j + 2 >= n || !fz_skel_spacer(s[j + 1])) break;
        j += 2;
    }
#undef FZ_SKEL_ALPHA_
#undef FZ_SKEL_ALNUM_
    return count >= FZ_SKEL_SPACED_MIN ? end : 0;
}

/* Whether raw text[0..n) has a capital I right after a lower-case ASCII
 * letter (PayPaI, AppIe): the one sign of a disguised text that the
 * normalised view, lower-cased, no longer shows (textfacts.h). */
int fz_skel_capital_i(const char *raw, size_t n);

#endif
