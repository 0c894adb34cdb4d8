/*
 * ledger.h - loss-recovery statistics: per tumbling window of event time
 * and per category, the numbers an anti-fraud centre reports - events
 * screened, alerts, suppressed duplicates, new campaigns, reported cases
 * (发案) and losses (案损), intercepted transfers and amounts (挽损).
 *
 * A ledger counts one stream: one input partition in `fanzha run` (its
 * records are partial and keyed so that a reader sums them exactly), the
 * whole input in `fanzha replay`. Windows are [start, start + window_ms)
 * of event time; a window closes once the ledger's watermark (the highest
 * event time seen) passes its end by grace_ms. An event for a window that
 * has closed is late: it is counted in the `late` field of the window it
 * would have joined if that window is still open, otherwise in the newest
 * open window's "all" row (never in the closed window, whose record is out).
 *
 * Rows: row 0 is "all" (every event); the others are per category - the
 * primary matched rule's category for alerts and suppressed events, the
 * event's own category (or "unspecified") for reports, "intercept" for
 * transfers that only the watchlist flagged. The names "all", "intercept",
 * "unspecified" and "unlisted" are reserved: rules cannot use them, and a
 * report naming one is counted under "unlisted". Categories named by input
 * (a report's category that is not one of the ruleset's) take at most
 * FZ_LEDGER_INPUT_CATEGORIES rows of a window; further ones, and anything
 * once the rows run out, are counted under "unlisted". Money is in integer
 * minor units per currency (ISO 4217 code), never converted; sums that
 * would leave int64 stop at its maximum and say so ("saturated").
 *
 * A book collects closed windows (summing partial windows with the same
 * start) and answers the comparisons: the previous window and the window
 * one period earlier. Replay prints from a book; `fanzha stats` builds
 * one from records read back (fz_ledger_record_decode).
 *
 * Memory: a window is a fixed array of FZ_LEDGER_ROWS rows; a ledger holds
 * at most FZ_LEDGER_OPEN windows. Adding an event does not allocate.
 * Not thread-safe: a ledger (and a book) belongs to one thread at a time.
 */
#ifndef FZ_LEDGER_H
#define FZ_LEDGER_H

#include <stdint.h>

#include "buf.h"
#include "pipeline.h"

#define FZ_LEDGER_CATEGORY 32         /* bytes with the NUL; longer names are cut */
#define FZ_LEDGER_ROWS 64             /* rows per window ("all" + 63 categories) */
#define FZ_LEDGER_INPUT_CATEGORIES 16 /* rows per window for categories named by input */
#define FZ_LEDGER_CURRENCIES 4        /* per row; more are counted in money_overflow */
#define FZ_LEDGER_OPEN 8              /* open windows per ledger */

typedef struct fz_money {
    char currency[8];          /* NUL-terminated ISO 4217 code */
    int64_t lost_minor;        /* reported losses */
    int64_t intercepted_minor; /* transfers held on an intercept alert */
    uint32_t saturated;        /* a sum reached INT64_MAX: the values are lower bounds */
    uint32_t pad;
} fz_money;

typedef struct fz_ledger_row {
    char category[FZ_LEDGER_CATEGORY];
    uint64_t screened;   /* valid events */
    uint64_t alerts;     /* alert records produced */
    uint64_t suppressed; /* duplicates and campaign repeats */
    uint64_t campaigns;  /* new sms campaigns (their first alert) */
    uint64_t cases;      /* report events */
    uint64_t intercepts; /* transfers the watchlist flagged */
    uint64_t invalid;    /* "all" only: events that went to the dead letters */
    uint64_t late;       /* "all" only: events for a window already closed */
    uint32_t nmoney;
    uint32_t money_overflow; /* amounts in currencies beyond FZ_LEDGER_CURRENCIES */
    fz_money money[FZ_LEDGER_CURRENCIES];
} fz_ledger_row;

typedef struct fz_ledger_window {
    int64_t start_ms;
    int64_t segment;      /* reopening ledgers: the offset that opened it; -1 otherwise */
    int64_t first_offset; /* input offsets counted (run); -1 when unknown */
    int64_t last_offset;
    uint32_t nrows;   /* rows[0] is "all" */
    uint32_t interim; /* book: interim (not final) records merged into this window */
    uint32_t ninput;  /* rows named by input (at most FZ_LEDGER_INPUT_CATEGORIES) */
    uint32_t pad;
    fz_ledger_row rows[FZ_LEDGER_ROWS];
} fz_ledger_window;

