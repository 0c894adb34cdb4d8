/*
 * test-ledger.c - loss-recovery statistics: windows of event time that
 * close after the grace, late and invalid events, categories and money per
 * currency with their caps, checkpoints that round-trip, records read back
 * from their JSON, and a book whose sums and comparisons are checked
 * against a naive oracle over random streams split into "partitions".
 */
#include <stdlib.h>

#include "buf.h"
#include "ledger.h"
#include "rules.h"
#include "test.h"

enum { W = 60000 };

static fz_ledger *ledger(int64_t window, int64_t grace) {
    fz_ledger *l = fz_ledger_new(window, grace);
    ASSERT(l != NULL);
    return l;
}

static fz_str str(const char *s) { return (fz_str){s, s ? strlen(s) : 0}; }

static fz_result ev(fz_event_type type, int64_t ts) {
    fz_result r;
    memset(&r, 0, sizeof(r));
    r.ev.type = type;
    r.ev.ts_ms = ts;
    r.verdict = FZ_VERDICT_CLEAN;
    return r;
}

static fz_result report(int64_t ts, const char *amount_cur, int64_t minor, const char *cat) {
    fz_result r = ev(FZ_EV_REPORT, ts);
    r.ev.currency = str(amount_cur);
    r.ev.amount_minor = minor;
    r.ev.has_amount = 1;
    r.ev.category = str(cat);
    return r;
}

static fz_result intercept(int64_t ts, int64_t minor) {
    fz_result r = ev(FZ_EV_TRANSFER, ts);
    r.ev.currency = str("CNY");
    r.ev.amount_minor = minor;
    r.ev.has_amount = 1;
    r.verdict = FZ_VERDICT_ALERT;
    r.intercept = 1;
    return r;
}

static const fz_ledger_row *row(const fz_ledger_window *w, const char *cat) {
    for (uint32_t i = 0; i < w->nrows; i++)
        if (strcmp(w->rows[i].category, cat) == 0) return &w->rows[i];
    fz_test_fail(__FILE__, __LINE__, "no row '%s' in window %lld", cat, (long long)w->start_ms);
}

static int64_t money(const fz_ledger_row *r, const char *cur, int intercepted) {
    for (uint32_t i = 0; i < r->nmoney; i++)
        if (strcmp(r->money[i].currency, cur) == 0)
            return intercepted ? r->money[i].intercepted_minor : r->money[i].lost_minor;
    return 0;
}

