/*
 * url.h - the links of an SMS text, as fields a rule can test.
 *
 * Phishing SMS carry links that look official and are not:
 * paypal-secure-login.com, apple.id-verify.xyz, http://45.12.3.4/login,
 * http://755761924/ (the same address), xn--pypal-4ve.com (pаypal with a
 * Cyrillic а),
 * http://paypal.com@evil.example/, bit.ly/... . This module finds the links
 * of a text and derives, per link, what a browser would connect to and
 * what it looks like:
 *
 *   host    the host, lower-case, without userinfo, port and trailing
 *           dot, percent-decoded, in its ASCII form (IDN labels as
 *           punycode "xn--..."), IPv4 in any form a browser accepts
 *           written as a dotted quad, IPv6 as "[canonical]";
 *   domain  the registered domain of the host (public suffix + one
 *           label, libpsl with the system's public suffix list); the
 *           host itself for an IP or a host that is a public suffix;
 *   flags   what is unusual about the link: the scheme (http, https, or
 *           bare for www.x.com and x.com/...), userinfo, port, ip,
 *           ip_encoded, ipv6, ip_private, punycode, and brand:NAME when a label of
 *           the host looks like a brand of the brands table while the
 *           registered domain is not one of that brand's (url.c says
 *           exactly how).
 *
 * Host and domain come in three forms, the views of the rule language:
 * ASCII (raw), Unicode (normalized: punycode labels decoded) and the
 * skeleton of the Unicode form (skel.h: pаypal and paypa1 read paypal).
 *
 * fz_url_span() is the one link scanner of the project: the campaign key
 * masks (campaign.c) and this module both use it, over the normalised
 * text (norm.h: lower-case ASCII, full-width folded, zero-width dropped).
 *
 * Bounds: at most FZ_URL_MAX links per text are analysed (the rest are
 * counted and ignored), a host is at most FZ_URL_HOST_MAX bytes in its
 * ASCII form (a longer one is not a host: browsers refuse it). After
 * fz_url_init(), nothing here allocates: fz_url_scan_text() writes into
 * the fixed buffers of its fz_url_scan, which belongs to one thread.
 */
#ifndef FZ_URL_H
#define FZ_URL_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define FZ_URL_MAX 32                          /* links analysed per text */
#define FZ_URL_HOST_MAX 253                    /* bytes of a host in ASCII form (RFC 1035) */
#define FZ_URL_UHOST_MAX (4 * FZ_URL_HOST_MAX) /* its Unicode form */
#define FZ_URL_BRAND_MAX 32                    /* bytes of a brand name */
#define FZ_URL_BRAND_HITS 4                    /* brand tokens kept per link */

/* Flag bits of one link (fz_url.flags); fz_url_flag_names() lists their
 * tokens in this order. */
#define FZ_URL_HTTP 0x001u
#define FZ_URL_HTTPS 0x002u
#define FZ_URL_BARE 0x004u       /* no scheme: www.x.com, x.com/path */
#define FZ_URL_USERINFO 0x008u   /* user@ before the host */
#define FZ_URL_PORT 0x010u       /* a port other than the scheme's default */
#define FZ_URL_IP 0x020u         /* the host is an IPv4 or IPv6 address */
#define FZ_URL_IP_ENCODED 0x040u /* an IPv4 not written as a dotted quad of decimals */
#define FZ_URL_IPV6 0x080u
#define FZ_URL_IP_PRIVATE 0x100u /* not reachable from the internet: RFC 1918, loopback, ... */
#define FZ_URL_PUNYCODE 0x200u   /* an IDN label, written as xn-- or in Unicode */
#define FZ_URL_NFLAGS 10

/* Load the public suffix list (psl_latest(): the system's list from the
 * publicsuffix package, or libpsl's built-in one). Idempotent and
 * thread-safe; returns 0, or -1 with errstr filled. */
int fz_url_init(char *errstr, size_t errstr_size);

/* Length of the link that starts at s[0] in normalised text, or 0: an
 * http:// or https:// URL, a www. link, or a bare host name ending in a
 * label of two or more letters, with its port, path, query and fragment.
 * The caller starts it only where a word starts (after a character that
 * is not a host character). */
size_t fz_url_span(const char *s, size_t n);

/* The brands table: brand names and the registered domains that are
 * theirs. Immutable once built; any thread may read it. */
typedef struct fz_url_brands fz_url_brands;

/*
 * Parse a brands file: one brand a line, "name: domain domain ...", blank
 * lines and # comments skipped. name: 3 to FZ_URL_BRAND_MAX of a-z (no
 * digits: the skeleton reads digits as letters); domains: registered
 * domains in ASCII form. Returns NULL on the first problem, with
 * *err_line (1-based) and errstr saying what.
 */
