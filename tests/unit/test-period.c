/*
 * test-period.c - calendar periods of the statistics book: UTC offsets and
 * local dates parsed strictly, day / ISO week / month boundaries (month
 * lengths, leap years, weeks across years, offsets east and west of UTC),
 * 同比 a year or a span earlier, periods summed from a book (empty periods
 * are zeros, compared periods before the first record have no data), a
 * window straddling a boundary refused, and money with thousands
 * separators in each currency's decimals.
 */
#include <stdlib.h>

#include "ledger.h"
#include "test.h"

enum { H = 3600000, D = 86400000 };
static const int32_t CST = 8 * 3600, EST = -5 * 3600;

/* ms since the epoch of a UTC time */
static int64_t utc(int y, int mo, int d, int h, int mi) {
    int64_t ms;
    char s[16];
    snprintf(s, sizeof(s), "%04d-%02d-%02d", y, mo, d);
    ASSERT_EQ_I64(fz_local_date_parse(s, 0, &ms), 0);
    return ms + (int64_t)h * H + (int64_t)mi * 60000;
}

/* ms of a local midnight at offset off */
static int64_t local(int y, int mo, int d, int32_t off) {
    return utc(y, mo, d, 0, 0) - off * 1000LL;
}

static void label_is(fz_period_unit u, int32_t off, int64_t start, const char *want) {
    char got[16];
    fz_period_label(u, off, start, got);
    ASSERT_STR_EQ(got, want);
}

TEST_IMPL(period_parse_offsets_dates) {
    int32_t off = 1;
    ASSERT_EQ_I64(fz_utc_offset_parse("+08:00", &off), 0);
    ASSERT_EQ_I64(off, 28800);
    ASSERT_EQ_I64(fz_utc_offset_parse("-05:00", &off), 0);
    ASSERT_EQ_I64(off, -18000);
    ASSERT_EQ_I64(fz_utc_offset_parse("+0530", &off), 0);
    ASSERT_EQ_I64(off, 19800);
    ASSERT_EQ_I64(fz_utc_offset_parse("+8", &off), 0);
    ASSERT_EQ_I64(off, 28800);
    ASSERT_EQ_I64(fz_utc_offset_parse("Z", &off), 0);
    ASSERT_EQ_I64(off, 0);
    ASSERT_EQ_I64(fz_utc_offset_parse("+14:00", &off), 0);
    const char *bad[] = {"08:00", "+15:00", "+08:60", "+08:0", "+080", "", "+", "UTC+8", "+08:00x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fz_test_context("offset '%s'", bad[i]);
        ASSERT_EQ_I64(fz_utc_offset_parse(bad[i], &off), -1);
    }
    fz_test_context("%s", "");
    char s[8];
    fz_utc_offset_format(-18000, s);
    ASSERT_STR_EQ(s, "-05:00");
    fz_utc_offset_format(19800, s);
    ASSERT_STR_EQ(s, "+05:30");

    int64_t ms;
    ASSERT_EQ_I64(fz_local_date_parse("2024-02-29", CST, &ms), 0);
    ASSERT_EQ_I64(ms, utc(2024, 2, 28, 16, 0)); /* midnight at +08:00 is 16:00 UTC the day before */
    const char *bad_dates[] = {"2023-02-29", "2024-13-01", "2024-00-10",  "2024-1-01",
                               "2024-01-32", "2024/01/01", "2024-01-01T", "1900-02-29"};
    for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
        fz_test_context("date '%s'", bad_dates[i]);
        ASSERT_EQ_I64(fz_local_date_parse(bad_dates[i], 0, &ms), -1);
    }
    ASSERT_EQ_I64(fz_local_date_parse("2000-02-29", 0, &ms), 0); /* divisible by 400: leap */
    char t[24];
    fz_local_time_format(utc(2026, 12, 31, 16, 30), CST, 1, t);
    ASSERT_STR_EQ(t, "2027-01-01 00:30");
    fz_local_time_format(utc(2026, 3, 1, 4, 59), EST, 0, t);
    ASSERT_STR_EQ(t, "2026-02-28");
}

