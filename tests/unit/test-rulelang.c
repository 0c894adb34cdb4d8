/*
 * test-rulelang.c - what the rule language means once compiled: boolean
 * conditions (within a field and across fields), lists in each match mode
 * (against a naive oracle), shadow and disabled rules, raw versus
 * normalised views, compiled files (round trip, refusal of a stale,
 * foreign or damaged file) and the embedded examples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "artifact.h"
#include "matcher.h"
#include "norm.h"
#include "ruletest.h"
#include "rules.h"
#include "skel.h"
#include "test.h"

/* Scan text/from/to (NULL = absent); returns the matches. */
static fz_matches scan(fz_matcher *m, const char *text, const char *from, const char *to) {
    static char nb[FZ_FIELD_COUNT][4096], st[4096], sb[8192];
    const char *in[FZ_FIELD_COUNT] = {text, from, to};
    fz_views v;
    memset(&v, 0, sizeof(v));
    for (int f = 0; f < FZ_FIELD_COUNT; f++) {
        if (!in[f]) continue;
        size_t n = strlen(in[f]);
        v[f][FZ_VIEW_RAW] = (fz_str){in[f], n};
        size_t k =
            f == FZ_FIELD_TEXT ? fz_norm_text(in[f], n, nb[f]) : fz_norm_number(in[f], n, nb[f]);
        v[f][FZ_VIEW_NORM] = (fz_str){nb[f], k};
        if (f == FZ_FIELD_TEXT)
            v[f][FZ_VIEW_SKEL] = (fz_str){sb, fz_skel_text(in[f], n, st, sb, sizeof(sb))};
    }
    fz_matches mt;
    ASSERT(fz_matcher_scan(m, &v, &mt) >= 0);
    return mt;
}

static int has(const fz_matches *mt, uint32_t idx) {
    for (int i = 0; i < mt->n; i++)
        if (mt->rules[i] == idx) return 1;
    return 0;
}

static fz_matcher *matcher(const fz_ruleset *rs) {
    char err[256];
    fz_matcher *m = fz_matcher_new(rs, err, sizeof(err));
    if (!m) fz_test_fail(__FILE__, __LINE__, "%s", err);
    return m;
}

TEST_IMPL(rulelang_condition) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "c.yaml",
                      "rules:\n"
                      "  - id: c.bank-link\n"
                      "    category: impersonate_bank\n"
                      "    severity: high\n"
                      "    patterns:\n"
                      "      - {name: bank, pattern: '(银行|bank)'}\n"
                      "      - {name: link, pattern: 'https?://'}\n"
                      "      - {name: official, pattern: '95588'}\n"
                      "    condition: bank and link and not official\n"
                      "  - id: c.cross-field\n"
                      "    category: known_number\n"
                      "    severity: critical\n"
                      "    patterns:\n"
                      "      - {name: refund, pattern: '退款'}\n"
                      "      - {name: sender, pattern: '^\\+86170', fields: [from], view: raw}\n"
                      "    condition: refund and sender\n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    fz_matcher *m = matcher(rs);
    fz_matches mt = scan(m, "【银行】点击 http://x.cn 解冻", NULL, NULL);
    ASSERT(has(&mt, 0));
    mt = scan(m, "【银行】点击 http://x.cn 或致电95588", NULL, NULL); /* not official */
    ASSERT(!has(&mt, 0));
    mt = scan(m, "【银行】您的账户异常", NULL, NULL); /* no link */
    ASSERT(!has(&mt, 0));
    mt = scan(m, "http://x.cn", NULL, NULL);
    ASSERT_EQ_I64(mt.n, 0);
    /* across fields: the text and the sender must both agree */
    mt = scan(m, "您的退款已到账", "+8617012345678", NULL);
    ASSERT(has(&mt, 1));
    mt = scan(m, "您的退款已到账", "+8613912345678", NULL);
    ASSERT(!has(&mt, 1));
    mt = scan(m, "hello", "+8617012345678", NULL);
    ASSERT(!has(&mt, 1));
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

