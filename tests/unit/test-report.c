/*
 * test-report.c - the report page (output/report.h) with a stand-in for
 * gnuplot (a shell script that records its input and prints a fixed SVG):
 * every string from input is escaped on the page and reduced before it
 * reaches gnuplot, the SVG is inlined without its XML prolog and namespace
 * URLs, the figures carry their data-figure names and exact values, and
 * the errors name what went wrong (gnuplot missing or failing, a bad alert
 * record, no periods).
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "ledger.h"
#include "report.h"
#include "test.h"

enum { H = 3600000, D = 86400000 };

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "rb");
    ASSERT(fp != NULL);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ASSERT(s != NULL);
    ASSERT(fread(s, 1, (size_t)n, fp) == (size_t)n);
    s[n] = '\0';
    fclose(fp);
    return s;
}

static const char *script(const char *dir, const char *name, const char *body) {
    const char *p = fz_test_write_str(dir, name, body);
    ASSERT(chmod(p, 0755) == 0);
    return p;
}

static void add(fz_ledger_book *b, int64_t start, const char *cat, uint64_t cases, const char *cur,
                int64_t lost, int64_t held) {
    fz_ledger_window w;
    memset(&w, 0, sizeof(w));
    w.start_ms = start;
    w.segment = w.first_offset = w.last_offset = -1;
    w.nrows = 2;
    for (int r = 0; r < 2; r++) {
        fz_ledger_row *row = &w.rows[r];
        snprintf(row->category, sizeof(row->category), "%s", r ? cat : "all");
        row->screened = row->cases = cases;
        row->alerts = 1;
        row->nmoney = 1;
        snprintf(row->money[0].currency, sizeof(row->money[0].currency), "%s", cur);
        row->money[0].lost_minor = lost;
        row->money[0].intercepted_minor = held;
    }
    ASSERT_EQ_I64(fz_ledger_book_add(b, &w), 0);
}

TEST_IMPL(report_page_escapes_and_figures) {
    const char *dir = fz_test_tmpdir();
    char gp_in[512], body[1024];
    snprintf(gp_in, sizeof(gp_in), "%s/gnuplot-input", dir);
    snprintf(body, sizeof(body),
             "#!/bin/sh\ncat >> '%s'\nprintf '<?xml version=\"1.0\"?>\\n<!DOCTYPE svg PUBLIC "
             "\"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\\n"
             "<svg width=\"760\" height=\"250\" viewBox=\"0 0 760 250\" "
             "xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">"
             "<text>chart</text></svg>\\n'\n",
             gp_in);
    fz_report_options o = {.lang = FZ_REPORT_EN, .gnuplot = script(dir, "fake-gnuplot", body)};

    /* two weeks at +08:00 (Mondays 2026-11-02 and -09); the second has a category named
     * like markup, and JPY */
    const int64_t w1 = INT64_C(1793548800000); /* 2026-11-02 00:00 +08:00 */
    fz_ledger_book *b = fz_ledger_book_new(H, 0);
    add(b, w1, "investment", 2, "CNY", 123456789, 100);
    add(b, w1 + 7 * (int64_t)D, "<b>&'\"x", 3, "JPY", 12345, 0);
    fz_period_spec spec = {FZ_PERIOD_WEEK, 8 * 3600, 0, INT64_MIN, INT64_MAX};
    char err[512];
    fz_ledger_periods *p = fz_ledger_periods_new(b, &spec, err, sizeof(err));
    ASSERT(p != NULL);
    ASSERT_EQ_U64(p->n, 2);

    /* alert records of the second week: a campaign whose sample and rule are hostile */
    char alerts[1024];
    long long t = (long long)(w1 + 7 * (int64_t)D + H);
    snprintf(alerts, sizeof(alerts),
             "{\"type\":\"campaign\",\"state\":\"closed\",\"key\":\"k1\",\"rule\":{\"id\":"
             "\"r.<i>\",\"category\":\"c&c\"},\"count\":12345,\"recipients_estimate\":9,"
             "\"senders_estimate\":2,\"first_ts\":%lld,\"last_ts\":%lld,\"sample\":"
             "\"<script>alert(1)</script>\\u5b89\"}\n"
             "\n"
             "{\"type\":\"alert\",\"ts\":%lld,\"rule\":{\"id\":\"r.<i>\",\"category\":\"c&c\"}}\n"
             "{\"type\":\"verdict\",\"anything\":true}\n",
             t, t + 60000, t);
    const char *file = fz_test_write_str(dir, "alerts.ndjson", alerts);
    const fz_ledger_period *rp = fz_report_period(p);
    ASSERT(rp == &p->cur[1]);
    fz_report_alerts *al = fz_report_alerts_new(rp->start_ms, rp->end_ms);
    ASSERT_EQ_I64(fz_report_alerts_read_file(al, file, err, sizeof(err)), 0);

    char page_path[512];
    snprintf(page_path, sizeof(page_path), "%s/page.html", dir);
    ASSERT_EQ_I64(fz_report_write(page_path, p, &o, al, err, sizeof(err)), 0);
    fz_report_alerts_destroy(al);
    char *page = slurp(page_path);
    /* input is text, never markup */
    ASSERT(strstr(page, "<script") == NULL);
    ASSERT(strstr(page, "<b>") == NULL);
    ASSERT_CONTAINS(page, "&lt;script&gt;alert(1)&lt;/script&gt;\xe5\xae\x89");
    ASSERT_CONTAINS(page, "data-figure=\"cat.&lt;b&gt;&amp;&#39;&quot;x.cases\" data-value=\"3\"");
    ASSERT_CONTAINS(page, ">r.&lt;i&gt;<");
    /* no URL anywhere: the SVG came without its prolog and namespaces */
    ASSERT(strstr(page, "http://") == NULL && strstr(page, "https://") == NULL);
    ASSERT(strstr(page, "<?xml") == NULL);
    ASSERT_CONTAINS(page, "<svg width=\"760\" height=\"250\" viewBox=\"0 0 760 250\">");
    /* the figures of the last week, with 环比 against the first */
    ASSERT_CONTAINS(page, "data-figure=\"cases\" data-value=\"3\">3<");
    ASSERT_CONTAINS(page, "data-figure=\"cases.previous\" data-value=\"1\" class=\"bad\">+1 "
                          "(+50.0%)<");
    ASSERT_CONTAINS(page, "data-figure=\"cases.period_ago\" data-value=\"\" class=\"none\">—<");
    ASSERT_CONTAINS(page, "data-figure=\"lost.JPY\" data-value=\"12345\">12,345<");
    ASSERT_CONTAINS(page, "data-figure=\"lost.CNY\" data-value=\"0\">0.00<");
    ASSERT_CONTAINS(page, "data-figure=\"lost.CNY.previous\" data-value=\"-123456789\" "
                          "class=\"good\">-1,234,567.89 (-100.0%)<");
    ASSERT_CONTAINS(page, "data-figure=\"recovery_rate.CNY\" data-value=\"\">—<");
    ASSERT_CONTAINS(page, "data-figure=\"campaign.0.events\" data-value=\"12345\">12,345<");
    ASSERT_CONTAINS(page, "data-figure=\"campaign.0.first_seen\"");
    ASSERT_CONTAINS(page, ">2026-11-09 01:00<"); /* at +08:00 */
    ASSERT_CONTAINS(page, "data-figure=\"rule.0.alerts\" data-value=\"1\">1<");
    free(page);
    /* gnuplot saw the category reduced to safe characters, and the two weeks */
    char *gp = slurp(gp_in);
    ASSERT(strchr(gp, '<') == NULL || strstr(gp, "<< EOD") != NULL);
    ASSERT(strstr(gp, "<b>") == NULL && strstr(gp, "&'") == NULL);
    ASSERT_CONTAINS(gp, "\"2026-W45\"");
    ASSERT_CONTAINS(gp, "\"2026-W46\"");
    ASSERT_CONTAINS(gp, "set terminal svg size 760,250");
    /* counts below 8 get whole-number tics (gnuplot's half steps, printed
     * without decimals, read "0 0 1 1 2"); amounts that large keep theirs */
    ASSERT_CONTAINS(gp, "set ytics 1\n");
    ASSERT(strstr(gp, "set format y '%g'") == NULL);
    free(gp);

    /* without alert files the page says what it needs instead of inventing numbers */
    ASSERT_EQ_I64(fz_report_write(page_path, p, &o, NULL, err, sizeof(err)), 0);
    page = slurp(page_path);
    ASSERT_CONTAINS(page, "data-figure=\"campaigns.missing\"");
    ASSERT_CONTAINS(page, "--alerts");
    ASSERT(strstr(page, "campaign.0.") == NULL);
    free(page);
    fz_ledger_periods_destroy(p);
    fz_ledger_book_destroy(b);
}

