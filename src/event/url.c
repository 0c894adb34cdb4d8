/*
 * url.c - see url.h.
 *
 * DESIGN. Two passes over one link. fz_url_span() finds where a link
 * starts and ends in the normalised text; it is the scanner the campaign
 * masks have always used (campaign.c), widened to what phishing links
 * need: '@' (userinfo), a bracketed IPv6 host after a scheme, and host
 * and path letters outside ASCII (Latin, Greek, Cyrillic and the other
 * alphabets up to U+1FFF, where homograph labels come from; a CJK
 * character or punctuation ends a link, because Chinese text is usually
 * written right after it). fz_url_parse() then reads the link the way a
 * browser does (the WHATWG URL standard's host parser, for the parts that
 * matter here):
 *
 *   - the authority ends at the first / ? # or \; the userinfo is what
 *     comes before its last '@' (only after a scheme: without one,
 *     "john.doe@bank.com" is an e-mail address, not a link);
 *   - a port is digits after the last ':' (at most 65535); it is a flag
 *     when it is not the scheme's default (80, 443);
 *   - the host is percent-decoded, lower-cased, stripped of trailing
 *     dots;
 *   - a host whose last label is a number (decimal, 0x-hex, or octal
 *     with a leading 0) is an IPv4 address of one to four parts, the
 *     last filling the remaining bytes (3232235777 and 0xc0.0250.1.1 are
 *     192.168.1.1): a browser connects there, so the host becomes the
 *     dotted quad and the link gets ip (and ip_encoded when it was not
 *     written that way, ip_private for an address of a private network);
 *     an invalid number is not a host;
 *   - [IPv6] is checked and written canonically (inet_pton/inet_ntop);
 *   - any other host is a domain name: labels of a-z 0-9 - _, or IDN
 *     labels - written in Unicode (encoded to punycode here) or as xn--
 *     (decoded here; an undecodable one is not a host) - at most 63 bytes
 *     each and FZ_URL_HOST_MAX in all in ASCII form.
 *
 * The registered domain is libpsl's psl_registrable_domain() on the ASCII
 * host (the public suffix list of the publicsuffix package: it is not part
 * of the ruleset version, it changes with the system). A link without
 * scheme counts only when its last label is a suffix of the list (without
 * the list's "*" default rule), so "mr.smith" or "file.txt" are not links,
 * while "x.com/a" and "www.x.top" are.
 *
 * Brands. A link gets brand:NAME when the skeleton (skel.h) of its
 * Unicode host, cut into tokens at '.' and '-', has a token that starts
 * with NAME - or, for a NAME of 3 letters, is NAME - and its
 * registered domain is none of NAME's domains in the brands table.
 * paypal-secure-login.com, apple.id-verify.xyz, pаypal.com (Cyrillic а),
 * paypa1.com, paypal.com.cn, paypal.github.io get it; www.paypal.com
 * does not, nor do pineapple.com and mypaypal.com (the brand is not at
 * the start of a token), nor upstream.com for a brand "ups" (three
 * letters: only the whole token ups counts, as in ups-tracking.top).
 *
 * Workload: a few links per SMS, most texts none. Everything is bounded
 * (FZ_URL_MAX links, FZ_URL_HOST_MAX bytes a host) and written into the
 * fz_url_scan's fixed buffers; libpsl's lookups on an ASCII name do not
 * allocate (tests/alloc checks the whole scan).
 */
#include "url.h"

#include <arpa/inet.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skel.h"
#include "utf8.h"

/* ---- the public suffix list ---- */

static psl_ctx_t *g_psl; /* read-only once loaded: any thread */
static pthread_once_t g_psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void) {
    /* the newer of the system's list and the one built into libpsl */
    g_psl = psl_latest(NULL);
    if (!g_psl) g_psl = (psl_ctx_t *)psl_builtin();
}

int fz_url_init(char *errstr, size_t errstr_size) {
    pthread_once(&g_psl_once, psl_load);
    if (!g_psl) {
        snprintf(errstr, errstr_size,
                 "url: cannot load the public suffix list (install the publicsuffix package)");
        return -1;
    }
    return 0;
}

/* ---- the scanner ---- */

