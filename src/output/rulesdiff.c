/*
 * rulesdiff.c - see rulesdiff.h.
 *
 * Workload: one call per event, millions of events, a few thousand rules.
 * Rules and categories of both rulesets are merged once into sorted rows;
 * each rule index of either ruleset maps to its row and its category row,
 * so an event costs O(rules it matched). Which rows an event touched is
 * kept with a per-event stamp instead of clearing arrays.
 */
#include "rulesdiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "utf8.h"

#define INVALID_SAMPLES 5
#define ID_MAX_BYTES 64
#define NUMBER_MAX_BYTES 64

struct fz_rulesdiff {
    const fz_ruleset *old_rs, *new_rs;
    fz_diff_opts opts;
    fz_diff_rule *rules;
    size_t nrules;
    fz_diff_category *cats;
    size_t ncats;
    uint32_t *rule_row[2]; /* [0] old, [1] new: rule index -> row */
    uint32_t *cat_row[2];  /* rule index -> category row */
    /* per-event stamps: bit 0 old matched, bit 1 new matched; valid when
     * the stamp equals the event's */
    uint64_t *rule_stamp, *cat_stamp;
    uint8_t *rule_bits, *cat_bits;
    uint32_t *touched_rules, *touched_cats;
    uint64_t stamp;
    fz_diff_totals tot;
    char *invalid[INVALID_SAMPLES];
    size_t ninvalid;
    fz_buf scratch;
};

static const char *const kind_names[FZ_DIFF_KINDS] = {"gained", "lost", "unchanged"};
static const char *const change_names[] = {"same",        "added",  "removed",
                                           "rev_changed", "edited", "shadow_rev"};

const char *fz_diff_kind_name(fz_diff_kind k) { return kind_names[k]; }
const char *fz_diff_change_name(fz_diff_change c) { return change_names[c]; }

/* The definition of a rule as far as verdicts go, hashed. */
static uint64_t rule_digest(const fz_rule *r) {
    XXH3_state_t *h = XXH3_createState();
    if (!h) return 0;
    XXH3_64bits_reset(h);
#define PUT_STR(s)                                                                                 \
    do {                                                                                           \
        const char *s_ = (s) ? (s) : "";                                                           \
        XXH3_64bits_update(h, s_, strlen(s_) + 1);                                                 \
        XXH3_64bits_update(h, (s) ? "s" : "n", 1);                                                 \
    } while (0)
#define PUT_NUM(v)                                                                                 \
    do {                                                                                           \
        uint64_t v_ = (uint64_t)(v);                                                               \
        XXH3_64bits_update(h, &v_, sizeof(v_));                                                    \
    } while (0)
    PUT_STR(r->category);
    PUT_NUM(r->severity);
    PUT_NUM(r->status);
    PUT_STR(r->cond_src);
    PUT_NUM(r->nterms);
    PUT_NUM(r->agg != NULL);
    for (size_t i = 0; i < r->nterms; i++) {
        const fz_term *t = &r->terms[i];
        PUT_STR(t->name);
        PUT_NUM(t->fields);
        PUT_NUM(t->view);
        PUT_NUM(t->hs_flags);
        PUT_STR(t->pattern);
        PUT_STR(t->list);
        PUT_NUM(t->mode);
        PUT_STR(t->model);
        uint64_t ms;
        memcpy(&ms, &t->min_score, sizeof(ms));
        PUT_NUM(ms);
    }
#undef PUT_STR
#undef PUT_NUM
    uint64_t v = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return v;
}

typedef struct id_ref {
    const char *id;
    uint32_t idx;
} id_ref;

