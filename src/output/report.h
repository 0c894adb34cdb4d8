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
 * per-category table, and, from alert and campaign records given as
 * files, the largest campaigns and the rules that fired most.
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

#include "ledger.h"

typedef enum fz_report_lang { FZ_REPORT_ZH, FZ_REPORT_EN } fz_report_lang;

typedef struct fz_report_options {
    fz_report_lang lang;
    const char *const *alert_files; /* JSON lines of alert and campaign records */
    size_t n_alert_files;           /* 0: the page says the tables need them */
    const char *gnuplot;            /* NULL = "gnuplot" from PATH */
} fz_report_options;

/*
 * Write the page for p (which must hold at least one period, else an
 * error) to path ("-" = stdout), through a temporary file renamed into
 * place. 0, or -1 with the reason in err: gnuplot missing (naming the
 * package) or failing, an alert file unreadable or malformed (file:line),
 * a write error.
 */
int fz_report_write(const char *path, const fz_ledger_periods *p, const fz_report_options *o,
                    char *err, size_t err_size);

#endif