/* Naive oracle for one literal in one mode. */
static int lit_in(const char *hay, const char *lit, int mode) {
    size_t hn = strlen(hay), ln = strlen(lit);
    for (size_t i = 0; i + ln <= hn; i++) {
        if (memcmp(hay + i, lit, ln) != 0) continue;
        size_t e = i + ln;
#define WORDC(c)                                                                                   \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || (c) == '_' || (c) == '-')
        switch (mode) {
        case FZ_LIT_CONTAINS: return 1;
        case FZ_LIT_WORD:
            if ((i == 0 || !WORDC(hay[i - 1])) && (e == hn || !WORDC(hay[e]))) return 1;
            break;
        case FZ_LIT_EQUALS:
            if (i == 0 && e == hn) return 1;
            break;
        case FZ_LIT_PREFIX:
            if (i == 0) return 1;
            break;
        case FZ_LIT_SUFFIX:
            if (e == hn) return 1;
            break;
        }
    }
    return 0;
}

TEST_IMPL(rulelang_list_modes_oracle) {
    static const char *const modes[] = {"contains", "word", "equals", "prefix", "suffix"};
    static const char *const lits[] = {"ab.c", "b-d", "cd", "a", "xy.z", "q"};
    const char *dir = fz_test_tmpdir();
    char list[256] = "# test list\n\n";
    for (size_t i = 0; i < FZ_ARRAY_LEN(lits); i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "  %s  \n", lits[i]);
    fz_test_write_str(dir, "lists/l.txt", list);
    char yaml[4096] = "rules:\n";
    for (size_t k = 0; k < FZ_ARRAY_LEN(modes); k++)
        snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
                 "  - {id: l.%s, category: c, severity: low, view: raw, list: lists/l.txt, "
                 "list_match: %s}\n",
                 modes[k], modes[k]);
    fz_test_write_str(dir, "l.yaml", yaml);
    fz_ruleset *rs = fz_test_load_rules(dir);
    ASSERT_EQ_U64(fz_ruleset_literal_count(rs), FZ_ARRAY_LEN(modes) * FZ_ARRAY_LEN(lits));
    fz_matcher *m = matcher(rs);
    static const char alpha[] = "abcdxyzq.-_ ";
    for (int it = 0; it < 20000; it++) {
        char t[32];
        size_t n = 1 + fz_test_rand_below(12);
        for (size_t i = 0; i < n; i++) t[i] = alpha[fz_test_rand_below(sizeof(alpha) - 1)];
        t[n] = '\0';
        fz_test_context("text \"%s\"", t);
        fz_matches mt = scan(m, t, NULL, NULL);
        for (size_t k = 0; k < FZ_ARRAY_LEN(modes); k++) {
            int want = 0;
            for (size_t i = 0; i < FZ_ARRAY_LEN(lits) && !want; i++)
                want = lit_in(t, lits[i], (int)k);
            ASSERT_EQ_I64(has(&mt, (uint32_t)k), want);
        }
    }
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

