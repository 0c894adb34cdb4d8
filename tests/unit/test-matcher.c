/*
 * test-matcher.c - scanning events against compiled rules: a randomised
 * oracle (hundreds of literal patterns, some caseless, over an alphabet
 * with CJK characters and regex metacharacters, checked against a naive
 * substring search, including the primary rule), field scoping, ordering
 * and uniqueness of results, and truncation past FZ_MAX_MATCHES (the
 * lowest indexes are kept; the primary rule may lie beyond them), and the
 * prefilter's shortcuts (word-set regexes, shared regexes, confirms only
 * when a verdict depends on them) seen from its counters, and text_flags
 * tokens answered without a scan, against the reference matcher.
 */
#include <stdlib.h>

#include "matcher.h"
#include "norm.h"
#include "rules.h"
#include "test.h"
#include "textfacts.h"

static fz_matcher *bound_matcher(const fz_ruleset *rs) {
    char err[256];
    fz_matcher *m = fz_matcher_new(rs, err, sizeof(err));
    if (!m) fz_test_fail(__FILE__, __LINE__, "fz_matcher_new: %s", err);
    return m;
}

/* Scan ev's raw and normalised views. */
static int scan_event(fz_matcher *m, const fz_event *ev, uint32_t *out, int *trunc,
                      uint32_t *primary) {
    static char nbuf[FZ_FIELD_EVENT_COUNT][4096];
    fz_views v;
    memset(&v, 0, sizeof(v));
    for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++) {
        fz_str raw = ev->fields[f];
        v[f][FZ_VIEW_RAW] = raw;
        if (!raw.p || raw.n > sizeof(nbuf[f])) continue;
        size_t k = f == FZ_FIELD_TEXT ? fz_norm_text(raw.p, raw.n, nbuf[f])
                                      : fz_norm_number(raw.p, raw.n, nbuf[f]);
        v[f][FZ_VIEW_NORM] = (fz_str){nbuf[f], k};
    }
    fz_matches mt;
    int n = fz_matcher_scan(m, &v, &mt);
    if (n < 0) return n;
    memcpy(out, mt.rules, (size_t)n * sizeof(uint32_t));
    *trunc = mt.truncated;
    if (n > 0) *primary = mt.primary;
    return n;
}

static fz_event text_event(const char *text, const char *from, const char *to) {
    fz_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = FZ_EV_SMS;
    if (text) ev.fields[FZ_FIELD_TEXT] = (fz_str){text, strlen(text)};
    if (from) ev.fields[FZ_FIELD_FROM] = (fz_str){from, strlen(from)};
    if (to) ev.fields[FZ_FIELD_TO] = (fz_str){to, strlen(to)};
    return ev;
}

/* Symbols: ASCII letters of both cases, regex metacharacters, CJK. */
static const char *const alphabet[] = {"a", "b",  "A",  "B",  "c",  ".",  "+",  "(",
                                       ")", "[",  "*",  "?",  "|",  "$",  "^",  "{",
                                       " ", "账", "户", "冻", "结", "银", "行", "卡"};
#define NSYM (sizeof(alphabet) / sizeof(alphabet[0]))

static size_t random_symbols(char *out, size_t nsym) {
    size_t n = 0;
    for (size_t k = 0; k < nsym; k++) {
        /* letters and CJK more often than punctuation */
        uint64_t r = fz_test_rand_below(100);
        size_t s = r < 40   ? fz_test_rand_below(5)
                   : r < 80 ? 17 + fz_test_rand_below(7)
                            : fz_test_rand_below(NSYM);
        size_t l = strlen(alphabet[s]);
        memcpy(out + n, alphabet[s], l);
        n += l;
    }
    out[n] = '\0';
    return n;
}

/* Regex for a literal: metacharacters backslash-escaped. */
static void regex_escape(const char *lit, char *out) {
    for (; *lit; lit++) {
        if (strchr(".+()[]*?|$^{}\\", *lit)) *out++ = '\\';
        *out++ = *lit;
    }
    *out = '\0';
}

static int contains(const char *hay, size_t hn, const char *needle, size_t nn, int caseless) {
    if (nn > hn) return 0;
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t k = 0;
        for (; k < nn; k++) {
            unsigned char a = (unsigned char)hay[i + k], b = (unsigned char)needle[k];
            if (caseless) {
                if (a >= 'A' && a <= 'Z') a = (unsigned char)(a + 32);
                if (b >= 'A' && b <= 'Z') b = (unsigned char)(b + 32);
            }
            if (a != b) break;
        }
        if (k == nn) return 1;
    }
    return 0;
}

