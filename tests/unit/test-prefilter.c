/*
 * test-prefilter.c - the literal factors of a regex (prefilter.h).
 *
 * The matcher skips a regex on every event where one of its factor
 * clauses has no hit, so the factors must be necessary: whenever
 * Hyperscan, with the same flags, finds a match in a text, each clause
 * has a literal in that text (byte for byte, or with ASCII case folding
 * when the factors are caseless, as Hyperscan's literal API compiles
 * them). Three tests:
 *
 *   golden          the exact clauses of hand-written patterns, and "none"
 *                   for syntax the analysis does not model, unbalanced or
 *                   too deeply nested patterns, and factors too common;
 *   oracle          every code point the analysis keeps in a caseless
 *                   pattern against every code point Hyperscan's caseless
 *                   match lets through; then random patterns over a small
 *                   alphabet (ASCII letters, a space, CJK, é, µ, KELVIN
 *                   SIGN, LONG S) and texts made from them, checked
 *                   against Hyperscan itself;
 *   shipped_rules   every regex of rules/ on its rules' should_match
 *                   examples, and the share of them that gets factors.
 */
#include <hs/hs.h>
#include <stdlib.h>

#include "common.h"
#include "norm.h"
#include "prefilter.h"
#include "rules.h"
#include "test.h"

#define FL_U (HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH)
#define FL_UC (FL_U | HS_FLAG_CASELESS)

/* ---- rendering factors as text ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        ASSERT(np != NULL);
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* A literal with [ ] | \ escaped and control bytes as \xHH. */
static void sb_lit(sbuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '[' || c == ']' || c == '|' || c == '\\') {
            e[0] = '\\', e[1] = (char)c;
            sb_add(b, e, 2);
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(e, sizeof(e), "\\x%02X", c);
            sb_str(b, e);
        } else {
            sb_add(b, (const char *)&s[i], 1);
        }
    }
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Clauses (rendered "[lit|lit]") joined by spaces in sorted order, so
 * that a comparison does not depend on the order of equally selective
 * clauses. Takes the strings over. */
static char *join_sorted(char **cl, size_t n) {
    qsort(cl, n, sizeof(char *), cmp_str);
    sbuf b = {0};
    sb_str(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_str(&b, " ");
        sb_str(&b, cl[i]);
        free(cl[i]);
    }
    free(cl);
    return b.p;
}

static char *render(const fz_prefilter *pf) {
    char **cl = calloc(pf->n + 1, sizeof(char *));
    ASSERT(cl != NULL);
    for (size_t i = 0; i < pf->n; i++) {
        sbuf b = {0};
        sb_str(&b, "[");
        for (size_t k = 0; k < pf->clauses[i].n; k++) {
            if (k) sb_str(&b, "|");
            sb_lit(&b, pf->clauses[i].lits[k].s, pf->clauses[i].lits[k].n);
        }
        sb_str(&b, "]");
        cl[i] = b.p;
    }
    return join_sorted(cl, pf->n);
}

static int cmp_lit_bytes(const fz_pf_lit *x, const fz_pf_lit *y) {
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int cmp_lit_q(const void *a, const void *b) { return cmp_lit_bytes(a, b); }

/* An expected value in the same notation, literals in any order:
 * re-rendered with each clause's literals sorted byte-wise. */
static char *canonical(const char *want) {
    char **cl = calloc(strlen(want) + 1, sizeof(char *));
    ASSERT(cl != NULL);
    size_t ncl = 0;
    const char *p = want;
    while (*p) {
        if (*p == ' ') {
            p++;
            continue;
        }
        ASSERT(*p == '[');
        p++;
        fz_pf_lit lits[128];
        size_t nl = 0;
        char cur[512];
        size_t cn = 0;
        for (;; p++) {
            ASSERT(*p != '\0');
            if (*p == '\\') {
                p++;
                ASSERT(*p != '\0');
                cur[cn++] = *p;
                continue;
            }
            if (*p == '|' || *p == ']') {
                ASSERT(nl < 128);
                lits[nl].s = malloc(cn + 1);
                ASSERT(lits[nl].s != NULL);
                memcpy(lits[nl].s, cur, cn);
                lits[nl].s[cn] = '\0';
                lits[nl++].n = cn;
                cn = 0;
                if (*p == ']') break;
                continue;
            }
            ASSERT(cn < sizeof(cur));
            cur[cn++] = *p;
        }
        p++;
        qsort(lits, nl, sizeof(fz_pf_lit), cmp_lit_q);
        sbuf b = {0};
        sb_str(&b, "[");
        for (size_t k = 0; k < nl; k++) {
            if (k) sb_str(&b, "|");
            sb_lit(&b, lits[k].s, lits[k].n);
            free(lits[k].s);
        }
        sb_str(&b, "]");
        cl[ncl++] = b.p;
    }
    return join_sorted(cl, ncl);
}

/* A literal's weight as prefilter.h defines it: 2 per ASCII letter or
 * digit, 1 per ASCII punctuation, 0 per space, 4 per non-ASCII character. */
static size_t lit_weight(const fz_pf_lit *l) {
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        unsigned char c = (unsigned char)l->s[i];
        if (c >= 0x80)
            w += (c & 0xC0) != 0x80 ? 4 : 0;
        else
            w += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? 2
                 : c == ' '                                                                 ? 0
                                                                                            : 1;
    }
    return w;
}

/* The contract of a result, whatever the pattern: literals distinct and
 * sorted; at most FZ_PF_MAX_CLAUSES clauses, the most selective (heaviest)
 * first, none lighter than FZ_PF_EXTRA_WEIGHT, the first at least
 * FZ_PF_MIN_WEIGHT; a reason when there are none. */
static void check_shape(const fz_prefilter *pf, unsigned flags) {
    ASSERT_EQ_I64(pf->caseless, (flags & HS_FLAG_CASELESS) != 0);
    ASSERT(pf->n <= FZ_PF_MAX_CLAUSES);
    if (pf->n == 0) ASSERT(pf->why != NULL && pf->why[0] != '\0');
    size_t prev = SIZE_MAX;
    for (size_t i = 0; i < pf->n; i++) {
        ASSERT(pf->clauses[i].n > 0);
        size_t w = SIZE_MAX;
        for (size_t k = 0; k < pf->clauses[i].n; k++) {
            const fz_pf_lit *l = &pf->clauses[i].lits[k];
            ASSERT(l->n > 0);
            ASSERT(l->s[l->n] == '\0');
            if (k) ASSERT(cmp_lit_bytes(&pf->clauses[i].lits[k - 1], l) < 0);
            if (lit_weight(l) < w) w = lit_weight(l);
        }
        ASSERT(w >= FZ_PF_EXTRA_WEIGHT);
        ASSERT(w <= prev);
        if (i == 0) ASSERT(w >= FZ_PF_MIN_WEIGHT);
        prev = w;
    }
}

/* ---- golden ---- */

typedef struct golden {
    const char *pattern;
    unsigned flags;
    const char *want; /* "[a|b] [c]": the clauses; NULL: no usable factor */
    const char *why;  /* want == NULL: a word of out->why */
} golden;

#define SYNTAX "not model"
#define RARE "rare enough"

