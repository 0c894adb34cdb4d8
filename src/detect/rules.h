/*
 * rules.h - a ruleset: the rule files (and the list files they name) of one
 * directory, parsed, validated and compiled into Hyperscan databases.
 *
 * A ruleset is an immutable snapshot. Once a loader returns it, any number
 * of threads may read it and scan its databases concurrently (each with
 * its own scratch, see matcher.h). It is reference counted so that a
 * reload can publish a new one while workers finish with the old: whoever
 * drops the last reference frees it.
 *
 * Model (docs/rules.md has the user's view):
 *   rule  = metadata + up to 64 terms + an optional boolean condition over
 *           the terms' names (default: any term);
 *   term  = a regex or a list of literals, applied to one or more fields
 *           (text, from, to, and url_host, url_domain, url_flags: the
 *           text's links, url.h) in one view (raw, normalized (norm.h) or,
 *           for text, url_host and url_domain, skeleton (skel.h)); or a
 *           model term: a text scorer (model.h) over the normalised text
 *           with a minimum score, which has no atom and is evaluated
 *           lazily after the scan (lazyterm.h);
 *   atom  = one Hyperscan expression: a regex term on one field, or one
 *           literal of a list term on one field. The Hyperscan id of an
 *           atom is its index in fz_ruleset_atoms(), which maps it back to
 *           (rule, term) and says how a literal match is to be checked.
 * Atoms are grouped into one database per (field, view, regex|literal).
 * Disabled rules are validated but not compiled.
 *
 * Prefilter and confirm (prefilter.h; on unless fz_rules_opts.no_prefilter):
 * a regex atom with literal factors is not put in the regex database of
 * its field; its factors join the literal database of that (field, view)
 * under ids FZ_FACTOR_ID + factor index, and the regex is compiled alone
 * into a confirm database, scanned only on events where each of its
 * factor clauses had a hit. Regexes with no usable factor stay in the
 * always-scanned regex databases. Two more shortcuts, with the prefilter
 * only: a regex that is just a set of literals (prefilter.h,
 * fz_prefilter_exact: `(点击|登录)`, `\b(call|click)\b`) becomes literal
 * atoms of that literal database (FZ_ATOM_SET), with no confirm; and a
 * regex written identically (pattern, flags, field, view) in several rules
 * is compiled once, its atoms chained by fz_atom.also. The verdicts are
 * the same either way (tests/diff checks it on the corpora, generated and
 * fuzzed events).
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

typedef enum fz_rule_status {
    FZ_STATUS_ENABLED = 0, /* matches alert */
    FZ_STATUS_SHADOW,      /* evaluated and counted, never alerts */
    FZ_STATUS_DISABLED,    /* validated, not compiled */
} fz_rule_status;

const char *fz_rule_status_name(fz_rule_status s);

/* What a term scans: the field as sent, its normalised view (norm.h) or,
 * for text, its skeleton view (skel.h). Stored in compiled files: append
 * only. */
typedef enum fz_view { FZ_VIEW_RAW = 0, FZ_VIEW_NORM, FZ_VIEW_SKEL, FZ_VIEW_COUNT } fz_view;

const char *fz_view_name(fz_view v);

/* How a list literal must sit in the field to count. */
typedef enum fz_lit_mode {
    FZ_LIT_CONTAINS = 0, /* anywhere */
    FZ_LIT_WORD,         /* not touching [A-Za-z0-9_-] on either side */
    FZ_LIT_EQUALS,       /* the whole field */
    FZ_LIT_PREFIX,       /* at the start */
    FZ_LIT_SUFFIX,       /* at the end */
    FZ_LIT_LINE,         /* a whole line of the field (url_* fields: one line per link) */
} fz_lit_mode;

#define FZ_MAX_TERMS 64
#define FZ_LIST_MAX_LITERALS 1000000
#define FZ_LIST_MAX_BYTES (64u << 20)
#define FZ_LITERAL_MAX_BYTES 1024
/* A rule has at most this many model terms (lazyterm.h). */
#define FZ_MAX_MODEL_TERMS 4

typedef struct fz_term {
    char *name;
    unsigned line;
    uint32_t fields; /* bit (1u << fz_field) per scanned field */
    fz_view view;
    unsigned hs_flags;  /* flags as written (caseless, dotall, ...) */
    char *pattern;      /* a regex term, or NULL */
    char *list;         /* a list term: path relative to the rules directory */
    fz_lit_mode mode;   /* list terms */
    size_t nliterals;   /* list terms: distinct literals used */
    char *model;        /* a model term (model.h): the .fzm file, relative to the rules
                         * directory; scores the normalised text */
    double min_score;   /* model terms: the term holds when the score is >= this */
    uint32_t model_idx; /* model terms: index of the model, fz_ruleset_model() */
} fz_term;

