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

#endif
