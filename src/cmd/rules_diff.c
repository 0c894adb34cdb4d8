/*
 * rules_diff.c - see rules_diff.h.
 *
 * DESIGN. Both rulesets are loaded as replay loads one (a directory is
 * compiled through the rules cache, a compiled file is loaded), the old
 * one optionally from a git revision (gitrules.h). Events are read line by
 * line from each EVENTS file (or stdin), each line decoded once by a
 * pipeline bound to the old ruleset, matched by it, and matched again by
 * the new ruleset's matcher (fz_pipeline_rematch()); rulesdiff.h compares
 * the two results. Lines longer than max_event_bytes are skipped to their
 * newline without being kept and counted as too_large; invalid events are
 * counted and the first few named, never fatal.
 *
 * The cost of each ruleset is measured apart from the diff: the first
 * valid events (up to --timing-events, at most TIMING_MAX_BYTES) are kept,
 * decoded once more into one arena, and matched by each ruleset in turn,
 * alternating rounds so that a machine busy with something else slows
 * both alike; the fastest round of each is reported. Decoding is outside
 * the timed part: it is the same for both rulesets.
 *
 * Every event goes through diff_event(). From files it comes from
 * next_line(): the next line's bytes and its fz_source. From a Kafka time
 * range (--brokers/--topic/--from-time/--to-time) it comes from
 * fz_kafka_read_range(): no consumer group is joined, each partition is
 * read from the first record stamped --from-time or later to the first
 * stamped --to-time or later (or the log's end as it stood when the read
 * started), in partition order, and each record's value is one event,
 * its source topic[partition]@offset. The report names the partitions and
 * offsets read. One thread (librdkafka's own threads aside).
 */
#define _GNU_SOURCE
#include "rules_diff.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "civil.h"
#include "config.h"
#include "dbcache.h"
#include "diffreport.h"
#include "gitrules.h"
#include "kafka.h"
#include "log.h"
#include "pipeline.h"
#include "privacy.h"
#include "reload.h"
#include "rules.h"
#include "rulesdiff.h"

#define EXAMPLES_MAX 1000
#define TIMING_MAX_BYTES ((size_t)64 << 20)
#define TIMING_TARGET_NS 300000000LL /* per ruleset, all rounds together */
#define TIMING_ROUNDS_MIN 3
#define TIMING_ROUNDS_MAX 30
#define TIMING_ROUND_NS 10000000LL /* at least 10 ms of matching per round */

static int usage(FILE *fp) {
    fprintf(fp,
            "usage: fanzha rules diff OLD NEW EVENTS... [OPTIONS]\n"
            "       fanzha rules diff OLD NEW --brokers B --topic T --from-time T1 [--to-time T2] "
            "[OPTIONS]\n"
            "  OLD, NEW                 rules directories or compiled files (fanzha rules "
            "compile)\n"
            "  EVENTS                   NDJSON event files, '-' for stdin\n"
            "  --brokers B --topic T    instead of EVENTS: the records of topic T (one event "
            "each),\n"
            "                           read without joining a consumer group, partition by "
            "partition\n"
            "  --from-time T1           from each partition's first record stamped T1 or later\n"
            "  --to-time T2             to its first record stamped T2 or later, or its end as "
            "it\n"
            "                           stood when the read started (default: now); times as "
            "RFC 3339\n"
            "                           with an offset (2026-12-07T08:00:00+08:00) or ms since "
            "the epoch\n"
            "  --kafka-timeout S        give up when the read takes longer (default 60; a "
            "transaction\n"
            "                           left open on the topic is waited for)\n"
            "  -X KEY=VALUE             a librdkafka property (TLS, SASL), as fanzha stats takes "
            "it\n"
            "  --config FILE            brokers and kafka:/kafka_consumer: properties from a "
            "config file\n"
            "  --git REV                read OLD (a rules directory in a git work tree) as of "
            "commit REV\n"
            "  --json FILE              the report as JSON ('-': stdout, the text goes to "
            "stderr)\n"
            "  --html FILE              the report as a static HTML page\n"
            "  --examples N             example events per rule, category and kind (default 3, "
            "0-%d)\n"
            "  --fail-on-lost           exit 1 when any event alerts under OLD but not NEW\n"
            "  --max-new-alerts-rate R  exit 1 when gained alerts / valid events > R (0-1)\n"
            "  --no-timing              leave load, compile and matching times out (stable "
            "output)\n"
            "  --timing-events N        valid events kept to time each ruleset (default 20000)\n"
            "  --rules-cache DIR        compiled-database cache (default: as replay; 'off')\n"
            "  --rules-cache-max-mb N   then prune the cache to N MiB, least recently used first "
            "(512)\n"
            "  --max-event-bytes N      longer lines are invalid (too_large; default 65536)\n"
            "  --privacy-numbers keep|mask|hash, --privacy-texts keep|drop,\n"
            "  --privacy-hash-key-file FILE\n"
            "                           numbers and texts in examples, as in alerts\n"
            "Exit status: 0 no gate failed, 1 a gate failed, 2 usage or input error.\n",
            EXAMPLES_MAX);
    return 2;
}

