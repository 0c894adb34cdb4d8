/*
 * test-rules.c - loading rule directories: a valid file's rules and their
 * attributes; every user error reported once with its file and 1-based
 * line; the ruleset version tracking content; warnings that do not fail
 * the load.
 *
 * Each error case is data: files to write, then the file, line and
 * message fragment of the one error expected.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbcache.h"
#include "matcher.h"
#include "rules.h"
#include "test.h"

static const char valid_yaml[] = "# fraud rules\n"                                  /* 1 */
                                 "rules:\n"                                         /* 2 */
                                 "  - id: zh.bank.card-frozen\n"                    /* 3 */
                                 "    rev: 3\n"                                     /* 4 */
                                 "    category: impersonate_bank\n"                 /* 5 */
                                 "    severity: high\n"                             /* 6 */
                                 "    fields: [text]\n"                             /* 7 */
                                 "    flags: [caseless]\n"                          /* 8 */
                                 "    pattern: '(银行卡|账户).{0,12}(冻结|异常)'\n" /* 9 */
                                 "    description: bank card frozen\n"              /* 10 */
                                 "  - id: phone.blacklist\n"                        /* 11 */
                                 "    category: blacklist\n"                        /* 12 */
                                 "    severity: critical\n"                         /* 13 */
                                 "    fields: [from, to]\n"                         /* 14 */
                                 "    patterns:\n"                                  /* 15 */
                                 "      - '^\\+8617000000001$'\n"                   /* 16 */
                                 "      - '^\\+8617000000002$'\n";                  /* 17 */

static const char other_yaml[] = "rules:\n"
                                 "  - id: a.low\n"
                                 "    category: misc\n"
                                 "    severity: low\n"
                                 "    fields: text\n"
                                 "    pattern: 'lottery'\n";

static fz_ruleset *load(const char *dir, fz_rule_diags *diags) {
    memset(diags, 0, sizeof(*diags));
    return fz_ruleset_load(dir, NULL, diags);
}

static void print_diags(const fz_rule_diags *d) { fz_rule_diags_print(d, stderr); }