TEST_IMPL(period_months_and_leap_years) {
    /* month floors and lengths, east and west of UTC */
    int64_t feb = local(2024, 2, 1, CST);
    ASSERT_EQ_I64(fz_period_floor(FZ_PERIOD_MONTH, CST, local(2024, 2, 29, CST) + 23 * H), feb);
    ASSERT_EQ_I64(fz_period_shift(FZ_PERIOD_MONTH, CST, feb, 1) - feb, 29LL * D);
    int64_t feb23 = local(2023, 2, 1, CST);
    ASSERT_EQ_I64(fz_period_shift(FZ_PERIOD_MONTH, CST, feb23, 1) - feb23, 28LL * D);
    int64_t feb2100 = local(2100, 2, 1, 0); /* divisible by 100, not 400: not leap */
    ASSERT_EQ_I64(fz_period_shift(FZ_PERIOD_MONTH, 0, feb2100, 1) - feb2100, 28LL * D);
    /* across a year, forwards and back */
    int64_t dec = local(2023, 12, 1, CST);
    ASSERT_EQ_I64(fz_period_shift(FZ_PERIOD_MONTH, CST, dec, 1), local(2024, 1, 1, CST));
    ASSERT_EQ_I64(fz_period_shift(FZ_PERIOD_MONTH, CST, local(2024, 1, 1, CST), -1), dec);
    ASSERT_EQ_I64(fz_period_shift(FZ_PERIOD_MONTH, CST, dec, -25), local(2021, 11, 1, CST));
    label_is(FZ_PERIOD_MONTH, CST, dec, "2023-12");
    /* 31 March 23:30 at -05:00 is 1 April 04:30 UTC: still March there */
    int64_t t = utc(2026, 4, 1, 4, 30);
    ASSERT_EQ_I64(fz_period_floor(FZ_PERIOD_MONTH, EST, t), local(2026, 3, 1, EST));
    ASSERT_EQ_I64(fz_period_floor(FZ_PERIOD_MONTH, CST, t), local(2026, 4, 1, CST));
    /* 同比: the same month, the same day (29 February -> 28 February) */
    ASSERT_EQ_I64(fz_period_span_ago(FZ_PERIOD_MONTH, CST, feb, 0), feb23);
    ASSERT_EQ_I64(fz_period_span_ago(FZ_PERIOD_DAY, CST, local(2024, 2, 29, CST), 0),
                  local(2023, 2, 28, CST));
    ASSERT_EQ_I64(fz_period_span_ago(FZ_PERIOD_DAY, CST, local(2025, 3, 1, CST), 0),
                  local(2024, 3, 1, CST));
    ASSERT_EQ_I64(fz_period_span_ago(FZ_PERIOD_MONTH, CST, feb, 3), local(2023, 11, 1, CST));
    ASSERT_EQ_I64(fz_period_span_ago(FZ_PERIOD_DAY, CST, local(2024, 3, 1, CST), 1),
                  local(2024, 2, 29, CST));
}

TEST_IMPL(period_iso_weeks_across_years) {
    struct {
        int y, m, d;       /* a local date */
        int sy, sm, sd;    /* the Monday its week starts */
        const char *label; /* ISO week */
    } cases[] = {
        {2020, 12, 31, 2020, 12, 28, "2020-W53"}, {2021, 1, 3, 2020, 12, 28, "2020-W53"},
        {2021, 1, 4, 2021, 1, 4, "2021-W01"},     {2026, 1, 1, 2025, 12, 29, "2026-W01"},
        {2024, 12, 30, 2024, 12, 30, "2025-W01"}, {2026, 11, 8, 2026, 11, 2, "2026-W45"},
        {1970, 1, 1, 1969, 12, 29, "1970-W01"},   {2027, 1, 3, 2026, 12, 28, "2026-W53"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fz_test_context("case %zu", i);
        for (int k = 0; k < 2; k++) {
            int32_t off = k ? EST : CST;
            int64_t start = local(cases[i].sy, cases[i].sm, cases[i].sd, off);
            /* every instant of the local day, first and last ms */
            int64_t day = local(cases[i].y, cases[i].m, cases[i].d, off);
            ASSERT_EQ_I64(fz_period_floor(FZ_PERIOD_WEEK, off, day), start);
            ASSERT_EQ_I64(fz_period_floor(FZ_PERIOD_WEEK, off, day + D - 1), start);
            label_is(FZ_PERIOD_WEEK, off, start, cases[i].label);
            ASSERT_EQ_I64(fz_period_shift(FZ_PERIOD_WEEK, off, start, 1) - start, 7LL * D);
            ASSERT_EQ_I64(fz_period_span_ago(FZ_PERIOD_WEEK, off, start, 0), start - 364LL * D);
        }
    }
    fz_test_context("%s", "");
    /* Sunday 23:59:59.999 and Monday 00:00 at +08:00, given in UTC */
    int64_t monday = utc(2026, 11, 1, 16, 0);
    ASSERT_EQ_I64(fz_period_floor(FZ_PERIOD_WEEK, CST, monday), monday);
    ASSERT_EQ_I64(fz_period_floor(FZ_PERIOD_WEEK, CST, monday - 1), monday - 7LL * D);
    label_is(FZ_PERIOD_DAY, CST, monday, "2026-11-02");
}

/* A window of the book: "all" and one category with cases and money. */
static fz_ledger_window window(int64_t start, const char *cat, uint64_t cases, const char *cur,
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
        row->nmoney = 1;
        snprintf(row->money[0].currency, sizeof(row->money[0].currency), "%s", cur);
        row->money[0].lost_minor = lost;
        row->money[0].intercepted_minor = held;
    }
    return w;
}

