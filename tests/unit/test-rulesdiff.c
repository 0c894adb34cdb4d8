/*
 * test-rulesdiff.c - `fanzha rules diff`'s parts: fz_pipeline_rematch()
 * against a pipeline bound to the second ruleset (the oracle), the diff's
 * counts against a naive recount by rule id and category, the rule change
 * classes, how examples are cleaned, and which git revisions are accepted.
 */
#include <stdlib.h>

#include "gitrules.h"
#include "pipeline.h"
#include "privacy.h"
#include "rules.h"
#include "rulesdiff.h"
#include "test.h"

static const char *OLD_YAML =
    "rules:\n"
    "  - {id: a.bank, rev: 1, category: bank, severity: high, pattern: '(银行卡|账户).{0,8}冻结'}\n"
    "  - {id: a.police, rev: 1, category: police, severity: critical, pattern: '安全账户'}\n"
    "  - {id: a.prize, rev: 1, category: prize, severity: medium, flags: [caseless],\n"
    "     pattern: '\\bprize\\b'}\n"
    "  - {id: a.num, rev: 1, category: number, severity: critical, fields: [from, to],\n"
    "     pattern: '^\\+8617000'}\n"
    "  - {id: a.refund, rev: 1, category: service, severity: medium, pattern: '退款'}\n"
    "  - {id: a.loan, rev: 1, category: loan, severity: low, pattern: '贷款'}\n"
    "  - {id: a.link, rev: 1, category: bank, severity: low, pattern: 'http'}\n";

static const char *NEW_YAML =
    "rules:\n"
    "  - {id: a.bank, rev: 2, category: bank, severity: high,\n"
    "     pattern: '(银行卡|账户|信用卡).{0,8}(冻结|异常)'}\n"
    "  - {id: a.police, rev: 2, category: police, severity: critical, pattern: '安全账户'}\n"
    "  - {id: a.prize, rev: 1, category: prize, severity: medium, flags: [caseless],\n"
    "     pattern: '\\b(prize|reward)\\b'}\n"
    "  - {id: a.num, rev: 1, category: number, severity: critical, fields: [from, to],\n"
    "     pattern: '^\\+8617000'}\n"
    "  - {id: a.refund, rev: 2, category: service, severity: medium, status: shadow,\n"
    "     pattern: '退款'}\n"
    "  - {id: a.invest, rev: 1, category: invest, severity: high, pattern: '稳赚'}\n"
    "  - {id: a.link, rev: 1, category: bank, severity: low, view: skeleton, pattern: 'http'}\n";

static const char *const WORDS[] = {"银行卡", "账户",     "信用卡", "冻结", "异常", "安全账户",
                                    "PRIZE",  "reward",   "prize",  "退款", "贷款", "稳赚",
                                    "http",   "ｈｔｔｐ", "你好",   " ",    "，",   "x"};

/* A random event line into buf: sms mostly, some calls. */
static size_t random_event(char *buf, size_t size, int i) {
    int call = fz_test_rand_below(5) == 0;
    const char *from = fz_test_rand_below(4) == 0 ? "+8617000123456" : "+8613800001111";
    if (call)
        return (size_t)snprintf(buf, size,
                                "{\"id\":\"c%d\",\"ts\":%d,\"type\":\"call\",\"from\":\"%s\","
                                "\"to\":\"+8613900002222\",\"duration_s\":5}",
                                i, 1000 + i, from);
    char text[512] = "";
    size_t n = 0, words = 1 + fz_test_rand_below(6);
    for (size_t k = 0; k < words; k++) {
        const char *w = WORDS[fz_test_rand_below(FZ_ARRAY_LEN(WORDS))];
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", w);
    }
    return (size_t)snprintf(buf, size,
                            "{\"id\":\"s%d\",\"ts\":%d,\"type\":\"sms\",\"from\":\"%s\","
                            "\"to\":\"+8613900002222\",\"text\":\"%s\"}",
                            i, 1000 + i, from, text);
}

