/*
 * test-promote.c - shadow revisions (docs/rules.md, "A shadow revision"):
 * which repeated ids the loader accepts as a revision pair and which it
 * refuses (naming both places); the matcher's per-pair counters over the
 * same events; `fanzha rules promote`'s byte edit (golden before/after
 * texts: comments, quoting and layout kept; hostile layouts refused) and
 * the whole command on a directory (files, modes, dry run, refusals).
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "buf.h"
#include "matcher.h"
#include "norm.h"
#include "promote.h"
#include "rules.h"
#include "ruletest.h"
#include "test.h"

#define RULE(id, extra, pat)                                                                       \
    "  - id: " id "\n    category: misc\n    severity: low\n" extra "    fields: [text]\n"         \
    "    pattern: '" pat "'\n"

static fz_ruleset *load_dir(const char *dir, fz_rule_diags *d) {
    memset(d, 0, sizeof(*d));
    return fz_ruleset_load(dir, NULL, d);
}

static const fz_rule_diag *only_error(const fz_rule_diags *d) {
    const fz_rule_diag *g = NULL;
    for (size_t i = 0; i < d->n; i++)
        if (!d->v[i].warning) g = &d->v[i];
    return g;
}

TEST_IMPL(shadow_pair_loads) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "a.yaml",
                      "rules:\n" RULE("x.pair", "    rev: 3\n", "old")
                          RULE("x.alone", "", "alone"));
    fz_test_write_str(dir, "b.yaml",
                      "rules:\n" RULE("x.pair", "    rev: 4\n    status: shadow\n", "new"));
    fz_rule_diags d;
    fz_ruleset *rs = load_dir(dir, &d);
    if (!rs) fz_rule_diags_print(&d, stderr);
    ASSERT(rs != NULL);
    ASSERT_EQ_U64(fz_ruleset_count(rs), 3);
    const fz_rule *en = fz_ruleset_rule(rs, 0), *alone = fz_ruleset_rule(rs, 1),
                  *sh = fz_ruleset_rule(rs, 2);
    ASSERT_STR_EQ(en->id, "x.pair");
    ASSERT_STR_EQ(sh->id, "x.pair");
    ASSERT_EQ_U64(en->pair, 2);
    ASSERT_EQ_U64(sh->pair, 0);
    ASSERT_EQ_U64(alone->pair, FZ_RULE_NO_PAIR);
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&d);
}

typedef struct pair_case {
    const char *a, *b; /* a.yaml, b.yaml (b may be NULL) */
    const char *file;  /* where the error is */
    unsigned line;     /* its line */
    const char *msg;   /* a fragment of it */
    const char *first; /* "first at DIR/%s" fragment: the other place */
    size_t errors;     /* errors expected */
} pair_case;

static const pair_case pair_cases[] = {
    /* two enabled */
    {"rules:\n" RULE("x.p", "", "a") RULE("x.p", "    rev: 2\n", "b"), NULL, "a.yaml", 7,
     "not enabled and enabled", "a.yaml:2", 1},
    /* two shadow, in two files */
    {"rules:\n" RULE("x.p", "    status: shadow\n", "a"),
     "\n\nrules:\n" RULE("x.p", "    rev: 2\n    status: shadow\n", "b"), "b.yaml", 4,
     "not shadow and shadow", "a.yaml:2", 1},
    /* the shadow revision is the older one */
    {"rules:\n" RULE("x.p", "    rev: 5\n", "a")
         RULE("x.p", "    rev: 5\n    status: shadow\n", "b"),
     NULL, "a.yaml", 8, "rev (5) must be above the enabled one's (5)", "a.yaml:2", 1},
    /* a shadow first in file order, its rev below */
    {"rules:\n" RULE("x.p", "    rev: 1\n    status: shadow\n", "a"),
     "rules:\n" RULE("x.p", "    rev: 2\n", "b"), "b.yaml", 2,
     "rev (1) must be above the enabled one's (2)", "a.yaml:2", 1},
    /* another category */
    {"rules:\n" RULE("x.p", "", "a") "  - id: x.p\n    rev: 2\n    status: shadow\n    category: "
                                     "other\n    severity: low\n"
                                     "    fields: [text]\n    pattern: 'b'\n",
     NULL, "a.yaml", 7, "category 'other' differs from the enabled one's 'misc'", "a.yaml:2", 1},
    /* disabled beside enabled */
    {"rules:\n" RULE("x.p", "", "a") RULE("x.p", "    rev: 2\n    status: disabled\n", "b"), NULL,
     "a.yaml", 7, "not enabled and disabled", "a.yaml:2", 1},
    /* three revisions: the second and third are errors */
    {"rules:\n" RULE("x.p", "", "a") RULE("x.p", "    rev: 2\n    status: shadow\n", "b")
         RULE("x.p", "    rev: 3\n    status: shadow\n", "c"),
     NULL, "a.yaml", 14, "an id appears at most twice", "a.yaml:2", 2},
};

