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
static pthread_once_t t2s_once = PTHREAD_ONCE_INIT;
static char t2s_err[256];

static size_t put3(char *p, uint32_t cp) {
    p[0] = (char)(0xE0 | (cp >> 12));
    p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Convert every ideograph on its own line and keep the one-to-one,
 * same-length answers: phrase-level conversion has no place in matching. */
static void t2s_build(void) {
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
    pthread_once(&t2s_once, t2s_build);
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

/* ASCII bytes by what step 5 does with them: kept (letters, digits, other
 * punctuation), white space, or a separator. */
enum { A_KEEP = 0, A_SPACE, A_SEP };
static const uint8_t ascii_class[128] = {
    ['\t'] = A_SPACE, ['\n'] = A_SPACE, ['\v'] = A_SPACE, ['\f'] = A_SPACE, ['\r'] = A_SPACE,
    [' '] = A_SPACE,  ['.'] = A_SEP,    ['*'] = A_SEP,    ['_'] = A_SEP,    ['-'] = A_SEP,
    ['~'] = A_SEP,    ['|'] = A_SEP,    ['/'] = A_SEP,    ['\\'] = A_SEP,   ['+'] = A_SEP,
    ['\''] = A_SEP,   ['"'] = A_SEP,    ['`'] = A_SEP,    ['^'] = A_SEP,
};

/* Bit c set: ASCII byte c is kept as it is (lower-cased), the common case.
 * NUL is left out so that it takes the code point path. */
static const uint64_t ascii_keep[2] = {0xffff137affffc1feULL, 0xaffffffe2fffffffULL};

static inline int keep_ascii(unsigned char c) {
    return c < 0x80 && ((ascii_keep[c >> 6] >> (c & 63)) & 1);
}

static inline unsigned char ascii_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/*
 * The state of one normalisation: separators seen since the last kept
 * character wait in pend until the next kept character says whether they
 * go (between CJK and CJK/alnum) or stay.
 */
typedef struct norm_state {
    char *out;
    size_t o;
    uint32_t prev;          /* last kept non-separator code point, after folding; 0 = none */
    char pend[PENDING_MAX]; /* separators since prev, already folded */
    size_t np;
    int pend_space; /* the pending run is white space only */
} norm_state;

static inline void add_space(norm_state *st) {
    if (st->np == 0) st->pend_space = 1;
    if (st->np == 0 || !st->pend_space || st->pend[st->np - 1] != ' ')
        if (st->np < PENDING_MAX) st->pend[st->np++] = ' ';
}

static inline void add_sep(norm_state *st, uint32_t f) {
    st->pend_space = 0;
    char tmp[4];
    size_t k = fz_utf8_encode(f, tmp);
    if (st->np + k <= PENDING_MAX) {
        memcpy(st->pend + st->np, tmp, k);
        st->np += k;
    }
}

/* A kept character f arrives: decide the pending separators. */
static inline void settle(norm_state *st, uint32_t f) {
    uint32_t prev = st->prev;
    int between = (is_cjk(prev) && (is_cjk(f) || is_alnum(f))) || (is_alnum(prev) && is_cjk(f));
    if (!between && prev != 0) {
        memcpy(st->out + st->o, st->pend, st->np);
        st->o += st->np;
    }
    st->np = 0;
}

/*
 * Most text is ASCII: runs of kept ASCII bytes are copied lower-cased
 * without decoding, and ASCII white space and separators skip the code
 * point path. Everything else goes one code point at a time.
 */
size_t fz_norm_text(const char *in, size_t n, char *out) {
    norm_state st = {.out = out};
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)in[i];
        if (keep_ascii(c)) {
            if (st.np) {
                if (st.prev - 1u < 0x7Fu) { /* after ASCII: never between CJK, kept */
                    for (size_t k = 0; k < st.np; k++) out[st.o++] = st.pend[k];
                    st.np = 0;
                } else {
                    settle(&st, ascii_lower(c));
                }
            }
            do {
                out[st.o++] = (char)ascii_lower(c);
            } while (++i < n && keep_ascii(c = (unsigned char)in[i]));
            st.prev = (unsigned char)out[st.o - 1];
            continue;
        }
        if (c < 0x80 && ascii_class[c] != A_KEEP) {
            if (ascii_class[c] == A_SPACE) {
                add_space(&st);
            } else {
                st.pend_space = 0;
                if (st.np < PENDING_MAX) st.pend[st.np++] = (char)c;
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = fz_utf8_decode(in + i, n - i, &cp);
        if (len == 0) { /* not UTF-8: copy the byte as it is */
            if (st.np) {
                memcpy(out + st.o, st.pend, st.np);
                st.o += st.np;
                st.np = 0;
            }
            out[st.o++] = in[i++];
            st.prev = 0xFFFD;
            continue;
        }
        i += len;
        if (is_zero_width(cp)) continue;
        uint32_t f = fold(cp);
        if (is_space(f)) {
            add_space(&st);
        } else if (is_sep_punct(f)) {
            add_sep(&st, f);
        } else {
            if (st.np) settle(&st, f);
            st.o += fz_utf8_encode(f, out + st.o);
            st.prev = f;
        }
    }
    if (st.np && st.prev != 0) { /* trailing separators are kept, leading ones dropped */
        memcpy(out + st.o, st.pend, st.np);
        st.o += st.np;
    }
    return st.o;
}

size_t fz_norm_number(const char *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] >= '0' && in[i] <= '9') out[o++] = in[i];
    return o;
}