typedef struct diff_opts {
    const char *paths[2]; /* OLD, NEW as given */
    const char **inputs;
    size_t ninputs;
    const char *git_rev;
    const char *json, *html;
    long examples;
    int fail_on_lost;
    double max_new_rate;
    int no_timing;
    long timing_events;
    const char *rules_cache;
    long rules_cache_max_mb;
    long max_event_bytes;
    const char *privacy_numbers, *privacy_texts, *privacy_key;
    /* a Kafka time range instead of EVENTS */
    const char *brokers, *topic, *from_time, *to_time, *config_file;
    const char **xs; /* -X arguments, in order */
    size_t nxs;
    int64_t from_ms, to_ms;
    long kafka_timeout_s;
} diff_opts;

/* n digits at *s into *out; advances *s. */
static int digits(const char **s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9') return -1;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

/*
 * A time as ms since the epoch: all digits (ms since the epoch), or RFC
 * 3339 / ISO 8601 with a UTC offset: YYYY-MM-DDTHH:MM[:SS[.fff...]] then
 * Z or +HH:MM / -HH:MM (T may be a space; fractions past ms are cut).
 */
static int parse_time(const char *opt, const char *v, int64_t *out) {
    const char *s = v;
    size_t n = strlen(v);
    if (n > 0 && n <= 15 && strspn(v, "0123456789") == n) {
        *out = strtoll(v, NULL, 10);
        return 0;
    }
    int y, mo, d, h, mi, sec = 0, oh = 0, om = 0, sign = 0;
    int64_t frac_ms = 0;
    const char *why = "wants RFC 3339 with an offset (2026-12-07T08:00:00+08:00, ...Z) or ms "
                      "since the epoch";
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
        goto bad;
    if (*s != 'T' && *s != 't' && *s != ' ') goto bad;
    s++;
    if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi)) goto bad;
    if (*s == ':') {
        s++;
        if (digits(&s, 2, &sec)) goto bad;
        if (*s == '.' || *s == ',') {
            s++;
            int k = 0;
            for (; *s >= '0' && *s <= '9'; s++, k++)
                if (k < 3) frac_ms = frac_ms * 10 + (*s - '0');
            if (k == 0) goto bad;
            for (; k < 3; k++) frac_ms *= 10;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (digits(&s, 2, &oh)) goto bad;
        if (*s == ':') s++;
        if (digits(&s, 2, &om)) goto bad;
    } else {
        why = "lacks a UTC offset (Z, +08:00, ...): the time it names would depend on the "
              "machine";
        goto bad;
    }
    if (*s) goto bad;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59) {
        why = "is not a valid date and time";
        goto bad;
    }
    if (sec == 60) sec = 59; /* a leap second: Kafka timestamps have none */
    int64_t t = fz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= (int64_t)sign * (oh * 3600 + om * 60);
    *out = t * 1000 + frac_ms;
    if (*out < 0) {
        why = "is before 1970: Kafka timestamps start at the epoch";
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "fanzha rules diff: %s '%s' %s\n", opt, v, why);
    return -1;
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "fanzha rules diff: %s wants an integer from %ld to %ld, not '%s'\n", opt,
                lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_args(int argc, char **argv, diff_opts *o) {
    memset(o, 0, sizeof(*o));
    o->examples = 3;
    o->max_new_rate = -1;
    o->timing_events = 20000;
    o->max_event_bytes = 65536;
    o->rules_cache_max_mb = 512;
    o->privacy_numbers = "keep";
    o->privacy_texts = "keep";
    o->kafka_timeout_s = 60;
    o->inputs = calloc((size_t)argc + 1, sizeof(char *));
    o->xs = calloc((size_t)argc + 1, sizeof(char *));
    if (!o->inputs || !o->xs) return -1;
    size_t npos = 0, nstdin = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE()                                                                                    \
    do {                                                                                           \
        if (!v) {                                                                                  \
            fprintf(stderr, "fanzha rules diff: %s needs a value\n", a);                           \
            return -1;                                                                             \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--git")) {
            VALUE();
            o->git_rev = v;
        } else if (!strcmp(a, "--json")) {
            VALUE();
            o->json = v;
        } else if (!strcmp(a, "--html")) {
            VALUE();
            o->html = v;
        } else if (!strcmp(a, "--examples")) {
            VALUE();
            if (parse_long(a, v, 0, EXAMPLES_MAX, &o->examples)) return -1;
        } else if (!strcmp(a, "--fail-on-lost")) {
            o->fail_on_lost = 1;
        } else if (!strcmp(a, "--max-new-alerts-rate")) {
            VALUE();
            char *end;
            errno = 0;
            double r = strtod(v, &end);
            if (errno || end == v || *end || !isfinite(r) || r < 0 || r > 1) {
                fprintf(stderr,
                        "fanzha rules diff: --max-new-alerts-rate wants a fraction from 0 to 1 "
                        "(gained alerts per valid event), not '%s'\n",
                        v);
                return -1;
            }
            o->max_new_rate = r;
        } else if (!strcmp(a, "--no-timing")) {
            o->no_timing = 1;
        } else if (!strcmp(a, "--timing-events")) {
            VALUE();
            if (parse_long(a, v, 1, 10000000, &o->timing_events)) return -1;
        } else if (!strcmp(a, "--rules-cache")) {
            VALUE();
            o->rules_cache = v;
        } else if (!strcmp(a, "--rules-cache-max-mb")) {
            VALUE();
            if (parse_long(a, v, 1, 1048576, &o->rules_cache_max_mb)) return -1;
        } else if (!strcmp(a, "--max-event-bytes")) {
            VALUE();
            if (parse_long(a, v, 64, 64L << 20, &o->max_event_bytes)) return -1;
        } else if (!strcmp(a, "--privacy-numbers")) {
            VALUE();
            o->privacy_numbers = v;
        } else if (!strcmp(a, "--privacy-texts")) {
            VALUE();
            o->privacy_texts = v;
        } else if (!strcmp(a, "--privacy-hash-key-file")) {
            VALUE();
            o->privacy_key = v;
        } else if (!strcmp(a, "--brokers")) {
            VALUE();
            o->brokers = v;
        } else if (!strcmp(a, "--topic")) {
            VALUE();
            o->topic = v;
        } else if (!strcmp(a, "--from-time")) {
            VALUE();
            o->from_time = v;
            if (parse_time(a, v, &o->from_ms)) return -1;
        } else if (!strcmp(a, "--to-time")) {
            VALUE();
            o->to_time = v;
            if (parse_time(a, v, &o->to_ms)) return -1;
        } else if (!strcmp(a, "--kafka-timeout")) {
            VALUE();
            if (parse_long(a, v, 1, 86400, &o->kafka_timeout_s)) return -1;
        } else if (!strcmp(a, "-X")) {
            VALUE();
            o->xs[o->nxs++] = v;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            VALUE();
            o->config_file = v;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            return 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "fanzha rules diff: unknown option '%s'\n", a);
            return -1;
        } else if (npos < 2) {
            o->paths[npos++] = a;
        } else {
            nstdin += !strcmp(a, "-");
            o->inputs[o->ninputs++] = a;
        }
#undef VALUE
    }
    if (npos < 2) {
        fprintf(stderr, "fanzha rules diff: wants OLD, NEW and the events (EVENTS files, or "
                        "--brokers/--topic/--from-time)\n");
        return -1;
    }
    if (o->topic) {
        if (o->ninputs) {
            fprintf(stderr,
                    "fanzha rules diff: EVENTS files (%s) and --topic: read one or the "
                    "other\n",
                    o->inputs[0]);
            return -1;
        }
        if (!o->topic[0]) {
            fprintf(stderr, "fanzha rules diff: --topic is empty\n");
            return -1;
        }
        if (!o->from_time) {
            fprintf(stderr,
                    "fanzha rules diff: --topic %s needs --from-time (the start of the "
                    "range)\n",
                    o->topic);
            return -1;
        }
        if (!o->brokers && !o->config_file) {
            fprintf(stderr,
                    "fanzha rules diff: --topic %s needs --brokers (or --config with "
                    "brokers:)\n",
                    o->topic);
            return -1;
        }
        if (!o->to_time) { /* now */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            o->to_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        }
        if (o->from_ms > o->to_ms) {
            fprintf(stderr, "fanzha rules diff: --from-time %s is after --to-time %s\n",
                    o->from_time, o->to_time ? o->to_time : "(now)");
            return -1;
        }
    } else {
        const char *kopt = o->brokers       ? "--brokers"
                           : o->from_time   ? "--from-time"
                           : o->to_time     ? "--to-time"
                           : o->nxs         ? "-X"
                           : o->config_file ? "--config"
                                            : NULL;
        if (kopt) {
            fprintf(stderr, "fanzha rules diff: %s is for a Kafka time range: give --topic\n",
                    kopt);
            return -1;
        }
        if (o->ninputs == 0) {
            fprintf(
                stderr,
                "fanzha rules diff: wants OLD, NEW and at least one EVENTS file (or --topic)\n");
            return -1;
        }
    }
    if (nstdin > 1) {
        fprintf(stderr, "fanzha rules diff: '-' (stdin) given more than once\n");
        return -1;
    }
    if ((o->json && !strcmp(o->json, "-")) && (o->html && !strcmp(o->html, "-"))) {
        fprintf(stderr, "fanzha rules diff: --json and --html cannot both be '-'\n");
        return -1;
    }
    return 0;
}

