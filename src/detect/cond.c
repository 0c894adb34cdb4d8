/*
 * cond.c - see cond.h. A recursive-descent parser that emits postfix.
 */
#include "cond.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct parser {
    const char *s, *p;
    const char *const *names;
    size_t nnames;
    int16_t ops[FZ_COND_MAX_OPS];
    size_t n;
    int depth;
    char *err;
    size_t err_size;
    int failed;
} parser;

static void fail(parser *ps, const char *fmt, ...) FZ_PRINTF(2, 3);
static void fail(parser *ps, const char *fmt, ...) {
    if (ps->failed) return;
    ps->failed = 1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->err_size, "condition '%s': %s (at column %d)", ps->s, msg,
             (int)(ps->p - ps->s) + 1);
}

static void emit(parser *ps, int16_t op) {
    if (ps->n == FZ_COND_MAX_OPS) {
        fail(ps, "too long (at most %d operands and operators)", FZ_COND_MAX_OPS);
        return;
    }
    ps->ops[ps->n++] = op;
}

static void skip_ws(parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static int is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Peek a word; returns its length (0 if the next token is not a word). */
static size_t peek_word(parser *ps) {
    skip_ws(ps);
    size_t n = 0;
    while (is_name_char(ps->p[n])) n++;
    return n;
}

static int accept_kw(parser *ps, const char *kw) {
    size_t n = peek_word(ps);
    if (n == strlen(kw) && memcmp(ps->p, kw, n) == 0) {
        ps->p += n;
        return 1;
    }
    return 0;
}

static void parse_or(parser *ps);

static void parse_atom(parser *ps) {
    if (++ps->depth > 32) {
        fail(ps, "nested too deeply");
        return;
    }
    skip_ws(ps);
    if (accept_kw(ps, "not")) {
        parse_atom(ps);
        emit(ps, FZ_COND_NOT);
    } else if (*ps->p == '(') {
        ps->p++;
        parse_or(ps);
        skip_ws(ps);
        if (*ps->p != ')')
            fail(ps, "expected ')'");
        else
            ps->p++;
    } else {
        size_t n = peek_word(ps);
        if (n == 0) {
            fail(ps, *ps->p ? "expected a term name, 'not' or '('" : "unexpected end");
        } else if ((n == 3 && memcmp(ps->p, "and", 3) == 0) ||
                   (n == 2 && memcmp(ps->p, "or", 2) == 0)) {
            fail(ps, "expected a term name before '%.*s'", (int)n, ps->p);
        } else {
            size_t i;
            for (i = 0; i < ps->nnames; i++)
                if (strlen(ps->names[i]) == n && memcmp(ps->names[i], ps->p, n) == 0) break;
            if (i == ps->nnames) {
                fail(ps, "unknown term '%.*s'", (int)n, ps->p);
            } else {
                emit(ps, (int16_t)i);
                ps->p += n;
            }
        }
    }
    ps->depth--;
}

static void parse_and(parser *ps) {
    parse_atom(ps);
    while (!ps->failed && accept_kw(ps, "and")) {
        parse_atom(ps);
        emit(ps, FZ_COND_AND);
    }
}

static void parse_or(parser *ps) {
    parse_and(ps);
    while (!ps->failed && accept_kw(ps, "or")) {
        parse_and(ps);
        emit(ps, FZ_COND_OR);
    }
}

int16_t *fz_cond_compile(const char *src, const char *const *names, size_t nnames, size_t *nops,
                         char *err, size_t err_size) {
    parser *ps = calloc(1, sizeof(*ps));
    if (!ps) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ps->s = ps->p = src;
    ps->names = names;
    ps->nnames = nnames;
    ps->err = err;
    ps->err_size = err_size;
    parse_or(ps);
    skip_ws(ps);
    if (!ps->failed && *ps->p) fail(ps, "unexpected '%c'", *ps->p);
    int16_t *out = NULL;
    if (!ps->failed) {
        out = malloc(ps->n * sizeof(int16_t));
        if (out) {
            memcpy(out, ps->ops, ps->n * sizeof(int16_t));
            *nops = ps->n;
        } else {
            snprintf(err, err_size, "out of memory");
        }
    }
    free(ps);
    return out;
}

int fz_cond_eval(const int16_t *ops, size_t nops, uint64_t terms) {
    uint8_t st[FZ_COND_MAX_OPS];
    size_t sp = 0;
    for (size_t i = 0; i < nops; i++) {
        int16_t op = ops[i];
        if (op >= 0) {
            st[sp++] = (uint8_t)((terms >> op) & 1);
        } else if (op == FZ_COND_NOT) {
            st[sp - 1] = !st[sp - 1];
        } else {
            sp--;
            st[sp - 1] = op == FZ_COND_AND ? (st[sp - 1] & st[sp]) : (st[sp - 1] | st[sp]);
        }
    }
    return sp ? st[0] : 0;
}

int fz_cond_eval3(const int16_t *ops, size_t nops, uint64_t known, uint64_t unknown) {
    /* each value as an interval [lo, hi] of the truth values it can take:
     * Kleene's three-valued logic, which is exact for one occurrence of
     * each unknown and safe (never definite when it is not) otherwise */
    uint8_t lo[FZ_COND_MAX_OPS], hi[FZ_COND_MAX_OPS];
    size_t sp = 0;
    for (size_t i = 0; i < nops; i++) {
        int16_t op = ops[i];
        if (op >= 0) {
            int u = (int)((unknown >> op) & 1);
            lo[sp] = (uint8_t)(!u && ((known >> op) & 1));
            hi[sp] = (uint8_t)(u || ((known >> op) & 1));
            sp++;
        } else if (op == FZ_COND_NOT) {
            uint8_t l = lo[sp - 1];
            lo[sp - 1] = !hi[sp - 1];
            hi[sp - 1] = !l;
        } else {
            sp--;
            if (op == FZ_COND_AND) {
                lo[sp - 1] &= lo[sp];
                hi[sp - 1] &= hi[sp];
            } else {
                lo[sp - 1] |= lo[sp];
                hi[sp - 1] |= hi[sp];
            }
        }
    }
    if (!sp) return 0;
    return lo[0] == hi[0] ? lo[0] : -1;
}

uint64_t fz_cond_terms_used(const int16_t *ops, size_t nops) {
    uint64_t m = 0;
    for (size_t i = 0; i < nops; i++)
        if (ops[i] >= 0) m |= 1ull << ops[i];
    return m;
}