enum { NPAT = 300, NTEXT = 500 };

typedef struct lit_rule {
    char lit[64];
    int caseless;
    int severity; /* 1-4 */
} lit_rule;

static const char *const sev_name[] = {"", "low", "medium", "high", "critical"};

TEST_IMPL(matcher_oracle) {
    static lit_rule pats[NPAT];
    const char *dir = fz_test_tmpdir();
    /* two files, so rule indexes span a file boundary */
    char *yaml[2] = {NULL, NULL};
    size_t ylen[2] = {0, 0};
    FILE *fp[2] = {open_memstream(&yaml[0], &ylen[0]), open_memstream(&yaml[1], &ylen[1])};
    for (int f = 0; f < 2; f++) fprintf(fp[f], "rules:\n");
    for (int i = 0; i < NPAT; i++) {
        uint64_t r = fz_test_rand_below(100);
        size_t nsym = r < 5 ? 1 : r < 40 ? 2 : r < 80 ? 3 : 4;
        random_symbols(pats[i].lit, nsym);
        pats[i].caseless = fz_test_rand_below(3) == 0;
        pats[i].severity = 1 + (int)fz_test_rand_below(4);
        char re[128];
        regex_escape(pats[i].lit, re);
        fprintf(fp[i % 2],
                "  - id: m.%03d\n    category: oracle\n    severity: %s\n    fields: [text]\n"
                "    view: raw\n"
                "%s    pattern: '%s'\n",
                i, sev_name[pats[i].severity], pats[i].caseless ? "    flags: [caseless]\n" : "",
                re);
    }
    for (int f = 0; f < 2; f++) fclose(fp[f]);
    fz_test_write(dir, "m1.yaml", yaml[0], ylen[0]);
    fz_test_write(dir, "m2.yaml", yaml[1], ylen[1]);
    free(yaml[0]);
    free(yaml[1]);

    fz_ruleset *rs = fz_test_load_rules(dir);
    ASSERT_EQ_U64(fz_ruleset_count(rs), NPAT);
    /* rule index -> pattern, through the id */
    int pat_of[NPAT];
    for (size_t i = 0; i < NPAT; i++) pat_of[i] = atoi(fz_ruleset_rule(rs, i)->id + 2);
    fz_matcher *m = bound_matcher(rs);

    int truncated_seen = 0, total_matches = 0;
    for (int t = 0; t < NTEXT; t++) {
        char text[512];
        size_t n = random_symbols(text, fz_test_rand_below(24));
        if (t % 3 == 0 && n < 300) { /* plant a pattern, case flipped */
            const char *lit = pats[fz_test_rand_below(NPAT)].lit;
            for (const char *q = lit; *q; q++)
                text[n++] = (*q >= 'a' && *q <= 'z') ? (char)(*q - 32) : *q;
            n += random_symbols(text + n, 2);
        }
        text[n] = '\0';
        fz_test_context("text %d: \"%s\"", t, text);
        uint32_t want[NPAT], want_primary = 0;
        int nwant = 0;
        for (int i = 0; i < NPAT; i++) {
            const lit_rule *p = &pats[pat_of[i]];
            if (!contains(text, n, p->lit, strlen(p->lit), p->caseless)) continue;
            if (nwant == 0 || p->severity > pats[pat_of[want_primary]].severity)
                want_primary = (uint32_t)i; /* ties: the lowest index, seen first */
            want[nwant++] = (uint32_t)i;
        }
        fz_event ev = text_event(text, NULL, NULL);
        uint32_t out[FZ_MAX_MATCHES], primary = UINT32_MAX;
        int trunc = -1;
        int got = scan_event(m, &ev, out, &trunc, &primary);
        ASSERT(got >= 0);
        for (int k = 1; k < got; k++) ASSERT(out[k - 1] < out[k]); /* ascending, unique */
        if (nwant > 0) ASSERT_EQ_U64(primary, want_primary);
        if (nwant <= FZ_MAX_MATCHES) {
            if (got != nwant || trunc != 0) {
                fprintf(stderr, "expected %d rules:", nwant);
                for (int k = 0; k < nwant; k++)
                    fprintf(stderr, " %u'%s'", want[k], pats[pat_of[want[k]]].lit);
                fprintf(stderr, "\ngot %d rules:", got);
                for (int k = 0; k < got; k++)
                    fprintf(stderr, " %u'%s'", out[k], pats[pat_of[out[k]]].lit);
                fprintf(stderr, "\n");
            }
            ASSERT_EQ_I64(got, nwant);
            ASSERT_EQ_I64(trunc, 0);
            ASSERT(memcmp(out, want, (size_t)got * sizeof(uint32_t)) == 0);
        } else {
            /* too many: the lowest FZ_MAX_MATCHES rule indexes, flagged */
            truncated_seen++;
            ASSERT_EQ_I64(got, FZ_MAX_MATCHES);
            ASSERT_EQ_I64(trunc, 1);
            ASSERT(memcmp(out, want, FZ_MAX_MATCHES * sizeof(uint32_t)) == 0);
        }
        total_matches += nwant;
    }
    fz_test_context("%s", "");
    ASSERT(total_matches > NTEXT);       /* the texts do match things */
    ASSERT(truncated_seen < NTEXT / 10); /* and mostly stay under the cap */
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

static const char scope_yaml[] =
    "rules:\n"
    "  - {id: r.from, category: c, severity: low, fields: [from], pattern: 'x', view: raw}\n"
    "  - {id: r.text, category: c, severity: low, fields: [text], pattern: 'y', view: raw}\n"
    "  - {id: r.to-text, category: c, severity: low, fields: [to, text], pattern: 'z', view: raw}\n"
    "  - {id: r.two, category: c, severity: low, fields: [text], patterns: ['q', 'w'], view: "
    "raw}\n";

static int scan(fz_matcher *m, const fz_ruleset *rs, const char *text, const char *from,
                const char *to, uint32_t *out) {
    (void)rs;
    fz_event ev = text_event(text, from, to);
    int trunc = -1;
    uint32_t primary;
    int n = scan_event(m, &ev, out, &trunc, &primary);
    ASSERT_EQ_I64(trunc, 0);
    return n;
}

TEST_IMPL(matcher_field_scope) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "s.yaml", scope_yaml);
    fz_ruleset *rs = fz_test_load_rules(dir);
    fz_matcher *m = bound_matcher(rs);
    uint32_t out[FZ_MAX_MATCHES];

    ASSERT_EQ_I64(scan(m, rs, "x", NULL, NULL, out), 0); /* 'from' rule ignores text */
    ASSERT_EQ_I64(scan(m, rs, NULL, "x", NULL, out), 1);
    ASSERT_EQ_U64(out[0], 0);
    ASSERT_EQ_I64(scan(m, rs, NULL, "y", "y", out), 0); /* 'text' rule ignores from/to */
    ASSERT_EQ_I64(scan(m, rs, "y", NULL, NULL, out), 1);
    ASSERT_EQ_U64(out[0], 1);
    ASSERT_EQ_I64(scan(m, rs, NULL, NULL, "z", out), 1);
    ASSERT_EQ_U64(out[0], 2);
    ASSERT_EQ_I64(scan(m, rs, "z", "z", "z", out), 1); /* two fields, reported once */
    ASSERT_EQ_U64(out[0], 2);
    ASSERT_EQ_I64(scan(m, rs, "qwqw", NULL, NULL, out), 1); /* two patterns, once */
    ASSERT_EQ_U64(out[0], 3);
    ASSERT_EQ_I64(scan(m, rs, "", "", "", out), 0);
    ASSERT_EQ_I64(scan(m, rs, NULL, NULL, NULL, out), 0);

    /* matches found last-rule-first still come out ascending */
    ASSERT_EQ_I64(scan(m, rs, "wzy", "x", NULL, out), 4);
    for (uint32_t k = 0; k < 4; k++) ASSERT_EQ_U64(out[k], k);
    /* and the next scan starts from nothing */
    ASSERT_EQ_I64(scan(m, rs, "y", NULL, NULL, out), 1);
    ASSERT_EQ_U64(out[0], 1);
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

