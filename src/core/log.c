/*
 * log.c - see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = FZ_LOG_INFO; /* written once at start-up */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *fz_err2str(fz_err err) {
    switch (err) {
    case FZ_OK: return "success";
    case FZ_ERR_NOMEM: return "out of memory";
    case FZ_ERR_IO: return "I/O error";
    case FZ_ERR_CONFIG: return "configuration error";
    case FZ_ERR_RULES: return "rule error";
    case FZ_ERR_KAFKA: return "Kafka error";
    case FZ_ERR_FULL: return "queue full";
    case FZ_ERR_ARG: return "invalid argument";
    }
    return "unknown error";
}

void fz_log_set_level(fz_log_level level) { atomic_store(&g_level, (int)level); }

int fz_log_level_parse(const char *s) {
    for (size_t i = 0; i < FZ_ARRAY_LEN(level_names); i++)
        if (strcmp(s, level_names[i]) == 0) return (int)i;
    return -1;
}

int fz_log_enabled(fz_log_level level) { return (int)level <= atomic_load(&g_level); }

int64_t fz_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fz_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t fz_mono_ms(void) { return fz_mono_ns() / 1000000; }

void fz_log(fz_log_level level, const char *fmt, ...) {
    if (!fz_log_enabled(level)) return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

int fz_ratelimit_allow(fz_ratelimit *rl, int64_t interval_ms, uint64_t *suppressed) {
    int64_t now = fz_mono_ms();
    int64_t next = atomic_load(&rl->next_ms);
    if (now >= next && atomic_compare_exchange_strong(&rl->next_ms, &next, now + interval_ms)) {
        *suppressed = atomic_exchange(&rl->suppressed, 0);
        return 1;
    }
    atomic_fetch_add(&rl->suppressed, 1);
    return 0;
}