/* Print the errors of diags (warnings counted), file names under root
 * shown as display. */
static void print_diags(const fz_rule_diags *d, const char *root, const char *display) {
    size_t warnings = 0, rl = root ? strlen(root) : 0;
    for (size_t i = 0; i < d->n; i++) {
        const fz_rule_diag *g = &d->v[i];
        if (g->warning) {
            warnings++;
            continue;
        }
        const char *f = g->file ? g->file : "";
        char name[4608];
        if (rl && !strncmp(f, root, rl) && (f[rl] == '/' || f[rl] == '\0'))
            snprintf(name, sizeof(name), "%s%s", display, f + rl);
        else
            snprintf(name, sizeof(name), "%s", f);
        if (g->line)
            fprintf(stderr, "%s:%u: error: %s\n", name, g->line, g->msg);
        else
            fprintf(stderr, "%s: error: %s\n", name, g->msg);
    }
    if (warnings)
        fprintf(stderr, "(%zu warning(s) not shown: 'fanzha rules check' lists them)\n", warnings);
}

/* Load one side: a directory (compiled through the cache) or a compiled
 * file. root/display rename the files of a git export in messages. */
static fz_ruleset *load_side(const char *what, const char *path, const char *display,
                             const char *root, fz_dbcache *cache, double *secs) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fanzha rules diff: %s %s: %s\n", what, display, strerror(errno));
        return NULL;
    }
    fz_rule_diags diags = {0};
    fz_ruleset *rs;
    int64_t t0 = fz_mono_ns();
    if (S_ISDIR(st.st_mode)) {
        fz_rules_opts o = {.compile = 1, .cache = cache};
        rs = fz_ruleset_load(path, &o, &diags);
    } else if (S_ISREG(st.st_mode)) {
        rs = fz_ruleset_load_compiled(path, NULL, NULL, &diags);
    } else {
        fprintf(stderr, "fanzha rules diff: %s %s: not a directory or a file\n", what, display);
        return NULL;
    }
    *secs = (double)(fz_mono_ns() - t0) / 1e9;
    print_diags(&diags, root, display);
    if (!rs)
        fprintf(stderr, "fanzha rules diff: %s rules %s: %zu error(s); nothing compared\n", what,
                display, diags.errors);
    fz_rule_diags_free(&diags);
    return rs;
}

