/*
 * log.h - leveled logging to stderr, safe from any thread.
 *
 * Each line is written with one write(2) so lines from different threads
 * never interleave. fz_log_ratelimited() lets a hot path report a recurring
 * problem (a malformed event when no dead-letter topic is configured) at
 * most once per interval, with the number of suppressed repeats.
 */
#ifndef FZ_LOG_H
#define FZ_LOG_H

#include <stdint.h>
#include "common.h"

typedef enum fz_log_level {
    FZ_LOG_ERROR = 0,
    FZ_LOG_WARN,
    FZ_LOG_INFO,
    FZ_LOG_DEBUG,
} fz_log_level;

/* Set the most verbose level printed. Call before threads start. */
void fz_log_set_level(fz_log_level level);
/* Parse "error|warn|info|debug"; returns -1 if unknown. */
int fz_log_level_parse(const char *s);
int fz_log_enabled(fz_log_level level);

void fz_log(fz_log_level level, const char *fmt, ...) FZ_PRINTF(2, 3);

/* A rate limiter owned by the caller (one per call site, any thread). */
typedef struct fz_ratelimit {
    _Atomic int64_t next_ms;
    _Atomic uint64_t suppressed;
} fz_ratelimit;

/* Returns 1 if the caller may log now; *suppressed gets the count of
 * calls swallowed since the last permitted one. */
int fz_ratelimit_allow(fz_ratelimit *rl, int64_t interval_ms, uint64_t *suppressed);

int64_t fz_now_ms(void);  /* CLOCK_REALTIME, epoch ms */
int64_t fz_mono_ms(void); /* CLOCK_MONOTONIC ms */
int64_t fz_mono_ns(void);

#define fz_error(...) fz_log(FZ_LOG_ERROR, __VA_ARGS__)
#define fz_warn(...) fz_log(FZ_LOG_WARN, __VA_ARGS__)
#define fz_info(...) fz_log(FZ_LOG_INFO, __VA_ARGS__)
#define fz_debug(...)                                                                              \
    do {                                                                                           \
        if (fz_log_enabled(FZ_LOG_DEBUG)) fz_log(FZ_LOG_DEBUG, __VA_ARGS__);                       \
    } while (0)

#endif
