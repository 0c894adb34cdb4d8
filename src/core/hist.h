/*
 * hist.h - a latency histogram with fixed buckets (Prometheus' cumulative
 * "le" buckets are summed at exposition time, not here).
 *
 * One writer thread observes; any thread reads (relaxed atomics: a scrape
 * may see a count without its sum, never a torn value). No allocation.
 */
#ifndef FZ_HIST_H
#define FZ_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define FZ_HIST_BUCKETS 16

/* Upper bounds of the buckets, in milliseconds; the last bucket (+Inf)
 * follows them. Covers a local produce (ms) to a backlog (an hour). */
static const int64_t fz_hist_bounds_ms[FZ_HIST_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000, 3600000};

typedef struct fz_hist {
    _Atomic uint64_t bucket[FZ_HIST_BUCKETS + 1]; /* not cumulative */
    _Atomic uint64_t sum_us;
} fz_hist;

/* Observe a duration in microseconds; negative (a clock ahead of ours)
 * counts as 0. */
static inline void fz_hist_observe_us(fz_hist *h, int64_t us) {
    if (us < 0) us = 0;
    int i = 0;
    while (i < FZ_HIST_BUCKETS && us > fz_hist_bounds_ms[i] * 1000) i++;
    atomic_store_explicit(&h->bucket[i],
                          atomic_load_explicit(&h->bucket[i], memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&h->sum_us,
                          atomic_load_explicit(&h->sum_us, memory_order_relaxed) + (uint64_t)us,
                          memory_order_relaxed);
}

#endif
