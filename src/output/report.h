/*
 * report.h - the loss-recovery report: one self-contained HTML page (no
 * scripts, no external references; readable offline, printable on A4)
 * written by `fanzha stats --report FILE`.
 *
 * Every figure on the page comes from the periods of fz_ledger_periods
 * (state/ledger.h) - the same sums `fanzha stats --period` prints and
 * writes - so the page and the table cannot disagree. The page shows the
 * last period asked for: headline figures with their change against the
 * previous period (环比) and the same period a span earlier (同比), trends
 * over every period asked for as inline SVG charts drawn by gnuplot, the
 * per-category tables, and, from alert and campaign records (files of
 * `fanzha replay` output or the alerts topic: fz_report_alerts), the
 * largest campaigns and the rules that fired most.
 *
 * Each figure carries data-figure="NAME" (and data-value with the exact
 * integer where the text is formatted), so a test can read them from the
 * DOM; docs/statistics.md lists the names. Strings from input (category
 * names, rule ids, campaign samples) are HTML-escaped, and sanitised
 * before they reach gnuplot.
 *
 * An offline command: allocates freely, spawns gnuplot (posix_spawnp,
 * from PATH) once per chart. Not thread-safe.
 */
#ifndef FZ_REPORT_H
#define FZ_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

typedef enum fz_report_lang { FZ_REPORT_ZH, FZ_REPORT_EN } fz_report_lang;

typedef struct fz_report_options {
    fz_report_lang lang;
    const char *gnuplot; /* NULL = "gnuplot" from PATH */
} fz_report_options;

/* The period the page shows: the last of p; NULL when p has none. */
const fz_ledger_period *fz_report_period(const fz_ledger_periods *p);

/*
 * The alert and campaign records of one period, for the page's campaign
 * and top-rule tables: alerts whose ts lies in [start_ms, end_ms) count
 * for their primary rule; campaign summaries of campaigns active in it
 * (first seen before its end, last seen at or after its start) are kept,
 * and the page shows the latest summary of each. NULL on OOM.
 */
typedef struct fz_report_alerts fz_report_alerts;
fz_report_alerts *fz_report_alerts_new(int64_t start_ms, int64_t end_ms);
void fz_report_alerts_destroy(fz_report_alerts *a);
/* One record: a line of `fanzha replay -o` output or a message of the
 * alerts topic. Other record types (verdicts, dead letters, aggregate
 * alerts) are ignored. 0, or -1 with the reason in err: not a JSON object,
 * an alert or campaign record without a field the tables need. */
int fz_report_alerts_add(fz_report_alerts *a, const char *json, size_t n, char *err,
                         size_t err_size);
/* Every line of a file; -1 with "PATH:LINE: reason" (or "PATH: why") in err. */
int fz_report_alerts_read_file(fz_report_alerts *a, const char *path, char *err, size_t err_size);

/*
 * Write the page for p (which must hold at least one period, else an
 * error) to path ("-" = stdout), through a temporary file renamed into
 * place. alerts: the records of fz_report_period(p) (sorted here; add no
 * more after), or NULL when none were given - the page then says the
 * campaign and rule tables need them. 0, or -1 with the reason in err:
 * gnuplot missing (naming the package) or failing, a write error.
 */
int fz_report_write(const char *path, const fz_ledger_periods *p, const fz_report_options *o,
                    fz_report_alerts *alerts, char *err, size_t err_size);

#endif