/* One embedded example: the fields of an event and whether it must match. */
typedef struct fz_rule_test {
    unsigned line;
    int should_match;
    char *fields[FZ_FIELD_COUNT]; /* NULL if not given */
} fz_rule_test;

typedef struct fz_aggrule fz_aggrule; /* aggrule.h */

typedef struct fz_rule {
    char *id;
    unsigned rev;
    char *category;
    fz_severity severity;
    fz_rule_status status;
    char *description;
    char **references;
    size_t nreferences;
    char *file;    /* path of the rule file */
    unsigned line; /* line of the rule's "id" */
    fz_term *terms;
    size_t nterms;
    int16_t *cond; /* postfix program over term indexes, or NULL = any term */
    size_t ncond;
    char *cond_src;
    fz_rule_test *tests;
    size_t ntests;
    char *json; /* {"id":..,"rev":..,"category":..,"severity":..} for alerts */
    size_t json_len;
    fz_aggrule *agg; /* a behavioural rule (aggrule.h): its terms only filter; or NULL */
    uint32_t pair;   /* a shadow revision (docs/rules.md): the index of the other
                      * revision of the same id, or FZ_RULE_NO_PAIR */
} fz_rule;

/* fz_rule.pair of a rule whose id appears once. An id may appear twice
 * only as a revision pair: one `status: enabled`, one `status: shadow`
 * with a higher rev and the same category (the candidate); any other
 * repeated id is an error naming both places. */
#define FZ_RULE_NO_PAIR UINT32_MAX

/* What a Hyperscan match id means. */
typedef struct fz_atom {
    uint32_t rule;
    uint8_t term;
    uint8_t mode; /* fz_lit_mode; FZ_LIT_CONTAINS for regexes; FZ_ATOM_SET.. */
    uint16_t field;
    uint32_t len;  /* literal length in bytes (0 for regexes) */
    uint32_t also; /* a regex compiled once for several terms: the next atom
                      it stands for (index + 1); 0 = none */
} fz_atom;

/* fz_atom.mode of one literal of a regex term that is a set of literals:
 * the term counts one hit per scan, as its regex did; with _WSTART /
 * _WEND, the literal must have a \b (regex word boundary: an ASCII
 * [A-Za-z0-9_] character on exactly one side) before / after it. */
#define FZ_ATOM_SET 0x10
#define FZ_ATOM_SET_WSTART 0x01
#define FZ_ATOM_SET_WEND 0x02
/* With FZ_ATOM_SET: a literal that is a whole token of text_flags
 * (textfacts.h: `\bhan\b`, each word of `\b(link|money)\b`). It is in
 * no database: the matcher reads the field's bits and records the atoms
 * of the tokens present, which is what a scan would find, for the cost of
 * a few comparisons instead of a Hyperscan scan per event. Its len is the
 * token's FZ_TEXT_* bit (it needs no length: no boundary to check). */
#define FZ_ATOM_FLAG 0x20
/* fz_atom.mode of a regex on text_numbers that asks only for a number of
 * some length, with flag multiline (each line of the field is one number's
 * digits, textfacts.h): '^[0-9]{N}', '^[0-9]{N,}' or '^[0-9]{N,M}' (a
 * line of at least N digits: a longer one starts with N too), and with an
 * end anchor '^[0-9]{N}$' (exactly N), '^[0-9]{N,}$' (at least N),
 * '^[0-9]{N,M}$' (N to M). It is in no database: the matcher compares
 * the lengths of the field's lines with the range. len holds it as
 * FZ_NUMLEN_MIN(len) = N and FZ_NUMLEN_MAX(len) = M, or 0 for no upper
 * bound. */
#define FZ_ATOM_NUMLEN 0x40
#define FZ_NUMLEN_MIN(len) ((len)&0xffffu)
#define FZ_NUMLEN_MAX(len) ((len) >> 16) /* 0: no upper bound */
#define FZ_NUMLEN(min, max) ((uint32_t)(min) | (uint32_t)(max) << 16)

/* One compiled database. */
typedef struct fz_db {
    fz_field field;
    fz_view view;
    int literal; /* compiled with hs_compile_lit_multi */
    int confirm; /* one regex, scanned only when its factors hit */
    size_t natoms;
    hs_database_t *db;
} fz_db;

/* Hyperscan ids from here up are factor literals, not atoms. */
#define FZ_FACTOR_ID 0x80000000u

/* A regex atom behind the prefilter. */
typedef struct fz_confirm {
    uint32_t atom; /* the regex atom (rule, term, field) */
    uint32_t db;   /* its confirm database, fz_ruleset_db_at() */
    uint32_t all;  /* bit per factor clause: the mask that makes a candidate */
    uint8_t view;  /* the view it and its factors scan */
    uint8_t nclauses;
} fz_confirm;

