/*
 * log.c - see log.h.
 *
 * A line is built on the stack (FZ_LOG_LINE_MAX bytes) and written with
 * one write(2): nothing is allocated, so any thread may log, also when
 * memory is short.
 */
#define _GNU_SOURCE
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

static _Atomic int g_level = FZ_LOG_INFO;  /* written once at start-up */
static _Atomic int g_format = FZ_LOG_TEXT; /* written once at start-up */
static _Thread_local char t_component[32];

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

void fz_log_set_format(fz_log_format format) { atomic_store(&g_format, (int)format); }

fz_log_format fz_log_get_format(void) { return (fz_log_format)atomic_load(&g_format); }

int fz_log_format_parse(const char *s) {
    if (strcmp(s, "text") == 0) return FZ_LOG_TEXT;
    if (strcmp(s, "json") == 0) return FZ_LOG_JSON;
    return -1;
}

void fz_log_set_component(const char *name) {
    snprintf(t_component, sizeof(t_component), "%s", name ? name : "");
}

const char *fz_log_component(void) {
    if (t_component[0]) return t_component;
    return syscall(SYS_gettid) == getpid() ? "main" : "thread";
}

/* RFC 3339 UTC with milliseconds; returns its length. */
static size_t stamp(char *out, size_t cap, int64_t time_ms) {
    time_t sec = (time_t)(time_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    int n =
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(time_ms % 1000));
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* A bounded writer: an append that does not fit is not made, and none
 * after it either (full). */
typedef struct lw {
    char *p;
    size_t len, end;
    int full;
} lw;

static void lw_put(lw *w, const char *s, size_t n) {
    if (w->full || w->len + n > w->end) {
        w->full = 1;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

/* s as the inside of a JSON string: escaped, invalid UTF-8 as U+FFFD; a
 * character that does not fit whole ends it. */
static void lw_json(lw *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n && !w->full;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            lw_put(w, e, 2);
            i++;
        } else if (c == '\n') {
            lw_put(w, "\\n", 2);
            i++;
        } else if (c == '\t') {
            lw_put(w, "\\t", 2);
            i++;
        } else if (c == '\r') {
            lw_put(w, "\\r", 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            lw_put(w, e, 6);
            i++;
        } else if (c < 0x80) {
            lw_put(w, s + i, 1);
            i++;
        } else {
            size_t k = fz_utf8_seq_len(s + i, n - i);
            if (k) {
                lw_put(w, s + i, k);
                i += k;
            } else {
                lw_put(w, "\xef\xbf\xbd", 3); /* U+FFFD for the bad byte */
                i++;
            }
        }
    }
}

size_t fz_log_format_json(char *out, size_t cap, int64_t time_ms, fz_log_level level,
                          const char *component, const char *msg, const fz_log_field *fields,
                          size_t nfields) {
    /* room for the closing '"', '}' and '\n' is kept back from the start,
     * so a cut line is still one JSON object */
    lw w = {out, 0, cap - 3, 0};
    char ts[48];
    size_t tn = stamp(ts, sizeof(ts), time_ms);
    const char *lv = level_names[level];
    lw_put(&w, "{\"time\":\"", 9);
    lw_put(&w, ts, tn);
    lw_put(&w, "\",\"level\":\"", 11);
    lw_put(&w, lv, strlen(lv));
    lw_put(&w, "\",\"component\":\"", 15);
    lw_json(&w, component, strlen(component));
    lw_put(&w, "\"", 1);
    /* the fields go before msg, so a long message cannot push them out;
     * the header and the fields fit in any cap >= 256 unless the fields are
     * long, and a field that does not fit whole is left out */
    for (size_t i = 0; i < nfields && !w.full; i++) {
        if (!fields[i].value) continue;
        size_t before = w.len;
        lw_put(&w, ",\"", 2);
        lw_json(&w, fields[i].key, strlen(fields[i].key));
        lw_put(&w, "\":\"", 3);
        lw_json(&w, fields[i].value, strlen(fields[i].value));
        lw_put(&w, "\"", 1);
        if (w.full) {
            w.len = before;
            w.full = 0;
            break;
        }
    }
    /* ",\"msg\":\"" must fit; the header alone is under 128 bytes */
    lw_put(&w, ",\"msg\":\"", 8);
    lw_json(&w, msg, strlen(msg));
    memcpy(out + w.len, "\"}\n", 3);
    return w.len + 3;
}

static void emit(fz_log_level level, const char *component, const fz_log_field *fields,
                 size_t nfields, const char *fmt, va_list ap) {
    char line[FZ_LOG_LINE_MAX];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    size_t len;
    if (atomic_load(&g_format) == FZ_LOG_JSON) {
        char msg[FZ_LOG_LINE_MAX];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        len = fz_log_format_json(line, sizeof(line), ms, level,
                                 component ? component : fz_log_component(), msg, fields, nfields);
    } else {
        size_t n = stamp(line, sizeof(line), ms);
        int h = snprintf(line + n, sizeof(line) - n, " %-5s ", level_names[level]);
        n += h < 0 ? 0 : (size_t)h;
        int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
        len = n + (m < 0 ? 0 : (size_t)m);
        if (len > sizeof(line) - 2) len = sizeof(line) - 2;
        line[len++] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void fz_log(fz_log_level level, const char *fmt, ...) {
    if (!fz_log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, NULL, NULL, 0, fmt, ap);
    va_end(ap);
}

void fz_log_fields(fz_log_level level, const char *component, const fz_log_field *fields,
                   size_t nfields, const char *fmt, ...) {
    if (!fz_log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, component, fields, nfields, fmt, ap);
    va_end(ap);
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
