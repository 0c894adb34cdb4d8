/*
 * report.c - see report.h.
 *
 * Workload: one page per command, a few to a few thousand periods, up to
 * a few million alert records read once for the campaign and rule tables.
 * The page is built in one fz_buf (capped at 256 MiB) and written through
 * a temporary file renamed into place, so a reader never sees half a page.
 * Charts: per chart, the data and commands go to gnuplot's stdin (a
 * temporary file), its SVG comes back on a pipe and is inlined with the
 * XML prolog and namespace declarations removed (HTML needs neither).
 */
#define _GNU_SOURCE
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"

extern char **environ;

#define PAGE_MAX (256u << 20)
#define SVG_MAX (16u << 20)
#define TOP_CAMPAIGNS 10
#define TOP_RULES 10
#define CHART_CATEGORIES 6 /* alerts chart: the largest categories, the rest as "other" */

/* ---- labels ---- */

typedef struct labels {
    const char *lang, *title, *subtitle_fmt, *unit[4], *tz, *partial, *windows;
    const char *prev, *ago_year, *ago_fmt, *no_data;
    const char *cases, *lost, *intercepts, *intercepted, *rate, *alerts, *campaigns, *pp;
    const char *sec_headline, *sec_trends, *sec_categories, *sec_campaigns, *sec_rules;
    const char *chart_counts, *chart_money_fmt, *chart_alerts, *axis_fmt, *other;
    const char *col_category, *col_screened, *col_suppressed, *col_cases_prev, *col_cases_ago;
    const char *col_alerts_short, *col_campaigns, *col_cases, *col_intercepts, *col_currency;
    const char *col_rule, *col_first, *col_last, *col_events, *col_recipients, *col_senders,
        *col_sample, *col_alerts;
    const char *no_alert_files, *none_in_period, *no_money, *campaign_note, *about;
} labels;

static const labels zh = {
    .lang = "zh-CN",
    .title = "反诈挽损统计报告",
    .subtitle_fmt = "%s（%s 至 %s，%s）",
    .unit = {"", "日", "周", "月"},
    .tz = "时区 UTC",
    .partial = "注意：统计记录未覆盖本周期全部时间，数字只含已记录的部分。",
    .windows = "个统计窗口",
    .prev = "环比",
    .ago_year = "同比",
    .ago_fmt = "同比（%lld个周期前）",
    .no_data = "—",
    .cases = "发案数",
    .lost = "案损",
    .intercepts = "拦截转账笔数",
    .intercepted = "挽损金额",
    .rate = "挽损率",
    .alerts = "预警数",
    .campaigns = "新发现诈骗活动",
    .pp = "个百分点",
    .sec_headline = "核心指标",
    .sec_trends = "趋势",
    .sec_categories = "分类统计",
    .sec_campaigns = "本周期规模最大的诈骗活动",
    .sec_rules = "触发最多的规则",
    .chart_counts = "发案数与拦截转账笔数",
    .chart_money_fmt = "案损与挽损金额（%s）",
    .chart_alerts = "各类别预警数",
    .axis_fmt = "横轴：%s（UTC%s）；纵轴：%s",
    .other = "other",
    .col_category = "类别",
    .col_screened = "筛查",
    .col_suppressed = "抑制",
    .col_cases_prev = "发案环比",
    .col_cases_ago = "发案同比",
    .col_alerts_short = "预警",
    .col_campaigns = "新活动",
    .col_cases = "发案",
    .col_intercepts = "拦截",
    .col_currency = "币种",
    .col_rule = "规则",
    .col_first = "首次发现",
    .col_last = "最后发现",
    .col_events = "事件数",
    .col_recipients = "估计收信人数",
    .col_senders = "估计发信人数",
    .col_sample = "样本",
    .col_alerts = "预警数",
    .no_alert_files =
        "未提供告警与活动记录（fanzha stats --alerts FILE），本报告不列出诈骗活动与规则排名。",
    .none_in_period = "本周期内没有记录。",
    .no_money = "本周期无涉案金额。",
    .campaign_note = "事件数与估计人数为活动至最后一次摘要的累计数（不限于本周期）；人数为 "
                     "HyperLogLog 估计值。",
    .about = "本页全部数字来自与 fanzha stats 相同的统计窗口汇总：周期为 UTC%s 的自然%s，"
             "环比为上一%s，同比为%s。金额按币种分列，不做换算。挽损率 = 挽损 ÷（挽损 + 案损）。",
};

static const labels en = {
    .lang = "en",
    .title = "Fraud loss-recovery report",
    .subtitle_fmt = "%s (%s to %s, %s)",
    .unit = {"", "day", "week", "month"},
    .tz = "time zone UTC",
    .partial = "Note: the statistics records do not cover all of this period; the figures "
               "count what was recorded.",
    .windows = "statistics window(s)",
    .prev = "vs previous",
    .ago_year = "vs a year ago",
    .ago_fmt = "vs %lld periods ago",
    .no_data = "—",
    .cases = "Reported cases",
    .lost = "Losses",
    .intercepts = "Intercepted transfers",
    .intercepted = "Amount intercepted",
    .rate = "Recovery rate",
    .alerts = "Alerts",
    .campaigns = "New campaigns",
    .pp = " pp",
    .sec_headline = "Headline figures",
    .sec_trends = "Trends",
    .sec_categories = "By category",
    .sec_campaigns = "Largest campaigns of the period",
    .sec_rules = "Rules that fired most",
    .chart_counts = "Reported cases and intercepted transfers",
    .chart_money_fmt = "Losses and amounts intercepted (%s)",
    .chart_alerts = "Alerts by category",
    .axis_fmt = "x: %s (UTC%s); y: %s",
    .other = "other",
    .col_category = "Category",
    .col_screened = "Screened",
    .col_suppressed = "Suppr.",
    .col_cases_prev = "Cases vs prev.",
    .col_cases_ago = "Cases vs span",
    .col_alerts_short = "Alerts",
    .col_campaigns = "Camp.",
    .col_cases = "Cases",
    .col_intercepts = "Intercepts",
    .col_currency = "Currency",
    .col_rule = "Rule",
    .col_first = "First seen",
    .col_last = "Last seen",
    .col_events = "Events",
    .col_recipients = "Recipients (est.)",
    .col_senders = "Senders (est.)",
    .col_sample = "Sample",
    .col_alerts = "Alerts",
    .no_alert_files = "No alert or campaign records were given (fanzha stats --alerts FILE): "
                      "campaigns and top rules are not shown.",
    .none_in_period = "None in this period.",
    .no_money = "No money involved in this period.",
    .campaign_note = "Events and estimates are the campaign's totals up to its latest summary "
                     "(not only this period); counts of people are HyperLogLog estimates.",
    .about = "Every figure on this page is a sum of the same statistics windows fanzha stats "
             "sums: periods are calendar %2$ss at UTC%1$s, compared with the previous %3$s "
             "and with %4$s. Money is per currency, never converted. Recovery rate = "
             "intercepted / (intercepted + lost).",
};

/* ---- HTML helpers ---- */

/* s as HTML text or attribute value: & < > " ' escaped; bytes that are
 * not printable ASCII or UTF-8 continuation/lead bytes (controls) dropped. */
static void put_esc(fz_buf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fz_buf_puts(b, "&amp;"); break;
        case '<': fz_buf_puts(b, "&lt;"); break;
        case '>': fz_buf_puts(b, "&gt;"); break;
        case '"': fz_buf_puts(b, "&quot;"); break;
        case '\'': fz_buf_puts(b, "&#39;"); break;
        default:
            if (c >= 0x20 && c != 0x7f) fz_buf_putc(b, (char)c);
        }
    }
}

