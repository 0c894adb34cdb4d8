/*
 * stats.c - see stats.h.
 *
 * Workload: thousands to a few hundred thousand records (partitions x
 * windows, each re-written at every checkpoint while its window is open),
 * read once. The latest record per key lives in an open-addressing table
 * keyed by XXH3 of "group|topic|partition|stage|lineage|window|segment"
 * (what the record's Kafka key says, read from its body), stored compactly
 * (only the rows it has); the book sums them at the end.
 */
#define _GNU_SOURCE
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fs.h"
#include "kafka.h"
#include "ledger.h"
#include "log.h"
#include "report.h"

typedef struct entry {
    char *key;            /* NULL = empty slot */
    uint64_t source_hash; /* of group|topic|partition */
    fz_ledger_window *w;  /* header + w->nrows rows */
} entry;

typedef struct stats {
    const fz_config *cfg;
    fz_period_spec spec; /* with --period or --report */
    int periods;         /* --period given: the table and stats_output show periods */
    entry *slot;
    size_t cap, n;
    int64_t window_ms; /* of the first record; others must agree */
    uint64_t read, skipped, replaced;
    fz_ledger_record rec; /* scratch */
    char where[300];      /* input being read, for messages */
    const char *path;     /* the file being read ("stdin" for -) */
} stats;

static size_t window_bytes(uint32_t nrows) {
    return offsetof(fz_ledger_window, rows) + (size_t)nrows * sizeof(fz_ledger_row);
}

static int grow(stats *s) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    entry *ns = calloc(cap, sizeof(*ns));
    if (!ns) return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i].key) continue;
        size_t j = XXH3_64bits(s->slot[i].key, strlen(s->slot[i].key)) & (cap - 1);
        while (ns[j].key) j = (j + 1) & (cap - 1);
        ns[j] = s->slot[i];
    }
    free(s->slot);
    s->slot = ns;
    s->cap = cap;
    return 0;
}

static void skip(stats *s, const char *why) {
    if (s->skipped++ < 10) fz_warn("%s: record skipped: %s", s->where, why);
}

/* Keep rec as the latest record of its key. */
static int keep(stats *s, const fz_ledger_record *rec) {
    if (s->window_ms == 0) s->window_ms = rec->window_ms;
    if (rec->window_ms != s->window_ms) {
        char why[128];
        snprintf(why, sizeof(why), "%lld ms window, the records before it have %lld ms",
                 (long long)rec->window_ms, (long long)s->window_ms);
        skip(s, why);
        return 0;
    }
    char key[800];
    /* the source, then the window: the source's hash counts partitions */
    int sn = snprintf(key, sizeof(key), "%s|%s|%d", rec->group, rec->topic, rec->partition);
    if (sn < 0 || (size_t)sn >= sizeof(key) - 120) return -1;
    /* then what tells records of one partition apart: the stage, the
     * lineage (a new one after a recreated topic), the window and its
     * segment (a decide task's window reopened by a late route record) */
    int kn = sn + snprintf(key + sn, sizeof(key) - (size_t)sn, "|%s|%s|%lld|%lld", rec->stage,
                           rec->lineage, (long long)rec->w.start_ms, (long long)rec->w.segment);
    if ((s->n + 1) * 2 > s->cap && grow(s)) return -1;
    size_t j = XXH3_64bits(key, (size_t)kn) & (s->cap - 1);
    while (s->slot[j].key && strcmp(s->slot[j].key, key) != 0) j = (j + 1) & (s->cap - 1);
    entry *e = &s->slot[j];
    fz_ledger_window *w = malloc(window_bytes(rec->w.nrows));
    if (!w) return -1;
    memcpy(w, &rec->w, window_bytes(rec->w.nrows));
    if (e->key) {
        free(e->w);
        s->replaced++;
    } else {
        if (!(e->key = strdup(key))) {
            free(w);
            return -1;
        }
        e->source_hash = XXH3_64bits(key, (size_t)sn);
        s->n++;
    }
    e->w = w;
    return 0;
}

/* One record's bytes; -1 only when out of memory. */
static int take(stats *s, const char *p, size_t n) {
    char err[256];
    s->read++;
    if (fz_ledger_record_decode(p, n, &s->rec, err, sizeof(err)) != 0) {
        skip(s, err);
        return 0;
    }
    return keep(s, &s->rec);
}

static int on_record(void *ctx, const rd_kafka_message_t *m) {
    stats *s = ctx;
    snprintf(s->where, sizeof(s->where), "%s[%d] offset %lld", s->cfg->stats_topic, m->partition,
             (long long)m->offset);
    if (!m->payload || m->len == 0) return 0; /* a tombstone */
    return take(s, m->payload, m->len) ? 1 : 0;
}