/* ---- reading events ---- */

typedef struct reader {
    const char *const *names;
    size_t n, next;
    FILE *in;
    const char *name;
    uint64_t lineno;
    char *buf;
    size_t cap; /* max_event_bytes + 2: a line, its \r and a NUL; longer ones are not kept */
} reader;

enum { LINE_OK = 0, LINE_TOO_LONG = 1, LINE_EOF = 2, LINE_ERROR = -1 };

/* The next non-blank line: *msg (in r->buf, valid until the next call)
 * and *len bytes without its line end, *src where it is. LINE_TOO_LONG:
 * skipped to its newline, not kept; *len is its length. */
static int next_line(reader *r, const char **msg, size_t *len, fz_source *src) {
    for (;;) {
        if (!r->in) {
            if (r->next == r->n) return LINE_EOF;
            r->name = r->names[r->next++];
            r->in = strcmp(r->name, "-") == 0 ? stdin : fopen(r->name, "rb");
            r->lineno = 0;
            if (!r->in) {
                fprintf(stderr, "fanzha rules diff: EVENTS %s: cannot open: %s\n", r->name,
                        strerror(errno));
                return LINE_ERROR;
            }
        }
        /* byte by byte, so that a NUL inside a line stays part of it (the
         * decoder rejects it, as replay's does) */
        size_t n = 0, total = 0;
        int c = EOF, any = 0;
        while ((c = getc_unlocked(r->in)) != EOF) {
            any = 1;
            if (c == '\n') break;
            if (n < r->cap) r->buf[n++] = (char)c;
            total++;
        }
        if (c == EOF && ferror(r->in)) {
            fprintf(stderr, "fanzha rules diff: EVENTS %s: read error after line %llu: %s\n",
                    r->name, (unsigned long long)r->lineno, strerror(errno));
            return LINE_ERROR;
        }
        if (!any) { /* end of this input */
            if (r->in != stdin) fclose(r->in);
            r->in = NULL;
            continue;
        }
        r->lineno++;
        *src = (fz_source){.file = r->name, .line = r->lineno};
        *msg = r->buf;
        if (total > r->cap - 1) { /* longer than max_event_bytes and a \r: not kept */
            *len = total;
            return LINE_TOO_LONG;
        }
        if (n && r->buf[n - 1] == '\r') n--;
        if (n == 0) continue;
        r->buf[n] = '\0';
        *len = n;
        return LINE_OK;
    }
}

