/*
 * test-skel.c - the skeleton view (skel.h): known evasions and plain text,
 * every code point against ICU's own skeleton, the invariants the
 * prefilter relies on, truncation at the buffer's cap; and the view in the
 * rule language (matching, literals in lists, the error for from/to).
 */
#include <stdio.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "common.h"
#include "matcher.h"
#include "norm.h"
#include "rules.h"
#include "skel.h"
#include "test.h"
#include "utf8.h"

static void init_skel(void) {
    char err[256];
    if (fz_skel_init(err, sizeof(err)) != 0) fz_test_fail(__FILE__, __LINE__, "%s", err);
}

static const char *skel(const char *in) {
    static char tmp[4096], out[8192];
    size_t k = fz_skel_text(in, strlen(in), tmp, out, sizeof(out) - 1);
    out[k] = '\0';
    return out;
}

TEST_IMPL(skel_golden) {
    init_skel();
    static const char *const cases[][2] = {
        /* homoglyphs: Cyrillic, Greek, a capital I for l, full-width, math */
        {"\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l", "paypal"}, /* раураl */
        {"\xce\xa1\xce\x91\xce\xa5\xce\xa1\xce\x91L", "paypal"}, /* ΡΑΥΡΑL */
        {"PayPaI", "paypal"},
        {"AppIe ID", "apple id"},
        {"\xef\xbd\x90\xef\xbd\x81\xef\xbd\x99\xef\xbd\x90\xef\xbd\x81\xef\xbd\x8c", "paypal"},
        {"\xf0\x9d\x90\x8f\xf0\x9d\x90\x9a\xf0\x9d\x90\xb2\xf0\x9d\x90\x8f\xf0\x9d\x90\x9a\xf0\x9d"
         "\x90\x88",
         "paypal"},                                                       /* bold PayPaI */
        {"\xd0\x92\xd0\x86\xd0\xa2\xd0\xa1\xd0\x9e\xd0\x86N", "bitcoin"}, /* ВІТСОІN */
        {"\xef\xac\x81nance", "finance"},                                 /* ﬁ ligature */
        {"c|ick", "click"},
        /* digits and symbols for letters inside a word with a letter */
        {"BL0CKED", "blocked"},
        {"acc0unt", "account"},
        {"P4YPAL", "paypal"},
        {"0nline", "online"},
        {"Cl1ck h3re", "cllck here"},
        {"p@y pr1ze 5ecur1ty", "pay prlze securlty"},
        {"$ign in", "sign in"},
        /* numbers keep their digits */
        {"call 95588", "call 95588"},
        {"$100 and 20% off, code 7788-1234", "$100 and 20% off, code 7788-1234"},
        {"+86 138 0013 8000", "86 138 0013 8000"}, /* leading + goes (norm.h) */
        /* plain text is plain text */
        {"VERIFY your account", "verify your account"},
        {"Important: Click here", "important: click here"},
        {"scam team", "scam team"},
        /* CJK passes through and ends a word (the normaliser drops the spaces) */
        {"\xe5\xbe\xae\xe4\xbf\xa1 PayPaI \xe8\xbd\xac\xe8\xb4\xa6 0nline",
         "\xe5\xbe\xae\xe4\xbf\xa1paypal\xe8\xbd\xac\xe8\xb4\xa6online"},
        {"\xe5\xbe\xae\xe4\xbf\xa1"
         "0",
         "\xe5\xbe\xae\xe4\xbf\xa1"
         "0"},                                                    /* 微信0: no letter */
        {"\xe8\xa1\x9b\xe6\x98\x9f", "\xe5\x8d\xab\xe6\x98\x9f"}, /* 衛星 -> 卫星 */
        {"\xe3\x81\x82\xe3\x82\xa2\xea\xb0\x80", "\xe3\x81\x82\xe3\x82\xa2\xea\xb0\x80"},
        /* zero-width characters go first */
        {"Pay\xe2\x80\x8bPaI", "paypal"},
        /* letters spaced out: four or more, one spacer apart, written together */
        {"please v e r i f y your a c c o u n t", "please verify your account"},
        {"V.E.R.I.F.Y now", "verify now"},
        {"(a-c-c-o-u-n-t)", "(account)"},
        {"p_a_y*p_a_l", "paypal"},
        {"v  e  r  i", "veri"}, /* the normaliser collapses white space first */
        {"x x x x", "xxxx"},
        {"v e r", "v e r"},           /* three stay apart */
        {"I m a good", "i m a good"}, /* three, then a word */
        {"v e r i4", "v e r ia"},     /* the last is not alone: a word "i4" */
        {"\xe8\xaf\xb7 v e r i f y", "\xe8\xaf\xb7verify"},
        {"", ""},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(cases); i++) {
        fz_test_context("case %zu: %s", i, cases[i][0]);
        ASSERT_STR_EQ(skel(cases[i][0]), cases[i][1]);
    }
}