/* A name safe inside a gnuplot string: [A-Za-z0-9_.-], others '?'. */
static void gp_name(const char *s, char *out, size_t size) {
    size_t k = 0;
    for (; *s && k + 1 < size; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        out[k++] = ok ? c : '?';
    }
    out[k] = '\0';
}

static int64_t money_of_row(const fz_ledger_row *r, const char *cur, int intercepted) {
    for (uint32_t i = 0; r && i < r->nmoney; i++)
        if (strcmp(r->money[i].currency, cur) == 0)
            return intercepted ? r->money[i].intercepted_minor : r->money[i].lost_minor;
    return 0;
}

/* rate of (lost, held); -1 when undefined */
static double rate_of(int64_t lost, int64_t held) {
    fz_money m = {.lost_minor = lost, .intercepted_minor = held};
    return fz_money_recovery_rate(&m);
}

/* The currencies of rows (union, in order), at most cap. */
static int currencies_of(const fz_ledger_row *const *rows, int nrows, const char **out, int cap) {
    int n = 0;
    for (int k = 0; k < nrows; k++)
        for (uint32_t i = 0; rows[k] && i < rows[k]->nmoney; i++) {
            int seen = 0;
            for (int j = 0; j < n; j++) seen |= strcmp(out[j], rows[k]->money[i].currency) == 0;
            if (!seen && n < cap) out[n++] = rows[k]->money[i].currency;
        }
    return n;
}

typedef enum better { LOWER_BETTER, HIGHER_BETTER } better;

