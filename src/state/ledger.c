/*
 * ledger.c - see ledger.h.
 *
 * Workload: one call per event on the hot path (a handful of integer adds
 * after a short linear search for the window and the row: a stream has one
 * or two open windows and tens of categories), one pop per event that
 * usually finds nothing, and a window record every window_ms. Rows are
 * looked up by pointer first (a rule's category string is stable within a
 * ruleset), then by bytes.
 */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "civil.h"
#include "ledger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"

struct fz_ledger {
    int64_t window_ms, grace_ms;
    int64_t watermark;        /* highest event time seen; INT64_MIN before any */
    uint64_t late_pending;    /* late events seen while no window was open */
    uint64_t invalid_pending; /* invalid events seen while no window was open */
    int reopen;               /* fz_ledger_set_reopen */
    int forced;               /* reopen: open[FZ_LEDGER_OPEN] holds a window pushed out */
    int nopen;
    fz_ledger_window open[FZ_LEDGER_OPEN + 1]; /* sorted by start; [OPEN]: forced out */
    /* last row hit, by category pointer (see the file comment) */
    const char *hint_cat;
    int64_t hint_start;
    int hint_row;
};

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

fz_ledger *fz_ledger_new(int64_t window_ms, int64_t grace_ms) {
    if (window_ms <= 0 || grace_ms < 0) return NULL;
    fz_ledger *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->window_ms = window_ms;
    l->grace_ms = grace_ms;
    l->watermark = INT64_MIN;
    l->hint_row = -1;
    return l;
}

void fz_ledger_destroy(fz_ledger *l) { free(l); }

void fz_ledger_set_reopen(fz_ledger *l, int on) { l->reopen = on; }

int64_t fz_ledger_window_ms(const fz_ledger *l) { return l->window_ms; }

static void window_init(fz_ledger_window *w, int64_t start, int64_t segment) {
    w->start_ms = start;
    w->segment = segment;
    w->first_offset = w->last_offset = -1;
    w->nrows = 1;
    w->interim = 0;
    w->ninput = 0;
    memset(&w->rows[0], 0, sizeof(w->rows[0]));
    memcpy(w->rows[0].category, "all", 4);
}

static const char *const reserved[] = {"all", "intercept", "unspecified", "unlisted"};

static int is_reserved(const char *cat, size_t n) {
    for (size_t i = 0; i < FZ_ARRAY_LEN(reserved); i++)
        if (strlen(reserved[i]) == n && memcmp(cat, reserved[i], n) == 0) return 1;
    return 0;
}

static int row_lookup(const fz_ledger_window *w, const char *cat, size_t n) {
    for (uint32_t i = 1; i < w->nrows; i++)
        if (strncmp(w->rows[i].category, cat, n) == 0 && w->rows[i].category[n] == '\0')
            return (int)i;
    return -1;
}

/* The row of category cat[0..n) in w, added if there is room: the last
 * row is kept for "unlisted", and names that came from input (input != 0)
 * get at most FZ_LEDGER_INPUT_CATEGORIES rows; everything else is counted
 * under "unlisted". */
static int row_find(fz_ledger_window *w, const char *cat, size_t n, int input) {
    if (n >= FZ_LEDGER_CATEGORY) n = FZ_LEDGER_CATEGORY - 1;
    int i = row_lookup(w, cat, n);
    if (i >= 0) return i;
    int unlisted = n == 8 && memcmp(cat, "unlisted", 8) == 0;
    if ((w->nrows < FZ_LEDGER_ROWS - 1 || (w->nrows == FZ_LEDGER_ROWS - 1 && unlisted)) &&
        (!input || w->ninput < FZ_LEDGER_INPUT_CATEGORIES)) {
        fz_ledger_row *r = &w->rows[w->nrows];
        memset(r, 0, sizeof(*r));
        memcpy(r->category, cat, n);
        r->category[n] = '\0';
        w->ninput += input != 0;
        return (int)w->nrows++;
    }
    return row_find(w, "unlisted", 8, 0);
}

static fz_money *money_of(fz_ledger_row *r, const char *cur, size_t n) {
    if (n == 0) {
        cur = "CNY";
        n = 3;
    }
    if (n >= sizeof(r->money[0].currency)) n = sizeof(r->money[0].currency) - 1;
    for (uint32_t i = 0; i < r->nmoney; i++)
        if (strncmp(r->money[i].currency, cur, n) == 0 && r->money[i].currency[n] == '\0')
            return &r->money[i];
    if (r->nmoney == FZ_LEDGER_CURRENCIES) {
        r->money_overflow++;
        return NULL;
    }
    fz_money *m = &r->money[r->nmoney++];
    memset(m, 0, sizeof(*m));
    memcpy(m->currency, cur, n);
    return m;
}

/* *sum += v, stopping at INT64_MAX (and saying so) instead of wrapping. */
static void money_add(fz_money *m, int64_t *sum, int64_t v) {
    int sat = 0;
    *sum = fz_sat_add(*sum, v, &sat);
    if (sat) m->saturated = 1;
}

static void count_add(uint64_t *c, uint64_t v) { *c = *c > UINT64_MAX - v ? UINT64_MAX : *c + v; }

/* When the window starting at start closes: its end plus the grace. */
static int64_t closes_at(const fz_ledger *l, int64_t start) {
    return fz_sat_add(fz_sat_add(start, l->window_ms, NULL), l->grace_ms, NULL);
}

/* The window for start, opened if it is not yet closed; NULL if late. A
 * reopening ledger opens any window asked for (as segment `offset`) and,
 * when all its slots are taken, pushes its oldest window out to be popped
 * next (its caller pops after every add). */
static fz_ledger_window *window_for(fz_ledger *l, int64_t start, int64_t offset) {
    /* closed by the watermark, whether or not it has been popped yet */
    if (!l->reopen && closes_at(l, start) <= l->watermark) return NULL;
    int i = 0;
    while (i < l->nopen && l->open[i].start_ms < start) i++;
    if (i < l->nopen && l->open[i].start_ms == start) return &l->open[i];
    if (l->nopen == FZ_LEDGER_OPEN) {
        if (!l->reopen || l->forced) return NULL; /* cannot happen with grace <= 5 windows */
        l->open[FZ_LEDGER_OPEN] = l->open[0];
        l->forced = 1;
        memmove(&l->open[0], &l->open[1], (size_t)(--l->nopen) * sizeof(l->open[0]));
        if (i > 0) i--; /* (a window older than all open ones takes the first slot) */
    }
    memmove(&l->open[i + 1], &l->open[i], (size_t)(l->nopen - i) * sizeof(l->open[0]));
    l->nopen++;
    l->hint_row = -1;
    window_init(&l->open[i], start, l->reopen ? offset : -1);
    l->open[i].rows[0].late = l->late_pending;
    l->open[i].rows[0].invalid = l->invalid_pending;
    l->late_pending = l->invalid_pending = 0;
    return &l->open[i];
}

static void row_count(fz_ledger_row *row, const fz_ledger_event *e) {
    switch (e->verdict) {
    case FZ_VERDICT_ALERT:
        row->alerts++;
        if (e->type == FZ_EV_SMS && e->matched) row->campaigns++;
        break;
    case FZ_VERDICT_SUPPRESSED: row->suppressed++; break;
    default: break;
    }
    if (e->type == FZ_EV_REPORT) {
        row->cases++;
        fz_money *m = money_of(row, e->currency.p, e->currency.n);
        if (m && e->has_amount) money_add(m, &m->lost_minor, e->amount_minor);
    }
    /* money is held only on an intercept alert: a transfer suppressed as a
     * repeat raised none, so nothing of it was intercepted */
    if (e->type == FZ_EV_TRANSFER && e->intercept && e->verdict == FZ_VERDICT_ALERT) {
        row->intercepts++;
        fz_money *m = money_of(row, e->currency.p, e->currency.n);
        if (m && e->has_amount) money_add(m, &m->intercepted_minor, e->amount_minor);
    }
}

