/*
 * test-textfacts.c - the text_flags and text_numbers fields (textfacts.h):
 * a golden table of texts, the scan against a plain reading of every
 * code point on random hostile texts at every SIMD level, the output
 * bound, and the fields in rules (matching, their examples, their errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "ruletest.h"
#include "simd.h"
#include "skel.h"
#include "test.h"
#include "textfacts.h"
#include "utf8.h"

static void init_skel(void) { /* the look-alikes of the disguised token */
    char err[256];
    if (fz_skel_init(err, sizeof(err)) != 0) fz_test_fail(__FILE__, __LINE__, "%s", err);
}

static void check(const char *text, const char *flags, const char *numbers, int line) {
    char out[4096], fl[FZ_TEXT_FLAGS_MAX];
    size_t nn = 12345;
    unsigned f = fz_text_scan(text, strlen(text), out, &nn);
    out[nn] = '\0';
    fz_text_flags_format(f, fl);
    if (strcmp(fl, flags) || strcmp(out, numbers))
        fz_test_fail(__FILE__, line, "'%s': flags '%s' numbers '%s', want '%s' '%s'", text, fl, out,
                     flags, numbers);
}

TEST_IMPL(textfacts_golden) {
    init_skel();
    static const struct {
        const char *text, *flags, *numbers;
    } g[] = {
        {"", "", ""},
        {"请致电138 1234 5678", "han", "13812345678"},
        {"call 0800-123-4567 now, only $5", "latin money", "08001234567\n5"},
        {"400.820.8820", "", "4008208820"},
        {"2026-12-07", "", "2026\n12\n07"}, /* a date: groups under three digits */
        {"1.99", "", "1\n99"},
        {"4 2", "", "4\n2"},
        {"+86 138 1234 5678", "", "86\n13812345678"},
        {"12 345", "", "12\n345"},
        {"123 45", "", "123\n45"},
        {"123  456", "", "123\n456"}, /* two separators: two numbers */
        {"123 -456", "", "123\n456"},
        {"123-456-", "", "123456"},
        {"qq123456789", "latin", "123456789"},
        {"xxxx1234", "latin", "1234"},
        {"\xc2\xa3"
         "5 \xe2\x82\xac"
         "10",
         "money", "5\n10"}, /* £5 €10 */
        {"\xc2\xa5"
         "3",
         "money", "3"}, /* ¥ */
        {"\xef\xbf\xa5"
         "8",
         "money", "8"}, /* ￥ full-width */
        {"\xe2\x82\xb9"
         "9",
         "money", "9"},                       /* ₹ */
        {"\xef\xbc\x8c\xef\xbc\x8c", "", ""}, /* ，， is no money */
        {"caf\xc3\xa9", "latin", ""},         /* café */
        {"\xc3\xa9", "latin", ""},            /* é alone */
        {"\xc3\x97\xc3\xb7", "", ""},         /* × ÷ are no letters */
        {"\xf0\xa0\x80\x80", "han", ""},      /* U+20000 */
        {"\xef\xa4\x80", "han", ""},          /* U+F900 */
        {"\xe3\x90\x80", "han", ""},          /* U+3400 */
        {"\xe3\x80\x82", "", ""},             /* 。 is no Han */
        {"\xff\xfe"
         "123\xe4\xb8",
         "", "123"}, /* invalid bytes */
        {"\xe4\xb8"
         "\xad",
         "han", ""},                               /* 中 */
        {"\xe0\x80\xb1", "", ""},                  /* an overlong '1' */
        {"https://x.top 98765", "latin", "98765"}, /* the link token is the pipeline's */
        {"\xe4\xb8\xad\xe6\x96\x87 text $ 3 \xe2\x82\xac", "han latin money", "3"},
        /* disguised: digits for letters inside words, look-alikes beside Latin letters */
        {"your acc0unt is bl0cked", "latin disguised", "0\n0"},
        {"l33t", "latin disguised", "33"},
        {"l333t", "latin", "333"}, /* three: a code */
        {"p@y now", "latin disguised", ""},
        {"pay$al", "latin money disguised", ""},
        {"c|ick", "latin disguised", ""},
        {"a|", "latin", ""},
        {"p\xd0\xb0ypal", "latin disguised", ""},  /* Cyrillic a */
        {"\xd0\xb0\xd0\xb1\xd0\xb2", "", ""},      /* a Cyrillic word alone */
        {"\xce\x9fK", "latin disguised", ""},      /* Greek capital omicron, K */
        {"caf\xc3\xa9 cr\xc3\xa8me", "latin", ""}, /* accents are no disguise */
        {"mp3 4g covid19 $100 ca3762 a9x2", "latin money", "3\n4\n19\n100\n3762\n9\n2"},
        {"\xe8\xb4\xa6\xe6\x88\xb7"
         "abc0"
         "\xe5\x86\xbb",
         "han latin", "0"},
        /* letters spaced out: four or more single letters, one spacer apart */
        {"please v e r i f y now", "latin disguised", ""},
        {"v e r i", "latin disguised", ""},
        {"(V.E.R.I)", "latin disguised", ""},
        {"a-c-c-o-u-n-t", "latin disguised", ""},
        {"p_a_y*n", "latin disguised", ""},
        {"v e r", "latin", ""},                /* three */
        {"i m a good", "latin", ""},           /* three, then a word */
        {"v  e  r  i", "latin", ""},           /* two spacers between */
        {"v e r i4", "latin", "4"},            /* a digit after the last */
        {"xv e r i f", "latin disguised", ""}, /* e r i f: four */
        {"v e r iy", "latin", ""},             /* v e r, then a word */
        {"\xe8\xaf\xb7 v e r i f y", "han latin disguised", ""},
        {"1 a b c d", "latin disguised", "1"},
        {"a1 b c d", "latin", "1"},
    };
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
        check(g[i].text, g[i].flags, g[i].numbers, __LINE__);
    char fl[FZ_TEXT_FLAGS_MAX];
    ASSERT_EQ_U64(
        fz_text_flags_format(FZ_TEXT_HAN | FZ_TEXT_LATIN | FZ_TEXT_LINK | FZ_TEXT_MONEY, fl),
        strlen("han latin link money"));
    ASSERT_STR_EQ(fl, "han latin link money");
    ASSERT_EQ_U64(fz_text_flags_format(0x1f, fl), strlen("han latin link money disguised"));
    ASSERT(strlen(fl) < FZ_TEXT_FLAGS_MAX);
    ASSERT_EQ_U64(fz_text_flags_parse(fl, strlen(fl)), 0x1f);
    ASSERT_EQ_U64(fz_text_flags_format(0, fl), 0);
    ASSERT_STR_EQ(fl, "");
    /* numbers not wanted: the flags alone */
    ASSERT_EQ_U64(fz_text_scan("a1", 2, NULL, NULL), FZ_TEXT_LATIN);
}