/* The prefilter's shortcuts, seen from the counters: a word-set regex is
 * no confirm; a regex written in two rules is one confirm that counts for
 * both; a candidate no verdict depends on is not confirmed, and is as soon
 * as one does. Rule 0: threat and act; rule 1: act alone (the same regex);
 * rule 2: a word set with \b edges. */
static const char shortcut_yaml[] =
    "rules:\n"
    "  - id: s.combo\n    category: c\n    severity: low\n    fields: text\n"
    "    patterns:\n"
    "      - name: threat\n"
    "        pattern: 'account.{0,20}suspended'\n"
    "      - name: act\n"
    "        pattern: 'verify.{0,10}now'\n"
    "    condition: threat and act\n"
    "  - id: s.act\n    category: c\n    severity: low\n    fields: text\n"
    "    pattern: 'verify.{0,10}now'\n"
    "  - id: s.words\n    category: c\n    severity: low\n    fields: text\n"
    "    pattern: '\\b(click|tap) here\\b'\n";

TEST_IMPL(matcher_prefilter_shortcuts) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "s.yaml", shortcut_yaml);
    fz_ruleset *rs = fz_test_load_rules(dir);
    ASSERT_EQ_U64(fz_ruleset_confirm_count(rs), 2); /* threat, act (once) */
    fz_matcher *m = bound_matcher(rs);
    uint32_t out[FZ_MAX_MATCHES];
    fz_prefilter_stats ps;

    /* act's words, no threat: s.act needs the confirm, s.combo would not */
    ASSERT_EQ_I64(scan(m, rs, "verify it now", NULL, NULL, out), 1);
    ASSERT_EQ_U64(out[0], 1);
    fz_matcher_prefilter_stats(m, &ps);
    ASSERT_EQ_U64(ps.group_scans, 1);
    ASSERT_EQ_U64(ps.not_needed, 0);

    /* threat's words only: threat alone decides nothing for s.combo */
    ASSERT_EQ_I64(scan(m, rs, "account suspended", NULL, NULL, out), 0);
    fz_matcher_prefilter_stats(m, &ps);
    ASSERT_EQ_U64(ps.not_needed, 1);
    ASSERT_EQ_U64(ps.group_scans, 1);

    /* both: one group scan settles both, both rules match */
    ASSERT_EQ_I64(scan(m, rs, "account suspended: verify now", NULL, NULL, out), 2);
    ASSERT_EQ_U64(out[0], 0);
    ASSERT_EQ_U64(out[1], 1);

    /* the word set: literals with \b edges, no confirm */
    fz_matcher_prefilter_stats(m, &ps);
    uint64_t scans = ps.group_scans;
    ASSERT_EQ_I64(scan(m, rs, "please CLICK HERE!", NULL, NULL, out), 1);
    ASSERT_EQ_U64(out[0], 2);
    ASSERT_EQ_I64(scan(m, rs, "doubleclick here", NULL, NULL, out), 0);
    ASSERT_EQ_I64(scan(m, rs, "tap heres", NULL, NULL, out), 0);
    ASSERT_EQ_I64(scan(m, rs, "tap here_ tap here", NULL, NULL, out), 1); /* the second */
    fz_matcher_prefilter_stats(m, &ps);
    ASSERT_EQ_U64(ps.group_scans, scans);
    /* one hit per event for the word set, as its regex */
    const fz_rule_counters *c = fz_matcher_counters(m);
    ASSERT_EQ_U64(atomic_load(&c[2].hits), 2);
    ASSERT_EQ_U64(atomic_load(&c[2].matches), 2);
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

