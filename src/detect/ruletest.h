/*
 * ruletest.h - running the examples embedded in rules (tests:
 * should_match / should_not_match) against a compiled ruleset.
 *
 * Each example becomes an event with the fields it gives and goes through
 * the same views and matcher as live traffic. Used by `fanzha rules test`
 * and by every reload, which refuses a ruleset whose examples fail.
 * Called off the hot path; allocates.
 */
#ifndef FZ_RULETEST_H
#define FZ_RULETEST_H

#include <stddef.h>

#include "rules.h"

typedef struct fz_ruletest_summary {
    size_t rules_with_tests;
    size_t rules_without_tests; /* enabled or shadow rules with no example */
    size_t examples;
    size_t failed;
    size_t skipped; /* examples of disabled rules */
} fz_ruletest_summary;

/* Run every example of every rule not disabled. Each failure is added to
 * diags as an error at the example's file:line. Returns 0 when all pass,
 * 1 when some failed, -1 when the tests could not run (errstr says why). */
int fz_ruletest_run(const fz_ruleset *rs, fz_rule_diags *diags, fz_ruletest_summary *sum,
                    char *errstr, size_t errstr_size);

#endif
