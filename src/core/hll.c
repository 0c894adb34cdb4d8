/*
 * hll.c - see hll.h. The estimator is the original HyperLogLog (Flajolet et
 * al. 2007) with its small-range correction (linear counting while some
 * registers are empty and the raw estimate is below 2.5 m); 64-bit hashes
 * make the large-range correction unnecessary.
 */
#include "hll.h"

#include <math.h>
#include <string.h>

void fz_hll_init(uint8_t *regs, unsigned p) { memset(regs, 0, fz_hll_bytes(p)); }

void fz_hll_add(uint8_t *regs, unsigned p, uint64_t hash) {
    size_t idx = (size_t)(hash >> (64 - p));
    uint64_t rest = (hash << p) | ((uint64_t)1 << (p - 1)); /* guard bit: rank <= 65 - p */
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    if (rank > regs[idx]) regs[idx] = rank;
}

double fz_hll_estimate(const uint8_t *regs, unsigned p) {
    size_t m = fz_hll_bytes(p), zeros = 0;
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        /* 2^-rank built from its exponent bits (rank <= 65): ldexp costs
         * ten times more, and summaries estimate two sketches each */
        uint64_t bits = (uint64_t)(1023 - regs[i]) << 52;
        double v;
        memcpy(&v, &bits, sizeof(v));
        sum += v;
        zeros += regs[i] == 0;
    }
    double alpha = m == 16 ? 0.673 : m == 32 ? 0.697 : m == 64 ? 0.709 : 0.7213 / (1 + 1.079 / m);
    double e = alpha * (double)m * (double)m / sum;
    if (e <= 2.5 * (double)m && zeros > 0) e = (double)m * log((double)m / (double)zeros);
    return e;
}

void fz_hll_merge(uint8_t *dst, const uint8_t *src, unsigned p) {
    size_t m = fz_hll_bytes(p);
    for (size_t i = 0; i < m; i++)
        if (src[i] > dst[i]) dst[i] = src[i];
}
