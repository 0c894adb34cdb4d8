/*
 * http.c - the HTTP endpoints (see http.h), on libmicrohttpd.
 */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "prom.h"

#define CONN_LIMIT 32     /* concurrent connections */
#define CONN_TIMEOUT_S 10 /* idle connection */
#define BODY_MAX (64u << 20)

struct fz_http {
    struct MHD_Daemon *d;
    fz_http_ops ops;
    int port;
    fz_ratelimit log_rl;
};

int fz_http_parse_address(const char *addr, struct sockaddr_storage *out, size_t *outlen,
                          char *errstr, size_t errstr_size) {
    char host[256];
    const char *port;
    if (!addr || !*addr) {
        snprintf(errstr, errstr_size, "metrics_address: empty (use HOST:PORT, or off)");
        return -1;
    }
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof(host)) {
            snprintf(errstr, errstr_size, "metrics_address '%s': expected [IPV6]:PORT", addr);
            return -1;
        }
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host) ||
            memchr(addr, ':', (size_t)(colon - addr))) {
            snprintf(errstr, errstr_size,
                     "metrics_address '%s': expected HOST:PORT (or [IPV6]:PORT, or off)", addr);
            return -1;
        }
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535) {
        snprintf(errstr, errstr_size, "metrics_address '%s': port must be 0..65535", addr);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(errstr, errstr_size, "metrics_address '%s': cannot resolve '%s': %s", addr, host,
                 gai_strerror(rc));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    fz_http *h = cls;
    uint64_t sup;
    fz_log_set_component("http"); /* libmicrohttpd's thread */
    if (!fz_ratelimit_allow(&h->log_rl, 10000, &sup)) return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    fz_warn("metrics endpoint: %s (%llu more not logged)", msg, (unsigned long long)sup);
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *type, fz_buf *b) {
    size_t n = b->len;
    char *copy = malloc(n ? n : 1);
    if (!copy) return MHD_NO;
    if (n) memcpy(copy, b->p, n);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, copy, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(copy);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    (void)upload_data;
    static int k_seen, k_body; /* per-connection state: which marker *con_cls points at */
    fz_http *h = cls;
    if (!*con_cls) { /* first call: headers only */
        *con_cls = &k_seen;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body: swallowed, then refused */
        *con_cls = &k_body;
        *upload_data_size = 0;
        return MHD_YES;
    }
    fz_buf b;
    fz_buf_init(&b, BODY_MAX);
    int status;
    const char *type = "text/plain; charset=utf-8";
    if (*con_cls == &k_body) {
        status = 413;
        fz_buf_puts(&b, "request bodies are not accepted\n");
    } else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        status = 405;
        fz_buf_puts(&b, "only GET and HEAD\n");
    } else if (!strcmp(url, "/metrics")) {
        status = h->ops.metrics(h->ops.ctx, &b);
        type = FZ_PROM_CONTENT_TYPE;
    } else if (!strcmp(url, "/healthz")) {
        status = h->ops.healthz(h->ops.ctx, &b);
    } else if (!strcmp(url, "/readyz")) {
        status = h->ops.readyz(h->ops.ctx, &b);
    } else if (!strcmp(url, "/")) {
        status = 200;
        fz_buf_puts(&b, "fanzha: /metrics /healthz /readyz\n");
    } else {
        status = 404;
        fz_buf_puts(&b, "not found; endpoints: /metrics /healthz /readyz\n");
    }
    if (b.failed) {
        fz_buf_reset(&b);
        status = 500;
        fz_buf_puts(&b, "response too large\n");
    }
    enum MHD_Result ret = reply(c, status, type, &b);
    fz_buf_free(&b);
    return ret;
}

fz_http *fz_http_start(const char *addr, const fz_http_ops *ops, char *errstr, size_t errstr_size) {
    struct sockaddr_storage sa;
    size_t salen = 0;
    if (fz_http_parse_address(addr, &sa, &salen, errstr, errstr_size) != 0) return NULL;
    fz_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    h->ops = *ops;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                            mhd_log, h, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)CONN_TIMEOUT_S, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            (unsigned)8, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errstr, errstr_size,
                 "metrics_address %s: cannot listen (address in use or not local?)", addr);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? (int)di->port : 0;
    return h;
}

int fz_http_port(const fz_http *h) { return h ? h->port : 0; }

void fz_http_stop(fz_http *h) {
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}
