/*
 * common.h - types shared by every fanzha module.
 *
 * fz_str is a non-owning view of bytes (not NUL-terminated). Views handed
 * out by the event decoder point into the message buffer or into the
 * worker's unescape arena and stay valid until the next event is decoded
 * by the same worker.
 */
#ifndef FZ_COMMON_H
#define FZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fz_str {
    const char *p;
    size_t n;
} fz_str;

#define FZ_STR_NULL ((fz_str){NULL, 0})
#define FZ_STR_LIT(s) ((fz_str){(s), sizeof(s) - 1})

static inline int fz_str_eq(fz_str a, const char *lit) {
    size_t n = strlen(lit);
    return a.n == n && (n == 0 || memcmp(a.p, lit, n) == 0);
}

/*
 * Touch every page of p[0..n), writing zeros: for tables that are zeroed
 * (calloc) or not yet initialised, made once at start-up. Their pages are
 * then faulted in when the table is made, not on the hot path, where the
 * first touch of each page of a 30 MB hash table costs a page fault per
 * event and, with several threads, stalls the others (the kernel's TLB
 * bookkeeping showed as a third of replay's time on 2 threads).
 */
static inline void fz_prefault(void *p, size_t n) {
    volatile char *c = (volatile char *)p;
    for (size_t i = 0; i < n; i += 4096) c[i] = 0;
    if (n) c[n - 1] = 0;
}

/* One error enum for the whole program; fz_err2str() names each. */
typedef enum fz_err {
    FZ_OK = 0,
    FZ_ERR_NOMEM,
    FZ_ERR_IO,
    FZ_ERR_CONFIG,
    FZ_ERR_RULES,
    FZ_ERR_KAFKA,
    FZ_ERR_FULL,
    FZ_ERR_ARG,
} fz_err;

const char *fz_err2str(fz_err err);

/*
 * Event time and money bounds (docs/events.md). Every event time is in
 * [0, FZ_TS_MAX] (9999-12-31T23:59:59.999Z) and every amount in [0,
 * FZ_AMOUNT_MAX_MINOR] once decoded, so a time plus any configured window,
 * or a handful of amounts, cannot overflow; sums over many events use the
 * saturating helpers below all the same.
 */
#define FZ_TS_MAX INT64_C(253402300799999)
#define FZ_AMOUNT_MAX_MINOR INT64_C(1000000000000000) /* 10^15 minor units */

/* a + b and a - b clamped to [INT64_MIN, INT64_MAX]; *sat (if given) is set
 * to 1 when the result was clamped. */
static inline int64_t fz_sat_add(int64_t a, int64_t b, int *sat) {
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r)) return r;
    if (sat) *sat = 1;
    return b > 0 ? INT64_MAX : INT64_MIN;
}
static inline int64_t fz_sat_sub(int64_t a, int64_t b, int *sat) {
    int64_t r;
    if (!__builtin_sub_overflow(a, b, &r)) return r;
    if (sat) *sat = 1;
    return b < 0 ? INT64_MAX : INT64_MIN;
}

#define FZ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FZ_CACHELINE 64

#if defined(__GNUC__)
#define FZ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define FZ_LIKELY(x) __builtin_expect(!!(x), 1)
#define FZ_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define FZ_PRINTF(f, a)
#define FZ_LIKELY(x) (x)
#define FZ_UNLIKELY(x) (x)
#endif

#endif