typedef struct two {
    fz_ruleset *rs[2];
    fz_pipeline *p; /* bound to old; decodes */
    fz_pipeline *q; /* bound to new: the oracle of the rematch */
    fz_matcher *mn; /* new's matcher for the rematch */
} two;

static void two_open(two *t) {
    const char *d0 = fz_test_tmpdir(), *d1 = fz_test_tmpdir();
    fz_test_write_str(d0, "r.yaml", OLD_YAML);
    fz_test_write_str(d1, "r.yaml", NEW_YAML);
    t->rs[0] = fz_test_load_rules(d0);
    t->rs[1] = fz_test_load_rules(d1);
    char err[256];
    t->p = fz_pipeline_new(65536, 0, err, sizeof(err));
    t->q = fz_pipeline_new(65536, 0, err, sizeof(err));
    ASSERT(t->p && t->q);
    ASSERT(fz_pipeline_bind(t->p, t->rs[0], err, sizeof(err)) == 0);
    ASSERT(fz_pipeline_bind(t->q, t->rs[1], err, sizeof(err)) == 0);
    t->mn = fz_matcher_new(t->rs[1], err, sizeof(err));
    ASSERT(t->mn);
}

static void two_close(two *t) {
    fz_matcher_destroy(t->mn);
    fz_pipeline_destroy(t->p);
    fz_pipeline_destroy(t->q);
    fz_ruleset_unref(t->rs[0]);
    fz_ruleset_unref(t->rs[1]);
}

/* One line through both: a (old), b (the rematch with new). */
static void two_scan(two *t, const char *line, size_t n, fz_result *a, fz_result *b) {
    fz_pipeline_reset_arena(t->p);
    fz_pipeline_scan(t->p, line, n, a);
    *b = *a;
    if (a->verdict != FZ_VERDICT_INVALID) fz_pipeline_rematch(t->p, t->mn, b);
}

TEST_IMPL(rulesdiff_rematch_oracle) {
    two t;
    two_open(&t);
    static fz_result a, b, q;
    char line[2048];
    uint64_t clean_old = 0, differ = 0;
    for (int i = 0; i < 2000; i++) {
        size_t n = random_event(line, sizeof(line), i);
        fz_test_context("event %d: %s", i, line);
        two_scan(&t, line, n, &a, &b);
        clean_old += a.verdict == FZ_VERDICT_CLEAN;
        differ += a.nrules != b.nrules;
        fz_pipeline_reset_arena(t.q);
        fz_pipeline_scan(t.q, line, n, &q);
        ASSERT_EQ_I64(b.verdict, q.verdict);
        ASSERT_EQ_I64(b.nrules, q.nrules);
        for (int k = 0; k < q.nrules; k++) ASSERT_EQ_U64(b.rules[k], q.rules[k]);
        if (q.nrules) ASSERT_EQ_U64(b.primary, q.primary);
        ASSERT_EQ_I64(b.nshadow, q.nshadow);
        for (int k = 0; k < q.nshadow; k++) ASSERT_EQ_U64(b.shadow[k], q.shadow[k]);
        ASSERT_EQ_U64(b.dedup_key, q.dedup_key);
    }
    ASSERT(differ > 0); /* the rulesets disagree on some events, or the test proves nothing */
    /* the rematch does not count in the decoding pipeline's counters: they
     * are the old ruleset's alone */
    ASSERT_EQ_U64(fz_pipeline_counters(t.p)->events, 2000);
    ASSERT_EQ_U64(fz_pipeline_counters(t.p)->clean, clean_old);
    two_close(&t);
}

/* Is rule id (enabled) among r's matches in rs? */
static int matched_id(const fz_ruleset *rs, const fz_result *r, const char *id) {
    for (int k = 0; k < r->nrules; k++)
        if (!strcmp(fz_ruleset_rule(rs, r->rules[k])->id, id)) return 1;
    return 0;
}

