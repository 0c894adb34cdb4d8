/*
 * main.c - the fanzha command line: dispatches to run, replay and rules.
 */
#define _GNU_SOURCE
#include <hs/hs.h>
#include <librdkafka/rdkafka.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "artifact.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "privacy.h"
#include "profile.h"
#include "promote.h"
#include "reload.h"
#include "replay.h"
#include "ruletest.h"
#include "rules.h"
#include "rules_diff.h"
#include "stats.h"
#include "train.h"

#ifndef FZ_VERSION
#define FZ_VERSION "0.0.0"
#endif

static void usage(FILE *fp) {
    fprintf(fp,
            "fanzha %s - fraud-alert stream filter (Kafka -> Hyperscan -> Kafka)\n"
            "\n"
            "Usage:\n"
            "  fanzha run [OPTIONS]            consume events from Kafka, produce alerts\n"
            "  fanzha replay [OPTIONS] [FILE]  same pipeline over NDJSON files or stdin\n"
            "  fanzha rules check DIR          parse and compile a rules directory; every\n"
            "                                  problem as file:line\n"
            "  fanzha rules test DIR           run the rules' embedded examples\n"
            "  fanzha rules compile DIR -o F [--sign KEY.sec]\n"
            "                                  write a compiled ruleset (fast start-up),\n"
            "                                  signed with an Ed25519 key\n"
            "  fanzha rules keygen -o PREFIX   a signing key pair: PREFIX.sec, PREFIX.pub\n"
            "  fanzha rules profile DIR EVENTS scan cost of each regex alone over sample\n"
            "                                  events, most expensive first\n"
            "  fanzha rules stats FILE         per-rule matches and cost (replay --rule-stats,\n"
            "                                  or --admin SOCKET for a running daemon)\n"
            "  fanzha rules diff OLD NEW EVENTS...\n"
            "                                  what a rule change does to these events (or a\n"
            "                                  Kafka topic time range: --brokers, --topic,\n"
            "                                  --from-time): alerts gained and lost per rule\n"
            "                                  and category, cost\n"
            "  fanzha rules promote ID [--rules DIR] [--dry-run]\n"
            "                                  make rule ID's shadow revision the enabled one\n"
            "                                  (edits its rule files; prints the change)\n"
            "  fanzha model train CORPUS... -o FILE\n"
            "                                  train a text scorer (a rule's model: term)\n"
            "  fanzha model eval MODEL CORPUS... precision, recall, ROC AUC of a model\n"
            "  fanzha model info MODEL         what a model file holds\n"
            "  fanzha stats [OPTIONS] [FILE]   loss-recovery statistics of a deployment: sums\n"
            "                                  the statistics topic (or files of its records);\n"
            "                                  --period week, --report FILE.html (a page to\n"
            "                                  brief from)\n"
            "  fanzha admin CMD                reload | status | rule-stats | history |\n"
            "                                  rollback [VERSION] of a running daemon\n"
            "  fanzha version                  versions of fanzha and its libraries\n"
            "\n"
            "Run 'fanzha run --help', 'fanzha replay --help' or 'fanzha stats --help' for every\n"
            "option.\n"
            "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n",
            FZ_VERSION);
}

static int rules_usage(void) {
    fprintf(
        stderr,
        "usage: fanzha rules check DIR [--fast] [--slow-ms N]\n"
        "       fanzha rules test DIR\n"
        "       fanzha rules compile DIR -o FILE [--sign KEY.sec]\n"
        "       fanzha rules keygen -o PREFIX          (writes PREFIX.sec and PREFIX.pub)\n"
        "       fanzha rules profile DIR EVENTS.ndjson [--events N] [--rounds N] [--top N]\n"
        "       fanzha rules stats FILE|- [--top N]      (JSON lines from replay --rule-stats)\n"
        "       fanzha rules stats --admin SOCKET [--top N]\n"
        "       fanzha rules diff OLD NEW EVENTS... [--git REV] [--json FILE] [--html FILE]\n"
        "                         [--examples N] [--fail-on-lost] [--max-new-alerts-rate R]\n"
        "       fanzha rules diff OLD NEW --brokers B --topic T --from-time T1 [--to-time T2]\n"
        "                         [-X KEY=VALUE] [--kafka-timeout S] [OPTIONS as above]\n"
        "                         ('fanzha rules diff --help' for every option)\n"
        "       fanzha rules promote ID [--rules DIR] [--dry-run]   (DIR default: rules)\n");
    return 2;
}