typedef struct fz_ledger fz_ledger;

/* window_ms > 0. NULL on OOM. */
fz_ledger *fz_ledger_new(int64_t window_ms, int64_t grace_ms);
/*
 * A reopening ledger never counts an event as late, and closes windows only
 * for room: it keeps the FZ_LEDGER_OPEN most recent windows open, and a
 * window it needs beyond them pushes the oldest out (popped next by
 * fz_ledger_pop_closed). An event for a window pushed out opens it again as
 * a new *segment*; every window opened carries the offset passed to
 * fz_ledger_add (which must then be >= 0) that opened it. Its records are
 * partial like any other; summed, they are exact. The decide stage of
 * `fanzha run` counts with one: its events come from many input partitions
 * whose event times differ, and their lateness was judged already, by the
 * screen stage.
 */
void fz_ledger_set_reopen(fz_ledger *l, int on);
/* A routed event, counted by another ledger (the decide stage's): if its
 * window has closed here it is late - counted as such here, and 1 is
 * returned (the other ledger must not count it); otherwise it only moves
 * the watermark, and 0 is returned. */
int fz_ledger_route(fz_ledger *l, int64_t ts_ms);
void fz_ledger_destroy(fz_ledger *l);
int64_t fz_ledger_window_ms(const fz_ledger *l);

/*
 * One decided event as the ledger counts it: what fz_ledger_event_of()
 * takes from a result, or what the decide stage of `fanzha run` rebuilds
 * from a route record. category is the row (besides "all") the event is
 * counted in, empty for none; category_input says the name came from the
 * input (a report's own category) and so competes for the bounded rows.
 */
typedef struct fz_ledger_event {
    int64_t ts_ms;
    int64_t amount_minor;
    fz_str currency;
    fz_str category;
    uint8_t type;      /* fz_event_type */
    uint8_t verdict;   /* fz_verdict */
    uint8_t matched;   /* a rule matched (an alerted sms opens a campaign) */
    uint8_t intercept; /* FZ_INTERCEPT_* bits */
    uint8_t has_amount;
    uint8_t category_input;
} fz_ledger_event;

/* The ledger's view of r (valid, after the stateful step); rs names the
 * rules in r and its categories (NULL: no rule categories). Views point
 * into r. */
void fz_ledger_event_of(const fz_result *r, const fz_ruleset *rs, fz_ledger_event *out);

/* Count one valid event. offset is the input offset, or -1. */
void fz_ledger_add(fz_ledger *l, const fz_ledger_event *e, int64_t offset);
/* Count one invalid event: in the newest open window, or - before any
 * window opened - in the first one that opens. */
void fz_ledger_add_invalid(fz_ledger *l);
/* fz_ledger_event_of() and fz_ledger_add(), or fz_ledger_add_invalid(). */
void fz_ledger_add_result(fz_ledger *l, const fz_result *r, const fz_ruleset *rs, int64_t offset);

/* Move the oldest window that has closed into *out; 1 if there was one. */
int fz_ledger_pop_closed(fz_ledger *l, fz_ledger_window *out);
/* Move the oldest open window into *out whether closed or not (end of
 * input); 1 if there was one. */
int fz_ledger_pop_any(fz_ledger *l, fz_ledger_window *out);
/* The open windows, oldest first; valid until the next add or pop. */
int fz_ledger_open_count(const fz_ledger *l);
const fz_ledger_window *fz_ledger_open_window(const fz_ledger *l, int i);

/*
 * Checkpoint: the open windows and the watermark, in a binary format of
 * this build (magic, version and sizes checked on load). load replaces the
 * ledger's state and returns the bytes it used (a caller may append its own
 * data after them); 0 with a reason in err if the bytes are not a
 * checkpoint this build wrote with the same window length.
 */
fz_err fz_ledger_save(const fz_ledger *l, fz_buf *b);
size_t fz_ledger_load(fz_ledger *l, const void *p, size_t n, char *err, size_t err_size);
/* One window in the same format; load returns the bytes used, 0 if bad. */
fz_err fz_ledger_window_save(const fz_ledger_window *w, fz_buf *b);
size_t fz_ledger_window_load(fz_ledger_window *w, const void *p, size_t n);

/* Where a partial window came from (run); NULL fields are left out. */
typedef struct fz_ledger_source {
    const char *group;
    const char *topic;
    int32_t partition;
    const char *stage;   /* "screen" or "decide" */
    const char *lineage; /* the task's lineage (stream/task.h), or NULL */
} fz_ledger_source;