TEST_IMPL(shadow_pair_errors) {
    for (size_t i = 0; i < FZ_ARRAY_LEN(pair_cases); i++) {
        const pair_case *c = &pair_cases[i];
        fz_test_context("pair case %zu", i);
        const char *dir = fz_test_tmpdir();
        fz_test_write_str(dir, "a.yaml", c->a);
        if (c->b) fz_test_write_str(dir, "b.yaml", c->b);
        fz_rule_diags d;
        fz_ruleset *rs = load_dir(dir, &d);
        ASSERT(rs == NULL);
        ASSERT_EQ_U64(d.errors, c->errors);
        const fz_rule_diag *g = only_error(&d); /* the last one */
        ASSERT(g != NULL);
        char want[4096];
        snprintf(want, sizeof(want), "%s/%s", dir, c->file);
        ASSERT_STR_EQ(g->file, want);
        ASSERT_EQ_U64(g->line, c->line);
        ASSERT_CONTAINS(g->msg, c->msg);
        ASSERT_CONTAINS(g->msg, "duplicate rule id 'x.p'");
        snprintf(want, sizeof(want), "first at %s/%s", dir, c->first);
        ASSERT_CONTAINS(g->msg, want);
        fz_rule_diags_free(&d);
    }
}

static void scan_text(fz_matcher *m, const char *text, fz_matches *mt) {
    static char nb[4096];
    fz_views v;
    memset(&v, 0, sizeof(v));
    size_t n = strlen(text);
    v[FZ_FIELD_TEXT][FZ_VIEW_RAW] = (fz_str){text, n};
    v[FZ_FIELD_TEXT][FZ_VIEW_NORM] = (fz_str){nb, fz_norm_text(text, n, nb)};
    ASSERT(fz_matcher_scan(m, &v, mt) >= 0);
}

/* The evidence: per pair, both / only enabled / only shadow over the same
 * events, exact for a known event mix; the shadow revision never alerts. */