static fz_ruleset *rules_load_report(const char *dir, const fz_rules_opts *o, size_t *nwarn) {
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(dir, o, &diags);
    fz_rule_diags_print(&diags, stderr);
    *nwarn = diags.n - diags.errors;
    if (!rs)
        fprintf(stderr, "%s: %zu error(s), %zu warning(s); rules NOT usable\n", dir, diags.errors,
                *nwarn);
    fz_rule_diags_free(&diags);
    return rs;
}

static void rules_summary(const char *dir, const fz_ruleset *rs, double secs, size_t nwarn) {
    size_t shadow = 0, disabled = 0, pairs = 0;
    for (size_t i = 0; i < fz_ruleset_count(rs); i++) {
        fz_rule_status st = fz_ruleset_rule(rs, i)->status;
        shadow += st == FZ_STATUS_SHADOW;
        disabled += st == FZ_STATUS_DISABLED;
        pairs += st == FZ_STATUS_SHADOW && fz_ruleset_rule(rs, i)->pair != FZ_RULE_NO_PAIR;
    }
    printf("%s: %zu rules (%zu shadow, %zu disabled), %zu patterns (%zu list literals) in %zu "
           "database(s) of %.1f MiB (%zu from the cache), ruleset %s; loaded in %.2f s (compile "
           "%.2f s), %zu warning(s)\n",
           dir, fz_ruleset_count(rs), shadow, disabled, fz_ruleset_pattern_count(rs),
           fz_ruleset_literal_count(rs), fz_ruleset_db_count(rs),
           (double)fz_ruleset_db_bytes(rs) / 1048576.0, fz_ruleset_cached_dbs(rs),
           fz_ruleset_version(rs), secs, fz_ruleset_compile_secs(rs), nwarn);
    if (pairs) { /* docs/rules.md, "A shadow revision" */
        printf("%zu shadow revision(s) beside the enabled one ('fanzha rules promote ID' when "
               "accepted):\n",
               pairs);
        for (size_t i = 0; i < fz_ruleset_count(rs); i++) {
            const fz_rule *r = fz_ruleset_rule(rs, i);
            if (r->status != FZ_STATUS_SHADOW || r->pair == FZ_RULE_NO_PAIR) continue;
            const fz_rule *e = fz_ruleset_rule(rs, r->pair);
            printf("  %s: rev %u enabled (%s:%u), rev %u shadow (%s:%u)\n", r->id, e->rev, e->file,
                   e->line, r->rev, r->file, r->line);
        }
    }
    if (!fz_ruleset_prefiltered(rs)) return;
    const uint32_t *un;
    const char *const *why;
    size_t nun = fz_ruleset_unfiltered(rs, &un, &why), ndef = 0;
    for (size_t i = 0; i < fz_ruleset_confirm_count(rs); i++) /* no factor, deferred */
        ndef += fz_ruleset_confirms(rs)[i].nclauses == 0;
    printf("prefilter: %zu regex(es) behind %zu factor literals; %zu scanned only where a "
           "verdict needs them; %zu always scanned%s\n",
           fz_ruleset_confirm_count(rs) - ndef, fz_ruleset_factor_count(rs), ndef, nun,
           nun ? " (each costs every event a scan; measure them with 'fanzha rules profile DIR "
                 "EVENTS', give them a rarer required literal to fix):"
               : "");
    for (size_t i = 0; i < nun; i++) {
        const fz_atom *a = &fz_ruleset_atoms(rs)[un[i]];
        const fz_rule *r = fz_ruleset_rule(rs, a->rule);
        printf("  %s:%u: rule '%s', field %s: %s\n", r->file, r->terms[a->term].line, r->id,
               fz_field_name((fz_field)a->field), why[i]);
    }
}