void fz_ledger_event_of(const fz_result *r, const fz_ruleset *rs, fz_ledger_event *out) {
    memset(out, 0, sizeof(*out));
    out->ts_ms = r->ev.ts_ms;
    out->type = (uint8_t)r->ev.type;
    out->verdict = (uint8_t)r->verdict;
    out->matched = r->nrules > 0;
    out->intercept = r->intercept;
    out->has_amount = (uint8_t)r->ev.has_amount;
    out->amount_minor = r->ev.amount_minor;
    out->currency = r->ev.currency;
    if (r->ev.type == FZ_EV_REPORT) {
        fz_str c = r->ev.category;
        if (!c.p || !c.n) {
            out->category = FZ_STR_LIT("unspecified");
        } else if (is_reserved(c.p, c.n)) {
            out->category = FZ_STR_LIT("unlisted");
        } else {
            const char *rc = rs ? fz_ruleset_category_find(rs, c.p, c.n) : NULL;
            out->category = rc ? (fz_str){rc, strlen(rc)} : c;
            out->category_input = rc == NULL;
        }
    } else if (r->nrules > 0 && rs) {
        const char *c = fz_ruleset_rule(rs, r->primary)->category;
        out->category = (fz_str){c, strlen(c)};
    } else if (r->intercept) {
        out->category = FZ_STR_LIT("intercept");
    }
}

void fz_ledger_add_invalid(fz_ledger *l) {
    /* no trustworthy event time: counted in the newest open window */
    if (l->nopen)
        l->open[l->nopen - 1].rows[0].invalid++;
    else
        l->invalid_pending++;
}

void fz_ledger_add(fz_ledger *l, const fz_ledger_event *e, int64_t offset) {
    int64_t ts = e->ts_ms;
    if (ts > l->watermark) l->watermark = ts;
    int64_t start = floor_div(ts, l->window_ms) * l->window_ms;
    fz_ledger_window *w = window_for(l, start, offset);
    if (!w) {
        if (l->nopen)
            l->open[l->nopen - 1].rows[0].late++;
        else
            l->late_pending++;
        return;
    }
    if (offset >= 0) {
        if (w->first_offset < 0 || offset < w->first_offset) w->first_offset = offset;
        if (offset > w->last_offset) w->last_offset = offset;
    }
    w->rows[0].screened++;
    row_count(&w->rows[0], e);
    if (!e->category.p || !e->category.n) return;
    const char *cat = e->category.p;
    int ri;
    /* the same category as the last event, usually (checked: the bytes behind
     * a pointer may change between events) */
    size_t cn = e->category.n < FZ_LEDGER_CATEGORY ? e->category.n : FZ_LEDGER_CATEGORY - 1;
    if (!e->category_input && cat == l->hint_cat && start == l->hint_start && l->hint_row >= 0 &&
        strncmp(w->rows[l->hint_row].category, cat, cn) == 0 &&
        w->rows[l->hint_row].category[cn] == '\0') {
        ri = l->hint_row;
    } else {
        ri = row_find(w, cat, e->category.n, e->category_input);
        if (!e->category_input) {
            l->hint_cat = cat;
            l->hint_start = start;
            l->hint_row = ri;
        }
    }
    w->rows[ri].screened++;
    row_count(&w->rows[ri], e);
}

int fz_ledger_route(fz_ledger *l, int64_t ts) {
    int64_t start = floor_div(ts, l->window_ms) * l->window_ms;
    if (closes_at(l, start) <= l->watermark) { /* late here: counted as such, here only */
        if (l->nopen)
            l->open[l->nopen - 1].rows[0].late++;
        else
            l->late_pending++;
        return 1;
    }
    if (ts > l->watermark) l->watermark = ts;
    return 0;
}

void fz_ledger_add_result(fz_ledger *l, const fz_result *r, const fz_ruleset *rs, int64_t offset) {
    if (r->verdict == FZ_VERDICT_INVALID) {
        fz_ledger_add_invalid(l);
        return;
    }
    fz_ledger_event e;
    fz_ledger_event_of(r, rs, &e);
    fz_ledger_add(l, &e, offset);
}

static void pop_front(fz_ledger *l, fz_ledger_window *out) {
    if (l->forced) {
        memcpy(out, &l->open[FZ_LEDGER_OPEN],
               offsetof(fz_ledger_window, rows) +
                   (size_t)l->open[FZ_LEDGER_OPEN].nrows * sizeof(fz_ledger_row));
        l->forced = 0;
        return;
    }
    memcpy(out, &l->open[0],
           offsetof(fz_ledger_window, rows) + (size_t)l->open[0].nrows * sizeof(fz_ledger_row));
    l->nopen--;
    memmove(&l->open[0], &l->open[1], (size_t)l->nopen * sizeof(l->open[0]));
    l->hint_row = -1;
}

int fz_ledger_pop_closed(fz_ledger *l, fz_ledger_window *out) {
    if (l->reopen) { /* only a window pushed out for room closes */
        if (!l->forced) return 0;
    } else if (l->nopen == 0 || closes_at(l, l->open[0].start_ms) > l->watermark) {
        return 0;
    }
    pop_front(l, out);
    return 1;
}

int fz_ledger_pop_any(fz_ledger *l, fz_ledger_window *out) {
    if (l->nopen == 0 && !l->forced) return 0;
    pop_front(l, out);
    return 1;
}

int fz_ledger_open_count(const fz_ledger *l) { return l->nopen; }

const fz_ledger_window *fz_ledger_open_window(const fz_ledger *l, int i) {
    return i >= 0 && i < l->nopen ? &l->open[i] : NULL;
}

/* ---- checkpoint ---- */

#define CKPT_MAGIC "FZL3"

typedef struct ckpt_head {
    char magic[4];
    uint32_t row_size;
    int64_t window_ms;
    int64_t watermark;
    uint64_t late_pending;
    uint64_t invalid_pending;
    uint32_t nopen;
    uint32_t forced;
    uint32_t window_head;
    uint32_t pad;
} ckpt_head;

typedef struct ckpt_window {
    int64_t start_ms, segment, first_offset, last_offset;
    uint32_t nrows, ninput;
} ckpt_window;

