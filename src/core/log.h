/*
 * log.h - leveled logging to stderr, safe from any thread.
 *
 * Each line is written with one write(2) so lines from different threads
 * never interleave. fz_log_ratelimited() lets a hot path report a recurring
 * problem (a malformed event when no dead-letter topic is configured) at
 * most once per interval, with the number of suppressed repeats.
 *
 * Two line formats (log_format, chosen before threads start):
 *   text  2026-12-07T05:43:47.273Z error message
 *   json  {"time":"2026-12-07T05:43:47.273Z","level":"error",
 *          "component":"stream-0"[,"field":"value"...],"msg":"message"}
 * one object per line, for journald and container log collectors. The
 * component is the logging thread's name, set once when the thread starts
 * (fz_log_set_component: main, stream-N, reload, watchlog, replay-N, http);
 * librdkafka's lines carry component "kafka" and their facility, broker
 * and client as fields. JSON strings are escaped per RFC 8259 (control
 * characters, '"' and '\\', and DEL as \u007f) and bytes that are not
 * valid UTF-8 become U+FFFD, so every line parses whatever a message holds.
 * A line is at most FZ_LOG_LINE_MAX bytes; a longer message is cut at a
 * character boundary and the line stays one valid JSON object.
 */
#ifndef FZ_LOG_H
#define FZ_LOG_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"

typedef enum fz_log_level {
    FZ_LOG_ERROR = 0,
    FZ_LOG_WARN,
    FZ_LOG_INFO,
    FZ_LOG_DEBUG,
} fz_log_level;

#define FZ_LOG_LINE_MAX 4096

typedef enum fz_log_format { FZ_LOG_TEXT = 0, FZ_LOG_JSON } fz_log_format;

/* An extra string field of a JSON line (not shown in text lines). */
typedef struct fz_log_field {
    const char *key;
    const char *value; /* NULL: the field is left out */
} fz_log_field;

/* Choose the line format. Call before threads start. */
void fz_log_set_format(fz_log_format format);
fz_log_format fz_log_get_format(void);
/* Parse "text|json"; returns -1 if unknown. */
int fz_log_format_parse(const char *s);
/* Name the calling thread in its log lines (copied; at most 31 bytes).
 * Threads that never call it log as "main" (the process's first thread)
 * or "thread". */
void fz_log_set_component(const char *name);
const char *fz_log_component(void);

/*
 * Format one JSON line, with its '\n', into out (cap >= 256 bytes) and
 * return its length: time (RFC 3339 UTC, milliseconds) from time_ms,
 * level, component, the fields with a non-NULL value in order (a field
 * that does not fit whole is left out), then msg. Pure; any thread.
 */
size_t fz_log_format_json(char *out, size_t cap, int64_t time_ms, fz_log_level level,
                          const char *component, const char *msg, const fz_log_field *fields,
                          size_t nfields);

/* fz_log with another component than the thread's (NULL: the thread's)
 * and extra JSON fields. */
void fz_log_fields(fz_log_level level, const char *component, const fz_log_field *fields,
                   size_t nfields, const char *fmt, ...) FZ_PRINTF(5, 6);

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