static int id_ref_cmp(const void *a, const void *b) {
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static id_ref *sorted_ids(const fz_ruleset *rs, int cats, size_t *n) {
    size_t k = fz_ruleset_count(rs);
    id_ref *v = malloc((k ? k : 1) * sizeof(*v));
    if (!v) return NULL;
    for (size_t i = 0; i < k; i++) {
        const fz_rule *r = fz_ruleset_rule(rs, i);
        v[i] = (id_ref){cats ? r->category : r->id, (uint32_t)i};
    }
    qsort(v, k, sizeof(*v), id_ref_cmp);
    *n = k;
    return v;
}

/* The revisions of id, whose rules start at v[0] (sorted): *rule the one
 * compared, *shadow NULL, or for a shadow pair (rules.h: an id has two
 * revisions only as one enabled and one in shadow) the enabled one and
 * the shadow one, in whichever order the files hold them. */
static void revisions(const fz_ruleset *rs, const id_ref *v, size_t n, const char *id,
                      const fz_rule **rule, const fz_rule **shadow) {
    *rule = fz_ruleset_rule(rs, v[0].idx);
    *shadow = n > 1 && !strcmp(v[1].id, id) ? fz_ruleset_rule(rs, v[1].idx) : NULL;
    if (*shadow && (*rule)->status == FZ_STATUS_SHADOW) {
        const fz_rule *t = *rule;
        *rule = *shadow;
        *shadow = t;
    }
}

/* Merge the rules (cats = 0) or categories (1) of both rulesets into
 * sorted rows; fill the maps. Returns the number of rows, or (size_t)-1. */
static size_t merge(fz_rulesdiff *d, int cats) {
    size_t na = 0, nb = 0, rows = 0;
    id_ref *a = sorted_ids(d->old_rs, cats, &na), *b = sorted_ids(d->new_rs, cats, &nb);
    size_t cap = na + nb ? na + nb : 1;
    void *out = calloc(cap, cats ? sizeof(fz_diff_category) : sizeof(fz_diff_rule));
    uint32_t **map = cats ? d->cat_row : d->rule_row;
    if (!a || !b || !out) {
        free(a);
        free(b);
        free(out);
        return (size_t)-1;
    }
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i].id, b[j].id);
        const char *id = c <= 0 ? a[i].id : b[j].id;
        if (cats) {
            ((fz_diff_category *)out)[rows].name = id;
        } else {
            fz_diff_rule *r = &((fz_diff_rule *)out)[rows];
            r->id = id;
            if (c <= 0) revisions(d->old_rs, a + i, na - i, id, &r->old_rule, &r->old_shadow);
            if (c >= 0) revisions(d->new_rs, b + j, nb - j, id, &r->new_rule, &r->new_shadow);
            if (!r->new_rule)
                r->change = FZ_RULE_REMOVED;
            else if (!r->old_rule)
                r->change = FZ_RULE_ADDED;
            else if (r->old_rule->rev != r->new_rule->rev)
                r->change = FZ_RULE_REV_CHANGED;
            else if (rule_digest(r->old_rule) != rule_digest(r->new_rule))
                r->change = FZ_RULE_EDITED;
            else if (!r->old_shadow != !r->new_shadow ||
                     (r->old_shadow && (r->old_shadow->rev != r->new_shadow->rev ||
                                        rule_digest(r->old_shadow) != rule_digest(r->new_shadow))))
                r->change = FZ_RULE_SHADOW;
        }
        /* every rule of the same id (categories: of the same name) maps here */
        for (; c <= 0 && i < na && !strcmp(a[i].id, id); i++) map[0][a[i].idx] = (uint32_t)rows;
        for (; c >= 0 && j < nb && !strcmp(b[j].id, id); j++) map[1][b[j].idx] = (uint32_t)rows;
        rows++;
    }
    free(a);
    free(b);
    if (cats)
        d->cats = out;
    else
        d->rules = out;
    return rows;
}