static const golden goldens[] = {
    /* literals, alternations, cross products */
    {"安全账户", FL_U, "[安全账户]", NULL},
    {"wire transfer", FL_U, "[wire transfer]", NULL},
    {"(paypal|venmo|zelle)", FL_U, "[paypal|venmo|zelle]", NULL},
    {"(?:paypal|venmo)", FL_U, "[paypal|venmo]", NULL},
    {"(转入|转到)(安全|国家)账户", FL_U, "[转入安全账户|转入国家账户|转到安全账户|转到国家账户]",
     NULL},
    {"[ab][cd]xyz", FL_U, "[acxyz|adxyz|bcxyz|bdxyz]", NULL},
    {"\\$100\\.00", FL_U, "[$100.00]", NULL},
    /* gaps split the pattern into clauses */
    {"(转入|转到).{0,20}(安全|国家)账户", FL_U, "[转入|转到] [安全账户|国家账户]", NULL},
    {"verify.{0,20}account.{0,10}suspended", FL_U, "[verify] [account] [suspended]", NULL},
    {"refund\\s+\\d{2,4}\\s*dollars", FL_U, "[refund] [dollars]", NULL},
    {"[a-z]{3}bcde", FL_U, "[bcde]", NULL},
    {"[^abc]defg", FL_U, "[defg]", NULL},
    /* optional and repeated parts */
    {"colou?r", FL_U, "[color|colour]", NULL},
    {"(安全)?账户冻结", FL_U, "[安全账户冻结|账户冻结]", NULL},
    {"abcde*", FL_U, "[abcd]", NULL},
    {"(abcd)+xyz", FL_U, "[abcd] [xyz]", NULL},
    {"(abcd){2,3}", FL_U, "[abcd]", NULL},
    {"(abcd){0,3}efgh", FL_U, "[efgh]", NULL},
    {"(abcd|efgh.*ijklm)", FL_U, "[abcd|ijklm]", NULL}, /* a branch's heaviest clause */
    /* zero-width assertions */
    {"\\bgift card\\b", FL_U, "[gift card]", NULL},
    {"^安全账户$", FL_U, "[安全账户]", NULL},
    {"\\Aabcd\\z", FL_U, "[abcd]", NULL},
    /* classes */
    {"[账帐]户冻结", FL_U, "[账户冻结|帐户冻结]", NULL},
    {"[a-c]xyz1", FL_U, "[axyz1|bxyz1|cxyz1]", NULL},
    /* caseless: ASCII folded, k and s also KELVIN SIGN and LONG S */
    {"ABCD", FL_UC, "[abcd]", NULL},
    {"DESK", FL_UC, "[desk|des\u212A|de\u017Fk|de\u017F\u212A]", NULL},
    {"[k]eys", FL_UC, "[keys|key\u017F|\u212Aeys|\u212Aey\u017F]", NULL},
    /* on the normalised text (no KELVIN SIGN, no LONG S there) no variants */
    {"DESK", FL_UC | FZ_PF_NORMALISED, "[desk]", NULL},
    {"[k]eys", FL_UC | FZ_PF_NORMALISED, "[keys]", NULL},
    {"账户OK", FL_UC, "[账户ok|账户o\u212A]", NULL},
    {"desk", FL_U, "[desk]", NULL},
    /* caseless letters outside ASCII: no exact factor where they stand */
    {"éééé", FL_U, "[éééé]", NULL},
    {"éééé", FL_UC, NULL, RARE},
    {"café latte", FL_UC, "[caf] [ latte]", NULL},
    {"\u212A\u212A", FL_U, "[\u212A\u212A]", NULL}, /* KELVIN SIGN */
    {"\u212A\u212A", FL_UC, NULL, RARE},
    {"µµ", FL_U, "[µµ]", NULL},
    {"µµ", FL_UC, NULL, RARE}, /* MICRO SIGN: caseless it matches μ and Μ */
    {"账户", FL_UC, "[账户]", NULL},
    /* weak clauses: kept beside a rare one, never alone */
    {"transfer.*of.*account", FL_U, "[transfer] [account]", NULL},
    {"transfer.* of .*account", FL_U, "[transfer] [account]", NULL}, /* a space weighs 0 */
    {"transfer.*cash.*account", FL_U, "[transfer] [cash] [account]", NULL},
    {"new.*msg.*calls", FL_U, "[new] [msg] [calls]", NULL},
    {" of ", FL_U, NULL, RARE},
    {"rmb", FL_U, "[rmb]", NULL},
    {"rm", FL_U, NULL, RARE},
    {"  rm  ", FL_U, NULL, RARE},
    {"万", FL_U, NULL, RARE},
    {"万元", FL_U, "[万元]", NULL},
    {"abcd*", FL_U, "[abc]", NULL},
    {"abd*", FL_U, NULL, RARE},
    {"(abcd|)", FL_U, NULL, RARE},
    {"(abcd|.)", FL_U, NULL, RARE},
    {".*", FL_U, NULL, RARE},
    {"", FL_U, NULL, RARE},
    /* syntax not modelled */
    {"(?i)abcd", FL_U, NULL, SYNTAX},
    {"abcd(?=xyzw)", FL_U, NULL, SYNTAX},
    {"(?<!x)abcd", FL_U, NULL, SYNTAX},
    {"(?<name>abcd)", FL_U, NULL, SYNTAX},
    {"\\x41bcde", FL_U, NULL, SYNTAX},
    {"\\Qabcd\\E", FL_U, NULL, SYNTAX},
    {"(abcd)\\1", FL_U, NULL, SYNTAX},
    {"[[:alpha:]]abcd", FL_U, NULL, SYNTAX},
    {"[\\b]abcd", FL_U, NULL, SYNTAX},
    {"abcd{,3}", FL_U, NULL, SYNTAX},
    {"\\账户abcd", FL_U, NULL, SYNTAX},
    /* unbalanced */
    {"(abcd", FL_U, NULL, SYNTAX},
    {"abcd)", FL_U, NULL, SYNTAX},
    {"[abcd", FL_U, NULL, SYNTAX},
    {"abcd\\", FL_U, NULL, SYNTAX},
    {"*abcd", FL_U, NULL, SYNTAX},
    /* logical combinations are not regexes */
    {"abcd", FL_U | HS_FLAG_COMBINATION, NULL, "combination"},
};

static void check_golden(const char *pattern, unsigned flags, const char *want, const char *why) {
    fz_prefilter pf;
    ASSERT_EQ_I64(fz_prefilter_derive(pattern, flags, &pf), 0);
    check_shape(&pf, flags);
    if (!want) {
        char *got = render(&pf);
        if (pf.n != 0) fz_test_fail(__FILE__, __LINE__, "expected no usable factor, got %s", got);
        free(got);
        ASSERT_CONTAINS(pf.why, why);
    } else {
        char *got = render(&pf), *exp = canonical(want);
        ASSERT_STR_EQ(got, exp);
        free(got);
        free(exp);
    }
    fz_prefilter_free(&pf);
    fz_prefilter_free(&pf); /* a freed result is empty: freeing again is harmless */
}