static int lower_alpha(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int host_char(unsigned char c) { return lower_alpha(c) || digit(c) || c == '-' || c == '.'; }
static int path_char(unsigned char c) {
    return host_char(c) || c == '/' || c == '?' || c == '=' || c == '&' || c == '%' || c == '_' ||
           c == '#' || c == ':' || c == '~' || c == '+' || c == '@';
}
static int cont(unsigned char c) { return (c & 0xc0) == 0x80; }

/* Bytes of the letter of an alphabetic script at s (U+00C0..U+1FFF), or 0. */
static size_t uni_letter_len(const unsigned char *s, size_t n) {
    if (s[0] >= 0xc3 && s[0] <= 0xdf) return n >= 2 && cont(s[1]) ? 2 : 0;
    if (s[0] == 0xe0 || s[0] == 0xe1) return n >= 3 && cont(s[1]) && cont(s[2]) ? 3 : 0;
    return 0;
}

/* Bytes of a host character at s (ASCII host character or letter), or 0. */
static size_t host_len_at(const unsigned char *s, size_t n) {
    if (host_char(s[0])) return 1;
    return uni_letter_len(s, n);
}

size_t fz_url_span(const char *cs, size_t n) {
    const unsigned char *s = (const unsigned char *)cs;
    size_t i = 0, k;
    if (n >= 7 && memcmp(s, "http://", 7) == 0)
        i = 7;
    else if (n >= 8 && memcmp(s, "https://", 8) == 0)
        i = 8;
    else if (n >= 4 && memcmp(s, "www.", 4) == 0)
        i = 4;
    size_t host = i;
    int scheme = i >= 7;
    if (scheme && i < n && s[i] == '[') { /* [IPv6] */
        size_t j = i + 1;
        while (j < n && (digit(s[j]) || (s[j] >= 'a' && s[j] <= 'f') || s[j] == ':' || s[j] == '.'))
            j++;
        if (j < n && s[j] == ']') i = j + 1;
    }
    if (i == host)
        while (i < n && (k = host_len_at(s + i, n - i))) i += k;
    /* a host needs a dot followed by a 2+ letter label that ends it */
    size_t last_dot = 0;
    for (size_t j = host; j < i; j++)
        if (s[j] == '.') last_dot = j + 1;
    int is_host = 0;
    if (last_dot && last_dot < i) {
        size_t j = last_dot, letters = 0;
        while (j < i) {
            if (lower_alpha(s[j]))
                k = 1;
            else if (!(k = uni_letter_len(s + j, i - j)))
                break;
            j += k;
            letters++;
        }
        is_host = letters >= 2 && j == i;
    }
    if (!is_host && !scheme && host == 0) return 0;
    if (!is_host && i == host) return 0;
    while (i < n && (path_char(s[i]) || (k = uni_letter_len(s + i, n - i)) > 0))
        i += path_char(s[i]) ? 1 : k;
    while (i > 0 && (s[i - 1] == '.' || s[i - 1] == ':')) i--; /* sentence punctuation */
    return i;
}

/* ---- punycode (RFC 3492) ---- */

enum { PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700, PC_BIAS = 72 };

static uint32_t pc_adapt(uint32_t delta, uint32_t npoints, int first) {
    delta = first ? delta / PC_DAMP : delta / 2;
    delta += delta / npoints;
    uint32_t k = 0;
    while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
        delta /= PC_BASE - PC_TMIN;
        k += PC_BASE;
    }
    return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static int pc_digit(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0' + 26;
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return c - 'A';
    return -1;
}

static char pc_char(uint32_t d) { return (char)(d < 26 ? 'a' + d : '0' + d - 26); }

static uint32_t pc_t(uint32_t k, uint32_t bias) {
    return k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
}

int fz_punycode_decode(const char *in, size_t n, uint32_t *out, size_t cap) {
    size_t b = 0;
    for (size_t j = 0; j < n; j++)
        if (in[j] == '-') b = j;
    size_t nout = 0, pos = 0;
    if (b > 0) {
        if (b > cap) return -1;
        for (size_t j = 0; j < b; j++) {
            if ((unsigned char)in[j] >= 0x80) return -1;
            out[nout++] = (unsigned char)in[j];
        }
        pos = b + 1;
    }
    uint32_t cp = 128, i = 0, bias = PC_BIAS;
    while (pos < n) {
        uint32_t oldi = i, w = 1;
        for (uint32_t k = PC_BASE;; k += PC_BASE) {
            if (pos >= n) return -1;
            int d = pc_digit((unsigned char)in[pos++]);
            if (d < 0 || (uint32_t)d > (UINT32_MAX - i) / w) return -1;
            i += (uint32_t)d * w;
            uint32_t t = pc_t(k, bias);
            if ((uint32_t)d < t) break;
            if (w > UINT32_MAX / (PC_BASE - t)) return -1;
            w *= PC_BASE - t;
        }
        bias = pc_adapt(i - oldi, (uint32_t)nout + 1, oldi == 0);
        if (i / (nout + 1) > UINT32_MAX - cp) return -1;
        cp += i / (uint32_t)(nout + 1);
        i %= (uint32_t)(nout + 1);
        if (nout >= cap || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x80) return -1;
        memmove(out + i + 1, out + i, (nout - i) * sizeof(uint32_t));
        out[i++] = cp;
        nout++;
    }
    return (int)nout;
}

int fz_punycode_encode(const uint32_t *in, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t j = 0; j < n; j++)
        if (in[j] < 0x80) {
            if (o >= cap) return -1;
            out[o++] = (char)in[j];
        }
    uint32_t h = (uint32_t)o, b = (uint32_t)o;
    if (b > 0) {
        if (o >= cap) return -1;
        out[o++] = '-';
    }
    uint32_t cp = 128, delta = 0, bias = PC_BIAS;
    while (h < n) {
        uint32_t m = UINT32_MAX;
        for (size_t j = 0; j < n; j++)
            if (in[j] >= cp && in[j] < m) m = in[j];
        if ((m - cp) > (UINT32_MAX - delta) / (h + 1)) return -1;
        delta += (m - cp) * (h + 1);
        cp = m;
        for (size_t j = 0; j < n; j++) {
            if (in[j] < cp && ++delta == 0) return -1;
            if (in[j] != cp) continue;
            uint32_t q = delta;
            for (uint32_t k = PC_BASE;; k += PC_BASE) {
                uint32_t t = pc_t(k, bias);
                if (q < t) break;
                if (o >= cap) return -1;
                out[o++] = pc_char(t + (q - t) % (PC_BASE - t));
                q = (q - t) / (PC_BASE - t);
            }
            if (o >= cap) return -1;
            out[o++] = pc_char(q);
            bias = pc_adapt(delta, h + 1, h == b);
            delta = 0;
            h++;
        }
        delta++;
        cp++;
    }
    return (int)o;
}