/* A count with thousands separators: "1,234,567". */
static void fmt_count(uint64_t v, char *out, size_t size) {
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < size; i++) {
        if (i && (n - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
}

/* A count (cur NULL; v >= 0) or an amount in cur's major units as text. */
static void fmt_value(int64_t v, const char *cur, char *out, size_t size) {
    if (cur)
        fz_money_format(v, cur, out, size);
    else
        fmt_count((uint64_t)v, out, size);
}

/*
 * One comparison: `<span class="good|bad|flat|none" data-figure="NAME"
 * data-value="CHANGE">TEXT</span>`. TEXT is the signed change, formatted
 * like the value, then the relative change "(+12.5%)" when the earlier
 * value is above 0; "—" with an empty data-value when base is NULL (no
 * earlier data).
 */
static void put_change(fz_buf *b, const char *name, int64_t cur_v, const int64_t *base,
                       const char *cur, better bt) {
    fz_buf_puts(b, "<span data-figure=\"");
    put_esc(b, name);
    if (!base) {
        fz_buf_puts(b, "\" data-value=\"\" class=\"none\">—</span>");
        return;
    }
    int64_t d = fz_sat_sub(cur_v, *base, NULL);
    const char *cls = d == 0 ? "flat" : (d < 0) == (bt == LOWER_BETTER) ? "good" : "bad";
    char txt[64];
    if (cur)
        fz_money_format(d, cur, txt, sizeof(txt));
    else
        fmt_count(d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d, txt, sizeof(txt));
    const char *sign = d > 0 ? "+" : d < 0 ? "-" : "";
    fz_buf_printf(b, "\" data-value=\"%lld\" class=\"%s\">%s%s", (long long)d, cls, sign,
                  txt[0] == '-' ? txt + 1 : txt);
    if (*base > 0) fz_buf_printf(b, " (%s%.1f%%)", sign, fabs(100.0 * (double)d / (double)*base));
    fz_buf_puts(b, "</span>");
}

/* A rate comparison in percentage points; data-value the difference of
 * the rates (fractions, 4 decimals). "—" when either rate is undefined. */
static void put_rate_change(fz_buf *b, const labels *L, const char *name, double now, double then) {
    fz_buf_puts(b, "<span data-figure=\"");
    put_esc(b, name);
    if (now < 0 || then < 0) {
        fz_buf_puts(b, "\" data-value=\"\" class=\"none\">—</span>");
        return;
    }
    double d = now - then, pp = 100.0 * d;
    char txt[32];
    snprintf(txt, sizeof(txt), "%.1f", fabs(pp));
    int zero = strcmp(txt, "0.0") == 0;
    fz_buf_printf(b, "\" data-value=\"%.4f\" class=\"%s\">%s%s%s</span>", d,
                  zero    ? "flat"
                  : d > 0 ? "good"
                          : "bad",
                  zero    ? ""
                  : d > 0 ? "+"
                          : "-",
                  txt, L->pp);
}

/* ---- alert and campaign records ---- */

typedef struct campaign {
    char *key, *rule, *category, *sample;
    int64_t first_ts, last_ts, count, recipients, senders;
} campaign;

typedef struct rule_count {
    char *id, *category;
    uint64_t alerts;
} rule_count;

struct fz_report_alerts {
    int64_t start_ms, end_ms; /* the period */
    campaign *c;              /* every summary of a campaign active in it */
    size_t nc, capc;
    rule_count *r; /* by id while collecting; by alerts once reduced */
    size_t nr, capr;
    int reduced; /* c holds the latest summary of each campaign, largest first */
};

typedef struct fz_report_alerts alert_tables;

fz_report_alerts *fz_report_alerts_new(int64_t start_ms, int64_t end_ms) {
    fz_report_alerts *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->start_ms = start_ms;
    a->end_ms = end_ms;
    return a;
}

static void tables_free(alert_tables *t) {
    for (size_t i = 0; i < t->nc; i++) {
        free(t->c[i].key);
        free(t->c[i].rule);
        free(t->c[i].category);
        free(t->c[i].sample);
    }
    for (size_t i = 0; i < t->nr; i++) {
        free(t->r[i].id);
        free(t->r[i].category);
    }
    free(t->c);
    free(t->r);
}

void fz_report_alerts_destroy(fz_report_alerts *a) {
    if (!a) return;
    tables_free(a);
    free(a);
}

typedef struct jrec {
    const char *js;
    jsmntok_t *t;
    int n;
} jrec;

static int j_skip(const jrec *r, int i) {
    int pending = 1;
    while (pending > 0 && i < r->n) pending += r->t[i++].size - 1;
    return i;
}

/* The value token of key in the object at token obj; -1 if absent. */
static int j_get(const jrec *r, int obj, const char *key) {
    if (obj < 0 || r->t[obj].type != JSMN_OBJECT) return -1;
    size_t kn = strlen(key);
    for (int k = 0, j = obj + 1; k < r->t[obj].size; k++, j = j_skip(r, j + 1))
        if (r->t[j].type == JSMN_STRING && (size_t)(r->t[j].end - r->t[j].start) == kn &&
            memcmp(r->js + r->t[j].start, key, kn) == 0)
            return j + 1;
    return -1;
}

static int j_i64(const jrec *r, int i, int64_t *out) {
    if (i < 0 || r->t[i].type != JSMN_PRIMITIVE) return -1;
    char buf[24], *end;
    size_t n = (size_t)(r->t[i].end - r->t[i].start);
    if (n == 0 || n >= sizeof(buf)) return -1;
    memcpy(buf, r->js + r->t[i].start, n);
    buf[n] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

/* A JSON string token, unescaped (\uXXXX of the BMP to UTF-8; surrogate
 * pairs become U+FFFD), as a new string; NULL if not a string or OOM. */
static char *j_str(const jrec *r, int i) {
    if (i < 0 || r->t[i].type != JSMN_STRING) return NULL;
    const char *p = r->js + r->t[i].start, *e = r->js + r->t[i].end;
    char *out = malloc((size_t)(e - p) * 3 + 1), *o = out;
    if (!out) return NULL;
    for (; p < e; p++) {
        if (*p != '\\' || p + 1 >= e) {
            *o++ = *p;
            continue;
        }
        p++;
        unsigned v = 0;
        switch (*p) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u':
            if (e - p < 5 || sscanf(p + 1, "%4x", &v) != 1) break;
            p += 4;
            if (v >= 0xd800 && v < 0xe000) v = 0xfffd;
            if (v < 0x80) {
                *o++ = (char)v;
            } else if (v < 0x800) {
                *o++ = (char)(0xc0 | (v >> 6));
                *o++ = (char)(0x80 | (v & 0x3f));
            } else {
                *o++ = (char)(0xe0 | (v >> 12));
                *o++ = (char)(0x80 | ((v >> 6) & 0x3f));
                *o++ = (char)(0x80 | (v & 0x3f));
            }
            break;
        default: *o++ = *p; break;
        }
    }
    *o = '\0';
    return out;
}

static int add_rule(alert_tables *t, char *id, char *category) {
    size_t lo = 0, hi = t->nr;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(t->r[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->nr && strcmp(t->r[lo].id, id) == 0) {
        t->r[lo].alerts++;
        free(id);
        free(category);
        return 0;
    }
    if (t->nr == t->capr) {
        size_t cap = t->capr ? 2 * t->capr : 64;
        rule_count *n = realloc(t->r, cap * sizeof(*n));
        if (!n) return -1;
        t->r = n;
        t->capr = cap;
    }
    memmove(&t->r[lo + 1], &t->r[lo], (t->nr - lo) * sizeof(*t->r));
    t->r[lo] = (rule_count){id, category, 1};
    t->nr++;
    return 0;
}

/* One line of an alert file: alerts with ts in [start, end) count for
 * their primary rule; every campaign summary is kept (reduced later). */
int fz_report_alerts_add(fz_report_alerts *t, const char *line, size_t n, char *err,
                         size_t err_size) {
    const int64_t start = t->start_ms, end = t->end_ms;
    if (t->reduced) {
        snprintf(err, err_size, "records added after the page was written");
        return -1;
    }
    jsmn_parser p;
    jsmn_init(&p);
    int ntok = jsmn_parse(&p, line, n, NULL, 0);
    if (ntok <= 0) {
        snprintf(err, err_size, "not a JSON object");
        return -1;
    }
    jsmntok_t *tok = malloc((size_t)ntok * sizeof(*tok));
    if (!tok) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    jsmn_init(&p);
    jrec r = {line, tok, jsmn_parse(&p, line, n, tok, (unsigned)ntok)};
    int rc = 0;
    if (r.n <= 0 || tok[0].type != JSMN_OBJECT) {
        snprintf(err, err_size, "not a JSON object");
        rc = -1;
        goto out;
    }
    int type = j_get(&r, 0, "type");
    char *ty = j_str(&r, type);
    int rule = j_get(&r, 0, "rule");
    if (ty && strcmp(ty, "alert") == 0) {
        int64_t ts;
        if (j_i64(&r, j_get(&r, 0, "ts"), &ts)) {
            snprintf(err, err_size, "alert without an integer \"ts\"");
            rc = -1;
        } else if (ts >= start && ts < end) {
            char *id = j_str(&r, j_get(&r, rule, "id")),
                 *cat = j_str(&r, j_get(&r, rule, "category"));
            if (!id) {
                snprintf(err, err_size, "alert without \"rule\": {\"id\": ...}");
                free(cat);
                rc = -1;
            } else if (add_rule(t, id, cat ? cat : strdup(""))) {
                snprintf(err, err_size, "out of memory");
                rc = -1;
            }
        }
    } else if (ty && strcmp(ty, "campaign") == 0) {
        campaign c = {0};
        c.key = j_str(&r, j_get(&r, 0, "key"));
        c.rule = j_str(&r, j_get(&r, rule, "id"));
        c.category = j_str(&r, j_get(&r, rule, "category"));
        c.sample = j_str(&r, j_get(&r, 0, "sample"));
        if (!c.key || !c.rule || !c.category || !c.sample ||
            j_i64(&r, j_get(&r, 0, "first_ts"), &c.first_ts) ||
            j_i64(&r, j_get(&r, 0, "last_ts"), &c.last_ts) ||
            j_i64(&r, j_get(&r, 0, "count"), &c.count) ||
            j_i64(&r, j_get(&r, 0, "recipients_estimate"), &c.recipients) ||
            j_i64(&r, j_get(&r, 0, "senders_estimate"), &c.senders)) {
            snprintf(err, err_size,
                     "campaign record without key, rule, sample, first_ts, last_ts, count, "
                     "recipients_estimate or senders_estimate (docs/schema/campaign.schema.json)");
            rc = -1;
        } else if (c.first_ts < end && c.last_ts >= start) {
            if (t->nc == t->capc) {
                size_t cap = t->capc ? 2 * t->capc : 64;
                campaign *nc = realloc(t->c, cap * sizeof(*nc));
                if (!nc) {
                    snprintf(err, err_size, "out of memory");
                    rc = -1;
                } else {
                    t->c = nc;
                    t->capc = cap;
                }
            }
            if (rc == 0) {
                t->c[t->nc++] = c;
                memset(&c, 0, sizeof(c));
            }
        }
        free(c.key);
        free(c.rule);
        free(c.category);
        free(c.sample);
    }
    /* other records (verdicts, dead letters, aggregate alerts) are not counted here */
    free(ty);
out:
    free(tok);
    return rc;
}

/* Campaigns by identity (key, first_ts), the latest summary last. */
static int cmp_campaign_id(const void *a, const void *b) {
    const campaign *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    if (x->first_ts != y->first_ts) return x->first_ts < y->first_ts ? -1 : 1;
    if (x->last_ts != y->last_ts) return x->last_ts < y->last_ts ? -1 : 1;
    return x->count < y->count ? -1 : x->count > y->count;
}

static int cmp_campaign_size(const void *a, const void *b) {
    const campaign *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->first_ts < y->first_ts ? -1 : x->first_ts > y->first_ts;
}

static int cmp_rule(const void *a, const void *b) {
    const rule_count *x = a, *y = b;
    if (x->alerts != y->alerts) return x->alerts > y->alerts ? -1 : 1;
    return strcmp(x->id, y->id);
}

typedef struct alerts_file {
    fz_report_alerts *t;
    const char *path;
    char *err;
    size_t err_size;
} alerts_file;

static int alerts_line(void *ctx, char *line, size_t n, size_t lineno) {
    alerts_file *f = ctx;
    char why[256];
    if (fz_report_alerts_add(f->t, line, n, why, sizeof(why)) == 0) return 0;
    snprintf(f->err, f->err_size, "%s:%zu: %s", f->path, lineno, why);
    return 1;
}

int fz_report_alerts_read_file(fz_report_alerts *t, const char *path, char *err, size_t err_size) {
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    alerts_file f = {t, path, err, err_size};
    int r = fz_each_line(fp, alerts_line, &f);
    if (r < 0) snprintf(err, err_size, "%s: read error: %s", path, strerror(errno));
    fclose(fp);
    return r ? -1 : 0;
}

/* Keep the latest summary of each campaign, largest first; rules by alerts. */
static void reduce(alert_tables *t) {
    if (t->reduced) return;
    t->reduced = 1;
    if (t->nc) qsort(t->c, t->nc, sizeof(*t->c), cmp_campaign_id);
    size_t k = 0;
    for (size_t i = 0; i < t->nc; i++) {
        int last = i + 1 == t->nc || strcmp(t->c[i].key, t->c[i + 1].key) != 0 ||
                   t->c[i].first_ts != t->c[i + 1].first_ts;
        if (last) {
            t->c[k++] = t->c[i];
        } else {
            free(t->c[i].key);
            free(t->c[i].rule);
            free(t->c[i].category);
            free(t->c[i].sample);
        }
    }
    t->nc = k;
    if (t->nc) qsort(t->c, t->nc, sizeof(*t->c), cmp_campaign_size);
    if (t->nr) qsort(t->r, t->nr, sizeof(*t->r), cmp_rule);
}

/* ---- charts (gnuplot) ---- */

/* Run gnuplot on script; append its SVG (from "<svg", without namespace
 * declarations) to b. */
static int gnuplot_svg(fz_buf *b, const fz_report_options *o, const char *script, size_t n,
                       char *err, size_t err_size) {
    const char *prog = o->gnuplot ? o->gnuplot : "gnuplot";
    FILE *in = tmpfile(), *errf = tmpfile();
    int out[2] = {-1, -1}, rc = -1;
    pid_t pid = -1;
    fz_buf svg;
    fz_buf_init(&svg, SVG_MAX);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!in || !errf || pipe2(out, O_CLOEXEC) != 0) {
        snprintf(err, err_size, "gnuplot: %s", strerror(errno));
        goto done;
    }
    if (fwrite(script, 1, n, in) != n || fflush(in) != 0 || fseek(in, 0, SEEK_SET) != 0) {
        snprintf(err, err_size, "gnuplot script: %s", strerror(errno));
        goto done;
    }
    posix_spawn_file_actions_adddup2(&fa, fileno(in), 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fileno(errf), 2);
    char *argv[] = {(char *)prog, NULL};
    int e = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    close(out[1]);
    out[1] = -1;
    if (e != 0) {
        pid = -1;
        if (e == ENOENT)
            snprintf(err, err_size,
                     "the charts need gnuplot, which is not installed (not found in PATH): "
                     "install it (Debian: apt-get install gnuplot-nox)");
        else
            snprintf(err, err_size, "cannot run %s: %s", prog, strerror(e));
        goto done;
    }
    char chunk[65536];
    ssize_t got;
    while ((got = read(out[0], chunk, sizeof(chunk))) != 0) {
        if (got < 0) {
            if (errno == EINTR) continue;
            break;
        }
        fz_buf_put(&svg, chunk, (size_t)got);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    pid = -1;
    fz_buf_putc(&svg, '\0');
    const char *s = svg.p ? strstr(svg.p, "<svg") : NULL;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || svg.failed || !s) {
        char msg[256] = "";
        fseek(errf, 0, SEEK_SET);
        if (!fgets(msg, sizeof(msg), errf)) msg[0] = '\0';
        msg[strcspn(msg, "\n")] = '\0';
        snprintf(err, err_size, "gnuplot failed (%s%d)%s%s",
                 WIFEXITED(status) ? "exit status " : "signal ",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), msg[0] ? ": " : "",
                 msg);
        goto done;
    }
    /* HTML needs no namespace declarations, and a page with no URLs at all
     * is easier to vet for an offline network */
    static const char *const drop[] = {" xmlns=\"http://www.w3.org/2000/svg\"",
                                       " xmlns:xlink=\"http://www.w3.org/1999/xlink\""};
    size_t from = b->len;
    while (*s) {
        size_t skip = 0;
        for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]) && !skip; i++)
            if (strncmp(s, drop[i], strlen(drop[i])) == 0) skip = strlen(drop[i]);
        if (skip) {
            s += skip;
            continue;
        }
        fz_buf_putc(b, *s++);
    }
    /* anything else that names a URL (a gnuplot built with mousing scripts,
     * say) would not open offline: refuse it rather than ship it */
    const char *url = NULL;
    if (fz_buf_putc(b, '\0') == FZ_OK) {
        url = strstr(b->p + from, "://");
        b->len--; /* the NUL was for strstr only */
    }
    if (url) {
        const char *at = url - (url - (b->p + from) > 40 ? 40 : url - (b->p + from));
        snprintf(err, err_size,
                 "gnuplot's SVG refers to a URL (near \"%.60s\"): the page must "
                 "open offline",
                 at);
        goto done;
    }
    rc = 0;