/* Where a factor literal's hit counts: clause `clause` of confirm `confirm`. */
typedef struct fz_factor_target {
    uint32_t confirm;
    uint32_t clause;
} fz_factor_target;

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
/* Append a diagnostic (warning = 1 for a warning). */
void fz_rule_diags_add(fz_rule_diags *d, const char *file, unsigned line, int warning,
                       const char *fmt, ...) FZ_PRINTF(5, 6);
/* Print every diagnostic as "file:line: error: msg" to fp. */
void fz_rule_diags_print(const fz_rule_diags *d, void *fp);
/* The first error as "file:line: msg" into buf (for logs and counters). */
void fz_rule_diags_first_error(const fz_rule_diags *d, char *buf, size_t size);

typedef struct fz_dbcache fz_dbcache;

typedef struct fz_rules_opts {
    /* Analyse every regex on its own (hs_expression_info), so that every
     * bad pattern is named and slow ones are warned about. Without it the
     * analysis runs only when a database fails to compile. */
    int analyze;
    double slow_ms;    /* analyze: warn when one pattern takes longer (0 = 200) */
    int compile;       /* 0: parse and validate only (version, tests listing) */
    int no_prefilter;  /* 1: every regex in the always-scanned databases (the
                        * reference matcher) */
    fz_dbcache *cache; /* compiled databases cached on disk (dbcache.h), or NULL */
} fz_rules_opts;

/*
 * Load every *.yaml / *.yml file under dir (recursively, in sorted path
 * order) and the list files they name, validate each rule and compile.
 * Returns NULL if there was any error; every problem is appended to diags
 * (which the caller frees). Warnings alone do not fail the load. opts may
 * be NULL (compile, no per-pattern analysis).
 * Called from the main or reload thread; never from a worker.
 */
fz_ruleset *fz_ruleset_load(const char *dir, const fz_rules_opts *opts, fz_rule_diags *diags);

typedef struct fz_signkey fz_signkey;
typedef struct fz_keyring fz_keyring;
typedef struct fz_artifact_info fz_artifact_info;

/*
 * Write rs (its sources and serialised databases) to path as a compiled
 * file (artifact.h: header with the digest of the body and the build time
 * - $SOURCE_DATE_EPOCH when set, else now - and, when key is not NULL, an
 * Ed25519 signature over the whole file), atomically (temporary file,
 * fsync, rename). Returns 0 or -1 with errstr filled.
 */
int fz_ruleset_save(const fz_ruleset *rs, const char *path, const fz_signkey *key, char *errstr,
                    size_t errstr_size);
/* The bytes fz_ruleset_save() writes, in a malloc'd buffer (tests, the
 * fuzzer); NULL when out of memory. */
uint8_t *fz_ruleset_artifact_bytes(const fz_ruleset *rs, int64_t build_time_s,
                                   const fz_signkey *key, size_t *len);

/*
 * Load a file written by fz_ruleset_save(): the databases are
 * deserialised, not recompiled. The file is read with fz_artifact_read()
 * (strict - owner, mode, directory - when trust is set) and checked with
 * fz_artifact_verify() before any of its body is parsed. Refused (NULL,
 * with a diagnostic naming the file and saying why) when it is not a
 * compiled ruleset, another format, damaged or spliced (the digest),
 * unsigned or not signed by a key of trust (when trust is not NULL),
 * compiled for another Hyperscan version or CPU, or - when expect_version
 * is not NULL - built from other sources (expect_version is a sources
 * version, fz_ruleset_source_version()). The loaded ruleset's
 * fz_ruleset_version() is the artifact's: it covers every byte loaded.
 */
fz_ruleset *fz_ruleset_load_compiled(const char *path, const char *expect_version,
                                     const fz_keyring *trust, fz_rule_diags *diags);
/* The same from len bytes at buf already read (path names it in
 * diagnostics); buf stays the caller's. */
fz_ruleset *fz_ruleset_load_artifact(const char *path, const uint8_t *buf, size_t len,
                                     const char *expect_version, const fz_keyring *trust,
                                     fz_rule_diags *diags);

/* Reference counting; any thread. unref(NULL) is a no-op. */
fz_ruleset *fz_ruleset_ref(fz_ruleset *rs);
void fz_ruleset_unref(fz_ruleset *rs);

size_t fz_ruleset_count(const fz_ruleset *rs);
const fz_rule *fz_ruleset_rule(const fz_ruleset *rs, size_t idx);
/* The category string of the ruleset's rules equal to name[0..n), or
 * NULL when no rule has that category. Valid while rs is. */