/* ---- brands ---- */

typedef struct brand {
    char name[FZ_URL_BRAND_MAX + 1];
    size_t len;
    size_t first, ndomains; /* into domains[] */
} brand;

struct fz_url_brands {
    brand *v;
    size_t n;
    char **domains;
    size_t ndomains;
};

void fz_url_brands_destroy(fz_url_brands *b) {
    if (!b) return;
    for (size_t i = 0; i < b->ndomains; i++) free(b->domains[i]);
    free(b->domains);
    free(b->v);
    free(b);
}

size_t fz_url_brands_count(const fz_url_brands *b) { return b ? b->n : 0; }
const char *fz_url_brand_name(const fz_url_brands *b, size_t i) { return b->v[i].name; }

static int domain_char(unsigned char c) {
    return lower_alpha(c) || digit(c) || c == '-' || c == '.' || c == '_';
}

fz_url_brands *fz_url_brands_parse(const char *text, size_t len, unsigned *err_line, char *errstr,
                                   size_t errstr_size) {
    fz_url_brands *b = calloc(1, sizeof(*b));
    size_t cap = 0, dcap = 0;
    unsigned line = 0;
    *err_line = 0;
    if (!b) goto nomem;
    for (const char *p = text, *end = text + len; p < end;) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end, *s = p;
        p = nl ? nl + 1 : end;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        if (s == e || *s == '#') continue;
        const char *colon = memchr(s, ':', (size_t)(e - s));
        if (!colon) {
            snprintf(errstr, errstr_size, "expected 'brand: domain ...', found no ':'");
            goto bad;
        }
        size_t nl_len = (size_t)(colon - s);
        if (nl_len < 3 || nl_len > FZ_URL_BRAND_MAX) {
            snprintf(errstr, errstr_size, "brand name '%.*s': 3 to %d letters a-z", (int)nl_len, s,
                     FZ_URL_BRAND_MAX);
            goto bad;
        }
        for (size_t j = 0; j < nl_len; j++)
            if (!lower_alpha((unsigned char)s[j])) {
                snprintf(errstr, errstr_size,
                         "brand name '%.*s': letters a-z only (the skeleton reads digits as "
                         "letters: write paypal, not paypa1)",
                         (int)nl_len, s);
                goto bad;
            }
        for (size_t j = 0; j < b->n; j++)
            if (b->v[j].len == nl_len && !memcmp(b->v[j].name, s, nl_len)) {
                snprintf(errstr, errstr_size, "brand '%.*s' listed twice", (int)nl_len, s);
                goto bad;
            }
        if (b->n == cap) {
            cap = cap ? 2 * cap : 64;
            brand *nv = realloc(b->v, cap * sizeof(brand));
            if (!nv) goto nomem;
            b->v = nv;
        }
        brand *br = &b->v[b->n];
        memcpy(br->name, s, nl_len);
        br->name[nl_len] = '\0';
        br->len = nl_len;
        br->first = b->ndomains;
        br->ndomains = 0;
        for (const char *q = colon + 1; q < e;) {
            while (q < e && (*q == ' ' || *q == '\t')) q++;
            const char *w = q;
            while (q < e && *q != ' ' && *q != '\t') q++;
            if (w == q) break;
            size_t wl = (size_t)(q - w);
            int ok = wl <= FZ_URL_HOST_MAX && memchr(w, '.', wl) && w[0] != '.' && w[wl - 1] != '.';
            for (size_t j = 0; ok && j < wl; j++) ok = domain_char((unsigned char)w[j]);
            if (!ok) {
                snprintf(errstr, errstr_size,
                         "brand '%s': '%.*s' is not a registered domain in lower-case ASCII "
                         "(write IDN domains as xn--)",
                         br->name, (int)wl, w);
                goto bad;
            }
            if (b->ndomains == dcap) {
                dcap = dcap ? 2 * dcap : 128;
                char **nd = realloc(b->domains, dcap * sizeof(char *));
                if (!nd) goto nomem;
                b->domains = nd;
            }
            if (!(b->domains[b->ndomains] = strndup(w, wl))) goto nomem;
            b->ndomains++;
            br->ndomains++;
        }
        if (br->ndomains == 0) {
            snprintf(errstr, errstr_size, "brand '%s' has no domains", br->name);
            goto bad;
        }
        if (b->n == UINT16_MAX) {
            snprintf(errstr, errstr_size, "more than %u brands", UINT16_MAX);
            goto bad;
        }
        b->n++;
    }
    if (b->n == 0) {
        snprintf(errstr, errstr_size, "no brands listed");
        goto bad;
    }
    return b;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