static const fz_rule *rule_by_id(const fz_ruleset *rs, const char *id) {
    for (size_t i = 0; i < fz_ruleset_count(rs); i++)
        if (strcmp(fz_ruleset_rule(rs, i)->id, id) == 0) return fz_ruleset_rule(rs, i);
    return NULL;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

TEST_IMPL(rules_valid) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "bank.yaml", valid_yaml);
    fz_test_write_str(dir, "sub/other.yml", other_yaml);
    fz_test_write_str(dir, "README.md", "not a rule file: [");
    fz_test_write_str(dir, ".hidden.yaml", "this: [is not: loaded");
    fz_rule_diags diags;
    fz_ruleset *rs = load(dir, &diags);
    if (!rs) print_diags(&diags);
    ASSERT(rs != NULL);
    ASSERT_EQ_U64(diags.errors, 0);
    ASSERT_EQ_U64(diags.n, 0);
    ASSERT_EQ_U64(fz_ruleset_count(rs), 3);
    /* sorted path order: bank.yaml before sub/other.yml, file order within */
    ASSERT_STR_EQ(fz_ruleset_rule(rs, 0)->id, "zh.bank.card-frozen");
    ASSERT_STR_EQ(fz_ruleset_rule(rs, 1)->id, "phone.blacklist");
    ASSERT_STR_EQ(fz_ruleset_rule(rs, 2)->id, "a.low");

    const fz_rule *r = fz_ruleset_rule(rs, 0);
    ASSERT_EQ_U64(r->rev, 3);
    ASSERT_STR_EQ(r->category, "impersonate_bank");
    ASSERT_EQ_I64(r->severity, FZ_SEV_HIGH);
    ASSERT_STR_EQ(fz_severity_name(r->severity), "high");
    ASSERT_EQ_I64(r->status, FZ_STATUS_ENABLED);
    ASSERT_EQ_U64(r->nterms, 1);
    ASSERT_EQ_U64(r->terms[0].fields, 1u << FZ_FIELD_TEXT);
    ASSERT(r->terms[0].hs_flags & HS_FLAG_CASELESS);
    ASSERT_STR_EQ(r->description, "bank card frozen");
    ASSERT_STR_EQ(r->terms[0].pattern, "(银行卡|账户).{0,12}(冻结|异常)");
    ASSERT_STR_EQ(r->terms[0].name, "p1");
    ASSERT_EQ_U64(r->terms[0].line, 9);
    ASSERT_EQ_U64(r->line, 3);
    ASSERT(ends_with(r->file, "/bank.yaml"));

    r = fz_ruleset_rule(rs, 1);
    ASSERT_EQ_U64(r->rev, 1); /* default */
    ASSERT_EQ_I64(r->severity, FZ_SEV_CRITICAL);
    ASSERT_EQ_U64(r->terms[0].fields, (1u << FZ_FIELD_FROM) | (1u << FZ_FIELD_TO));
    ASSERT(!(r->terms[0].hs_flags & HS_FLAG_CASELESS));
    ASSERT_EQ_U64(r->nterms, 2);
    ASSERT_EQ_U64(r->terms[0].line, 16);
    ASSERT_EQ_U64(r->terms[1].line, 17);
    ASSERT_STR_EQ(r->terms[1].pattern, "^\\+8617000000002$");

    r = fz_ruleset_rule(rs, 2);
    ASSERT_EQ_I64(r->severity, FZ_SEV_LOW);
    ASSERT_EQ_U64(r->terms[0].fields, 1u << FZ_FIELD_TEXT); /* a scalar works like a list */
    ASSERT(ends_with(r->file, "/sub/other.yml"));

    /* expressions compiled per field: 1 + 2*2 + 1 */
    ASSERT_EQ_U64(fz_ruleset_pattern_count(rs), 6);
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_TEXT, FZ_VIEW_NORM));
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_FROM, FZ_VIEW_RAW));
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_TO, FZ_VIEW_RAW));
    ASSERT(!fz_ruleset_uses(rs, FZ_FIELD_TEXT, FZ_VIEW_RAW));

    /* the pre-encoded rule object used by alerts */
    r = fz_ruleset_rule(rs, 0);
    tj *v;
    ASSERT_JSON(v, r->json, r->json_len);
    ASSERT_EQ_U64(strlen(r->json), r->json_len);
    ASSERT(tj_is_str(tj_get(v, "id"), "zh.bank.card-frozen"));
    int64_t rev;
    ASSERT(tj_int(tj_get(v, "rev"), &rev) && rev == 3);
    ASSERT(tj_is_str(tj_get(v, "category"), "impersonate_bank"));
    ASSERT(tj_is_str(tj_get(v, "severity"), "high"));
    tj_free(v);

    /* reference counting */
    ASSERT(fz_ruleset_ref(rs) == rs);
    fz_ruleset_unref(rs);
    ASSERT_EQ_U64(fz_ruleset_count(rs), 3); /* still alive: one reference left */
    fz_ruleset_unref(rs);
    fz_ruleset_unref(NULL);
    fz_rule_diags_free(&diags);
}

