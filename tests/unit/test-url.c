/*
 * test-url.c - the links of a text (url.h): a golden table of links to
 * host, registered domain and flags, hostile hosts (userinfo, ports, case,
 * trailing dots, IDN homographs, IPv4 in decimal, hex and octal, IPv6,
 * hosts over 253 bytes), punycode against RFC 3492's examples, the brands
 * file's errors, and whole texts: e-mail addresses, Chinese around links,
 * invalid UTF-8, 1,000 links in one message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "rules.h"
#include "ruletest.h"
#include "skel.h"
#include "test.h"
#include "url.h"

static const char brands_txt[] = "# brand: its registered domains\n"
                                 "paypal: paypal.com paypal.me\n"
                                 "apple: apple.com icloud.com\n"
                                 "\n"
                                 "ups: ups.com\n"
                                 "bbva: bbva.com bbva.es\n";

static fz_url_brands *init_url(void) {
    char err[256];
    unsigned line;
    if (fz_skel_init(err, sizeof(err)) != 0 || fz_url_init(err, sizeof(err)) != 0)
        fz_test_fail(__FILE__, __LINE__, "%s", err);
    fz_url_brands *b = fz_url_brands_parse(brands_txt, strlen(brands_txt), &line, err, sizeof(err));
    if (!b) fz_test_fail(__FILE__, __LINE__, "brands line %u: %s", line, err);
    return b;
}

TEST_IMPL(url_golden) {
    fz_url_brands *b = init_url();
    /* link as it appears in normalised text -> host, registered domain,
     * Unicode host, flags; NULL host: not a link */
    static const char *const cases[][5] = {
        {"https://www.paypal.com/signin", "www.paypal.com", "paypal.com", "www.paypal.com",
         "https"},
        {"paypal.com", "paypal.com", "paypal.com", "paypal.com", "bare"},
        {"www.paypal.me/x", "www.paypal.me", "paypal.me", "www.paypal.me", "bare"},
        {"http://paypal-secure-login.com/a", "paypal-secure-login.com", "paypal-secure-login.com",
         "paypal-secure-login.com", "http brand:paypal"},
        {"https://apple.id-verify.xyz", "apple.id-verify.xyz", "id-verify.xyz",
         "apple.id-verify.xyz", "https brand:apple"},
        {"https://appleid.apple.com", "appleid.apple.com", "apple.com", "appleid.apple.com",
         "https"},
        {"http://paypal.com.cn/", "paypal.com.cn", "paypal.com.cn", "paypal.com.cn",
         "http brand:paypal"},
        {"http://paypal.github.io/", "paypal.github.io", "paypal.github.io", "paypal.github.io",
         "http brand:paypal"},
        /* look-alikes: digits for letters, Cyrillic а (U+0430) */
        {"http://paypa1.com", "paypa1.com", "paypa1.com", "paypa1.com", "http brand:paypal"},
        {"http://p\xd0\xb0ypal.com/login", "xn--pypal-4ve.com", "xn--pypal-4ve.com",
         "p\xd0\xb0ypal.com", "http punycode brand:paypal"},
        {"https://xn--pypal-4ve.com", "xn--pypal-4ve.com", "xn--pypal-4ve.com", "p\xd0\xb0ypal.com",
         "https punycode brand:paypal"},
        /* short brands count only as a whole token */
        {"https://upstream.com", "upstream.com", "upstream.com", "upstream.com", "https"},
        {"https://ups-tracking.top/p", "ups-tracking.top", "ups-tracking.top", "ups-tracking.top",
         "https brand:ups"},
        {"https://pineapple.com", "pineapple.com", "pineapple.com", "pineapple.com", "https"},
        {"https://mypaypal.com", "mypaypal.com", "mypaypal.com", "mypaypal.com", "https"},
        /* four letters and more: a token start is enough */
        {"bbvamx24.in/mx", "bbvamx24.in", "bbvamx24.in", "bbvamx24.in", "bare brand:bbva"},
        {"https://www.bbva.es/", "www.bbva.es", "bbva.es", "www.bbva.es", "https"},
        /* a backslash ends the authority, as browsers read it */
        {"http://evil.com\\@paypal.com/", "evil.com", "evil.com", "evil.com", "http"},
        /* userinfo: the host is after the last @ */
        {"http://paypal.com@evil.com/x", "evil.com", "evil.com", "evil.com", "http userinfo"},
        {"http://a:b@paypal.com@45.12.3.4/", "45.12.3.4", "45.12.3.4", "45.12.3.4",
         "http userinfo ip"},
        /* ports, case, trailing dots, percent-encoding */
        {"http://evil.com:8080/", "evil.com", "evil.com", "evil.com", "http port"},
        {"http://evil.com:80/", "evil.com", "evil.com", "evil.com", "http"},
        {"https://evil.com:80/", "evil.com", "evil.com", "evil.com", "https port"},
        {"HTTP://WWW.PayPal.COM./", "www.paypal.com", "paypal.com", "www.paypal.com", "http"},
        {"http://%70aypal%2Ecom/", "paypal.com", "paypal.com", "paypal.com", "http"},
        {"http://evil.com:99999/", NULL, NULL, NULL, NULL},
        {"http://evil.com:8o/", NULL, NULL, NULL, NULL},
        /* IPv4 as browsers read it */
        {"http://45.12.3.4/login", "45.12.3.4", "45.12.3.4", "45.12.3.4", "http ip"},
        {"http://755761924/", "45.12.3.4", "45.12.3.4", "45.12.3.4", "http ip ip_encoded"},
        {"http://0x2d0c0304/", "45.12.3.4", "45.12.3.4", "45.12.3.4", "http ip ip_encoded"},
        {"http://055.014.03.04/", "45.12.3.4", "45.12.3.4", "45.12.3.4", "http ip ip_encoded"},
        {"http://45.12.772/", "45.12.3.4", "45.12.3.4", "45.12.3.4", "http ip ip_encoded"},
        /* addresses of private networks: a router's page, not a phishing site */
        {"http://3232235777/", "192.168.1.1", "192.168.1.1", "192.168.1.1",
         "http ip ip_encoded ip_private"},
        {"http://192.168.1.1/", "192.168.1.1", "192.168.1.1", "192.168.1.1", "http ip ip_private"},
        {"http://127.1/", "127.0.0.1", "127.0.0.1", "127.0.0.1", "http ip ip_encoded ip_private"},
        {"http://10.1.2.3/", "10.1.2.3", "10.1.2.3", "10.1.2.3", "http ip ip_private"},
        {"http://172.16.0.1/", "172.16.0.1", "172.16.0.1", "172.16.0.1", "http ip ip_private"},
        {"http://172.32.0.1/", "172.32.0.1", "172.32.0.1", "172.32.0.1", "http ip"},
        {"http://100.64.0.1/", "100.64.0.1", "100.64.0.1", "100.64.0.1", "http ip ip_private"},
        {"http://100.128.0.1/", "100.128.0.1", "100.128.0.1", "100.128.0.1", "http ip"},
        {"http://169.254.1.1/", "169.254.1.1", "169.254.1.1", "169.254.1.1", "http ip ip_private"},
        {"http://256.1.1.1/", NULL, NULL, NULL, NULL},
        {"http://1.2.3.4.5/", NULL, NULL, NULL, NULL},
        {"http://4294967296/", NULL, NULL, NULL, NULL},
        {"http://09.1.1.1/", NULL, NULL, NULL, NULL},
        /* IPv6 */
        {"http://[2001:DB8:0:0:0:0:0:1]:8443/x", "[2001:db8::1]", "[2001:db8::1]", "[2001:db8::1]",
         "http port ip ipv6"},
        {"http://[::ffff:1.2.3.4]/", "[::ffff:1.2.3.4]", "[::ffff:1.2.3.4]", "[::ffff:1.2.3.4]",
         "http ip ipv6"},
        {"http://[::1]/", "[::1]", "[::1]", "[::1]", "http ip ipv6 ip_private"},
        {"http://[fe80::1]/", "[fe80::1]", "[fe80::1]", "[fe80::1]", "http ip ipv6 ip_private"},
        {"http://[fd00::5]/", "[fd00::5]", "[fd00::5]", "[fd00::5]", "http ip ipv6 ip_private"},
        {"http://[::ffff:10.0.0.1]/", "[::ffff:10.0.0.1]", "[::ffff:10.0.0.1]", "[::ffff:10.0.0.1]",
         "http ip ipv6 ip_private"},
        {"http://[1::2::3]/", NULL, NULL, NULL, NULL},
        {"http://[zz]/", NULL, NULL, NULL, NULL},
        /* not links: e-mail addresses, bare words with no known suffix */
        {"john.doe@paypal.com", NULL, NULL, NULL, NULL},
        {"mr.smith", NULL, NULL, NULL, NULL},
        {"file.txt", NULL, NULL, NULL, NULL},
        {"http://", NULL, NULL, NULL, NULL},
        {"http://a..b/", NULL, NULL, NULL, NULL},
        {"http://ev!l.com/", NULL, NULL, NULL, NULL},
        {"https://-/", NULL, NULL, NULL, NULL},
        {"https://a.-.com/", NULL, NULL, NULL, NULL},
        {"https://xn--zz-.com", NULL, NULL, NULL, NULL},
        {"https://xn--abc.com", NULL, NULL, NULL, NULL}, /* decodes to no letter */
        /* single labels after a scheme, public suffixes as hosts */
        {"http://localhost/", "localhost", "localhost", "localhost", "http"},
        {"https://github.io", "github.io", "github.io", "github.io", "https"},
        /* Unicode domains */
        {"https://\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84",
         "xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai",
         "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84", "https punycode"},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(cases); i++) {
        fz_url u;
        int rc = fz_url_parse(cases[i][0], strlen(cases[i][0]), b, &u);
        if (!cases[i][1]) {
            if (rc == 0)
                fz_test_fail(__FILE__, __LINE__, "'%s' parsed as host '%s', expected no link",
                             cases[i][0], u.host);
            continue;
        }
        if (rc != 0) fz_test_fail(__FILE__, __LINE__, "'%s' is not a link", cases[i][0]);
        char flags[256];
        fz_url_flags_format(&u, b, flags, sizeof(flags));
        if (strcmp(u.host, cases[i][1]) || strcmp(u.host + u.domain_off, cases[i][2]) ||
            strcmp(u.uhost, cases[i][3]) || strcmp(flags, cases[i][4]))
            fz_test_fail(__FILE__, __LINE__,
                         "'%s': host '%s' domain '%s' unicode '%s' flags '%s'; expected '%s' '%s' "
                         "'%s' '%s'",
                         cases[i][0], u.host, u.host + u.domain_off, u.uhost, flags, cases[i][1],
                         cases[i][2], cases[i][3], cases[i][4]);
        ASSERT_EQ_U64(strlen(u.host), u.host_len);
        ASSERT_EQ_U64(strlen(u.uhost), u.uhost_len);
    }
    fz_url_brands_destroy(b);
}