static int matched_cat(const fz_ruleset *rs, const fz_result *r, const char *cat) {
    for (int k = 0; k < r->nrules; k++)
        if (!strcmp(fz_ruleset_rule(rs, r->rules[k])->category, cat)) return 1;
    return 0;
}

static int shadow_id(const fz_ruleset *rs, const fz_result *r, const char *id) {
    for (int k = 0; k < r->nshadow; k++)
        if (!strcmp(fz_ruleset_rule(rs, r->shadow[k])->id, id)) return 1;
    return 0;
}

/* A diff of o against n keeping `examples` of each kind. */
static fz_rulesdiff *diff_of(const fz_ruleset *o, const fz_ruleset *n, size_t examples) {
    char err[256];
    fz_diff_opts opts = {.examples = examples};
    fz_rulesdiff *d = fz_rulesdiff_new(o, n, &opts, err, sizeof(err));
    ASSERT(d);
    return d;
}

/* The rule rows of a diff of o against n, without examples. */
static const fz_diff_rule *rule_rows(const fz_ruleset *o, const fz_ruleset *n, fz_rulesdiff **d,
                                     size_t *nr) {
    *d = diff_of(o, n, 0);
    return fz_rulesdiff_rules(*d, nr);
}

#define NEV 1500

TEST_IMPL(rulesdiff_counts_oracle) {
    two t;
    two_open(&t);
    fz_rulesdiff *d = diff_of(t.rs[0], t.rs[1], 2);
    static fz_result a[NEV], b[NEV];
    static char lines[NEV][1024];
    uint64_t invalid = 0;
    for (int i = 0; i < NEV; i++) {
        size_t n = random_event(lines[i], sizeof(lines[i]), i);
        if (i % 97 == 0) n = (size_t)snprintf(lines[i], sizeof(lines[i]), "{not json %d", i);
        /* the results are kept for the recount: views into lines[i] only */
        two_scan(&t, lines[i], n, &a[i], &b[i]);
        invalid += a[i].verdict == FZ_VERDICT_INVALID;
        fz_source src = {.file = "ev", .line = (uint64_t)i + 1};
        ASSERT(fz_rulesdiff_add(d, &a[i], &b[i], &src) == 0);
    }
    const fz_diff_totals *tot = fz_rulesdiff_totals(d);
    ASSERT_EQ_U64(tot->events, NEV);
    ASSERT_EQ_U64(tot->invalid, invalid);
    ASSERT_EQ_U64(tot->valid, NEV - invalid);
    ASSERT(invalid > 0);
    size_t nr, nc;
    const fz_diff_rule *rows = fz_rulesdiff_rules(d, &nr);
    const fz_diff_category *cats = fz_rulesdiff_categories(d, &nc);
    ASSERT_EQ_U64(nr, 8); /* 7 + 7 rules, 6 ids in both */
    ASSERT_EQ_U64(nc, 7); /* bank police prize number service loan invest */
    for (size_t k = 0; k + 1 < nr; k++) ASSERT(strcmp(rows[k].id, rows[k + 1].id) < 0);
    for (size_t k = 0; k + 1 < nc; k++) ASSERT(strcmp(cats[k].name, cats[k + 1].name) < 0);
    uint64_t ev[FZ_DIFF_KINDS] = {0}, aold = 0, anew = 0;
    for (int i = 0; i < NEV; i++) {
        if (a[i].verdict == FZ_VERDICT_INVALID) continue;
        int x = a[i].nrules > 0, y = b[i].nrules > 0;
        aold += (uint64_t)x;
        anew += (uint64_t)y;
        if (x || y) ev[x && y ? FZ_DIFF_UNCHANGED : y ? FZ_DIFF_GAINED : FZ_DIFF_LOST]++;
    }
    ASSERT_EQ_U64(tot->alerting_old, aold);
    ASSERT_EQ_U64(tot->alerting_new, anew);
    for (int k = 0; k < FZ_DIFF_KINDS; k++) ASSERT_EQ_U64(tot->alerts.n[k], ev[k]);
    for (size_t r = 0; r < nr; r++) {
        uint64_t n[FZ_DIFF_KINDS] = {0}, sh[2] = {0, 0};
        for (int i = 0; i < NEV; i++) {
            if (a[i].verdict == FZ_VERDICT_INVALID) continue;
            int x = matched_id(t.rs[0], &a[i], rows[r].id),
                y = matched_id(t.rs[1], &b[i], rows[r].id);
            if (x || y) n[x && y ? FZ_DIFF_UNCHANGED : y ? FZ_DIFF_GAINED : FZ_DIFF_LOST]++;
            sh[0] += (uint64_t)shadow_id(t.rs[0], &a[i], rows[r].id);
            sh[1] += (uint64_t)shadow_id(t.rs[1], &b[i], rows[r].id);
        }
        fz_test_context("rule %s", rows[r].id);
        for (int k = 0; k < FZ_DIFF_KINDS; k++) {
            ASSERT_EQ_U64(rows[r].t.n[k], n[k]);
            ASSERT_EQ_U64(rows[r].t.nex[k], n[k] < 2 ? n[k] : 2);
        }
        ASSERT_EQ_U64(rows[r].shadow_old, sh[0]);
        ASSERT_EQ_U64(rows[r].shadow_new, sh[1]);
    }
    for (size_t c = 0; c < nc; c++) {
        uint64_t n[FZ_DIFF_KINDS] = {0};
        for (int i = 0; i < NEV; i++) {
            if (a[i].verdict == FZ_VERDICT_INVALID) continue;
            int x = matched_cat(t.rs[0], &a[i], cats[c].name);
            int y = matched_cat(t.rs[1], &b[i], cats[c].name);
            if (x || y) n[x && y ? FZ_DIFF_UNCHANGED : y ? FZ_DIFF_GAINED : FZ_DIFF_LOST]++;
        }
        fz_test_context("category %s", cats[c].name);
        for (int k = 0; k < FZ_DIFF_KINDS; k++) ASSERT_EQ_U64(cats[c].t.n[k], n[k]);
    }
    fz_test_context("%s", "");
    /* a.refund went to shadow: every match it had is lost, and seen as shadow */
    for (size_t r = 0; r < nr; r++)
        if (!strcmp(rows[r].id, "a.refund")) {
            ASSERT(rows[r].t.n[FZ_DIFF_LOST] > 0);
            ASSERT_EQ_U64(rows[r].t.n[FZ_DIFF_GAINED] + rows[r].t.n[FZ_DIFF_UNCHANGED], 0);
            ASSERT_EQ_U64(rows[r].shadow_new, rows[r].t.n[FZ_DIFF_LOST]);
        }
    fz_rulesdiff_destroy(d);
    two_close(&t);
}