static void rules_profile(const fz_ruleset *rs, long top) {
    fz_pattern_cost *c = NULL;
    size_t n = fz_ruleset_profile(rs, &c);
    double total = 0;
    for (size_t i = 0; i < n; i++) total += c[i].compile_ms;
    printf("compile cost of each regex alone (%zu patterns, %.1f s in total), most expensive "
           "first:\n",
           n, total / 1000);
    for (size_t i = 0; i < n && (long)i < top; i++)
        printf("%8.1f ms  %5.1f%%  %s:%u: %s\n", c[i].compile_ms,
               total > 0 ? 100 * c[i].compile_ms / total : 0.0, c[i].rule->file, c[i].term->line,
               c[i].rule->id);
    free(c);
}

static int rules_check(int argc, char **argv) {
    fz_rules_opts o = {.analyze = 1, .slow_ms = 200, .compile = 1, .cache = fz_rules_cache(NULL)};
    const char *dir = NULL;
    long profile = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--profile"))
            profile = 20;
        else if (!strcmp(argv[i], "--fast"))
            o.analyze = 0;
        else if (!strcmp(argv[i], "--slow-ms") && i + 1 < argc)
            o.slow_ms = atof(argv[++i]);
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            return rules_usage();
    }
    if (!dir) return rules_usage();
    size_t nwarn;
    int64_t t0 = fz_mono_ns();
    fz_ruleset *rs = rules_load_report(dir, &o, &nwarn);
    if (!rs) return 1;
    rules_summary(dir, rs, (double)(fz_mono_ns() - t0) / 1e9, nwarn);
    if (profile) rules_profile(rs, profile);
    fz_ruleset_unref(rs);
    return 0;
}