TEST_IMPL(url_long_hosts) {
    fz_url_brands *b = init_url();
    char s[2048];
    fz_url u;
    /* 63-byte labels: 3 of them plus ".com" fit in 253 bytes, 4 do not */
    char label[64];
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(s, sizeof(s), "http://%s.%s.%s.com/", label, label, label);
    ASSERT(fz_url_parse(s, strlen(s), b, &u) == 0);
    ASSERT_EQ_U64(u.host_len, 3 * 64 + 3);
    snprintf(s, sizeof(s), "http://%s.%s.%s.%s.com/", label, label, label, label);
    ASSERT(fz_url_parse(s, strlen(s), b, &u) != 0);
    snprintf(s, sizeof(s), "http://%sa.com/", label); /* a 64-byte label */
    ASSERT(fz_url_parse(s, strlen(s), b, &u) != 0);
    /* a long Cyrillic label: its punycode must fit 63 bytes too */
    size_t o = (size_t)snprintf(s, sizeof(s), "http://");
    for (int i = 0; i < 70; i++) o += (size_t)snprintf(s + o, sizeof(s) - o, "\xd0\xb0");
    snprintf(s + o, sizeof(s) - o, ".com/");
    ASSERT(fz_url_parse(s, strlen(s), b, &u) != 0);
    /* a host of 2,000 bytes of percent-escapes */
    o = (size_t)snprintf(s, sizeof(s), "http://");
    while (o < 2000) o += (size_t)snprintf(s + o, sizeof(s) - o, "%%61");
    ASSERT(fz_url_parse(s, strlen(s), b, &u) != 0);
    fz_url_brands_destroy(b);
}