TEST_IMPL(prefilter_golden) {
    for (size_t i = 0; i < FZ_ARRAY_LEN(goldens); i++) {
        const golden *g = &goldens[i];
        fz_test_context("case %zu: /%s/ flags 0x%x", i, g->pattern, g->flags);
        check_golden(g->pattern, g->flags, g->want, g->why);
    }
    fz_prefilter_free(NULL);

    /* nesting: within the depth limit as usual, far beyond it refused
     * (without exhausting the stack), unclosed refused either way */
    static const size_t depths[] = {50, 100000};
    char *bomb = malloc(2 * depths[1] + 8);
    ASSERT(bomb != NULL);
    for (size_t i = 0; i < FZ_ARRAY_LEN(depths); i++) {
        size_t d = depths[i];
        memset(bomb, '(', d);
        memcpy(bomb + d, "abcd", 4);
        memset(bomb + d + 4, ')', d);
        bomb[2 * d + 4] = '\0';
        fz_test_context("%zu nested groups", d);
        check_golden(bomb, FL_U, d == depths[0] ? "[abcd]" : NULL, SYNTAX);
        bomb[d + 4] = '\0';
        check_golden(bomb, FL_U, NULL, SYNTAX);
    }
    free(bomb);

    /* a cross product past the exact-set limit stops growing and becomes a
     * clause; the single letter left over is too common to keep */
    fz_test_context("[ab][cd][ef][gh][ij][kl][mn]");
    fz_prefilter pf;
    ASSERT_EQ_I64(fz_prefilter_derive("[ab][cd][ef][gh][ij][kl][mn]", FL_U, &pf), 0);
    check_shape(&pf, FL_U);
    ASSERT_EQ_U64(pf.n, 1);
    ASSERT_EQ_U64(pf.clauses[0].n, 64);
    ASSERT_VIEW_EQ(pf.clauses[0].lits[0].s, pf.clauses[0].lits[0].n, "acegik");
    ASSERT_VIEW_EQ(pf.clauses[0].lits[63].s, pf.clauses[0].lits[63].n, "bdfhjl");
    fz_prefilter_free(&pf);

    /* at most FZ_PF_MAX_CLAUSES (check_shape: the heaviest first) */
    sbuf b = {0};
    for (int i = 0; i < 20; i++) {
        char w[32];
        snprintf(w, sizeof(w), "%s%.*s", i ? ".*" : "", 4 + i % 5, &"abcdefghijk"[i % 3]);
        sb_str(&b, w);
    }
    fz_test_context("%s", b.p);
    ASSERT_EQ_I64(fz_prefilter_derive(b.p, FL_U, &pf), 0);
    check_shape(&pf, FL_U);
    ASSERT_EQ_U64(pf.n, FZ_PF_MAX_CLAUSES);
    ASSERT_EQ_U64(pf.clauses[0].lits[0].n, 8);
    fz_prefilter_free(&pf);
    free(b.p);
}

/* ---- the soundness check ---- */

static int fold(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 1 if lit occurs in t[0..n), byte for byte or with ASCII case folding. */
static int occurs(const char *t, size_t n, const fz_pf_lit *lit, int caseless) {
    if (lit->n > n) return 0;
    for (size_t i = 0; i + lit->n <= n; i++) {
        size_t k = 0;
        if (caseless)
            while (k < lit->n && fold((unsigned char)t[i + k]) == fold((unsigned char)lit->s[k]))
                k++;
        else
            while (k < lit->n && t[i + k] == lit->s[k]) k++;
        if (k == lit->n) return 1;
    }
    return 0;
}

/* The clause of pf that no literal of t satisfies, or -1. */
static long unmet_clause(const fz_prefilter *pf, const char *t, size_t n) {
    for (size_t i = 0; i < pf->n; i++) {
        size_t k = 0;
        while (k < pf->clauses[i].n && !occurs(t, n, &pf->clauses[i].lits[k], pf->caseless)) k++;
        if (k == pf->clauses[i].n) return (long)i;
    }
    return -1;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                    void *ctx) {
    (void)id, (void)from, (void)to, (void)fl;
    *(int *)ctx = 1;
    return 1; /* one match is all we need */
}

/* 1 if db matches t[0..n). */
static int hs_matches(const hs_database_t *db, hs_scratch_t *scratch, const char *t, size_t n) {
    int hit = 0;
    hs_error_t rc = hs_scan(db, t, (unsigned)n, 0, scratch, on_match, &hit);
    ASSERT(rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED);
    return hit;
}

/* Printable form of t for a failure message: non-ASCII as \u{..}. */
static void describe(const char *t, size_t n, char *out, size_t size) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 12 < size;) {
        uint32_t cp;
        size_t k = tu_decode((const unsigned char *)t + i, n - i, &cp);
        if (k == 0) {
            o += (size_t)snprintf(out + o, size - o, "\\x%02X", (unsigned char)t[i]);
            i++;
        } else if (cp < 0x20 || cp >= 0x7F) {
            o += (size_t)snprintf(out + o, size - o, "\\u{%X}", (unsigned)cp);
            i += k;
        } else {
            out[o++] = t[i++];
        }
    }
    out[o] = '\0';
}

/* Fail unless every clause of pf has a literal in t (which db matched). */
static void assert_sound(const char *file, int line, const char *pattern, unsigned flags,
                         const fz_prefilter *pf, const char *t, size_t n) {
    long c = unmet_clause(pf, t, n);
    if (c < 0) return;
    char pd[512], td[1024];
    describe(pattern, strlen(pattern), pd, sizeof(pd));
    describe(t, n, td, sizeof(td));
    char *got = render(pf);
    fz_test_fail(file, line,
                 "unsound factors: /%s/ (flags 0x%x) matches \"%s\" but clause %ld of %s has no "
                 "literal there",
                 pd, flags, td, c, got);
}

/* ---- oracle: random patterns and texts ---- */

/* What patterns are made of, the commoner ones repeated. LONG S, KELVIN
 * SIGN, é and µ have case partners outside ASCII; 账 and 户 have none. */
static const char *const pat_syms[] = {"a", "b", "k", "s", "K",  "S",  "a",      "b",     "k",
                                       "s", "A", "B", " ", "账", "户", "账",     "户",    "é",
                                       "É", "µ", "b", "a", "k",  "s",  "\u212A", "\u017F"};
/* Text symbols: those, and what their caseless forms can turn into
 * (Greek small and capital mu for µ). */
static const char *const text_syms[] = {"a", "b", "k",  "s",      "K",      "S",      "A",
                                        "B", " ", "账", "户",     "帐",     "é",      "É",
                                        "µ", "x", "\n", "\u212A", "\u017F", "\u03BC", "\u039C"};

/* Symbols a caseless pattern symbol matches (besides itself). */
static const char *const *partners(const char *sym) {
    static const char *const k[] = {"k", "K", "\u212A", NULL};
    static const char *const s[] = {"s", "S", "\u017F", NULL};
    static const char *const a[] = {"a", "A", NULL};
    static const char *const b[] = {"b", "B", NULL};
    static const char *const e[] = {"é", "É", NULL};
    static const char *const mu[] = {"µ", "\u03BC", "\u039C", NULL};
    if (!strcmp(sym, "k") || !strcmp(sym, "K") || !strcmp(sym, "\u212A")) return k;
    if (!strcmp(sym, "s") || !strcmp(sym, "S") || !strcmp(sym, "\u017F")) return s;
    if (!strcmp(sym, "a") || !strcmp(sym, "A")) return a;
    if (!strcmp(sym, "b") || !strcmp(sym, "B")) return b;
    if (!strcmp(sym, "é") || !strcmp(sym, "É")) return e;
    if (!strcmp(sym, "µ")) return mu;
    return NULL;
}