TEST_IMPL(rulesdiff_rule_changes) {
    two t;
    two_open(&t);
    fz_rulesdiff *d;
    size_t nr;
    const fz_diff_rule *rows = rule_rows(t.rs[0], t.rs[1], &d, &nr);
    static const struct {
        const char *id;
        fz_diff_change want;
    } cases[] = {
        {"a.bank", FZ_RULE_REV_CHANGED}, {"a.invest", FZ_RULE_ADDED},
        {"a.link", FZ_RULE_EDITED},      {"a.loan", FZ_RULE_REMOVED},
        {"a.num", FZ_RULE_SAME},         {"a.police", FZ_RULE_REV_CHANGED},
        {"a.prize", FZ_RULE_EDITED},     {"a.refund", FZ_RULE_REV_CHANGED},
    };
    ASSERT_EQ_U64(nr, FZ_ARRAY_LEN(cases));
    for (size_t k = 0; k < nr; k++) {
        fz_test_context("rule %s", cases[k].id);
        ASSERT_STR_EQ(rows[k].id, cases[k].id);
        ASSERT_EQ_I64(rows[k].change, cases[k].want);
        ASSERT((rows[k].old_rule != NULL) == (cases[k].want != FZ_RULE_ADDED));
        ASSERT((rows[k].new_rule != NULL) == (cases[k].want != FZ_RULE_REMOVED));
    }
    ASSERT_STR_EQ(fz_diff_change_name(FZ_RULE_EDITED), "edited");
    ASSERT_STR_EQ(fz_diff_kind_name(FZ_DIFF_LOST), "lost");
    fz_rulesdiff_destroy(d);
    two_close(&t);
}