TEST_IMPL(url_punycode) {
    /* RFC 3492 7.1 (A) Arabic (Egyptian), (L) 3<nen>B<gumi><kinpachi><sensei> */
    static const uint32_t arabic[] = {0x0644, 0x064A, 0x0647, 0x0645, 0x0627, 0x0628,
                                      0x062A, 0x0643, 0x0644, 0x0645, 0x0648, 0x0634,
                                      0x0639, 0x0631, 0x0628, 0x064A, 0x061F};
    static const uint32_t l[] = {0x0033, 0x5E74, 0x0042, 0x7D44, 0x91D1, 0x516B, 0x5148, 0x751F};
    char out[128];
    uint32_t cps[64];
    int k = fz_punycode_encode(arabic, FZ_ARRAY_LEN(arabic), out, sizeof(out));
    ASSERT(k > 0);
    ASSERT_VIEW_EQ(out, (size_t)k, "egbpdaj6bu4bxfgehfvwxn");
    k = fz_punycode_encode(l, FZ_ARRAY_LEN(l), out, sizeof(out));
    ASSERT(k > 0);
    ASSERT_VIEW_EQ(out, (size_t)k, "3B-ww4c5e180e575a65lsy2b");
    k = fz_punycode_decode("3B-ww4c5e180e575a65lsy2b", 24, cps, 64);
    ASSERT_EQ_I64(k, (int)FZ_ARRAY_LEN(l));
    ASSERT(memcmp(cps, l, sizeof(l)) == 0);
    /* too small an output, garbage, overflow */
    ASSERT_EQ_I64(fz_punycode_encode(arabic, FZ_ARRAY_LEN(arabic), out, 5), -1);
    ASSERT_EQ_I64(fz_punycode_decode("egbpdaj6bu4bxfgehfvwxn", 22, cps, 3), -1);
    ASSERT_EQ_I64(fz_punycode_decode("!!", 2, cps, 64), -1);
    ASSERT_EQ_I64(fz_punycode_decode("99999999999999", 14, cps, 64), -1);
    /* every label round-trips: random code points of the host alphabets */
    unsigned seed = 7;
    for (int round = 0; round < 2000; round++) {
        uint32_t in[20];
        size_t n = 1 + (size_t)(round % 20);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] =
                (seed >> 8) % 3 ? 0xc0 + (seed >> 12) % (0x1fff - 0xc0) : 'a' + (seed >> 12) % 26;
        }
        k = fz_punycode_encode(in, n, out, sizeof(out));
        ASSERT(k > 0);
        int d = fz_punycode_decode(out, (size_t)k, cps, 64);
        ASSERT_EQ_I64(d, (int64_t)n);
        ASSERT(memcmp(cps, in, n * sizeof(uint32_t)) == 0);
    }
}