fz_rulesdiff *fz_rulesdiff_new(const fz_ruleset *old_rs, const fz_ruleset *new_rs,
                               const fz_diff_opts *opts, char *errstr, size_t errstr_size) {
    fz_rulesdiff *d = calloc(1, sizeof(*d));
    if (!d) goto nomem;
    d->old_rs = old_rs;
    d->new_rs = new_rs;
    d->opts = *opts;
    if (d->opts.text_chars == 0) d->opts.text_chars = 120;
    fz_buf_init(&d->scratch, 1u << 20);
    size_t n[2] = {fz_ruleset_count(old_rs), fz_ruleset_count(new_rs)};
    for (int s = 0; s < 2; s++) {
        d->rule_row[s] = calloc(n[s] ? n[s] : 1, sizeof(uint32_t));
        d->cat_row[s] = calloc(n[s] ? n[s] : 1, sizeof(uint32_t));
        if (!d->rule_row[s] || !d->cat_row[s]) goto nomem;
    }
    if ((d->nrules = merge(d, 0)) == (size_t)-1 || (d->ncats = merge(d, 1)) == (size_t)-1)
        goto nomem;
    size_t rows = d->nrules + 1, crows = d->ncats + 1;
    d->rule_stamp = calloc(rows, sizeof(uint64_t));
    d->cat_stamp = calloc(crows, sizeof(uint64_t));
    d->rule_bits = calloc(rows, 1);
    d->cat_bits = calloc(crows, 1);
    d->touched_rules = calloc(rows, sizeof(uint32_t));
    d->touched_cats = calloc(crows, sizeof(uint32_t));
    if (!d->rule_stamp || !d->cat_stamp || !d->rule_bits || !d->cat_bits || !d->touched_rules ||
        !d->touched_cats)
        goto nomem;
    return d;
nomem:
    snprintf(errstr, errstr_size, "rules diff: out of memory");
    fz_rulesdiff_destroy(d);
    return NULL;
}

static void example_free(fz_diff_example *e) {
    free(e->where);
    free(e->id);
    free(e->from);
    free(e->to);
    free(e->text);
}

static void tally_free(fz_diff_tally *t) {
    for (int k = 0; k < FZ_DIFF_KINDS; k++) {
        for (size_t i = 0; i < t->nex[k]; i++) example_free(&t->ex[k][i]);
        free(t->ex[k]);
    }
}

void fz_rulesdiff_destroy(fz_rulesdiff *d) {
    if (!d) return;
    for (size_t i = 0; d->rules && i < d->nrules; i++) tally_free(&d->rules[i].t);
    for (size_t i = 0; d->cats && i < d->ncats; i++) tally_free(&d->cats[i].t);
    tally_free(&d->tot.alerts);
    for (size_t i = 0; i < d->ninvalid; i++) free(d->invalid[i]);
    free(d->rules);
    free(d->cats);
    for (int s = 0; s < 2; s++) {
        free(d->rule_row[s]);
        free(d->cat_row[s]);
    }
    free(d->rule_stamp);
    free(d->cat_stamp);
    free(d->rule_bits);
    free(d->cat_bits);
    free(d->touched_rules);
    free(d->touched_cats);
    fz_buf_free(&d->scratch);
    free(d);
}

/* Is cp a character that must not reach a terminal or a page as is:
 * C0 and C1 controls, DEL, and the bidirectional overrides that reorder
 * what a reviewer sees? */
static int hidden_char(uint32_t cp) {
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f;
}

/* A malloc'd copy of s[0..n): at most max_chars characters (and max_bytes
 * bytes), hidden characters as spaces, invalid bytes as U+FFFD, "..."
 * when cut. NULL when out of memory. */
static char *clean_copy(const char *s, size_t n, size_t max_chars, size_t max_bytes) {
    size_t cap = (max_bytes < n * 3 ? max_bytes : n * 3) + 8;
    char *out = malloc(cap), *w = out;
    if (!out) return NULL;
    size_t i = 0, chars = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = fz_utf8_decode(s + i, n - i, &cp);
        char enc[4];
        size_t el;
        if (l == 0) {
            l = 1;
            el = fz_utf8_encode(0xfffd, enc);
        } else if (hidden_char(cp)) {
            enc[0] = ' ';
            el = 1;
        } else {
            memcpy(enc, s + i, l);
            el = l;
        }
        if (chars == max_chars || (size_t)(w - out) + el + 4 > cap) break;
        memcpy(w, enc, el);
        w += el;
        i += l;
        chars++;
    }
    if (i < n) {
        memcpy(w, "...", 3);
        w += 3;
    }
    *w = '\0';
    return out;
}