/* ---- timing ---- */

typedef struct timing {
    char *bytes; /* kept lines, back to back */
    size_t len, cap;
    size_t *off, *lens;
    size_t n, max;
} timing;

static void timing_keep(timing *t, const char *line, size_t len) {
    if (t->n == t->max || t->len + len > TIMING_MAX_BYTES) return;
    if (t->len + len > t->cap) {
        size_t cap = t->cap ? t->cap : (1u << 20);
        while (cap < t->len + len) cap *= 2;
        char *nb = realloc(t->bytes, cap);
        if (!nb) {
            t->max = t->n; /* keep what fits */
            return;
        }
        t->bytes = nb;
        t->cap = cap;
    }
    memcpy(t->bytes + t->len, line, len);
    t->off[t->n] = t->len;
    t->lens[t->n] = len;
    t->len += len;
    t->n++;
}

/* Time matching of the kept events with each matcher; fills side[]. */
static int timing_run(timing *t, fz_matcher *m[2], size_t max_event_bytes, fz_diff_report *rep,
                      char *err, size_t errlen) {
    if (t->n == 0) return 0;
    fz_pipeline *p = fz_pipeline_new(max_event_bytes, t->len + max_event_bytes, err, errlen);
    fz_result *r = malloc(sizeof(*r));
    fz_event *ev = malloc(t->n * sizeof(*ev));
    if (!p || !r || !ev) {
        if (p) snprintf(err, errlen, "out of memory timing the rulesets");
        fz_pipeline_destroy(p);
        free(r);
        free(ev);
        return -1;
    }
    /* decode every kept line once, into one arena that is never reset */
    if (fz_pipeline_bind(p, fz_matcher_ruleset(m[0]), err, errlen) != 0) {
        fz_pipeline_destroy(p);
        free(r);
        free(ev);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        fz_pipeline_scan(p, t->bytes + t->off[i], t->lens[i], r);
        if (r->verdict != FZ_VERDICT_INVALID) ev[n++] = r->ev;
    }
    /* a round matches every event reps times: at least TIMING_ROUND_NS of work, so that
     * a small input is still measured over many matches */
    size_t reps = 1;
    for (int s = 0; s < 2 && n > 0; s++) {
        int64_t t0 = fz_mono_ns();
        for (size_t i = 0; i < n; i++) {
            r->ev = ev[i];
            fz_pipeline_rematch(p, m[s], r);
        }
        int64_t dt = fz_mono_ns() - t0;
        size_t want = dt > 0 ? (size_t)(TIMING_ROUND_NS / dt) + 1 : 1000;
        if (want > reps) reps = want;
    }
    if (reps > 100000) reps = 100000;
    int64_t best[2] = {INT64_MAX, INT64_MAX}, spent[2] = {0, 0};
    int rounds = 0;
    for (; rounds < TIMING_ROUNDS_MAX && n > 0; rounds++) {
        if (rounds >= TIMING_ROUNDS_MIN && spent[0] >= TIMING_TARGET_NS &&
            spent[1] >= TIMING_TARGET_NS)
            break;
        for (int s = 0; s < 2; s++) {
            int64_t t0 = fz_mono_ns();
            for (size_t k = 0; k < reps; k++)
                for (size_t i = 0; i < n; i++) {
                    r->ev = ev[i];
                    fz_pipeline_rematch(p, m[s], r);
                }
            int64_t dt = fz_mono_ns() - t0;
            spent[s] += dt;
            if (dt < best[s]) best[s] = dt;
        }
    }
    for (int s = 0; s < 2 && n > 0; s++) {
        fz_diff_side *sd = &rep->side[s];
        double secs = (double)(best[s] > 0 ? best[s] : 1) / 1e9;
        double matched = (double)n * (double)reps;
        sd->timed = 1;
        sd->match_s = secs;
        sd->events_per_s = matched / secs;
        sd->us_per_event = secs * 1e6 / matched;
    }
    rep->repeats = reps;
    rep->timed_events = n;
    rep->rounds = rounds;
    fz_pipeline_destroy(p);
    free(r);
    free(ev);
    return 0;
}