TEST_IMPL(url_brands_errors) {
    static const struct {
        const char *text;
        unsigned line;
        const char *msg;
    } cases[] = {
        {"paypal paypal.com\n", 1, "no ':'"},
        {"# c\n\npa: pa.com\n", 3, "3 to 32 letters"},
        {"paypa1: paypal.com\n", 1, "letters a-z only"},
        {"paypal: paypal.com\nPayPal: x.com\n", 2, "letters a-z only"},
        {"paypal: paypal.com\npaypal: x.com\n", 2, "listed twice"},
        {"paypal:\n", 1, "has no domains"},
        {"paypal: PayPal.com\n", 1, "not a registered domain"},
        {"paypal: com\n", 1, "not a registered domain"},
        {"# nothing\n", 1, "no brands listed"},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(cases); i++) {
        char err[256] = "";
        unsigned line = 0;
        fz_url_brands *b =
            fz_url_brands_parse(cases[i].text, strlen(cases[i].text), &line, err, sizeof(err));
        if (b) fz_test_fail(__FILE__, __LINE__, "case %zu parsed", i);
        ASSERT_EQ_U64(line, cases[i].line);
        ASSERT_CONTAINS(err, cases[i].msg);
    }
}

/* The fields of a raw text, as the pipeline computes them. */
static fz_url_fields scan(fz_url_scan *u, const fz_url_brands *b, const char *text) {
    static char norm[1 << 16];
    size_t n = fz_norm_text(text, strlen(text), norm);
    fz_url_fields f;
    fz_url_scan_text(u, norm, n, b, FZ_URL_WANT_ALL, &f);
    return f;
}