TEST_IMPL(shadow_pair_counters) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "a.yaml",
                      "rules:\n" RULE("x.parcel", "", "parcel")
                          RULE("x.parcel", "    rev: 2\n    status: shadow\n", "fee")
                              RULE("x.other", "    status: shadow\n", "fee"));
    fz_ruleset *rs = fz_test_load_rules(dir);
    char err[256];
    fz_matcher *m = fz_matcher_new(rs, err, sizeof(err));
    ASSERT(m != NULL);
    /* 3 parcel only, 2 both, 4 fee only, 1 neither */
    const char *ev[] = {"your parcel",     "parcel waiting", "parcel x", "parcel fee",
                        "fee for parcel",  "a fee",          "fee due",  "the fee",
                        "late fee notice", "hello"};
    int alerts = 0, shadowed = 0;
    for (size_t i = 0; i < FZ_ARRAY_LEN(ev); i++) {
        fz_matches mt;
        scan_text(m, ev[i], &mt);
        alerts += mt.n;
        for (int k = 0; k < mt.nshadow; k++) shadowed += mt.shadow[k] == 1;
        for (int k = 0; k < mt.n; k++) ASSERT(mt.rules[k] == 0); /* rev 2 never alerts */
    }
    ASSERT_EQ_U64(alerts, 5);
    ASSERT_EQ_U64(shadowed, 6);
    const fz_rule_counters *c = fz_matcher_counters(m);
    ASSERT_EQ_U64(c[0].matches, 5);
    ASSERT_EQ_U64(c[0].both, 2);
    ASSERT_EQ_U64(c[1].matches, 6);
    ASSERT_EQ_U64(c[1].both, 2);
    ASSERT_EQ_U64(c[2].matches, 6); /* a lone shadow rule: no pair, no both */
    ASSERT_EQ_U64(c[2].both, 0);

    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    const fz_rule_counters *ctr[2] = {c, c}; /* two threads' worth */
    fz_rule_stats_encode(&b, rs, ctr, 2);
    fz_buf_putc(&b, '\0');
    ASSERT_CONTAINS(b.p, "\"id\":\"x.parcel\",\"rev\":1,\"status\":\"enabled\"");
    ASSERT_CONTAINS(b.p, "\"matches\":10,\"hits\":10,\"pair_rev\":2,\"both\":4,\"only\":6}");
    ASSERT_CONTAINS(b.p, "\"matches\":12,\"hits\":12,\"pair_rev\":1,\"both\":4,\"only\":8}");
    ASSERT(strstr(strstr(b.p, "x.other"), "pair_rev") == NULL);
    fz_buf_free(&b);
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

/* Each revision's examples run against that revision; a failure names
 * which revision. */
TEST_IMPL(shadow_pair_examples) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "a.yaml",
                      "rules:\n" RULE("x.p", "    tests: {should_match: ['a parcel']}\n", "parcel")
                          RULE("x.p",
                               "    rev: 2\n    status: shadow\n"
                               "    tests: {should_match: ['a parcel', 'a fee']}\n",
                               "fee"));
    fz_ruleset *rs = fz_test_load_rules(dir);
    fz_rule_diags d = {0};
    fz_ruletest_summary sum = {0};
    char err[256];
    ASSERT(fz_ruletest_run(rs, &d, &sum, err, sizeof(err)) == 1);
    ASSERT_EQ_U64(sum.examples, 3);
    ASSERT_EQ_U64(sum.failed, 1);
    ASSERT_EQ_U64(d.errors, 1);
    ASSERT_EQ_U64(d.v[0].line, 13);
    ASSERT_CONTAINS(d.v[0].msg, "rule 'x.p' (rev 2, shadow): should_match example did not match: "
                                "\"a parcel\"");
    fz_rule_diags_free(&d);
    fz_ruleset_unref(rs);
}

/* ---- the edit ---- */

typedef struct edit_case {
    const char *before;
    int del, flip;
    const char *after; /* NULL: refused */
    const char *err;   /* fragment of the refusal */
} edit_case;