static int stats_line(void *ctx, char *line, size_t n, size_t lineno) {
    stats *s = ctx;
    snprintf(s->where, sizeof(s->where), "%s:%zu", s->path, lineno);
    return take(s, line, n) ? 1 : 0;
}

static int read_file(stats *s, const char *path) {
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!fp) {
        fz_error("%s: %s", path, strerror(errno));
        return -1;
    }
    s->path = strcmp(path, "-") ? path : "stdin";
    int rc = fz_each_line(fp, stats_line, s);
    if (rc < 0)
        fz_error("%s: read error: %s", path, strerror(errno));
    else if (rc)
        fz_error("out of memory");
    if (fp != stdin) fclose(fp);
    return rc ? -1 : 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct alerts_read {
    fz_report_alerts *alerts;
    const char *topic;
    uint64_t skipped;
} alerts_read;

static int on_alert_record(void *ctx, const rd_kafka_message_t *m) {
    alerts_read *ar = ctx;
    char why[256];
    if (!m->payload || m->len == 0) return 0;
    if (fz_report_alerts_add(ar->alerts, m->payload, m->len, why, sizeof(why)) != 0 &&
        ar->skipped++ < 10)
        fz_warn("--report-alerts-topic %s[%d] offset %lld: record skipped: %s", ar->topic,
                m->partition, (long long)m->offset, why);
    return 0;
}

/* The report page: the alert records of its period from --alerts files
 * and --report-alerts-topic, then the page. */
static int write_report(stats *s, const fz_ledger_periods *periods) {
    const fz_config *cfg = s->cfg;
    const fz_ledger_period *p = fz_report_period(periods);
    fz_report_alerts *alerts = NULL;
    char err[512];
    int rc = 0;
    const char *topic =
        cfg->report_alerts_topic && *cfg->report_alerts_topic ? cfg->report_alerts_topic : NULL;
    if (p && (cfg->n_alerts || topic)) {
        if (!(alerts = fz_report_alerts_new(p->start_ms, p->end_ms))) {
            fz_error("out of memory");
            return -1;
        }
        for (size_t i = 0; rc == 0 && i < cfg->n_alerts; i++)
            if (fz_report_alerts_read_file(alerts, cfg->alerts[i], err, sizeof(err)) != 0) {
                fz_error("--alerts %s", err);
                rc = -1;
            }
        if (rc == 0 && topic) {
            alerts_read ar = {alerts, topic, 0};
            int r = fz_kafka_read_topic(cfg, topic, "fanzha-stats", 60000, NULL, on_alert_record,
                                        &ar, err, sizeof(err));
            if (r < 0) {
                fz_error("--report-alerts-topic %s: %s", topic, err);
                rc = -1;
            } else if (r > 0) {
                fz_warn("--report-alerts-topic %s: %s: the campaign and rule tables are "
                        "incomplete",
                        topic, err);
            }
            if (ar.skipped)
                fz_warn("--report-alerts-topic %s: %llu record(s) skipped", topic,
                        (unsigned long long)ar.skipped);
        }
    }
    if (rc == 0) {
        fz_report_options ro = {
            .lang = strcmp(cfg->lang, "en") == 0 ? FZ_REPORT_EN : FZ_REPORT_ZH,
        };
        if (fz_report_write(cfg->report, periods, &ro, alerts, err, sizeof(err)) != 0) {
            fz_error("--report %s: %s", cfg->report, err);
            rc = -1;
        } else {
            fprintf(stderr, "fanzha stats: report written to %s\n", cfg->report);
        }
    }
    fz_report_alerts_destroy(alerts);
    return rc;
}