TEST_IMPL(ledger_windows_late_invalid) {
    fz_ledger *l = ledger(W, 5000);
    fz_ledger_window out;
    fz_result bad = ev(FZ_EV_SMS, 0);
    bad.verdict = FZ_VERDICT_INVALID;
    fz_ledger_add_result(l, &bad, NULL, -1); /* nothing open yet: into the first window */
    fz_result a = ev(FZ_EV_SMS, 10 * W + 5);
    fz_ledger_add_result(l, &a, NULL, 7);
    fz_ledger_add_result(l, &a, NULL, 3);
    fz_ledger_add_result(l, &bad, NULL, -1);
    ASSERT_EQ_I64(fz_ledger_open_count(l), 1);
    ASSERT(!fz_ledger_pop_closed(l, &out));
    /* within the grace: the window is still open and takes its events */
    fz_result b = ev(FZ_EV_SMS, 11 * W + 4999);
    fz_ledger_add_result(l, &b, NULL, 9);
    fz_result c = ev(FZ_EV_SMS, 10 * W + 100);
    fz_ledger_add_result(l, &c, NULL, 10);
    ASSERT(!fz_ledger_pop_closed(l, &out));
    /* the watermark passes end + grace: closed; an event for it is late */
    fz_result d = ev(FZ_EV_SMS, 11 * W + 5000);
    fz_ledger_add_result(l, &d, NULL, 11);
    fz_result late = ev(FZ_EV_SMS, 10 * W + 1);
    fz_ledger_add_result(l, &late, NULL, 12);
    ASSERT(fz_ledger_pop_closed(l, &out));
    ASSERT_EQ_I64(out.start_ms, 10 * W);
    ASSERT_EQ_U64(out.rows[0].screened, 3);
    ASSERT_EQ_U64(out.rows[0].invalid, 2);
    ASSERT_EQ_U64(out.rows[0].late, 0);
    ASSERT_EQ_I64(out.first_offset, 3);
    ASSERT_EQ_I64(out.last_offset, 10);
    ASSERT(!fz_ledger_pop_closed(l, &out));
    ASSERT(fz_ledger_pop_any(l, &out));
    ASSERT_EQ_I64(out.start_ms, 11 * W);
    ASSERT_EQ_U64(out.rows[0].screened, 2);
    ASSERT_EQ_U64(out.rows[0].late, 1); /* counted where it can still be seen */
    ASSERT(!fz_ledger_pop_any(l, &out));
    /* late with nothing open: carried into the next window opened */
    fz_ledger_add_result(l, &late, NULL, 13);
    fz_result e = ev(FZ_EV_SMS, 12 * W);
    fz_ledger_add_result(l, &e, NULL, 14);
    ASSERT(fz_ledger_pop_any(l, &out));
    ASSERT_EQ_U64(out.rows[0].late, 1);
    ASSERT_EQ_U64(out.rows[0].screened, 1);
    fz_ledger_destroy(l);
    /* negative event times floor to the window below */
    l = ledger(W, 0);
    fz_result neg = ev(FZ_EV_SMS, -1);
    fz_ledger_add_result(l, &neg, NULL, -1);
    ASSERT(fz_ledger_pop_any(l, &out));
    ASSERT_EQ_I64(out.start_ms, -W);
    fz_ledger_destroy(l);
}

TEST_IMPL(ledger_categories_and_money) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(
        dir, "r.yaml",
        "rules:\n"
        "  - id: t.police\n    category: impersonate_police\n    pattern: '安全账户'\n"
        "    severity: critical\n");
    fz_ruleset *rs = fz_test_load_rules(dir);
    fz_ledger *l = ledger(W, 0);
    fz_result al = ev(FZ_EV_SMS, 1);
    al.verdict = FZ_VERDICT_ALERT;
    al.nrules = 1;
    al.primary = 0;
    fz_ledger_add_result(l, &al, rs, -1);
    al.verdict = FZ_VERDICT_SUPPRESSED;
    fz_ledger_add_result(l, &al, rs, -1);
    fz_result r1 = report(2, "CNY", 500000, "impersonate_police");
    fz_ledger_add_result(l, &r1, rs, -1);
    fz_result r2 = report(3, NULL, 100, NULL); /* no currency: CNY; no category */
    fz_ledger_add_result(l, &r2, rs, -1);
    fz_result t = intercept(4, 120000);
    fz_ledger_add_result(l, &t, rs, -1);
    /* more currencies than a row holds: counted, not converted or lost silently */
    const char *curs[] = {"USD", "EUR", "JPY", "GBP"};
    for (int i = 0; i < 4; i++) {
        fz_result r = report(5, curs[i], 1000 + i, "investment");
        fz_ledger_add_result(l, &r, rs, -1);
    }
    /* more categories named by input than it may have rows: the rest go to "unlisted" */
    char names[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "cat%02d", i);
        fz_result r = report(6, "CNY", 1, names[i]);
        fz_ledger_add_result(l, &r, rs, -1);
    }
    fz_ledger_window w;
    ASSERT(fz_ledger_pop_any(l, &w));
    const fz_ledger_row *all = &w.rows[0];
    ASSERT_STR_EQ(all->category, "all");
    ASSERT_EQ_U64(all->screened, 2 + 2 + 1 + 4 + 40);
    ASSERT_EQ_U64(all->alerts, 2); /* the sms alert and the intercept */
    ASSERT_EQ_U64(all->suppressed, 1);
    ASSERT_EQ_U64(all->campaigns, 1); /* only the sms alert with rules */
    ASSERT_EQ_U64(all->cases, 2 + 4 + 40);
    ASSERT_EQ_U64(all->intercepts, 1);
    ASSERT_EQ_I64(money(all, "CNY", 0), 500000 + 100 + 40);
    ASSERT_EQ_I64(money(all, "CNY", 1), 120000);
    ASSERT_EQ_I64(money(all, "USD", 0), 1000);
    ASSERT_EQ_I64(money(all, "JPY", 0), 1002);
    ASSERT_EQ_U64(all->nmoney, 4);
    ASSERT_EQ_U64(all->money_overflow, 1); /* GBP */
    const fz_ledger_row *p = row(&w, "impersonate_police");
    ASSERT_EQ_U64(p->screened, 3);
    ASSERT_EQ_U64(p->alerts, 1);
    ASSERT_EQ_U64(p->suppressed, 1);
    ASSERT_EQ_U64(p->cases, 1);
    ASSERT_EQ_U64(row(&w, "unspecified")->cases, 1);
    ASSERT_EQ_I64(money(row(&w, "intercept"), "CNY", 1), 120000);
    ASSERT_EQ_U64(w.ninput, FZ_LEDGER_INPUT_CATEGORIES); /* "investment" and 15 "catNN" */
    uint64_t named = 0;
    for (uint32_t i = 0; i < w.nrows; i++)
        if (strncmp(w.rows[i].category, "cat", 3) == 0) named += w.rows[i].cases;
    ASSERT_EQ_U64(named, FZ_LEDGER_INPUT_CATEGORIES - 1);
    ASSERT_EQ_U64(named + row(&w, "unlisted")->cases, 40);
    fz_ledger_destroy(l);
    fz_ruleset_unref(rs);
}

