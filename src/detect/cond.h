/*
 * cond.h - a rule's boolean condition over the names of its terms:
 *
 *     bank and link and not (refund or official)
 *
 * Operators: not (tightest), and, or; parentheses group. Names are
 * [a-z_][a-z0-9_]*. A condition compiles to a postfix program of int16:
 * a value >= 0 pushes "term i matched", the negative codes below combine
 * the top of the stack. Evaluation is over a 64-bit set of matched terms,
 * allocation-free and thread-safe.
 */
#ifndef FZ_COND_H
#define FZ_COND_H

#include <stddef.h>
#include <stdint.h>

#define FZ_COND_AND (-1)
#define FZ_COND_OR (-2)
#define FZ_COND_NOT (-3)
#define FZ_COND_MAX_OPS 256

/* Compile src against names[0..nnames). On success returns a malloc'd
 * program and its length; on error NULL with a message in err. */
int16_t *fz_cond_compile(const char *src, const char *const *names, size_t nnames, size_t *nops,
                         char *err, size_t err_size);

/* Evaluate a program over the set of matched terms (bit i = term i). */
int fz_cond_eval(const int16_t *ops, size_t nops, uint64_t terms);

/* Evaluate a program when the terms in unknown may or may not have
 * matched (known: those that did, of the others): 1 or 0 when the result
 * is the same whatever they turn out to be, -1 when it may depend on them.
 * Allocation-free and thread-safe. */
int fz_cond_eval3(const int16_t *ops, size_t nops, uint64_t known, uint64_t unknown);

/* Bit i set if term i appears in the program. */
uint64_t fz_cond_terms_used(const int16_t *ops, size_t nops);

#endif