/* A field with no rule has no database. */
TEST_IMPL(rules_db_per_field) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "r.yaml", other_yaml);
    fz_rule_diags diags;
    fz_ruleset *rs = load(dir, &diags);
    ASSERT(rs != NULL);
    /* with the prefilter: 'lottery' is a set of one literal, scanned in the
     * literal database of text/normalized, with no confirm group */
    ASSERT_EQ_U64(fz_ruleset_db_count(rs), 1);
    ASSERT(fz_ruleset_db_at(rs, 0)->literal);
    ASSERT_EQ_U64(fz_ruleset_confirm_count(rs), 0);
    for (size_t i = 0; i < fz_ruleset_db_count(rs); i++) {
        ASSERT_EQ_U64(fz_ruleset_db_at(rs, i)->field, FZ_FIELD_TEXT);
        ASSERT_EQ_U64(fz_ruleset_db_at(rs, i)->view, FZ_VIEW_NORM);
    }
    ASSERT(fz_ruleset_uses(rs, FZ_FIELD_TEXT, FZ_VIEW_NORM));
    ASSERT(!fz_ruleset_uses(rs, FZ_FIELD_FROM, FZ_VIEW_RAW));
    ASSERT(!fz_ruleset_uses(rs, FZ_FIELD_TO, FZ_VIEW_RAW));
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
}

typedef struct err_case {
    const char *files[2][2]; /* {name, content}, up to two */
    const char *want_file;   /* file the error names (suffix) */
    unsigned want_line;
    const char *want_msg;
    const char *want_msg2; /* a second fragment, or NULL */
} err_case;

#define RULE_HEAD(id) "rules:\n  - id: " id "\n    category: misc\n    severity: low\n"

static void run_err_case(const err_case *c) {
    const char *dir = fz_test_tmpdir();
    for (int i = 0; i < 2; i++)
        if (c->files[i][0]) fz_test_write_str(dir, c->files[i][0], c->files[i][1]);
    fz_rule_diags diags;
    fz_ruleset *rs = load(dir, &diags);
    fz_test_context("case file %s", c->want_file);
    if (rs || diags.errors != 1) print_diags(&diags);
    ASSERT(rs == NULL);
    ASSERT_EQ_U64(diags.errors, 1);
    const fz_rule_diag *g = NULL;
    for (size_t i = 0; i < diags.n; i++)
        if (!diags.v[i].warning) g = &diags.v[i];
    ASSERT(g != NULL);
    char want_file[4096];
    snprintf(want_file, sizeof(want_file), "%s/%s", dir, c->want_file);
    if (c->want_file[0] == '\0') snprintf(want_file, sizeof(want_file), "%s", dir);
    ASSERT_STR_EQ(g->file, want_file);
    ASSERT_EQ_U64(g->line, c->want_line);
    ASSERT_CONTAINS(g->msg, c->want_msg);
    if (c->want_msg2) {
        char m2[4096];
        snprintf(m2, sizeof(m2), c->want_msg2, dir);
        ASSERT_CONTAINS(g->msg, m2);
    }
    fz_rule_diags_free(&diags);
}