/* Each regex behind the prefilter is its own confirm database: a candidate
 * costs a scan of the one regex it needs, never of others of its view. */
TEST_IMPL(matcher_confirm_alone) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "c.yaml",
                      "rules:\n"
                      "  - id: c.one\n    category: c\n    severity: low\n    fields: text\n"
                      "    pattern: 'account.{0,20}suspended'\n"
                      "  - id: c.two\n    category: c\n    severity: low\n    fields: text\n"
                      "    pattern: 'parcel.{0,20}customs'\n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    ASSERT_EQ_U64(fz_ruleset_confirm_count(rs), 2);
    ASSERT_EQ_U64(fz_ruleset_db_count(rs), 3); /* the factors, then one per regex */
    const fz_confirm *cf = fz_ruleset_confirms(rs);
    ASSERT(cf[0].db != cf[1].db);
    fz_matcher *m = bound_matcher(rs);
    uint32_t out[FZ_MAX_MATCHES];
    ASSERT_EQ_I64(scan(m, rs, "account now suspended", NULL, NULL, out), 1);
    ASSERT_EQ_U64(out[0], 0);
    const uint64_t *scans = fz_matcher_confirm_scans(m);
    ASSERT_EQ_U64(scans[cf[0].db], 1);
    ASSERT_EQ_U64(scans[cf[1].db], 0); /* its regex was not scanned */
    ASSERT_EQ_I64(scan(m, rs, "parcel held at customs; account suspended", NULL, NULL, out), 2);
    ASSERT_EQ_U64(scans[cf[0].db], 2);
    ASSERT_EQ_U64(scans[cf[1].db], 1);
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