/*
 * The comparisons of a window, from a book. A compared window inside the
 * book's span that saw no events compares as zeros (its pointer is NULL);
 * one before the first window (or no period set) has start INT64_MIN and
 * is written as null: there is nothing to compare with.
 */
typedef struct fz_ledger_compare {
    const fz_ledger_window *previous;
    const fz_ledger_window *period; /* one period earlier */
    int64_t previous_start, period_start;
    int64_t period_ms;
} fz_ledger_compare;

/*
 * One window as a JSON object (docs/schema/stats.schema.json): type
 * "stats", the window, "final" (false for an interim record of a window
 * still open), the source when given, and the rows; with cmp, each row
 * also carries its values one window and one period earlier and the
 * differences.
 */
fz_err fz_ledger_window_encode(fz_buf *b, const fz_ledger_window *w, int64_t window_ms, int final,
                               const fz_ledger_source *src, const fz_ledger_compare *cmp);

/* Add the rows of src into dst (same window). */
void fz_ledger_window_merge(fz_ledger_window *dst, const fz_ledger_window *src);

/* A statistics record read back (fz_ledger_window_encode's output). */
typedef struct fz_ledger_record {
    fz_ledger_window w; /* w.interim is 1 for a record with "final": false */
    int64_t window_ms;
    int final;
    char group[256], topic[256]; /* source; "" when absent */
    int32_t partition;           /* -1 when absent */
    char stage[16], lineage[40]; /* source; "" when absent (w.segment: -1) */
} fz_ledger_record;

/*
 * Parse one record; its comparisons ("previous", "period_ago") and derived
 * fields (recovery rates) are skipped. 0, or -1 with the reason, naming
 * the field, in err. Not for the hot path (allocates its tokens).
 */
int fz_ledger_record_decode(const char *json, size_t n, fz_ledger_record *out, char *err,
                            size_t err_size);

/* ---- book: closed windows by start, for comparisons and reports ---- */

typedef struct fz_ledger_book fz_ledger_book;

fz_ledger_book *fz_ledger_book_new(int64_t window_ms, int64_t period_ms);
void fz_ledger_book_destroy(fz_ledger_book *b);
/* Merge w into the book's window with the same start. -1 on OOM. */
int fz_ledger_book_add(fz_ledger_book *b, const fz_ledger_window *w);
size_t fz_ledger_book_count(const fz_ledger_book *b);
/* Windows in start order; cmp receives the comparisons of window i. */
const fz_ledger_window *fz_ledger_book_window(const fz_ledger_book *b, size_t i,
                                              fz_ledger_compare *cmp);
/* The sum of every window (start = first window's start). */
void fz_ledger_book_total(const fz_ledger_book *b, fz_ledger_window *out);
/* A human-readable table of the last max_windows windows to fp. */
void fz_ledger_book_print(const fz_ledger_book *b, size_t max_windows, void *fp);
/* Every window with its comparisons as JSON lines to fp (a FILE *); a
 * window is final when no interim record went into it. -1 on a write
 * error (errno says why). */
int fz_ledger_book_write(const fz_ledger_book *b, void *fp);

/* ---- periods: the book's windows summed by calendar day, ISO week or month ---- */

/*
 * The figures an anti-fraud centre briefs from are per calendar period in
 * its own time zone: a day, an ISO week (Monday to Sunday) or a month, each
 * with its change against the previous period (环比) and against the same
 * period one span earlier (同比; by default a year: the same calendar day -
 * 29 February compares with 28 February - the same month, or the week 52
 * weeks earlier). Both `fanzha stats --period` (table and JSON lines) and
 * the report page (output/report.h) read them from here, so they cannot
 * disagree.
 *
 * A period sums the book's windows whose start lies inside it. A window
 * that straddles a period boundary (a window longer than a day, or hourly
 * windows with a UTC offset that is not a whole number of hours) cannot be
 * split: fz_ledger_periods_new refuses the book and names the window.
 * Times are ms since the epoch; a UTC offset is in seconds east of UTC
 * (+08:00 = 28800). All functions are pure or own their memory; one thread
 * at a time.
 */
typedef enum fz_period_unit { FZ_PERIOD_DAY = 1, FZ_PERIOD_WEEK, FZ_PERIOD_MONTH } fz_period_unit;

#define FZ_PERIODS_MAX 1500 /* periods one call may sum (4 years of days; 45 KiB each) */

