/*
 * norm.c - see norm.h.
 *
 * One pass over the text. Separators are held back in a small pending run
 * until the next kept character shows whether they sit between two CJK
 * characters (drop them) or not (emit them, collapsing white space).
 */
#include "norm.h"

#include <opencc/opencc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "utf8.h"

/* simplified form of each BMP code point, or 0 when it has none */
static uint16_t t2s[0x10000];
/* byte -> itself lower-cased when it is an ASCII byte that step 5 keeps (not
 * white space, not a separator, not NUL), else 0. Built with t2s from the
 * classes below; before that every byte takes the code point path, which
 * gives the same output, only slower. */
static unsigned char keep_lower[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static char t2s_err[256];

static int is_space(uint32_t cp);
static int is_sep_punct(uint32_t cp);

static size_t put3(char *p, uint32_t cp) {
    p[0] = (char)(0xE0 | (cp >> 12));
    p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* keep_lower, then t2s: convert every ideograph on its own line and keep
 * the one-to-one, same-length answers (phrase-level conversion has no place
 * in matching). */
static void tables_build(void) {
    for (unsigned c = 1; c < 0x80; c++)
        if (!is_space(c) && !is_sep_punct(c))
            keep_lower[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    static const uint32_t ranges[][2] = {{0x3400, 0x9FFF}, {0xF900, 0xFAFF}};
    opencc_t od = opencc_open(OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP);
    if (od == (opencc_t)-1) {
        snprintf(t2s_err, sizeof(t2s_err), "OpenCC: cannot open %s: %s",
                 OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP, opencc_error());
        return;
    }
    size_t cap = 0;
    for (size_t r = 0; r < FZ_ARRAY_LEN(ranges); r++) cap += (ranges[r][1] - ranges[r][0] + 1) * 4;
    char *in = malloc(cap);
    if (!in) {
        snprintf(t2s_err, sizeof(t2s_err), "OpenCC: out of memory");
        opencc_close(od);
        return;
    }
    size_t n = 0;
    for (size_t r = 0; r < FZ_ARRAY_LEN(ranges); r++)
        for (uint32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
            n += put3(in + n, cp);
            in[n++] = '\n';
        }
    char *out = opencc_convert_utf8(od, in, n);
    if (!out) {
        snprintf(t2s_err, sizeof(t2s_err), "OpenCC: conversion failed: %s", opencc_error());
        goto done;
    }
    const char *o = out;
    for (size_t r = 0; r < FZ_ARRAY_LEN(ranges); r++)
        for (uint32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
            const char *nl = strchr(o, '\n');
            if (!nl) goto freed; /* output shorter than input: keep what we have */
            uint32_t to;
            if (nl - o == 3 && fz_utf8_decode(o, 3, &to) == 3 && to != cp && to <= 0xFFFF)
                t2s[cp] = (uint16_t)to;
            o = nl + 1;
        }
freed:
    opencc_convert_utf8_free(out);
done:
    free(in);
    opencc_close(od);
}

int fz_norm_init(char *errstr, size_t errstr_size) {
    pthread_once(&tables_once, tables_build);
    if (t2s_err[0]) {
        snprintf(errstr, errstr_size, "%s", t2s_err);
        return -1;
    }
    return 0;
}

static int is_cjk(uint32_t cp) {
    return (cp >= 0x3400 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x3FFFF);
}

static int is_alnum(uint32_t cp) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
}

static int is_space(uint32_t cp) {
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static int is_zero_width(uint32_t cp) {
    return cp == 0xAD || cp == 0x34F || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF;
}

static int is_sep_punct(uint32_t cp) {
    switch (cp) {
    case '.':
    case 0xB7:
    case 0x2022:
    case 0x30FB:
    case 0x2027:
    case '*':
    case '_':
    case '-':
    case '~':
    case '|':
    case '/':
    case '\\':
    case '+':
    case '\'':
    case '"':
    case '`':
    case '^': return 1;
    default: return 0;
    }
}

/* Map one code point (steps 1, 3, 4). */
static uint32_t fold(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp >= 0xFF01 && cp <= 0xFF5E) return fold(cp - 0xFEE0);
    if (cp == 0x3000) return ' ';
    if (cp >= 0x1D400 && cp <= 0x1D6A3) { /* bold, italic, script, ... A-Z a-z */
        uint32_t k = (cp - 0x1D400) % 52;
        return 'a' + (k < 26 ? k : k - 26);
    }
    if (cp >= 0x1D7CE && cp <= 0x1D7FF) return '0' + (cp - 0x1D7CE) % 10;
    if (cp <= 0xFFFF && t2s[cp]) return t2s[cp];
    return cp;
}

#define PENDING_MAX 32

/* The separators waiting in pend go out (they stay between prev and the
 * next kept character f) unless they sit between CJK and CJK, a letter or
 * a digit; leading ones (nothing kept yet) never do. */
static inline int keep_pending(uint32_t prev, uint32_t f) {
    if (prev == 0) return 0;
    return !((is_cjk(prev) && (is_cjk(f) || is_alnum(f))) || (is_alnum(prev) && is_cjk(f)));
}

/*
 * Most text is ASCII: runs of kept ASCII bytes are copied lower-cased
 * without decoding, and ASCII white space and separators skip the code
 * point path. Everything else goes one code point at a time. The state
 * stays in locals: separators seen since the last kept character wait in
 * pend until the next kept character says whether they go or stay.
 */
size_t fz_norm_text(const char *in, size_t n, char *out) {
    size_t i = 0, o = 0, np = 0;
    uint32_t prev = 0;      /* last kept non-separator code point, after folding; 0 = none */
    char pend[PENDING_MAX]; /* separators since prev, already folded */
    int pend_space = 0;     /* the pending run is white space only */
#define FLUSH_PENDING(f)                                                                           \
    do {                                                                                           \
        if (keep_pending(prev, (f)))                                                               \
            for (size_t k_ = 0; k_ < np; k_++) out[o++] = pend[k_];                                \
        np = 0;                                                                                    \
    } while (0)
#define ADD_SPACE()                                                                                \
    do {                                                                                           \
        if (np == 0) {                                                                             \
            pend[np++] = ' ';                                                                      \
            pend_space = 1;                                                                        \
        } else if ((!pend_space || pend[np - 1] != ' ') && np < PENDING_MAX) {                     \
            pend[np++] = ' ';                                                                      \
        }                                                                                          \
    } while (0)
    while (i < n) {
        unsigned char c = (unsigned char)in[i], l = keep_lower[c];
        if (l) {
            if (np) FLUSH_PENDING(l);
            do {
                out[o++] = (char)l;
            } while (++i < n && (l = keep_lower[(unsigned char)in[i]]) != 0);
            prev = (unsigned char)out[o - 1];
            continue;
        }
        if (c < 0x80 && (is_space(c) || is_sep_punct(c))) {
            if (is_space(c)) {
                ADD_SPACE();
            } else {
                pend_space = 0;
                if (np < PENDING_MAX) pend[np++] = (char)c;
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = fz_utf8_decode(in + i, n - i, &cp);
        if (len == 0) { /* not UTF-8: copy the byte as it is */
            for (size_t k = 0; k < np; k++) out[o++] = pend[k];
            np = 0;
            out[o++] = in[i++];
            prev = 0xFFFD;
            continue;
        }
        i += len;
        if (is_zero_width(cp)) continue;
        uint32_t f = fold(cp);
        if (is_space(f)) {
            ADD_SPACE();
        } else if (is_sep_punct(f)) {
            pend_space = 0;
            char tmp[4];
            size_t k = fz_utf8_encode(f, tmp);
            if (np + k <= PENDING_MAX) {
                memcpy(pend + np, tmp, k);
                np += k;
            }
        } else {
            if (np) FLUSH_PENDING(f);
            o += fz_utf8_encode(f, out + o);
            prev = f;
        }
    }
#undef FLUSH_PENDING
#undef ADD_SPACE
    if (np && prev != 0) { /* trailing separators are kept, leading ones dropped */
        memcpy(out + o, pend, np);
        o += np;
    }
    return o;
}

size_t fz_norm_number(const char *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] >= '0' && in[i] <= '9') out[o++] = in[i];
    return o;
}
