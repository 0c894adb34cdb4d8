/*
 * rules.h - a ruleset: the rule files of one directory, parsed, validated
 * and compiled into one Hyperscan database per event field.
 *
 * A ruleset is an immutable snapshot. Once fz_ruleset_load() returns it,
 * any number of threads may read it and scan its databases concurrently
 * (each with its own scratch, see matcher.h). It is reference counted so
 * that a reload can publish a new one while workers finish with the old:
 * whoever drops the last reference frees it.
 *
 * File format (YAML; docs/rules.md):
 *   rules:
 *     - id: zh.bank.card-frozen
 *       rev: 1
 *       category: impersonate_bank
 *       severity: high
 *       fields: [text]
 *       flags: [caseless]
 *       pattern: '(银行卡|账户).{0,12}(冻结|异常)'
 *       description: ...
 */
#ifndef FZ_RULES_H
#define FZ_RULES_H

#include <hs/hs.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "event.h"

typedef enum fz_severity {
    FZ_SEV_LOW = 1,
    FZ_SEV_MEDIUM,
    FZ_SEV_HIGH,
    FZ_SEV_CRITICAL,
} fz_severity;

const char *fz_severity_name(fz_severity s);

typedef struct fz_rule {
    char *id;
    unsigned rev;
    char *category;
    fz_severity severity;
    char *description;
    uint32_t fields;   /* bit (1u << fz_field) per scanned field */
    unsigned hs_flags; /* HS_FLAG_* applied to every pattern */
    char *file;        /* path as given to the loader + relative path */
    unsigned line;     /* line of the rule's "id" */
    size_t npatterns;
    char **patterns;
    unsigned *pattern_lines;
    char *json; /* {"id":..,"rev":..,"category":..,"severity":..} for alerts */
    size_t json_len;
} fz_rule;

typedef struct fz_ruleset fz_ruleset;

/* One problem found while loading, with its place. */
typedef struct fz_rule_diag {
    char *file;
    unsigned line; /* 1-based; 0 if the problem concerns the whole file */
    int warning;   /* 1 = warning, 0 = error */
    char *msg;
} fz_rule_diag;

typedef struct fz_rule_diags {
    fz_rule_diag *v;
    size_t n, cap;
    size_t errors;
} fz_rule_diags;

void fz_rule_diags_free(fz_rule_diags *d);
/* Print every diagnostic as "file:line: error: msg" to fp. */
void fz_rule_diags_print(const fz_rule_diags *d, void *fp);

/*
 * Load every *.yaml / *.yml file under dir (recursively, in sorted path
 * order), validate each rule and compile. Returns NULL if there was any
 * error; every problem is appended to diags (which the caller frees).
 * Warnings alone do not fail the load.
 * Called from the main or reload thread; never from a worker.
 */
fz_ruleset *fz_ruleset_load(const char *dir, fz_rule_diags *diags);

/* Reference counting; any thread. unref(NULL) is a no-op. */
fz_ruleset *fz_ruleset_ref(fz_ruleset *rs);
void fz_ruleset_unref(fz_ruleset *rs);

size_t fz_ruleset_count(const fz_ruleset *rs);
const fz_rule *fz_ruleset_rule(const fz_ruleset *rs, size_t idx);
/* Number of pattern expressions compiled (over all fields). */
size_t fz_ruleset_pattern_count(const fz_ruleset *rs);
/* "rs-" + 16 hex digits of XXH3 over every file's path and content. */
const char *fz_ruleset_version(const fz_ruleset *rs);
/* Database for a field, or NULL if no rule scans it. */
const hs_database_t *fz_ruleset_db(const fz_ruleset *rs, fz_field f);

#endif
