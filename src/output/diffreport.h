/*
 * diffreport.h - the report of `fanzha rules diff` (rulesdiff.h) as text
 * (for a terminal and a CI log), JSON (for tools) and HTML (for review).
 *
 * The three carry the same facts. The HTML page is static and
 * self-contained: no scripts, no external references, inline style only;
 * every count sits in an element with a data- attribute naming it
 * (data-count="gained", data-rule="ID", ...) so that a DOM test can read
 * it. All strings from events and rules are escaped for the format.
 * Nothing here measures: timings are the caller's, and a report without
 * them (timed = 0) says so instead of printing numbers.
 */
#ifndef FZ_DIFFREPORT_H
#define FZ_DIFFREPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rulesdiff.h"

/* One side of the diff: a ruleset and what it cost. */
typedef struct fz_diff_side {
    const char *source; /* as the user named it: a path, or "REV:path" */
    const fz_ruleset *rs;
    const char *root;         /* rule files under root are named ...   */
    const char *root_display; /* ... with root_display instead (a git export), or NULL */
    double load_s;            /* reading, parsing and compiling or loading, wall clock */
    int timed;                /* throughput measured */
    double match_s;           /* fastest round over the timed events, matching only */
    double events_per_s, us_per_event;
} fz_diff_side;

typedef struct fz_diff_gates {
    int fail_on_lost;    /* --fail-on-lost */
    double max_new_rate; /* --max-new-alerts-rate; < 0: off */
    int lost_failed;     /* set by fz_diffreport_gates() */
    int rate_failed;
    double new_rate; /* gained alerts / valid events */
} fz_diff_gates;

/* What was read of one partition when the events came from a Kafka time
 * range: offsets [start, end) of a log that ended at log_end. */
typedef struct fz_diff_partition {
    int32_t partition;
    int64_t start, end, log_end;
    uint64_t records;
    const char *stopped_by; /* "empty", "time" (a record past the range), "end" (the log end) */
} fz_diff_partition;

/* The events of a Kafka time range: records stamped [from_ms, to_ms). */
typedef struct fz_diff_kafka {
    const char *brokers, *topic;
    int64_t from_ms, to_ms;
    const fz_diff_partition *parts; /* in partition order */
    size_t nparts;
} fz_diff_kafka;

typedef struct fz_diff_report {
    const fz_rulesdiff *diff;
    fz_diff_side side[2];      /* [0] old, [1] new */
    const char *const *inputs; /* the EVENTS files; none when kafka is set */
    size_t ninputs;
    const fz_diff_kafka *kafka; /* the events' Kafka time range, or NULL */
    int timed;                  /* 0: --no-timing, the report holds no timings */
    size_t timed_events;        /* valid events matched in each timing round */
    int rounds;                 /* rounds per ruleset */
    size_t repeats;             /* each event matched this many times per round */
    fz_diff_gates gates;
} fz_diff_report;

/* Evaluate the gates on the diff; returns 1 when one failed, else 0. */
int fz_diffreport_gates(fz_diff_report *r);

/* Write the report to fp (the caller opens and closes it); 0, or -1 on a
 * write error (errno set). */
int fz_diffreport_text(const fz_diff_report *r, FILE *fp);
int fz_diffreport_json(const fz_diff_report *r, FILE *fp);
int fz_diffreport_html(const fz_diff_report *r, FILE *fp);

#endif