static const err_case err_cases[] = {
#define C_UNKNOWN_KEY 0
    {{{"a.yaml", RULE_HEAD("x.one") "    fields: [text]\n    patern: 'x'\n"}},
     "a.yaml",
     6,
     "unknown key 'patern'",
     NULL},
#define C_UNKNOWN_FIELD 1
    {{{"a.yaml", RULE_HEAD("x.one") "    pattern: 'x'\n    fields:\n      - text\n      - body\n"}},
     "a.yaml",
     8,
     "unknown field 'body'",
     NULL},
#define C_UNKNOWN_FLAG 2
    {{{"a.yaml", RULE_HEAD("x.one") "    fields: [text]\n    flags: [caseless, greedy]\n"
                                    "    pattern: 'x'\n"}},
     "a.yaml",
     6,
     "unknown flag 'greedy'",
     NULL},
#define C_BAD_SEVERITY 3
    {{{"a.yaml", "rules:\n  - id: x.one\n    category: misc\n    severity: urgent\n"
                 "    fields: [text]\n    pattern: 'x'\n"}},
     "a.yaml",
     4,
     "severity",
     "'urgent'"},
#define C_MISSING_ID 4
    {{{"a.yaml", RULE_HEAD("x.ok") "    fields: [text]\n    pattern: 'x'\n"
                                   "  - category: misc\n    severity: low\n    fields: [text]\n"
                                   "    pattern: 'y'\n"}},
     "a.yaml",
     7,
     "missing 'id'",
     NULL},
#define C_DUPLICATE 5
    {{{"a.yaml", RULE_HEAD("x.first") "    fields: [text]\n    pattern: 'x'\n"},
      {"b.yaml", "\n\n" RULE_HEAD("x.first") "    fields: [text]\n    pattern: 'y'\n"}},
     "b.yaml",
     4,
     "duplicate rule id 'x.first'",
     "first at %s/a.yaml:2"},
#define C_BACKREF 6
    {{{"a.yaml", RULE_HEAD("x.one") "    fields: [text]\n    pattern: '(a)\\1'\n"}},
     "a.yaml",
     6,
     "x.one",
     "ack-reference"},
#define C_LOOKAHEAD 7
    {{{"a.yaml", RULE_HEAD("x.one") "    fields: [text]\n    patterns:\n      - 'fine'\n"
                                    "      - 'foo(?=x)'\n      - 'also fine'\n"}},
     "a.yaml",
     8,
     "x.one",
     "pattern rejected"},
#define C_BAD_UTF8 8
    {{{"a.yaml", RULE_HEAD("x.one") "    fields: [text]\n    pattern: '\xe8\xb4'\n"}},
     "a.yaml",
     6,
     "invalid UTF-8",
     NULL},
#define C_YAML_SYNTAX 9
    {{{"a.yaml", RULE_HEAD("x.one") "    fields: [text]\n    pattern: 'x'\n"
                                    "    description: a: b\n"}},
     "a.yaml",
     7,
     "YAML",
     NULL},
#define C_YAML_INDENT 10
    {{{"a.yaml", "rules:\n  - id: a\n    category: x\n   severity: high\n"}},
     "a.yaml",
     4,
     "YAML",
     NULL},
#define C_EMPTY_DIR 11
    {{{"notes.txt", "nothing here"}}, "", 0, "no *.yaml rule files found", NULL},
#define C_BAD_ID 12
    {{{"a.yaml", "rules:\n  - category: misc\n    id: Bad Id\n    severity: low\n"
                 "    fields: [text]\n    pattern: 'x'\n"}},
     "a.yaml",
     3,
     "invalid id 'Bad Id'",
     NULL},
#define C_EMPTY_MATCH 13
    {{{"a.yaml", RULE_HEAD("x.one") "    fields: [text]\n    pattern: 'a*'\n"}},
     "a.yaml",
     6,
     "empty string",
     NULL},
#define C_EMPTY_ID 14
    {{{"a.yaml", "rules:\n  - category: misc\n    severity: low\n    id: ''\n"
                 "    fields: [text]\n    pattern: 'x'\n"}},
     "a.yaml",
     4,
     "invalid id ''",
     NULL},
};

/* The rule language's own mistakes: each one error, at its line. */
static const err_case lang_cases[] = {
    {{{"a.yaml", RULE_HEAD("x.one") "    patterns: [{name: a, pattern: x}]\n"
                                    "    condition: a and zz\n"}},
     "a.yaml",
     6,
     "unknown term 'zz'",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    patterns: [{name: a, pattern: x}]\n"
                                    "    condition: not a\n"}},
     "a.yaml",
     6,
     "true when no term matches",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    list: lists/missing.txt\n"}},
     "a.yaml",
     5,
     "cannot open",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    list: ../outside.txt\n"}},
     "a.yaml",
     5,
     "inside the rules directory",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    list: l.txt\n"}, {"l.txt", "ok\nbad\xff\n"}},
     "l.txt",
     2,
     "invalid UTF-8",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    list: l.txt\n"}, {"l.txt", "# only a comment\n\n"}},
     "l.txt",
     0,
     "no entries",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    pattern: x\n    status: maybe\n"}},
     "a.yaml",
     6,
     "'status' must be one of enabled, shadow, disabled",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    pattern: x\n    view: cooked\n"}},
     "a.yaml",
     6,
     "'view' must be one of raw, normalized",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    list: l.txt\n    list_match: fuzzy\n"}, {"l.txt", "a\n"}},
     "a.yaml",
     6,
     "'list_match' must be one of",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    patterns: [{pattern: x, list: l.txt}]\n"},
      {"l.txt", "a\n"}},
     "a.yaml",
     5,
     "exactly one of 'pattern', 'list' or 'model'",
     NULL},
    {{{"a.yaml", RULE_HEAD("x.one") "    pattern: x\n    tests: {should_alert: [x]}\n"}},
     "a.yaml",
     6,
     "unknown key 'should_alert' in 'tests'",
     NULL},
    {{{"a.yaml",
       RULE_HEAD("x.one") "    patterns: [{name: a, pattern: x}, {name: a, pattern: y}]\n"}},
     "a.yaml",
     5,
     "term name 'a' used twice",
     NULL},
};

