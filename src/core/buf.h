/*
 * buf.h - a growable byte buffer with a hard size cap, plus the JSON
 * writing helpers every encoder uses.
 *
 * Modelled on curl's dynbuf: the cap is given at init and no append ever
 * grows the buffer past it; an append that would returns FZ_ERR_FULL and
 * leaves the buffer marked as failed, so a caller can run a whole encoding
 * and check once at the end. Workers keep one buffer each and reset it per
 * message, so after warm-up the hot path does not allocate.
 *
 * Not thread-safe: a buffer belongs to one thread.
 */
#ifndef FZ_BUF_H
#define FZ_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"

typedef struct fz_buf {
    char *p;
    size_t len;
    size_t cap; /* allocated */
    size_t max; /* hard cap */
    int failed; /* an append hit the cap or malloc failed */
} fz_buf;

void fz_buf_init(fz_buf *b, size_t max_bytes);
void fz_buf_free(fz_buf *b);
static inline void fz_buf_reset(fz_buf *b) {
    b->len = 0;
    b->failed = 0;
}

fz_err fz_buf_reserve(fz_buf *b, size_t extra);
fz_err fz_buf_put(fz_buf *b, const void *p, size_t n);
fz_err fz_buf_putc(fz_buf *b, char c);
fz_err fz_buf_puts(fz_buf *b, const char *s);
fz_err fz_buf_printf(fz_buf *b, const char *fmt, ...) FZ_PRINTF(2, 3);
fz_err fz_buf_put_i64(fz_buf *b, int64_t v);
fz_err fz_buf_put_u64(fz_buf *b, uint64_t v);
/* 16 lower-case hex digits. */
fz_err fz_buf_put_hex64(fz_buf *b, uint64_t v);

/* JSON string with quotes. Input must be valid UTF-8 (callers validate);
 * control characters, '"' and '\\' are escaped. */
fz_err fz_buf_put_json_str(fz_buf *b, const char *s, size_t n);
static inline fz_err fz_buf_put_json_fz(fz_buf *b, fz_str s) {
    return fz_buf_put_json_str(b, s.p, s.n);
}
/* Standard base64 (RFC 4648, padded) of n bytes, no quotes. */
fz_err fz_buf_put_base64(fz_buf *b, const void *data, size_t n);
/* "key": prefix, with a leading comma unless first. */
fz_err fz_buf_put_key(fz_buf *b, const char *key, int first);

/* Reading a binary record (route records, changelog entries): little-endian
 * integers and u32-length-prefixed strings from [p, end). Reading past the
 * end sets bad and returns 0 / an empty string, so a decoder reads on and
 * checks bad once. */
typedef struct fz_rd {
    const unsigned char *p, *end;
    int bad;
} fz_rd;

static inline fz_rd fz_rd_init(const void *p, size_t n) {
    return (fz_rd){p, (const unsigned char *)p + n, 0};
}
static inline uint8_t fz_rd_u8(fz_rd *d) {
    if (d->end - d->p < 1) {
        d->bad = 1;
        return 0;
    }
    return *d->p++;
}
static inline uint64_t fz_rd_u64(fz_rd *d) {
    if (d->end - d->p < 8) {
        d->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)d->p[i] << (8 * i);
    d->p += 8;
    return v;
}
/* A u32 length, then that many bytes (FZ_STR_NULL when empty). */
static inline fz_str fz_rd_str(fz_rd *d) {
    if (d->end - d->p < 4) {
        d->bad = 1;
        return FZ_STR_NULL;
    }
    uint32_t n = (uint32_t)d->p[0] | (uint32_t)d->p[1] << 8 | (uint32_t)d->p[2] << 16 |
                 (uint32_t)d->p[3] << 24;
    d->p += 4;
    if ((uint64_t)(d->end - d->p) < n) {
        d->bad = 1;
        return FZ_STR_NULL;
    }
    fz_str s = {(const char *)d->p, n};
    d->p += n;
    return n ? s : FZ_STR_NULL;
}

#endif
