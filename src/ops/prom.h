/*
 * prom.h - the Prometheus text exposition format (version 0.0.4), written
 * into an fz_buf: one "# HELP" and "# TYPE" per family, then its samples.
 *
 * Label values are escaped as the format requires (backslash, double
 * quote, newline); names are the caller's constants. Values are unsigned
 * counters, signed gauges or doubles. Pure functions; any thread.
 */
#ifndef FZ_PROM_H
#define FZ_PROM_H

#include <stdint.h>

#include "buf.h"
#include "hist.h"

#define FZ_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A label set being built: "{k=\"v\",...}" (empty: no braces). */
typedef struct fz_prom_labels {
    char s[768];
    size_t n;
} fz_prom_labels;

void fz_prom_labels_init(fz_prom_labels *l);
/* Add k="v"; v is escaped and cut (at a UTF-8 boundary) to fit. */
void fz_prom_label(fz_prom_labels *l, const char *k, const char *v);
void fz_prom_label_n(fz_prom_labels *l, const char *k, const char *v, size_t vn);
void fz_prom_label_i64(fz_prom_labels *l, const char *k, int64_t v);

/* "# HELP name help\n# TYPE name type\n"; type: counter, gauge, histogram, info
 * is written as gauge (the 0.0.4 format has no info type). */
void fz_prom_family(fz_buf *b, const char *name, const char *type, const char *help);
/* name{labels} value. l may be NULL. */
void fz_prom_u64(fz_buf *b, const char *name, const fz_prom_labels *l, uint64_t v);
void fz_prom_i64(fz_buf *b, const char *name, const fz_prom_labels *l, int64_t v);
void fz_prom_f64(fz_buf *b, const char *name, const fz_prom_labels *l, double v);
/* A family and its one sample. */
void fz_prom_counter(fz_buf *b, const char *name, const char *help, uint64_t v);
void fz_prom_gauge(fz_buf *b, const char *name, const char *help, int64_t v);

/* The samples of a histogram in seconds (name_bucket{le=...}, name_sum,
 * name_count) summed over hs[0..n); l: extra labels or NULL. */
void fz_prom_hist(fz_buf *b, const char *name, const fz_prom_labels *l, const fz_hist *const *hs,
                  int n);

#endif