const char *fz_ruleset_category_find(const fz_ruleset *rs, const char *name, size_t n);
/* Number of Hyperscan expressions compiled (regexes and literals). */
size_t fz_ruleset_pattern_count(const fz_ruleset *rs);
size_t fz_ruleset_literal_count(const fz_ruleset *rs);
/* The version that names what runs: for a ruleset compiled from its
 * directory, its sources version; for one loaded from a compiled file,
 * "rs-" + 16 hex digits of the XXH3-128 of the file's whole body (sources
 * and databases). */
const char *fz_ruleset_version(const fz_ruleset *rs);
/* "rs-" + 16 hex digits of XXH3 over every rule and list file's path and
 * content: the same for a directory and every file compiled from it. */
const char *fz_ruleset_source_version(const fz_ruleset *rs);
/* Provenance: the artifact's version, digest, signer key id (or
 * "unsigned"), build time. For a ruleset compiled from its directory the
 * version is the sources', the digest empty, the build time 0. Valid while
 * rs is; any thread (for status, alerts and metrics). */
const fz_artifact_info *fz_ruleset_artifact(const fz_ruleset *rs);
/* For alerts: `,"artifact":{"signer":..,"signed":..,"build_time_s":..}`
 * (*len bytes, NUL-terminated) when rs came from a
 * compiled file, else "" with *len 0. Valid while rs is. */
const char *fz_ruleset_artifact_json(const fz_ruleset *rs, size_t *len);
const fz_atom *fz_ruleset_atoms(const fz_ruleset *rs);
size_t fz_ruleset_db_count(const fz_ruleset *rs);
const fz_db *fz_ruleset_db_at(const fz_ruleset *rs, size_t i);
/* The prefilter: regex atoms behind it, and the targets of factor f (a
 * Hyperscan id FZ_FACTOR_ID + f) as [ret, ret + *n). */
size_t fz_ruleset_confirm_count(const fz_ruleset *rs);
const fz_confirm *fz_ruleset_confirms(const fz_ruleset *rs);
size_t fz_ruleset_factor_count(const fz_ruleset *rs);
const fz_factor_target *fz_ruleset_factor_targets(const fz_ruleset *rs, uint32_t f, size_t *n);
/* 1 if built with the prefilter. */
int fz_ruleset_prefiltered(const fz_ruleset *rs);
/* Regex atoms that stay in the always-scanned databases although the
 * prefilter is on, and why (static strings): for `rules check`. */
size_t fz_ruleset_unfiltered(const fz_ruleset *rs, const uint32_t **atoms, const char *const **why);

struct fz_url_brands;
/* The brands table (url.h) of the rules directory's lists/brands.txt, read
 * when some rule scans url_flags; NULL without one. Valid while rs is. */
const struct fz_url_brands *fz_ruleset_url_brands(const fz_ruleset *rs);

/* 1 if some database scans this field in this view. */
int fz_ruleset_uses(const fz_ruleset *rs, fz_field f, fz_view v);
/* Bytes of all compiled databases. */
size_t fz_ruleset_db_bytes(const fz_ruleset *rs);
/* Seconds spent compiling (or deserialising) the databases. */
double fz_ruleset_compile_secs(const fz_ruleset *rs);
/* Databases that came from the on-disk cache instead of the compiler. */
size_t fz_ruleset_cached_dbs(const fz_ruleset *rs);

/* The view term t sees on field f (a term without a view: normalized
 * text, raw numbers), and the Hyperscan flags its regex is compiled with
 * in view v. */
fz_view fz_term_view(const fz_term *t, fz_field f);
unsigned fz_term_regex_flags(const fz_term *t, fz_view v);

/* Compile cost of one regex term on its own. */
typedef struct fz_pattern_cost {
    const fz_rule *rule;
    const fz_term *term;
    double compile_ms;
} fz_pattern_cost;

/* Compile every regex term alone (on all cores) and return their costs,
 * most expensive first, in a malloc'd array (*out; count returned). For
 * `rules check --profile`: finds the patterns that make a ruleset slow to
 * compile. */
size_t fz_ruleset_profile(const fz_ruleset *rs, fz_pattern_cost **out);

/* The model files the rules name (model.h), in the order first named:
 * term.model_idx indexes them. The path is relative to the rules
 * directory. Valid while rs is; any thread. */
struct fz_model;
size_t fz_ruleset_model_count(const fz_ruleset *rs);
const struct fz_model *fz_ruleset_model(const fz_ruleset *rs, size_t i);
const char *fz_ruleset_model_path(const fz_ruleset *rs, size_t i);

/* The enabled rules with an aggregate block (aggrule.h), as rule indexes
 * in ruleset order: *n of them. Valid while rs is. */
const uint32_t *fz_ruleset_aggs(const fz_ruleset *rs, size_t *n);

/* Evaluate rule r's condition over the set of its terms that matched
 * (bit i = term i). Thread-safe. */
int fz_rule_eval(const fz_rule *r, uint64_t terms);

#endif
