/*
 * ruletest.c - see ruletest.h.
 */
#include "ruletest.h"

#include <stdio.h>
#include <string.h>

#include "matcher.h"
#include "pipeline.h"
#include "url.h"
#include "norm.h"
#include "skel.h"
#include "textfacts.h"

#define EXAMPLE_MAX 65536

int fz_ruletest_run(const fz_ruleset *rs, fz_rule_diags *diags, fz_ruletest_summary *sum,
                    char *errstr, size_t errstr_size) {
    memset(sum, 0, sizeof(*sum));
    if (fz_skel_init(errstr, errstr_size) != 0) return -1;
    fz_matcher *m = fz_matcher_new(rs, errstr, errstr_size);
    if (!m) return -1;
    fz_url_scan *urls = fz_url_scan_new(errstr, errstr_size);
    if (!urls) {
        fz_matcher_destroy(m);
        return -1;
    }
    static char nbuf[FZ_FIELD_EVENT_COUNT][EXAMPLE_MAX], stmp[EXAMPLE_MAX], sbuf[2 * EXAMPLE_MAX],
        facts[FZ_TEXT_FACTS_ROOM(EXAMPLE_MAX)];
    int rc = 0, uses_urls = 0;
    for (int f = FZ_FIELD_EVENT_COUNT; f < FZ_FIELD_COUNT; f++)
        for (int vw = 0; vw < FZ_VIEW_COUNT; vw++) uses_urls |= fz_ruleset_uses(rs, f, vw);
    for (size_t i = 0; i < fz_ruleset_count(rs); i++) {
        const fz_rule *r = fz_ruleset_rule(rs, i);
        if (r->status == FZ_STATUS_DISABLED) {
            sum->skipped += r->ntests;
            continue;
        }
        if (r->ntests == 0) {
            sum->rules_without_tests++;
            continue;
        }
        sum->rules_with_tests++;
        for (size_t k = 0; k < r->ntests; k++) {
            const fz_rule_test *t = &r->tests[k];
            fz_views v;
            memset(&v, 0, sizeof(v));
            for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++) {
                const char *s = t->fields[f];
                if (!s) continue;
                size_t n = strlen(s);
                if (n > EXAMPLE_MAX) n = EXAMPLE_MAX;
                v[f][FZ_VIEW_RAW] = (fz_str){s, n};
                size_t k2 = f == FZ_FIELD_TEXT ? fz_norm_text(s, n, nbuf[f])
                                               : fz_norm_number(s, n, nbuf[f]);
                v[f][FZ_VIEW_NORM] = (fz_str){nbuf[f], k2};
                if (f == FZ_FIELD_TEXT)
                    v[f][FZ_VIEW_SKEL] =
                        (fz_str){sbuf, fz_skel_text(s, n, stmp, sbuf, sizeof(sbuf))};
            }
            if (t->fields[FZ_FIELD_TEXT]) { /* as the pipeline sees them */
                fz_str *tv = v[FZ_FIELD_TEXT];
                unsigned fl = fz_pipeline_derived_views(
                    urls, fz_ruleset_url_brands(rs), uses_urls ? FZ_DERIVED_WANT_ALL : 0,
                    tv[FZ_VIEW_RAW], tv[FZ_VIEW_NORM], facts, &v);
                if (fl & FZ_TEXT_DISGUISED) tv[FZ_VIEW_UNMASKED] = tv[FZ_VIEW_SKEL];
            }
            fz_matches mt;
            sum->examples++;
            if (fz_matcher_scan(m, &v, &mt) < 0) {
                snprintf(errstr, errstr_size, "Hyperscan scan failed");
                rc = -1;
                goto out;
            }
            int got = fz_matcher_matched(m, (uint32_t)i);
            if (got != t->should_match) {
                const char *text = t->fields[FZ_FIELD_TEXT];
                char rev[48] = ""; /* which revision, when the id has two */
                if (r->pair != FZ_RULE_NO_PAIR)
                    snprintf(rev, sizeof(rev), " (rev %u, %s)", r->rev,
                             fz_rule_status_name(r->status));
                fz_rule_diags_add(diags, r->file, t->line, 0,
                                  "rule '%s'%s: %s example %s: \"%.80s%s\"", r->id, rev,
                                  t->should_match ? "should_match" : "should_not_match",
                                  t->should_match ? "did not match" : "matched",
                                  text ? text : "(fields)", text && strlen(text) > 80 ? "..." : "");
                sum->failed++;
                rc = 1;
            }
        }
    }
out:
    fz_url_scan_destroy(urls);
    fz_matcher_destroy(m);
    return rc;
}
