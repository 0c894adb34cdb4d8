/*
 * event.h - the input contract: decoding one JSON event.
 *
 * An event is one JSON object (one Kafka message, or one NDJSON line):
 *   {"id":"e1","ts":1764288000123,"type":"sms","from":"+86...","to":"+86...",
 *    "text":"..."}
 * docs/events.md and docs/schema/event.schema.json are the normative
 * description; this decoder is their implementation.
 *
 * Decoding is allocation-free: one strict pass checks the JSON and records
 * the root object's members in the decoder's fixed array (at most
 * max_tokens keys and values in all), and every string field is a view (fz_str)
 * into the message itself, or - when the JSON string holds escapes - into
 * the decoder's unescape arena. Views stay valid until the message is
 * released or fz_decoder_reset_arena() is called, whichever comes first.
 *
 * A decoder belongs to one thread.
 */
#ifndef FZ_EVENT_H
#define FZ_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"

typedef enum fz_event_type {
    FZ_EV_SMS = 0,
    FZ_EV_CALL,
    FZ_EV_TRANSFER,
    FZ_EV_REPORT,
    FZ_EV_TYPE_COUNT
} fz_event_type;

/* Fields that rules can scan: the event's own (text, from, to), then the
 * ones derived from its text: its links (url.h) and what it holds
 * (textfacts.h). Derived fields are never in an event: the pipeline
 * computes their views. The numbers are stored in compiled rule files:
 * append only. */
typedef enum fz_field {
    FZ_FIELD_TEXT = 0,
    FZ_FIELD_FROM,
    FZ_FIELD_TO,
    FZ_FIELD_URL_HOST,     /* one line per link: its host */
    FZ_FIELD_URL_DOMAIN,   /* one line per link: its registered domain */
    FZ_FIELD_URL_FLAGS,    /* one line per link: its flag tokens */
    FZ_FIELD_TEXT_FLAGS,   /* what the text holds: han latin link money */
    FZ_FIELD_TEXT_NUMBERS, /* one line per number in the text: its digits */
    FZ_FIELD_COUNT
} fz_field;

/* The fields an event carries (the others are derived from text). */
#define FZ_FIELD_EVENT_COUNT (FZ_FIELD_TO + 1)
static inline int fz_field_is_url(int f) {
    return f >= FZ_FIELD_URL_HOST && f <= FZ_FIELD_URL_FLAGS;
}
/* Derived from the normalised text: no upper-case ASCII in any view. */
static inline int fz_field_is_derived(int f) {
    return f >= FZ_FIELD_EVENT_COUNT && f < FZ_FIELD_COUNT;
}

/* Why an event was rejected; the names (fz_reason_name) are the
 * machine-readable "reason" of dead-letter records and verdicts. */
typedef enum fz_reason {
    FZ_REASON_NONE = 0,
    FZ_REASON_TOO_LARGE,       /* message longer than max_event_bytes */
    FZ_REASON_INVALID_UTF8,    /* bytes or a \u escape that are not UTF-8 */
    FZ_REASON_INVALID_JSON,    /* not well-formed JSON */
    FZ_REASON_NOT_OBJECT,      /* JSON, but not one object */
    FZ_REASON_TOO_COMPLEX,     /* more JSON tokens than the decoder holds */
    FZ_REASON_MISSING_FIELD,   /* a required field is absent */
    FZ_REASON_WRONG_TYPE,      /* a field has the wrong JSON type */
    FZ_REASON_BAD_VALUE,       /* right type, unacceptable value */
    FZ_REASON_SCAN_ERROR,      /* decoded, but the matcher failed (not the input's fault) */
    FZ_REASON_TS_AHEAD,        /* ts further ahead of the wall clock than max_event_ahead_ms */
    FZ_REASON_TS_BEHIND,       /* ts further behind the stream's watermark than max_event_lag_ms */
    FZ_REASON_OUTPUT_REJECTED, /* an output record for it was refused for good (run) */
    FZ_REASON_COUNT
} fz_reason;

typedef struct fz_event {
    fz_event_type type;
    int64_t ts_ms; /* epoch milliseconds */
    fz_str id;
    fz_str fields[FZ_FIELD_EVENT_COUNT]; /* text, from, to; .p == NULL if absent */
    fz_str currency;                     /* transfer/report; "CNY" if absent */
    fz_str category;                     /* report: the victim's category, optional */
    int64_t amount_minor;                /* transfer/report: integer minor units */
    int64_t duration_s;                  /* call; -1 if absent */
    int has_amount;
} fz_event;

typedef struct fz_decoder fz_decoder;

/* Upper bound on an event id, in bytes. */
#define FZ_EVENT_ID_MAX 256

/*
 * max_event_bytes: longer messages are rejected with FZ_REASON_TOO_LARGE.
 * arena_bytes: room for unescaped strings; at least max_event_bytes. A
 * caller that decodes many events before using them (replay batches) sizes
 * it to the batch and resets it per batch.
 * max_tokens: JSON tokens per event (keys + values + nested).
 * Returns NULL and fills errstr on failure.
 */
fz_decoder *fz_decoder_new(size_t max_event_bytes, size_t arena_bytes, unsigned max_tokens,
                           char *errstr, size_t errstr_size);
void fz_decoder_destroy(fz_decoder *d);
void fz_decoder_reset_arena(fz_decoder *d);

/*
 * Decode msg[0..len) into *ev. Returns FZ_REASON_NONE on success. On
 * failure returns the reason and writes a one-line explanation naming the
 * field into detail; ev->id is still set when the id could be read.
 */
fz_reason fz_event_decode(fz_decoder *d, const char *msg, size_t len, fz_event *ev, char *detail,
                          size_t detail_size);

const char *fz_reason_name(fz_reason r);
const char *fz_event_type_name(fz_event_type t);
const char *fz_field_name(fz_field f);
/* Returns the field for a name, or -1. */
int fz_field_parse(const char *name, size_t n);

/* Parse a decimal amount ("12", "12.5", "12.50") into minor units with
 * `decimals` fraction digits. Returns 0 on success, -1 with a reason in
 * detail otherwise. Never uses floating point. */
int fz_amount_parse(const char *s, size_t n, int decimals, int64_t *out, char *detail,
                    size_t detail_size);
/* ISO 4217 minor-unit digits for a currency code (2 unless known). */
int fz_currency_decimals(fz_str code);

#endif