/* The oracle: every code point decoded (strict UTF-8; a bad byte is
 * skipped alone), digit runs joined as textfacts.h says, in the plainest
 * way. */
static unsigned oracle(const char *s, size_t n, char *out, size_t *on) {
    unsigned f = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = fz_utf8_decode(s + i, n - i, &cp);
        if (!k) {
            i++;
            continue;
        }
        i += k;
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
            (cp >= 0xc0 && cp <= 0x24f && cp != 0xd7 && cp != 0xf7))
            f |= FZ_TEXT_LATIN;
        if ((cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) ||
            (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x20000 && cp <= 0x3134f))
            f |= FZ_TEXT_HAN;
        static const uint32_t money[] = {'$',    0xa3,   0xa5,   0x20ab, 0x20ac, 0x20a9, 0x20b1,
                                         0x20b9, 0x20ba, 0x20bd, 0xff04, 0xffe1, 0xffe5};
        for (size_t j = 0; j < sizeof(money) / sizeof(money[0]); j++)
            if (cp == money[j]) f |= FZ_TEXT_MONEY;
    }
    /* disguised (textfacts.h), over the code points: a bad byte is one
     * entry of its own that is nothing */
    static uint32_t cps[8192];
    size_t nc = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = fz_utf8_decode(s + i, n - i, &cp);
        cps[nc++] = k ? cp : 0xFFFFFFFFu;
        i += k ? k : 1;
    }