TEST_IMPL(ledger_checkpoint_roundtrip) {
    fz_ledger *l = ledger(W, 2000), *m = ledger(W, 2000), *other = ledger(2 * W, 2000);
    for (int i = 0; i < 50; i++) {
        fz_result r = report(i * 2500, i % 3 ? "CNY" : "USD", 100 + i, i % 2 ? "a" : "b");
        fz_ledger_add_result(l, &r, NULL, i);
    }
    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    ASSERT(fz_ledger_save(l, &b) == FZ_OK);
    fz_buf_puts(&b, "tail"); /* a caller's own data after the ledger's */
    char err[256];
    size_t used = fz_ledger_load(m, b.p, b.len, err, sizeof(err));
    ASSERT_EQ_U64(used, b.len - 4);
    ASSERT_EQ_U64(fz_ledger_load(other, b.p, b.len, err, sizeof(err)), 0);
    ASSERT_CONTAINS(err, "windows");
    ASSERT_EQ_U64(fz_ledger_load(m, b.p, 10, err, sizeof(err)), 0);
    ASSERT_CONTAINS(err, "not a statistics checkpoint");
    /* the loaded ledger goes on exactly like the original */
    for (int i = 50; i < 80; i++) {
        fz_result r = report(i * 2500, "CNY", 7, "a");
        fz_ledger_add_result(l, &r, NULL, i);
        fz_ledger_add_result(m, &r, NULL, i);
    }
    fz_ledger_window x, y;
    int n = 0;
    while (fz_ledger_pop_any(l, &x)) {
        ASSERT(fz_ledger_pop_any(m, &y));
        ASSERT_EQ_I64(x.start_ms, y.start_ms);
        ASSERT_EQ_U64(x.nrows, y.nrows);
        ASSERT(memcmp(x.rows, y.rows, x.nrows * sizeof(x.rows[0])) == 0);
        n++;
    }
    ASSERT(n >= 2);
    ASSERT(!fz_ledger_pop_any(m, &y));
    fz_buf_free(&b);
    fz_ledger_destroy(l);
    fz_ledger_destroy(m);
    fz_ledger_destroy(other);
}

