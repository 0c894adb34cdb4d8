/*
 * test-ops.c - the operator surface: the Prometheus text format (label
 * escaping, histograms) and the HTTP endpoints (addresses, methods, slow
 * clients), against the real libmicrohttpd server on a loopback port.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "prom.h"
#include "test.h"
#include "utf8.h"

TEST_IMPL(prom_labels_escaped) {
    fz_prom_labels l;
    fz_prom_labels_init(&l);
    fz_prom_label(&l, "rule", "a\"b\\c\nd");
    fz_prom_label_i64(&l, "partition", -7);
    ASSERT_STR_EQ(l.s, "{rule=\"a\\\"b\\\\c\\nd\",partition=\"-7\"");
    fz_buf b;
    fz_buf_init(&b, 1 << 16);
    fz_prom_u64(&b, "fanzha_x_total", &l, 42);
    fz_prom_i64(&b, "fanzha_y", NULL, -3);
    ASSERT_VIEW_EQ(b.p, b.len,
                   "fanzha_x_total{rule=\"a\\\"b\\\\c\\nd\",partition=\"-7\"} 42\nfanzha_y -3\n");
    /* a value longer than the label set holds is cut at a character boundary */
    char big[4000] = "";
    for (int i = 0; i < 300; i++) strcat(big, "冒充");
    fz_prom_labels_init(&l);
    fz_prom_label(&l, "category", big);
    ASSERT(l.n < sizeof(l.s));
    ASSERT(l.s[l.n - 1] == '"');
    ASSERT(fz_utf8_valid(l.s, l.n, NULL));
    /* and further labels that no longer fit are dropped, never half written */
    fz_prom_label(&l, "severity", "high");
    ASSERT(l.s[l.n - 1] == '"');
    fz_buf_free(&b);
}

TEST_IMPL(prom_histogram_cumulative) {
    fz_hist h;
    memset(&h, 0, sizeof(h));
    fz_hist_observe_us(&h, -5);         /* a clock ahead: 0 */
    fz_hist_observe_us(&h, 5000);       /* exactly 5 ms: le="0.005" */
    fz_hist_observe_us(&h, 5001);       /* just above: le="0.01" */
    fz_hist_observe_us(&h, 7200000000); /* two hours: +Inf only */
    fz_hist h2;
    memset(&h2, 0, sizeof(h2));
    fz_hist_observe_us(&h2, 1000000); /* 1 s, another thread */
    const fz_hist *hs[2] = {&h, &h2};
    fz_buf b;
    fz_buf_init(&b, 1 << 16);
    fz_prom_hist(&b, "fanzha_lat_seconds", NULL, hs, 2);
    fz_buf_putc(&b, '\0');
    const char *s = b.p;
    ASSERT_CONTAINS(s, "fanzha_lat_seconds_bucket{le=\"0.005\"} 2\n");
    ASSERT_CONTAINS(s, "fanzha_lat_seconds_bucket{le=\"0.01\"} 3\n");
    ASSERT_CONTAINS(s, "fanzha_lat_seconds_bucket{le=\"0.5\"} 3\n");
    ASSERT_CONTAINS(s, "fanzha_lat_seconds_bucket{le=\"1\"} 4\n");
    ASSERT_CONTAINS(s, "fanzha_lat_seconds_bucket{le=\"3600\"} 4\n");
    ASSERT_CONTAINS(s, "fanzha_lat_seconds_bucket{le=\"+Inf\"} 5\n");
    ASSERT_CONTAINS(s, "fanzha_lat_seconds_count 5\n");
    const char *sum = strstr(s, "fanzha_lat_seconds_sum ");
    ASSERT(sum != NULL);
    double v = strtod(sum + strlen("fanzha_lat_seconds_sum "), NULL);
    ASSERT(v > 7201.010000 && v < 7201.010002);
    fz_buf_free(&b);
}