done:
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    posix_spawn_file_actions_destroy(&fa);
    if (out[0] >= 0) close(out[0]);
    if (out[1] >= 0) close(out[1]);
    if (in) fclose(in);
    if (errf) fclose(errf);
    fz_buf_free(&svg);
    return rc;
}

/* The common head of every chart's script. ymax: the largest value
 * plotted; counts: the values are whole numbers. Tic labels are printed
 * without decimals, so below 8 the tics are whole numbers (counts) or the
 * labels keep their decimals (money): gnuplot's half steps read "0 0 1 1 2"
 * otherwise. */
static void gp_head(fz_buf *s, size_t nperiods, double ymax, int counts) {
    fz_buf_puts(
        s, "set terminal svg size 760,250 noenhanced font 'sans,11' background '#ffffff'\n"
           "set encoding utf8\nset output\nset key outside top center horizontal\n"
           "set grid ytics lc rgb '#dddddd'\nset border 3\nset tics nomirror\n"
           "set yrange [0:*]\nset format y '%.0f'\nset ytics scale 0.5\n"
           "set style fill solid 0.85 border -1\nset style data histogram\n"
           "set boxwidth 0.8\nset lmargin 10\nset bmargin 2.5\nset offsets 0,0,graph 0.05,0\n");
    if (ymax < 8) fz_buf_puts(s, counts ? "set ytics 1\n" : "set format y '%g'\n");
    if (nperiods > 8) fz_buf_puts(s, "set xtics rotate by -45\nset bmargin 5\n");
    /* at most about 16 period labels on the axis: every step-th, the first included */
    size_t step = (nperiods + 15) / 16;
    fz_buf_printf(s, "LABEL(c) = (int(column(0)) %% %zu == 0) ? stringcolumn(c) : ''\n",
                  step ? step : 1);
}

static int chart(fz_buf *b, const fz_report_options *o, const char *title, const char *axis,
                 const fz_buf *script, char *err, size_t err_size) {
    fz_buf_puts(b, "<figure class=\"chart\"><figcaption class=\"ctitle\">");
    put_esc(b, title);
    fz_buf_puts(b, "</figcaption>");
    if (gnuplot_svg(b, o, script->p, script->len, err, err_size)) return -1;
    fz_buf_puts(b, "<p class=\"axis\">");
    put_esc(b, axis);
    fz_buf_puts(b, "</p></figure>\n");
    return 0;
}