/* ICU's skeleton of one code point as skel.h step 2 defines it. */
static size_t icu_skeleton(const USpoofChecker *sc, uint32_t cp, char *out, size_t cap) {
    UChar in[2], sk[64];
    int32_t il = 0, n = 0;
    U16_APPEND_UNSAFE(in, il, (UChar32)cp);
    UErrorCode e = U_ZERO_ERROR;
    int32_t kl = uspoof_getSkeleton(sc, 0, in, il, sk, 64, &e);
    ASSERT(U_SUCCESS(e));
    char u8[256];
    u_strToUTF8(u8, sizeof(u8), &n, sk, kl, &e);
    ASSERT(U_SUCCESS(e));
    size_t o = 0;
    for (int32_t i = 0; i < n && o < cap; i++) {
        char c = (char)(u8[i] >= 'A' && u8[i] <= 'Z' ? u8[i] + 32 : u8[i]);
        if (c == 'n' && o && out[o - 1] == 'r')
            out[o - 1] = 'm';
        else
            out[o++] = c;
    }
    return o;
}

/* Every lower-case letter outside ASCII and CJK, alone (whose skeleton
 * has no digit that the word rule would swap): the view is ICU's skeleton
 * of it, lower-cased, rn written m. */
TEST_IMPL(skel_matches_icu) {
    init_skel();
    UErrorCode e = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&e);
    ASSERT(U_SUCCESS(e));
    size_t checked = 0, mapped = 0;
    for (uint32_t cp = 0x80; cp < 0x20000; cp++) {
        if ((cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xFAFF) ||
            (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF61 && cp <= 0xFFDC))
            continue;
        if (!u_islower((UChar32)cp) || !u_isalpha((UChar32)cp)) continue;
        char want[64], in[8], got[128];
        size_t wn = icu_skeleton(sc, cp, want, sizeof(want));
        if (wn > 31 || memchr(want, '0', wn) || memchr(want, '1', wn) || memchr(want, '3', wn) ||
            memchr(want, '4', wn) || memchr(want, '5', wn) || memchr(want, '7', wn) ||
            memchr(want, '8', wn))
            continue;
        size_t n = fz_utf8_encode(cp, in);
        size_t k = fz_skel_map(in, n, got, sizeof(got));
        fz_test_context("U+%04X", (unsigned)cp);
        ASSERT_EQ_U64(k, wn);
        ASSERT(memcmp(got, want, wn) == 0);
        checked++;
        mapped += wn != n || memcmp(want, in, n) != 0;
    }
    uspoof_close(sc);
    ASSERT(checked > 1000);
    ASSERT(mapped > 100);
}

/* fz_skel_looks_latin() against ICU directly, for every code point outside
 * ASCII and CJK: a letter whose skeleton (lower-cased, rn written m) is
 * one or two ASCII letters other than itself, or an upper-case letter
 * whose skeleton is l. These are the characters a disguised text mixes
 * with Latin letters (textfacts.h). */
TEST_IMPL(skel_looks_latin_matches_icu) {
    init_skel();
    UErrorCode e = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&e);
    ASSERT(U_SUCCESS(e));
    size_t found = 0;
    for (uint32_t cp = 0x80; cp < 0x110000; cp++) {
        if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x2E80 && cp <= 0x9FFF) ||
            (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
            (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF61 && cp <= 0xFFDC) ||
            (cp >= 0x20000 && cp <= 0x3FFFF))
            continue;
        int8_t type = u_charType((UChar32)cp);
        int want = 0;
        if (type != U_UNASSIGNED && type != U_PRIVATE_USE_CHAR && u_isalpha((UChar32)cp)) {
            char k[64];
            size_t kn = icu_skeleton(sc, cp, k, sizeof(k));
            int ascii = kn >= 1 && kn <= 2;
            for (size_t i = 0; i < kn; i++) ascii &= k[i] >= 'a' && k[i] <= 'z';
            want = ascii || (kn == 1 && k[0] == 'l' && u_isupper((UChar32)cp));
        }
        fz_test_context("U+%04X", (unsigned)cp);
        ASSERT_EQ_I64(fz_skel_looks_latin(cp), want);
        found += (size_t)want;
    }
    uspoof_close(sc);
    /* Cyrillic a, Greek capital omicron, ae, the fi ligature, Cyrillic I */
    ASSERT(fz_skel_looks_latin(0x430) && fz_skel_looks_latin(0x39F) && fz_skel_looks_latin(0xE6) &&
           fz_skel_looks_latin(0xFB01) && fz_skel_looks_latin(0x406));
    ASSERT(!fz_skel_looks_latin(0xE9) && !fz_skel_looks_latin(0x436) && !fz_skel_looks_latin('a'));
    ASSERT(found > 300);
}

