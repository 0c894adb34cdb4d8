/*
 * fuzz_url.c - libFuzzer target for the link scanner and parser (url.h).
 *
 * The input is a text: the scanner runs over it as the pipeline runs it
 * (over the normalised text, every field wanted) and over the raw bytes,
 * and every span is parsed. Checked: spans stay inside the input; a parsed
 * host is lower-case ASCII of at most FZ_URL_HOST_MAX bytes whose
 * registered domain is a suffix at a label start; the Unicode form is
 * valid UTF-8; parsing "http://" + the host again gives the same host,
 * Unicode host and domain (the ASCII form is a fixed point); and each
 * field has exactly one line per analysed link, and the same links and
 * fields as the reference scanner that reads every word. The text fields
 * (textfacts.h) of the same text: numbers never longer than the text,
 * digits and single line breaks only, the same at the scalar and the
 * vector level. Any crash, sanitizer report or abort() is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "simd.h"
#include "skel.h"
#include "textfacts.h"
#include "url.h"
#include "utf8.h"

static fz_url_brands *g_brands;
static fz_url_scan *g_scan, *g_ref;
static char *g_norm, *g_nums[2];

#define MAX_INPUT (1u << 16)

static void init(void) {
    char err[256];
    unsigned line;
    static const char brands[] = "paypal: paypal.com\napple: apple.com icloud.com\nups: ups.com\n";
    if (fz_skel_init(err, sizeof(err)) != 0 || fz_url_init(err, sizeof(err)) != 0 ||
        !(g_brands = fz_url_brands_parse(brands, strlen(brands), &line, err, sizeof(err))) ||
        !(g_scan = fz_url_scan_new(err, sizeof(err))) ||
        !(g_ref = fz_url_scan_new(err, sizeof(err))) || !(g_norm = malloc(MAX_INPUT)) ||
        !(g_nums[0] = malloc(MAX_INPUT)) || !(g_nums[1] = malloc(MAX_INPUT))) {
        fprintf(stderr, "fuzz_url: %s\n", err);
        abort();
    }
}

static void check_url(const fz_url *u) {
    if (u->host_len == 0 || u->host_len > FZ_URL_HOST_MAX || strlen(u->host) != u->host_len)
        abort();
    for (size_t i = 0; i < u->host_len; i++) {
        unsigned char c = (unsigned char)u->host[i];
        if (c >= 0x80 || c <= ' ' || (c >= 'A' && c <= 'Z')) abort();
    }
    if (u->domain_off > u->host_len || (u->domain_off && u->host[u->domain_off - 1] != '.'))
        abort();
    if (u->uhost_len > FZ_URL_UHOST_MAX || strlen(u->uhost) != u->uhost_len ||
        !fz_utf8_valid(u->uhost, u->uhost_len, NULL) || u->udomain_off > u->uhost_len)
        abort();
    char flags[256];
    size_t fl = fz_url_flags_format(u, g_brands, flags, sizeof(flags));
    if (fl >= sizeof(flags) || strlen(flags) != fl) abort();
    /* the ASCII form parses to itself */
    char again[FZ_URL_HOST_MAX + 16];
    int k = snprintf(again, sizeof(again), "http://%s/", u->host);
    fz_url v;
    if (fz_url_parse(again, (size_t)k, g_brands, &v) != 0 || strcmp(v.host, u->host) != 0 ||
        strcmp(v.uhost, u->uhost) != 0 || v.domain_off != u->domain_off)
        abort();
}

static void scan_spans(const char *s, size_t n) {
    fz_url u;
    for (size_t i = 0; i < n; i++) {
        size_t k = fz_url_span(s + i, n - i);
        if (k > n - i) abort();
        if (k && fz_url_parse(s + i, k, g_brands, &u) == 0) check_url(&u);
    }
}

static size_t lines(fz_str s) {
    if (!s.p) return 0;
    size_t n = 1;
    for (size_t i = 0; i < s.n; i++) n += s.p[i] == '\n';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_scan) init();
    if (size > MAX_INPUT) size = MAX_INPUT;
    const char *text = (const char *)data;
    scan_spans(text, size < 4096 ? size : 4096);
    size_t n = fz_norm_text(text, size, g_norm);
    fz_url_fields f;
    fz_url_scan_text(g_scan, g_norm, n, g_brands, FZ_URL_WANT_ALL, &f);
    if (f.nurls > FZ_URL_MAX) abort();
    fz_str all[] = {f.host,       f.host_uni,    f.host_skel, f.domain,
                    f.domain_uni, f.domain_skel, f.flags};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (lines(all[i]) != f.nurls) abort();
    /* the same as the reference that reads every word */
    fz_url_fields g;
    fz_url_scan_text_words(g_ref, g_norm, n, g_brands, FZ_URL_WANT_ALL, &g);
    fz_str ref[] = {g.host,       g.host_uni,    g.host_skel, g.domain,
                    g.domain_uni, g.domain_skel, g.flags};
    if (g.nurls != f.nurls || g.nskipped != f.nskipped) abort();
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i].n != ref[i].n || (all[i].n && memcmp(all[i].p, ref[i].p, all[i].n) != 0))
            abort();
    /* the text fields, at both levels */
    fz_simd_level was = fz_simd_level_get();
    unsigned fl[2];
    size_t nn[2];
    for (int v = 0; v < 2; v++) {
        fz_simd_set_level(v ? was : FZ_SIMD_SCALAR);
        fl[v] = fz_text_scan(g_norm, n, g_nums[v], &nn[v]);
        if (nn[v] > n || (nn[v] && (g_nums[v][0] == '\n' || g_nums[v][nn[v] - 1] == '\n'))) abort();
        for (size_t i = 0; i < nn[v]; i++)
            if (!(g_nums[v][i] >= '0' && g_nums[v][i] <= '9') &&
                !(g_nums[v][i] == '\n' && g_nums[v][i + 1] != '\n'))
                abort();
    }
    fz_simd_set_level(was);
    if (fl[0] != fl[1] || nn[0] != nn[1] || memcmp(g_nums[0], g_nums[1], nn[0]) != 0) abort();
    return 0;
}