bad:
    *err_line = line;
    fz_url_brands_destroy(b);
    return NULL;
}

static int brand_owns(const fz_url_brands *b, const brand *br, const char *dom, size_t n) {
    for (size_t i = 0; i < br->ndomains; i++) {
        const char *d = b->domains[br->first + i];
        if (strlen(d) == n && !memcmp(d, dom, n)) return 1;
    }
    return 0;
}

/* ---- one link ---- */

static const char *const flag_names[FZ_URL_NFLAGS] = {
    "http", "https",      "bare", "userinfo",   "port",
    "ip",   "ip_encoded", "ipv6", "ip_private", "punycode"};

/* Addresses no one outside the recipient's own network can serve a page
 * from: this network, private (RFC 1918), shared (RFC 6598), loopback,
 * link-local, broadcast; for IPv6 also unique-local, and IPv4-mapped
 * forms of the above. A router's set-up page, not a phishing site. */
static int ipv4_private(uint32_t a) {
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 22) == ((100u << 2) | 1) ||
           (a >> 24) == 127 || (a >> 16) == ((169u << 8) | 254) || (a >> 20) == ((172u << 4) | 1) ||
           (a >> 16) == ((192u << 8) | 168) || a == 0xffffffffu;
}

static int ipv6_private(const unsigned char b[16]) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int zero = 1;
    for (int i = 0; i < 15; i++) zero &= b[i] == 0;
    if (zero && b[15] <= 1) return 1;                    /* :: and ::1 */
    if ((b[0] & 0xfe) == 0xfc) return 1;                 /* fc00::/7 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return 1; /* fe80::/10 */
    if (!memcmp(b, mapped, 12))
        return ipv4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                            b[15]);
    return 0;
}

static int hexval(unsigned char c) {
    if (digit(c)) return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One IPv4 part: 0x.. hex, 0.. octal, else decimal. -1 when invalid. */
static int ipv4_part(const char *s, size_t n, uint64_t *v) {
    int base = 10;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        s++;
        n--;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        int d = base == 16                   ? hexval((unsigned char)s[i])
                : digit((unsigned char)s[i]) ? s[i] - '0'
                                             : -1;
        if (d < 0 || d >= base) return -1;
        x = x * (uint64_t)base + (uint64_t)d;
        if (x > 0xffffffffull) return -1;
    }
    if (n == 0 && base != 16) return -1;
    *v = x;
    return 0;
}

/* Does the last label of h look like a number (the WHATWG "ends in a
 * number" check)? */
static int ends_in_number(const char *h, size_t n) {
    size_t s = n;
    while (s > 0 && h[s - 1] != '.') s--;
    if (s == n) return 0;
    int all_digits = 1;
    for (size_t i = s; i < n; i++) all_digits &= digit((unsigned char)h[i]);
    if (all_digits) return 1;
    if (n - s >= 2 && h[s] == '0' && h[s + 1] == 'x') {
        for (size_t i = s + 2; i < n; i++)
            if (hexval((unsigned char)h[i]) < 0) return 0;
        return 1;
    }
    return 0;
}

/* Parse an IPv4 host into out as a dotted quad and *addr. -1 when
 * invalid. */
static int ipv4_parse(const char *h, size_t n, char *out, size_t *out_len, uint32_t *addr_out) {
    uint64_t parts[4];
    size_t np = 0;
    for (size_t s = 0; s <= n;) {
        size_t e = s;
        while (e < n && h[e] != '.') e++;
        if (np == 4 || ipv4_part(h + s, e - s, &parts[np]) != 0) return -1;
        np++;
        s = e + 1;
        if (e == n) break;
    }
    uint64_t addr = 0;
    for (size_t i = 0; i + 1 < np; i++) {
        if (parts[i] > 255) return -1;
        addr |= parts[i] << (8 * (3 - i));
    }
    uint64_t last = parts[np - 1];
    if (last >= (1ull << (8 * (5 - np)))) return -1;
    addr |= last;
    *addr_out = (uint32_t)addr;
    *out_len = (size_t)snprintf(out, 16, "%u.%u.%u.%u", (unsigned)(addr >> 24) & 255,
                                (unsigned)(addr >> 16) & 255, (unsigned)(addr >> 8) & 255,
                                (unsigned)addr & 255);
    return 0;
}

/* Letters of the alphabets a host may hold in Unicode (what
 * fz_url_span() takes), and not the ASCII ones. U+017F LONG S is not one
 * (IDNA2008 disallows it; the normalised text maps it to s): the views
 * keep the promise of the normalised view that it never appears, which
 * the prefilter's caseless factors rely on (norm.h). */