/* `rules profile`: the scan cost of each regex term alone (profile.h). */
static int rules_profile_scan(int argc, char **argv) {
    const char *dir = NULL, *events = NULL;
    long max_events = 10000, rounds = 3, top = 20;
    for (int i = 0; i < argc; i++) {
        long *num = !strcmp(argv[i], "--events")   ? &max_events
                    : !strcmp(argv[i], "--rounds") ? &rounds
                    : !strcmp(argv[i], "--top")    ? &top
                                                   : NULL;
        if (num && i + 1 < argc) {
            char *end;
            *num = strtol(argv[++i], &end, 10);
            if (*end || *num < 1) {
                fprintf(stderr, "fanzha rules profile: %s wants a positive integer, not '%s'\n",
                        argv[i - 1], argv[i]);
                return 2;
            }
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else if ((argv[i][0] != '-' || !strcmp(argv[i], "-")) && !events) {
            events = argv[i];
        } else {
            return rules_usage();
        }
    }
    if (!dir || !events) return rules_usage();
    fz_rules_opts o = {.compile = 0}; /* parse and validate: each regex is compiled alone below */
    size_t nwarn;
    fz_ruleset *rs = rules_load_report(dir, &o, &nwarn);
    if (!rs) return 1;
    fz_scan_cost *c = NULL;
    fz_profile_info info;
    char err[512];
    long n =
        fz_profile_scan(rs, events, (size_t)max_events, (int)rounds, &c, &info, err, sizeof(err));
    if (n < 0) {
        fprintf(stderr, "fanzha rules profile: %s\n", err);
        fz_ruleset_unref(rs);
        return 1;
    }
    double total = 0;
    for (long i = 0; i < n; i++) total += c[i].ns_per_event;
    printf("scan cost of each regex term alone, %zu events from %s (%zu skipped: not valid "
           "events), median of %ld round(s); mean text scanned %.0f bytes normalized, %.0f raw; "
           "an empty scan costs %.0f ns\n",
           info.events, events, info.invalid, rounds, info.view_bytes[FZ_FIELD_TEXT][FZ_VIEW_NORM],
           info.view_bytes[FZ_FIELD_TEXT][FZ_VIEW_RAW], info.empty_ns);
    printf("%zu regex term(s) x field: %.2f us per event in total (if scanned one by one)\n",
           (size_t)n, total / 1000);
    printf("%10s %6s %9s  %s\n", "ns/event", "share", "matched", "where");
    for (long i = 0; i < n && i < top; i++)
        printf("%10.0f %5.1f%% %9llu  %s:%u: rule '%s' term '%s' on %s/%s\n", c[i].ns_per_event,
               total > 0 ? 100 * c[i].ns_per_event / total : 0.0, (unsigned long long)c[i].matched,
               c[i].rule->file, c[i].term->line, c[i].rule->id,
               c[i].term->name ? c[i].term->name : "", fz_field_name(c[i].field),
               fz_view_name(c[i].view));
    free(c);
    fz_ruleset_unref(rs);
    return 0;
}

static int rules_test(int argc, char **argv) {
    if (argc != 1) return rules_usage();
    size_t nwarn;
    fz_ruleset *rs = rules_load_report(argv[0], NULL, &nwarn);
    if (!rs) return 1;
    fz_rule_diags diags = {0};
    fz_ruletest_summary sum;
    char err[256];
    int rc = fz_ruletest_run(rs, &diags, &sum, err, sizeof(err));
    fz_rule_diags_print(&diags, stdout);
    fz_rule_diags_free(&diags);
    if (rc < 0) {
        fprintf(stderr, "%s: tests could not run: %s\n", argv[0], err);
        fz_ruleset_unref(rs);
        return 1;
    }
    printf("%s: %zu example(s) in %zu rule(s): %zu passed, %zu FAILED; %zu enabled rule(s) have "
           "no examples; %zu example(s) of disabled rules skipped\n",
           argv[0], sum.examples, sum.rules_with_tests, sum.examples - sum.failed, sum.failed,
           sum.rules_without_tests, sum.skipped);
    fz_ruleset_unref(rs);
    return rc == 0 ? 0 : 1;
}

static int rules_keygen(int argc, char **argv) {
    if (argc != 2 || strcmp(argv[0], "-o") != 0) return rules_usage();
    char id[FZ_ARTIFACT_KEYID_HEX + 1], err[512];
    if (fz_artifact_keygen(argv[1], id, err, sizeof(err)) != 0) {
        fprintf(stderr, "fanzha rules keygen: %s\n", err);
        return 1;
    }
    printf("key %s: secret key %s.sec (mode 0600; keep it off the servers), public key %s.pub "
           "(give it to fanzha as rules_public_key)\n",
           id, argv[1], argv[1]);
    return 0;
}

static int rules_compile(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *keyfile = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--sign") && i + 1 < argc)
            keyfile = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            return rules_usage();
    }
    if (!dir || !out) return rules_usage();
    char err[512];
    fz_signkey *key = NULL;
    if (keyfile && !(key = fz_signkey_load(keyfile, err, sizeof(err)))) {
        fprintf(stderr, "fanzha rules compile: --sign %s\n", err);
        return 1;
    }
    size_t nwarn;
    int64_t t0 = fz_mono_ns();
    fz_rules_opts o = {.compile = 1, .cache = fz_rules_cache(NULL)};
    fz_ruleset *rs = rules_load_report(dir, &o, &nwarn);
    if (!rs) {
        fz_signkey_free(key);
        return 1;
    }
    int rc = fz_ruleset_save(rs, out, key, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
    } else {
        /* what the file will be known as: read it back through the loader */
        fz_rule_diags diags = {0};
        fz_ruleset *back =
            fz_ruleset_load_compiled(out, fz_ruleset_source_version(rs), NULL, &diags);
        fz_rule_diags_print(&diags, stderr);
        fz_rule_diags_free(&diags);
        rules_summary(dir, rs, (double)(fz_mono_ns() - t0) / 1e9, nwarn);
        if (!back) {
            rc = -1;
        } else {
            printf("wrote %s: ruleset %s (sources %s), %s%s (load it with --rules-compiled "
                   "%s)\n",
                   out, fz_ruleset_version(back), fz_ruleset_source_version(rs),
                   key ? "signed by key " : "unsigned", key ? fz_signkey_id(key) : "", out);
            fz_ruleset_unref(back);
        }
    }
    fz_ruleset_unref(rs);
    fz_signkey_free(key);
    return rc ? 1 : 0;
}