/* Classes: the pattern text and, when it is a small positive one, its
 * members (negated and large classes match a random text symbol). */
typedef struct cls {
    const char *src;
    const char *members[4];
} cls;

static const cls classes[] = {
    {"[ab]", {"a", "b"}},
    {"[a-c]", {"a", "b", "c"}},
    {"[k账]", {"k", "账"}},
    {"[sS]", {"s", "S"}},
    {"[账户帐]", {"账", "户", "帐"}},
    {"[é ]", {"é", " "}},
    {"[^a]", {NULL}},
    {"[a-z]", {NULL}},
    {"\\w", {NULL}},
    {"\\s", {NULL}},
    {"[^账]", {NULL}},
    {"[K\u212A]", {"K", "\u212A"}},
};

enum { N_SYM, N_DOT, N_CLASS, N_WB, N_BOL, N_EOL, N_GROUP, N_CAT, N_ALT };

#define MAX_NODES 256
#define MAX_KIDS 14

typedef struct node {
    int kind;
    int arg;      /* N_SYM: pat_syms index; N_CLASS: classes index; N_GROUP: 1 = (?: */
    int min, max; /* quantifier; max -1: unbounded; min = max = 1: none */
    int kid[MAX_KIDS];
    int nkid;
} node;

typedef struct tree {
    node v[MAX_NODES];
    int n;
} tree;

static int new_node(tree *t, int kind) {
    if (t->n >= MAX_NODES) return -1;
    node *x = &t->v[t->n];
    memset(x, 0, sizeof(*x));
    x->kind = kind;
    x->min = x->max = 1;
    return t->n++;
}

static int gen_alt(tree *t, int depth);

/* An atom with an optional quantifier; groups nest up to depth 3. */
static int gen_atom(tree *t, int depth) {
    uint64_t r = fz_test_rand_below(100);
    int x;
    if (r < 66 || depth >= 3) {
        x = new_node(t, N_SYM);
        if (x >= 0) t->v[x].arg = (int)fz_test_rand_below(FZ_ARRAY_LEN(pat_syms));
    } else if (r < 72) {
        x = new_node(t, N_DOT);
    } else if (r < 84) {
        x = new_node(t, N_CLASS);
        if (x >= 0) t->v[x].arg = (int)fz_test_rand_below(FZ_ARRAY_LEN(classes));
    } else if (r < 88) {
        return new_node(t, N_WB); /* never quantified */
    } else {
        x = new_node(t, N_GROUP);
        if (x < 0) return -1;
        t->v[x].arg = (int)fz_test_rand_below(2);
        int k = gen_alt(t, depth + 1);
        if (k < 0) return -1;
        t->v[x].kid[t->v[x].nkid++] = k;
    }
    if (x < 0) return -1;
    node *n = &t->v[x];
    r = fz_test_rand_below(100);
    if (r < 78) {
        /* none */
    } else if (r < 84) {
        n->min = 0, n->max = 1;
    } else if (r < 88) {
        n->min = 0, n->max = -1;
    } else if (r < 93) {
        n->min = 1, n->max = -1;
    } else { /* {m}, {m,n}, {m,}; never {0} */
        n->min = (int)fz_test_rand_below(3);
        uint64_t m = fz_test_rand_below(3);
        n->max = m == 0 ? n->min : m == 1 ? n->min + (int)fz_test_rand_below(3) : -1;
        if (n->max == 0) n->max = 1;
    }
    return x;
}

/* Atoms in a row; at the top level sometimes anchored (Hyperscan takes
 * ^ and $ only there). */
static int gen_concat(tree *t, int depth) {
    int x = new_node(t, N_CAT);
    if (x < 0) return -1;
    int len = depth ? 1 + (int)fz_test_rand_below(4) : 3 + (int)fz_test_rand_below(MAX_KIDS - 4);
    int bol = depth == 0 && fz_test_rand_below(10) == 0;
    int eol = depth == 0 && fz_test_rand_below(10) == 0;
    for (int i = -bol; i < len + eol; i++) {
        int k = i < 0 ? new_node(t, N_BOL) : i == len ? new_node(t, N_EOL) : gen_atom(t, depth);
        if (k < 0) return -1;
        t->v[x].kid[t->v[x].nkid++] = k;
    }
    return x;
}

static int gen_alt(tree *t, int depth) {
    int x = new_node(t, N_ALT);
    if (x < 0) return -1;
    uint64_t r = fz_test_rand_below(10);
    int nb = r < 7 ? 1 : r < 9 ? 2 : 3;
    for (int i = 0; i < nb; i++) {
        int k = gen_concat(t, depth);
        if (k < 0) return -1;
        t->v[x].kid[t->v[x].nkid++] = k;
    }
    return x;
}

static void render_node(const tree *t, int x, sbuf *b) {
    const node *n = &t->v[x];
    switch (n->kind) {
    case N_SYM: sb_str(b, pat_syms[n->arg]); break;
    case N_DOT: sb_str(b, "."); break;
    case N_CLASS: sb_str(b, classes[n->arg].src); break;
    case N_WB: sb_str(b, "\\b"); break;
    case N_BOL: sb_str(b, "^"); break;
    case N_EOL: sb_str(b, "$"); break;
    case N_GROUP:
        sb_str(b, n->arg ? "(?:" : "(");
        render_node(t, n->kid[0], b);
        sb_str(b, ")");
        break;
    case N_CAT:
        for (int i = 0; i < n->nkid; i++) render_node(t, n->kid[i], b);
        break;
    case N_ALT:
        for (int i = 0; i < n->nkid; i++) {
            if (i) sb_str(b, "|");
            render_node(t, n->kid[i], b);
        }
        break;
    }
    if (n->min == 1 && n->max == 1) return;
    char q[32];
    if (n->min == 0 && n->max == 1)
        snprintf(q, sizeof(q), "?");
    else if (n->min == 0 && n->max < 0)
        snprintf(q, sizeof(q), "*");
    else if (n->min == 1 && n->max < 0)
        snprintf(q, sizeof(q), "+");
    else if (n->max < 0)
        snprintf(q, sizeof(q), "{%d,}", n->min);
    else if (n->max == n->min)
        snprintf(q, sizeof(q), "{%d}", n->min);
    else
        snprintf(q, sizeof(q), "{%d,%d}", n->min, n->max);
    sb_str(b, q);
}

static const char *random_text_sym(void) {
    return text_syms[fz_test_rand_below(FZ_ARRAY_LEN(text_syms))];
}

/* A symbol as a text might spell it: itself, or (caseless) any of its
 * case partners. */
static const char *spell(const char *sym, int caseless) {
    const char *const *p = caseless ? partners(sym) : NULL;
    if (!p || fz_test_rand_below(3) == 0) return sym;
    size_t np = 0;
    while (p[np]) np++;
    return p[fz_test_rand_below(np)];
}

/* Append a random string x should match (it does not always: \b, ^, $
 * and negated classes are not honoured). */