TEST_IMPL(ledger_record_roundtrip) {
    fz_ledger *l = ledger(W, 0);
    fz_result r1 = report(5 * W + 1, "CNY", 123456, "冒充公检法"); /* multi-byte name */
    fz_result r2 = report(5 * W + 2, "USD", 99, "quote\"and\\slash");
    fz_result t = intercept(5 * W + 3, 4200);
    fz_ledger_add_result(l, &r1, NULL, 40);
    fz_ledger_add_result(l, &r2, NULL, 41);
    fz_ledger_add_result(l, &t, NULL, 42);
    fz_ledger_window w;
    ASSERT(fz_ledger_pop_any(l, &w));
    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    fz_ledger_source src = {"g1", "events", 3, NULL, NULL};
    ASSERT(fz_ledger_window_encode(&b, &w, W, 0, &src, NULL) == FZ_OK);
    tj *j;
    ASSERT_JSON(j, b.p, b.len);
    tj_free(j);
    fz_ledger_record rec;
    char err[256];
    ASSERT_EQ_I64(fz_ledger_record_decode(b.p, b.len, &rec, err, sizeof(err)), 0);
    ASSERT_EQ_I64(rec.window_ms, W);
    ASSERT_EQ_I64(rec.final, 0);
    ASSERT_EQ_U64(rec.w.interim, 1);
    ASSERT_STR_EQ(rec.group, "g1");
    ASSERT_STR_EQ(rec.topic, "events");
    ASSERT_EQ_I64(rec.partition, 3);
    ASSERT_EQ_I64(rec.w.start_ms, w.start_ms);
    ASSERT_EQ_I64(rec.w.first_offset, 40);
    ASSERT_EQ_I64(rec.w.last_offset, 42);
    ASSERT_EQ_U64(rec.w.nrows, w.nrows);
    ASSERT(memcmp(rec.w.rows, w.rows, w.nrows * sizeof(w.rows[0])) == 0);

    /* with comparisons: they are skipped, the window is the same */
    fz_ledger_compare cmp = {&w, NULL, 4 * W, INT64_MIN, 86400000};
    fz_buf_reset(&b);
    ASSERT(fz_ledger_window_encode(&b, &w, W, 1, NULL, &cmp) == FZ_OK);
    ASSERT_EQ_I64(fz_ledger_record_decode(b.p, b.len, &rec, err, sizeof(err)), 0);
    ASSERT_EQ_I64(rec.final, 1);
    ASSERT_EQ_I64(rec.partition, -1);
    ASSERT(memcmp(rec.w.rows, w.rows, w.nrows * sizeof(w.rows[0])) == 0);

    static const struct {
        const char *json, *err;
    } bad[] = {
        {"[]", "a JSON object"},
        {"{\"type\":\"alert\"}", "field 'type'"},
        {"{\"type\":\"stats\",\"final\":true,\"window\":{\"start\":5,\"end\":5},\"rows\":[]}",
         "field 'window'"},
        {"{\"type\":\"stats\",\"final\":1,\"window\":{\"start\":0,\"end\":5}}", "field 'final'"},
        {"{\"type\":\"stats\",\"final\":true,\"window\":{\"start\":0,\"end\":5},"
         "\"rows\":[{\"category\":\"x\",\"screened\":1,\"money\":[]}]}",
         "rows[0].category"},
        {"{\"type\":\"stats\",\"final\":true,\"window\":{\"start\":0,\"end\":5},"
         "\"rows\":[{\"category\":\"all\",\"screened\":-1,\"money\":[]}]}",
         "rows[0].screened"},
        {"{\"type\":\"stats\",\"final\":true,\"window\":{\"start\":0,\"end\":5},"
         "\"rows\":[{\"category\":\"all\",\"money\":[{\"currency\":\"CNY\",\"lost\":1.5}]}]}",
         "money[].lost"},
        {"{\"type\":\"stats\",\"final\":true,\"window\":{\"start\":0,\"end\":5}}", "field 'rows'"},
        {"{\"type\":\"stats\",", "not JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fz_test_context("bad record %zu", i);
        ASSERT_EQ_I64(
            fz_ledger_record_decode(bad[i].json, strlen(bad[i].json), &rec, err, sizeof(err)), -1);
        ASSERT_CONTAINS(err, bad[i].err);
    }
    fz_buf_free(&b);
    fz_ledger_destroy(l);
}

/* Oracle: random reports and intercepts over 4 "partitions", each with its
 * own ledger whose windows go into one book; the book's sums and its
 * comparisons must equal direct sums over the events. */
TEST_IMPL(ledger_book_oracle) {
    enum { NW = 40, NP = 4, NEV = 3000, PERIOD = 7 };
    static int64_t cases[NW], lost[NW], held[NW], screened[NW];
    memset(cases, 0, sizeof(cases));
    memset(lost, 0, sizeof(lost));
    memset(held, 0, sizeof(held));
    memset(screened, 0, sizeof(screened));
    fz_ledger *part[NP];
    for (int p = 0; p < NP; p++) part[p] = ledger(W, 0);
    fz_ledger_book *book = fz_ledger_book_new(W, PERIOD * W);
    ASSERT(book != NULL);
    int64_t ts = 0;
    fz_ledger_window w;
    for (int i = 0; i < NEV; i++) {
        ts += (int64_t)fz_test_rand_below(1600); /* some windows stay empty */
        int wi = (int)(ts / W);
        if (wi >= NW) break;
        if (wi % 9 == 4) continue; /* a window with no events anywhere */
        int p = (int)fz_test_rand_below(NP);
        int64_t amount = 1 + (int64_t)fz_test_rand_below(1000000);
        fz_result r =
            fz_test_rand_below(3) ? report(ts, "CNY", amount, "x") : intercept(ts, amount);
        fz_ledger_add_result(part[p], &r, NULL, i);
        screened[wi]++;
        if (r.ev.type == FZ_EV_REPORT) {
            cases[wi]++;
            lost[wi] += amount;
        } else {
            held[wi] += amount;
        }
        while (fz_ledger_pop_closed(part[p], &w)) ASSERT_EQ_I64(fz_ledger_book_add(book, &w), 0);
    }
    for (int p = 0; p < NP; p++) {
        while (fz_ledger_pop_any(part[p], &w)) ASSERT_EQ_I64(fz_ledger_book_add(book, &w), 0);
        fz_ledger_destroy(part[p]);
    }
    int first = -1, nonempty = 0;
    for (int i = 0; i < NW; i++)
        if (screened[i]) {
            if (first < 0) first = i;
            nonempty++;
        }
    ASSERT_EQ_U64(fz_ledger_book_count(book), nonempty);
    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    for (size_t k = 0; k < fz_ledger_book_count(book); k++) {
        fz_ledger_compare cmp;
        const fz_ledger_window *bw = fz_ledger_book_window(book, k, &cmp);
        int wi = (int)(bw->start_ms / W);
        fz_test_context("window %d", wi);
        ASSERT_EQ_U64(bw->rows[0].screened, screened[wi]);
        ASSERT_EQ_U64(bw->rows[0].cases, cases[wi]);
        ASSERT_EQ_I64(money(&bw->rows[0], "CNY", 0), lost[wi]);
        ASSERT_EQ_I64(money(&bw->rows[0], "CNY", 1), held[wi]);
        /* comparisons: zeros for an empty window after the first, null before */
        fz_buf_reset(&b);
        ASSERT(fz_ledger_window_encode(&b, bw, W, 1, NULL, &cmp) == FZ_OK);
        tj *j;
        ASSERT_JSON(j, b.p, b.len);
        const struct {
            const char *name;
            int back;
        } cmps[] = {{"previous", 1}, {"period_ago", PERIOD}};
        for (int c = 0; c < 2; c++) {
            char path[64];
            int pw = wi - cmps[c].back;
            snprintf(path, sizeof(path), "rows.0.%s", cmps[c].name);
            const tj *o = tj_get(j, path);
            ASSERT(o != NULL);
            if (pw < first) {
                ASSERT(o->type == TJ_NULL);
                continue;
            }
            int64_t v;
            snprintf(path, sizeof(path), "rows.0.%s.window_start", cmps[c].name);
            ASSERT(tj_int(tj_get(j, path), &v));
            ASSERT_EQ_I64(v, (int64_t)pw * W);
            snprintf(path, sizeof(path), "rows.0.%s.change.cases", cmps[c].name);
            ASSERT(tj_int(tj_get(j, path), &v));
            ASSERT_EQ_I64(v, cases[wi] - cases[pw]);
            snprintf(path, sizeof(path), "rows.0.%s.values.screened", cmps[c].name);
            ASSERT(tj_int(tj_get(j, path), &v));
            ASSERT_EQ_I64(v, screened[pw]);
            snprintf(path, sizeof(path), "rows.0.%s.change.money.0.intercepted", cmps[c].name);
            const tj *m = tj_get(j, path);
            if (m) { /* present when either window had money */
                ASSERT(tj_int(m, &v));
                ASSERT_EQ_I64(v, held[wi] - held[pw]);
            }
        }
        tj_free(j);
    }
    fz_ledger_window total;
    fz_ledger_book_total(book, &total);
    int64_t sc = 0;
    for (int i = 0; i < NW; i++) sc += cases[i];
    ASSERT_EQ_U64(total.rows[0].cases, sc);
    fz_buf_free(&b);
    fz_ledger_book_destroy(book);
}

/* Money sums never wrap: amounts that would overflow int64 saturate at its
 * maximum and the row says so (two reports of 5e16 CNY once summed to a
 * negative loss). */
TEST_IMPL(ledger_money_sums_checked) {
    fz_ledger *l = ledger(W, 0);
    for (int i = 0; i < 3; i++) {
        fz_result r = report(1, "CNY", 5000000000000000000LL, "x");
        fz_ledger_add_result(l, &r, NULL, -1);
    }
    fz_ledger_window w;
    ASSERT(fz_ledger_pop_any(l, &w));
    ASSERT_EQ_I64(money(&w.rows[0], "CNY", 0), INT64_MAX);
    ASSERT(w.rows[0].money[0].saturated);
    fz_buf b;
    fz_buf_init(&b, 1 << 20);
    ASSERT(fz_ledger_window_encode(&b, &w, W, 1, NULL, NULL) == FZ_OK);
    ASSERT(memmem(b.p, b.len, "\"saturated\":true", 16) != NULL);
    ASSERT(memmem(b.p, b.len, "-", 1) == NULL || memmem(b.p, b.len, "\"lost\":-", 8) == NULL);
    /* the book sums partial windows with the same rule */
    fz_ledger_book *book = fz_ledger_book_new(W, 0);
    ASSERT(fz_ledger_book_add(book, &w) == 0 && fz_ledger_book_add(book, &w) == 0);
    fz_ledger_window total;
    fz_ledger_book_total(book, &total);
    ASSERT_EQ_I64(money(&total.rows[0], "CNY", 0), INT64_MAX);
    ASSERT(total.rows[0].money[0].saturated);
    fz_ledger_book_destroy(book);
    fz_buf_free(&b);
    fz_ledger_destroy(l);
}

/* Input cannot name a reserved row: a report whose category is "all",
 * "intercept", "unspecified" or "unlisted" is counted under "unlisted",
 * and there is exactly one row of each name. */
TEST_IMPL(ledger_reserved_rows) {
    fz_ledger *l = ledger(W, 0);
    const char *reserved[] = {"all", "intercept", "unspecified", "unlisted"};
    for (int i = 0; i < 4; i++) {
        fz_result r = report(1, "CNY", 100, reserved[i]);
        fz_ledger_add_result(l, &r, NULL, -1);
    }
    fz_result t = intercept(2, 700);
    fz_ledger_add_result(l, &t, NULL, -1);
    fz_ledger_window w;
    ASSERT(fz_ledger_pop_any(l, &w));
    for (uint32_t i = 0; i < w.nrows; i++)
        for (uint32_t j = i + 1; j < w.nrows; j++)
            ASSERT(strcmp(w.rows[i].category, w.rows[j].category) != 0);
    ASSERT_EQ_U64(w.rows[0].cases, 4);
    ASSERT_EQ_U64(row(&w, "unlisted")->cases, 4);
    ASSERT_EQ_I64(money(row(&w, "unlisted"), "CNY", 0), 400);
    ASSERT_EQ_U64(row(&w, "intercept")->intercepts, 1);
    ASSERT_EQ_U64(row(&w, "intercept")->cases, 0);
    fz_ledger_destroy(l);
}

/* Categories named by input are bounded: a flood of made-up report
 * categories fills at most FZ_LEDGER_INPUT_CATEGORIES rows and the rest is
 * counted under "unlisted"; the ruleset's categories always keep theirs. */
TEST_IMPL(ledger_input_categories_bounded) {
    const char *dir = fz_test_tmpdir();
    fz_buf y;
    fz_buf_init(&y, 1 << 20);
    fz_buf_puts(&y, "rules:\n");
    for (int i = 0; i < 40; i++)
        fz_buf_printf(&y,
                      "  - id: t.r%02d\n    category: real_%02d\n    pattern: 'kw%02dx'\n"
                      "    severity: high\n",
                      i, i, i);
    fz_buf_putc(&y, '\0');
    fz_test_write_str(dir, "r.yaml", y.p);
    fz_ruleset *rs = fz_test_load_rules(dir);
    fz_ledger *l = ledger(W, 0);
    for (int i = 0; i < 100; i++) { /* junk first: it must not crowd out the rules */
        char name[32];
        snprintf(name, sizeof(name), "junk%03d", i);
        fz_result r = report(1, "CNY", 1, name);
        fz_ledger_add_result(l, &r, rs, -1);
    }
    for (int i = 0; i < 40; i++) {
        fz_result al = ev(FZ_EV_SMS, 2);
        al.verdict = FZ_VERDICT_ALERT;
        al.nrules = 1;
        al.primary = (uint32_t)i;
        fz_ledger_add_result(l, &al, rs, -1);
        char name[32];
        snprintf(name, sizeof(name), "real_%02d", i); /* a report naming a rule category */
        fz_result r = report(3, "CNY", 10, name);
        fz_ledger_add_result(l, &r, rs, -1);
    }
    fz_ledger_window w;
    ASSERT(fz_ledger_pop_any(l, &w));
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof(name), "real_%02d", i);
        fz_test_context("%s", name);
        ASSERT_EQ_U64(row(&w, name)->alerts, 1);
        ASSERT_EQ_U64(row(&w, name)->cases, 1);
    }
    fz_test_context("%s", "");
    uint64_t junk_rows = 0, junk_cases = 0;
    for (uint32_t i = 0; i < w.nrows; i++)
        if (!strncmp(w.rows[i].category, "junk", 4)) {
            junk_rows++;
            junk_cases += w.rows[i].cases;
        }
    ASSERT_EQ_U64(junk_rows, FZ_LEDGER_INPUT_CATEGORIES);
    ASSERT_EQ_U64(junk_cases + row(&w, "unlisted")->cases, 100);
    ASSERT_EQ_U64(w.rows[0].cases, 140);
    fz_ledger_destroy(l);
    fz_ruleset_unref(rs);
    fz_buf_free(&y);
}

