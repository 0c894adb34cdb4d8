/*
 * metrics.h - what `fanzha run` tells its operators over HTTP: the
 * Prometheus metrics, the liveness and the readiness of the process
 * (served by http.c; every metric is listed in docs/operations.md).
 *
 * DESIGN. Nothing here is on the record path. The stream threads keep
 * their counters in relaxed atomics and publish a snapshot of their tasks
 * (offsets, high watermarks, queues, store sizes) about once a second
 * (stream.h: fz_sthread_telemetry); a scrape sums them. The scrape and the
 * probes hold fz_ops.lock, which daemon.c also takes while it changes what
 * they read (start-up phases, teardown) and while the reload thread frees
 * the matchers a reload replaced (their per-rule counters are read here).
 */
#ifndef FZ_METRICS_H
#define FZ_METRICS_H

#include <pthread.h>

#include "buf.h"

struct fz_app;
struct fz_reloader;

typedef enum fz_phase {
    FZ_PHASE_STARTING = 0, /* loading rules, resolving topics, reading the watchlist */
    FZ_PHASE_RUNNING,      /* stream threads and the reload thread run */
    FZ_PHASE_STOPPING,     /* draining after SIGTERM or a fatal error */
} fz_phase;

typedef struct fz_ops {
    pthread_mutex_t lock;
    struct fz_app *app;
    struct fz_reloader *reloader; /* NULL until running, and once stopping */
    fz_phase phase;
    char starting[128]; /* what start-up is doing (the readiness detail) */
    int64_t started_ms; /* wall clock */
} fz_ops;

/* Each writes the body into out and returns the HTTP status. */
int fz_metrics_write(fz_ops *o, fz_buf *out);
int fz_health_check(fz_ops *o, fz_buf *out);
int fz_ready_check(fz_ops *o, fz_buf *out);

#endif