/* "day", "week" or "month"; -1 otherwise. */
int fz_period_unit_parse(const char *s, fz_period_unit *out);
const char *fz_period_unit_name(fz_period_unit u);
/* "+08:00", "-05:00", "+0530", "+8", "Z" or "UTC" (between -14:00 and
 * +14:00, whole minutes) into seconds east of UTC; -1 otherwise. */
int fz_utc_offset_parse(const char *s, int32_t *out_s);
/* "+08:00"; out holds at least 8 bytes. */
void fz_utc_offset_format(int32_t off_s, char *out);
/* "YYYY-MM-DD" (a valid calendar date) into the ms of its local midnight;
 * -1 otherwise. */
int fz_local_date_parse(const char *s, int32_t off_s, int64_t *out_ms);
/* The local date of t_ms as "YYYY-MM-DD" (out: 16 bytes), or with
 * with_time "YYYY-MM-DD HH:MM" (out: 24 bytes). */
void fz_local_time_format(int64_t t_ms, int32_t off_s, int with_time, char *out);
/* The start of the period that holds t_ms. */
int64_t fz_period_floor(fz_period_unit u, int32_t off_s, int64_t t_ms);
/* The start of the period n periods after (n < 0: before) the period that
 * starts at start_ms (a period start). */
int64_t fz_period_shift(fz_period_unit u, int32_t off_s, int64_t start_ms, int64_t n);
/* The 同比 period of the one starting at start_ms: span periods earlier,
 * or with span 0 a year earlier (see above). */
int64_t fz_period_span_ago(fz_period_unit u, int32_t off_s, int64_t start_ms, int64_t span);
/* A period's name: "2026-11-02" (day), "2026-W45" (ISO week), "2026-11"
 * (month); out holds at least 16 bytes. */
void fz_period_label(fz_period_unit u, int32_t off_s, int64_t start_ms, char *out);

typedef struct fz_period_spec {
    fz_period_unit unit;
    int32_t utc_offset_s;
    int64_t span;    /* 同比 distance in periods; 0 = a year */
    int64_t from_ms; /* periods holding [from_ms, to_ms); INT64_MIN / INT64_MAX: */
    int64_t to_ms;   /* from the book's first window / to its last window's end */
} fz_period_spec;

typedef struct fz_ledger_period {
    int64_t start_ms, end_ms; /* [start, end) */
    uint32_t nwindows;        /* the book's windows summed into it */
    uint32_t partial;         /* the book's span does not cover all of it */
    uint32_t no_data;         /* compared periods: it ends before the book's first window */
    uint32_t pad;
    fz_ledger_window sum; /* sum.start_ms = start_ms; rows[0] is "all" */
} fz_ledger_period;

typedef struct fz_ledger_periods {
    fz_period_spec spec;
    int64_t window_ms;
    size_t n;
    fz_ledger_period *cur;      /* the periods asked for, oldest first */
    fz_ledger_period *previous; /* previous[i]: the period before cur[i] (环比) */
    fz_ledger_period *ago;      /* ago[i]: cur[i] one span earlier (同比) */
} fz_ledger_periods;

/*
 * Sum the book's windows into the periods of spec. NULL with the reason in
 * errstr when a window straddles a period boundary (naming it), when from
 * is not before to, when there would be more than FZ_PERIODS_MAX periods,
 * or out of memory. An empty book gives no periods unless from and to are
 * both given. The result does not refer to the book.
 */
fz_ledger_periods *fz_ledger_periods_new(const fz_ledger_book *b, const fz_period_spec *spec,
                                         char *errstr, size_t errstr_size);
void fz_ledger_periods_destroy(fz_ledger_periods *p);
/* A row of cmp to compare row r with: NULL when cmp has no data ("—"),
 * the matching category row, or a row of zeros when cmp lacks it. */
const fz_ledger_row *fz_ledger_period_row(const fz_ledger_period *cmp, const char *category);
/* Every period as a JSON line (type "stats_period", rows with "previous"
 * and "period_ago") to fp (a FILE *); -1 on a write error (errno). */
int fz_ledger_periods_write(const fz_ledger_periods *p, void *fp);
/* The periods as a table to fp (a FILE *), like fz_ledger_book_print. */
void fz_ledger_periods_print(const fz_ledger_periods *p, void *fp);
/* Recovery rate of m, intercepted / (intercepted + lost); -1 when both are 0. */
double fz_money_recovery_rate(const fz_money *m);
/* A money amount in major units with thousands separators and the
 * currency's ISO 4217 decimals: "1,234,567.89" (JPY: "1,234,568"). */
void fz_money_format(int64_t minor, const char *currency, char *out, size_t size);

#endif