TEST_IMPL(rules_err_language) {
    for (size_t i = 0; i < FZ_ARRAY_LEN(lang_cases); i++) {
        fz_test_context("language case %zu", i);
        run_err_case(&lang_cases[i]);
    }
}

/* A list over the size cap is refused before it is read (a sparse file, so
 * the test costs no disk), and so is one entry over the entry cap. */
TEST_IMPL(rules_err_huge_list) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "a.yaml", RULE_HEAD("x.one") "    list: big.txt\n");
    const char *big = fz_test_write_str(dir, "big.txt", "a\n");
    ASSERT(truncate(big, (off_t)FZ_LIST_MAX_BYTES + 1) == 0);
    fz_rule_diags diags;
    fz_ruleset *rs = load(dir, &diags);
    ASSERT(rs == NULL);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_EQ_U64(diags.v[0].line, 5);
    ASSERT_CONTAINS(diags.v[0].msg, "larger than 64 MiB");
    fz_rule_diags_free(&diags);

    char entry[FZ_LITERAL_MAX_BYTES + 3];
    memset(entry, 'a', sizeof(entry) - 2);
    entry[sizeof(entry) - 2] = '\n';
    entry[sizeof(entry) - 1] = '\0';
    fz_test_write_str(dir, "big.txt", entry);
    rs = load(dir, &diags);
    ASSERT(rs == NULL);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_CONTAINS(diags.v[0].msg, "longer than 1024 bytes");
    ASSERT_EQ_U64(diags.v[0].line, 1);
    fz_rule_diags_free(&diags);

    /* a NUL byte would make an empty literal (found by fuzzing: Hyperscan
     * crashed compiling it) */
    fz_test_write(dir, "big.txt", "ok\n\0 tail\n", 10);
    rs = load(dir, &diags);
    ASSERT(rs == NULL);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_CONTAINS(diags.v[0].msg, "NUL byte");
    ASSERT_EQ_U64(diags.v[0].line, 2);
    fz_rule_diags_free(&diags);
}

TEST_IMPL(rules_list_parsing) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "a.yaml", RULE_HEAD("x.one") "    list: sub/l.txt\n");
    fz_test_write_str(dir, "sub/l.txt", "# comment\n  b.example  \r\n\na.example\nb.example\n");
    fz_rule_diags diags;
    fz_ruleset *rs = load(dir, &diags);
    ASSERT(rs != NULL);
    /* trimmed, comments and blanks skipped, duplicates removed */
    ASSERT_EQ_U64(fz_ruleset_rule(rs, 0)->terms[0].nliterals, 2);
    ASSERT_EQ_U64(fz_ruleset_literal_count(rs), 2);
    char v1[32];
    snprintf(v1, sizeof(v1), "%s", fz_ruleset_version(rs));
    fz_ruleset_unref(rs);
    /* the version covers list contents */
    fz_test_write_str(dir, "sub/l.txt", "a.example\nc.example\n");
    rs = load(dir, &diags);
    ASSERT(rs != NULL);
    ASSERT(strcmp(v1, fz_ruleset_version(rs)) != 0);
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
}