/* A regex with no factor whose term alone cannot make its rule match is
 * deferred: not always scanned, but a confirm of no clause, scanned only
 * where the rule's verdict depends on it (here: where threat was found),
 * and never over an empty view. Rule 0: threat and price; rule 1: price
 * alone (always needed, always scanned). */
TEST_IMPL(matcher_deferred_regex) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "d.yaml",
                      "rules:\n"
                      "  - id: d.combo\n    category: c\n    severity: low\n    fields: text\n"
                      "    patterns:\n"
                      "      - name: threat\n"
                      "        pattern: 'account.{0,20}suspended'\n"
                      "      - name: price\n"
                      "        pattern: '\\b[0-9]+p\\b'\n"
                      "    condition: threat and price\n"
                      "  - id: d.alone\n    category: c\n    severity: low\n    fields: text\n"
                      "    pattern: '\\b[0-9]+q\\b'\n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    const uint32_t *un;
    const char *const *why;
    ASSERT_EQ_U64(fz_ruleset_unfiltered(rs, &un, &why), 1); /* d.alone's regex */
    ASSERT_EQ_U64(fz_ruleset_confirm_count(rs), 2);         /* threat; price deferred */
    const fz_confirm *cf = fz_ruleset_confirms(rs);
    ASSERT_EQ_U64(cf[1].nclauses, 0);
    uint32_t price_db = cf[1].db;
    fz_matcher *m = bound_matcher(rs);
    const uint64_t *scans = fz_matcher_confirm_scans(m);
    uint32_t out[FZ_MAX_MATCHES];
    /* price alone: d.combo cannot match without threat, no scan for price */
    ASSERT_EQ_I64(scan(m, rs, "only 150p a week", NULL, NULL, out), 0);
    ASSERT_EQ_U64(scans[price_db], 0);
    ASSERT_EQ_I64(scan(m, rs, "150q", NULL, NULL, out), 1);
    ASSERT_EQ_U64(out[0], 1);
    ASSERT_EQ_U64(scans[price_db], 0);
    /* threat found: price decides, it is scanned */
    ASSERT_EQ_I64(scan(m, rs, "account suspended", NULL, NULL, out), 0);
    ASSERT_EQ_U64(scans[price_db], 1);
    ASSERT_EQ_I64(scan(m, rs, "account suspended: pay 150p", NULL, NULL, out), 1);
    ASSERT_EQ_U64(out[0], 0);
    ASSERT_EQ_U64(scans[price_db], 2);
    /* no text at all: nothing to scan (and no scan error) */
    ASSERT_EQ_I64(scan(m, rs, NULL, "+8613900000000", NULL, out), 0);
    ASSERT_EQ_U64(scans[price_db], 2);
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

TEST_IMPL(matcher_truncated) {
    enum { NR = FZ_MAX_MATCHES + 6 };
    const char *dir = fz_test_tmpdir();
    char *yaml = NULL;
    size_t ylen = 0;
    FILE *fp = open_memstream(&yaml, &ylen);
    fprintf(fp, "rules:\n");
    /* rules 0..NR-1 match "key" ('k' or 'ke'); the last one is critical */
    for (int i = 0; i < NR; i++)
        fprintf(fp,
                "  - {id: t.%03d, category: c, severity: %s, fields: [text], view: raw, "
                "pattern: 'k%s'}\n",
                i,
                i == NR - 1 ? "critical"
                : i == 5    ? "high"
                            : "low",
                i % 2 ? "e" : "");
    fprintf(fp, "  - {id: t.other, category: c, severity: low, fields: [text], view: raw, "
                "pattern: 'zz'}\n");
    fclose(fp);
    fz_test_write(dir, "t.yaml", yaml, ylen);
    free(yaml);
    fz_ruleset *rs = fz_test_load_rules(dir);
    fz_matcher *m = bound_matcher(rs);

    fz_event ev = text_event("key", NULL, NULL);
    uint32_t out[FZ_MAX_MATCHES + 8], primary = UINT32_MAX;
    for (size_t k = 0; k < FZ_ARRAY_LEN(out); k++) out[k] = 0xDEADBEEF;
    int trunc = 0;
    int n = scan_event(m, &ev, out, &trunc, &primary);
    ASSERT_EQ_I64(n, FZ_MAX_MATCHES);
    ASSERT_EQ_I64(trunc, 1);
    for (int k = 0; k < n; k++) ASSERT_EQ_U64(out[k], k); /* the lowest indexes */
    ASSERT_EQ_U64(out[FZ_MAX_MATCHES], 0xDEADBEEF);       /* nothing written past the cap */
    ASSERT_EQ_U64(primary, NR - 1); /* the critical rule, though it did not fit in out */

    /* exactly at the cap is not truncated; the primary is the high one */
    ev = text_event("k", NULL, NULL); /* only the NR/2 rules with pattern 'k' */
    n = scan_event(m, &ev, out, &trunc, &primary);
    ASSERT_EQ_I64(n, NR / 2);
    ASSERT_EQ_I64(trunc, 0);
    for (int k = 0; k < n; k++) ASSERT_EQ_U64(out[k], 2 * k);
    ASSERT_EQ_U64(primary, 0); /* all even rules are low: the lowest index */

    ev = text_event("zz", NULL, NULL);
    n = scan_event(m, &ev, out, &trunc, &primary);
    ASSERT_EQ_I64(n, 1);
    ASSERT_EQ_I64(trunc, 0);
    ASSERT_EQ_U64(out[0], NR);
    ASSERT_EQ_U64(primary, NR);
    fz_matcher_destroy(m);
    fz_ruleset_unref(rs);
}