static int uni_host_cp(uint32_t cp) { return cp >= 0xc0 && cp <= 0x1fff && cp != 0x17f; }

static int label_char(unsigned char c) {
    return lower_alpha(c) || digit(c) || c == '-' || c == '_';
}

/* Convert the host h[0..n) (lower-case, percent-decoded, UTF-8) label by
 * label into its ASCII and Unicode forms. -1 when it is not a host. */
static int domain_forms(const char *h, size_t n, fz_url *u) {
    uint32_t cps[64];
    size_t a = 0, w = 0;
    for (size_t s = 0; s < n;) {
        size_t e = s;
        while (e < n && h[e] != '.') e++;
        if (e == s) return -1; /* empty label */
        if (s > 0) {
            if (a >= FZ_URL_HOST_MAX || w >= FZ_URL_UHOST_MAX) return -1;
            u->host[a++] = '.';
            u->uhost[w++] = '.';
        }
        int ascii = 1;
        for (size_t i = s; i < e; i++) ascii &= (unsigned char)h[i] < 0x80;
        if (ascii) {
            int alnum = 0; /* "-" or "_" alone is no label */
            for (size_t i = s; i < e; i++) {
                if (!label_char((unsigned char)h[i])) return -1;
                alnum |= h[i] != '-' && h[i] != '_';
            }
            if (!alnum) return -1;
            if (e - s > 63 || a + (e - s) > FZ_URL_HOST_MAX) return -1;
            memcpy(u->host + a, h + s, e - s);
            a += e - s;
            if (e - s > 4 && !memcmp(h + s, "xn--", 4)) {
                /* IDNA: an A-label decodes to something outside ASCII and
                 * is the encoding of what it decodes to */
                int k = fz_punycode_decode(h + s + 4, e - s - 4, cps, 64), non_ascii = 0;
                char re[64];
                for (int i = 0; i < k; i++) non_ascii |= cps[i] >= 0x80;
                if (k <= 0 || !non_ascii ||
                    fz_punycode_encode(cps, (size_t)k, re, sizeof(re)) != (int)(e - s - 4) ||
                    memcmp(re, h + s + 4, e - s - 4) != 0)
                    return -1;
                for (int i = 0; i < k; i++) {
                    char buf[4];
                    if (cps[i] < 0x80 ? !label_char((unsigned char)cps[i]) : !uni_host_cp(cps[i]))
                        return -1;
                    size_t bl = fz_utf8_encode(cps[i], buf);
                    if (w + bl > FZ_URL_UHOST_MAX) return -1;
                    memcpy(u->uhost + w, buf, bl);
                    w += bl;
                }
                u->flags |= FZ_URL_PUNYCODE;
            } else {
                if (w + (e - s) > FZ_URL_UHOST_MAX) return -1;
                memcpy(u->uhost + w, h + s, e - s);
                w += e - s;
            }
        } else {
            size_t k = 0;
            for (size_t i = s; i < e;) {
                uint32_t cp;
                size_t l = fz_utf8_decode(h + i, e - i, &cp);
                if (l == 0 || k == 64) return -1;
                if (cp < 0x80 ? !label_char((unsigned char)cp) : !uni_host_cp(cp)) return -1;
                cps[k++] = cp;
                i += l;
            }
            if (a + 4 > FZ_URL_HOST_MAX) return -1;
            memcpy(u->host + a, "xn--", 4);
            int el = fz_punycode_encode(cps, k, u->host + a + 4, FZ_URL_HOST_MAX - a - 4);
            if (el <= 0 || el + 4 > 63) return -1;
            a += 4 + (size_t)el;
            if (w + (e - s) > FZ_URL_UHOST_MAX) return -1;
            memcpy(u->uhost + w, h + s, e - s);
            w += e - s;
            u->flags |= FZ_URL_PUNYCODE;
        }
        s = e + 1;
    }
    u->host[a] = '\0';
    u->host_len = a;
    u->uhost[w] = '\0';
    u->uhost_len = w;
    return 0;
}

/* The offset in s[0..n) where its last `labels` labels start. */
static size_t last_labels(const char *s, size_t n, size_t labels) {
    size_t i = n;
    while (i > 0) {
        if (s[i - 1] == '.' && --labels == 0) return i;
        i--;
    }
    return 0;
}

static void find_brands(const fz_url_brands *b, fz_url *u) {
    char tmp[FZ_URL_UHOST_MAX + 1], sk[2 * FZ_URL_UHOST_MAX];
    size_t n = fz_skel_text(u->uhost, u->uhost_len, tmp, sk, sizeof(sk));
    const char *dom = u->host + u->domain_off;
    size_t dn = u->host_len - u->domain_off;
    for (size_t s = 0; s < n;) {
        size_t e = s;
        while (e < n && sk[e] != '.' && sk[e] != '-') e++;
        for (size_t i = 0; i < b->n && u->nbrands < FZ_URL_BRAND_HITS; i++) {
            const brand *br = &b->v[i];
            if (e - s < br->len || memcmp(sk + s, br->name, br->len) != 0) continue;
            if (br->len < 4 && e - s != br->len) continue; /* ups: not upstream */
            if (brand_owns(b, br, dom, dn)) continue;
            int seen = 0;
            for (int j = 0; j < u->nbrands; j++) seen |= u->brands[j] == i;
            if (!seen) u->brands[u->nbrands++] = (uint16_t)i;
        }
        s = e + 1;
    }
}