TEST_IMPL(rulelang_status_and_views) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "s.yaml",
                      "rules:\n"
                      "  - {id: s.on, category: c, severity: low, pattern: '微信'}\n"
                      "  - {id: s.shadow, category: c, severity: low, pattern: '微信', "
                      "status: shadow}\n"
                      "  - {id: s.off, category: c, severity: low, pattern: '微信', "
                      "status: disabled}\n"
                      "  - {id: s.raw, category: c, severity: low, pattern: '微信', view: raw}\n"
                      "  - {id: s.num, category: c, severity: low, fields: [from], "
                      "view: normalized, pattern: '^86170'}\n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    ASSERT_EQ_U64(fz_ruleset_count(rs), 5);
    ASSERT_EQ_U64(fz_ruleset_pattern_count(rs), 4); /* the disabled rule is not compiled */
    fz_matcher *m = matcher(rs);
    fz_matches mt = scan(m, "加微 信", NULL, NULL); /* spaced: only the normalised view */
    ASSERT_EQ_I64(mt.n, 1);
    ASSERT_EQ_U64(mt.rules[0], 0);
    ASSERT_EQ_I64(mt.nshadow, 1);
    ASSERT_EQ_U64(mt.shadow[0], 1);
    mt = scan(m, "加微信", NULL, NULL); /* both views */
    ASSERT_EQ_I64(mt.n, 2);
    ASSERT(has(&mt, 0) && has(&mt, 3));
    mt = scan(m, "x", "+86 170-1234", NULL); /* digits-only view of a number */
    ASSERT_EQ_I64(mt.n, 1);
    ASSERT_EQ_U64(mt.rules[0], 4);
    const fz_rule_counters *c = fz_matcher_counters(m);
    ASSERT_EQ_U64(c[0].matches, 2);
    ASSERT_EQ_U64(c[1].matches, 2); /* shadow matches are counted */
    ASSERT_EQ_U64(c[2].matches, 0);
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

static const char compiled_yaml[] =
    "rules:\n"
    "  - {id: k.frozen, category: c, severity: high, pattern: '(账户|银行卡).{0,8}冻结'}\n"
    "  - {id: k.domain, category: c, severity: high, list: d.txt, list_match: word}\n"
    "  - {id: k.num, category: c, severity: low, fields: [from], view: raw, "
    "pattern: '^\\+86170'}\n";

TEST_IMPL(rulelang_compiled_roundtrip) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "k.yaml", compiled_yaml);
    fz_test_write_str(dir, "d.txt", "evil.example\nbad.test   \n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    char path[4096], err[512];
    snprintf(path, sizeof(path), "%s/out.fzr", fz_test_tmpdir());
    ASSERT(fz_ruleset_save(rs, path, NULL, err, sizeof(err)) == 0);

    fz_rule_diags diags = {0};
    fz_ruleset *back = fz_ruleset_load_compiled(path, fz_ruleset_version(rs), NULL, &diags);
    if (!back) fz_rule_diags_print(&diags, stderr);
    ASSERT(back != NULL);
    /* same sources; the version names the whole artifact */
    ASSERT_STR_EQ(fz_ruleset_source_version(back), fz_ruleset_version(rs));
    ASSERT(strcmp(fz_ruleset_version(back), fz_ruleset_version(rs)) != 0);
    ASSERT_EQ_U64(fz_ruleset_count(back), 3);
    ASSERT_EQ_U64(fz_ruleset_pattern_count(back), fz_ruleset_pattern_count(rs));
    fz_matcher *m1 = matcher(rs), *m2 = matcher(back);
    const char *texts[] = {"您的账户已被冻结", "go to x.bad.test now", "notbad.test", "hi"};
    for (size_t i = 0; i < FZ_ARRAY_LEN(texts); i++) {
        fz_matches a = scan(m1, texts[i], "+8617000000000", NULL);
        fz_matches b = scan(m2, texts[i], "+8617000000000", NULL);
        ASSERT_EQ_I64(a.n, b.n);
        ASSERT(memcmp(a.rules, b.rules, (size_t)a.n * sizeof(uint32_t)) == 0);
    }
    fz_matcher_destroy(m1);
    fz_matcher_destroy(m2);
    fz_ruleset_unref(back);
    fz_rule_diags_free(&diags);

    /* built from other rules: refused, saying so */
    back = fz_ruleset_load_compiled(path, "rs-0000000000000000", NULL, &diags);
    ASSERT(back == NULL);
    ASSERT_CONTAINS(diags.v[0].msg, "the rules changed since it was compiled");
    fz_rule_diags_free(&diags);

    /* damaged: truncated */
    FILE *fp = fopen(path, "r+b");
    ASSERT(fp != NULL);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    ASSERT(ftruncate(fileno(fp), n / 2) == 0);
    fclose(fp);
    back = fz_ruleset_load_compiled(path, NULL, NULL, &diags);
    ASSERT(back == NULL);
    ASSERT(diags.errors >= 1);
    fz_rule_diags_free(&diags);

    /* laid out by an earlier fanzha (body layout 1: the prefilter before
     * literal-set and shared regexes; 2: confirm groups of 16 regexes; 3:
     * text_flags tokens and text_numbers length tests in databases; 4:
     * end-anchored length tests in databases):
     * refused, asking for a recompile */
    size_t alen = 0;
    uint8_t *art = fz_ruleset_artifact_bytes(rs, 0, NULL, &alen);
    ASSERT(art != NULL && alen > FZ_ARTIFACT_HEADER_BYTES);
    uint8_t *body = art + FZ_ARTIFACT_HEADER_BYTES;
    size_t blen = alen - FZ_ARTIFACT_HEADER_BYTES;
    uint32_t layout;
    memcpy(&layout, body, 4);
    ASSERT_EQ_U64(layout, 5);
    for (layout = 1; layout <= 4; layout++) {
        memcpy(body, &layout, 4);
        size_t olen = 0;
        uint8_t *old = fz_artifact_build(body, blen, 0, NULL, &olen);
        ASSERT(old != NULL);
        back = fz_ruleset_load_artifact("old.fzr", old, olen, NULL, NULL, &diags);
        ASSERT(back == NULL);
        ASSERT_CONTAINS(diags.v[0].msg, "compiled by an earlier fanzha");
        fz_rule_diags_free(&diags);
        free(old);
    }
    free(art);

    /* not a compiled ruleset at all */
    const char *junk = fz_test_write_str(fz_test_tmpdir(), "junk.fzr", "rules:\n");
    back = fz_ruleset_load_compiled(junk, NULL, NULL, &diags);
    ASSERT(back == NULL);
    ASSERT_CONTAINS(diags.v[0].msg, "not a compiled ruleset");
    fz_rule_diags_free(&diags);
    fz_ruleset_unref(rs);
}