#define ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define SWAP(c) (((c) >= '0' && (c) <= '8' && (c) != '2' && (c) != '6') || (c) == '@' || (c) == '$')
    for (size_t k = 0; k < nc; k++) {
        uint32_t c = cps[k], p = k ? cps[k - 1] : 0, x = k + 1 < nc ? cps[k + 1] : 0,
                 y = k + 2 < nc ? cps[k + 2] : 0;
        if ((SWAP(c) && ALPHA(p) && (ALPHA(x) || (SWAP(x) && ALPHA(y)))) ||
            (c == '|' && ALPHA(p) && ALPHA(x)) ||
            (c >= 0x80 && c != 0xFFFFFFFFu && (ALPHA(p) || ALPHA(x)) && fz_skel_looks_latin(c)))
            f |= FZ_TEXT_DISGUISED;
    }
    /* letters spaced out (skel.h): maximal runs of ASCII letters and
     * digits; four one-letter runs in a row, each one byte from the one
     * before, that byte a spacer */
    {
        size_t run = 0, prev_end = 0;
        for (size_t i = 0; i < n;) {
            unsigned char c = (unsigned char)s[i];
            if (!(ALPHA(c) || (c >= '0' && c <= '9'))) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < n && (ALPHA((unsigned char)s[j]) || (s[j] >= '0' && s[j] <= '9'))) j++;
            int single = j - i == 1 && ALPHA(c);
            unsigned char gap = i > 0 ? (unsigned char)s[i - 1] : 0;
            int next = run && i == prev_end + 1 &&
                       (gap == ' ' || gap == '.' || gap == '-' || gap == '_' || gap == '*');
            run = single ? (next ? run + 1 : 1) : 0;
            if (run >= 4) f |= FZ_TEXT_DISGUISED;
            prev_end = j;
            i = j;
        }
    }
#undef ALPHA
#undef SWAP
    /* digit runs: start and length */
    size_t o = 0, prev_end = 0, prev_len = 0;
    int have = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] < '0' || s[i] > '9') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && s[j] >= '0' && s[j] <= '9') j++;
        int join = have && i == prev_end + 1 &&
                   (s[prev_end] == ' ' || s[prev_end] == '-' || s[prev_end] == '.') &&
                   prev_len >= 3 && j - i >= 3;
        if (have && !join) out[o++] = '\n';
        memcpy(out + o, s + i, j - i);
        o += j - i;
        have = 1;
        prev_end = j;
        prev_len = j - i;
        i = j;
    }
    *on = o;
    return f;
}

TEST_IMPL(textfacts_oracle_random) {
    init_skel();
    static const char *const pieces[] = {"0",
                                         "1",
                                         "9",
                                         "12",
                                         "123",
                                         "4567",
                                         " ",
                                         "-",
                                         ".",
                                         "+",
                                         "a",
                                         "Z",
                                         "x",
                                         "$",
                                         ",",
                                         "\xc2\xa3",
                                         "\xc2\xa5",
                                         "\xc2\xa0",
                                         "\xc3\xa9",
                                         "\xc3\x97",
                                         "\xe4\xb8\xad",
                                         "\xe3\x80\x82",
                                         "\xef\xbc\x8c",
                                         "\xef\xbc\x84",
                                         "\xef\xbf\xa5",
                                         "\xef\xbf\xa1",
                                         "\xef\xa4\x80",
                                         "\xe2\x82\xac",
                                         "\xe2\x80\x94",
                                         "\xf0\xa0\x80\x80",
                                         "\xf0\x9f\x98\x80",
                                         "\xff",
                                         "\xe4",
                                         "\xe4\xb8",
                                         "\xed\xa0\x80",
                                         "\xe0\x80\xb1",
                                         "\x80",
                                         "\xc2",
                                         "b",
                                         "3",
                                         "7",
                                         "8",
                                         "@",
                                         "|",
                                         "\xd0\xb0",     /* Cyrillic a */
                                         "\xce\x9f",     /* Greek capital omicron */
                                         "\xc3\xa6",     /* ae */
                                         "\xef\xac\x81", /* the fi ligature */
                                         "\xe2\x84\x93", /* script small l */
                                         "\xd0\xb6",     /* Cyrillic zhe: no look-alike */
                                         " a",
                                         " b",
                                         ".x",
                                         "-Z",
                                         "_",
                                         "*",
                                         "*q",
                                         "\xf0\x9d\x90\x9a"}; /* mathematical bold a */
    const size_t np = sizeof(pieces) / sizeof(pieces[0]);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    static char text[8192], a[8192], b[8192];
    fz_simd_level was = fz_simd_level_get();
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t want = x % 300;
        while (n < want) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *p = pieces[x % np];
            size_t k = strlen(p);
            memcpy(text + n, p, k);
            n += k;
        }
        size_t on, an;
        unsigned of = oracle(text, n, b, &on);
        for (int lv = 0; lv < FZ_SIMD_LEVEL_COUNT; lv++) {
            fz_simd_set_level((fz_simd_level)lv);
            unsigned af = fz_text_scan(text, n, a, &an);
            if (af != of || an != on || memcmp(a, b, on) != 0) {
                fz_simd_set_level(was);
                fz_test_fail(__FILE__, __LINE__,
                             "round %d level %d: flags %x want %x, numbers '%.*s' want '%.*s'",
                             round, lv, af, of, (int)an, a, (int)on, b);
            }
            ASSERT(an <= n); /* the bound: never longer than the text */
        }
    }
    fz_simd_set_level(was);
    /* the bound at its tightest: digits and single non-digits */
    memset(text, 0, sizeof(text));
    for (size_t i = 0; i < 4000; i++) text[i] = i % 2 ? 'a' : '7';
    size_t an;
    fz_text_scan(text, 4000, a, &an);
    ASSERT(an <= 4000);
}

