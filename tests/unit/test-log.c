/*
 * test-log.c - the JSON log line: the fields in their order, RFC 3339 UTC
 * time with milliseconds, escaping of everything RFC 8259 requires (plus
 * DEL), U+FFFD for bytes that are not UTF-8, and a message longer than the
 * line cut at a character boundary with the line still one JSON object;
 * the thread-local component.
 */
#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "test.h"
#include "utf8.h"

#define T0 INT64_C(1764288000123) /* 2025-11-28T00:00:00.123Z */

static const char *line_of(char *buf, size_t cap, const char *msg, const fz_log_field *f,
                           size_t nf) {
    size_t n = fz_log_format_json(buf, cap, T0, FZ_LOG_WARN, "stream-3", msg, f, nf);
    ASSERT(n < cap);
    buf[n] = '\0';
    return buf;
}

TEST_IMPL(log_json_fields) {
    char buf[1024];
    ASSERT_STR_EQ(line_of(buf, sizeof(buf), "hello", NULL, 0),
                  "{\"time\":\"2025-11-28T00:00:00.123Z\",\"level\":\"warn\","
                  "\"component\":\"stream-3\",\"msg\":\"hello\"}\n");
    const fz_log_field f[] = {{"facility", "FAIL"},
                              {"broker", NULL}, /* left out */
                              {"client", "fanzha-admin#producer-1"}};
    ASSERT_STR_EQ(line_of(buf, sizeof(buf), "down", f, 3),
                  "{\"time\":\"2025-11-28T00:00:00.123Z\",\"level\":\"warn\","
                  "\"component\":\"stream-3\",\"facility\":\"FAIL\","
                  "\"client\":\"fanzha-admin#producer-1\",\"msg\":\"down\"}\n");
    /* every level name, and a time with a zero-padded millisecond */
    const char *names[] = {"error", "warn", "info", "debug"};
    for (int lv = 0; lv < 4; lv++) {
        size_t n = fz_log_format_json(buf, sizeof(buf), INT64_C(1000000000007), (fz_log_level)lv,
                                      "main", "m", NULL, 0);
        buf[n] = '\0';
        char want[200];
        snprintf(want, sizeof(want),
                 "{\"time\":\"2001-09-09T01:46:40.007Z\",\"level\":\"%s\","
                 "\"component\":\"main\",\"msg\":\"m\"}\n",
                 names[lv]);
        ASSERT_STR_EQ(buf, want);
    }
}

TEST_IMPL(log_json_escaping) {
    char buf[1024];
    const fz_log_field f[] = {{"k\"ey", "v\\al\n"}};
    ASSERT_STR_EQ(line_of(buf, sizeof(buf), "q\"b\\n\nt\tr\rc\001e\037d\177 ok 反诈", f, 1),
                  "{\"time\":\"2025-11-28T00:00:00.123Z\",\"level\":\"warn\","
                  "\"component\":\"stream-3\",\"k\\\"ey\":\"v\\\\al\\n\","
                  "\"msg\":\"q\\\"b\\\\n\\nt\\tr\\rc\\u0001e\\u001fd\\u007f ok 反诈\"}\n");
}

TEST_IMPL(log_json_invalid_utf8) {
    char buf[1024];
    /* a stray continuation byte, an overlong '/', a surrogate, 0xff, and a
     * sequence cut short at the end: each bad byte is one U+FFFD */
    ASSERT_STR_EQ(line_of(buf, sizeof(buf),
                          "a\x80"
                          "b\xc0\xaf"
                          "c\xed\xa0\x80"
                          "d\xff"
                          "e\xe5\x8f",
                          NULL, 0),
                  "{\"time\":\"2025-11-28T00:00:00.123Z\",\"level\":\"warn\","
                  "\"component\":\"stream-3\",\"msg\":\"a\xef\xbf\xbd"
                  "b\xef\xbf\xbd\xef\xbf\xbd"
                  "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                  "d\xef\xbf\xbd"
                  "e\xef\xbf\xbd\xef\xbf\xbd\"}\n");
    size_t n = strlen(buf);
    ASSERT(fz_utf8_valid(buf, n, NULL));
}

/* The line (NUL-terminated at n) is one object: it ends with "}\n, is
 * valid UTF-8, and no escape is cut (the closing quote is not itself
 * escaped, a \uXXXX is whole). */
static void check_closed(const char *buf, size_t n, size_t cap) {
    ASSERT(n <= cap);
    ASSERT(n >= 3 && memcmp(buf + n - 3, "\"}\n", 3) == 0);
    ASSERT(fz_utf8_valid(buf, n, NULL));
    size_t bs = 0;
    for (size_t i = n - 4; i > 0 && buf[i] == '\\'; i--) bs++;
    ASSERT(bs % 2 == 0);
    const char *u = strrchr(buf, 'u');
    if (u && u > buf && u[-1] == '\\') ASSERT(buf + n - 3 - u >= 5); /* \uXXXX whole */
}

TEST_IMPL(log_json_truncation) {
    /* messages of every length up to past the cap, of characters of every
     * escaped width (1, 2, 3, 6 bytes), are cut whole */
    static const char *units[] = {"x", "\"", "反", "\001", "\xff"};
    char msg[2048];
    char buf[300];
    for (size_t u = 0; u < FZ_ARRAY_LEN(units); u++)
        for (size_t len = 0; len < 400; len++) {
            size_t k = 0, ul = strlen(units[u]);
            while (k + ul < len) {
                memcpy(msg + k, units[u], ul);
                k += ul;
            }
            msg[k] = '\0';
            fz_test_context("unit %zu, length %zu", u, len);
            const fz_log_field f[] = {{"facility", "FAIL"}};
            size_t n = fz_log_format_json(buf, sizeof(buf) - 1, T0, FZ_LOG_INFO, "main", msg, f, 1);
            buf[n] = '\0';
            check_closed(buf, n, sizeof(buf) - 1);
            ASSERT_CONTAINS(buf, "\"facility\":\"FAIL\"");
            ASSERT_CONTAINS(buf, "\"msg\":\"");
        }
    fz_test_context("%s", "");
    /* a field too long for the line is left out whole; msg stays */
    char big[600];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const fz_log_field f[] = {{"facility", "FAIL"}, {"broker", big}};
    size_t n = fz_log_format_json(buf, sizeof(buf) - 1, T0, FZ_LOG_INFO, "main", "m", f, 2);
    buf[n] = '\0';
    check_closed(buf, n, sizeof(buf) - 1);
    ASSERT(!strstr(buf, "broker"));
    ASSERT_CONTAINS(buf, "\"msg\":\"m\"");
}

static void *component_thread(void *arg) {
    char *out = arg;
    snprintf(out, 64, "%s", fz_log_component()); /* before: unnamed */
    fz_log_set_component("stream-7");
    snprintf(out + 64, 64, "%s", fz_log_component());
    return NULL;
}

TEST_IMPL(log_component) {
    ASSERT_STR_EQ(fz_log_component(), "main");
    char got[128];
    pthread_t t;
    ASSERT(pthread_create(&t, NULL, component_thread, got) == 0);
    pthread_join(t, NULL);
    ASSERT_STR_EQ(got, "thread");
    ASSERT_STR_EQ(got + 64, "stream-7");
    ASSERT_STR_EQ(fz_log_component(), "main"); /* per thread */
    ASSERT_EQ_I64(fz_log_format_parse("json"), FZ_LOG_JSON);
    ASSERT_EQ_I64(fz_log_format_parse("text"), FZ_LOG_TEXT);
    ASSERT_EQ_I64(fz_log_format_parse("JSON"), -1);
}