static void gen_member(const tree *t, int x, int caseless, sbuf *b) {
    const node *n = &t->v[x];
    int reps = n->min;
    if (n->max < 0)
        reps += (int)fz_test_rand_below(3);
    else if (n->max > n->min)
        reps += (int)fz_test_rand_below((uint64_t)(n->max - n->min + 1));
    for (int r = 0; r < reps; r++) {
        switch (n->kind) {
        case N_SYM: sb_str(b, spell(pat_syms[n->arg], caseless)); break;
        case N_DOT: sb_str(b, random_text_sym()); break;
        case N_CLASS: {
            const cls *c = &classes[n->arg];
            size_t nm = 0;
            while (nm < 4 && c->members[nm]) nm++;
            sb_str(b, nm ? spell(c->members[fz_test_rand_below(nm)], caseless) : random_text_sym());
            break;
        }
        case N_WB:
        case N_BOL:
        case N_EOL: break;
        case N_GROUP: gen_member(t, n->kid[0], caseless, b); break;
        case N_CAT:
            for (int i = 0; i < n->nkid; i++) gen_member(t, n->kid[i], caseless, b);
            break;
        case N_ALT:
            gen_member(t, n->kid[fz_test_rand_below((uint64_t)n->nkid)], caseless, b);
            break;
        }
    }
}

/* Append a piece of a factor literal, its ASCII letters in random case
 * and (caseless) k and s sometimes swapped for their partners. */
static void gen_piece(const fz_prefilter *pf, sbuf *b) {
    if (pf->n == 0) {
        sb_str(b, random_text_sym());
        return;
    }
    const fz_pf_clause *c = &pf->clauses[fz_test_rand_below(pf->n)];
    const fz_pf_lit *l = &c->lits[fz_test_rand_below(c->n)];
    size_t from = 0, to = l->n;
    if (fz_test_rand_below(3) == 0) { /* a piece, cut between characters */
        from = (size_t)fz_test_rand_below(l->n);
        to = from + 1 + (size_t)fz_test_rand_below(l->n - from);
        while (from < l->n && (l->s[from] & 0xC0) == 0x80) from++;
        while (to < l->n && (l->s[to] & 0xC0) == 0x80) to++;
    }
    for (size_t i = from; i < to; i++) {
        char ch = l->s[i];
        if (pf->caseless && (ch == 'k' || ch == 's') && fz_test_rand_below(4) == 0) {
            sb_str(b, ch == 'k' ? "\u212A" : "\u017F");
            continue;
        }
        if (pf->caseless && ch >= 'a' && ch <= 'z' && fz_test_rand_below(2)) ch = (char)(ch - 32);
        sb_add(b, &ch, 1);
    }
}

/* One text for pattern t: a member in random surroundings, a member with
 * a symbol changed, or pieces of the factors and random symbols. */
static void gen_text(const tree *t, int root, const fz_prefilter *pf, int caseless, sbuf *b) {
    b->n = 0;
    sb_str(b, "");
    uint64_t r = fz_test_rand_below(10);
    int around = (int)fz_test_rand_below(3);
    for (int i = 0; i < around; i++) sb_str(b, random_text_sym());
    if (r < 6) {
        gen_member(t, root, caseless, b);
    } else if (r < 8) {
        sbuf m = {0};
        sb_str(&m, "");
        gen_member(t, root, caseless, &m);
        size_t cut = (size_t)fz_test_rand_below(m.n + 1);
        while (cut < m.n && (m.p[cut] & 0xC0) == 0x80) cut++; /* valid UTF-8 only */
        sb_add(b, m.p, cut);
        sb_str(b, random_text_sym());
        sb_add(b, m.p + cut, m.n - cut);
        free(m.p);
    } else {
        int pieces = 1 + (int)fz_test_rand_below(5);
        for (int i = 0; i < pieces; i++) {
            if (fz_test_rand_below(3) == 0) sb_str(b, random_text_sym());
            gen_piece(pf, b);
        }
    }
    around = (int)fz_test_rand_below(3);
    for (int i = 0; i < around; i++) sb_str(b, random_text_sym());
}

/* Case partners, exhaustively: for each code point the analysis keeps in a
 * caseless pattern (ASCII, and the non-ASCII ones it deems caseless),
 * repeated up to FZ_PF_MIN_WEIGHT, run the one-character caseless regex
 * over a text of every code point; each character it matches, repeated
 * as often, must satisfy the clauses derived for the repeated pattern.
 * Code points from U+3000 up (but the full-width forms) are sampled. */
typedef struct partner_ctx {
    char **pats;              /* pattern i: one code point, repeated */
    const size_t *reps;       /* how often */
    const fz_prefilter *pfs;  /* its factors */
    const uint32_t *text_end; /* end offset of the text's k-th code point */
    const uint32_t *text_cp;  /* and the code point itself */
    size_t ntext;
    size_t checked;
} partner_ctx;

static int on_partner(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                      void *arg) {
    (void)from, (void)fl;
    partner_ctx *pc = arg;
    size_t lo = 0, hi = pc->ntext; /* the text code point ending at `to` */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pc->text_end[mid] < to)
            lo = mid + 1;
        else
            hi = mid;
    }
    ASSERT(lo < pc->ntext && pc->text_end[lo] == to);
    unsigned char one[4];
    size_t k = tu_encode(pc->text_cp[lo], one);
    char t[64];
    size_t n = 0;
    for (size_t r = 0; r < pc->reps[id]; r++, n += k) memcpy(t + n, one, k);
    assert_sound(__FILE__, __LINE__, pc->pats[id], FL_UC, &pc->pfs[id], t, n);
    pc->checked++;
    return 0;
}

static int in_sample(uint32_t cp) {
    return cp < 0x3000 || (cp >= 0xFF00 && cp <= 0xFFEF) || cp % 97 == 0;
}