#define ASSERT_FIELD(s, lit) ASSERT_VIEW_EQ((s).p ? (s).p : "", (s).n, lit)

TEST_IMPL(url_texts) {
    fz_url_brands *b = init_url();
    char err[256];
    fz_url_scan *u = fz_url_scan_new(err, sizeof(err));
    ASSERT(u != NULL);
    /* several links, one line each, in text order */
    fz_url_fields f = scan(u, b,
                           "Your PayPal is locked: verify at http://pаypal.com.verify-id.top/login "
                           "or www.paypal.com, mail support@paypal.com");
    ASSERT_EQ_U64(f.nurls, 2);
    ASSERT_FIELD(f.host, "xn--pypal-4ve.com.verify-id.top\nwww.paypal.com");
    ASSERT_FIELD(f.host_uni, "p\xd0\xb0ypal.com.verify-id.top\nwww.paypal.com");
    ASSERT_FIELD(f.host_skel, "paypal.com.verify-id.top\nwww.paypal.com");
    ASSERT_FIELD(f.domain, "verify-id.top\npaypal.com");
    ASSERT_FIELD(f.domain_skel, "verify-id.top\npaypal.com");
    ASSERT_FIELD(f.flags, "http punycode brand:paypal\nbare");
    /* Chinese right around a link, full-width letters, zero-width spaces */
    f = scan(u, b, "【银行】您的账户异常，请登录ｗｗｗ．ｉｃｂｃ－ｖｉｐ．ｃｃ处理");
    ASSERT_FIELD(f.host, "www.icbc-vip.cc");
    f = scan(u, b, "点击 h\xe2\x80\x8bttp://45.12.3.4:8080/a 领取");
    ASSERT_FIELD(f.host, "45.12.3.4");
    ASSERT_FIELD(f.flags, "http port ip");
    /* no links: plain text, numbers, e-mail addresses, sentences */
    f = scan(u, b, "Meet at 3.30 p.m. Mr.Smith, mail john.doe@example.com. Price 1.5");
    ASSERT_EQ_U64(f.nurls, 0);
    ASSERT(f.host.p == NULL && f.flags.p == NULL);
    /* invalid UTF-8 around and inside links is survived */
    f = scan(u, b, "\xff\xfehttp://a\xc3.com/\xe1\x80 www.ok.com\xc0");
    ASSERT_FIELD(f.host, "a\nwww.ok.com");
    /* 1,000 links: the first FZ_URL_MAX are analysed */
    static char many[40000];
    size_t o = 0;
    for (int i = 0; i < 1000; i++) o += (size_t)snprintf(many + o, sizeof(many) - o, "x%d.cn ", i);
    f = scan(u, b, many);
    ASSERT_EQ_U64(f.nurls, FZ_URL_MAX);
    ASSERT_EQ_U64(f.nskipped, 1000 - FZ_URL_MAX);
    ASSERT(f.host.n > 0 && memcmp(f.host.p, "x0.cn\nx1.cn\n", 12) == 0);
    /* only what is wanted is written */
    static char norm[64];
    size_t n = fz_norm_text("see bit.ly/abc", 14, norm);
    fz_url_scan_text(u, norm, n, b, FZ_URL_WANT_DOMAIN, &f);
    ASSERT_FIELD(f.domain, "bit.ly");
    ASSERT(f.host.p == NULL && f.flags.p == NULL && f.host_skel.p == NULL);
    fz_url_scan_destroy(u);
    fz_url_brands_destroy(b);
}