/* A capital I after a lower-case ASCII letter, and nothing else. */
TEST_IMPL(skel_capital_i) {
    init_skel();
    static const struct {
        const char *text;
        int want;
    } g[] = {{"PayPaI", 1}, {"AppIe ID", 1}, {"I am here", 0}, {"VERIFY", 0},
             {"iPhone", 0}, {"ok. I", 0},    {"", 0},          {"aI", 1}};
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
        fz_test_context("'%s'", g[i].text);
        ASSERT_EQ_I64(fz_skel_capital_i(g[i].text, strlen(g[i].text)), g[i].want);
    }
}

/* No code point, alone or in words, leaves upper-case ASCII; invalid
 * bytes are copied unchanged. */
TEST_IMPL(skel_no_upper_ascii) {
    init_skel();
    char in[32], tmp[32], out[64];
    for (uint32_t cp = 1; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp < 0xE000) continue;
        static const char *const ctx[][2] = {
            {"", ""}, {"a", "b"}, {"\xe4\xb8\xad ", " Q"}, {"X0", "1Y"}};
        for (size_t c = 0; c < FZ_ARRAY_LEN(ctx); c++) {
            size_t n = (size_t)snprintf(in, sizeof(in), "%s", ctx[c][0]);
            n += fz_utf8_encode(cp, in + n);
            n += (size_t)snprintf(in + n, sizeof(in) - n, "%s", ctx[c][1]);
            size_t k = fz_skel_text(in, n, tmp, out, sizeof(out));
            for (size_t i = 0; i < k; i++)
                if (out[i] >= 'A' && out[i] <= 'Z')
                    fz_test_fail(__FILE__, __LINE__, "U+%04X gives upper-case ASCII", (unsigned)cp);
        }
    }
    for (unsigned b = 0x80; b < 0x100; b++) {
        in[0] = 'a';
        in[1] = (char)b;
        in[2] = '0';
        size_t k = fz_skel_map(in, 3, out, sizeof(out));
        ASSERT_EQ_U64(k, 3);
        ASSERT_EQ_I64((unsigned char)out[1], b);
        ASSERT_EQ_I64(out[2], '0'); /* the invalid byte ended the word "a" */
    }
    /* a truncated sequence at the end */
    ASSERT_EQ_U64(fz_skel_map("ab\xd1", 3, out, sizeof(out)), 3);
    ASSERT(memcmp(out, "ab\xd1", 3) == 0);
}

/* The view stops before the first character that does not fit, never in
 * the middle of one, and still swaps the digits of the word it cut. */
TEST_IMPL(skel_truncation) {
    init_skel();
    char out[64];
    for (size_t cap = 0; cap <= 12; cap++) {
        memset(out, 0, sizeof(out));
        size_t k = fz_skel_map("acc0unt \xef\xac\x81n \xd0\xb0", 16, out, cap);
        static const char full[] = "account fin a";
        ASSERT(k <= cap);
        /* the ligature fi is two bytes out or none */
        if (cap == 9) ASSERT_EQ_U64(k, 8);
        ASSERT(memcmp(out, full, k) == 0);
    }
    char tmp[8];
    ASSERT_EQ_U64(fz_skel_map("0", 1, out, 0), 0);
    /* a skeleton longer than its character: U+01C6 (2 bytes) -> d z U+030C */
    ASSERT_EQ_U64(fz_skel_text("\xc7\x86", 2, tmp, out, sizeof(out)), 4);
    ASSERT(memcmp(out, "dz\xcc\x8c", 4) == 0);
    ASSERT_EQ_U64(fz_skel_text("\xc7\x86", 2, tmp, out, 3), 0); /* all or nothing */
    ASSERT_STR_EQ(skel("\xef\xac\x83"), "ffi");
    /* letters spaced out: the run whole or not at all */
    ASSERT_EQ_U64(fz_skel_map("v e r i f y", 11, out, 5), 0);
    ASSERT_EQ_U64(fz_skel_map("v e r i f y", 11, out, 6), 6);
    ASSERT(memcmp(out, "verify", 6) == 0);
}