static char *number_copy(fz_rulesdiff *d, fz_str s) {
    if (!s.p) return strdup("");
    const fz_privacy *p = d->opts.privacy;
    if (!p || p->numbers == FZ_NUMBERS_KEEP) return clean_copy(s.p, s.n, 32, NUMBER_MAX_BYTES);
    /* masked: '*' for every character hidden, quotes and controls among
     * them; hashed: hex digits. Either is a plain JSON string. */
    fz_buf_reset(&d->scratch);
    if (fz_privacy_put_number(&d->scratch, p, s) != FZ_OK || d->scratch.len < 2) return NULL;
    return clean_copy(d->scratch.p + 1, d->scratch.len - 2, 32, NUMBER_MAX_BYTES * 2);
}

/* "topic[partition]@offset" for a Kafka record, "file:line" for a line. */
static void where_of(const fz_source *src, char *out, size_t n) {
    if (src && src->topic)
        snprintf(out, n, "%s[%d]@%lld", src->topic, (int)src->partition, (long long)src->offset);
    else
        snprintf(out, n, "%s:%llu", src && src->file ? src->file : "-",
                 (unsigned long long)(src ? src->line : 0));
}

static int example_make(fz_rulesdiff *d, fz_diff_example *e, const fz_result *a, const fz_result *b,
                        const fz_source *src) {
    memset(e, 0, sizeof(*e));
    char where[512];
    where_of(src, where, sizeof(where));
    const fz_event *ev = &a->ev;
    e->where = clean_copy(where, strlen(where), 400, 600);
    e->id = ev->id.p ? clean_copy(ev->id.p, ev->id.n, ID_MAX_BYTES, ID_MAX_BYTES * 3) : strdup("");
    e->type = fz_event_type_name(ev->type);
    e->from = number_copy(d, ev->fields[FZ_FIELD_FROM]);
    e->to = number_copy(d, ev->fields[FZ_FIELD_TO]);
    fz_str t = ev->fields[FZ_FIELD_TEXT];
    int want_text = t.p && !(d->opts.privacy && d->opts.privacy->drop_texts);
    if (want_text) e->text = clean_copy(t.p, t.n, d->opts.text_chars, d->opts.text_chars * 4);
    e->old_rule = a->nrules > 0 ? fz_ruleset_rule(d->old_rs, a->primary)->id : NULL;
    e->new_rule = b->nrules > 0 ? fz_ruleset_rule(d->new_rs, b->primary)->id : NULL;
    if (!e->where || !e->id || !e->from || !e->to || (want_text && !e->text)) {
        example_free(e);
        return -1;
    }
    return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Count the event in t under kind k; keep it as an example while there
 * is room. *ex is the event's example, made on first need. */
static int tally_add(fz_rulesdiff *d, fz_diff_tally *t, fz_diff_kind k, fz_diff_example *ex,
                     int *have_ex, const fz_result *a, const fz_result *b, const fz_source *src) {
    t->n[k]++;
    if (t->nex[k] >= d->opts.examples) return 0;
    if (!*have_ex) {
        if (example_make(d, ex, a, b, src) != 0) return -1;
        *have_ex = 1;
    }
    if (!t->ex[k] && !(t->ex[k] = calloc(d->opts.examples, sizeof(fz_diff_example)))) return -1;
    fz_diff_example *e = &t->ex[k][t->nex[k]];
    *e = *ex;
    e->where = strdup(ex->where);
    e->id = strdup(ex->id);
    e->from = strdup(ex->from);
    e->to = strdup(ex->to);
    e->text = dup_or_null(ex->text);
    if (!e->where || !e->id || !e->from || !e->to || (ex->text && !e->text)) {
        example_free(e);
        memset(e, 0, sizeof(*e));
        return -1;
    }
    t->nex[k]++;
    return 0;
}

static fz_diff_kind kind_of(unsigned bits) {
    return bits == 2 ? FZ_DIFF_GAINED : bits == 1 ? FZ_DIFF_LOST : FZ_DIFF_UNCHANGED;
}

static void note_invalid(fz_rulesdiff *d, fz_reason reason, const fz_source *src,
                         const char *detail) {
    d->tot.invalid++;
    d->tot.invalid_by_reason[reason]++;
    if (d->ninvalid == INVALID_SAMPLES) return;
    char line[512], where[400];
    where_of(src, where, sizeof(where));
    snprintf(line, sizeof(line), "%s: %s: %s", where, fz_reason_name(reason), detail ? detail : "");
    char *c = clean_copy(line, strlen(line), 300, sizeof(line) * 3);
    if (c) d->invalid[d->ninvalid++] = c;
}

void fz_rulesdiff_add_unread(fz_rulesdiff *d, const fz_source *src, const char *detail) {
    d->tot.events++;
    note_invalid(d, FZ_REASON_TOO_LARGE, src, detail);
}

int fz_rulesdiff_add(fz_rulesdiff *d, const fz_result *a, const fz_result *b,
                     const fz_source *src) {
    d->tot.events++;
    if (a->verdict == FZ_VERDICT_INVALID || b->verdict == FZ_VERDICT_INVALID) {
        const fz_result *r = a->verdict == FZ_VERDICT_INVALID ? a : b;
        note_invalid(d, r->reason, src, r->detail);
        return 0;
    }
    d->tot.valid++;
    d->tot.truncated += a->truncated || b->truncated;
    uint64_t stamp = ++d->stamp;
    size_t nt = 0, nc = 0;
    const fz_result *res[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        const fz_result *r = res[s];
        for (int i = 0; i < r->nrules; i++) {
            uint32_t row = d->rule_row[s][r->rules[i]], crow = d->cat_row[s][r->rules[i]];
            if (d->rule_stamp[row] != stamp) {
                d->rule_stamp[row] = stamp;
                d->rule_bits[row] = 0;
                d->touched_rules[nt++] = row;
            }
            d->rule_bits[row] |= (uint8_t)(1u << s);
            if (d->cat_stamp[crow] != stamp) {
                d->cat_stamp[crow] = stamp;
                d->cat_bits[crow] = 0;
                d->touched_cats[nc++] = crow;
            }
            d->cat_bits[crow] |= (uint8_t)(1u << s);
        }
        for (int i = 0; i < r->nshadow; i++) {
            fz_diff_rule *dr = &d->rules[d->rule_row[s][r->shadow[i]]];
            if (s == 0)
                dr->shadow_old++;
            else
                dr->shadow_new++;
        }
    }
    fz_diff_example ex;
    int have_ex = 0, rc = 0;
    unsigned ev_bits = (a->nrules > 0) | (unsigned)(b->nrules > 0) << 1;
    d->tot.alerting_old += a->nrules > 0;
    d->tot.alerting_new += b->nrules > 0;
    if (ev_bits == 3 && strcmp(fz_ruleset_rule(d->old_rs, a->primary)->id,
                               fz_ruleset_rule(d->new_rs, b->primary)->id) != 0)
        d->tot.primary_changed++;
    if (ev_bits) rc |= tally_add(d, &d->tot.alerts, kind_of(ev_bits), &ex, &have_ex, a, b, src);
    for (size_t i = 0; i < nt && rc == 0; i++) {
        uint32_t row = d->touched_rules[i];
        rc |= tally_add(d, &d->rules[row].t, kind_of(d->rule_bits[row]), &ex, &have_ex, a, b, src);
    }
    for (size_t i = 0; i < nc && rc == 0; i++) {
        uint32_t row = d->touched_cats[i];
        rc |= tally_add(d, &d->cats[row].t, kind_of(d->cat_bits[row]), &ex, &have_ex, a, b, src);
    }
    if (have_ex) example_free(&ex);
    return rc ? -1 : 0;
}

const fz_diff_totals *fz_rulesdiff_totals(const fz_rulesdiff *d) { return &d->tot; }

const fz_diff_rule *fz_rulesdiff_rules(const fz_rulesdiff *d, size_t *n) {
    *n = d->nrules;
    return d->rules;
}

const fz_diff_category *fz_rulesdiff_categories(const fz_rulesdiff *d, size_t *n) {
    *n = d->ncats;
    return d->cats;
}

const char *const *fz_rulesdiff_invalid_samples(const fz_rulesdiff *d, size_t *n) {
    *n = d->ninvalid;
    return (const char *const *)d->invalid;
}

size_t fz_rulesdiff_examples(const fz_rulesdiff *d) { return d->opts.examples; }