TEST_IMPL(rules_err_unknown_key) { run_err_case(&err_cases[C_UNKNOWN_KEY]); }
TEST_IMPL(rules_err_unknown_field) { run_err_case(&err_cases[C_UNKNOWN_FIELD]); }
TEST_IMPL(rules_err_unknown_flag) { run_err_case(&err_cases[C_UNKNOWN_FLAG]); }
TEST_IMPL(rules_err_bad_severity) { run_err_case(&err_cases[C_BAD_SEVERITY]); }
TEST_IMPL(rules_err_missing_id) { run_err_case(&err_cases[C_MISSING_ID]); }
TEST_IMPL(rules_err_duplicate_id) { run_err_case(&err_cases[C_DUPLICATE]); }
TEST_IMPL(rules_err_hs_backref) { run_err_case(&err_cases[C_BACKREF]); }
TEST_IMPL(rules_err_hs_lookahead) { run_err_case(&err_cases[C_LOOKAHEAD]); }
TEST_IMPL(rules_err_invalid_utf8) { run_err_case(&err_cases[C_BAD_UTF8]); }
TEST_IMPL(rules_err_yaml_syntax) {
    run_err_case(&err_cases[C_YAML_SYNTAX]);
    run_err_case(&err_cases[C_YAML_INDENT]);
}
TEST_IMPL(rules_err_empty_dir) {
    run_err_case(&err_cases[C_EMPTY_DIR]);
    /* a directory that does not exist is an error too, naming it */
    fz_rule_diags diags;
    ASSERT(load("/nonexistent/fanzha-rules", &diags) == NULL);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_STR_EQ(diags.v[0].file, "/nonexistent/fanzha-rules");
    fz_rule_diags_free(&diags);
}
TEST_IMPL(rules_err_bad_id) {
    run_err_case(&err_cases[C_BAD_ID]);
    run_err_case(&err_cases[C_EMPTY_ID]);
}
TEST_IMPL(rules_err_empty_match) { run_err_case(&err_cases[C_EMPTY_MATCH]); }

/* Every error of a file is reported, in line order, not just the first. */
TEST_IMPL(rules_err_all_reported) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(
        dir, "z.yaml",
        RULE_HEAD("x.a") "    fields: [text]\n    pattern: '(a)\\1'\n"           /* 6 */
                         "  - id: x.b\n    category: misc\n    severity: huge\n" /* 9 */
                         "    fields: [text]\n    pattern: 'x'\n"
                         "  - id: x.c\n    category: misc\n    severity: low\n"
                         "    fields: [texts]\n    pattern: 'x'\n"); /* 15 */
    fz_test_write_str(dir, "a.yaml", RULE_HEAD("x.d") "    fields: [text]\n    pattern: '('\n");
    fz_rule_diags diags;
    ASSERT(load(dir, &diags) == NULL);
    if (diags.errors != 4) print_diags(&diags);
    ASSERT_EQ_U64(diags.errors, 4);
    ASSERT(ends_with(diags.v[0].file, "/a.yaml") && diags.v[0].line == 6);
    ASSERT(ends_with(diags.v[1].file, "/z.yaml") && diags.v[1].line == 6);
    ASSERT(ends_with(diags.v[2].file, "/z.yaml") && diags.v[2].line == 9);
    ASSERT(ends_with(diags.v[3].file, "/z.yaml") && diags.v[3].line == 15);
    /* the printed form is file:line: error: message */
    char *out = NULL;
    size_t outn = 0;
    FILE *fp = open_memstream(&out, &outn);
    fz_rule_diags_print(&diags, fp);
    fclose(fp);
    char want[4096];
    snprintf(want, sizeof(want), "%s/z.yaml:9: error: ", dir);
    ASSERT_CONTAINS(out, want);
    free(out);
    fz_rule_diags_free(&diags);
}