/* fz_url_scan_text() reads only the words around a '.' or before "://";
 * the reference reads every word. Random texts of pieces that make and
 * break links (schemes, www., dots, '@', '-', ':', letters of two and
 * three bytes, Han, bytes that are no UTF-8), normalised and not: the same
 * links, fields and counts, byte for byte. */
static void assert_same_scan(fz_url_scan *u, fz_url_scan *ref, const fz_url_brands *b,
                             const char *s, size_t n) {
    fz_url_fields f, g;
    fz_url_scan_text(u, s, n, b, FZ_URL_WANT_ALL, &f);
    fz_url_scan_text_words(ref, s, n, b, FZ_URL_WANT_ALL, &g);
    ASSERT_EQ_U64(f.nurls, g.nurls);
    ASSERT_EQ_U64(f.nskipped, g.nskipped);
    const fz_str *a[] = {&f.host,       &f.host_uni,    &f.host_skel, &f.domain,
                         &f.domain_uni, &f.domain_skel, &f.flags};
    const fz_str *w[] = {&g.host,       &g.host_uni,    &g.host_skel, &g.domain,
                         &g.domain_uni, &g.domain_skel, &g.flags};
    for (size_t i = 0; i < FZ_ARRAY_LEN(a); i++) {
        ASSERT_EQ_U64(a[i]->p != NULL, w[i]->p != NULL);
        ASSERT_EQ_U64(a[i]->n, w[i]->n);
        if (a[i]->n) ASSERT(memcmp(a[i]->p, w[i]->p, a[i]->n) == 0);
    }
}

TEST_IMPL(url_scan_words_oracle) {
    fz_url_brands *b = init_url();
    char err[256];
    fz_url_scan *u = fz_url_scan_new(err, sizeof(err)), *ref = fz_url_scan_new(err, sizeof(err));
    ASSERT(u != NULL && ref != NULL);
    // clang-format off
    static const char *const pieces[] = {
        "http", "https", "://", ":", "/", "//", "www", ".", "..", "@", "-", " ", " ", "a",
        "paypal", "com", "cn", "top", "bit", "ly", "x1", "45", "8080", "?q=1", "\xc3\xa9",
        "\xe1\x80\x80", "\xe4\xb8\xad", "\xff", "\x80", "\xc3", "\xe1\x80", "p\xd0\xb0ypal",
        "xn--", "[::1]", "\n", "#", "_", "http://a.com/x", "www.paypal.com", "bit.ly/abc",
        "x1.cn", "45.12.3.4", "pay.top", "\xc3\xa9t\xc3\xa9.fr", " mail a@b.cn ",
    };
    // clang-format on
    static char text[512], norm[2048];
    uint64_t seed = 1;
    size_t links = 0;
    for (int iter = 0; iter < 60000; iter++) {
        size_t o = 0;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int npieces = 1 + (int)((seed >> 33) % 40);
        for (int k = 0; k < npieces; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *p = pieces[(seed >> 33) % FZ_ARRAY_LEN(pieces)];
            size_t len = strlen(p);
            if (o + len >= sizeof(text)) break;
            memcpy(text + o, p, len);
            o += len;
        }
        fz_test_context("iteration %d: '%.*s'", iter, (int)o, text);
        assert_same_scan(u, ref, b, text, o);
        size_t n = fz_norm_text(text, o, norm);
        assert_same_scan(u, ref, b, norm, n);
        fz_url_fields f;
        fz_url_scan_text(u, norm, n, b, FZ_URL_WANT_HOST, &f);
        links += f.nurls;
    }
    ASSERT(links >= 30000); /* links were found, not only their absence */
    fz_url_scan_destroy(u);
    fz_url_scan_destroy(ref);
    fz_url_brands_destroy(b);
}

