/*
 * http.h - the HTTP endpoints of `fanzha run`: /metrics, /healthz, /readyz.
 *
 * DESIGN. libmicrohttpd serves them from one thread of its own (internal
 * polling), so a scrape never runs on a stream thread and a slow or
 * hostile client never holds one: connections are limited in number and
 * time, only GET and HEAD are answered, request bodies are refused. Each
 * endpoint is a callback that writes the body into a buffer and returns the
 * HTTP status; the callbacks read only what the stream threads publish
 * (atomics, snapshots under short locks), never Kafka.
 */
#ifndef FZ_HTTP_H
#define FZ_HTTP_H

#include <stddef.h>

#include "buf.h"

typedef struct fz_http fz_http;

typedef struct fz_http_ops {
    void *ctx;
    /* Each writes the body into out and returns the HTTP status. */
    int (*metrics)(void *ctx, fz_buf *out);
    int (*healthz)(void *ctx, fz_buf *out);
    int (*readyz)(void *ctx, fz_buf *out);
} fz_http_ops;

/* Parse "HOST:PORT" / "[V6]:PORT" into a socket address (numeric or a name
 * resolved once). 0, or -1 with errstr naming what is wrong. */
struct sockaddr_storage;
int fz_http_parse_address(const char *addr, struct sockaddr_storage *out, size_t *outlen,
                          char *errstr, size_t errstr_size);

/* Listen on addr and serve; NULL with errstr (address taken, malformed). */
fz_http *fz_http_start(const char *addr, const fz_http_ops *ops, char *errstr, size_t errstr_size);
/* The port actually bound (addr's port, or the one picked for port 0). */
int fz_http_port(const fz_http *h);
/* Stop serving and free. NULL is a no-op. */
void fz_http_stop(fz_http *h);

#endif