TEST_IMPL(rules_version) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "a.yaml", valid_yaml);
    fz_test_write_str(dir, "b.yaml", other_yaml);
    fz_rule_diags diags;
    fz_ruleset *rs1 = load(dir, &diags);
    ASSERT(rs1 != NULL);
    fz_rule_diags_free(&diags);
    const char *v1 = fz_ruleset_version(rs1);
    ASSERT_EQ_U64(strlen(v1), 3 + 16);
    ASSERT(strncmp(v1, "rs-", 3) == 0);
    for (int i = 3; i < 19; i++) ASSERT(strchr("0123456789abcdef", v1[i]) != NULL);

    /* same content: same version */
    fz_ruleset *rs2 = load(dir, &diags);
    ASSERT(rs2 != NULL);
    fz_rule_diags_free(&diags);
    ASSERT_STR_EQ(fz_ruleset_version(rs2), v1);

    /* same rules, one byte of a comment changed: a new version */
    fz_test_write_str(dir, "b.yaml",
                      "# edited\n"
                      "rules:\n"
                      "  - id: a.low\n"
                      "    category: misc\n"
                      "    severity: low\n"
                      "    fields: text\n"
                      "    pattern: 'lottery'\n");
    fz_ruleset *rs3 = load(dir, &diags);
    ASSERT(rs3 != NULL);
    fz_rule_diags_free(&diags);
    ASSERT(strcmp(fz_ruleset_version(rs3), v1) != 0);

    /* restored: the original version again */
    fz_test_write_str(dir, "b.yaml", other_yaml);
    fz_ruleset *rs4 = load(dir, &diags);
    ASSERT(rs4 != NULL);
    fz_rule_diags_free(&diags);
    ASSERT_STR_EQ(fz_ruleset_version(rs4), v1);

    /* a renamed file is a different ruleset */
    const char *dir2 = fz_test_tmpdir();
    fz_test_write_str(dir2, "a.yaml", valid_yaml);
    fz_test_write_str(dir2, "c.yaml", other_yaml);
    fz_ruleset *rs5 = load(dir2, &diags);
    ASSERT(rs5 != NULL);
    fz_rule_diags_free(&diags);
    ASSERT(strcmp(fz_ruleset_version(rs5), v1) != 0);

    /* the directory's own path does not matter */
    const char *dir3 = fz_test_tmpdir();
    fz_test_write_str(dir3, "a.yaml", valid_yaml);
    fz_test_write_str(dir3, "b.yaml", other_yaml);
    fz_ruleset *rs6 = load(dir3, &diags);
    ASSERT(rs6 != NULL);
    fz_rule_diags_free(&diags);
    ASSERT_STR_EQ(fz_ruleset_version(rs6), v1);

    fz_ruleset_unref(rs1);
    fz_ruleset_unref(rs2);
    fz_ruleset_unref(rs3);
    fz_ruleset_unref(rs4);
    fz_ruleset_unref(rs5);
    fz_ruleset_unref(rs6);
}

TEST_IMPL(rules_warning_only) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "w.yaml",
                      RULE_HEAD("x.cjk") "    fields: [text]\n"
                                         "    pattern: '\\b冻结\\b'\n"
                                         "  - id: x.ascii\n    category: misc\n    severity: low\n"
                                         "    fields: [text]\n    pattern: '\\bfrozen\\b'\n");
    fz_rule_diags diags;
    fz_ruleset *rs = load(dir, &diags);
    if (!rs) print_diags(&diags);
    ASSERT(rs != NULL);
    ASSERT_EQ_U64(diags.errors, 0);
    ASSERT_EQ_U64(diags.n, 1); /* only the CJK one */
    ASSERT(diags.v[0].warning);
    ASSERT_EQ_U64(diags.v[0].line, 6);
    ASSERT_CONTAINS(diags.v[0].msg, "x.cjk");
    ASSERT_CONTAINS(diags.v[0].msg, "CJK");
    ASSERT_EQ_U64(fz_ruleset_count(rs), 2);
    ASSERT(rule_by_id(rs, "x.ascii") != NULL);
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
}

