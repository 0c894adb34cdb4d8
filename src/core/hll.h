/*
 * hll.h - HyperLogLog: a fixed-size estimate of how many distinct items
 * (recipients, senders) a campaign reached.
 *
 * 2^p one-byte registers (p = 4..16; p = 10 is 1 KiB with a standard error
 * of 1.04/sqrt(1024) = 3.25 %). Items are 64-bit hashes (XXH3 of the
 * number). Adding is branch-light and never allocates; two sketches of the
 * same p merge exactly (register-wise max), which is how partial counts
 * from several instances or windows are combined. Not thread-safe: a
 * sketch belongs to one owner.
 */
#ifndef FZ_HLL_H
#define FZ_HLL_H

#include <stddef.h>
#include <stdint.h>

#define FZ_HLL_MIN_P 4
#define FZ_HLL_MAX_P 16

/* Bytes a sketch of precision p needs (registers only). */
static inline size_t fz_hll_bytes(unsigned p) { return (size_t)1 << p; }

/* Clear regs (fz_hll_bytes(p) bytes). */
void fz_hll_init(uint8_t *regs, unsigned p);
/* Add one item by its 64-bit hash. */
void fz_hll_add(uint8_t *regs, unsigned p, uint64_t hash);
/* Estimated number of distinct items added. */
double fz_hll_estimate(const uint8_t *regs, unsigned p);
/* dst |= src (same p): dst then estimates the union. */
void fz_hll_merge(uint8_t *dst, const uint8_t *src, unsigned p);

#endif