/* A shadow pair is one row, compared by its enabled revision wherever
 * the shadow one stands in the files; adding, removing, re-revving or
 * editing the shadow revision alone is a change of its own. */
static const char shadow_old_yaml[] =
    "rules:\n"
    "  - {id: s.added, rev: 1, category: c, severity: low, status: enabled, pattern: alpha}\n"
    "  - {id: s.removed, rev: 2, category: c, severity: low, status: shadow, pattern: beta2}\n"
    "  - {id: s.removed, rev: 1, category: c, severity: low, status: enabled, pattern: beta}\n"
    "  - {id: s.rev, rev: 1, category: c, severity: low, status: enabled, pattern: gamma}\n"
    "  - {id: s.rev, rev: 2, category: c, severity: low, status: shadow, pattern: gamma2}\n"
    "  - {id: s.edit, rev: 1, category: c, severity: low, status: enabled, pattern: delta}\n"
    "  - {id: s.edit, rev: 2, category: c, severity: low, status: shadow, pattern: delta2}\n"
    "  - {id: s.same, rev: 2, category: c, severity: low, status: shadow, pattern: eps2}\n"
    "  - {id: s.same, rev: 1, category: c, severity: low, status: enabled, pattern: eps}\n";
static const char shadow_new_yaml[] =
    "rules:\n"
    "  - {id: s.added, rev: 1, category: c, severity: low, status: enabled, pattern: alpha}\n"
    "  - {id: s.added, rev: 2, category: c, severity: low, status: shadow, pattern: alpha2}\n"
    "  - {id: s.removed, rev: 1, category: c, severity: low, status: enabled, pattern: beta}\n"
    "  - {id: s.rev, rev: 1, category: c, severity: low, status: enabled, pattern: gamma}\n"
    "  - {id: s.rev, rev: 3, category: c, severity: low, status: shadow, pattern: gamma3}\n"
    "  - {id: s.edit, rev: 1, category: c, severity: low, status: enabled, pattern: delta}\n"
    "  - {id: s.edit, rev: 2, category: c, severity: low, status: shadow, pattern: delta3}\n"
    "  - {id: s.same, rev: 1, category: c, severity: low, status: enabled, pattern: eps}\n"
    "  - {id: s.same, rev: 2, category: c, severity: low, status: shadow, pattern: eps2}\n";

