/*
 * rulesdiff.h - what a rule change does to traffic: two rulesets' matcher
 * results over the same events, compared (`fanzha rules diff`,
 * docs/rules.md "Changing rules safely").
 *
 * The caller decodes each event once and matches it with both rulesets
 * (fz_pipeline_scan() with the old ruleset's matcher, then
 * fz_pipeline_rematch() with the new one's) and hands both results here;
 * where the events come from (files, stdin, a Kafka time range) is
 * the caller's business, so any source can feed a diff.
 *
 * What is compared is the stateless detection: an event "alerts" under a
 * ruleset when an enabled rule matched it (fz_result.nrules > 0; aggregate
 * rules feed windows and are not counted), with the primary rule and its
 * category; deduplication, campaigns and interception are state, not
 * rules, and play no part. Per rule: an event counts for a rule when that
 * rule, enabled, matched it; shadow matches are counted separately. Per
 * category: an event counts for a category when some enabled rule of that
 * category matched it. Each count is split into gained (new only), lost
 * (old only) and unchanged (both), with the first N events of each kept
 * as examples (texts truncated, control characters replaced, numbers
 * under the privacy policy).
 *
 * Rules are paired by id: added, removed, rev changed, and edited without
 * a rev bump (the definition - status, category, severity, condition,
 * terms - differs; the content of list and model files is not compared).
 *
 * A diff is used by one thread. Rows are sorted (rules by id, categories
 * by name) so that reports are deterministic for a given input.
 */
#ifndef FZ_RULESDIFF_H
#define FZ_RULESDIFF_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "pipeline.h"
#include "privacy.h"
#include "rules.h"

typedef enum fz_diff_kind {
    FZ_DIFF_GAINED = 0, /* alerts under the new ruleset only */
    FZ_DIFF_LOST,       /* under the old one only */
    FZ_DIFF_UNCHANGED,  /* under both */
    FZ_DIFF_KINDS
} fz_diff_kind;

const char *fz_diff_kind_name(fz_diff_kind k);

/* One example event, as reports show it. Strings are NUL-terminated
 * UTF-8 without control characters, owned by the diff. */
typedef struct fz_diff_example {
    char *where;          /* "file:line" or "topic[partition]@offset" */
    char *id;             /* the event's id, truncated; "" when absent */
    const char *type;     /* sms, call, transfer, report */
    char *from, *to;      /* under the privacy policy; "" when absent */
    char *text;           /* truncated; NULL when absent or dropped by the policy */
    const char *old_rule; /* primary rule under each ruleset, NULL when none */
    const char *new_rule;
} fz_diff_example;

/* Counts of one row, with up to the diff's examples of each kind. */
typedef struct fz_diff_tally {
    uint64_t n[FZ_DIFF_KINDS];
    fz_diff_example *ex[FZ_DIFF_KINDS];
    size_t nex[FZ_DIFF_KINDS];
} fz_diff_tally;

typedef enum fz_diff_change {
    FZ_RULE_SAME = 0, /* same rev, same definition */
    FZ_RULE_ADDED,
    FZ_RULE_REMOVED,
    FZ_RULE_REV_CHANGED, /* rev differs */
    FZ_RULE_EDITED,      /* same rev, definition differs: a rev bump was forgotten */
    FZ_RULE_SHADOW,      /* the enabled revision the same; its shadow revision (a second
                            revision of the id, status shadow) added, removed or changed */
} fz_diff_change;

const char *fz_diff_change_name(fz_diff_change c);

typedef struct fz_diff_rule {
    const char *id;
    /* the revision compared: the one not in shadow when the id has two
     * (a shadow pair), else its only one; NULL when absent */
    const fz_rule *old_rule, *new_rule;
    const fz_rule *old_shadow, *new_shadow; /* the shadow revision of a pair, or NULL */
    fz_diff_change change;
    fz_diff_tally t;                 /* enabled matches */
    uint64_t shadow_old, shadow_new; /* events matched while in status shadow */
} fz_diff_rule;

typedef struct fz_diff_category {
    const char *name;
    fz_diff_tally t;
} fz_diff_category;

typedef struct fz_diff_totals {
    uint64_t events;  /* lines handed in, valid or not */
    uint64_t valid;   /* decoded and matched by both */
    uint64_t invalid; /* not an event (or a scan error) */
    uint64_t invalid_by_reason[FZ_REASON_COUNT];
    uint64_t alerting_old, alerting_new; /* events with an enabled match */
    uint64_t primary_changed;            /* alerting under both, other primary rule */
    uint64_t truncated;                  /* more than FZ_MAX_MATCHES rules in one */
    fz_diff_tally alerts;                /* the events themselves */
} fz_diff_totals;

typedef struct fz_diff_opts {
    size_t examples;           /* kept per row and kind (0: none) */
    size_t text_chars;         /* example texts are cut to this many characters (0: 120) */
    const fz_privacy *privacy; /* numbers and texts in examples; NULL keeps them */
} fz_diff_opts;

typedef struct fz_rulesdiff fz_rulesdiff;

/* A diff of old_rs against new_rs; both stay the caller's and must
 * outlive the diff. NULL with errstr filled when out of memory. */
fz_rulesdiff *fz_rulesdiff_new(const fz_ruleset *old_rs, const fz_ruleset *new_rs,
                               const fz_diff_opts *opts, char *errstr, size_t errstr_size);
void fz_rulesdiff_destroy(fz_rulesdiff *d);

/*
 * Count one event: a is its result under the old ruleset, b under the new
 * (the same decoded event). An invalid a or b (verdict INVALID) counts as
 * invalid with its reason, the first few with src and detail for the
 * report. Returns 0, or -1 when out of memory (the diff is then
 * incomplete and must not be reported).
 */
int fz_rulesdiff_add(fz_rulesdiff *d, const fz_result *a, const fz_result *b, const fz_source *src);

/* A line that could not be handed to the pipeline at all (longer than the
 * reader's buffer): counted as invalid with reason too_large. */
void fz_rulesdiff_add_unread(fz_rulesdiff *d, const fz_source *src, const char *detail);

const fz_diff_totals *fz_rulesdiff_totals(const fz_rulesdiff *d);
/* Every rule of either ruleset, by id. Valid while d is. */
const fz_diff_rule *fz_rulesdiff_rules(const fz_rulesdiff *d, size_t *n);
/* Every category of either ruleset, by name. */
const fz_diff_category *fz_rulesdiff_categories(const fz_rulesdiff *d, size_t *n);
/* The first invalid lines, "file:line: reason: detail". */
const char *const *fz_rulesdiff_invalid_samples(const fz_rulesdiff *d, size_t *n);
size_t fz_rulesdiff_examples(const fz_rulesdiff *d);

#endif