/* One matcher rebinds from a small ruleset to a bigger one and back. */
TEST_IMPL(matcher_rebind) {
    const char *d1 = fz_test_tmpdir(), *d2 = fz_test_tmpdir();
    fz_test_write_str(d1, "a.yaml", scope_yaml);
    fz_test_write_str(d2, "b.yaml",
                      "rules:\n"
                      "  - {id: b.0, category: c, severity: low, fields: [text], pattern: 'n0'}\n"
                      "  - {id: b.1, category: c, severity: low, fields: [text], pattern: 'n1'}\n"
                      "  - {id: b.2, category: c, severity: low, fields: [text], pattern: 'n2'}\n"
                      "  - {id: b.3, category: c, severity: low, fields: [text], pattern: 'n3'}\n"
                      "  - {id: b.4, category: c, severity: low, fields: [text], pattern: 'n4'}\n"
                      "  - {id: b.5, category: c, severity: low, fields: [text], pattern: "
                      "'[a-z]{60}'}\n");
    fz_ruleset *small = fz_test_load_rules(d1), *big = fz_test_load_rules(d2);
    fz_matcher *m = bound_matcher(small);
    uint32_t out[FZ_MAX_MATCHES];
    ASSERT_EQ_I64(scan(m, small, "y", NULL, NULL, out), 1);
    fz_matcher_destroy(m);
    m = bound_matcher(big);
    ASSERT_EQ_I64(scan(m, big, "n4 n0 abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh",
                       NULL, NULL, out),
                  3);
    ASSERT(out[0] == 0 && out[1] == 4 && out[2] == 5);
    fz_matcher_destroy(m);
    m = bound_matcher(small);
    ASSERT_EQ_I64(scan(m, small, "y", "x", NULL, out), 2);
    fz_matcher_destroy(m);
    fz_matcher_destroy(NULL);
    fz_ruleset_unref(small);
    fz_ruleset_unref(big);
}

/* text_flags tokens (rules.h, FZ_ATOM_FLAG): a literal-set term whose
 * literals are whole tokens is answered from the field's bits, in no
 * database; what is no whole token ('lin', case-sensitive 'HAN') stays in
 * one. Every combination of tokens must give the verdicts of the
 * reference matcher (no prefilter: every regex scanned). */
static const char flags_yaml[] =
    "rules:\n"
    "  - {id: f.han, category: c, severity: low, fields: [text_flags], pattern: '\\bhan\\b'}\n"
    "  - {id: f.signs, category: c, severity: low, fields: [text_flags],\n"
    "     pattern: '\\b(link|money)\\b'}\n"
    "  - id: f.cond\n    category: c\n    severity: low\n"
    "    patterns:\n"
    "      - {name: l, fields: [text_flags], pattern: '\\blatin\\b'}\n"
    "      - {name: h, fields: [text_flags], pattern: '\\bhan\\b'}\n"
    "      - {name: w, fields: [text], pattern: 'verify'}\n"
    "    condition: l and not h and w\n"
    "  - {id: f.part, category: c, severity: low, fields: [text_flags], pattern: 'lin'}\n"
    "  - {id: f.upper, category: c, severity: low, fields: [text_flags], pattern: '\\bHAN\\b'}\n"
    "  - {id: f.case, category: c, severity: low, fields: [text_flags], flags: [caseless],\n"
    "     pattern: '\\blink\\b'}\n";