/* ---- one event, from any source ---- */

typedef struct diff_sink {
    fz_pipeline *p; /* bound to OLD */
    fz_matcher *mnew;
    fz_rulesdiff *d;
    fz_result *ra, *rb;
    timing *tm;
    size_t meb; /* --max-event-bytes */
    char *buf;  /* Kafka: a record's value copied and NUL-terminated, meb + 2 bytes */
    int oom;    /* set when the diff could not keep an example */
} diff_sink;

/* Decode msg[0..len) once, match it with OLD and NEW, count it. 0, or -1
 * when out of memory. */
static int diff_event(diff_sink *k, const char *msg, size_t len, const fz_source *src) {
    fz_pipeline_reset_arena(k->p);
    fz_pipeline_scan(k->p, msg, len, k->ra); /* decode once, match with OLD */
    *k->rb = *k->ra;
    if (k->ra->verdict != FZ_VERDICT_INVALID) {
        fz_pipeline_rematch(k->p, k->mnew, k->rb); /* the same decoded event with NEW */
        if (k->rb->verdict != FZ_VERDICT_INVALID) timing_keep(k->tm, msg, len);
    }
    return fz_rulesdiff_add(k->d, k->ra, k->rb, src);
}

/* fz_kafka_record_fn: one record's value is one event. */
static int on_record(void *ctx, const rd_kafka_message_t *m) {
    diff_sink *k = ctx;
    const char *topic = rd_kafka_topic_name(m->rkt);
    fz_source src = {.topic = topic, .partition = m->partition, .offset = m->offset};
    if (m->len > k->meb) {
        char detail[96];
        snprintf(detail, sizeof(detail), "record of %zu bytes, more than --max-event-bytes %zu",
                 m->len, k->meb);
        fz_rulesdiff_add_unread(k->d, &src, detail);
        return 0;
    }
    /* the decoder reads a NUL-terminated copy, as it reads a file's line */
    if (m->len) memcpy(k->buf, m->payload, m->len);
    k->buf[m->len] = '\0';
    if (diff_event(k, k->buf, m->len, &src) != 0) {
        k->oom = 1;
        return 1; /* stops the read */
    }
    return 0;
}

static _Atomic int g_interrupted; /* set by SIGINT/SIGTERM during a Kafka read */

static void on_interrupt(int sig) {
    (void)sig;
    atomic_store(&g_interrupted, 1);
}

static const char *stop_name(fz_span_stop s) {
    return s == FZ_SPAN_TIME ? "time" : s == FZ_SPAN_END ? "end" : "empty";
}

/* Read the Kafka time range of o into k; *kr describes it, with *spans
 * and *parts (the caller frees them) and brokers (the caller's buffer,
 * brokers_size bytes). 0, or -1 (reported: exit 2). */