/* ---- the fields in the rule language ---- */

static fz_ruleset *load(const char *dir, fz_rule_diags *diags) {
    memset(diags, 0, sizeof(*diags));
    return fz_ruleset_load(dir, NULL, diags);
}

static int has_diag(const fz_rule_diags *d, const char *file_end, unsigned line, int warning,
                    const char *msg) {
    for (size_t i = 0; i < d->n; i++) {
        const fz_rule_diag *g = &d->v[i];
        size_t fl = strlen(g->file), el = strlen(file_end);
        if (fl >= el && !strcmp(g->file + fl - el, file_end) && g->line == line &&
            g->warning == warning && strstr(g->msg, msg))
            return 1;
    }
    fz_rule_diags_print(d, stderr);
    return 0;
}

static const char url_rules[] =
    "rules:\n"
    "  - id: u.brand\n"
    "    category: c\n"
    "    severity: high\n"
    "    fields: [url_flags]\n"
    "    pattern: '\\bbrand:paypal\\b'\n"
    "    tests:\n"
    "      should_match: ['Locked! http://paypa1-login.com/x', 'see "
    "https://paypal.com@xn--pypal-4ve.com']\n"
    "      should_not_match: ['https://www.paypal.com/x', 'write to help@paypal-help.com']\n"
    "  - id: u.short\n"
    "    category: c\n"
    "    severity: low\n"
    "    fields: [url_domain]\n"
    "    list: lists/short.txt\n"
    "    list_match: line\n"
    "    tests:\n"
    "      should_match: ['a https://x.org/ b BIT.LY/abc', 'bit.ly/x']\n"
    "      should_not_match: ['https://bit.ly.evil.com/x', 'https://mybit.ly/x', 'bit.lyx/a']\n"
    "  - id: u.host\n"
    "    category: c\n"
    "    severity: low\n"
    "    fields: [url_host]\n"
    "    view: skeleton\n"
    "    flags: [multiline]\n"
    "    pattern: '^paypal\\.'\n"
    "    tests:\n"
    "      should_match: ['https://x.org and http://p\xd0\xb0yp\xd0\xb0l.cc/']\n"
    "      should_not_match: ['paypal. Is it?', 'http://www.paypal.cc']\n"
    "  - id: u.uni\n"
    "    category: c\n"
    "    severity: low\n"
    "    fields: [url_domain]\n"
    "    view: normalized\n"
    "    list: lists/uni.txt\n"
    "    list_match: line\n"
    "    tests:\n"
    "      should_match: ['http://www.xn--e1afmkfd.xn--p1ai/']\n"
    "      should_not_match: ['http://www.e1afmkfd.ru/']\n";