static fz_ruleset *load(const char *dir, fz_rule_diags *diags) {
    memset(diags, 0, sizeof(*diags));
    return fz_ruleset_load(dir, NULL, diags);
}

TEST_IMPL(textfacts_rules) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "t.yaml",
                      "rules:\n"
                      "  - id: t.zh-contact\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    patterns:\n"
                      "      - {name: han, fields: [text_flags], pattern: '\\bhan\\b'}\n"
                      "      - {name: link, fields: [text_flags], pattern: '\\blink\\b'}\n"
                      "      - {name: phone, fields: [text_numbers], flags: [multiline],\n"
                      "         pattern: '^1[3-9][0-9]{9}$'}\n"
                      "    condition: han and (link or phone)\n"
                      "    tests:\n"
                      "      should_match:\n"
                      "        - '\xe8\xaf\xb7\xe8\x87\xb4\xe7\x94\xb5 138 1234 5678'\n"
                      "        - '\xe8\xaf\xb7\xe8\xae\xbf\xe9\x97\xae http://x.top/a'\n"
                      "        - '\xe8\xaf\xb7\xe8\xae\xbf\xe9\x97\xae bank-verify.cn/login'\n"
                      "      should_not_match:\n"
                      "        - 'call 138 1234 5678 or http://x.top/a'\n"
                      "        - '\xe8\xaf\xb7\xe8\x87\xb4\xe7\x94\xb5 2026-12-07 13812345'\n"
                      "        - '\xe8\xaf\xb7\xe8\xae\xbf\xe9\x97\xae x.notatld'\n"
                      "  - id: t.money\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    fields: [text_flags]\n"
                      "    list: lists/signs.txt\n"
                      "    list_match: word\n"
                      "    tests:\n"
                      "      should_match: ['only \xe2\x82\xac"
                      "5', 'pay $5', '\xef\xbf\xa5"
                      "100']\n"
                      "      should_not_match: ['five euros', 'money']\n");
    fz_test_write_str(dir, "lists/signs.txt", "MONEY\n");
    fz_rule_diags diags;
    fz_ruleset *rs = load(dir, &diags);
    if (!rs) fz_rule_diags_print(&diags, stderr);
    ASSERT(rs != NULL);
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_TEXT_FLAGS, FZ_VIEW_RAW));
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_TEXT_NUMBERS, FZ_VIEW_RAW));
    fz_ruletest_summary sum;
    char err[256];
    int rc = fz_ruletest_run(rs, &diags, &sum, err, sizeof(err));
    if (rc != 0) fz_rule_diags_print(&diags, stderr);
    ASSERT_EQ_I64(rc, 0);
    ASSERT_EQ_U64(sum.examples, 11);
    ASSERT_EQ_U64(sum.failed, 0);
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
}

/* The rule file body (after the rule's id, category and severity) must be
 * refused with msg at line. */
static void refused(const char *body, unsigned line, const char *msg, int at) {
    const char *dir = fz_test_tmpdir();
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), "rules:\n  - id: t.x\n    category: c\n    severity: low\n%s",
             body);
    fz_test_write_str(dir, "t.yaml", yaml);
    fz_rule_diags diags;
    if (load(dir, &diags) != NULL) fz_test_fail(__FILE__, at, "rules accepted");
    int found = 0;
    for (size_t i = 0; i < diags.n; i++)
        found |= diags.v[i].line == line && strstr(diags.v[i].msg, msg) != NULL;
    if (!found) {
        fz_rule_diags_print(&diags, stderr);
        fz_test_fail(__FILE__, at, "no error at line %u saying '%s'", line, msg);
    }
    fz_rule_diags_free(&diags);
}

TEST_IMPL(textfacts_rules_errors) {
    refused("    patterns:\n"
            "      - {name: n, fields: [text_numbers], view: normalized, pattern: '^1'}\n",
            6, "term 'n': text_numbers has the raw view only", __LINE__);
    refused("    fields: [text_flags]\n"
            "    pattern: 'han'\n"
            "    tests:\n"
            "      should_match:\n"
            "        - {text_flags: han}\n",
            9, "field 'text_flags' is derived from the text", __LINE__);
    refused("    fields: [text_flag]\n"
            "    pattern: 'han'\n",
            5, "text_flags, text_numbers)", __LINE__);
}