static int read_kafka(const diff_opts *o, diff_sink *k, fz_diff_kafka *kr, fz_kafka_span **spans,
                      fz_diff_partition **parts, char *brokers, size_t brokers_size) {
    fz_config kc;
    char err[1024];
    int rc = -1;
    fz_config_init(&kc);
    /* run's scope too: its kafka_consumer: properties read the input topics */
    if (o->config_file && fz_config_load_file(&kc, o->config_file, FZ_SCOPE_RUN | FZ_SCOPE_STATS,
                                              err, sizeof(err)) != 0) {
        fprintf(stderr, "fanzha rules diff: --config %s\n", err);
        goto out;
    }
    if (o->brokers) {
        free(kc.brokers);
        kc.brokers = strdup(o->brokers);
        if (!kc.brokers) {
            fprintf(stderr, "fanzha rules diff: out of memory\n");
            goto out;
        }
    }
    for (size_t i = 0; i < o->nxs; i++)
        if (fz_config_set_x(&kc, o->xs[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "fanzha rules diff: %s\n", err);
            goto out;
        }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int nspans = 0;
    int r = fz_kafka_read_range(&kc, o->topic, o->from_ms, o->to_ms, "fanzha-rules-diff",
                                (int64_t)o->kafka_timeout_s * 1000, &g_interrupted, on_record, k,
                                spans, &nspans, err, sizeof(err));
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (k->oom) {
        fprintf(stderr, "fanzha rules diff: out of memory keeping examples (lower --examples)\n");
        goto out;
    }
    if (r < 0) {
        fprintf(stderr, "fanzha rules diff: --brokers %s --topic %s: %s\n", kc.brokers, o->topic,
                err);
        goto out;
    }
    if (r > 0) {
        fprintf(stderr,
                "fanzha rules diff: --topic %s: %s; nothing compared (--kafka-timeout %ld s "
                "bounds the read)\n",
                o->topic, err, o->kafka_timeout_s);
        goto out;
    }
    *parts = calloc((size_t)nspans + 1, sizeof(**parts));
    if (!*parts) goto out;
    for (int i = 0; i < nspans; i++) {
        const fz_kafka_span *sp = &(*spans)[i];
        (*parts)[i] = (fz_diff_partition){.partition = sp->partition,
                                          .start = sp->start,
                                          .end = sp->end,
                                          .log_end = sp->log_end,
                                          .records = sp->records,
                                          .stopped_by = stop_name(sp->stopped_by)};
    }
    *kr = (fz_diff_kafka){.topic = o->topic,
                          .from_ms = o->from_ms,
                          .to_ms = o->to_ms,
                          .parts = *parts,
                          .nparts = (size_t)nspans};
    rc = 0;
out:
    if (rc == 0) { /* --brokers, or the config file's: named in the report */
        snprintf(brokers, brokers_size, "%s", kc.brokers ? kc.brokers : "");
        kr->brokers = brokers;
    }
    fz_config_free(&kc);
    return rc;
}

/* Write one report file ('-': stdout). Returns 0 or -1 (reported). */
static int write_report(const char *path, const char *what, const fz_diff_report *rep,
                        int (*fn)(const fz_diff_report *, FILE *)) {
    FILE *fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, "fanzha rules diff: %s %s: cannot open for writing: %s\n", what, path,
                strerror(errno));
        return -1;
    }
    int rc = fn(rep, fp);
    if (fp != stdout && fclose(fp) != 0) rc = -1;
    if (rc != 0)
        fprintf(stderr, "fanzha rules diff: %s %s: write error: %s\n", what, path, strerror(errno));
    return rc;
}