/* The value of "key": in a flat JSON line we wrote ourselves. */
static int json_field(const char *line, const char *key, char *out, size_t size) {
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return -1;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < size) {
            if (*p == '\\' && p[1]) p++;
            out[n++] = *p++;
        }
    } else {
        while (*p && *p != ',' && *p != '}' && n + 1 < size) out[n++] = *p++;
    }
    out[n] = '\0';
    return 0;
}

typedef struct stat_row {
    char id[132], status[16], category[68];
    unsigned long long matches, hits;
    unsigned rev, pair_rev; /* pair_rev: the other revision of a pair, 0 = none */
    unsigned long long both, only;
} stat_row;

static int row_cmp(const void *a, const void *b) {
    const stat_row *x = a, *y = b;
    if (x->matches != y->matches) return x->matches < y->matches ? 1 : -1;
    if (x->hits != y->hits) return x->hits < y->hits ? 1 : -1;
    return strcmp(x->id, y->id);
}

static int rules_stats(int argc, char **argv) {
    const char *admin = NULL, *file = NULL;
    long top = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--admin") && i + 1 < argc)
            admin = argv[++i];
        else if (!strcmp(argv[i], "--top") && i + 1 < argc)
            top = atol(argv[++i]);
        else if (!file && (argv[i][0] != '-' || !strcmp(argv[i], "-")))
            file = argv[i];
        else
            return rules_usage();
    }
    if (!!admin == !!file) return rules_usage();
    FILE *in;
    char *mem = NULL;
    size_t memlen = 0;
    if (admin) {
        FILE *ms = open_memstream(&mem, &memlen);
        int rc = fz_admin_request(admin, "rule-stats", ms);
        fclose(ms);
        if (rc != 0) {
            free(mem);
            return 1;
        }
        in = fmemopen(mem, memlen ? memlen : 1, "r");
    } else {
        in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
        if (!in) {
            fprintf(stderr, "fanzha rules stats: %s: %s\n", file, strerror(errno));
            return 1;
        }
    }
    stat_row *rows = NULL;
    size_t n = 0, cap = 0;
    char line[4096], ruleset[32] = "", v[64];
    unsigned long long total_m = 0, total_s = 0, total_h = 0;
    while (fgets(line, sizeof(line), in)) {
        stat_row r;
        memset(&r, 0, sizeof(r));
        if (json_field(line, "id", r.id, sizeof(r.id)) != 0) continue;
        json_field(line, "status", r.status, sizeof(r.status));
        json_field(line, "category", r.category, sizeof(r.category));
        json_field(line, "ruleset", ruleset, sizeof(ruleset));
        if (json_field(line, "matches", v, sizeof(v)) == 0) r.matches = strtoull(v, NULL, 10);
        if (json_field(line, "hits", v, sizeof(v)) == 0) r.hits = strtoull(v, NULL, 10);
        if (json_field(line, "rev", v, sizeof(v)) == 0) r.rev = (unsigned)strtoul(v, NULL, 10);
        if (json_field(line, "pair_rev", v, sizeof(v)) == 0) {
            r.pair_rev = (unsigned)strtoul(v, NULL, 10);
            if (json_field(line, "both", v, sizeof(v)) == 0) r.both = strtoull(v, NULL, 10);
            if (json_field(line, "only", v, sizeof(v)) == 0) r.only = strtoull(v, NULL, 10);
        }
        if (!strcmp(r.status, "shadow"))
            total_s += r.matches;
        else
            total_m += r.matches;
        total_h += r.hits;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            stat_row *nr = realloc(rows, cap * sizeof(stat_row));
            if (!nr) break;
            rows = nr;
        }
        rows[n++] = r;
    }
    if (in != stdin) fclose(in);
    free(mem);
    if (n > 1) qsort(rows, n, sizeof(stat_row), row_cmp);
    printf("ruleset %s: %zu rules; %llu matches, %llu shadow matches, %llu Hyperscan callbacks\n",
           ruleset, n, total_m, total_s, total_h);
    printf("%-44s %5s %-8s %-28s %10s %10s %9s\n", "rule", "rev", "status", "category", "matches",
           "hits", "hits/match");
    for (size_t i = 0; i < n && (top <= 0 || (long)i < top); i++) {
        const stat_row *r = &rows[i];
        printf("%-44s %5u %-8s %-28s %10llu %10llu %9.1f\n", r->id, r->rev, r->status, r->category,
               r->matches, r->hits, r->matches ? (double)r->hits / (double)r->matches : 0.0);
    }
    /* revision pairs: the enabled and the shadow revision of one id over
     * the same events (docs/rules.md, "A shadow revision") */
    int header = 0;
    for (size_t i = 0; i < n; i++) {
        const stat_row *e = &rows[i], *sh = NULL;
        if (!e->pair_rev || strcmp(e->status, "enabled") != 0) continue;
        for (size_t k = 0; k < n && !sh; k++)
            if (k != i && rows[k].pair_rev && !strcmp(rows[k].id, e->id) &&
                !strcmp(rows[k].status, "shadow"))
                sh = &rows[k];
        if (!sh) continue;
        if (!header) {
            printf("\nrevision pairs (same events): enabled vs shadow\n");
            printf("%-44s %7s %10s %7s %10s %10s %12s %12s\n", "rule", "enabled", "matches",
                   "shadow", "matches", "both", "only enabled", "only shadow");
            header = 1;
        }
        printf("%-44s %7u %10llu %7u %10llu %10llu %12llu %12llu\n", e->id, e->rev, e->matches,
               sh->rev, sh->matches, e->both, e->only, sh->only);
    }
    free(rows);
    return 0;
}