int fz_url_parse(const char *s, size_t n, const fz_url_brands *brands, fz_url *u) {
    u->host[0] = u->uhost[0] = '\0';
    u->host_len = u->uhost_len = u->domain_off = u->udomain_off = 0;
    u->flags = 0;
    u->nbrands = 0;
    size_t i = 0;
    if (n >= 7 && !strncasecmp(s, "http://", 7)) {
        u->flags = FZ_URL_HTTP;
        i = 7;
    } else if (n >= 8 && !strncasecmp(s, "https://", 8)) {
        u->flags = FZ_URL_HTTPS;
        i = 8;
    } else {
        u->flags = FZ_URL_BARE;
    }
    size_t ae = i;
    while (ae < n && s[ae] != '/' && s[ae] != '?' && s[ae] != '#' && s[ae] != '\\') ae++;
    size_t hs = i;
    for (size_t j = i; j < ae; j++)
        if (s[j] == '@') hs = j + 1;
    if (hs != i) {
        if (u->flags & FZ_URL_BARE) return -1; /* an e-mail address */
        u->flags |= FZ_URL_USERINFO;
    }
    size_t he = ae; /* host end: before the port */
    if (hs < ae && s[hs] == '[') {
        const char *rb = memchr(s + hs, ']', ae - hs);
        if (!rb) return -1;
        he = (size_t)(rb - s) + 1;
        if (he < ae && s[he] != ':') return -1;
    } else {
        for (size_t j = hs; j < ae; j++)
            if (s[j] == ':') {
                he = j;
                break;
            }
    }
    if (he < ae) { /* :port */
        uint32_t port = 0;
        size_t j = he + 1;
        if (j == ae) goto port_done; /* "host:" is the default port */
        for (; j < ae; j++) {
            if (!digit((unsigned char)s[j])) return -1;
            port = port * 10 + (uint32_t)(s[j] - '0');
            if (port > 65535) return -1;
        }
        if (!((port == 80 && !(u->flags & FZ_URL_HTTPS)) ||
              (port == 443 && !(u->flags & FZ_URL_HTTP))))
            u->flags |= FZ_URL_PORT;
    }
port_done:;
    /* percent-decode and lower-case the host */
    char h[4 * FZ_URL_HOST_MAX];
    size_t hn = 0;
    for (size_t j = hs; j < he; j++) {
        unsigned char c = (unsigned char)s[j];
        if (c == '%' && j + 2 < he && hexval((unsigned char)s[j + 1]) >= 0 &&
            hexval((unsigned char)s[j + 2]) >= 0) {
            c = (unsigned char)(hexval((unsigned char)s[j + 1]) * 16 +
                                hexval((unsigned char)s[j + 2]));
            j += 2;
        }
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (hn == sizeof(h)) return -1;
        h[hn++] = (char)c;
    }
    while (hn > 0 && h[hn - 1] == '.') hn--;
    if (hn == 0) return -1;
    if (h[0] == '[') { /* IPv6 */
        char a[64];
        unsigned char bin[16];
        if (hn < 3 || h[hn - 1] != ']' || hn - 2 >= sizeof(a)) return -1;
        memcpy(a, h + 1, hn - 2);
        a[hn - 2] = '\0';
        if (inet_pton(AF_INET6, a, bin) != 1) return -1;
        u->host[0] = '[';
        if (!inet_ntop(AF_INET6, bin, u->host + 1, sizeof(u->host) - 2)) return -1;
        u->host_len = strlen(u->host);
        u->host[u->host_len++] = ']';
        u->host[u->host_len] = '\0';
        u->flags |= FZ_URL_IP | FZ_URL_IPV6 | (ipv6_private(bin) ? FZ_URL_IP_PRIVATE : 0);
        goto ip_done;
    }
    if (!fz_utf8_valid(h, hn, NULL)) return -1;
    if (ends_in_number(h, hn)) {
        if (u->flags & FZ_URL_BARE) return -1; /* "1.5" or "3.14" is no link */
        uint32_t addr;
        if (ipv4_parse(h, hn, u->host, &u->host_len, &addr) != 0) return -1;
        if (u->host_len != hn || memcmp(u->host, h, hn) != 0) u->flags |= FZ_URL_IP_ENCODED;
        u->flags |= FZ_URL_IP | (ipv4_private(addr) ? FZ_URL_IP_PRIVATE : 0);
        goto ip_done;
    }
    if (domain_forms(h, hn, u) != 0) return -1;
    {
        const char *last = u->host + last_labels(u->host, u->host_len, 1);
        if (!g_psl) return -1; /* fz_url_init() was not called */
        if ((u->flags & FZ_URL_BARE) &&
            !psl_is_public_suffix2(g_psl, last, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
            return -1;
        const char *rd = psl_registrable_domain(g_psl, u->host);
        u->domain_off = rd ? (size_t)(rd - u->host) : 0;
        size_t labels = 1;
        for (size_t j = u->domain_off; j < u->host_len; j++) labels += u->host[j] == '.';
        u->udomain_off = u->domain_off ? last_labels(u->uhost, u->uhost_len, labels) : 0;
        if (brands) find_brands(brands, u);
    }
    return 0;
ip_done:
    memcpy(u->uhost, u->host, u->host_len + 1);
    u->uhost_len = u->host_len;
    u->domain_off = u->udomain_off = 0;
    return 0;
}

size_t fz_url_flags_format(const fz_url *u, const fz_url_brands *brands, char *out, size_t cap) {
    size_t o = 0;
    if (cap == 0) return 0;
    out[0] = '\0';
    for (int i = 0; i < FZ_URL_NFLAGS; i++) {
        if (!(u->flags & (1u << i))) continue;
        int k = snprintf(out + o, cap - o, "%s%s", o ? " " : "", flag_names[i]);
        if (k < 0 || (size_t)k >= cap - o) goto full;
        o += (size_t)k;
    }
    for (int i = 0; brands && i < u->nbrands; i++) {
        int k =
            snprintf(out + o, cap - o, "%sbrand:%s", o ? " " : "", brands->v[u->brands[i]].name);
        if (k < 0 || (size_t)k >= cap - o) goto full;
        o += (size_t)k;
    }
    return o;
full:
    out[o] = '\0';
    return o;
}

/* ---- a text ---- */

#define SKEL_LINE (2 * FZ_URL_UHOST_MAX) /* a skeleton line, at most */
#define FLAGS_LINE 256

typedef struct line_buf {
    char *p;
    size_t n, cap;
    unsigned lines; /* an empty line still counts: one line per link */
} line_buf;

struct fz_url_scan {
    fz_url url;
    line_buf out[7]; /* in the order of the FZ_URL_WANT_* bits */
    char tmp[FZ_URL_UHOST_MAX + 1];
    char line[SKEL_LINE];
};

/* each line's room, its separator included */
static const size_t line_caps[7] = {FZ_URL_HOST_MAX + 1, FZ_URL_UHOST_MAX + 1, SKEL_LINE + 1,
                                    FZ_URL_HOST_MAX + 1, FZ_URL_UHOST_MAX + 1, SKEL_LINE + 1,
                                    FLAGS_LINE};

fz_url_scan *fz_url_scan_new(char *errstr, size_t errstr_size) {
    fz_url_scan *u = calloc(1, sizeof(*u));
    if (!u) goto nomem;
    for (int i = 0; i < 7; i++) {
        u->out[i].cap = FZ_URL_MAX * line_caps[i];
        if (!(u->out[i].p = malloc(u->out[i].cap))) goto nomem;
    }
    return u;
nomem:
    snprintf(errstr, errstr_size, "url: out of memory");
    fz_url_scan_destroy(u);
    return NULL;
}

void fz_url_scan_destroy(fz_url_scan *u) {
    if (!u) return;
    for (int i = 0; i < 7; i++) free(u->out[i].p);
    free(u);
}

static void put_line(line_buf *b, const char *s, size_t n) {
    if (b->lines++) b->p[b->n++] = '\n'; /* room: each line has its cap + 1 */
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* The offset of the first c in s[from..n), or n. */
static size_t next_of(const char *s, size_t n, size_t from, char c) {
    const char *p = from < n ? memchr(s + from, c, n - from) : NULL;
    return p ? (size_t)(p - s) : n;
}

/* The offset of the ':' of the first "://" in s[from..n), or n. */
static size_t next_scheme(const char *s, size_t n, size_t from) {
    for (size_t p = from; (p = next_of(s, n, p, ':')) < n; p++)
        if (n - p >= 3 && s[p + 1] == '/' && s[p + 2] == '/') return p;
    return n;
}

static int maybe_link(const char *s, size_t n) {
    for (size_t p = 0; (p = next_of(s, n, p, '.')) < n; p++)
        if (p + 1 < n && host_len_at((const unsigned char *)s + p + 1, n - p - 1)) return 1;
    return next_scheme(s, n, 0) < n;
}

/* The link at norm[i..i+span): parsed, and its fields appended. */
static void add_link(fz_url_scan *u, const char *link, size_t span, const fz_url_brands *brands,
                     unsigned want, fz_url_fields *out) {
    if (out->nurls == FZ_URL_MAX) { /* full: count the rest, read none */
        out->nskipped++;
        return;
    }
    if (fz_url_parse(link, span, brands, &u->url) != 0) return;
    out->nurls++;
    fz_url *url = &u->url;
    if (want & FZ_URL_WANT_HOST) put_line(&u->out[0], url->host, url->host_len);
    if (want & FZ_URL_WANT_HOST_UNI) put_line(&u->out[1], url->uhost, url->uhost_len);
    if (want & FZ_URL_WANT_HOST_SKEL)
        put_line(&u->out[2], u->line,
                 fz_skel_text(url->uhost, url->uhost_len, u->tmp, u->line, SKEL_LINE));
    if (want & FZ_URL_WANT_DOMAIN)
        put_line(&u->out[3], url->host + url->domain_off, url->host_len - url->domain_off);
    if (want & FZ_URL_WANT_DOMAIN_UNI)
        put_line(&u->out[4], url->uhost + url->udomain_off, url->uhost_len - url->udomain_off);
    if (want & FZ_URL_WANT_DOMAIN_SKEL)
        put_line(&u->out[5], u->line,
                 fz_skel_text(url->uhost + url->udomain_off, url->uhost_len - url->udomain_off,
                              u->tmp, u->line, SKEL_LINE));
    if (want & FZ_URL_WANT_FLAGS)
        put_line(&u->out[6], u->line, fz_url_flags_format(url, brands, u->line, FLAGS_LINE));
}

/* The word of host characters starting at i: where a link may start.
 * Returns where reading goes on: after the link, or after the word when
 * none starts there (part of an e-mail address, no dot and no scheme, or
 * no link that fz_url_span() accepts). */
static size_t link_at_word(fz_url_scan *u, const char *norm, size_t n, size_t i,
                           const fz_url_brands *brands, unsigned want, fz_url_fields *out) {
    const unsigned char *s = (const unsigned char *)norm + i;
    size_t end = i, k;
    int dot = 0;
    while (end < n && (k = host_len_at((const unsigned char *)norm + end, n - end))) {
        dot |= norm[end] == '.';
        end += k;
    }
    int scheme = end - i >= 4 && end - i <= 5 && !memcmp(s, "http", 4) && end + 3 <= n &&
                 !memcmp(norm + end, "://", 3);
    if ((i > 0 && norm[i - 1] == '@') || *s == '-' || *s == '.' || (!dot && !scheme)) return end;
    size_t span = fz_url_span(norm + i, n - i);
    if (!span) return end;
    add_link(u, norm + i, span, brands, want, out);
    return i + span;
}

/* The start of the word of host characters that ends at c (norm[c] is no
 * part of it), reading back no further than lo: c itself when the
 * character before c is none. Characters are stepped over whole (the
 * scanner reads forward from a lead byte), so a word starts where reading
 * forward from lo would start it. */
static size_t word_start(const char *norm, size_t n, size_t lo, size_t c) {
    const unsigned char *s = (const unsigned char *)norm;
    while (c > lo) {
        size_t j = c - 1;
        while (j > lo && cont(s[j]) && c - j < 3) j--;
        if (host_len_at(s + j, n - j) != c - j) break;
        c = j;
    }
    return c;
}

static void scan_begin(fz_url_scan *u, fz_url_fields *out) {
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < 7; i++) u->out[i].n = u->out[i].lines = 0;
}

static void scan_end(fz_url_scan *u, unsigned want, fz_url_fields *out) {
    if (!out->nurls) return;
    fz_str *dst[7] = {&out->host,       &out->host_uni,    &out->host_skel, &out->domain,
                      &out->domain_uni, &out->domain_skel, &out->flags};
    for (int i = 0; i < 7; i++)
        if (want & (1u << i)) *dst[i] = (fz_str){u->out[i].p, u->out[i].n};
}

/* The reference: every word of host characters, left to right. */
void fz_url_scan_text_words(fz_url_scan *u, const char *norm, size_t n, const fz_url_brands *brands,
                            unsigned want, fz_url_fields *out) {
    scan_begin(u, out);
    if (!maybe_link(norm, n)) return;
    for (size_t i = 0; i < n;) {
        if (!host_len_at((const unsigned char *)norm + i, n - i)) {
            i++;
            continue;
        }
        i = link_at_word(u, norm, n, i, brands, want, out);
    }
    scan_end(u, want, out);
}

/* Only the words a link can start in: one holding a '.', or one right
 * before "://". They are found with memchr, and each is read from its
 * start (word_start()) exactly as the reference reads it; the words in
 * between, most of a text, are never read. */
void fz_url_scan_text(fz_url_scan *u, const char *norm, size_t n, const fz_url_brands *brands,
                      unsigned want, fz_url_fields *out) {
    scan_begin(u, out);
    /* every link holds a '.' before a host character (a domain, an IPv4,
     * www.) or "://": most texts have neither, and memchr finds that fast */
    if (!maybe_link(norm, n)) return;
    size_t dot = next_of(norm, n, 0, '.'), scheme = next_scheme(norm, n, 0);
    for (size_t i = 0; i < n;) {
        if (dot < i) dot = next_of(norm, n, i, '.');
        if (scheme < i) scheme = next_scheme(norm, n, i);
        size_t c = dot < scheme ? dot : scheme;
        if (c >= n) break;
        size_t w = word_start(norm, n, i, c);
        if (c == dot) {
            i = link_at_word(u, norm, n, w, brands, want, out);
        } else { /* "://": the word before it, if any; ':' is no host character */
            size_t next = w < c ? link_at_word(u, norm, n, w, brands, want, out) : c;
            i = next > c ? next : c + 1;
        }
    }
    scan_end(u, want, out);
}