static void check_case_partners(void) {
    size_t cap = 0x3000 + 0xF0 + 0x110000 / 97 + 1, np = 0;
    char **pats = calloc(cap, sizeof(char *)), **exprs = calloc(cap, sizeof(char *));
    size_t *reps = calloc(cap, sizeof(size_t));
    fz_prefilter *pfs = calloc(cap, sizeof(fz_prefilter));
    unsigned *flags = calloc(cap, sizeof(unsigned)), *ids = calloc(cap, sizeof(unsigned));
    ASSERT(pats && exprs && reps && pfs && flags && ids);
    for (uint32_t cp = 0x20; cp < 0x110000; cp++) {
        if ((cp >= 0x7F && cp < 0xA0) || (cp >= 0xD800 && cp <= 0xDFFF) || !in_sample(cp)) continue;
        /* one character, escaped where it is ASCII punctuation */
        char one[8];
        size_t k;
        int alnum =
            (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
        if (cp < 0x80 && !alnum) {
            one[0] = '\\', one[1] = (char)cp;
            k = 2;
        } else {
            k = tu_encode(cp, (unsigned char *)one);
        }
        one[k] = '\0';
        size_t r = cp >= 0x80 ? 2 : alnum ? 4 : 8;
        char pat[64] = "";
        for (size_t i = 0; i < r; i++) strcat(pat, one);
        fz_prefilter pf;
        ASSERT_EQ_I64(fz_prefilter_derive(pat, FL_UC, &pf), 0);
        if (pf.n == 0) continue; /* nothing claimed */
        ASSERT(np < cap);
        pats[np] = strdup(pat);
        exprs[np] = strdup(one);
        ASSERT(pats[np] && exprs[np]);
        reps[np] = r, pfs[np] = pf;
        flags[np] = HS_FLAG_UTF8 | HS_FLAG_CASELESS, ids[np] = (unsigned)np;
        np++;
    }
    ASSERT(np > 1000);
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi((const char *const *)exprs, flags, ids, (unsigned)np, HS_MODE_BLOCK, NULL,
                         &db, &err) != HS_SUCCESS)
        fz_test_fail(__FILE__, __LINE__, "hs_compile_multi: %s (expression %d)", err->message,
                     err->expression);
    /* every code point but NUL and the surrogates */
    size_t ntext = 0x110000 - 0x800 - 1, n = 0, i = 0;
    uint32_t *text_end = malloc(ntext * sizeof(uint32_t)),
             *text_cp = malloc(ntext * sizeof(uint32_t));
    char *text = malloc(ntext * 4);
    ASSERT(text_end && text_cp && text);
    for (uint32_t cp = 1; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        n += tu_encode(cp, (unsigned char *)text + n);
        text_cp[i] = cp;
        text_end[i++] = (uint32_t)n;
    }
    ASSERT_EQ_U64(i, ntext);
    hs_scratch_t *scratch = NULL;
    ASSERT(hs_alloc_scratch(db, &scratch) == HS_SUCCESS);
    partner_ctx pc = {pats, reps, pfs, text_end, text_cp, ntext, 0};
    fz_test_context("caseless code points against every code point");
    ASSERT(hs_scan(db, text, (unsigned)n, 0, scratch, on_partner, &pc) == HS_SUCCESS);
    ASSERT(pc.checked >= np); /* each matches at least itself */
    hs_free_scratch(scratch);
    hs_free_database(db);
    for (size_t k = 0; k < np; k++) {
        free(pats[k]);
        free(exprs[k]);
        fz_prefilter_free(&pfs[k]);
    }
    free(text);
    free(text_cp);
    free(text_end);
    free(pats);
    free(exprs);
    free(reps);
    free(pfs);
    free(flags);
    free(ids);
}

#define ORACLE_PATTERNS 1200
#define ORACLE_TEXTS 60
#define ORACLE_MIN_PAIRS 2000

TEST_IMPL(prefilter_oracle) {
    check_case_partners();

    size_t compiled = 0, factored = 0, pairs = 0;
    sbuf pat = {0}, text = {0};
    for (int it = 0; it < ORACLE_PATTERNS; it++) {
        tree t;
        t.n = 0;
        int root = gen_alt(&t, 0);
        if (root < 0) continue;
        pat.n = 0;
        sb_str(&pat, "");
        render_node(&t, root, &pat);
        unsigned flags = FL_U | HS_FLAG_ALLOWEMPTY;
        if (fz_test_rand_below(2)) flags |= HS_FLAG_CASELESS;
        if (fz_test_rand_below(4) == 0) flags |= HS_FLAG_DOTALL;
        fz_test_context("pattern %d: /%s/ flags 0x%x", it, pat.p, flags);

        fz_prefilter pf;
        ASSERT_EQ_I64(fz_prefilter_derive(pat.p, flags, &pf), 0);
        check_shape(&pf, flags);
        hs_database_t *db = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_compile(pat.p, flags, HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS) {
            hs_free_compile_error(err); /* e.g. "can never match" (\b between spaces) */
            fz_prefilter_free(&pf);
            continue;
        }
        compiled++;
        hs_scratch_t *scratch = NULL;
        ASSERT(hs_alloc_scratch(db, &scratch) == HS_SUCCESS);
        if (pf.n) factored++;
        for (int k = 0; pf.n && k < ORACLE_TEXTS; k++) {
            gen_text(&t, root, &pf, (flags & HS_FLAG_CASELESS) != 0, &text);
            if (!hs_matches(db, scratch, text.p, text.n)) continue;
            pairs++;
            assert_sound(__FILE__, __LINE__, pat.p, flags, &pf, text.p, text.n);
        }
        hs_free_scratch(scratch);
        hs_free_database(db);
        fz_prefilter_free(&pf);
    }
    free(pat.p);
    free(text.p);
    fz_test_context("%zu patterns compiled, %zu with factors, %zu matching texts checked", compiled,
                    factored, pairs);
    ASSERT(compiled >= ORACLE_PATTERNS / 2);
    ASSERT(factored >= compiled / 4);
    ASSERT(pairs >= ORACLE_MIN_PAIRS);
}

/* ---- literal-set regexes (fz_prefilter_exact) ---- */

static int re_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* What the matcher decides from the literals (matcher.c, FZ_ATOM_SET):
 * some literal occurs (ASCII folding when caseless) with a regex word
 * boundary before / after it where the set asks for one. */
static int exact_matches(const fz_pf_exact *ex, const char *t, size_t n) {
    const unsigned char *u = (const unsigned char *)t;
    for (size_t l = 0; l < ex->n; l++) {
        const fz_pf_lit *lit = &ex->lits[l];
        for (size_t i = 0; i + lit->n <= n; i++) {
            size_t k = 0;
            while (k < lit->n && (ex->caseless ? fold(u[i + k]) == fold((unsigned char)lit->s[k])
                                               : t[i + k] == lit->s[k]))
                k++;
            if (k < lit->n) continue;
            size_t end = i + lit->n;
            if (ex->word_start && re_word(u[i]) == (i > 0 && re_word(u[i - 1]))) continue;
            if (ex->word_end && re_word(u[end - 1]) == (end < n && re_word(u[end]))) continue;
            return 1;
        }
    }
    return 0;
}

static char *render_exact(const fz_pf_exact *ex) {
    sbuf b = {0};
    sb_str(&b, ex->word_start ? "\\b[" : "[");
    for (size_t i = 0; i < ex->n; i++) {
        if (i) sb_str(&b, "|");
        sb_lit(&b, ex->lits[i].s, ex->lits[i].n);
    }
    sb_str(&b, ex->word_end ? "]\\b" : "]");
    return b.p;
}

TEST_IMPL(prefilter_exact_golden) {
    static const struct {
        const char *pattern;
        unsigned flags;
        const char *want; /* NULL: not a literal set */
    } g[] = {
        {"(点击|登录|链接)", FL_U, "[点击|登录|链接]"},
        {"(验证码|校验码|请忽略)", FL_UC | FZ_PF_NORMALISED, "[校验码|请忽略|验证码]"},
        {"colou?r", FL_U, "[color|colour]"},
        {"\\b(call|click|pay now)\\b", FL_UC | FZ_PF_NORMALISED, "\\b[call|click|pay now]\\b"},
        {"\\bsk", FL_UC, "\\b[sk|s\u212A|\u017Fk|\u017F\u212A]"},
        {"(a|b)\\b", FL_U, "[a|b]\\b"},
        {"x\\\\b", FL_U, "[x\\\\b]"}, /* an escaped backslash, then 'b' */
        {"\\ba|b\\b", FL_U, NULL},    /* (\ba)|(b\b) */
        {"a\\bb", FL_U, NULL},
        {"^abc", FL_U, NULL},
        {"abc$", FL_U, NULL},
        {"ab.", FL_U, NULL},
        {"ab+", FL_U, NULL},
        {"(ab)?", FL_U, NULL},
        {"[a-z]bc", FL_U, NULL},
        {"abc", FL_U | HS_FLAG_UCP, NULL},
        {"\\b", FL_U, NULL},
        {"é", FL_UC, NULL}, /* case partners outside ASCII */
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(g); i++) {
        fz_pf_exact ex;
        fz_test_context("/%s/ flags 0x%x", g[i].pattern, g[i].flags);
        ASSERT_EQ_I64(fz_prefilter_exact(g[i].pattern, g[i].flags, &ex), 0);
        if (!g[i].want) {
            ASSERT_EQ_U64(ex.n, 0);
        } else {
            char *got = render_exact(&ex);
            ASSERT_STR_EQ(got, g[i].want);
            free(got);
        }
        fz_pf_exact_free(&ex);
    }
}

