/*
 * campaign.c - see campaign.h. One left-to-right pass over the normalised
 * text; at each position the longest of URL, phone or digit run wins.
 */
#include "campaign.h"

#include <string.h>
#include <xxhash.h>

#include "norm.h"

static int lower_alpha(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int host_char(unsigned char c) { return lower_alpha(c) || digit(c) || c == '-' || c == '.'; }
static int path_char(unsigned char c) {
    return host_char(c) || c == '/' || c == '?' || c == '=' || c == '&' || c == '%' || c == '_' ||
           c == '#' || c == ':' || c == '~' || c == '+';
}
static int space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Length of a URL or bare domain starting at s[0], or 0. */
static size_t url_len(const char *s, size_t n) {
    size_t i = 0;
    if (n >= 7 && memcmp(s, "http://", 7) == 0)
        i = 7;
    else if (n >= 8 && memcmp(s, "https://", 8) == 0)
        i = 8;
    else if (n >= 4 && memcmp(s, "www.", 4) == 0)
        i = 4;
    size_t host = i;
    while (i < n && host_char((unsigned char)s[i])) i++;
    /* a host needs a dot followed by a 2+ letter label */
    size_t last_dot = 0;
    for (size_t k = host; k < i; k++)
        if (s[k] == '.') last_dot = k + 1;
    int is_host = 0;
    if (last_dot && last_dot < i && lower_alpha((unsigned char)s[last_dot])) {
        size_t tld = 0;
        while (last_dot + tld < i && lower_alpha((unsigned char)s[last_dot + tld])) tld++;
        is_host = tld >= 2 && last_dot + tld == i;
    }
    if (!is_host && host == 0) return 0;
    if (!is_host && i == host) return 0;
    while (i < n && path_char((unsigned char)s[i])) i++;
    while (i > 0 && (s[i - 1] == '.' || s[i - 1] == ':')) i--; /* sentence punctuation */
    return i;
}

/* Length of a number (digits with + - space separators) at s[0]; *ndigits
 * gets how many digits it holds. */
static size_t number_len(const char *s, size_t n, size_t *ndigits) {
    size_t i = 0, d = 0;
    if (i < n && s[i] == '+') i++;
    size_t last = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (digit(c)) {
            d++;
            i++;
            last = i;
        } else if ((c == '-' || c == ' ') && i + 1 < n && digit((unsigned char)s[i + 1]) && d) {
            i++;
        } else {
            break;
        }
    }
    *ndigits = d;
    return d ? last : 0;
}

size_t fz_campaign_form(const char *text, size_t n, unsigned masks, char *scratch, char *out) {
    size_t m = fz_norm_text(text, n, scratch), o = 0;
    for (size_t i = 0; i < m;) {
        unsigned char c = (unsigned char)scratch[i];
        int at_word_start = i == 0 || !host_char((unsigned char)scratch[i - 1]);
        if ((masks & FZ_MASK_URLS) && at_word_start && (lower_alpha(c) || digit(c))) {
            size_t u = url_len(scratch + i, m - i);
            if (u) {
                out[o++] = FZ_MASK_CHAR_URL;
                i += u;
                continue;
            }
        }
        if ((masks & (FZ_MASK_PHONES | FZ_MASK_DIGITS)) && (digit(c) || c == '+')) {
            size_t nd, len = number_len(scratch + i, m - i, &nd);
            if (len && (masks & FZ_MASK_PHONES) && nd >= 7) {
                out[o++] = FZ_MASK_CHAR_PHONE;
                i += len;
                continue;
            }
            if (len && (masks & FZ_MASK_DIGITS)) {
                /* a short number: only its digit run (separators stay text) */
                size_t k = i + (c == '+');
                if (k < m && digit((unsigned char)scratch[k])) {
                    if (c == '+') out[o++] = '+';
                    while (k < m && digit((unsigned char)scratch[k])) k++;
                    out[o++] = FZ_MASK_CHAR_DIGITS;
                    i = k;
                    continue;
                }
            }
        }
        if (!space(c)) out[o++] = (char)c;
        i++;
    }
    return o;
}

uint64_t fz_campaign_key(const char *text, size_t n, unsigned masks, char *scratch, char *out) {
    size_t k = fz_campaign_form(text, n, masks, scratch, out);
    return XXH3_64bits_withSeed(out, k, 0x63616d70u /* "camp" */);
}

int fz_campaign_mask_parse(const char *w) {
    if (!strcmp(w, "digits")) return (int)FZ_MASK_DIGITS;
    if (!strcmp(w, "urls")) return (int)FZ_MASK_URLS;
    if (!strcmp(w, "phones")) return (int)FZ_MASK_PHONES;
    if (!strcmp(w, "all")) return (int)FZ_MASK_ALL;
    if (!strcmp(w, "none")) return 0;
    return -1;
}