TEST_IMPL(url_rules) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "u.yaml", url_rules);
    fz_test_write_str(dir, "lists/short.txt", "bit.ly\n");
    fz_test_write_str(dir, "lists/uni.txt",
                      "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84\n");
    fz_test_write_str(dir, "lists/brands.txt", "paypal: paypal.com\n");
    fz_rule_diags diags;
    fz_ruleset *rs = load(dir, &diags);
    if (!rs) fz_rule_diags_print(&diags, stderr);
    ASSERT(rs != NULL);
    ASSERT(fz_ruleset_url_brands(rs) != NULL);
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_URL_FLAGS, FZ_VIEW_RAW));
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_URL_HOST, FZ_VIEW_SKEL));
    ASSERT(!fz_ruleset_uses(rs, FZ_FIELD_URL_HOST, FZ_VIEW_RAW));
    fz_ruletest_summary sum;
    char err[256];
    int rc = fz_ruletest_run(rs, &diags, &sum, err, sizeof(err));
    if (rc != 0) fz_rule_diags_print(&diags, stderr);
    ASSERT_EQ_I64(rc, 0);
    ASSERT_EQ_U64(sum.examples, 14);
    ASSERT_EQ_U64(sum.failed, 0);
    /* the brands file is part of the version */
    char v1[32];
    snprintf(v1, sizeof(v1), "%s", fz_ruleset_version(rs));
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
    fz_test_write_str(dir, "lists/brands.txt", "paypal: paypal.com paypal-help.com\n");
    rs = load(dir, &diags);
    ASSERT(rs != NULL);
    ASSERT(strcmp(v1, fz_ruleset_version(rs)) != 0);
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
}

TEST_IMPL(url_rules_errors) {
    /* url_flags has the raw view only */
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "u.yaml",
                      "rules:\n"
                      "  - id: u.x\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    patterns:\n"
                      "      - {name: f, fields: [url_flags], view: skeleton, pattern: 'ip'}\n");
    fz_rule_diags diags;
    ASSERT(load(dir, &diags) == NULL);
    ASSERT(has_diag(&diags, "u.yaml", 6, 0, "term 'f': url_flags has the raw view only"));
    fz_rule_diags_free(&diags);
    /* examples give the text, not the derived fields */
    dir = fz_test_tmpdir();
    fz_test_write_str(dir, "u.yaml",
                      "rules:\n"
                      "  - id: u.x\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    fields: [url_host]\n"
                      "    pattern: 'evil'\n"
                      "    tests:\n"
                      "      should_match:\n"
                      "        - {url_host: evil.com}\n");
    ASSERT(load(dir, &diags) == NULL);
    ASSERT(has_diag(&diags, "u.yaml", 9, 0, "field 'url_host' is derived from the text"));
    fz_rule_diags_free(&diags);
    /* an unknown field names the url ones */
    fz_test_write_str(dir, "u.yaml",
                      "rules:\n"
                      "  - id: u.x\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    fields: [url]\n"
                      "    pattern: 'evil'\n");
    ASSERT(load(dir, &diags) == NULL);
    ASSERT(
        has_diag(&diags, "u.yaml", 5, 0, "known: text, from, to, url_host, url_domain, url_flags"));
    fz_rule_diags_free(&diags);
    /* a bad brands file: its own file and line */
    fz_test_write_str(dir, "u.yaml",
                      "rules:\n"
                      "  - id: u.x\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    fields: [url_flags]\n"
                      "    pattern: 'brand:'\n");
    fz_test_write_str(dir, "lists/brands.txt", "# brands\npaypal: paypal.com\npaypa1: x.com\n");
    ASSERT(load(dir, &diags) == NULL);
    ASSERT(has_diag(&diags, "lists/brands.txt", 3, 0, "letters a-z only"));
    fz_rule_diags_free(&diags);
    /* no brands file: a warning, and the rules load */
    dir = fz_test_tmpdir();
    fz_test_write_str(dir, "u.yaml",
                      "rules:\n"
                      "  - id: u.x\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    fields: [url_flags]\n"
                      "    pattern: 'brand:'\n");
    fz_ruleset *rs = load(dir, &diags);
    ASSERT(rs != NULL);
    ASSERT(has_diag(&diags, "u.yaml", 6, 1, "no lists/brands.txt"));
    ASSERT(fz_ruleset_url_brands(rs) == NULL);
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
}
