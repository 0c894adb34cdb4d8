/*
 * stats.h - `fanzha stats`: the loss-recovery statistics of a whole
 * deployment, read back from the records `fanzha run` writes to its
 * statistics topic (one per input partition per window; the latest record
 * of a key is current) or from files of such records (also replay's
 * --stats-output). Keeps the latest record of each (group, topic,
 * partition, window), sums them per window, and prints the table with the
 * changes against the previous window and the window one period earlier;
 * --stats-output writes the sums with their comparisons as JSON lines.
 * With --period day|week|month the table and the JSON lines are of
 * calendar periods instead (state/ledger.h: fz_ledger_periods), and
 * --report writes the report page of the last one (output/report.h), its
 * campaign and rule tables from --alerts files and --report-alerts-topic.
 */
#ifndef FZ_STATS_H
#define FZ_STATS_H

#include "config.h"

/* Reads cfg->inputs (files, "-" = stdin), or cfg->stats_topic from
 * cfg->brokers when there are none. Returns the process exit code. */
int fz_stats_main(const fz_config *cfg);

#endif