static const edit_case edit_cases[] = {
    /* comments, blank lines, quoting and the other rules kept byte for byte */
    {"# parcel scams\n"
     "rules:\n"
     "  # the old revision\n"
     "  - id: en.parcel\n"
     "    rev: 1\n"
     "    category: misc   # kept\n"
     "    severity: high\n"
     "    fields: [text]\n"
     "    pattern: 'parcel'   # trailing comment goes with its line\n"
     "\n"
     "  - id: en.other  \n"
     "    category: misc\n"
     "    severity: low\n"
     "    fields: [text]\n"
     "    pattern: \"zzz\"\n"
     "  # candidate: narrower\n"
     "  - id: en.parcel\n"
     "    rev: 2\n"
     "    status: 'shadow'  # since Monday\n"
     "    category: misc\n"
     "    severity: high\n"
     "    fields: [text]\n"
     "    pattern: 'parcel.{0,20}fee'\n",
     1, 1,
     "# parcel scams\n"
     "rules:\n"
     "  # the old revision\n"
     "\n"
     "  - id: en.other  \n"
     "    category: misc\n"
     "    severity: low\n"
     "    fields: [text]\n"
     "    pattern: \"zzz\"\n"
     "  # candidate: narrower\n"
     "  - id: en.parcel\n"
     "    rev: 2\n"
     "    status: enabled  # since Monday\n"
     "    category: misc\n"
     "    severity: high\n"
     "    fields: [text]\n"
     "    pattern: 'parcel.{0,20}fee'\n",
     NULL},
    /* CRLF line ends, the enabled revision last with no final newline and
     * a block scalar; the shadow one first, keys in another order */
    {"rules:\r\n"
     "  - status: shadow\r\n"
     "    id: a.b\r\n"
     "    rev: 9\r\n"
     "    category: misc\r\n"
     "    severity: low\r\n"
     "    fields: [text]\r\n"
     "    pattern: 'n'\r\n"
     "  - id: a.b\r\n"
     "    rev: 8\r\n"
     "    category: misc\r\n"
     "    severity: low\r\n"
     "    description: |\r\n"
     "      two\r\n"
     "      lines\r\n"
     "    fields: [text]\r\n"
     "    pattern: 'o'",
     1, 1,
     "rules:\r\n"
     "  - status: enabled\r\n"
     "    id: a.b\r\n"
     "    rev: 9\r\n"
     "    category: misc\r\n"
     "    severity: low\r\n"
     "    fields: [text]\r\n"
     "    pattern: 'n'\r\n",
     NULL},
    /* a block scalar last: its lines go, the next item stays */
    {"rules:\n"
     "  - id: a.b\n"
     "    pattern: 'o'\n"
     "    description: >\n"
     "      folded\n"
     "      text\n"
     "\n"
     "  - id: a.c\n"
     "    pattern: 'p'\n",
     1, 0,
     "rules:\n"
     "  - id: a.c\n"
     "    pattern: 'p'\n",
     NULL},
    /* only the status: the shadow rule alone */
    {"rules:\n  - id: a.b\n    status: \"shadow\"\n    pattern: x\n", 0, 1,
     "rules:\n  - id: a.b\n    status: enabled\n    pattern: x\n", NULL},
    /* refused: a flow list */
    {"rules: [{id: a.b, pattern: x}, {id: a.b, status: shadow, rev: 2, pattern: y}]\n", 1, 1, NULL,
     ":1: 'rules' is a flow-style list"},
    /* refused: a flow item */
    {"rules:\n  - {id: a.b, pattern: x}\n  - id: a.b\n    status: shadow\n", 1, 1, NULL,
     ":2: the enabled revision of rule 'a.b' does not stand alone"},
    /* refused: the item's '-' on a line of its own */
    {"rules:\n  -\n    id: a.b\n    pattern: x\n  - id: a.b\n    status: shadow\n", 1, 1, NULL,
     "does not stand alone"},
    /* refused: status twice */
    {"rules:\n  - id: a.b\n  - id: a.b\n    status: shadow\n    status: shadow\n", 1, 1, NULL,
     ":3: rule 'a.b' has 'status' twice"},
    /* refused: an aliased status */
    {"x: &s shadow\nrules:\n  - id: a.b\n  - id: a.b\n    status: *s\n", 1, 1, NULL,
     "not written as a plain 'shadow'"},
    /* refused: an anchored status another rule uses */
    {"rules:\n  - id: a.b\n    status: &s shadow\n  - id: a.c\n    status: *s\n", 0, 1, NULL,
     ":3: the status of rule 'a.b' is not written as a plain 'shadow'"},
    {"rules:\n  - id: a.c\n    status: &s shadow\n  - id: a.b\n    status: *s\n", 0, 1, NULL,
     ":5: the status of rule 'a.b' is not written as a plain 'shadow'"},
    /* refused: a tagged status */
    {"rules:\n  - id: a.b\n    status: !!str shadow\n", 0, 1, NULL, "not written as a plain"},
    /* refused: no such revision */
    {"rules:\n  - id: a.b\n    status: shadow\n", 1, 1, NULL, "no enabled revision of rule 'a.b'"},
    {"rules:\n  - id: a.b\n", 0, 1, NULL, "no shadow revision of rule 'a.b'"},
    {"rules:\n  - id: a.b\n  - id: a.b\n    status: enabled\n  - id: a.b\n    status: shadow\n", 1,
     1, NULL, ":3: rule 'a.b' has two enabled revisions"},
    /* refused: not YAML */
    {"rules:\n  - id: a.b\n   bad: [\n", 1, 1, NULL, "f.yaml:3: YAML:"},
};