/* Random patterns, some wrapped in \b( )\b: wherever fz_prefilter_exact
 * claims a literal set, the set must decide every text as Hyperscan does. */
TEST_IMPL(prefilter_exact_oracle) {
    size_t sets = 0, texts = 0, matched = 0;
    sbuf pat = {0}, text = {0};
    for (int it = 0; it < 10 * ORACLE_PATTERNS; it++) {
        tree t;
        t.n = 0;
        int root = gen_alt(&t, 0);
        if (root < 0) continue;
        pat.n = 0;
        uint64_t wrap = fz_test_rand_below(4);
        sb_str(&pat, wrap & 1 ? "\\b(" : "(");
        render_node(&t, root, &pat);
        sb_str(&pat, wrap & 2 ? ")\\b" : ")");
        unsigned flags = FL_U;
        if (fz_test_rand_below(2)) flags |= HS_FLAG_CASELESS;
        fz_test_context("pattern %d: /%s/ flags 0x%x", it, pat.p, flags);
        fz_pf_exact ex;
        ASSERT_EQ_I64(fz_prefilter_exact(pat.p, flags, &ex), 0);
        if (ex.n == 0) continue;
        hs_database_t *db = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_compile(pat.p, flags, HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS) {
            hs_free_compile_error(err); /* e.g. \b that can never hold */
            fz_pf_exact_free(&ex);
            continue;
        }
        sets++;
        hs_scratch_t *scratch = NULL;
        ASSERT(hs_alloc_scratch(db, &scratch) == HS_SUCCESS);
        fz_pf_clause cl = {ex.lits, ex.n}; /* the texts' pieces come from the set */
        fz_prefilter pf = {&cl, 1, ex.caseless, NULL};
        for (int k = 0; k < ORACLE_TEXTS; k++) {
            gen_text(&t, root, &pf, (flags & HS_FLAG_CASELESS) != 0, &text);
            int want = hs_matches(db, scratch, text.p, text.n);
            int got = exact_matches(&ex, text.p, text.n);
            if (want != got) {
                char td[1024];
                describe(text.p, text.n, td, sizeof(td));
                char *r = render_exact(&ex);
                fz_test_fail(__FILE__, __LINE__, "literal set %s says %d, Hyperscan %d on \"%s\"",
                             r, got, want, td);
            }
            texts++;
            matched += (size_t)want;
        }
        hs_free_scratch(scratch);
        hs_free_database(db);
        fz_pf_exact_free(&ex);
    }
    free(pat.p);
    free(text.p);
    fz_test_context("%zu literal sets, %zu texts, %zu matched", sets, texts, matched);
    ASSERT(sets >= 200);
    ASSERT(matched >= texts / 4 && matched < texts);
}

/* ---- alternations with literal-set branches (fz_prefilter_split) ---- */

TEST_IMPL(prefilter_split_golden) {
    static const struct {
        const char *pattern;
        const char *sets; /* render_exact() of each set, one after the other; NULL: no split */
        const char *rest; /* NULL: none */
    } g[] = {
        {"\\b(call|text)\\b|[0-9]{7}", "\\b[call|text]\\b", "[0-9]{7}"},
        {"(qq|wx|微信 ?[a-z0-9]{5})", "[qq][wx]", "微信 ?[a-z0-9]{5}"},
        {"\\b(call|text)\\b|https? //", "\\b[call|text]\\b[http //|https //]", NULL},
        {"(a|b)c|d.e", "[ac|bc]", "d.e"},
        {"\\||x.y", "[\\|]", "x.y"},
        {"x.y|[0-9]+|abc", "[abc]", "x.y|[0-9]+"},
        {"a|", NULL, NULL},            /* an empty branch */
        {"[a|b]c", NULL, NULL},        /* | inside a class */
        {"abc", NULL, NULL},           /* one branch */
        {"x.y|z+", NULL, NULL},        /* no branch is a set */
        {"(?i)ab|c.d", NULL, NULL},    /* an option holds for later branches */
        {"(a|b).(c|d)", NULL, NULL},   /* one branch, not one group */
        {"abc|x\\b\\by", NULL, NULL},  /* alone, the rest can never match */
        {"\\Qa|b\\E|c.d", NULL, NULL}, /* quoting */
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(g); i++) {
        fz_pf_exact sets[FZ_PF_MAX_BRANCHES];
        char *rest = (char *)"unset";
        fz_test_context("/%s/", g[i].pattern);
        int k = fz_prefilter_split(g[i].pattern, FL_UC | FZ_PF_NORMALISED, sets, FZ_PF_MAX_BRANCHES,
                                   &rest);
        ASSERT(k >= 0);
        if (!g[i].sets) {
            ASSERT_EQ_I64(k, 0);
            ASSERT(rest == NULL);
            continue;
        }
        sbuf all = {0};
        sb_str(&all, "");
        for (int j = 0; j < k; j++) {
            char *r = render_exact(&sets[j]);
            sb_str(&all, r);
            free(r);
            fz_pf_exact_free(&sets[j]);
        }
        ASSERT_STR_EQ(all.p, g[i].sets);
        free(all.p);
        if (g[i].rest)
            ASSERT_STR_EQ(rest, g[i].rest);
        else
            ASSERT(rest == NULL);
        free(rest);
    }
}

/* Random alternations of random branches (some wrapped in \b( )\b): where
 * fz_prefilter_split() splits one, "a set matches or the rest does" must
 * decide every text as Hyperscan decides the whole pattern. */