static int charts(fz_buf *b, const fz_ledger_periods *ps, const fz_report_options *o,
                  const labels *L, char *err, size_t err_size) {
    char tz[8], axis[256], label[16], title[256];
    fz_utc_offset_format(ps->spec.utc_offset_s, tz);
    const char *unit = L->unit[ps->spec.unit];
    fz_buf s;
    fz_buf_init(&s, 64u << 20);
    int rc = 0;
    /* cases and intercepts */
    uint64_t ymax = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const fz_ledger_row *all = &ps->cur[i].sum.rows[0];
        if (all->cases > ymax) ymax = all->cases;
        if (all->intercepts > ymax) ymax = all->intercepts;
    }
    gp_head(&s, ps->n, (double)ymax, 1);
    fz_buf_puts(&s, "set style histogram clustered gap 1\n$d << EOD\n");
    for (size_t i = 0; i < ps->n; i++) {
        const fz_ledger_row *all = &ps->cur[i].sum.rows[0];
        fz_period_label(ps->spec.unit, ps->spec.utc_offset_s, ps->cur[i].start_ms, label);
        fz_buf_printf(&s, "\"%s\" %llu %llu\n", label, (unsigned long long)all->cases,
                      (unsigned long long)all->intercepts);
    }
    fz_buf_printf(
        &s,
        "EOD\nplot $d using 2:xtic(LABEL(1)) title '%s' lc rgb '#c0392b', '' using 3 title "
        "'%s' lc rgb '#1e8449'\n",
        L->cases, L->intercepts);
    snprintf(axis, sizeof(axis), L->axis_fmt, unit, tz, o->lang == FZ_REPORT_ZH ? "笔数" : "count");
    rc = chart(b, o, L->chart_counts, axis, &s, err, err_size);
    /* money, one chart per currency of the range */
    const char *cur[FZ_LEDGER_CURRENCIES * 2];
    int ncur = 0;
    for (size_t i = 0; i < ps->n && rc == 0; i++) {
        const fz_ledger_row *all = &ps->cur[i].sum.rows[0];
        for (uint32_t m = 0; m < all->nmoney; m++) {
            int seen = 0;
            for (int j = 0; j < ncur; j++) seen |= strcmp(cur[j], all->money[m].currency) == 0;
            if (!seen && ncur < (int)(sizeof(cur) / sizeof(cur[0])))
                cur[ncur++] = all->money[m].currency;
        }
    }
    for (int c = 0; c < ncur && rc == 0; c++) {
        char cname[16];
        gp_name(cur[c], cname, sizeof(cname));
        int dec = fz_currency_decimals((fz_str){cur[c], strlen(cur[c])});
        double div = pow(10, dec), mmax = 0;
        for (size_t i = 0; i < ps->n; i++)
            for (int k = 0; k < 2; k++) {
                double v = (double)money_of_row(&ps->cur[i].sum.rows[0], cur[c], k) / div;
                if (v > mmax) mmax = v;
            }
        fz_buf_reset(&s);
        gp_head(&s, ps->n, mmax, 0);
        fz_buf_puts(&s, "set style histogram clustered gap 1\n$d << EOD\n");
        for (size_t i = 0; i < ps->n; i++) {
            const fz_ledger_row *all = &ps->cur[i].sum.rows[0];
            fz_period_label(ps->spec.unit, ps->spec.utc_offset_s, ps->cur[i].start_ms, label);
            fz_buf_printf(&s, "\"%s\" %.*f %.*f\n", label, dec,
                          (double)money_of_row(all, cur[c], 0) / div, dec,
                          (double)money_of_row(all, cur[c], 1) / div);
        }
        fz_buf_printf(&s,
                      "EOD\nplot $d using 2:xtic(LABEL(1)) title '%s' lc rgb '#c0392b', '' using 3 "
                      "title '%s' lc rgb '#1e8449'\n",
                      L->lost, L->intercepted);
        snprintf(title, sizeof(title), L->chart_money_fmt, cname);
        snprintf(axis, sizeof(axis), L->axis_fmt, unit, tz, cname);
        rc = chart(b, o, title, axis, &s, err, err_size);
    }
    /* alerts by category: the largest CHART_CATEGORIES over the range, the rest as other */
    if (rc == 0) {
        typedef struct cat_total {
            const char *name;
            uint64_t alerts;
        } cat_total;
        cat_total cats[FZ_LEDGER_ROWS];
        int ncat = 0;
        for (size_t i = 0; i < ps->n; i++)
            for (uint32_t r = 1; r < ps->cur[i].sum.nrows; r++) {
                const fz_ledger_row *row = &ps->cur[i].sum.rows[r];
                int j = 0;
                while (j < ncat && strcmp(cats[j].name, row->category) != 0) j++;
                if (j == ncat) {
                    if (ncat == FZ_LEDGER_ROWS) continue;
                    cats[ncat++] = (cat_total){row->category, 0};
                }
                cats[j].alerts += row->alerts;
            }
        /* largest first (a handful: insertion sort) */
        for (int i = 1; i < ncat; i++)
            for (int j = i; j > 0 && cats[j].alerts > cats[j - 1].alerts; j--) {
                cat_total t = cats[j];
                cats[j] = cats[j - 1];
                cats[j - 1] = t;
            }
        while (ncat > 0 && cats[ncat - 1].alerts == 0) ncat--;
        int shown = ncat > CHART_CATEGORIES ? CHART_CATEGORIES : ncat;
        uint64_t amax = 0; /* the stacks' height: every alert of the period */
        for (size_t i = 0; i < ps->n; i++)
            if (ps->cur[i].sum.rows[0].alerts > amax) amax = ps->cur[i].sum.rows[0].alerts;
        fz_buf_reset(&s);
        gp_head(&s, ps->n, (double)amax, 1);
        fz_buf_puts(&s, "set style histogram rowstacked\n$d << EOD\n");
        for (size_t i = 0; i < ps->n; i++) {
            const fz_ledger_window *w = &ps->cur[i].sum;
            fz_period_label(ps->spec.unit, ps->spec.utc_offset_s, ps->cur[i].start_ms, label);
            fz_buf_printf(&s, "\"%s\"", label);
            uint64_t rest = w->rows[0].alerts;
            for (int c = 0; c < shown; c++) {
                uint64_t v = 0;
                for (uint32_t r = 1; r < w->nrows; r++)
                    if (strcmp(w->rows[r].category, cats[c].name) == 0) v = w->rows[r].alerts;
                rest -= v <= rest ? v : rest;
                fz_buf_printf(&s, " %llu", (unsigned long long)v);
            }
            fz_buf_printf(&s, " %llu\n", (unsigned long long)rest);
        }
        static const char *const colours[] = {"#c0392b", "#2471a3", "#d68910",
                                              "#7d3c98", "#148f77", "#a04000"};
        fz_buf_puts(&s, "EOD\nplot ");
        for (int c = 0; c < shown; c++) {
            char name[FZ_LEDGER_CATEGORY];
            gp_name(cats[c].name, name, sizeof(name));
            fz_buf_printf(&s, "%s using %d%s title '%s' lc rgb '%s', ", c ? "''" : "$d", c + 2,
                          c ? "" : ":xtic(LABEL(1))", name, colours[c]);
        }
        fz_buf_printf(&s, "%s using %d%s title '%s' lc rgb '#909497'\n", shown ? "''" : "$d",
                      shown + 2, shown ? "" : ":xtic(LABEL(1))", L->other);
        snprintf(axis, sizeof(axis), L->axis_fmt, unit, tz,
                 o->lang == FZ_REPORT_ZH ? "预警数" : "alerts");
        rc = chart(b, o, L->chart_alerts, axis, &s, err, err_size);
    }
    if (rc == 0 && s.failed) {
        snprintf(err, err_size, "out of memory");
        rc = -1;
    }
    fz_buf_free(&s);
    return rc;
}

/* ---- the page ---- */