TEST_IMPL(promote_edit_golden) {
    for (size_t i = 0; i < FZ_ARRAY_LEN(edit_cases); i++) {
        const edit_case *c = &edit_cases[i];
        fz_test_context("edit case %zu", i);
        char err[512] = "";
        size_t n = 0;
        char *out = fz_promote_edit("f.yaml", "f.yaml", c->before, strlen(c->before), "a.b", c->del,
                                    c->flip, NULL, &n, err, sizeof(err));
        if (i == 0) /* the first case promotes en.parcel */
            out = (free(out), fz_promote_edit("f.yaml", "f.yaml", c->before, strlen(c->before),
                                              "en.parcel", 1, 1, NULL, &n, err, sizeof(err)));
        if (c->after) {
            if (!out) fz_test_fail(__FILE__, __LINE__, "refused: %s", err);
            ASSERT_EQ_U64(n, strlen(c->after));
            ASSERT_STR_EQ(out, c->after);
        } else {
            if (out) fz_test_fail(__FILE__, __LINE__, "not refused, gave:\n%s", out);
            ASSERT_CONTAINS(err, c->err);
        }
        free(out);
    }
}

/* The diff printed: hunks of whole lines, line numbers of both sides. */
TEST_IMPL(promote_edit_diff) {
    const char *t = "rules:\n"
                    "  - id: a.b\n"
                    "    pattern: 'o'\n"
                    "  - id: a.c\n"
                    "    pattern: 'p'\n"
                    "  - id: a.b\n"
                    "    rev: 2\n"
                    "    status: shadow\n"
                    "    pattern: 'n'\n";
    char *d = NULL, err[256];
    size_t dn = 0, n;
    FILE *fp = open_memstream(&d, &dn);
    char *out =
        fz_promote_edit("f", "en/f.yaml", t, strlen(t), "a.b", 1, 1, fp, &n, err, sizeof(err));
    fclose(fp);
    ASSERT(out != NULL);
    ASSERT_STR_EQ(d, "--- a/en/f.yaml\n+++ b/en/f.yaml\n"
                     "@@ -2,2 +1,0 @@\n-  - id: a.b\n-    pattern: 'o'\n"
                     "@@ -8,1 +6,1 @@\n-    status: shadow\n+    status: enabled\n");
    free(out);
    free(d);
}

/* ---- the command ---- */

static char *slurp(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *fp = fopen(p, "r");
    ASSERT(fp != NULL);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static mode_t mode_of(const char *dir, const char *name) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    ASSERT(stat(p, &st) == 0);
    return st.st_mode & 07777;
}

static const char en_yaml[] =
    "rules:\n"
    "  # keep me\n" RULE("x.p", "    rev: 1\n", "parcel") RULE("x.q", "", "other");
static const char sh_yaml[] = "# candidates\n"
                              "rules:\n" RULE("x.p", "    rev: 2\n    status: shadow\n", "fee");