/* fanzha rules promote ID [--rules DIR] [--dry-run] (promote.h) */
static int rules_promote(int argc, char **argv) {
    const char *id = NULL, *dir = "rules";
    int dry_run = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--rules") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--dry-run"))
            dry_run = 1;
        else if (!id && argv[i][0] != '-')
            id = argv[i];
        else {
            fprintf(stderr, "fanzha rules promote: unexpected argument '%s'\n", argv[i]);
            return rules_usage();
        }
    }
    if (!id) return rules_usage();
    char err[2048];
    if (fz_rules_promote(dir, id, dry_run, fz_rules_cache(NULL), stdout, err, sizeof(err)) != 0) {
        fprintf(stderr, "fanzha rules promote: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_rules(int argc, char **argv) {
    if (argc < 1) return rules_usage();
    if (!strcmp(argv[0], "check")) return rules_check(argc - 1, argv + 1);
    if (!strcmp(argv[0], "test")) return rules_test(argc - 1, argv + 1);
    if (!strcmp(argv[0], "compile")) return rules_compile(argc - 1, argv + 1);
    if (!strcmp(argv[0], "keygen")) return rules_keygen(argc - 1, argv + 1);
    if (!strcmp(argv[0], "profile")) return rules_profile_scan(argc - 1, argv + 1);
    if (!strcmp(argv[0], "stats")) return rules_stats(argc - 1, argv + 1);
    if (!strcmp(argv[0], "diff")) return fz_rules_diff_main(argc - 1, argv + 1);
    if (!strcmp(argv[0], "promote")) return rules_promote(argc - 1, argv + 1);
    return rules_usage();
}

static int cmd_admin(int argc, char **argv) {
    const char *sock = getenv("FANZHA_ADMIN_SOCKET");
    const char *cmd = NULL, *arg = NULL;
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--socket") && i + 1 < argc)
            sock = argv[++i];
        else if (!cmd && argv[i][0] != '-')
            cmd = argv[i];
        else if (cmd && !arg && !strcmp(cmd, "rollback") && argv[i][0] != '-')
            arg = argv[i];
        else
            bad = 1;
    }
    if (bad || !cmd || !sock ||
        (strcmp(cmd, "reload") && strcmp(cmd, "status") && strcmp(cmd, "rule-stats") &&
         strcmp(cmd, "history") && strcmp(cmd, "rollback"))) {
        fprintf(stderr,
                "usage: fanzha admin --socket PATH reload|status|rule-stats|history|rollback "
                "[VERSION]\n"
                "       (or set FANZHA_ADMIN_SOCKET)\n");
        return 2;
    }
    char line[128];
    if (arg && snprintf(line, sizeof(line), "%s %s", cmd, arg) >= (int)sizeof(line)) {
        fprintf(stderr, "fanzha admin: VERSION too long\n");
        return 2;
    }
    int rc = fz_admin_request(sock, arg ? line : cmd, stdout);
    return rc < 0 ? 1 : rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("fanzha %s\nlibrdkafka %s\nhyperscan %s\nxxhash %u\n", FZ_VERSION,
               rd_kafka_version_str(), hs_version(), XXH_versionNumber());
        return 0;
    }
    if (strcmp(cmd, "rules") == 0) return cmd_rules(argc - 2, argv + 2);
    if (strcmp(cmd, "admin") == 0) return cmd_admin(argc - 2, argv + 2);
    if (strcmp(cmd, "model") == 0) return fz_model_cmd(argc - 2, argv + 2);
    unsigned scope;
    if (strcmp(cmd, "run") == 0)
        scope = FZ_SCOPE_RUN;
    else if (strcmp(cmd, "replay") == 0)
        scope = FZ_SCOPE_REPLAY;
    else if (strcmp(cmd, "stats") == 0)
        scope = FZ_SCOPE_STATS;
    else {
        fprintf(stderr, "fanzha: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return 2;
    }
    fz_config cfg;
    char err[1024];
    fz_config_init(&cfg);
    int rc = fz_config_parse_args(&cfg, scope, cmd, argc - 2, argv + 2, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0) fprintf(stderr, "fanzha %s: %s\n", cmd, err);
        fz_config_free(&cfg);
        return rc < 0 ? 2 : 0;
    }
    fz_log_set_level((fz_log_level)fz_log_level_parse(cfg.log_level));
    fz_log_set_format((fz_log_format)fz_log_format_parse(cfg.log_format));
    if (scope & FZ_SCOPE_BOTH) { /* what alerts and dead letters may carry */
        fz_privacy pv;
        if (fz_privacy_from_config(&pv, &cfg, err, sizeof(err)) != 0) {
            fprintf(stderr, "fanzha %s: %s\n", cmd, err);
            fz_config_free(&cfg);
            return 2;
        }
        fz_privacy_set(&pv);
        sodium_memzero(&pv, sizeof(pv));
    }
    if (hs_valid_platform() != HS_SUCCESS) {
        fprintf(stderr, "fanzha: this CPU lacks the instructions Hyperscan needs (SSSE3)\n");
        fz_config_free(&cfg);
        return 1;
    }
    rc = scope == FZ_SCOPE_RUN      ? fz_daemon_main(&cfg)
         : scope == FZ_SCOPE_REPLAY ? fz_replay_main(&cfg)
                                    : fz_stats_main(&cfg);
    fz_config_free(&cfg);
    return rc;
}