TEST_IMPL(rulelang_examples) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "t.yaml",
                      "rules:\n"                                          /* 1 */
                      "  - id: t.ok\n"                                    /* 2 */
                      "    category: c\n"                                 /* 3 */
                      "    severity: low\n"                               /* 4 */
                      "    pattern: '安全账户'\n"                         /* 5 */
                      "    tests:\n"                                      /* 6 */
                      "      should_match: ['请转入安全 账户']\n"         /* 7 */
                      "      should_not_match: ['您的账户安全']\n"        /* 8 */
                      "  - id: t.bad\n"                                   /* 9 */
                      "    category: c\n"                                 /* 10 */
                      "    severity: low\n"                               /* 11 */
                      "    fields: [from]\n"                              /* 12 */
                      "    view: raw\n"                                   /* 13 */
                      "    pattern: '^\\+86170'\n"                        /* 14 */
                      "    tests:\n"                                      /* 15 */
                      "      should_match:\n"                             /* 16 */
                      "        - {from: '+8617000000000'}\n"              /* 17 */
                      "        - {from: '+8613900000000', text: 'x'}\n"); /* 18 */
    fz_ruleset *rs = fz_test_load_rules(dir);
    fz_rule_diags diags = {0};
    fz_ruletest_summary sum;
    char err[256];
    ASSERT_EQ_I64(fz_ruletest_run(rs, &diags, &sum, err, sizeof(err)), 1);
    ASSERT_EQ_U64(sum.examples, 4);
    ASSERT_EQ_U64(sum.failed, 1);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_EQ_U64(diags.v[0].line, 18);
    ASSERT_CONTAINS(diags.v[0].msg, "t.bad");
    ASSERT_CONTAINS(diags.v[0].msg, "did not match");
    fz_rule_diags_free(&diags);
    fz_ruleset_unref(rs);
}