TEST_IMPL(prefilter_split_oracle) {
    static tree t[4];
    int root[4];
    size_t splits = 0, texts = 0, matched = 0;
    sbuf pat = {0}, text = {0};
    for (int it = 0; it < 20 * ORACLE_PATTERNS; it++) {
        int nb = 2 + (int)fz_test_rand_below(3), ok = 1;
        pat.n = 0;
        sb_str(&pat, "");
        for (int b = 0; b < nb && ok; b++) {
            t[b].n = 0;
            root[b] = gen_alt(&t[b], 0);
            if (root[b] < 0) ok = 0;
            uint64_t wrap = fz_test_rand_below(4);
            if (b) sb_str(&pat, "|");
            sb_str(&pat, wrap & 1 ? "\\b(" : "(");
            if (ok) render_node(&t[b], root[b], &pat);
            sb_str(&pat, wrap & 2 ? ")\\b" : ")");
        }
        if (!ok) continue;
        unsigned flags = FL_U;
        if (fz_test_rand_below(2)) flags |= HS_FLAG_CASELESS;
        fz_test_context("pattern %d: /%s/ flags 0x%x", it, pat.p, flags);
        fz_pf_exact sets[FZ_PF_MAX_BRANCHES];
        char *rest = NULL;
        int k = fz_prefilter_split(pat.p, flags, sets, FZ_PF_MAX_BRANCHES, &rest);
        ASSERT(k >= 0);
        if (k == 0) continue;
        hs_database_t *db = NULL, *rdb = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_compile(pat.p, flags, HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS) {
            hs_free_compile_error(err); /* e.g. a branch that matches the empty text */
            for (int j = 0; j < k; j++) fz_pf_exact_free(&sets[j]);
            free(rest);
            continue;
        }
        if (rest && hs_compile(rest, flags, HS_MODE_BLOCK, NULL, &rdb, &err) != HS_SUCCESS)
            fz_test_fail(__FILE__, __LINE__, "the rest /%s/ does not compile: %s", rest,
                         err->message); /* fz_prefilter_split() checked it */
        splits++;
        hs_scratch_t *scratch = NULL;
        ASSERT(hs_alloc_scratch(db, &scratch) == HS_SUCCESS);
        if (rdb) ASSERT(hs_alloc_scratch(rdb, &scratch) == HS_SUCCESS);
        fz_prefilter pf;
        ASSERT_EQ_I64(fz_prefilter_derive(pat.p, flags, &pf), 0);
        for (int n = 0; n < ORACLE_TEXTS; n++) {
            int b = (int)fz_test_rand_below((uint64_t)nb);
            gen_text(&t[b], root[b], &pf, (flags & HS_FLAG_CASELESS) != 0, &text);
            int want = hs_matches(db, scratch, text.p, text.n);
            int got = rdb && hs_matches(rdb, scratch, text.p, text.n);
            for (int j = 0; j < k && !got; j++) got = exact_matches(&sets[j], text.p, text.n);
            if (want != got) {
                char td[1024];
                describe(text.p, text.n, td, sizeof(td));
                fz_test_fail(__FILE__, __LINE__,
                             "split says %d, Hyperscan %d on \"%s\" (rest /%s/)", got, want, td,
                             rest ? rest : "");
            }
            texts++;
            matched += (size_t)want;
        }
        fz_prefilter_free(&pf);
        hs_free_scratch(scratch);
        hs_free_database(db);
        hs_free_database(rdb);
        for (int j = 0; j < k; j++) fz_pf_exact_free(&sets[j]);
        free(rest);
    }
    free(pat.p);
    free(text.p);
    fz_test_context("%zu split patterns, %zu texts, %zu matched", splits, texts, matched);
    ASSERT(splits >= 300);
    ASSERT(matched >= texts / 4 && matched < texts);
}

/* ---- the shipped rules ---- */

/* The repository's rules/ directory: this file is tests/unit/ under the
 * repository root (the build passes sources by absolute path); a relative
 * __FILE__ means the binary was built from there, so use the working
 * directory. */
static const char *rules_dir(void) {
    static char dir[4096];
    const char *suffix = "tests/unit/test-prefilter.c";
    size_t n = strlen(__FILE__), k = strlen(suffix);
    if (n >= k && strcmp(&__FILE__[n - k], suffix) == 0 && n - k + 6 < sizeof(dir)) {
        memcpy(dir, __FILE__, n - k);
        memcpy(dir + n - k, "rules", 6);
        if (dir[0]) return dir;
    }
    return "rules";
}

TEST_IMPL(prefilter_shipped_rules) {
    char err[256];
    if (fz_norm_init(err, sizeof(err)) != 0) fz_test_fail(__FILE__, __LINE__, "norm: %s", err);
    fz_rules_opts opts = {.compile = 0};
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(rules_dir(), &opts, &diags);
    if (!rs) {
        char first[512];
        fz_rule_diags_first_error(&diags, first, sizeof(first));
        fz_test_fail(__FILE__, __LINE__, "loading %s: %s", rules_dir(), first);
    }
    fz_rule_diags_free(&diags);

    /* Hyperscan needs seconds for some of these regexes and minutes for
     * all, so a regex is compiled only where the property is at stake: on
     * an example that lacks one of its clauses, it must not match. */
    size_t terms = 0, factored = 0, examples = 0, all_hit = 0, missed = 0;
    static char nbuf[65536];
    for (size_t i = 0; i < fz_ruleset_count(rs); i++) {
        const fz_rule *r = fz_ruleset_rule(rs, i);
        for (size_t j = 0; j < r->nterms; j++) {
            const fz_term *tm = &r->terms[j];
            if (!tm->pattern) continue;
            terms++;
            int any_factors = 0;
            for (int f = 0; f < FZ_FIELD_COUNT; f++) {
                if (!(tm->fields & (1u << f))) continue;
                fz_view v = fz_term_view(tm, (fz_field)f);
                unsigned flags = fz_term_regex_flags(tm, v);
                fz_test_context("rule %s term %zu field %d: /%s/ flags 0x%x", r->id, j, f,
                                tm->pattern, flags);
                fz_prefilter pf;
                ASSERT_EQ_I64(fz_prefilter_derive(tm->pattern, flags, &pf), 0);
                check_shape(&pf, flags);
                if (pf.n) any_factors = 1;
                hs_database_t *db = NULL;
                hs_scratch_t *scratch = NULL;
                for (size_t k = 0; pf.n && k < r->ntests; k++) {
                    const char *s = r->tests[k].fields[f];
                    if (!s || !r->tests[k].should_match) continue;
                    size_t n = strlen(s);
                    ASSERT(n <= sizeof(nbuf));
                    if (v == FZ_VIEW_NORM) {
                        n = f == FZ_FIELD_TEXT ? fz_norm_text(s, n, nbuf)
                                               : fz_norm_number(s, n, nbuf);
                        s = nbuf;
                    }
                    examples++;
                    if (unmet_clause(&pf, s, n) < 0) {
                        all_hit++;
                        continue;
                    }
                    if (!db) {
                        hs_compile_error_t *cerr = NULL;
                        if (hs_compile(tm->pattern, flags, HS_MODE_BLOCK, NULL, &db, &cerr) !=
                            HS_SUCCESS)
                            fz_test_fail(__FILE__, __LINE__, "hs_compile: %s", cerr->message);
                        ASSERT(hs_alloc_scratch(db, &scratch) == HS_SUCCESS);
                    }
                    missed++;
                    if (hs_matches(db, scratch, s, n))
                        assert_sound(__FILE__, __LINE__, tm->pattern, flags, &pf, s, n);
                }
                hs_free_scratch(scratch);
                hs_free_database(db);
                fz_prefilter_free(&pf);
            }
            factored += (size_t)any_factors;
        }
    }
    fz_ruleset_unref(rs);
    fz_test_context("%zu regex terms, %zu with factors; %zu examples: %zu with every clause, %zu "
                    "without (Hyperscan: no match)",
                    terms, factored, examples, all_hit, missed);
    ASSERT(terms >= 50);
    ASSERT(examples >= 100);
    ASSERT(factored * 10 >= terms * 8);
}