TEST_IMPL(promote_command) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "en.yaml", en_yaml);
    fz_test_write_str(dir, "sub/cand.yaml", sh_yaml);
    char p[4096];
    snprintf(p, sizeof(p), "%s/sub/cand.yaml", dir);
    ASSERT(chmod(p, 0640) == 0);
    char err[2048];
    char *log = NULL;
    size_t loglen = 0;

    /* refusals change nothing */
    ASSERT(fz_rules_promote(dir, "x.q", 0, NULL, NULL, err, sizeof(err)) == -1);
    ASSERT_CONTAINS(err, "rule 'x.q' has no shadow revision to promote (rev 1 is enabled at ");
    ASSERT(fz_rules_promote(dir, "x.none", 0, NULL, NULL, err, sizeof(err)) == -1);
    ASSERT_CONTAINS(err, "no rule with id 'x.none'");

    /* dry run: the diff, nothing written */
    FILE *fp = open_memstream(&log, &loglen);
    ASSERT(fz_rules_promote(dir, "x.p", 1, NULL, fp, err, sizeof(err)) == 0);
    fclose(fp);
    ASSERT_CONTAINS(log, "--- a/sub/cand.yaml\n+++ b/sub/cand.yaml\n@@ -7,1 +7,1 @@\n"
                         "-    status: shadow\n+    status: enabled\n");
    ASSERT_CONTAINS(log, "--- a/en.yaml\n+++ b/en.yaml\n@@ -3,6 +2,0 @@\n-  - id: x.p\n");
    ASSERT_CONTAINS(log, "would promote rule 'x.p': rev 2 enabled (was shadow), rev 1 removed");
    free(log);
    char *e0 = slurp(dir, "en.yaml"), *s0 = slurp(dir, "sub/cand.yaml");
    ASSERT_STR_EQ(e0, en_yaml);
    ASSERT_STR_EQ(s0, sh_yaml);
    free(e0);
    free(s0);

    /* for real */
    fp = open_memstream(&log, &loglen);
    ASSERT(fz_rules_promote(dir, "x.p", 0, NULL, fp, err, sizeof(err)) == 0);
    fclose(fp);
    ASSERT_CONTAINS(log, "promoted rule 'x.p': rev 2 enabled (was shadow), rev 1 removed\n");
    free(log);
    char *e1 = slurp(dir, "en.yaml"), *s1 = slurp(dir, "sub/cand.yaml");
    ASSERT_STR_EQ(e1, "rules:\n  # keep me\n" RULE("x.q", "", "other"));
    ASSERT_STR_EQ(s1,
                  "# candidates\nrules:\n" RULE("x.p", "    rev: 2\n    status: enabled\n", "fee"));
    free(e1);
    free(s1);
    ASSERT_EQ_U64(mode_of(dir, "sub/cand.yaml"), 0640);
    fz_ruleset *rs = fz_test_load_rules(dir);
    ASSERT_EQ_U64(fz_ruleset_count(rs), 2);
    fz_ruleset_unref(rs);
    /* no temporary file left beside them */
    snprintf(p, sizeof(p), "ls -A %s %s/sub | grep -c promote", dir, dir);
    FILE *ls = popen(p, "r");
    char cnt[16] = "";
    ASSERT(fgets(cnt, sizeof(cnt), ls) != NULL);
    pclose(ls);
    ASSERT_STR_EQ(cnt, "0\n");

    /* twice: nothing left to promote */
    ASSERT(fz_rules_promote(dir, "x.p", 0, NULL, NULL, err, sizeof(err)) == -1);
    ASSERT_CONTAINS(err, "no shadow revision to promote (rev 2 is enabled at");
}

/* The result must load: an anchor in the deleted item that another rule
 * uses makes the promotion refused, with the file named and nothing
 * written; a directory that does not load now is refused up front. */