/* Scan text with one derived field (text_flags or text_numbers) set to
 * value, as the pipeline would have derived it. */
static int scan_derived(fz_matcher *m, const char *text, fz_field f, const char *value,
                        uint32_t *out) {
    static char nbuf[256];
    fz_views v;
    memset(&v, 0, sizeof(v));
    v[FZ_FIELD_TEXT][FZ_VIEW_RAW] = (fz_str){text, strlen(text)};
    v[FZ_FIELD_TEXT][FZ_VIEW_NORM] = (fz_str){nbuf, fz_norm_text(text, strlen(text), nbuf)};
    if (value[0]) v[f][FZ_VIEW_RAW] = (fz_str){value, strlen(value)};
    fz_matches mt;
    int n = fz_matcher_scan(m, &v, &mt);
    ASSERT(n >= 0);
    memcpy(out, mt.rules, (size_t)n * sizeof(uint32_t));
    return n;
}

/* The same rules, with the prefilter (*rs) and as the reference matcher
 * (*ref: every regex scanned); returns how many atoms of rs have a mode
 * bit of `mode` and sets *in_db to the atoms of field f's databases. */
static size_t load_both(const char *yaml, fz_field f, unsigned mode, fz_ruleset **rs,
                        fz_ruleset **ref, size_t *in_db) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "d.yaml", yaml);
    *rs = fz_test_load_rules(dir);
    fz_rules_opts ref_opts = {.compile = 1, .no_prefilter = 1};
    fz_rule_diags diags = {0};
    *ref = fz_ruleset_load(dir, &ref_opts, &diags);
    ASSERT(*ref != NULL);
    fz_rule_diags_free(&diags);
    size_t n = 0;
    const fz_atom *atoms = fz_ruleset_atoms(*rs);
    for (size_t i = 0; i < fz_ruleset_pattern_count(*rs); i++) n += (atoms[i].mode & mode) != 0;
    *in_db = 0;
    for (size_t i = 0; i < fz_ruleset_db_count(*rs); i++)
        if (fz_ruleset_db_at(*rs, i)->field == f) *in_db += fz_ruleset_db_at(*rs, i)->natoms;
    return n;
}

/* The verdicts of m and mref on text with field f = value: the same. */
static int same_verdicts(fz_matcher *m, fz_matcher *mref, const char *text, fz_field f,
                         const char *value) {
    uint32_t out[FZ_MAX_MATCHES], want[FZ_MAX_MATCHES];
    fz_test_context("field %d '%s', text '%s'", (int)f, value, text);
    int n = scan_derived(m, text, f, value, out);
    ASSERT_EQ_I64(n, scan_derived(mref, text, f, value, want));
    for (int i = 0; i < n; i++) ASSERT_EQ_U64(out[i], want[i]);
    return n;
}

TEST_IMPL(matcher_text_flags_tokens) {
    fz_ruleset *rs, *ref;
    size_t in_db;
    /* han, link, money, latin (twice), and caseless link's two forms (link,
     * and lin + KELVIN SIGN, which the ASCII tokens never hold): tokens;
     * lin and HAN in a database */
    ASSERT_EQ_U64(load_both(flags_yaml, FZ_FIELD_TEXT_FLAGS, FZ_ATOM_FLAG, &rs, &ref, &in_db), 7);
    ASSERT_EQ_U64(in_db, 2);
    fz_matcher *m = bound_matcher(rs), *mref = bound_matcher(ref);
    const unsigned bits[] = {FZ_TEXT_HAN, FZ_TEXT_LATIN, FZ_TEXT_LINK, FZ_TEXT_MONEY};
    const char *const texts[] = {"please verify", "nothing here"};
    size_t matched = 0;
    for (unsigned set = 0; set < 16; set++)
        for (size_t t = 0; t < 2; t++) {
            unsigned fl = 0;
            for (int b = 0; b < 4; b++)
                if (set & (1u << b)) fl |= bits[b];
            char flags[FZ_TEXT_FLAGS_MAX];
            fz_text_flags_format(fl, flags);
            ASSERT_EQ_U64(fz_text_flags_parse(flags, strlen(flags)), fl);
            matched += (size_t)same_verdicts(m, mref, texts[t], FZ_FIELD_TEXT_FLAGS, flags);
        }
    ASSERT(matched >= 40);
    /* one hit per event for a token set, as its regex: link and money */
    uint32_t out[FZ_MAX_MATCHES];
    fz_matcher *m2 = bound_matcher(rs);
    ASSERT_EQ_I64(scan_derived(m2, "x", FZ_FIELD_TEXT_FLAGS, "latin link money", out),
                  3); /* f.signs, f.part, f.case */
    ASSERT_EQ_U64(atomic_load(&fz_matcher_counters(m2)[1].hits), 1);
    fz_matcher_destroy(m2);
    fz_matcher_destroy(m);
    fz_matcher_destroy(mref);
    fz_ruleset_unref(rs);
    fz_ruleset_unref(ref);
}

