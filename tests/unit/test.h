/*
 * test.h - the unit-test harness: assertion macros and shared helpers.
 *
 * Tests are plain functions declared with TEST_IMPL(name) and listed in
 * test-list.h. The runner (runner.c) runs one test per process, so an
 * assertion simply prints "file:line: assertion text" to stderr and exits
 * the process with status 1; there is no unwinding to do. Temporary
 * directories made with fz_test_tmpdir() are removed on exit, pass or fail.
 *
 * Randomised (oracle) tests draw from fz_test_rand(); the seed comes from
 * FZ_TEST_SEED (default fixed, so runs are reproducible) and is printed
 * with any failure.
 */
#ifndef FZ_TEST_H
#define FZ_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "pipeline.h"
#include "stores.h"

#define TEST_IMPL(name) void fz_test_##name(void)

void fz_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
/* Context printed with a failure (case name, iteration); "" clears it. */
void fz_test_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ASSERT(expr)                                                                               \
    do {                                                                                           \
        if (!(expr)) fz_test_fail(__FILE__, __LINE__, "assertion failed: %s", #expr);              \
    } while (0)

#define ASSERT_EQ_I64(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            fz_test_fail(__FILE__, __LINE__, "assertion failed: %s == %s (%lld != %lld)", #a, #b,  \
                         a_, b_);                                                                  \
    } while (0)

#define ASSERT_EQ_U64(a, b)                                                                        \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        if (a_ != b_)                                                                              \
            fz_test_fail(__FILE__, __LINE__, "assertion failed: %s == %s (%llu != %llu)", #a, #b,  \
                         a_, b_);                                                                  \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            fz_test_fail(__FILE__, __LINE__, "assertion failed: %s == %s (\"%s\" != \"%s\")", #a,  \
                         #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                              \
    } while (0)

/* A (pointer, length) view equals a NUL-terminated string (an empty view
 * may have a NULL pointer). */
#define ASSERT_VIEW_EQ(p, n, s)                                                                    \
    do {                                                                                           \
        const char *p_ = (p), *s_ = (s);                                                           \
        size_t n_ = (n);                                                                           \
        if ((!p_ && n_) || n_ != strlen(s_) || (n_ && memcmp(p_, s_, n_) != 0))                    \
            fz_test_fail(__FILE__, __LINE__, "assertion failed: %s == \"%s\" (got \"%.*s\")", #p,  \
                         s_, p_ ? (int)n_ : 6, p_ ? p_ : "(null)");                                \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                \
            fz_test_fail(__FILE__, __LINE__, "assertion failed: %s contains \"%s\" (got \"%s\")",  \
                         #hay, n_, h_ ? h_ : "(null)");                                            \
    } while (0)

/* ---- randomness (splitmix64, seeded from FZ_TEST_SEED) ---- */
uint64_t fz_test_rand(void);
/* Uniform in [0, n). */
uint64_t fz_test_rand_below(uint64_t n);
uint64_t fz_test_seed(void);

/* ---- files ---- */
/* A fresh directory under $TMPDIR (or /tmp), removed at exit. Never NULL. */
const char *fz_test_tmpdir(void);
struct fz_ruleset;
/* Load the rules in dir or fail the test, printing the diagnostics. */
struct fz_ruleset *fz_test_load_rules(const char *dir);
/* Write n bytes to dir/name, creating missing parent directories of name.
 * Returns the full path; the string lives until the process exits. */
const char *fz_test_write(const char *dir, const char *name, const void *data, size_t n);
#define fz_test_write_str(dir, name, s) fz_test_write((dir), (name), (s), strlen(s))
void fz_test_rm_rf(const char *path);

/* A pipeline over rules written from rules_yaml, with stores whose dedup
 * window is dedup_window_ms (0: every event alerts) and no campaign table,
 * and a 1 MiB buffer: what the encoder tests feed events through. */
typedef struct fz_test_pipe {
    struct fz_ruleset *rs;
    fz_pipeline *p;
    fz_stores st;
    fz_buf b;
} fz_test_pipe;
void fz_test_pipe_open(fz_test_pipe *f, const char *rules_yaml, int64_t dedup_window_ms);
void fz_test_pipe_close(fz_test_pipe *f);

/* ---- naive reference UTF-8 (independent of src/utf8.c) ---- */
/* Length (1-4) of the valid sequence at s, or 0; *cp gets the code point. */
size_t tu_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* 1 if valid; else 0 and *bad gets the offset of the first bad sequence. */
int tu_valid(const unsigned char *s, size_t n, size_t *bad);
size_t tu_encode(uint32_t cp, unsigned char out[4]);

/* Naive RFC 4648 (padded) decoder: bytes written to out, or -1. */
long tb64_decode(const char *s, size_t n, unsigned char *out);

/* ---- a small strict JSON parser (RFC 8259) for checking encoder output ---- */
typedef enum tj_type { TJ_NULL, TJ_FALSE, TJ_TRUE, TJ_NUM, TJ_STR, TJ_ARR, TJ_OBJ } tj_type;

typedef struct tj {
    tj_type type;
    char *str;  /* TJ_STR: decoded UTF-8 (NUL-terminated, may hold NULs); TJ_NUM: literal */
    size_t len; /* bytes in str */
    size_t n;   /* TJ_ARR/TJ_OBJ: children */
    struct tj **kids;
    char **keys; /* TJ_OBJ: decoded keys */
} tj;

/* Parse exactly one JSON value (surrounding whitespace allowed). NULL and
 * a message with the byte offset in err if s is not strict JSON: invalid
 * UTF-8, raw control characters, bad escapes, lone surrogates, bad
 * numbers, trailing commas or data, duplicate keys. */
tj *tj_parse(const char *s, size_t n, char *err, size_t errsz);
/* Set to accept repeated object keys (RFC 8259 allows them; encoders
 * must not produce them, so the default is to reject). */
extern int tj_allow_duplicate_keys;
void tj_free(tj *v);
/* Member by dotted path ("rule.id", "rules.1.id"); NULL if absent. */
const tj *tj_get(const tj *v, const char *path);
/* 1 if v is a string equal to s. */
int tj_is_str(const tj *v, const char *s);
/* 1 and *out if v is an integer number. */
int tj_int(const tj *v, int64_t *out);

/* Parse s as JSON or fail the test, printing s and the parser's reason. */
#define ASSERT_JSON(var, s, n)                                                                     \
    do {                                                                                           \
        char jerr_[256];                                                                           \
        (var) = tj_parse((s), (n), jerr_, sizeof(jerr_));                                          \
        if (!(var))                                                                                \
            fz_test_fail(__FILE__, __LINE__, "not valid JSON (%s): %.*s", jerr_, (int)(n), (s));   \
    } while (0)

#endif