/* An invalid event before the partition's first valid one is counted
 * (in the first window that opens), not dropped. */
TEST_IMPL(ledger_invalid_before_first_valid) {
    fz_ledger *l = ledger(W, 0);
    fz_result bad = ev(FZ_EV_SMS, 0);
    bad.verdict = FZ_VERDICT_INVALID;
    fz_ledger_add_result(l, &bad, NULL, 0);
    fz_ledger_add_result(l, &bad, NULL, 1);
    fz_result a = ev(FZ_EV_SMS, 5 * W);
    fz_ledger_add_result(l, &a, NULL, 2);
    fz_ledger_window w;
    ASSERT(fz_ledger_pop_any(l, &w));
    ASSERT_EQ_U64(w.rows[0].invalid, 2);
    ASSERT_EQ_U64(w.rows[0].screened, 1);
    fz_ledger_destroy(l);
    /* and event times at the edge of int64 do not overflow the window arithmetic */
    l = ledger(W, 5000);
    fz_result far = ev(FZ_EV_SMS, INT64_MAX - 1);
    fz_ledger_add_result(l, &far, NULL, 3);
    ASSERT(fz_ledger_pop_any(l, &w));
    ASSERT_EQ_U64(w.rows[0].screened, 1);
    fz_ledger_destroy(l);
}