/* text_numbers length tests (rules.h, FZ_ATOM_NUMLEN): '^[0-9]{N}',
 * '^[0-9]{N,}', '^[0-9]{N,M}' and the same with an end anchor, with flag
 * multiline, are answered from the lengths of the lines, in no database;
 * other shapes (a leading digit, no multiline, anything after the anchor)
 * are scanned. Each against the reference matcher, over fields of one to
 * three numbers of 1 to 70 digits (lines of 63 and more are read one by
 * one). */
static const char numbers_yaml[] =
    "rules:\n"
    "  - {id: n.four, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{4}'}\n"
    "  - {id: n.nine, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{9,}'}\n"
    "  - {id: n.exact, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{4}$'}\n"
    "  - {id: n.phone, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{7,12}$'}\n"
    "  - {id: n.some, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{3,5}'}\n"
    "  - {id: n.open, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{11,}$'}\n"
    "  - {id: n.long, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{60,66}$'}\n"
    "  - {id: n.huge, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{68}'}\n"
    "  - {id: n.after, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^[0-9]{4}$|^1'}\n"
    "  - {id: n.lead, category: c, severity: low, fields: [text_numbers], flags: [multiline],\n"
    "     pattern: '^1[0-9]{3}'}\n"
    "  - {id: n.first, category: c, severity: low, fields: [text_numbers], pattern: '^[0-9]{4}'}\n"
    "  - id: n.cond\n    category: c\n    severity: low\n"
    "    patterns:\n"
    "      - {name: long, fields: [text_numbers], flags: [multiline], pattern: '^[0-9]{7}'}\n"
    "      - {name: w, fields: [text], pattern: 'call'}\n"
    "    condition: long and w\n";

TEST_IMPL(matcher_text_numbers_lengths) {
    fz_ruleset *rs, *ref;
    size_t in_db;
    /* four, nine, exact, phone, some, open, long, huge, cond's long: length
     * tests; lead, first, after in a database */
    ASSERT_EQ_U64(load_both(numbers_yaml, FZ_FIELD_TEXT_NUMBERS, FZ_ATOM_NUMLEN, &rs, &ref, &in_db),
                  9);
    ASSERT_EQ_U64(in_db, 3);
    fz_matcher *m = bound_matcher(rs), *mref = bound_matcher(ref);
    const char *const texts[] = {"call me", "hello"};
    size_t matched = 0;
    uint64_t seed = 7;
    for (int iter = 0; iter < 2000; iter++) {
        char numbers[256];
        size_t o = 0;
        int lines = 1 + (int)((seed >> 33) % 3);
        for (int l = 0; l < lines; l++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            /* mostly 1 to 14 digits, a quarter 55 to 70 */
            int len =
                (seed >> 40) % 4 ? 1 + (int)((seed >> 33) % 14) : 55 + (int)((seed >> 33) % 16);
            if (l) numbers[o++] = '\n';
            for (int d = 0; d < len; d++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                numbers[o++] = (char)('0' + (seed >> 33) % 3); /* '1' leads sometimes */
            }
        }
        numbers[o] = '\0';
        for (size_t t = 0; t < 2; t++) {
            matched += (size_t)same_verdicts(m, mref, texts[t], FZ_FIELD_TEXT_NUMBERS, numbers);
        }
    }
    ASSERT(matched >= 2000);
    fz_matcher_destroy(m);
    fz_matcher_destroy(mref);
    fz_ruleset_unref(rs);
    fz_ruleset_unref(ref);
}