/* Sum the current records per window into a book, print, write. */
static int report(stats *s) {
    const fz_config *cfg = s->cfg;
    fz_ledger_book *book =
        fz_ledger_book_new(s->window_ms ? s->window_ms : 60000, cfg->ledger_period_ms);
    uint64_t *src = calloc(s->n + 1, sizeof(uint64_t));
    fz_ledger_periods *periods = NULL;
    size_t nsrc = 0, interim = 0;
    int rc = book && src ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < s->cap; i++) {
        const entry *e = &s->slot[i];
        if (!e->key) continue;
        fz_ledger_window w;
        memcpy(&w, e->w, window_bytes(e->w->nrows));
        interim += w.interim != 0;
        src[nsrc++] = e->source_hash;
        if (fz_ledger_book_add(book, &w)) rc = -1;
    }
    if (rc) {
        fz_error("out of memory");
        goto out;
    }
    qsort(src, nsrc, sizeof(uint64_t), cmp_u64);
    size_t sources = 0;
    for (size_t i = 0; i < nsrc; i++) sources += i == 0 || src[i] != src[i - 1];
    fprintf(stderr,
            "fanzha stats: %llu record(s) read, %zu current (%zu source partition(s), %zu "
            "window(s), %zu record(s) of windows still open), %llu superseded, %llu skipped\n",
            (unsigned long long)s->read, s->n, sources, fz_ledger_book_count(book), interim,
            (unsigned long long)s->replaced, (unsigned long long)s->skipped);
    if (s->periods || cfg->report) {
        char err[512];
        if (!(periods = fz_ledger_periods_new(book, &s->spec, err, sizeof(err)))) {
            fz_error("--period %s: %s", fz_period_unit_name(s->spec.unit), err);
            rc = -1;
            goto out;
        }
    }
    if (s->periods)
        fz_ledger_periods_print(periods, stdout);
    else
        fz_ledger_book_print(book, (size_t)cfg->stats_windows, stdout);
    if (cfg->stats_output) {
        FILE *fp = strcmp(cfg->stats_output, "-") == 0 ? stdout : fopen(cfg->stats_output, "wb");
        if (!fp || (s->periods ? fz_ledger_periods_write(periods, fp)
                               : fz_ledger_book_write(book, fp)) != 0) {
            fz_error("--stats-output %s: %s", cfg->stats_output, strerror(errno));
            rc = -1;
        }
        if (fp && fp != stdout && fclose(fp) != 0) {
            fz_error("--stats-output %s: %s", cfg->stats_output, strerror(errno));
            rc = -1;
        }
    }
    if (rc == 0 && cfg->report) rc = write_report(s, periods);
out:
    free(src);
    fz_ledger_periods_destroy(periods);
    fz_ledger_book_destroy(book);
    return rc;
}

/* The period options (--period, --period-span, --from, --to, --utc-offset,
 * --lang) into s->spec; -1 with an error naming the option. */
static int period_options(stats *s) {
    const fz_config *cfg = s->cfg;
    s->periods = cfg->period != NULL;
    if (strcmp(cfg->lang, "zh") != 0 && strcmp(cfg->lang, "en") != 0) {
        fz_error("--lang %s: expected zh or en", cfg->lang);
        return -1;
    }
    s->spec.unit = FZ_PERIOD_WEEK;
    if (cfg->period && fz_period_unit_parse(cfg->period, &s->spec.unit) != 0) {
        fz_error("--period %s: expected day, week or month", cfg->period);
        return -1;
    }
    const char *tz = cfg->utc_offset                ? cfg->utc_offset
                     : strcmp(cfg->lang, "zh") == 0 ? "+08:00"
                                                    : "+00:00";
    if (fz_utc_offset_parse(tz, &s->spec.utc_offset_s) != 0) {
        fz_error("--utc-offset %s: expected an offset such as +08:00 or -05:00 (at most 14 h)", tz);
        return -1;
    }
    s->spec.span = cfg->period_span;
    s->spec.from_ms = INT64_MIN;
    s->spec.to_ms = INT64_MAX;
    if (cfg->from && fz_local_date_parse(cfg->from, s->spec.utc_offset_s, &s->spec.from_ms)) {
        fz_error("--from %s: expected a date YYYY-MM-DD", cfg->from);
        return -1;
    }
    if (cfg->to) {
        if (fz_local_date_parse(cfg->to, s->spec.utc_offset_s, &s->spec.to_ms)) {
            fz_error("--to %s: expected a date YYYY-MM-DD", cfg->to);
            return -1;
        }
        s->spec.to_ms += 86400000; /* the last day is included */
    }
    if (s->spec.from_ms != INT64_MIN && s->spec.to_ms != INT64_MAX &&
        s->spec.from_ms >= s->spec.to_ms) {
        fz_error("--from %s is after --to %s", cfg->from, cfg->to);
        return -1;
    }
    return 0;
}

int fz_stats_main(const fz_config *cfg) {
    stats s = {.cfg = cfg};
    int rc = 0;
    if (period_options(&s) != 0) return 2;
    if (cfg->n_inputs) {
        for (size_t i = 0; rc == 0 && i < cfg->n_inputs; i++) rc = read_file(&s, cfg->inputs[i]);
    } else {
        char err[512];
        if (!cfg->stats_topic || !*cfg->stats_topic) {
            fz_error("no input: name files of statistics records, or a stats_topic to read");
            return 2;
        }
        int r = fz_kafka_read_topic(cfg, cfg->stats_topic, "fanzha-stats", 60000, NULL, on_record,
                                    &s, err, sizeof(err));
        if (r < 0) {
            fz_error("%s", err);
            rc = -1;
        } else if (r > 0) {
            fz_warn("%s: the figures are incomplete", err);
        }
    }
    if (rc == 0) rc = report(&s);
    for (size_t i = 0; i < s.cap; i++) {
        free(s.slot[i].key);
        free(s.slot[i].w);
    }
    free(s.slot);
    return rc ? 1 : 0;
}