TEST_IMPL(rulesdiff_shadow_revisions) {
    const char *d0 = fz_test_tmpdir(), *d1 = fz_test_tmpdir();
    fz_test_write_str(d0, "r.yaml", shadow_old_yaml);
    fz_test_write_str(d1, "r.yaml", shadow_new_yaml);
    fz_ruleset *o = fz_test_load_rules(d0), *n = fz_test_load_rules(d1);
    fz_rulesdiff *d;
    size_t nr;
    const fz_diff_rule *rows = rule_rows(o, n, &d, &nr);
    static const struct {
        const char *id;
        fz_diff_change want;
        unsigned old_shadow, new_shadow; /* shadow revs, 0: none */
    } cases[] = {
        {"s.added", FZ_RULE_SHADOW, 0, 2},   {"s.edit", FZ_RULE_SHADOW, 2, 2},
        {"s.removed", FZ_RULE_SHADOW, 2, 0}, {"s.rev", FZ_RULE_SHADOW, 2, 3},
        {"s.same", FZ_RULE_SAME, 2, 2},
    };
    ASSERT_EQ_U64(nr, FZ_ARRAY_LEN(cases));
    for (size_t k = 0; k < nr; k++) {
        fz_test_context("rule %s", cases[k].id);
        ASSERT_STR_EQ(rows[k].id, cases[k].id);
        ASSERT_EQ_I64(rows[k].change, cases[k].want);
        /* the enabled revision is the one compared, shadow first in the file or not */
        ASSERT_EQ_U64(rows[k].old_rule->rev, 1);
        ASSERT_EQ_U64(rows[k].new_rule->rev, 1);
        ASSERT_EQ_U64(rows[k].old_shadow ? rows[k].old_shadow->rev : 0, cases[k].old_shadow);
        ASSERT_EQ_U64(rows[k].new_shadow ? rows[k].new_shadow->rev : 0, cases[k].new_shadow);
    }
    ASSERT_STR_EQ(fz_diff_change_name(FZ_RULE_SHADOW), "shadow_rev");
    fz_rulesdiff_destroy(d);
    fz_ruleset_unref(o);
    fz_ruleset_unref(n);
}

TEST_IMPL(rulesdiff_examples_cleaned) {
    two t;
    two_open(&t);
    char err[256];
    fz_privacy pv = {.numbers = FZ_NUMBERS_MASK};
    fz_diff_opts o = {.examples = 1, .text_chars = 12, .privacy = &pv};
    fz_rulesdiff *d = fz_rulesdiff_new(t.rs[0], t.rs[1], &o, err, sizeof(err));
    ASSERT(d);
    /* escape, bidi override, C1 control, then more than 12 characters */
    const char *line =
        "{\"id\":\"e\\u001b1\",\"ts\":1,\"type\":\"sms\",\"from\":\"+8613812345678\","
        "\"to\":\"1234\\\"\",\"text\":\"账户\\u001b[31m异常\\u202e\\u0085冻结"
        "abcdefghijklmnop\"}";
    static fz_result a, b;
    two_scan(&t, line, strlen(line), &a, &b);
    ASSERT_EQ_I64(a.verdict, FZ_VERDICT_ALERT);
    fz_source src = {.file = "f\x1b.ndjson", .line = 7};
    ASSERT(fz_rulesdiff_add(d, &a, &b, &src) == 0);
    const fz_diff_totals *tot = fz_rulesdiff_totals(d);
    ASSERT_EQ_U64(tot->alerts.nex[FZ_DIFF_UNCHANGED], 1);
    const fz_diff_example *e = &tot->alerts.ex[FZ_DIFF_UNCHANGED][0];
    ASSERT_STR_EQ(e->where, "f .ndjson:7");
    ASSERT_STR_EQ(e->id, "e 1");
    ASSERT_STR_EQ(e->type, "sms");
    ASSERT_STR_EQ(e->from, "+86*******5678");
    ASSERT_STR_EQ(e->to, "***4*"); /* 5 characters: the last 2 kept, but a quote never */
    ASSERT_STR_EQ(e->text, "账户 [31m异常  冻..."); /* 12 characters, controls as spaces */
    ASSERT_STR_EQ(e->old_rule, "a.bank");
    ASSERT_STR_EQ(e->new_rule, "a.bank");
    fz_rulesdiff_destroy(d);

    /* texts dropped by the policy are not kept at all */
    pv.drop_texts = 1;
    d = fz_rulesdiff_new(t.rs[0], t.rs[1], &o, err, sizeof(err));
    ASSERT(d);
    ASSERT(fz_rulesdiff_add(d, &a, &b, &src) == 0);
    ASSERT(fz_rulesdiff_totals(d)->alerts.ex[FZ_DIFF_UNCHANGED][0].text == NULL);
    fz_rulesdiff_destroy(d);
    two_close(&t);
}