/* The rules cache: a second load of unchanged rules compiles nothing; after
 * one regex changes, only the databases it feeds (the literal database of
 * its field and view, which holds its factors, and its confirm group) are
 * compiled again, and those of the other field come from the cache. The
 * verdicts of the cached ruleset are those of a compiled one. */
TEST_IMPL(rules_cache_recompiles_only_changed) {
    const char *dir = fz_test_tmpdir();
    char rdir[4096], cdir[4096];
    snprintf(rdir, sizeof(rdir), "%s/rules", dir);
    snprintf(cdir, sizeof(cdir), "%s/cache", dir);
    ASSERT(mkdir(rdir, 0700) == 0);
    static const char lists[] = "rules:\n"
                                "  - id: l.one\n    category: misc\n    severity: low\n"
                                "    fields: text\n    list: l.txt\n";
    static const char rx1[] = "rules:\n"
                              "  - id: r.one\n    category: misc\n    severity: low\n"
                              "    fields: text\n    pattern: 'lottery.{0,20}prize'\n";
    static const char rx2[] = "rules:\n"
                              "  - id: r.one\n    category: misc\n    severity: low\n"
                              "    fields: text\n    pattern: 'lottery.{0,20}award'\n";
    static const char other[] = "rules:\n"
                                "  - id: r.from\n    category: misc\n    severity: low\n"
                                "    fields: from\n    pattern: '1900.{0,4}5555'\n";
    fz_test_write_str(rdir, "l.yaml", lists);
    fz_test_write_str(rdir, "l.txt", "evil.example\nbad.example\n");
    fz_test_write_str(rdir, "r.yaml", rx1);
    fz_test_write_str(rdir, "f.yaml", other);
    char err[512];
    fz_dbcache *c = fz_dbcache_open(cdir, err, sizeof(err));
    ASSERT(c != NULL);
    fz_rules_opts o = {.compile = 1, .cache = c};
    fz_rule_diags diags = {0};
    fz_ruleset *a = fz_ruleset_load(rdir, &o, &diags);
    ASSERT(a != NULL);
    /* per field: list literals and factors, one confirm group */
    size_t ndb = fz_ruleset_db_count(a);
    ASSERT_EQ_U64(ndb, 4);
    ASSERT_EQ_U64(fz_ruleset_cached_dbs(a), 0);
    fz_ruleset *b = fz_ruleset_load(rdir, &o, &diags);
    ASSERT(b != NULL);
    ASSERT_EQ_U64(fz_ruleset_cached_dbs(b), ndb);
    fz_test_write_str(rdir, "r.yaml", rx2);
    fz_ruleset *d = fz_ruleset_load(rdir, &o, &diags);
    ASSERT(d != NULL);
    ASSERT_EQ_U64(fz_ruleset_db_count(d), ndb);
    ASSERT_EQ_U64(fz_ruleset_cached_dbs(d), 2); /* those of the from field */
    /* what was cached matches like what was compiled */
    fz_matcher *m = fz_matcher_new(b, err, sizeof(err));
    ASSERT(m != NULL);
    fz_views v;
    memset(&v, 0, sizeof(v));
    static const char text[] = "lottery: claim your prize at evil.example";
    v[FZ_FIELD_TEXT][FZ_VIEW_NORM] = (fz_str){text, sizeof(text) - 1};
    fz_matches mt;
    ASSERT_EQ_I64(fz_matcher_scan(m, &v, &mt), 2);
    fz_matcher_destroy(m);
    fz_ruleset_unref(a);
    fz_ruleset_unref(b);
    fz_ruleset_unref(d);
    fz_dbcache_close(c);
    fz_rule_diags_free(&diags);
}
