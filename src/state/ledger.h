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

#endif