static int64_t money_in(const fz_ledger_row *r, const char *cur, int held) {
    for (uint32_t i = 0; r && i < r->nmoney; i++)
        if (strcmp(r->money[i].currency, cur) == 0)
            return held ? r->money[i].intercepted_minor : r->money[i].lost_minor;
    return 0;
}

TEST_IMPL(period_book_sums) {
    fz_ledger_book *b = fz_ledger_book_new(H, 0);
    ASSERT(b != NULL);
    /* week of Monday 2026-11-02 (+08:00): Monday 00:00 local and Sunday 23:00 local; nothing
     * in the week after; the week after that, JPY in a new category */
    int64_t w1 = local(2026, 11, 2, CST);
    fz_ledger_window w;
    w = window(w1, "investment", 2, "CNY", 100000, 50000);
    ASSERT_EQ_I64(fz_ledger_book_add(b, &w), 0);
    w = window(w1 + 7LL * D - H, "investment", 1, "CNY", 1, 0);
    ASSERT_EQ_I64(fz_ledger_book_add(b, &w), 0);
    w = window(w1 + 14LL * D + 5 * H, "romance", 3, "JPY", 30000, 0);
    ASSERT_EQ_I64(fz_ledger_book_add(b, &w), 0);

    char err[256];
    fz_period_spec spec = {FZ_PERIOD_WEEK, CST, 0, INT64_MIN, INT64_MAX};
    fz_ledger_periods *p = fz_ledger_periods_new(b, &spec, err, sizeof(err));
    ASSERT(p != NULL);
    ASSERT_EQ_U64(p->n, 3);
    ASSERT_EQ_I64(p->cur[0].start_ms, w1);
    ASSERT_EQ_U64(p->cur[0].nwindows, 2);
    ASSERT_EQ_U64(p->cur[0].sum.rows[0].cases, 3);
    ASSERT_EQ_I64(money_in(&p->cur[0].sum.rows[0], "CNY", 0), 100001);
    ASSERT_EQ_U64(p->cur[0].partial, 0);
    /* the first week's previous week and every 同比 lie before the first record */
    ASSERT(fz_ledger_period_row(&p->previous[0], "all") == NULL);
    for (size_t i = 0; i < 3; i++) ASSERT(fz_ledger_period_row(&p->ago[i], "all") == NULL);
    /* the empty second week is zeros, and compares with the first */
    ASSERT_EQ_U64(p->cur[1].nwindows, 0);
    ASSERT_EQ_U64(p->cur[1].sum.rows[0].cases, 0);
    const fz_ledger_row *prev = fz_ledger_period_row(&p->previous[1], "all");
    ASSERT(prev != NULL);
    ASSERT_EQ_U64(prev->cases, 3);
    /* third week: a category the previous (empty) week lacks compares with zeros */
    prev = fz_ledger_period_row(&p->previous[2], "romance");
    ASSERT(prev != NULL);
    ASSERT_EQ_U64(prev->cases, 0);
    ASSERT_EQ_I64(money_in(&p->cur[2].sum.rows[0], "JPY", 0), 30000);
    ASSERT_EQ_U64(p->cur[2].partial, 1); /* the records end on its Monday */
    fz_ledger_periods_destroy(p);

    /* a span of one week: 同比 is then the previous week */
    spec.span = 1;
    ASSERT((p = fz_ledger_periods_new(b, &spec, err, sizeof(err))) != NULL);
    ASSERT_EQ_U64(fz_ledger_period_row(&p->ago[1], "all")->cases, 3);
    fz_ledger_periods_destroy(p);

    /* --from / --to: days in the offset, the periods that hold them */
    spec.span = 0;
    spec.from_ms = local(2026, 11, 10, CST);
    spec.to_ms = local(2026, 11, 11, CST);
    ASSERT((p = fz_ledger_periods_new(b, &spec, err, sizeof(err))) != NULL);
    ASSERT_EQ_U64(p->n, 1);
    ASSERT_EQ_I64(p->cur[0].start_ms, w1 + 7LL * D);
    ASSERT_EQ_U64(fz_ledger_period_row(&p->previous[0], "all")->cases, 3);
    fz_ledger_periods_destroy(p);

    /* by day at -05:00 the Monday window (16:00 UTC) is Sunday 11:00 */
    fz_period_spec days = {FZ_PERIOD_DAY, EST, 0, INT64_MIN, INT64_MAX};
    ASSERT((p = fz_ledger_periods_new(b, &days, err, sizeof(err))) != NULL);
    label_is(FZ_PERIOD_DAY, EST, p->cur[0].start_ms, "2026-11-01");
    ASSERT_EQ_U64(p->n, 15); /* 1 to 15 November there */
    fz_ledger_periods_destroy(p);

    /* an hourly window cannot be cut at a half-hour offset: 18:00-19:00 UTC holds midnight
     * at +05:30 (the book's other windows do not) */
    fz_period_spec half = {FZ_PERIOD_DAY, 19800, 0, INT64_MIN, INT64_MAX};
    ASSERT((p = fz_ledger_periods_new(b, &half, err, sizeof(err))) != NULL);
    fz_ledger_periods_destroy(p);
    w = window(utc(2026, 11, 20, 18, 0), "romance", 1, "JPY", 1, 0);
    ASSERT_EQ_I64(fz_ledger_book_add(b, &w), 0);
    ASSERT(fz_ledger_periods_new(b, &half, err, sizeof(err)) == NULL);
    ASSERT(strstr(err, "straddles") != NULL);
    ASSERT(strstr(err, "+05:30") != NULL);
    /* more periods than the cap */
    fz_period_spec many = {FZ_PERIOD_DAY, CST, 0, local(2000, 1, 1, CST), local(2030, 1, 1, CST)};
    ASSERT(fz_ledger_periods_new(b, &many, err, sizeof(err)) == NULL);
    ASSERT(strstr(err, "more than") != NULL);
    fz_ledger_book_destroy(b);

    /* an empty book: no periods, unless from and to say which */
    b = fz_ledger_book_new(H, 0);
    ASSERT((p = fz_ledger_periods_new(b, &days, err, sizeof(err))) != NULL);
    ASSERT_EQ_U64(p->n, 0);
    fz_ledger_periods_destroy(p);
    fz_ledger_book_destroy(b);
}

TEST_IMPL(period_money_format) {
    struct {
        int64_t minor;
        const char *cur, *want;
    } cases[] = {
        {123456789, "CNY", "1,234,567.89"},
        {0, "CNY", "0.00"},
        {5, "USD", "0.05"},
        {-100050, "EUR", "-1,000.50"},
        {1234568, "JPY", "1,234,568"},
        {999, "KRW", "999"},
        {1234567, "KWD", "1,234.567"},
        {100000, "JPY", "100,000"},
        {INT64_MAX, "CNY", "92,233,720,368,547,758.07"},
        {INT64_MIN, "JPY", "-9,223,372,036,854,775,808"},
    };
    char got[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fz_money_format(cases[i].minor, cases[i].cur, got, sizeof(got));
        ASSERT_STR_EQ(got, cases[i].want);
    }
    fz_money m = {.lost_minor = 0, .intercepted_minor = 0};
    ASSERT(fz_money_recovery_rate(&m) < 0);
    m.lost_minor = 800;
    m.intercepted_minor = 1200;
    ASSERT(fz_money_recovery_rate(&m) == 0.6);
}
