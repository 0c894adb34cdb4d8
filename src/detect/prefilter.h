/*
 * prefilter.h - the literal factors every match of a regex must contain.
 *
 * The design of RE2's FilteredRE2 and Suricata's fast-pattern matcher:
 * instead of scanning every event with every regex, scan it once with one
 * literal database of all the regexes' factors, and run a regex only on
 * the events where its factors were all found (the candidates). For that
 * to change nothing, the factors must be necessary: if the regex matches a
 * text, the text contains at least one literal of each clause.
 *
 * fz_prefilter_derive() parses the pattern (the Hyperscan / PCRE syntax
 * the rules use) into a tree and computes, bottom up, for each node either
 * the exact finite set of strings it matches (small sets only), or a list
 * of clauses (an AND of ORs of literals) every match satisfies:
 *
 *   literal c             exact {c}
 *   class [ab], (x|y)     exact union, while small
 *   xy                    exact cross product while small, else the
 *                         clauses of x and of y (AND)
 *   x|y                   one clause of x OR one clause of y (merged)
 *   x? x* x{0,n}          exact x ∪ {""} for x?, else nothing required
 *   x+ x{n,m}, n >= 1     x's clauses
 *   . \w \s [^..] [a-z]   nothing required (not exact)
 *   \b ^ $                exact {""} (zero width)
 *
 * Anything it does not understand (inline options "(?i)", lookarounds,
 * \Q..\E, hex escapes, POSIX classes, back references) makes the whole
 * pattern "no usable factor" (it stays in the always-scanned database):
 * never a guess.
 *
 * Case. A caseless pattern's factors are compiled caseless, which in
 * Hyperscan's literal API folds ASCII only. In UTF-8 mode Hyperscan's
 * caseless regexes also match U+212A KELVIN SIGN for k and U+017F LONG S
 * for s (the only non-ASCII partners of ASCII letters, checked against
 * every code point), so those letters become two-literal sets; a
 * non-ASCII character is used only where it has no case (CJK, kana,
 * Hangul, punctuation, symbols), anything else is "nothing required".
 *
 * A literal's weight estimates how rare it is in text: 2 per ASCII letter
 * or digit, 1 per ASCII punctuation, 0 per space, 4 per non-ASCII
 * character; a clause weighs what its lightest literal does. A pattern is
 * worth prefiltering only when some clause weighs at least
 * FZ_PF_MIN_WEIGHT (three letters, two CJK characters): on " of " or "万"
 * alone nearly every event would be a candidate. Lighter clauses down to
 * FZ_PF_EXTRA_WEIGHT are kept beside it (every clause must hit, so each
 * one narrows the candidates: "new" AND "msg" AND "call"); lighter still,
 * they would cost more in factor hits than they save. At most FZ_PF_MAX_CLAUSES are kept,
 * the most selective first.
 *
 * Pure, allocates only its result; thread-safe.
 */
#ifndef FZ_PREFILTER_H
#define FZ_PREFILTER_H

#include <stddef.h>

#define FZ_PF_MAX_CLAUSES 16

/* Not a Hyperscan flag: the pattern scans the normalised text (norm.h),
 * which holds no upper-case ASCII letter, KELVIN SIGN or LONG S, so a
 * caseless letter needs no variants. */
#define FZ_PF_NORMALISED (1u << 31)
#define FZ_PF_MIN_WEIGHT 6
#define FZ_PF_EXTRA_WEIGHT 5

typedef struct fz_pf_lit {
    char *s; /* NUL-terminated (the bytes may also contain NUL: use n) */
    size_t n;
} fz_pf_lit;

typedef struct fz_pf_clause {
    fz_pf_lit *lits; /* distinct, sorted */
    size_t n;
} fz_pf_clause;

typedef struct fz_prefilter {
    fz_pf_clause *clauses; /* every match contains a literal of each */
    size_t n;              /* 0: no usable factor */
    int caseless;          /* compile the literals caseless (ASCII folding) */
    const char *why;       /* n == 0: why, in words (static string) */
} fz_prefilter;

/*
 * Derive the factors of pattern compiled with Hyperscan flags hs_flags
 * (plus FZ_PF_NORMALISED when it scans the normalised text).
 * Returns 0 (out filled; out->n may be 0) or -1 when out of memory. The
 * caller frees out with fz_prefilter_free().
 */
int fz_prefilter_derive(const char *pattern, unsigned hs_flags, fz_prefilter *out);
void fz_prefilter_free(fz_prefilter *p);

/* A regex that is only a finite set of literals: it matches a text exactly
 * when the text contains one of lits (compiled caseless when caseless,
 * with Hyperscan's ASCII folding; the KELVIN SIGN and LONG S partners of
 * k and s are members of the set), at a word boundary (\b: an ASCII
 * [A-Za-z0-9_] character on exactly one side) before it when word_start
 * and after it when word_end. */
typedef struct fz_pf_exact {
    fz_pf_lit *lits; /* distinct, sorted, none empty */
    size_t n;        /* 0: not such a set */
    int caseless;
    int word_start, word_end;
} fz_pf_exact;

/*
 * Whether pattern, compiled with hs_flags (plus FZ_PF_NORMALISED as for
 * fz_prefilter_derive()), is such a set: `(点击|登录|链接)`, `colou?r`,
 * `\b(call|click|pay now)\b`. No other assertion (^, $, \B, a \b inside),
 * no class of more than 16 characters, no repeat but ?, at most 64
 * strings. Returns 0 (out->n == 0 when it is not one) or -1 when out of
 * memory. The caller frees out with fz_pf_exact_free().
 */
int fz_prefilter_exact(const char *pattern, unsigned hs_flags, fz_pf_exact *out);
void fz_pf_exact_free(fz_pf_exact *e);

/*
 * A pattern that is not one such set may still be an alternation, at its
 * top level or inside one group that is the whole pattern, some of whose
 * branches are: `\b(call|text)\b|https? //`, `(qq|wx|微信 ?[a-z0-9]{5})`.
 * Then the sets of those branches go to sets[0..max) (each with its own
 * word edges) and the other branches, joined by '|' in their order, to
 * *rest (malloc'd; NULL when every branch is a set). The pattern matches a
 * text exactly when one of the sets or *rest does, so a rule term can take
 * the sets' exact literals and leave only *rest to the prefilter: whole,
 * the literal branches are factors of a regex to confirm, and a common word
 * among them makes most texts a candidate. At most FZ_PF_MAX_BRANCHES
 * branches; none may be empty; *rest must be a pattern Hyperscan accepts
 * (hs_expression_info(): a branch that can never match is refused alone);
 * no option set inside the pattern ("(?i)"), no \Q quoting. Returns the number of sets (0: not
 * split, nothing filled) or -1 when out of memory. The caller frees the sets with
 * fz_pf_exact_free() and *rest with free().
 */
#define FZ_PF_MAX_BRANCHES 64
int fz_prefilter_split(const char *pattern, unsigned hs_flags, fz_pf_exact *sets, size_t max,
                       char **rest);

#endif