TEST_IMPL(promote_command_refuses_bad_result) {
    const char *dir = fz_test_tmpdir();
    const char *y = "rules:\n"
                    "  - id: x.p\n    category: misc\n    severity: &sev low\n"
                    "    fields: [text]\n    pattern: 'a'\n"
                    "  - id: x.q\n    category: misc\n    severity: *sev\n"
                    "    fields: [text]\n    pattern: 'b'\n"
                    "  - id: x.p\n    rev: 2\n    status: shadow\n    category: misc\n"
                    "    severity: low\n    fields: [text]\n    pattern: 'c'\n";
    fz_test_write_str(dir, "r.yaml", y);
    char err[2048];
    ASSERT(fz_rules_promote(dir, "x.p", 0, NULL, NULL, err, sizeof(err)) == -1);
    ASSERT_CONTAINS(err, "the promoted rules would not load: ");
    ASSERT_CONTAINS(err, "/r.yaml:");
    ASSERT_CONTAINS(err, "nothing changed");
    ASSERT(strstr(err, "fanzha-promote-") == NULL); /* the copy's path is not shown */
    char *now = slurp(dir, "r.yaml");
    ASSERT_STR_EQ(now, y);
    free(now);

    /* a rule file that is a symbolic link (a Kubernetes ConfigMap's):
     * refused, kept */
    const char *d2 = fz_test_tmpdir();
    fz_test_write_str(d2, "..data/r.yaml",
                      "rules:\n" RULE("x.p", "", "a")
                          RULE("x.p", "    rev: 2\n    status: shadow\n", "b"));
    char lp[4096];
    snprintf(lp, sizeof(lp), "%s/r.yaml", d2);
    ASSERT(symlink("..data/r.yaml", lp) == 0);
    ASSERT(fz_rules_promote(d2, "x.p", 0, NULL, NULL, err, sizeof(err)) == -1);
    ASSERT_CONTAINS(err, "r.yaml is a symbolic link: promote replaces regular files only");

    fz_test_write_str(dir, "bad.yaml", "rules:\n  - id: Bad Id\n");
    ASSERT(fz_rules_promote(dir, "x.p", 0, NULL, NULL, err, sizeof(err)) == -1);
    ASSERT_CONTAINS(err, "the rules do not load as they are");
    ASSERT_CONTAINS(err, "bad.yaml:2");
}

/* A file edited between reading and writing (an analyst's editor, a git
 * pull): the commit refuses and writes nothing, not even the other file. */
TEST_IMPL(promote_command_refuses_changed_files) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "en.yaml", en_yaml);
    fz_test_write_str(dir, "sub/cand.yaml", sh_yaml);
    char err[2048];
    fz_promote *p = fz_promote_prepare(dir, "x.p", NULL, err, sizeof(err));
    if (!p) fz_test_fail(__FILE__, __LINE__, "prepare: %s", err);
    size_t dn;
    ASSERT_CONTAINS(fz_promote_diff(p, &dn), "+    status: enabled\n");
    const char *edited = "rules:\n  # edited meanwhile\n" RULE("x.p", "    rev: 1\n", "parcel");
    fz_test_write_str(dir, "en.yaml", edited);
    ASSERT(fz_promote_commit(p, err, sizeof(err)) == -1);
    ASSERT_CONTAINS(err, "/en.yaml changed while promoting; nothing written");
    fz_promote_destroy(p);
    char *e = slurp(dir, "en.yaml"), *c = slurp(dir, "sub/cand.yaml");
    ASSERT_STR_EQ(e, edited);
    ASSERT_STR_EQ(c, sh_yaml); /* checked before any file is written */
    free(e);
    free(c);

    /* prepared again over what is there now: goes through */
    p = fz_promote_prepare(dir, "x.p", NULL, err, sizeof(err));
    if (!p) fz_test_fail(__FILE__, __LINE__, "prepare: %s", err);
    ASSERT(fz_promote_commit(p, err, sizeof(err)) == 0);
    fz_promote_destroy(p);
    e = slurp(dir, "en.yaml");
    ASSERT_STR_EQ(e, "rules:\n  # edited meanwhile\n");
    free(e);
    fz_promote_destroy(NULL);
}