static fz_matches scan_text(fz_matcher *m, const char *text) {
    static char nb[4096], st[4096], sb[8192];
    fz_views v;
    memset(&v, 0, sizeof(v));
    size_t n = strlen(text);
    v[FZ_FIELD_TEXT][FZ_VIEW_RAW] = (fz_str){text, n};
    v[FZ_FIELD_TEXT][FZ_VIEW_NORM] = (fz_str){nb, fz_norm_text(text, n, nb)};
    v[FZ_FIELD_TEXT][FZ_VIEW_SKEL] = (fz_str){sb, fz_skel_text(text, n, st, sb, sizeof(sb))};
    fz_matches mt;
    ASSERT(fz_matcher_scan(m, &v, &mt) >= 0);
    return mt;
}

/* A regex with factors (the prefilter), a list of literals and a term
 * that asks for the view itself. */
TEST_IMPL(skel_rules) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "k.yaml",
                      "rules:\n"
                      "  - {id: k.brand, category: c, severity: high, view: skeleton,\n"
                      "     pattern: '(paypal|apple).{0,20}(blocked|suspended|verify)'}\n"
                      "  - {id: k.list, category: c, severity: low, view: skeleton, list: w.txt,\n"
                      "     list_match: word}\n"
                      "  - id: k.term\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    patterns:\n"
                      "      - {name: a, pattern: 'cl[il]ck', view: skeleton}\n"
                      "      - {name: b, pattern: 'here'}\n"
                      "    condition: a and b\n");
    fz_test_write_str(dir, "w.txt", "Acc0unt Locked\nwin a prize\n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_TEXT, FZ_VIEW_SKEL));
    ASSERT(!fz_ruleset_uses(rs, FZ_FIELD_FROM, FZ_VIEW_SKEL));
    char err[256];
    fz_matcher *m = fz_matcher_new(rs, err, sizeof(err));
    if (!m) fz_test_fail(__FILE__, __LINE__, "%s", err);
    static const struct {
        const char *text;
        int brand, list, term;
    } cases[] = {
        {"Your PayPaI account is BL0CKED", 1, 0, 0},
        {"\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0l: v\xd0\xb5rify now", 1, 0, 0},
        {"P4YPAL SUSPENDED", 1, 0, 0},
        {"your paypal receipt", 0, 0, 0},
        {"acc0unt l0cked, Cl1ck h3re", 0, 1, 0}, /* term b reads the normalised view */
        {"Cl1ck here now", 0, 0, 1},
        {"ACCOUNT LOCKED", 0, 1, 0},
        {"w1n a pr1ze", 0, 0, 0}, /* 1 reads l: "wln a prlze" */
        {"win a prize today", 0, 1, 0},
        {"call 95588 click here", 0, 0, 1},
        {"accountlocked", 0, 0, 0},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(cases); i++) {
        fz_test_context("case %zu: %s", i, cases[i].text);
        fz_matches mt = scan_text(m, cases[i].text);
        int got[3] = {0, 0, 0};
        for (int j = 0; j < mt.n; j++) got[mt.rules[j]] = 1;
        ASSERT_EQ_I64(got[0], cases[i].brand);
        ASSERT_EQ_I64(got[1], cases[i].list);
        ASSERT_EQ_I64(got[2], cases[i].term);
    }
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

/* skeleton is for text: asked for on from/to, the load fails naming the
 * file, the line and the term. */
TEST_IMPL(skel_rules_from_to_rejected) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "n.yaml",
                      "rules:\n"
                      "  - id: n.sender\n"
                      "    category: c\n"
                      "    severity: low\n"
                      "    patterns:\n"
                      "      - {name: who, pattern: '^86170', fields: [from], view: skeleton}\n");
    fz_rule_diags diags;
    memset(&diags, 0, sizeof(diags));
    fz_ruleset *rs = fz_ruleset_load(dir, NULL, &diags);
    ASSERT(rs == NULL);
    ASSERT(diags.errors >= 1);
    int found = 0;
    for (size_t i = 0; i < diags.n; i++) {
        const fz_rule_diag *d = &diags.v[i];
        if (strstr(d->msg, "view 'skeleton' is for the text field only") &&
            strstr(d->msg, "'who'") && strstr(d->file, "n.yaml") && d->line == 6)
            found = 1;
    }
    if (!found) fz_rule_diags_print(&diags, stderr);
    ASSERT(found);
    fz_rule_diags_free(&diags);
}
