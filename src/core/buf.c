/*
 * buf.c - see buf.h.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void fz_buf_init(fz_buf *b, size_t max_bytes) {
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max_bytes;
    b->failed = 0;
}

void fz_buf_free(fz_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

fz_err fz_buf_reserve(fz_buf *b, size_t extra) {
    if (b->failed) return FZ_ERR_FULL;
    if (extra > b->max || b->len > b->max - extra) {
        b->failed = 1;
        return FZ_ERR_FULL;
    }
    size_t need = b->len + extra;
    if (need <= b->cap) return FZ_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need) ncap *= 2;
    if (ncap > b->max) ncap = b->max;
    char *np = realloc(b->p, ncap);
    if (!np) {
        b->failed = 1;
        return FZ_ERR_NOMEM;
    }
    b->p = np;
    b->cap = ncap;
    return FZ_OK;
}

fz_err fz_buf_put(fz_buf *b, const void *p, size_t n) {
    fz_err e = fz_buf_reserve(b, n);
    if (e) return e;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    return FZ_OK;
}

fz_err fz_buf_putc(fz_buf *b, char c) {
    if (FZ_LIKELY(b->len < b->cap && !b->failed)) {
        b->p[b->len++] = c;
        return FZ_OK;
    }
    return fz_buf_put(b, &c, 1);
}

fz_err fz_buf_puts(fz_buf *b, const char *s) { return fz_buf_put(b, s, strlen(s)); }

fz_err fz_buf_printf(fz_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return FZ_ERR_ARG;
    if ((size_t)n < sizeof(tmp)) return fz_buf_put(b, tmp, (size_t)n);
    fz_err e = fz_buf_reserve(b, (size_t)n + 1);
    if (e) return e;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return FZ_OK;
}

fz_err fz_buf_put_u64(fz_buf *b, uint64_t v) {
    char tmp[24];
    int i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return fz_buf_put(b, tmp + i, sizeof(tmp) - (size_t)i);
}

fz_err fz_buf_put_i64(fz_buf *b, int64_t v) {
    if (v < 0) {
        fz_buf_putc(b, '-');
        return fz_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    }
    return fz_buf_put_u64(b, (uint64_t)v);
}

fz_err fz_buf_put_hex64(fz_buf *b, uint64_t v) {
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    for (int i = 15; i >= 0; i--) {
        tmp[i] = hex[v & 15];
        v >>= 4;
    }
    return fz_buf_put(b, tmp, 16);
}

static const char hexd[] = "0123456789abcdef";

/* Escape one byte if JSON needs it; returns 1 if handled. */
static int put_escaped(fz_buf *b, unsigned char c) {
    switch (c) {
    case '"': fz_buf_put(b, "\\\"", 2); return 1;
    case '\\': fz_buf_put(b, "\\\\", 2); return 1;
    case '\n': fz_buf_put(b, "\\n", 2); return 1;
    case '\r': fz_buf_put(b, "\\r", 2); return 1;
    case '\t': fz_buf_put(b, "\\t", 2); return 1;
    default: break;
    }
    if (c < 0x20 || c == 0x7f) {
        char u[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
        fz_buf_put(b, u, 6);
        return 1;
    }
    return 0;
}

fz_err fz_buf_put_json_str(fz_buf *b, const char *s, size_t n) {
    fz_buf_reserve(b, n + 2);
    fz_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
        fz_buf_put(b, s + run, i - run);
        put_escaped(b, c);
        run = i + 1;
    }
    fz_buf_put(b, s + run, n - run);
    return fz_buf_putc(b, '"');
}

fz_err fz_buf_put_base64(fz_buf *b, const void *data, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = data;
    fz_err e = fz_buf_reserve(b, (n + 2) / 3 * 4);
    if (e) return e;
    char *w = b->p + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *w++ = tab[v >> 18];
        *w++ = tab[(v >> 12) & 63];
        *w++ = tab[(v >> 6) & 63];
        *w++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        *w++ = tab[v >> 18];
        *w++ = tab[(v >> 12) & 63];
        *w++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *w++ = '=';
    }
    b->len = (size_t)(w - b->p);
    return FZ_OK;
}

fz_err fz_buf_put_key(fz_buf *b, const char *key, int first) {
    if (!first) fz_buf_putc(b, ',');
    fz_buf_putc(b, '"');
    fz_buf_puts(b, key);
    fz_buf_put(b, "\":", 2);
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}