/* The decide stage's ledger never counts late and closes windows only for
 * room: the eight most recent stay open whatever the watermark; a ninth
 * pushes the oldest out (popped next); an event for a window pushed out
 * opens it again as a new segment named by the offset that opened it; the
 * segments' records sum to what one ledger would count. The screen stage
 * judges lateness of the events it routes (fz_ledger_route). */
TEST_IMPL(ledger_reopen_segments) {
    fz_ledger *l = ledger(W, 0);
    fz_ledger_set_reopen(l, 1);
    fz_ledger_window out;
    fz_result a = ev(FZ_EV_SMS, 10 * W + 5);
    fz_ledger_add_result(l, &a, NULL, 10);
    fz_result b = ev(FZ_EV_SMS, 30 * W);
    fz_ledger_add_result(l, &b, NULL, 11); /* far ahead: window 10 stays open */
    ASSERT(!fz_ledger_pop_closed(l, &out));
    fz_ledger_add_result(l, &a, NULL, 12); /* still counted in window 10 */
    for (int i = 0; i < 7; i++) {          /* windows 31..37: the ninth pushes 10 out */
        fz_result e = ev(FZ_EV_SMS, (31 + i) * W);
        fz_ledger_add_result(l, &e, NULL, 100 + i);
    }
    ASSERT(fz_ledger_pop_closed(l, &out));
    ASSERT_EQ_I64(out.start_ms, 10 * W);
    ASSERT_EQ_I64(out.segment, 10);
    ASSERT_EQ_U64(out.rows[0].screened, 2);
    ASSERT(!fz_ledger_pop_closed(l, &out));
    fz_ledger_add_result(l, &a, NULL, 50); /* window 10 again: a new segment, not late */
    ASSERT(fz_ledger_pop_closed(l, &out)); /* it pushed window 30 out */
    ASSERT_EQ_I64(out.start_ms, 30 * W);
    ASSERT_EQ_I64(out.segment, 11);
    uint64_t screened = 0, late = 0;
    fz_ledger_window x;
    int n = 0;
    /* checkpoints keep segments; then everything pops */
    fz_buf buf;
    fz_buf_init(&buf, 1 << 22);
    ASSERT(fz_ledger_save(l, &buf) == FZ_OK);
    fz_ledger *m = ledger(W, 0);
    fz_ledger_set_reopen(m, 1);
    char err[128];
    ASSERT_EQ_U64(fz_ledger_load(m, buf.p, buf.len, err, sizeof(err)), buf.len);
    while (fz_ledger_pop_any(m, &x)) {
        if (x.start_ms == 10 * W) ASSERT_EQ_I64(x.segment, 50);
        screened += x.rows[0].screened;
        late += x.rows[0].late;
        n++;
    }
    ASSERT_EQ_I64(n, 8);
    ASSERT_EQ_U64(screened + 2 + 1, 1 + 2 + 7 + 1); /* b, a twice, 7 others, a again */
    ASSERT_EQ_U64(late, 0);
    fz_buf_free(&buf);
    fz_ledger_destroy(l);
    fz_ledger_destroy(m);

    /* routing: late events are counted late here and not routed */
    l = ledger(W, 0);
    ASSERT_EQ_I64(fz_ledger_route(l, 10 * W), 0);
    ASSERT_EQ_I64(fz_ledger_route(l, 12 * W), 0);
    ASSERT_EQ_I64(fz_ledger_route(l, 10 * W + 1), 1);
    fz_result c = ev(FZ_EV_SMS, 12 * W + 1);
    fz_ledger_add_result(l, &c, NULL, 3);
    ASSERT(fz_ledger_pop_any(l, &out));
    ASSERT_EQ_U64(out.rows[0].screened, 1);
    ASSERT_EQ_U64(out.rows[0].late, 1);
    fz_ledger_destroy(l);
}