static const char css[] =
    "<style>\n"
    "@page{size:A4;margin:14mm 12mm}\n"
    "*{box-sizing:border-box}\n"
    "body{font-family:system-ui,-apple-system,'Segoe UI','PingFang SC','Hiragino Sans GB',"
    "'Microsoft YaHei','Noto Sans CJK SC','WenQuanYi Zen Hei',sans-serif;color:#1b2631;"
    "margin:0 auto;max-width:190mm;padding:8mm 4mm;font-size:10.5pt;line-height:1.45}\n"
    "h1{font-size:18pt;margin:0 0 2mm}h2{font-size:13pt;margin:7mm 0 3mm;"
    "border-bottom:2px solid #1b2631;padding-bottom:1mm;break-after:avoid}\n"
    ".sub{color:#566573;margin:0 0 "
    "4mm}.fine{color:#566573;font-size:8.5pt}.note{color:#7b241c;font-size:9.5pt}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(56mm,1fr));gap:3mm}\n"
    ".card{border:1px solid #d5d8dc;border-radius:2mm;padding:2.5mm 3mm;break-inside:avoid}\n"
    ".card .name{font-size:9.5pt;color:#566573}.card .value{font-size:15pt;font-weight:600;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".cmp{font-size:9pt}.cmp span{white-space:nowrap}.cmp .k{color:#566573;margin-right:1.5mm}\n"
    ".good{color:#1e8449}.bad{color:#c0392b}.flat,.none{color:#566573}\n"
    "figure.chart{margin:0 0 5mm;break-inside:avoid;page-break-inside:avoid}\n"
    "figure.chart svg{display:block;width:100%;max-width:100%;height:auto}\n"
    ".ctitle{font-weight:600;margin-bottom:1mm}.axis{font-size:8.5pt;color:#566573;margin:1mm 0 "
    "0}\n"
    "table{border-collapse:collapse;width:100%;margin-bottom:4mm;font-size:8.5pt;font-variant-"
    "numeric:tabular-nums;"
    "break-inside:auto}\n"
    "th,td{border-bottom:1px solid #d5d8dc;padding:1mm 1.2mm;text-align:right;vertical-align:top}"
    "\n"
    "th{background:#f2f3f4;font-weight:600;word-break:keep-all}tr{break-inside:avoid}\n"
    "td.d{white-space:nowrap}\n"
    "td.t,th.t{text-align:left}td.s{text-align:left;max-width:60mm;overflow-wrap:anywhere}\n"
    "thead{display:table-header-group}\n"
    "footer{margin-top:6mm;font-size:8.5pt;color:#566573}\n"
    "@media print{body{padding:0;max-width:none}}\n"
    "</style>\n";

static void put_count_cell(fz_buf *b, const char *figure, uint64_t v) {
    char txt[48];
    fmt_count(v, txt, sizeof(txt));
    fz_buf_puts(b, "<td data-figure=\"");
    put_esc(b, figure);
    fz_buf_printf(b, "\" data-value=\"%llu\">%s</td>", (unsigned long long)v, txt);
}

static void put_money_cell(fz_buf *b, const char *figure, int64_t v, const char *cur) {
    char txt[64];
    fz_money_format(v, cur, txt, sizeof(txt));
    fz_buf_puts(b, "<td data-figure=\"");
    put_esc(b, figure);
    fz_buf_printf(b, "\" data-value=\"%lld\">%s</td>", (long long)v, txt);
}

static void put_rate_text(fz_buf *b, const char *figure, double rate, const char *tag) {
    fz_buf_printf(b, "<%s data-figure=\"", tag);
    put_esc(b, figure);
    if (rate < 0)
        fz_buf_printf(b, "\" data-value=\"\">—</%s>", tag);
    else
        fz_buf_printf(b, "\" data-value=\"%.4f\">%.1f%%</%s>", rate, 100.0 * rate, tag);
}

/* One headline card of a count (cur NULL) or an amount. */
static void card(fz_buf *b, const labels *L, const char *ago, const char *name, const char *figure,
                 int64_t v, const int64_t *prev, const int64_t *then, const char *cur, better bt) {
    char txt[64], f[96];
    fmt_value(v, cur, txt, sizeof(txt));
    fz_buf_puts(b, "<div class=\"card\"><div class=\"name\">");
    put_esc(b, name);
    if (cur) {
        fz_buf_puts(b, " (");
        put_esc(b, cur);
        fz_buf_putc(b, ')');
    }
    fz_buf_puts(b, "</div><div class=\"value\" data-figure=\"");
    put_esc(b, figure);
    fz_buf_printf(b,
                  "\" data-value=\"%lld\">%s</div><div class=\"cmp\"><span class=\"k\">%s</span>",
                  (long long)v, txt, L->prev);
    snprintf(f, sizeof(f), "%s.previous", figure);
    put_change(b, f, v, prev, cur, bt);
    fz_buf_printf(b, "</div><div class=\"cmp\"><span class=\"k\">%s</span>", ago);
    snprintf(f, sizeof(f), "%s.period_ago", figure);
    put_change(b, f, v, then, cur, bt);
    fz_buf_puts(b, "</div></div>\n");
}

static void headline(fz_buf *b, const fz_ledger_periods *ps, size_t i, const labels *L,
                     const char *ago) {
    const fz_ledger_row *all = &ps->cur[i].sum.rows[0];
    const fz_ledger_row *prev = fz_ledger_period_row(&ps->previous[i], "all"),
                        *then = fz_ledger_period_row(&ps->ago[i], "all");
    int64_t pv, tv;
#define COUNT_CARD(field, label, bt)                                                               \
    do {                                                                                           \
        pv = prev ? (int64_t)prev->field : 0;                                                      \
        tv = then ? (int64_t)then->field : 0;                                                      \
        card(b, L, ago, label, #field, (int64_t)all->field, prev ? &pv : NULL, then ? &tv : NULL,  \
             NULL, bt);                                                                            \
    } while (0)
    fz_buf_printf(b, "<h2>%s</h2><div class=\"cards\">\n", L->sec_headline);
    COUNT_CARD(cases, L->cases, LOWER_BETTER);
    const fz_ledger_row *rows[3] = {all, prev, then};
    const char *cur[3 * FZ_LEDGER_CURRENCIES];
    int ncur = currencies_of(rows, 3, cur, 3 * FZ_LEDGER_CURRENCIES);
    char f[64];
    for (int c = 0; c < ncur; c++) {
        pv = money_of_row(prev, cur[c], 0);
        tv = money_of_row(then, cur[c], 0);
        snprintf(f, sizeof(f), "lost.%s", cur[c]);
        card(b, L, ago, L->lost, f, money_of_row(all, cur[c], 0), prev ? &pv : NULL,
             then ? &tv : NULL, cur[c], LOWER_BETTER);
    }
    COUNT_CARD(intercepts, L->intercepts, HIGHER_BETTER);
    for (int c = 0; c < ncur; c++) {
        pv = money_of_row(prev, cur[c], 1);
        tv = money_of_row(then, cur[c], 1);
        snprintf(f, sizeof(f), "intercepted.%s", cur[c]);
        card(b, L, ago, L->intercepted, f, money_of_row(all, cur[c], 1), prev ? &pv : NULL,
             then ? &tv : NULL, cur[c], HIGHER_BETTER);
    }
    for (int c = 0; c < ncur; c++) {
        double now = rate_of(money_of_row(all, cur[c], 0), money_of_row(all, cur[c], 1));
        double p =
            prev ? rate_of(money_of_row(prev, cur[c], 0), money_of_row(prev, cur[c], 1)) : -1;
        double t =
            then ? rate_of(money_of_row(then, cur[c], 0), money_of_row(then, cur[c], 1)) : -1;
        fz_buf_puts(b, "<div class=\"card\"><div class=\"name\">");
        put_esc(b, L->rate);
        fz_buf_puts(b, " (");
        put_esc(b, cur[c]);
        fz_buf_puts(b, ")</div>");
        snprintf(f, sizeof(f), "recovery_rate.%s", cur[c]);
        fz_buf_puts(b, "<div class=\"value\">");
        put_rate_text(b, f, now, "span");
        fz_buf_printf(b, "</div><div class=\"cmp\"><span class=\"k\">%s</span>", L->prev);
        snprintf(f, sizeof(f), "recovery_rate.%s.previous", cur[c]);
        put_rate_change(b, L, f, now, p);
        fz_buf_printf(b, "</div><div class=\"cmp\"><span class=\"k\">%s</span>", ago);
        snprintf(f, sizeof(f), "recovery_rate.%s.period_ago", cur[c]);
        put_rate_change(b, L, f, now, t);
        fz_buf_puts(b, "</div></div>\n");
    }
    COUNT_CARD(alerts, L->alerts, LOWER_BETTER);
    COUNT_CARD(campaigns, L->campaigns, LOWER_BETTER);
#undef COUNT_CARD
    fz_buf_puts(b, "</div>\n");
    if (ncur == 0) fz_buf_printf(b, "<p class=\"sub\">%s</p>\n", L->no_money);
}

static void category_table(fz_buf *b, const fz_ledger_periods *ps, size_t i, const labels *L) {
    const fz_ledger_window *w = &ps->cur[i].sum;
    char f[128];
    fz_buf_printf(b,
                  "<h2>%s</h2>\n<table class=\"categories\"><thead><tr><th class=\"t\">%s</th>"
                  "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th>"
                  "<th>%s</th><th>%s</th></tr></thead><tbody>\n",
                  L->sec_categories, L->col_category, L->col_screened, L->col_alerts_short,
                  L->col_suppressed, L->col_campaigns, L->col_cases, L->col_cases_prev,
                  L->col_cases_ago, L->col_intercepts);
    for (uint32_t r = 0; r < w->nrows; r++) {
        const fz_ledger_row *row = &w->rows[r];
        const char *cat = row->category;
        fz_buf_puts(b, "<tr><td class=\"t\" data-figure=\"cat.");
        put_esc(b, cat);
        fz_buf_puts(b, "\">");
        put_esc(b, cat);
        fz_buf_puts(b, "</td>");
#define CELL(field)                                                                                \
    do {                                                                                           \
        snprintf(f, sizeof(f), "cat.%s." #field, cat);                                             \
        put_count_cell(b, f, row->field);                                                          \
    } while (0)
        CELL(screened);
        CELL(alerts);
        CELL(suppressed);
        CELL(campaigns);
        CELL(cases);
        const fz_ledger_row *prev = fz_ledger_period_row(&ps->previous[i], cat),
                            *then = fz_ledger_period_row(&ps->ago[i], cat);
        int64_t pv = prev ? (int64_t)prev->cases : 0, tv = then ? (int64_t)then->cases : 0;
        fz_buf_puts(b, "<td>");
        snprintf(f, sizeof(f), "cat.%s.cases.previous", cat);
        put_change(b, f, (int64_t)row->cases, prev ? &pv : NULL, NULL, LOWER_BETTER);
        fz_buf_puts(b, "</td><td>");
        snprintf(f, sizeof(f), "cat.%s.cases.period_ago", cat);
        put_change(b, f, (int64_t)row->cases, then ? &tv : NULL, NULL, LOWER_BETTER);
        fz_buf_puts(b, "</td>");
        CELL(intercepts);
#undef CELL
        fz_buf_puts(b, "</tr>\n");
    }
    fz_buf_puts(b, "</tbody></table>\n");
    /* money: one line per category and currency */
    int any = 0;
    for (uint32_t r = 0; r < w->nrows; r++) any |= w->rows[r].nmoney > 0;
    if (!any) return;
    fz_buf_printf(b,
                  "<table class=\"money\"><thead><tr><th class=\"t\">%s</th><th class=\"t\">%s"
                  "</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>\n",
                  L->col_category, L->col_currency, L->lost, L->intercepted, L->rate);
    for (uint32_t r = 0; r < w->nrows; r++) {
        const fz_ledger_row *row = &w->rows[r];
        for (uint32_t m = 0; m < row->nmoney; m++) {
            const fz_money *mo = &row->money[m];
            fz_buf_puts(b, "<tr><td class=\"t\">");
            put_esc(b, row->category);
            fz_buf_puts(b, "</td><td class=\"t\">");
            put_esc(b, mo->currency);
            fz_buf_puts(b, "</td>");
            snprintf(f, sizeof(f), "cat.%s.lost.%s", row->category, mo->currency);
            put_money_cell(b, f, mo->lost_minor, mo->currency);
            snprintf(f, sizeof(f), "cat.%s.intercepted.%s", row->category, mo->currency);
            put_money_cell(b, f, mo->intercepted_minor, mo->currency);
            snprintf(f, sizeof(f), "cat.%s.recovery_rate.%s", row->category, mo->currency);
            put_rate_text(b, f, fz_money_recovery_rate(mo), "td");
            fz_buf_puts(b, "</tr>\n");
        }
    }
    fz_buf_puts(b, "</tbody></table>\n");
}

static void alert_sections(fz_buf *b, const alert_tables *t, const fz_ledger_periods *ps,
                           const labels *L) {
    fz_buf_printf(b, "<h2>%s</h2>\n", L->sec_campaigns);
    if (!t) {
        fz_buf_printf(b, "<p class=\"note\" data-figure=\"campaigns.missing\">%s</p>\n",
                      L->no_alert_files);
    } else if (t->nc == 0) {
        fz_buf_printf(b, "<p class=\"sub\" data-figure=\"campaigns.none\">%s</p>\n",
                      L->none_in_period);
    } else {
        fz_buf_printf(b,
                      "<table class=\"campaigns\"><thead><tr><th class=\"t\">%s</th><th "
                      "class=\"t\">%s</th><th class=\"t\">%s</th><th class=\"t\">%s</th>"
                      "<th>%s</th><th>%s</th><th>%s</th><th class=\"t\">%s</th></tr></thead>"
                      "<tbody>\n",
                      L->col_rule, L->col_category, L->col_first, L->col_last, L->col_events,
                      L->col_recipients, L->col_senders, L->col_sample);
        char f[64], when[24];
        for (size_t i = 0; i < t->nc && i < TOP_CAMPAIGNS; i++) {
            const campaign *c = &t->c[i];
            fz_buf_printf(b, "<tr><td class=\"t\" data-figure=\"campaign.%zu.rule\">", i);
            put_esc(b, c->rule);
            fz_buf_printf(b, "</td><td class=\"t\" data-figure=\"campaign.%zu.category\">", i);
            put_esc(b, c->category);
            fz_local_time_format(c->first_ts, ps->spec.utc_offset_s, 1, when);
            fz_buf_printf(b,
                          "</td><td class=\"t d\" data-figure=\"campaign.%zu.first_seen\" "
                          "data-value=\"%lld\">%s</td>",
                          i, (long long)c->first_ts, when);
            fz_local_time_format(c->last_ts, ps->spec.utc_offset_s, 1, when);
            fz_buf_printf(b,
                          "<td class=\"t d\" data-figure=\"campaign.%zu.last_seen\" "
                          "data-value=\"%lld\">%s</td>",
                          i, (long long)c->last_ts, when);
            snprintf(f, sizeof(f), "campaign.%zu.events", i);
            put_count_cell(b, f, (uint64_t)c->count);
            snprintf(f, sizeof(f), "campaign.%zu.recipients", i);
            put_count_cell(b, f, (uint64_t)c->recipients);
            snprintf(f, sizeof(f), "campaign.%zu.senders", i);
            put_count_cell(b, f, (uint64_t)c->senders);
            fz_buf_printf(b, "<td class=\"s\" data-figure=\"campaign.%zu.sample\">", i);
            put_esc(b, c->sample);
            fz_buf_puts(b, "</td></tr>\n");
        }
        fz_buf_printf(b, "</tbody></table><p class=\"fine\">%s</p>\n", L->campaign_note);
    }
    fz_buf_printf(b, "<h2>%s</h2>\n", L->sec_rules);
    if (!t) {
        fz_buf_printf(b, "<p class=\"note\" data-figure=\"rules.missing\">%s</p>\n",
                      L->no_alert_files);
    } else if (t->nr == 0) {
        fz_buf_printf(b, "<p class=\"sub\" data-figure=\"rules.none\">%s</p>\n", L->none_in_period);
    } else {
        fz_buf_printf(b,
                      "<table class=\"rules\"><thead><tr><th class=\"t\">%s</th><th "
                      "class=\"t\">%s</th><th>%s</th></tr></thead><tbody>\n",
                      L->col_rule, L->col_category, L->col_alerts);
        char f[64];
        for (size_t i = 0; i < t->nr && i < TOP_RULES; i++) {
            fz_buf_printf(b, "<tr><td class=\"t\" data-figure=\"rule.%zu.id\">", i);
            put_esc(b, t->r[i].id);
            fz_buf_printf(b, "</td><td class=\"t\" data-figure=\"rule.%zu.category\">", i);
            put_esc(b, t->r[i].category);
            fz_buf_puts(b, "</td>");
            snprintf(f, sizeof(f), "rule.%zu.alerts", i);
            put_count_cell(b, f, t->r[i].alerts);
            fz_buf_puts(b, "</tr>\n");
        }
        fz_buf_puts(b, "</tbody></table>\n");
    }
}

static int write_file(const char *path, const fz_buf *b, char *err, size_t err_size) {
    if (strcmp(path, "-") == 0) {
        if (fwrite(b->p, 1, b->len, stdout) != b->len || fflush(stdout) != 0) {
            snprintf(err, err_size, "stdout: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    snprintf(tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp), rc = -1;
    if (fd < 0) {
        snprintf(err, err_size, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        close(fd);
    } else if (fwrite(b->p, 1, b->len, fp) == b->len && fchmod(fd, 0644) == 0 && fclose(fp) == 0) {
        fp = NULL;
        rc = rename(tmp, path);
    } else {
        fclose(fp);
    }
    if (rc) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

const fz_ledger_period *fz_report_period(const fz_ledger_periods *ps) {
    return ps->n ? &ps->cur[ps->n - 1] : NULL;
}

int fz_report_write(const char *path, const fz_ledger_periods *ps, const fz_report_options *o,
                    fz_report_alerts *alerts, char *err, size_t err_size) {
    if (ps->n == 0) {
        snprintf(err, err_size, "no statistics in the records read (or between --from and --to)");
        return -1;
    }
    const labels *L = o->lang == FZ_REPORT_EN ? &en : &zh;
    size_t i = ps->n - 1; /* the period reported */
    const fz_ledger_period *p = &ps->cur[i];
    if (alerts && (alerts->start_ms != p->start_ms || alerts->end_ms != p->end_ms)) {
        snprintf(err, err_size, "the alert records were collected for another period");
        return -1;
    }
    if (alerts) reduce(alerts);
    fz_buf b;
    fz_buf_init(&b, PAGE_MAX);
    int rc = 0;
    char tz[8], label[16], first[16], last[16], ago[96];
    fz_utc_offset_format(ps->spec.utc_offset_s, tz);
    fz_period_label(ps->spec.unit, ps->spec.utc_offset_s, p->start_ms, label);
    fz_local_time_format(p->start_ms, ps->spec.utc_offset_s, 0, first);
    fz_local_time_format(p->end_ms - 1, ps->spec.utc_offset_s, 0, last);
    if (ps->spec.span)
        snprintf(ago, sizeof(ago), L->ago_fmt, (long long)ps->spec.span);
    else
        snprintf(ago, sizeof(ago), "%s", L->ago_year);
    fz_buf_printf(&b,
                  "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
                  "<meta name=\"generator\" content=\"fanzha stats\">\n<title>%s %s</title>\n%s"
                  "</head><body>\n<h1>%s</h1>\n<p class=\"sub\" data-figure=\"period\" "
                  "data-start=\"%lld\" data-end=\"%lld\">",
                  L->lang, L->title, label, css, L->title, (long long)p->start_ms,
                  (long long)p->end_ms);
    char tzl[32];
    snprintf(tzl, sizeof(tzl), "%s%s", L->tz, tz);
    fz_buf_printf(&b, L->subtitle_fmt, label, first, last, tzl);
    fz_buf_printf(&b, " · %u %s</p>\n", p->nwindows, L->windows);
    if (p->partial)
        fz_buf_printf(&b, "<p class=\"note\" data-figure=\"partial\">%s</p>\n", L->partial);
    headline(&b, ps, i, L, ago);
    fz_buf_printf(&b, "<h2>%s</h2>\n", L->sec_trends);
    if ((rc = charts(&b, ps, o, L, err, err_size)) != 0) goto out;
    category_table(&b, ps, i, L);
    alert_sections(&b, alerts, ps, L);
    char about[1024], span_text[96];
    const char *unit = L->unit[ps->spec.unit];
    if (o->lang == FZ_REPORT_ZH) {
        if (ps->spec.span)
            snprintf(span_text, sizeof(span_text), "%lld个%s前的同一周期", (long long)ps->spec.span,
                     unit);
        else
            snprintf(span_text, sizeof(span_text), "%s",
                     ps->spec.unit == FZ_PERIOD_WEEK ? "52周前的同一周" : "上一年的同一日期或月份");
        snprintf(about, sizeof(about), L->about, tz, unit, unit, span_text);
    } else {
        if (ps->spec.span)
            snprintf(span_text, sizeof(span_text), "the %s %lld %ss earlier", unit,
                     (long long)ps->spec.span, unit);
        else
            snprintf(span_text, sizeof(span_text), "%s",
                     ps->spec.unit == FZ_PERIOD_WEEK ? "the week 52 weeks earlier"
                                                     : "the same day or month a year earlier");
        snprintf(about, sizeof(about), L->about, tz, unit, unit, span_text);
    }
    fz_buf_puts(&b, "<footer><p>");
    put_esc(&b, about);
    fz_buf_puts(&b, "</p></footer>\n</body></html>\n");
    if (b.failed) {
        snprintf(err, err_size, "the page would exceed %u MiB", PAGE_MAX >> 20);
        rc = -1;
        goto out;
    }
    rc = write_file(path, &b, err, err_size);
out:
    fz_buf_free(&b);
    return rc;
}
