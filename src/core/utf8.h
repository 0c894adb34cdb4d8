/*
 * utf8.h - strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF) and encoding of code points.
 */
#ifndef FZ_UTF8_H
#define FZ_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid sequence starting at s (1-4), or 0 if invalid or
 * truncated. */
size_t fz_utf8_seq_len(const char *s, size_t n);
/* 1 if all n bytes are valid UTF-8; else 0 and *bad_off gets the offset of
 * the first invalid byte (bad_off may be NULL). */
int fz_utf8_valid(const char *s, size_t n, size_t *bad_off);
/* Encode cp (must be <= 0x10FFFF, not a surrogate) into out; returns bytes. */
size_t fz_utf8_encode(uint32_t cp, char out[4]);
/* Decode one code point; returns its byte length (0 if invalid). */
size_t fz_utf8_decode(const char *s, size_t n, uint32_t *cp);

#endif