TEST_IMPL(http_address_parse) {
    struct sockaddr_storage sa;
    size_t n;
    char err[256];
    ASSERT_EQ_I64(fz_http_parse_address("127.0.0.1:9464", &sa, &n, err, sizeof(err)), 0);
    ASSERT(sa.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&sa)->sin_port) == 9464);
    ASSERT_EQ_I64(fz_http_parse_address("[::1]:0", &sa, &n, err, sizeof(err)), 0);
    ASSERT(sa.ss_family == AF_INET6);
    ASSERT_EQ_I64(fz_http_parse_address("0.0.0.0:80", &sa, &n, err, sizeof(err)), 0);
    static const char *bad[] = {
        "",          "9464",          "127.0.0.1", "127.0.0.1:",   ":9464",    "::1:9464",
        "[::1]9464", "1.2.3.4:70000", "h:-1",      "127.0.0.1:9x", "[::1:9464"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ASSERT_EQ_I64(fz_http_parse_address(bad[i], &sa, &n, err, sizeof(err)), -1);
        ASSERT_CONTAINS(err, "metrics_address");
    }
}

static int cb_metrics(void *ctx, fz_buf *out) {
    atomic_fetch_add((_Atomic int *)ctx, 1);
    fz_buf_puts(out, "# HELP fanzha_x A test\n# TYPE fanzha_x gauge\nfanzha_x 1\n");
    return 200;
}
static int cb_healthz(void *ctx, fz_buf *out) {
    (void)ctx;
    fz_buf_puts(out, "ok\n");
    return 200;
}
static int cb_readyz(void *ctx, fz_buf *out) {
    (void)ctx;
    fz_buf_puts(out, "not ready\nstarting: loading the rules\n");
    return 503;
}

/* One request on a fresh connection; the whole response into out. */
static int request(int port, const char *req, char *out, size_t n) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) return -1;
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) return -1;
    size_t got = 0;
    ssize_t k;
    while (got + 1 < n && (k = read(fd, out + got, n - 1 - got)) > 0) got += (size_t)k;
    out[got] = '\0';
    close(fd);
    return (int)got;
}

static int idle_connection(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        ssize_t w = write(fd, "GET /metr", 9); /* and then nothing */
        (void)w;
    }
    return fd;
}

TEST_IMPL(http_endpoints) {
    _Atomic int scrapes = 0;
    fz_http_ops ops = {&scrapes, cb_metrics, cb_healthz, cb_readyz};
    char err[256];
    fz_http *h = fz_http_start("127.0.0.1:0", &ops, err, sizeof(err));
    ASSERT(h != NULL);
    int port = fz_http_port(h);
    ASSERT(port > 0);
    /* a second server on the same port is refused with the address named */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    ASSERT(fz_http_start(addr, &ops, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, addr);
    /* slow clients hold connections, not the server */
    int idle[4];
    for (int i = 0; i < 4; i++) idle[i] = idle_connection(port);
    static char r[8192];
    const char *close_hdr = "Host: x\r\nConnection: close\r\n\r\n";
    char req[256];
    snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\n%s", close_hdr);
    ASSERT(request(port, req, r, sizeof(r)) > 0);
    ASSERT_CONTAINS(r, "HTTP/1.1 200");
    ASSERT_CONTAINS(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8");
    ASSERT_CONTAINS(r, "\r\n\r\n# HELP fanzha_x A test\n");
    ASSERT_EQ_I64(atomic_load(&scrapes), 1);
    snprintf(req, sizeof(req), "GET /readyz HTTP/1.1\r\n%s", close_hdr);
    ASSERT(request(port, req, r, sizeof(r)) > 0);
    ASSERT_CONTAINS(r, "HTTP/1.1 503");
    ASSERT_CONTAINS(r, "starting: loading the rules");
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\n%s", close_hdr);
    ASSERT(request(port, req, r, sizeof(r)) > 0);
    ASSERT_CONTAINS(r, "HTTP/1.1 200");
    snprintf(req, sizeof(req), "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n%sabc", close_hdr);
    ASSERT(request(port, req, r, sizeof(r)) > 0);
    ASSERT(strstr(r, "HTTP/1.1 405") || strstr(r, "HTTP/1.1 413"));
    snprintf(req, sizeof(req), "GET /../../etc/passwd HTTP/1.1\r\n%s", close_hdr);
    ASSERT(request(port, req, r, sizeof(r)) > 0);
    ASSERT_CONTAINS(r, "HTTP/1.1 404");
    ASSERT_EQ_I64(atomic_load(&scrapes), 1);
    for (int i = 0; i < 4; i++)
        if (idle[i] >= 0) close(idle[i]);
    fz_http_stop(h);
}