int fz_rules_diff_main(int argc, char **argv) {
    diff_opts o;
    int rc = 2;
    char err[1024], gitdir[4096] = "", gitname[4200] = "";
    fz_ruleset *rs[2] = {NULL, NULL};
    fz_pipeline *p = NULL;
    fz_matcher *mnew = NULL;
    fz_rulesdiff *d = NULL;
    fz_result *ra = NULL, *rb = NULL;
    timing tm;
    memset(&tm, 0, sizeof(tm));
    reader rd;
    memset(&rd, 0, sizeof(rd));
    fz_privacy pv;
    memset(&pv, 0, sizeof(pv));
    fz_diff_report rep;
    memset(&rep, 0, sizeof(rep));
    fz_diff_kafka kafka;
    memset(&kafka, 0, sizeof(kafka));
    fz_kafka_span *spans = NULL;
    fz_diff_partition *kparts = NULL;
    char kbrokers[1024];

    int pa = parse_args(argc, argv, &o);
    if (pa != 0) {
        usage(pa > 0 ? stdout : stderr);
        rc = pa > 0 ? 0 : 2;
        goto out;
    }
    fz_config pc; /* only the privacy options are read */
    memset(&pc, 0, sizeof(pc));
    pc.privacy_numbers = (char *)o.privacy_numbers;
    pc.privacy_texts = (char *)o.privacy_texts;
    pc.privacy_hash_key_file = (char *)o.privacy_key;
    if (fz_privacy_from_config(&pv, &pc, err, sizeof(err)) != 0) {
        /* the message names the config option; say which flag it is here */
        fprintf(stderr, "fanzha rules diff: --privacy-*: %s\n", err);
        goto out;
    }

    const char *names[2] = {o.paths[0], o.paths[1]};
    const char *load_path[2] = {o.paths[0], o.paths[1]};
    if (o.git_rev) {
        if (fz_gitrules_export(o.paths[0], o.git_rev, gitdir, sizeof(gitdir), gitname,
                               sizeof(gitname), err, sizeof(err)) != 0) {
            fprintf(stderr, "fanzha rules diff: %s\n", err);
            goto out;
        }
        names[0] = gitname;
        load_path[0] = gitdir;
    }
    fz_dbcache *cache = fz_rules_cache(o.rules_cache);
    const char *what[2] = {"OLD", "NEW"};
    for (int s = 0; s < 2; s++) {
        rs[s] = load_side(what[s], load_path[s], names[s], s == 0 && gitdir[0] ? gitdir : NULL,
                          cache, &rep.side[s].load_s);
        if (!rs[s]) goto out;
        rep.side[s].source = names[s];
        if (s == 0 && gitdir[0]) {
            rep.side[s].root = gitdir;
            rep.side[s].root_display = gitname;
        }
        rep.side[s].rs = rs[s];
    }

    /* as replay does after a load; both rulesets' databases were just used */
    if (cache && fz_dbcache_prune(cache, (uint64_t)o.rules_cache_max_mb << 20) < 0)
        fprintf(stderr, "fanzha rules diff: warning: pruning the rules cache failed\n");

    size_t meb = (size_t)o.max_event_bytes;
    p = fz_pipeline_new(meb, meb, err, sizeof(err));
    if (!p || fz_pipeline_bind(p, rs[0], err, sizeof(err)) != 0 ||
        !(mnew = fz_matcher_new(rs[1], err, sizeof(err))))
        goto out_err;
    fz_diff_opts dop = {.examples = (size_t)o.examples, .privacy = &pv};
    if (!(d = fz_rulesdiff_new(rs[0], rs[1], &dop, err, sizeof(err)))) goto out_err;
    ra = malloc(sizeof(*ra));
    rb = malloc(sizeof(*rb));
    rd.names = o.inputs;
    rd.n = o.ninputs;
    rd.cap = meb + 2;
    rd.buf = malloc(rd.cap);
    tm.max = o.no_timing ? 0 : (size_t)o.timing_events;
    tm.off = malloc((tm.max ? tm.max : 1) * sizeof(size_t));
    tm.lens = malloc((tm.max ? tm.max : 1) * sizeof(size_t));
    if (!ra || !rb || !rd.buf || !tm.off || !tm.lens) {
        snprintf(err, sizeof(err), "out of memory");
        goto out_err;
    }

    diff_sink sink = {
        .p = p, .mnew = mnew, .d = d, .ra = ra, .rb = rb, .tm = &tm, .meb = meb, .buf = rd.buf};
    if (o.topic) {
        if (read_kafka(&o, &sink, &kafka, &spans, &kparts, kbrokers, sizeof(kbrokers)) != 0)
            goto out;
        rep.kafka = &kafka;
    }
    while (!o.topic) {
        const char *msg;
        size_t len;
        fz_source src;
        int k = next_line(&rd, &msg, &len, &src);
        if (k == LINE_EOF) break;
        if (k == LINE_ERROR) goto out;
        if (k == LINE_TOO_LONG) {
            char detail[96];
            snprintf(detail, sizeof(detail), "line of %zu bytes, more than --max-event-bytes %zu",
                     len, meb);
            fz_rulesdiff_add_unread(d, &src, detail);
            continue;
        }
        if (diff_event(&sink, msg, len, &src) != 0) {
            snprintf(err, sizeof(err), "out of memory keeping examples (lower --examples)");
            goto out_err;
        }
    }

    rep.diff = d;
    rep.inputs = o.inputs;
    rep.ninputs = o.ninputs;
    rep.timed = !o.no_timing;
    rep.gates.fail_on_lost = o.fail_on_lost;
    rep.gates.max_new_rate = o.max_new_rate;
    if (rep.timed) {
        fz_matcher *ms[2] = {fz_pipeline_matcher(p), mnew};
        if (timing_run(&tm, ms, meb, &rep, err, sizeof(err)) != 0) goto out_err;
    }
    int failed = fz_diffreport_gates(&rep);
    int to_stdout = (o.json && !strcmp(o.json, "-")) || (o.html && !strcmp(o.html, "-"));
    if (fz_diffreport_text(&rep, to_stdout ? stderr : stdout) != 0) {
        fprintf(stderr, "fanzha rules diff: writing the report: %s\n", strerror(errno));
        goto out;
    }
    if (o.json && write_report(o.json, "--json", &rep, fz_diffreport_json) != 0) goto out;
    if (o.html && write_report(o.html, "--html", &rep, fz_diffreport_html) != 0) goto out;
    rc = failed ? 1 : 0;
    goto out;

out_err:
    fprintf(stderr, "fanzha rules diff: %s\n", err);
out:
    if (rd.in && rd.in != stdin) fclose(rd.in);
    free(rd.buf);
    free(tm.bytes);
    free(tm.off);
    free(tm.lens);
    free(ra);
    free(rb);
    fz_rulesdiff_destroy(d);
    fz_matcher_destroy(mnew);
    fz_pipeline_destroy(p);
    fz_ruleset_unref(rs[0]);
    fz_ruleset_unref(rs[1]);
    fz_gitrules_remove(gitdir);
    free(o.inputs);
    free(o.xs);
    free(spans);
    free(kparts);
    explicit_bzero(&pv, sizeof(pv)); /* the hash key, if any */
    return rc;
}