/* A Kafka record is named topic[partition]@offset, in examples and in the
 * invalid samples alike. */
TEST_IMPL(rulesdiff_kafka_where) {
    two t;
    two_open(&t);
    fz_rulesdiff *d = diff_of(t.rs[0], t.rs[1], 2);
    const char *line = "{\"id\":\"k1\",\"ts\":1,\"type\":\"sms\",\"from\":\"1\",\"to\":\"2\","
                       "\"text\":\"账户异常冻结\"}";
    static fz_result a, b;
    two_scan(&t, line, strlen(line), &a, &b);
    ASSERT_EQ_I64(a.verdict, FZ_VERDICT_ALERT);
    fz_source src = {.topic = "events", .partition = 3, .offset = 42};
    ASSERT(fz_rulesdiff_add(d, &a, &b, &src) == 0);
    /* a control character in a topic name is not passed to a terminal */
    fz_source odd = {.topic = "ev\x1b[2J", .partition = 0, .offset = 9};
    ASSERT(fz_rulesdiff_add(d, &a, &b, &odd) == 0);
    const fz_diff_totals *tot = fz_rulesdiff_totals(d);
    ASSERT_EQ_U64(tot->alerts.nex[FZ_DIFF_UNCHANGED], 2);
    ASSERT_STR_EQ(tot->alerts.ex[FZ_DIFF_UNCHANGED][0].where, "events[3]@42");
    ASSERT_STR_EQ(tot->alerts.ex[FZ_DIFF_UNCHANGED][1].where, "ev [2J[0]@9");
    const char *bad = "{\"id\":";
    two_scan(&t, bad, strlen(bad), &a, &b);
    ASSERT_EQ_I64(a.verdict, FZ_VERDICT_INVALID);
    fz_source src2 = {.topic = "events", .partition = 1, .offset = 7};
    ASSERT(fz_rulesdiff_add(d, &a, &b, &src2) == 0);
    fz_source src3 = {.topic = "events", .partition = 2, .offset = 0};
    fz_rulesdiff_add_unread(d, &src3, "record of 99999 bytes");
    size_t n;
    const char *const *inv = fz_rulesdiff_invalid_samples(d, &n);
    ASSERT_EQ_U64(n, 2);
    ASSERT(strncmp(inv[0], "events[1]@7: invalid_json: ", 27) == 0);
    ASSERT_STR_EQ(inv[1], "events[2]@0: too_large: record of 99999 bytes");
    fz_rulesdiff_destroy(d);
    two_close(&t);
}

TEST_IMPL(gitrules_rev_ok) {
    static const char *const good[] = {"HEAD",        "HEAD~3",  "HEAD^",    "main",       "v1.2.0",
                                       "origin/main", "a1b2c3d", "HEAD@{2}", "rel-2026_12"};
    static const char *const bad[] = {"",        "-x",          "--output=/tmp/x", "HEAD:rules",
                                      "a..b",    "HEAD;rm -rf", "HEAD rules",      "$(id)",
                                      "HEAD\nx", "a`b`",        "HEAD|x",          "*"};
    for (size_t i = 0; i < FZ_ARRAY_LEN(good); i++) {
        fz_test_context("%s", good[i]);
        ASSERT(fz_gitrules_rev_ok(good[i]));
    }
    for (size_t i = 0; i < FZ_ARRAY_LEN(bad); i++) {
        fz_test_context("%s", bad[i]);
        ASSERT(!fz_gitrules_rev_ok(bad[i]));
    }
    char longrev[300];
    memset(longrev, 'a', sizeof(longrev) - 1);
    longrev[sizeof(longrev) - 1] = '\0';
    ASSERT(!fz_gitrules_rev_ok(longrev));
}