TEST_IMPL(report_errors) {
    const char *dir = fz_test_tmpdir();
    fz_ledger_book *b = fz_ledger_book_new(H, 0);
    add(b, INT64_C(1794067200000), "investment", 1, "CNY", 1, 0);
    fz_period_spec spec = {FZ_PERIOD_DAY, 0, 0, INT64_MIN, INT64_MAX};
    char err[512], path[512];
    fz_ledger_periods *p = fz_ledger_periods_new(b, &spec, err, sizeof(err));
    ASSERT(p != NULL);
    snprintf(path, sizeof(path), "%s/page.html", dir);
    struct stat st;

    fz_report_options o = {.lang = FZ_REPORT_ZH, .gnuplot = "/nonexistent/gnuplot"};
    ASSERT_EQ_I64(fz_report_write(path, p, &o, NULL, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "gnuplot-nox");
    ASSERT(stat(path, &st) != 0); /* nothing written */

    o.gnuplot = script(dir, "bad-gnuplot",
                       "#!/bin/sh\ncat >/dev/null\necho 'line 3: undefined variable: x' >&2\n"
                       "exit 1\n");
    ASSERT_EQ_I64(fz_report_write(path, p, &o, NULL, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "gnuplot failed (exit status 1): line 3: undefined variable: x");

    o.gnuplot = script(dir, "url-gnuplot",
                       "#!/bin/sh\ncat >/dev/null\necho '<svg><script "
                       "xlink:href=\"https://example.org/g.js\"/></svg>'\n");
    ASSERT_EQ_I64(fz_report_write(path, p, &o, NULL, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "refers to a URL");
    ASSERT(stat(path, &st) != 0);

    o.gnuplot = script(dir, "ok-gnuplot", "#!/bin/sh\ncat >/dev/null\necho '<svg></svg>'\n");
    const fz_ledger_period *rp = fz_report_period(p);
    fz_report_alerts *al = fz_report_alerts_new(rp->start_ms, rp->end_ms);
    const char *bad = fz_test_write_str(dir, "bad.ndjson", "\n{\"type\":\"alert\"}\n");
    ASSERT_EQ_I64(fz_report_alerts_read_file(al, bad, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "bad.ndjson:2: alert without an integer \"ts\"");
    ASSERT_EQ_I64(fz_report_alerts_read_file(al, "/nonexistent/alerts.ndjson", err, sizeof(err)),
                  -1);
    ASSERT_CONTAINS(err, "/nonexistent/alerts.ndjson: No such file");
    ASSERT_EQ_I64(fz_report_alerts_add(al, "[1]", 3, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "not a JSON object");
    const char *camp = "{\"type\":\"campaign\",\"key\":\"k\"}";
    ASSERT_EQ_I64(fz_report_alerts_add(al, camp, strlen(camp), err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "campaign record without");
    /* records of another period are refused at write time */
    fz_report_alerts *other = fz_report_alerts_new(0, 1);
    ASSERT_EQ_I64(fz_report_write(path, p, &o, other, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "another period");
    fz_report_alerts_destroy(other);
    ASSERT_EQ_I64(fz_report_write(path, p, &o, al, err, sizeof(err)), 0);
    ASSERT(stat(path, &st) == 0 && st.st_size > 1000);
    /* the tables are reduced and sorted: no records after the page */
    ASSERT_EQ_I64(fz_report_alerts_add(al, "{}", 2, err, sizeof(err)), -1);
    fz_report_alerts_destroy(al);
    fz_ledger_periods_destroy(p);
    fz_ledger_book_destroy(b);

    /* no periods: nothing to report */
    b = fz_ledger_book_new(H, 0);
    ASSERT((p = fz_ledger_periods_new(b, &spec, err, sizeof(err))) != NULL);
    ASSERT(fz_report_period(p) == NULL);
    ASSERT_EQ_I64(fz_report_write(path, p, &o, NULL, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "no statistics");
    fz_ledger_periods_destroy(p);
    fz_ledger_book_destroy(b);
}