fz_err fz_ledger_window_save(const fz_ledger_window *w, fz_buf *b) {
    ckpt_window cw = {w->start_ms,    w->segment, w->first_offset,
                      w->last_offset, w->nrows,   w->ninput};
    fz_buf_put(b, &cw, sizeof(cw));
    fz_buf_put(b, w->rows, (size_t)w->nrows * sizeof(fz_ledger_row));
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

size_t fz_ledger_window_load(fz_ledger_window *w, const void *p, size_t n) {
    const char *c = p;
    ckpt_window cw;
    if (n < sizeof(cw)) return 0;
    memcpy(&cw, c, sizeof(cw));
    size_t need = sizeof(cw) + (size_t)cw.nrows * sizeof(fz_ledger_row);
    if (cw.nrows < 1 || cw.nrows > FZ_LEDGER_ROWS || cw.ninput > FZ_LEDGER_INPUT_CATEGORIES ||
        n < need)
        return 0;
    w->start_ms = cw.start_ms;
    w->segment = cw.segment;
    w->ninput = cw.ninput;
    w->interim = 0;
    w->first_offset = cw.first_offset;
    w->last_offset = cw.last_offset;
    w->nrows = cw.nrows;
    memcpy(w->rows, c + sizeof(cw), cw.nrows * sizeof(fz_ledger_row));
    for (uint32_t r = 0; r < cw.nrows; r++) {
        fz_ledger_row *row = &w->rows[r];
        row->category[FZ_LEDGER_CATEGORY - 1] = '\0';
        if (row->nmoney > FZ_LEDGER_CURRENCIES) return 0;
        for (uint32_t m = 0; m < row->nmoney; m++)
            row->money[m].currency[sizeof(row->money[m].currency) - 1] = '\0';
    }
    return need;
}

fz_err fz_ledger_save(const fz_ledger *l, fz_buf *b) {
    ckpt_head h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, CKPT_MAGIC, 4);
    h.row_size = (uint32_t)sizeof(fz_ledger_row);
    h.window_ms = l->window_ms;
    h.watermark = l->watermark;
    h.late_pending = l->late_pending;
    h.invalid_pending = l->invalid_pending;
    h.nopen = (uint32_t)l->nopen;
    h.forced = (uint32_t)l->forced;
    h.window_head = (uint32_t)sizeof(ckpt_window);
    fz_buf_put(b, &h, sizeof(h));
    for (int i = 0; i < l->nopen; i++) fz_ledger_window_save(&l->open[i], b);
    if (l->forced) fz_ledger_window_save(&l->open[FZ_LEDGER_OPEN], b);
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

size_t fz_ledger_load(fz_ledger *l, const void *p, size_t n, char *err, size_t err_size) {
    const char *c = p, *end = c + n;
    ckpt_head h;
    if (n < sizeof(h)) goto bad;
    memcpy(&h, c, sizeof(h));
    c += sizeof(h);
    if (memcmp(h.magic, CKPT_MAGIC, 4) != 0 || h.row_size != sizeof(fz_ledger_row) ||
        h.window_head != sizeof(ckpt_window))
        goto bad;
    if (h.window_ms != l->window_ms) {
        snprintf(err, err_size, "checkpoint has %lld ms windows, configured %lld ms",
                 (long long)h.window_ms, (long long)l->window_ms);
        return 0;
    }
    if (h.nopen > FZ_LEDGER_OPEN || h.forced > 1) goto bad;
    fz_ledger tmp = *l;
    tmp.watermark = h.watermark;
    tmp.late_pending = h.late_pending;
    tmp.invalid_pending = h.invalid_pending;
    tmp.nopen = (int)h.nopen;
    tmp.forced = (int)h.forced;
    tmp.hint_row = -1;
    for (uint32_t i = 0; i < h.nopen + h.forced; i++) {
        fz_ledger_window *w = &tmp.open[i < h.nopen ? i : FZ_LEDGER_OPEN];
        size_t used = fz_ledger_window_load(w, c, (size_t)(end - c));
        if (!used) goto bad;
        c += used;
    }
    *l = tmp;
    return (size_t)(c - (const char *)p);
bad:
    snprintf(err, err_size, "not a statistics checkpoint of this build (%zu bytes)", n);
    return 0;
}

/* ---- merging and encoding ---- */

static const fz_ledger_row *row_get(const fz_ledger_window *w, const char *cat) {
    for (uint32_t i = 0; w && i < w->nrows; i++)
        if (strcmp(w->rows[i].category, cat) == 0) return &w->rows[i];
    return NULL;
}

static void row_merge(fz_ledger_row *d, const fz_ledger_row *s) {
    count_add(&d->screened, s->screened);
    count_add(&d->alerts, s->alerts);
    count_add(&d->suppressed, s->suppressed);
    count_add(&d->campaigns, s->campaigns);
    count_add(&d->cases, s->cases);
    count_add(&d->intercepts, s->intercepts);
    count_add(&d->invalid, s->invalid);
    count_add(&d->late, s->late);
    d->money_overflow = d->money_overflow > UINT32_MAX - s->money_overflow
                            ? UINT32_MAX
                            : d->money_overflow + s->money_overflow;
    for (uint32_t i = 0; i < s->nmoney; i++) {
        const fz_money *sm = &s->money[i];
        fz_money *m = money_of(d, sm->currency, strlen(sm->currency));
        if (!m) continue;
        money_add(m, &m->lost_minor, sm->lost_minor);
        money_add(m, &m->intercepted_minor, sm->intercepted_minor);
        m->saturated |= sm->saturated;
    }
}

void fz_ledger_window_merge(fz_ledger_window *dst, const fz_ledger_window *src) {
    if (src->first_offset >= 0 && (dst->first_offset < 0 || src->first_offset < dst->first_offset))
        dst->first_offset = src->first_offset;
    if (src->last_offset > dst->last_offset) dst->last_offset = src->last_offset;
    dst->interim += src->interim;
    for (uint32_t i = 0; i < src->nrows; i++) {
        const char *cat = src->rows[i].category;
        /* the rows of records are already bounded; only the row cap applies */
        int ri = i == 0 ? 0 : row_find(dst, cat, strlen(cat), 0);
        row_merge(&dst->rows[ri], &src->rows[i]);
    }
}

static const fz_ledger_row zero_row;

static const fz_money *money_find(const fz_ledger_row *r, const char *cur) {
    for (uint32_t i = 0; r && i < r->nmoney; i++)
        if (strcmp(r->money[i].currency, cur) == 0) return &r->money[i];
    return NULL;
}

static int64_t money_get(const fz_ledger_row *r, const char *cur, int intercepted) {
    const fz_money *m = money_find(r, cur);
    return !m ? 0 : intercepted ? m->intercepted_minor : m->lost_minor;
}

static void put_counts(fz_buf *b, const fz_ledger_row *r, const fz_ledger_row *base, int all) {
    /* base: write r - base (the change) instead of r */
#define FIELD(name, first)                                                                         \
    do {                                                                                           \
        fz_buf_put_key(b, #name, first);                                                           \
        fz_buf_put_i64(b, (int64_t)r->name - (base ? (int64_t)base->name : 0));                    \
    } while (0)
    FIELD(screened, 1);
    FIELD(alerts, 0);
    FIELD(suppressed, 0);
    FIELD(campaigns, 0);
    FIELD(cases, 0);
    FIELD(intercepts, 0);
    if (all && !base) {
        FIELD(invalid, 0);
        FIELD(late, 0);
    }
#undef FIELD
}

/* Currencies of a and b (union, in order of appearance). */
static int currencies(const fz_ledger_row *a, const fz_ledger_row *b,
                      const char *out[2 * FZ_LEDGER_CURRENCIES]) {
    int n = 0;
    const fz_ledger_row *v[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; v[k] && i < v[k]->nmoney; i++) {
            int seen = 0;
            for (int j = 0; j < n; j++) seen |= strcmp(out[j], v[k]->money[i].currency) == 0;
            if (!seen) out[n++] = v[k]->money[i].currency;
        }
    return n;
}

static void put_money(fz_buf *b, const fz_ledger_row *r, const fz_ledger_row *base,
                      const fz_ledger_row *other, int rate) {
    const char *cur[2 * FZ_LEDGER_CURRENCIES];
    int n = currencies(r, other, cur);
    fz_buf_put_key(b, "money", 0);
    fz_buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        int64_t lost = money_get(r, cur[i], 0), held = money_get(r, cur[i], 1);
        if (i) fz_buf_putc(b, ',');
        fz_buf_puts(b, "{\"currency\":");
        fz_buf_put_json_str(b, cur[i], strlen(cur[i]));
        fz_buf_puts(b, ",\"lost\":");
        fz_buf_put_i64(b, fz_sat_sub(lost, money_get(base, cur[i], 0), NULL));
        fz_buf_puts(b, ",\"intercepted\":");
        fz_buf_put_i64(b, fz_sat_sub(held, money_get(base, cur[i], 1), NULL));
        if (rate) {
            fz_buf_puts(b, ",\"recovery_rate\":");
            double total = (double)lost + (double)held;
            if (total > 0)
                fz_buf_printf(b, "%.4f", (double)held / total);
            else
                fz_buf_puts(b, "null");
            const fz_money *m = money_find(r, cur[i]);
            if (m && m->saturated) fz_buf_puts(b, ",\"saturated\":true");
        }
        fz_buf_putc(b, '}');
    }
    fz_buf_putc(b, ']');
}

/* name: {start_key: start, "values": ..., "change": ... - left open for
 * the caller to add fields and close - or null when start is INT64_MIN
 * (nothing to compare with). */
static void put_compare_as(fz_buf *b, const char *name, const char *start_key,
                           const fz_ledger_window *cw, int64_t start, const fz_ledger_row *r,
                           int all) {
    const fz_ledger_row *base = cw ? row_get(cw, r->category) : NULL;
    if (!base) base = &zero_row;
    fz_buf_put_key(b, name, 0);
    if (start == INT64_MIN) {
        fz_buf_puts(b, "null");
        return;
    }
    /* the earlier values, then the change from them */
    fz_buf_putc(b, '{');
    fz_buf_put_key(b, start_key, 1);
    fz_buf_put_i64(b, start);
    fz_buf_puts(b, ",\"values\":{");
    put_counts(b, base, NULL, 0);
    put_money(b, base, NULL, r, 0);
    fz_buf_puts(b, "},\"change\":{");
    put_counts(b, r, base, all);
    put_money(b, r, base, base, 0);
    fz_buf_putc(b, '}');
}

static void put_compare(fz_buf *b, const char *name, const fz_ledger_window *cw, int64_t start,
                        const fz_ledger_row *r, int all) {
    put_compare_as(b, name, "window_start", cw, start, r, all);
    if (start != INT64_MIN) fz_buf_putc(b, '}');
}

static void put_iso(fz_buf *b, int64_t ms) {
    time_t s = (time_t)floor_div(ms, 1000);
    struct tm tm;
    char t[32];
    gmtime_r(&s, &tm);
    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fz_buf_put_json_str(b, t, strlen(t));
}

fz_err fz_ledger_window_encode(fz_buf *b, const fz_ledger_window *w, int64_t window_ms, int final,
                               const fz_ledger_source *src, const fz_ledger_compare *cmp) {
    fz_buf_puts(b, "{\"type\":\"stats\",\"window\":{\"start\":");
    fz_buf_put_i64(b, w->start_ms);
    fz_buf_puts(b, ",\"end\":");
    fz_buf_put_i64(b, w->start_ms + window_ms);
    fz_buf_puts(b, ",\"start_utc\":");
    put_iso(b, w->start_ms);
    fz_buf_puts(b, "},\"final\":");
    fz_buf_puts(b, final ? "true" : "false");
    if (src) {
        fz_buf_puts(b, ",\"source\":{");
        int first = 1;
        if (src->group) {
            fz_buf_put_key(b, "group", first);
            fz_buf_put_json_str(b, src->group, strlen(src->group));
            first = 0;
        }
        if (src->topic) {
            fz_buf_put_key(b, "topic", first);
            fz_buf_put_json_str(b, src->topic, strlen(src->topic));
            fz_buf_put_key(b, "partition", 0);
            fz_buf_put_i64(b, src->partition);
            first = 0;
        }
        if (src->stage) {
            fz_buf_put_key(b, "stage", first);
            fz_buf_put_json_str(b, src->stage, strlen(src->stage));
            first = 0;
        }
        if (src->lineage) {
            fz_buf_put_key(b, "lineage", first);
            fz_buf_put_json_str(b, src->lineage, strlen(src->lineage));
            first = 0;
        }
        if (w->segment >= 0) {
            fz_buf_put_key(b, "segment", first);
            fz_buf_put_i64(b, w->segment);
            first = 0;
        }
        if (w->first_offset >= 0) {
            fz_buf_put_key(b, "offsets", first);
            fz_buf_printf(b, "[%lld,%lld]", (long long)w->first_offset, (long long)w->last_offset);
        }
        fz_buf_putc(b, '}');
    }
    if (cmp && cmp->period_ms > 0) {
        fz_buf_puts(b, ",\"period_ms\":");
        fz_buf_put_i64(b, cmp->period_ms);
    }
    fz_buf_puts(b, ",\"rows\":[");
    for (uint32_t i = 0; i < w->nrows; i++) {
        const fz_ledger_row *r = &w->rows[i];
        if (i) fz_buf_putc(b, ',');
        fz_buf_puts(b, "{\"category\":");
        fz_buf_put_json_str(b, r->category, strlen(r->category));
        fz_buf_putc(b, ',');
        put_counts(b, r, NULL, i == 0);
        put_money(b, r, NULL, NULL, 1);
        if (r->money_overflow) {
            fz_buf_puts(b, ",\"money_overflow\":");
            fz_buf_put_u64(b, r->money_overflow);
        }
        if (cmp) {
            put_compare(b, "previous", cmp->previous, cmp->previous_start, r, i == 0);
            put_compare(b, "period_ago", cmp->period, cmp->period_start, r, i == 0);
        }
        fz_buf_putc(b, '}');
    }
    fz_buf_puts(b, "]}");
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

/* ---- reading records back ---- */

typedef struct reader {
    const char *js;
    const jsmntok_t *t;
    int n;
    char *err;
    size_t errsz;
} reader;

/* The index after token i and everything inside it. */
static int tok_skip(const reader *r, int i) {
    int pending = 1;
    while (pending > 0 && i < r->n) pending += r->t[i++].size - 1;
    return i;
}

static int tok_is(const reader *r, int i, const char *s) {
    size_t n = strlen(s);
    return (size_t)(r->t[i].end - r->t[i].start) == n && memcmp(r->js + r->t[i].start, s, n) == 0;
}

static int bad(const reader *r, const char *where, const char *field, const char *want) {
    snprintf(r->err, r->errsz, "field '%s%s': expected %s", where, field, want);
    return -1;
}

static int tok_i64(const reader *r, int i, int64_t *out) {
    const jsmntok_t *t = &r->t[i];
    char buf[24], *end;
    size_t n = (size_t)(t->end - t->start);
    if (t->type != JSMN_PRIMITIVE || n == 0 || n >= sizeof(buf)) return -1;
    memcpy(buf, r->js + t->start, n);
    buf[n] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

static int tok_u64(const reader *r, int i, uint64_t *out) {
    int64_t v;
    if (tok_i64(r, i, &v) || v < 0) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* A JSON string into out (NUL-terminated; cut at size - 1 bytes). The
 * escapes fz_buf_put_json_str writes are undone; \u escapes of the BMP
 * become UTF-8. */
static int tok_str(const reader *r, int i, char *out, size_t size) {
    const jsmntok_t *t = &r->t[i];
    if (t->type != JSMN_STRING) return -1;
    size_t k = 0;
    for (const char *p = r->js + t->start, *e = r->js + t->end; p < e && k + 4 < size; p++) {
        if (*p != '\\') {
            out[k++] = *p;
            continue;
        }
        if (++p >= e) return -1;
        switch (*p) {
        case 'n': out[k++] = '\n'; break;
        case 't': out[k++] = '\t'; break;
        case 'r': out[k++] = '\r'; break;
        case 'b': out[k++] = '\b'; break;
        case 'f': out[k++] = '\f'; break;
        case 'u': {
            unsigned v = 0;
            if (e - p < 5 || sscanf(p + 1, "%4x", &v) != 1 || (v >= 0xd800 && v < 0xe000))
                return -1;
            p += 4;
            if (v < 0x80) {
                out[k++] = (char)v;
            } else if (v < 0x800) {
                out[k++] = (char)(0xc0 | (v >> 6));
                out[k++] = (char)(0x80 | (v & 0x3f));
            } else {
                out[k++] = (char)(0xe0 | (v >> 12));
                out[k++] = (char)(0x80 | ((v >> 6) & 0x3f));
                out[k++] = (char)(0x80 | (v & 0x3f));
            }
            break;
        }
        default: out[k++] = *p; break; /* \" \\ \/ */
        }
    }
    out[k] = '\0';
    return 0;
}

/* One element of a row's "money" array at token i; returns the next index. */
static int read_money(const reader *r, int i, fz_ledger_row *row, const char *where) {
    if (r->t[i].type != JSMN_OBJECT) return bad(r, where, "money[]", "an object");
    int nkeys = r->t[i].size, j = i + 1;
    char cur[8] = "";
    int64_t lost = 0, held = 0;
    int sat = 0;
    for (int k = 0; k < nkeys; k++, j = tok_skip(r, j + 1)) {
        if (tok_is(r, j, "currency")) {
            if (tok_str(r, j + 1, cur, sizeof(cur)) || !cur[0])
                return bad(r, where, "money[].currency", "a currency code");
        } else if (tok_is(r, j, "lost")) {
            if (tok_i64(r, j + 1, &lost) || lost < 0)
                return bad(r, where, "money[].lost", "a non-negative integer");
        } else if (tok_is(r, j, "intercepted")) {
            if (tok_i64(r, j + 1, &held) || held < 0)
                return bad(r, where, "money[].intercepted", "a non-negative integer");
        } else if (tok_is(r, j, "saturated")) {
            sat = r->t[j + 1].type == JSMN_PRIMITIVE && r->js[r->t[j + 1].start] == 't';
        }
    }
    if (!cur[0]) return bad(r, where, "money[].currency", "a currency code");
    fz_money *m = money_of(row, cur, strlen(cur));
    if (m) {
        money_add(m, &m->lost_minor, lost);
        money_add(m, &m->intercepted_minor, held);
        m->saturated |= (uint32_t)sat;
    }
    return j;
}

static int read_row(const reader *r, int i, fz_ledger_row *row, int idx) {
    char where[32];
    snprintf(where, sizeof(where), "rows[%d].", idx);
    if (r->t[i].type != JSMN_OBJECT) return bad(r, where, "", "an object");
    memset(row, 0, sizeof(*row));
    static const struct {
        const char *name;
        size_t off;
    } counts[] = {
        {"screened", offsetof(fz_ledger_row, screened)},
        {"alerts", offsetof(fz_ledger_row, alerts)},
        {"suppressed", offsetof(fz_ledger_row, suppressed)},
        {"campaigns", offsetof(fz_ledger_row, campaigns)},
        {"cases", offsetof(fz_ledger_row, cases)},
        {"intercepts", offsetof(fz_ledger_row, intercepts)},
        {"invalid", offsetof(fz_ledger_row, invalid)},
        {"late", offsetof(fz_ledger_row, late)},
    };
    int nkeys = r->t[i].size, j = i + 1;
    for (int k = 0; k < nkeys; k++, j = tok_skip(r, j + 1)) {
        if (tok_is(r, j, "category")) {
            if (tok_str(r, j + 1, row->category, sizeof(row->category)) || !row->category[0])
                return bad(r, where, "category", "a name");
            continue;
        }
        if (tok_is(r, j, "money")) {
            const jsmntok_t *a = &r->t[j + 1];
            if (a->type != JSMN_ARRAY) return bad(r, where, "money", "an array");
            for (int m = 0, e = j + 2; m < a->size; m++)
                if ((e = read_money(r, e, row, where)) < 0) return -1;
            continue;
        }
        if (tok_is(r, j, "money_overflow")) {
            uint64_t v;
            if (tok_u64(r, j + 1, &v) || v > UINT32_MAX)
                return bad(r, where, "money_overflow", "a count");
            row->money_overflow = (uint32_t)v;
            continue;
        }
        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
            if (tok_is(r, j, counts[c].name) &&
                tok_u64(r, j + 1, (uint64_t *)((char *)row + counts[c].off)))
                return bad(r, where, counts[c].name, "a count");
    }
    if (!row->category[0]) return bad(r, where, "category", "a name");
    return j;
}

static int read_window(const reader *r, int i, fz_ledger_record *out) {
    if (r->t[i].type != JSMN_OBJECT) return bad(r, "", "window", "an object");
    int64_t start = 0, end = 0;
    int have = 0, nkeys = r->t[i].size, j = i + 1;
    for (int k = 0; k < nkeys; k++, j = tok_skip(r, j + 1)) {
        if (tok_is(r, j, "start")) {
            if (tok_i64(r, j + 1, &start)) return bad(r, "window.", "start", "an integer");
            have |= 1;
        } else if (tok_is(r, j, "end")) {
            if (tok_i64(r, j + 1, &end)) return bad(r, "window.", "end", "an integer");
            have |= 2;
        }
    }
    if (have != 3 || end <= start) return bad(r, "", "window", "a start before its end");
    out->w.start_ms = start;
    out->window_ms = end - start;
    return j;
}

static int read_source(const reader *r, int i, fz_ledger_record *out) {
    if (r->t[i].type != JSMN_OBJECT) return bad(r, "", "source", "an object");
    int nkeys = r->t[i].size, j = i + 1;
    for (int k = 0; k < nkeys; k++, j = tok_skip(r, j + 1)) {
        int64_t v;
        if (tok_is(r, j, "group")) {
            if (tok_str(r, j + 1, out->group, sizeof(out->group)))
                return bad(r, "source.", "group", "a string");
        } else if (tok_is(r, j, "topic")) {
            if (tok_str(r, j + 1, out->topic, sizeof(out->topic)))
                return bad(r, "source.", "topic", "a string");
        } else if (tok_is(r, j, "partition")) {
            if (tok_i64(r, j + 1, &v) || v < 0 || v > INT32_MAX)
                return bad(r, "source.", "partition", "a partition number");
            out->partition = (int32_t)v;
        } else if (tok_is(r, j, "stage")) {
            if (tok_str(r, j + 1, out->stage, sizeof(out->stage)))
                return bad(r, "source.", "stage", "a short string");
        } else if (tok_is(r, j, "lineage")) {
            if (tok_str(r, j + 1, out->lineage, sizeof(out->lineage)))
                return bad(r, "source.", "lineage", "a short string");
        } else if (tok_is(r, j, "segment")) {
            if (tok_i64(r, j + 1, &out->w.segment) || out->w.segment < 0)
                return bad(r, "source.", "segment", "an offset");
        } else if (tok_is(r, j, "offsets")) {
            const jsmntok_t *a = &r->t[j + 1];
            if (a->type != JSMN_ARRAY || a->size != 2 || tok_i64(r, j + 2, &out->w.first_offset) ||
                tok_i64(r, j + 3, &out->w.last_offset))
                return bad(r, "source.", "offsets", "[first, last]");
        }
    }
    return j;
}

static int read_record(const reader *r, fz_ledger_record *out) {
    const jsmntok_t *t = r->t;
    if (t[0].type != JSMN_OBJECT) return bad(r, "", "", "a JSON object");
    int nkeys = t[0].size, j = 1, have = 0;
    for (int k = 0; k < nkeys; k++) {
        if (tok_is(r, j, "type")) {
            if (!tok_is(r, j + 1, "stats") || t[j + 1].type != JSMN_STRING)
                return bad(r, "", "type", "\"stats\"");
            have |= 1;
        } else if (tok_is(r, j, "final")) {
            out->final = tok_is(r, j + 1, "true");
            if (!out->final && !tok_is(r, j + 1, "false"))
                return bad(r, "", "final", "true or false");
            have |= 2;
        } else if (tok_is(r, j, "window")) {
            if (read_window(r, j + 1, out) < 0) return -1;
            have |= 4;
        } else if (tok_is(r, j, "source")) {
            if (read_source(r, j + 1, out) < 0) return -1;
        } else if (tok_is(r, j, "rows")) {
            const jsmntok_t *a = &t[j + 1];
            if (a->type != JSMN_ARRAY || a->size < 1)
                return bad(r, "", "rows", "a non-empty array");
            if (a->size > FZ_LEDGER_ROWS) return bad(r, "", "rows", "at most 32 rows");
            for (int e = j + 2, n = 0; n < a->size; n++)
                if ((e = read_row(r, e, &out->w.rows[n], n)) < 0) return -1;
            if (strcmp(out->w.rows[0].category, "all") != 0)
                return bad(r, "", "rows[0].category", "\"all\"");
            out->w.nrows = (uint32_t)a->size;
            have |= 8;
        }
        j = tok_skip(r, j + 1);
    }
    if (!(have & 1)) return bad(r, "", "type", "\"stats\"");
    if (!(have & 2)) return bad(r, "", "final", "true or false");
    if (!(have & 4)) return bad(r, "", "window", "an object");
    if (!(have & 8)) return bad(r, "", "rows", "a non-empty array");
    out->w.interim = !out->final;
    return 0;
}

int fz_ledger_record_decode(const char *json, size_t n, fz_ledger_record *out, char *err,
                            size_t err_size) {
    memset(out, 0, sizeof(*out));
    window_init(&out->w, 0, -1);
    out->partition = -1;
    jsmn_parser p;
    jsmn_init(&p);
    int ntok = jsmn_parse(&p, json, n, NULL, 0);
    if (ntok <= 0) {
        snprintf(err, err_size, "not JSON (near byte %u)", p.pos);
        return -1;
    }
    jsmntok_t *t = malloc((size_t)ntok * sizeof(*t));
    if (!t) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    jsmn_init(&p);
    ntok = jsmn_parse(&p, json, n, t, (unsigned)ntok);
    reader r = {json, t, ntok, err, err_size};
    int rc = ntok > 0 ? read_record(&r, out) : -1;
    if (ntok <= 0) snprintf(err, err_size, "not JSON (near byte %u)", p.pos);
    free(t);
    return rc;
}

/* ---- book ---- */

struct fz_ledger_book {
    int64_t window_ms, period_ms;
    fz_ledger_window *w; /* sorted by start */
    size_t n, cap;
};

fz_ledger_book *fz_ledger_book_new(int64_t window_ms, int64_t period_ms) {
    fz_ledger_book *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->window_ms = window_ms;
    b->period_ms = period_ms;
    return b;
}

void fz_ledger_book_destroy(fz_ledger_book *b) {
    if (!b) return;
    free(b->w);
    free(b);
}

/* Index of the first window whose start >= start. */
static size_t book_lower(const fz_ledger_book *b, int64_t start) {
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->w[mid].start_ms < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const fz_ledger_window *book_find(const fz_ledger_book *b, int64_t start) {
    size_t i = book_lower(b, start);
    return i < b->n && b->w[i].start_ms == start ? &b->w[i] : NULL;
}

int fz_ledger_book_add(fz_ledger_book *b, const fz_ledger_window *w) {
    size_t i = book_lower(b, w->start_ms);
    if (i < b->n && b->w[i].start_ms == w->start_ms) {
        fz_ledger_window_merge(&b->w[i], w);
        return 0;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        fz_ledger_window *nw = realloc(b->w, cap * sizeof(*nw));
        if (!nw) return -1;
        b->w = nw;
        b->cap = cap;
    }
    memmove(&b->w[i + 1], &b->w[i], (b->n - i) * sizeof(*b->w));
    b->n++;
    window_init(&b->w[i], w->start_ms, -1);
    fz_ledger_window_merge(&b->w[i], w);
    return 0;
}

size_t fz_ledger_book_count(const fz_ledger_book *b) { return b->n; }

const fz_ledger_window *fz_ledger_book_window(const fz_ledger_book *b, size_t i,
                                              fz_ledger_compare *cmp) {
    if (i >= b->n) return NULL;
    const fz_ledger_window *w = &b->w[i];
    if (cmp) {
        int64_t first = b->w[0].start_ms, prev = w->start_ms - b->window_ms,
                period = w->start_ms - b->period_ms;
        cmp->previous = book_find(b, prev);
        cmp->previous_start = prev >= first ? prev : INT64_MIN;
        cmp->period = b->period_ms > 0 ? book_find(b, period) : NULL;
        cmp->period_start = b->period_ms > 0 && period >= first ? period : INT64_MIN;
        cmp->period_ms = b->period_ms;
    }
    return w;
}

void fz_ledger_book_total(const fz_ledger_book *b, fz_ledger_window *out) {
    window_init(out, b->n ? b->w[0].start_ms : 0, -1);
    for (size_t i = 0; i < b->n; i++) fz_ledger_window_merge(out, &b->w[i]);
}

static void fmt_money(char *out, size_t n, int64_t minor, const char *cur) {
    int dec = fz_currency_decimals((fz_str){cur, strlen(cur)});
    if (dec > 6) dec = 6;
    int64_t div = 1;
    for (int i = 0; i < dec; i++) div *= 10;
    int64_t a = minor < 0 ? -minor : minor;
    if (dec > 0)
        snprintf(out, n, "%s%lld.%0*lld %s", minor < 0 ? "-" : "", (long long)(a / div), dec,
                 (long long)(a % div), cur);
    else
        snprintf(out, n, "%s%lld %s", minor < 0 ? "-" : "", (long long)a, cur);
}

static void print_row(FILE *fp, const char *when, const fz_ledger_row *r, const fz_ledger_row *prev,
                      const fz_ledger_row *period) {
    fprintf(fp, "%-20s %-24.24s %9llu %7llu %7llu %5llu %6llu %6llu", when, r->category,
            (unsigned long long)r->screened, (unsigned long long)r->alerts,
            (unsigned long long)r->suppressed, (unsigned long long)r->campaigns,
            (unsigned long long)r->cases, (unsigned long long)r->intercepts);
    char d1[24] = "-", d2[24] = "-";
    if (prev) snprintf(d1, sizeof(d1), "%+lld", (long long)r->cases - (long long)prev->cases);
    if (period) snprintf(d2, sizeof(d2), "%+lld", (long long)r->cases - (long long)period->cases);
    fprintf(fp, " %7s %7s", d1, d2);
    for (uint32_t i = 0; i < r->nmoney; i++) {
        const fz_money *m = &r->money[i];
        char lost[64], held[64], rate[16] = "-";
        fmt_money(lost, sizeof(lost), m->lost_minor, m->currency);
        fmt_money(held, sizeof(held), m->intercepted_minor, m->currency);
        if (m->lost_minor + m->intercepted_minor > 0)
            snprintf(rate, sizeof(rate), "%.1f%%",
                     100.0 * (double)m->intercepted_minor /
                         (double)(m->lost_minor + m->intercepted_minor));
        fprintf(fp, "  lost %s, intercepted %s, recovery %s", lost, held, rate);
    }
    fputc('\n', fp);
}

int fz_ledger_book_write(const fz_ledger_book *b, void *out) {
    FILE *fp = out;
    fz_buf buf;
    fz_buf_init(&buf, 1u << 20);
    int rc = 0;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        fz_ledger_compare cmp;
        const fz_ledger_window *w = fz_ledger_book_window(b, i, &cmp);
        fz_buf_reset(&buf);
        if (fz_ledger_window_encode(&buf, w, b->window_ms, w->interim == 0, NULL, &cmp) != FZ_OK) {
            errno = ENOMEM;
            rc = -1;
            break;
        }
        fz_buf_putc(&buf, '\n');
        if (fwrite(buf.p, 1, buf.len, fp) != buf.len) rc = -1;
    }
    fz_buf_free(&buf);
    return rc;
}

/* The row a table compares with: zeros for an empty window in the span,
 * NULL ("-") when there is nothing to compare with. */
static const fz_ledger_row *compared(const fz_ledger_compare *cmp, int period, const char *cat) {
    const fz_ledger_window *w = period ? cmp->period : cmp->previous;
    if ((period ? cmp->period_start : cmp->previous_start) == INT64_MIN) return NULL;
    const fz_ledger_row *r = w ? row_get(w, cat) : NULL;
    return r ? r : &zero_row;
}

void fz_ledger_book_print(const fz_ledger_book *b, size_t max_windows, void *out) {
    FILE *fp = out;
    fprintf(fp,
            "statistics: %zu window(s) of %lld s%s\n%-20s %-24s %9s %7s %7s %5s %6s %6s %7s %7s "
            " money (lost = reported losses)\n",
            b->n, (long long)(b->window_ms / 1000), b->period_ms ? "" : " (no period set)",
            "window (UTC)", "category", "screened", "alerts", "suppr", "camp", "cases", "interc",
            "cases±w", "cases±p");
    size_t from = b->n > max_windows ? b->n - max_windows : 0;
    if (from) fprintf(fp, "(%zu earlier window(s) not shown)\n", from);
    for (size_t i = from; i < b->n; i++) {
        fz_ledger_compare cmp;
        const fz_ledger_window *w = fz_ledger_book_window(b, i, &cmp);
        char when[32];
        time_t s = (time_t)floor_div(w->start_ms, 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        for (uint32_t r = 0; r < w->nrows; r++)
            print_row(fp, r == 0 ? when : "", &w->rows[r], compared(&cmp, 0, w->rows[r].category),
                      compared(&cmp, 1, w->rows[r].category));
    }
    fz_ledger_window total;
    fz_ledger_book_total(b, &total);
    for (uint32_t r = 0; r < total.nrows; r++)
        print_row(fp, r == 0 ? "total" : "", &total.rows[r], NULL, NULL);
}

/* ---- periods ---- */

enum { DAY_MS = 86400000 };

/* A year as the labels print it: an event's ts lies in years 1970 to 9999
 * (docs/events.md), the offsets and period arithmetic move it by a year or
 * so; anything further out is clamped, so a label always fits. */
static int display_year(int64_t y) { return y < -9999 ? -9999 : y > 99999 ? 99999 : (int)y; }

static int month_days(int64_t y, int m) {
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : n[m - 1];
}

/* The local day (days since the epoch in the offset) of t, and its start. */
static int64_t local_day(int32_t off_s, int64_t t_ms) {
    return floor_div(t_ms + (int64_t)off_s * 1000, DAY_MS);
}

static int64_t day_start(int32_t off_s, int64_t day) {
    return day * DAY_MS - (int64_t)off_s * 1000;
}

int fz_period_unit_parse(const char *s, fz_period_unit *out) {
    if (!s) return -1;
    if (strcmp(s, "day") == 0)
        *out = FZ_PERIOD_DAY;
    else if (strcmp(s, "week") == 0)
        *out = FZ_PERIOD_WEEK;
    else if (strcmp(s, "month") == 0)
        *out = FZ_PERIOD_MONTH;
    else
        return -1;
    return 0;
}

const char *fz_period_unit_name(fz_period_unit u) {
    return u == FZ_PERIOD_DAY ? "day" : u == FZ_PERIOD_WEEK ? "week" : "month";
}

int fz_utc_offset_parse(const char *s, int32_t *out_s) {
    if (!s) return -1;
    if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0) {
        *out_s = 0;
        return 0;
    }
    if (s[0] != '+' && s[0] != '-') return -1;
    int sign = s[0] == '-' ? -1 : 1, digits[4], nd = 0;
    const char *p = s + 1;
    int colon = 0;
    for (; *p; p++) {
        if (*p == ':' && nd == 2 && !colon) {
            colon = 1;
            continue;
        }
        if (*p < '0' || *p > '9' || nd == 4) return -1;
        digits[nd++] = *p - '0';
    }
    int h, m = 0;
    if (nd == 1 && !colon)
        h = digits[0];
    else if (nd == 2 && !colon)
        h = digits[0] * 10 + digits[1];
    else if (nd == 4)
        h = digits[0] * 10 + digits[1], m = digits[2] * 10 + digits[3];
    else
        return -1;
    if (m > 59 || h * 60 + m > 14 * 60) return -1;
    *out_s = sign * (h * 3600 + m * 60);
    return 0;
}

void fz_utc_offset_format(int32_t off_s, char *out) {
    int32_t a = off_s < 0 ? -off_s : off_s;
    snprintf(out, 8, "%c%02d:%02d", off_s < 0 ? '-' : '+', (int)(a / 3600) % 100,
             (int)(a % 3600 / 60));
}

int fz_local_date_parse(const char *s, int32_t off_s, int64_t *out_ms) {
    int y, m, d, n = 0;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
        s[4] != '-' || s[7] != '-')
        return -1;
    if (m < 1 || m > 12 || d < 1 || d > month_days(y, m)) return -1;
    *out_ms = day_start(off_s, fz_days_from_civil(y, m, d));
    return 0;
}

void fz_local_time_format(int64_t t_ms, int32_t off_s, int with_time, char *out) {
    int64_t local = t_ms + (int64_t)off_s * 1000, day = floor_div(local, DAY_MS), y;
    int m, d;
    fz_civil_from_days(day, &y, &m, &d);
    int64_t in_day = (local - day * DAY_MS) / 60000;
    int yy = display_year(y);
    if (with_time)
        snprintf(out, 24, "%04d-%02d-%02d %02d:%02d", yy, m, d, (int)(in_day / 60),
                 (int)(in_day % 60));
    else
        snprintf(out, 16, "%04d-%02d-%02d", yy, m, d);
}

int64_t fz_period_floor(fz_period_unit u, int32_t off_s, int64_t t_ms) {
    int64_t day = local_day(off_s, t_ms), y;
    int m, d;
    switch (u) {
    case FZ_PERIOD_WEEK: /* 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays */
        day -= ((day + 3) % 7 + 7) % 7;
        break;
    case FZ_PERIOD_MONTH:
        fz_civil_from_days(day, &y, &m, &d);
        day = fz_days_from_civil(y, m, 1);
        break;
    default: break;
    }
    return day_start(off_s, day);
}

int64_t fz_period_shift(fz_period_unit u, int32_t off_s, int64_t start_ms, int64_t n) {
    int64_t day = local_day(off_s, start_ms), y;
    int m, d;
    switch (u) {
    case FZ_PERIOD_DAY: return day_start(off_s, day + n);
    case FZ_PERIOD_WEEK: return day_start(off_s, day + 7 * n);
    default: {
        fz_civil_from_days(day, &y, &m, &d);
        int64_t months = y * 12 + (m - 1) + n;
        int64_t ny = floor_div(months, 12);
        return day_start(off_s, fz_days_from_civil(ny, (int)(months - ny * 12) + 1, 1));
    }
    }
}

int64_t fz_period_span_ago(fz_period_unit u, int32_t off_s, int64_t start_ms, int64_t span) {
    if (span > 0) return fz_period_shift(u, off_s, start_ms, -span);
    int64_t day = local_day(off_s, start_ms), y;
    int m, d;
    switch (u) {
    case FZ_PERIOD_DAY:
        fz_civil_from_days(day, &y, &m, &d);
        if (d > month_days(y - 1, m)) d = month_days(y - 1, m); /* 29 Feb -> 28 Feb */
        return day_start(off_s, fz_days_from_civil(y - 1, m, d));
    case FZ_PERIOD_WEEK: return day_start(off_s, day - 52 * 7);
    default: return fz_period_shift(u, off_s, start_ms, -12);
    }
}

void fz_period_label(fz_period_unit u, int32_t off_s, int64_t start_ms, char *out) {
    int64_t day = local_day(off_s, start_ms), y;
    int m, d;
    if (u == FZ_PERIOD_WEEK) {
        /* the ISO week-numbering year is the year of the week's Thursday */
        fz_civil_from_days(day + 3, &y, &m, &d);
        int64_t week = (day + 3 - fz_days_from_civil(y, 1, 1)) / 7 + 1;
        snprintf(out, 16, "%04d-W%02d", display_year(y), (int)week);
        return;
    }
    fz_civil_from_days(day, &y, &m, &d);
    if (u == FZ_PERIOD_MONTH)
        snprintf(out, 16, "%04d-%02d", display_year(y), m);
    else
        snprintf(out, 16, "%04d-%02d-%02d", display_year(y), m, d);
}

/* Sum the book's windows starting in [start, end) into p. */
static void period_sum(const fz_ledger_book *b, fz_ledger_period *p, int64_t start, int64_t end) {
    memset(p, 0, offsetof(fz_ledger_period, sum));
    p->start_ms = start;
    p->end_ms = end;
    window_init(&p->sum, start, -1);
    int64_t first = b->n ? b->w[0].start_ms : INT64_MAX,
            last = b->n ? b->w[b->n - 1].start_ms + b->window_ms : INT64_MIN;
    p->no_data = end <= first;
    p->partial = start < first || end > last;
    for (size_t i = book_lower(b, start); i < b->n && b->w[i].start_ms < end; i++) {
        fz_ledger_window_merge(&p->sum, &b->w[i]);
        p->nwindows++;
    }
}

fz_ledger_periods *fz_ledger_periods_new(const fz_ledger_book *b, const fz_period_spec *spec,
                                         char *errstr, size_t errstr_size) {
    const fz_period_unit u = spec->unit;
    const int32_t off = spec->utc_offset_s;
    /* a window must lie inside one period: it cannot be split */
    for (size_t i = 0; i < b->n; i++) {
        int64_t s = b->w[i].start_ms, e = s + b->window_ms;
        if (fz_period_floor(u, off, s) != fz_period_floor(u, off, e - 1)) {
            char when[24], tz[8];
            fz_local_time_format(s, off, 1, when);
            fz_utc_offset_format(off, tz);
            snprintf(errstr, errstr_size,
                     "the %lld s window starting %s (%s) straddles a %s boundary: windows cannot "
                     "be split; use windows that divide a day at this UTC offset (e.g. whole "
                     "hours at a whole-hour offset)",
                     (long long)(b->window_ms / 1000), when, tz, fz_period_unit_name(u));
            return NULL;
        }
    }
    int64_t from = spec->from_ms, to = spec->to_ms;
    if (from == INT64_MIN) from = b->n ? b->w[0].start_ms : INT64_MIN;
    if (to == INT64_MAX) to = b->n ? b->w[b->n - 1].start_ms + b->window_ms : INT64_MIN;
    fz_ledger_periods *p = calloc(1, sizeof(*p));
    if (!p) goto oom;
    p->spec = *spec;
    p->window_ms = b->window_ms;
    if (from == INT64_MIN || to == INT64_MIN) return p; /* an empty book: no periods */
    if (from >= to) {
        snprintf(errstr, errstr_size, "--from must be before --to");
        goto fail;
    }
    int64_t first = fz_period_floor(u, off, from), last = fz_period_floor(u, off, to - 1);
    size_t n = 0;
    for (int64_t t = first; t <= last; t = fz_period_shift(u, off, t, 1))
        if (++n > FZ_PERIODS_MAX) {
            snprintf(errstr, errstr_size,
                     "more than %d periods of a %s between --from and --to: choose a longer "
                     "period or a shorter span",
                     FZ_PERIODS_MAX, fz_period_unit_name(u));
            goto fail;
        }
    p->cur = calloc(n, sizeof(*p->cur));
    p->previous = calloc(n, sizeof(*p->previous));
    p->ago = calloc(n, sizeof(*p->ago));
    if (!p->cur || !p->previous || !p->ago) goto oom;
    p->n = n;
    int64_t t = first;
    for (size_t i = 0; i < n; i++, t = fz_period_shift(u, off, t, 1)) {
        int64_t next = fz_period_shift(u, off, t, 1), prev = fz_period_shift(u, off, t, -1),
                ago = fz_period_span_ago(u, off, t, spec->span);
        period_sum(b, &p->cur[i], t, next);
        period_sum(b, &p->previous[i], prev, t);
        period_sum(b, &p->ago[i], ago, fz_period_shift(u, off, ago, 1));
    }
    return p;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    fz_ledger_periods_destroy(p);
    return NULL;
}

void fz_ledger_periods_destroy(fz_ledger_periods *p) {
    if (!p) return;
    free(p->cur);
    free(p->previous);
    free(p->ago);
    free(p);
}

const fz_ledger_row *fz_ledger_period_row(const fz_ledger_period *cmp, const char *category) {
    if (cmp->no_data) return NULL;
    const fz_ledger_row *r = row_get(&cmp->sum, category);
    return r ? r : &zero_row;
}

double fz_money_recovery_rate(const fz_money *m) {
    double total = (double)m->lost_minor + (double)m->intercepted_minor;
    return total > 0 ? (double)m->intercepted_minor / total : -1;
}

void fz_money_format(int64_t minor, const char *currency, char *out, size_t size) {
    int dec = fz_currency_decimals((fz_str){currency, strlen(currency)});
    if (dec < 0 || dec > 6) dec = dec < 0 ? 0 : 6;
    uint64_t a = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor, div = 1;
    for (int i = 0; i < dec; i++) div *= 10;
    char digits[32], grouped[48];
    int nd = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)(a / div)), k = 0;
    for (int i = 0; i < nd; i++) {
        if (i && (nd - i) % 3 == 0) grouped[k++] = ',';
        grouped[k++] = digits[i];
    }
    grouped[k] = '\0';
    if (dec > 0)
        snprintf(out, size, "%s%s.%0*llu", minor < 0 ? "-" : "", grouped, dec,
                 (unsigned long long)(a % div));
    else
        snprintf(out, size, "%s%s", minor < 0 ? "-" : "", grouped);
}

static void put_period_compare(fz_buf *b, const char *name, const fz_ledger_periods *ps,
                               const fz_ledger_period *cmp, const fz_ledger_row *r, int all) {
    put_compare_as(b, name, "period_start", &cmp->sum, cmp->no_data ? INT64_MIN : cmp->start_ms, r,
                   all);
    if (cmp->no_data) return;
    char day[16];
    fz_local_time_format(cmp->start_ms, ps->spec.utc_offset_s, 0, day);
    fz_buf_puts(b, ",\"start_local\":");
    fz_buf_put_json_str(b, day, strlen(day));
    if (cmp->partial) fz_buf_puts(b, ",\"partial\":true");
    fz_buf_putc(b, '}');
}

int fz_ledger_periods_write(const fz_ledger_periods *ps, void *out) {
    FILE *fp = out;
    fz_buf b;
    fz_buf_init(&b, 1u << 20);
    int rc = 0;
    char tz[8], label[16], day[16], last[16];
    fz_utc_offset_format(ps->spec.utc_offset_s, tz);
    for (size_t i = 0; i < ps->n && rc == 0; i++) {
        const fz_ledger_period *p = &ps->cur[i];
        const fz_ledger_window *w = &p->sum;
        fz_buf_reset(&b);
        fz_period_label(ps->spec.unit, ps->spec.utc_offset_s, p->start_ms, label);
        fz_local_time_format(p->start_ms, ps->spec.utc_offset_s, 0, day);
        fz_local_time_format(p->end_ms - 1, ps->spec.utc_offset_s, 0, last);
        fz_buf_puts(&b, "{\"type\":\"stats_period\",\"period\":{\"unit\":");
        const char *unit = fz_period_unit_name(ps->spec.unit);
        fz_buf_put_json_str(&b, unit, strlen(unit));
        fz_buf_puts(&b, ",\"label\":");
        fz_buf_put_json_str(&b, label, strlen(label));
        fz_buf_puts(&b, ",\"start\":");
        fz_buf_put_i64(&b, p->start_ms);
        fz_buf_puts(&b, ",\"end\":");
        fz_buf_put_i64(&b, p->end_ms);
        fz_buf_puts(&b, ",\"first_day\":");
        fz_buf_put_json_str(&b, day, strlen(day));
        fz_buf_puts(&b, ",\"last_day\":");
        fz_buf_put_json_str(&b, last, strlen(last));
        fz_buf_puts(&b, ",\"utc_offset\":");
        fz_buf_put_json_str(&b, tz, strlen(tz));
        fz_buf_puts(&b, ",\"span\":");
        fz_buf_put_i64(&b, ps->spec.span);
        fz_buf_puts(&b, ",\"windows\":");
        fz_buf_put_u64(&b, p->nwindows);
        fz_buf_puts(&b, ",\"partial\":");
        fz_buf_puts(&b, p->partial ? "true" : "false");
        fz_buf_puts(&b, "},\"window_ms\":");
        fz_buf_put_i64(&b, ps->window_ms);
        fz_buf_puts(&b, ",\"final\":");
        fz_buf_puts(&b, w->interim ? "false" : "true");
        fz_buf_puts(&b, ",\"rows\":[");
        for (uint32_t r = 0; r < w->nrows; r++) {
            const fz_ledger_row *row = &w->rows[r];
            if (r) fz_buf_putc(&b, ',');
            fz_buf_puts(&b, "{\"category\":");
            fz_buf_put_json_str(&b, row->category, strlen(row->category));
            fz_buf_putc(&b, ',');
            put_counts(&b, row, NULL, r == 0);
            put_money(&b, row, NULL, NULL, 1);
            if (row->money_overflow) {
                fz_buf_puts(&b, ",\"money_overflow\":");
                fz_buf_put_u64(&b, row->money_overflow);
            }
            put_period_compare(&b, "previous", ps, &ps->previous[i], row, r == 0);
            put_period_compare(&b, "period_ago", ps, &ps->ago[i], row, r == 0);
            fz_buf_putc(&b, '}');
        }
        fz_buf_puts(&b, "]}\n");
        if (b.failed) {
            errno = ENOMEM;
            rc = -1;
        } else if (fwrite(b.p, 1, b.len, fp) != b.len) {
            rc = -1;
        }
    }
    fz_buf_free(&b);
    return rc;
}

void fz_ledger_periods_print(const fz_ledger_periods *ps, void *out) {
    FILE *fp = out;
    char tz[8], head[32];
    fz_utc_offset_format(ps->spec.utc_offset_s, tz);
    snprintf(head, sizeof(head), "%s (%s)", fz_period_unit_name(ps->spec.unit), tz);
    const char *unit = fz_period_unit_name(ps->spec.unit);
    char span[64];
    if (ps->spec.span)
        snprintf(span, sizeof(span), "the %s %lld %s(s) earlier", unit, (long long)ps->spec.span,
                 unit);
    else
        snprintf(span, sizeof(span), "the same %s a year earlier", unit);
    fprintf(fp,
            "statistics: %zu %s(s) at UTC%s; cases compared with the previous %s (±prev) and "
            "%s (±span)\n%-20s %-24s %9s %7s %7s %5s %6s %6s %7s %7s  money\n",
            ps->n, unit, tz, unit, span, head, "category", "screened", "alerts", "suppr", "camp",
            "cases", "interc", "±prev", "±span");
    for (size_t i = 0; i < ps->n; i++) {
        const fz_ledger_window *w = &ps->cur[i].sum;
        char label[24];
        fz_period_label(ps->spec.unit, ps->spec.utc_offset_s, ps->cur[i].start_ms, label);
        if (ps->cur[i].partial) strcat(label, " *");
        for (uint32_t r = 0; r < w->nrows; r++)
            print_row(fp, r == 0 ? label : "", &w->rows[r],
                      fz_ledger_period_row(&ps->previous[i], w->rows[r].category),
                      fz_ledger_period_row(&ps->ago[i], w->rows[r].category));
    }
    int partial = 0;
    for (size_t i = 0; i < ps->n; i++) partial |= ps->cur[i].partial != 0;
    if (partial) fprintf(fp, "(* = the records do not cover the whole %s)\n", unit);
}