fz_url_brands *fz_url_brands_parse(const char *text, size_t len, unsigned *err_line, char *errstr,
                                   size_t errstr_size);
void fz_url_brands_destroy(fz_url_brands *b);
size_t fz_url_brands_count(const fz_url_brands *b);
const char *fz_url_brand_name(const fz_url_brands *b, size_t i);

/* One link, analysed. */
typedef struct fz_url {
    char host[FZ_URL_HOST_MAX + 1]; /* ASCII form, NUL-terminated */
    size_t host_len;
    size_t domain_off;                /* the registered domain is host + domain_off */
    char uhost[FZ_URL_UHOST_MAX + 1]; /* Unicode form */
    size_t uhost_len;
    size_t udomain_off; /* ... and uhost + udomain_off */
    unsigned flags;     /* FZ_URL_* */
    int nbrands;
    uint16_t brands[FZ_URL_BRAND_HITS]; /* indexes into the brands table */
} fz_url;

/*
 * Analyse the link s[0..n) (a span fz_url_span() found, or any text for
 * tests). brands may be NULL (no brand tokens). Returns 0, or -1 when it
 * is not a link a browser would open (no host, a bad IPv4 or IPv6, a host
 * with characters no host has, longer than FZ_URL_HOST_MAX, a bare form
 * whose last label is not a known public suffix). Needs fz_url_init()
 * and fz_skel_init() (brand tokens); never allocates.
 */
int fz_url_parse(const char *s, size_t n, const fz_url_brands *brands, fz_url *out);

/* The flags of u as the url_flags line writes them ("https ip brand:x"),
 * NUL-terminated, into out[0..cap). Returns the length. */
size_t fz_url_flags_format(const fz_url *u, const fz_url_brands *brands, char *out, size_t cap);

/* Which fields fz_url_scan_text() fills (bits). */
#define FZ_URL_WANT_HOST 0x01u        /* host, ASCII */
#define FZ_URL_WANT_HOST_UNI 0x02u    /* host, Unicode */
#define FZ_URL_WANT_HOST_SKEL 0x04u   /* host, skeleton */
#define FZ_URL_WANT_DOMAIN 0x08u      /* registered domain, ASCII */
#define FZ_URL_WANT_DOMAIN_UNI 0x10u  /* ..., Unicode */
#define FZ_URL_WANT_DOMAIN_SKEL 0x20u /* ..., skeleton */
#define FZ_URL_WANT_FLAGS 0x40u       /* the flag tokens */
#define FZ_URL_WANT_ALL 0x7fu

/* The fields of one text: one line per link (in text order, lines
 * separated by '\n', no trailing newline); .p NULL when not wanted, or
 * when the text holds no link. */
typedef struct fz_url_fields {
    fz_str host, host_uni, host_skel;
    fz_str domain, domain_uni, domain_skel;
    fz_str flags;
    unsigned nurls;    /* links analysed */
    unsigned nskipped; /* links beyond FZ_URL_MAX, not analysed */
} fz_url_fields;

/* Per-thread buffers for fz_url_scan_text(). */
typedef struct fz_url_scan fz_url_scan;
fz_url_scan *fz_url_scan_new(char *errstr, size_t errstr_size);
void fz_url_scan_destroy(fz_url_scan *u);

/*
 * Find and analyse the links of norm[0..n) (the normalised text view,
 * fz_norm_text()) and fill out with the fields in want. Views point into
 * u and stay valid until the next call on u. A link that follows '@'
 * directly is part of an e-mail address and is not counted. Never
 * allocates.
 */
void fz_url_scan_text(fz_url_scan *u, const char *norm, size_t n, const fz_url_brands *brands,
                      unsigned want, fz_url_fields *out);

/* The same, reading every word of the text (fz_url_scan_text() reads only
 * the words around a '.' or before "://"): the reference the tests hold
 * it to. */
void fz_url_scan_text_words(fz_url_scan *u, const char *norm, size_t n, const fz_url_brands *brands,
                            unsigned want, fz_url_fields *out);

/* Punycode (RFC 3492), exposed for tests. decode: ASCII in[0..n) (no
 * "xn--") to code points; encode: code points to ASCII. Return the
 * output length, or -1 when the input is invalid or out does not fit. */
int fz_punycode_decode(const char *in, size_t n, uint32_t *out, size_t cap);
int fz_punycode_encode(const uint32_t *in, size_t n, char *out, size_t cap);

#endif
