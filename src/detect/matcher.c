/*
 * matcher.c - see matcher.h.
 *
 * Each database is scanned with hs_scan() over the view of the field it
 * was built for. The match callback records, per rule, which of its terms
 * matched in this event; rules are stamped with the scan number, so
 * nothing is cleared between events. Literal atoms that must sit at a
 * word boundary, the start or the end of the field are checked here. After
 * the scans, each touched rule's condition decides whether it matched.
 *
 * Factor literals (ids from FZ_FACTOR_ID, see rules.h) do not touch rules:
 * each hit sets its clause bit in the confirm it belongs to, and a confirm
 * whose clauses have all been hit becomes a candidate. After the scanned
 * databases, the confirm database of each candidate's group is scanned
 * once over its view, with the same callback as any regex atom: its
 * results are exact for every regex in it, candidate or not.
 *
 * A regex with no factor whose term alone cannot make its rule match is
 * such a confirm too, of no clause (rules.c, add_regex()): queued in every
 * scan after the candidates, and scanned only where a verdict depends on
 * it.
 *
 * Two kinds of atom stand for more than themselves (rules.h): the literals
 * of a literal-set regex (FZ_ATOM_SET), whose regex \b edges are checked
 * here and which count one hit per scan as the regex did; and a regex
 * shared by several terms, whose match is recorded for each of them
 * (fz_atom.also).
 */
#include "matcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond.h"
#include "textfacts.h"

typedef struct rule_state {
    uint32_t stamp;   /* scan that last touched the rule */
    uint32_t pstamp;  /* pending's generation (fz_matcher.pgen) */
    uint64_t terms;   /* terms matched in that scan */
    uint64_t pending; /* terms with a candidate regex not confirmed yet */
    uint32_t mstamp;  /* scan in which the rule last matched (revision pairs) */
} rule_state;

typedef struct confirm_state {
    uint32_t stamp; /* scan that last hit one of its factors */
    uint32_t bits;  /* clauses hit in that scan */
} confirm_state;

struct fz_matcher {
    hs_scratch_t *scratch;
    const fz_ruleset *rs;
    const fz_atom *atoms;
    rule_state *st;
    uint32_t *touched; /* rules touched in this scan */
    size_t ntouched;
    size_t nrules;
    uint32_t cur;
    fz_str field; /* the view being scanned, for literal checks */
    fz_rule_counters *ctr;
    const fz_confirm *confirms;
    confirm_state *cst;
    uint64_t *ccount; /* per confirm: scans where it was a candidate */
    uint32_t *ccand;  /* confirms that became candidates in this scan */
    size_t nccand;
    size_t cnext;        /* the first of them not yet confirmed or passed over */
    uint32_t pgen;       /* generation of rule_state.pending */
    uint64_t *unscanned; /* per rule: terms no database finds (evaluated later) */
    uint32_t *dbstamp;   /* per database: scan that queued it */
    uint64_t *dbscans;   /* per database: confirm scans of it */
    int hit;             /* an atom matched since cleared */
    fz_prefilter_stats pstats;
    fz_lazy *lazy;      /* model terms, or NULL when the ruleset has none */
    uint32_t *deferred; /* confirms of no clause: candidates in every scan */
    size_t ndeferred;
    uint32_t *facts; /* FZ_ATOM_FLAG and FZ_ATOM_NUMLEN atoms: in no database */
    size_t nfacts;
    int pairs; /* the ruleset has a shadow revision of some enabled rule */
};

fz_matcher *fz_matcher_new(const fz_ruleset *rs, char *errstr, size_t errstr_size) {
    fz_matcher *m = calloc(1, sizeof(*m));
    if (!m) goto nomem;
    m->rs = rs;
    m->atoms = fz_ruleset_atoms(rs);
    m->nrules = fz_ruleset_count(rs);
    size_t n = m->nrules ? m->nrules : 1;
    m->st = calloc(n, sizeof(rule_state));
    m->touched = malloc(n * sizeof(uint32_t));
    m->ctr = calloc(n, sizeof(fz_rule_counters));
    size_t nc = fz_ruleset_confirm_count(rs) ? fz_ruleset_confirm_count(rs) : 1;
    m->confirms = fz_ruleset_confirms(rs);
    m->cst = calloc(nc, sizeof(confirm_state));
    m->ccount = calloc(nc, sizeof(uint64_t));
    m->ccand = malloc(nc * sizeof(uint32_t));
    m->unscanned = calloc(n, sizeof(uint64_t));
    m->dbstamp = calloc(fz_ruleset_db_count(rs) + 1, sizeof(uint32_t));
    m->dbscans = calloc(fz_ruleset_db_count(rs) + 1, sizeof(uint64_t));
    m->deferred = malloc(nc * sizeof(uint32_t));
    if (!m->st || !m->touched || !m->ctr || !m->cst || !m->ccount || !m->ccand || !m->unscanned ||
        !m->dbstamp || !m->dbscans || !m->deferred)
        goto nomem;
    for (size_t c = 0; c < fz_ruleset_confirm_count(rs); c++)
        if (m->confirms[c].nclauses == 0) m->deferred[m->ndeferred++] = (uint32_t)c;
    size_t na = fz_ruleset_pattern_count(rs);
    for (size_t i = 0; i < na; i++)
        if (m->atoms[i].mode & (FZ_ATOM_FLAG | FZ_ATOM_NUMLEN)) m->nfacts++;
    if (m->nfacts) {
        m->facts = malloc(m->nfacts * sizeof(uint32_t));
        if (!m->facts) goto nomem;
        for (size_t i = 0, k = 0; i < na; i++)
            if (m->atoms[i].mode & (FZ_ATOM_FLAG | FZ_ATOM_NUMLEN)) m->facts[k++] = (uint32_t)i;
    }
    m->lazy = fz_lazy_new(rs, errstr, errstr_size);
    if (!m->lazy && errstr[0]) {
        fz_matcher_destroy(m);
        return NULL;
    }
    for (size_t i = 0; i < m->nrules; i++) { /* a term of another kind: never assumed */
        const fz_rule *r = fz_ruleset_rule(rs, i);
        for (size_t k = 0; k < r->nterms; k++)
            if (!r->terms[k].pattern && !r->terms[k].list) m->unscanned[i] |= 1ull << k;
        m->pairs |= r->pair != FZ_RULE_NO_PAIR;
    }
    for (size_t i = 0; i < fz_ruleset_db_count(rs); i++) {
        if (hs_alloc_scratch(fz_ruleset_db_at(rs, i)->db, &m->scratch) != HS_SUCCESS) {
            snprintf(errstr, errstr_size, "matcher: hs_alloc_scratch failed");
            fz_matcher_destroy(m);
            return NULL;
        }
    }
    return m;
nomem:
    snprintf(errstr, errstr_size, "matcher: out of memory");
    fz_matcher_destroy(m);
    return NULL;
}

void fz_matcher_destroy(fz_matcher *m) {
    if (!m) return;
    hs_free_scratch(m->scratch);
    free(m->st);
    free(m->touched);
    free(m->ctr);
    free(m->cst);
    free(m->ccount);
    free(m->ccand);
    free(m->unscanned);
    free(m->dbstamp);
    free(m->dbscans);
    free(m->deferred);
    free(m->facts);
    fz_lazy_destroy(m->lazy);
    free(m);
}

const fz_ruleset *fz_matcher_ruleset(const fz_matcher *m) { return m->rs; }
const fz_rule_counters *fz_matcher_counters(const fz_matcher *m) { return m->ctr; }

static inline void bump(_Atomic uint64_t *c) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline int word_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* \w as Hyperscan's \b sees it without HS_FLAG_UCP (the rules never set
 * it): ASCII letters, digits and '_'. */
static inline int re_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Atom a matched in this scan: its term counts for its rule. */
static inline void record(fz_matcher *m, const fz_atom *a) {
    rule_state *s = &m->st[a->rule];
    m->hit = 1;
    bump(&m->ctr[a->rule].hits);
    if (s->stamp != m->cur) {
        s->stamp = m->cur;
        s->terms = 0;
        m->touched[m->ntouched++] = a->rule;
    }
    s->terms |= 1ull << a->term;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx) {
    (void)from;
    (void)flags;
    fz_matcher *m = ctx;
    if (id >= FZ_FACTOR_ID) { /* a factor: count its clauses, find candidates */
        size_t n;
        const fz_factor_target *t = fz_ruleset_factor_targets(m->rs, id - FZ_FACTOR_ID, &n);
        m->pstats.factor_hits++;
        m->pstats.factor_targets += n;
        for (size_t i = 0; i < n; i++) {
            confirm_state *c = &m->cst[t[i].confirm];
            if (c->stamp != m->cur) {
                c->stamp = m->cur;
                c->bits = 0;
            }
            const fz_confirm *cf = &m->confirms[t[i].confirm];
            if (c->bits == cf->all) continue;
            c->bits |= 1u << t[i].clause;
            if (c->bits != cf->all) continue;
            m->pstats.candidates++;
            m->ccount[t[i].confirm]++;
            m->ccand[m->nccand++] = t[i].confirm; /* once: its bits are complete now */
        }
        return 0;
    }
    const fz_atom *a = &m->atoms[id];
    if (a->mode & FZ_ATOM_SET) { /* a literal of a literal-set regex */
        size_t end = (size_t)to, start = end - a->len;
        const unsigned char *p = (const unsigned char *)m->field.p;
        if ((a->mode & FZ_ATOM_SET_WSTART) &&
            re_word(p[start]) == (start > 0 && re_word(p[start - 1])))
            return 0;
        if ((a->mode & FZ_ATOM_SET_WEND) &&
            re_word(p[end - 1]) == (end < m->field.n && re_word(p[end])))
            return 0;
        const rule_state *s = &m->st[a->rule];
        if (s->stamp == m->cur && (s->terms >> a->term & 1)) return 0; /* one hit, as its regex */
        record(m, a);
        return 0;
    }
    if (a->mode != FZ_LIT_CONTAINS) {
        size_t end = (size_t)to, start = end - a->len;
        const unsigned char *p = (const unsigned char *)m->field.p;
        switch (a->mode) {
        case FZ_LIT_WORD:
            if ((start > 0 && word_char(p[start - 1])) || (end < m->field.n && word_char(p[end])))
                return 0;
            break;
        case FZ_LIT_EQUALS:
            if (start != 0 || end != m->field.n) return 0;
            break;
        case FZ_LIT_PREFIX:
            if (start != 0) return 0;
            break;
        case FZ_LIT_SUFFIX:
            if (end != m->field.n) return 0;
            break;
        case FZ_LIT_LINE:
            if ((start > 0 && p[start - 1] != '\n') || (end < m->field.n && p[end] != '\n'))
                return 0;
            break;
        default: break;
        }
    }
    record(m, a);
    while (a->also) { /* the same regex in other terms */
        a = &m->atoms[a->also - 1];
        record(m, a);
    }
    return 0;
}

/* Model terms (lazyterm.h): the rules that need no found term join the
 * touched ones, then each touched rule with model terms gets their bits,
 * scored only where its outcome depends on them. */
static void resolve_lazy(fz_matcher *m, const fz_views *views, fz_matches *out) {
    fz_lazy_begin(m->lazy, (*views)[FZ_FIELD_TEXT][FZ_VIEW_NORM],
                  (*views)[FZ_FIELD_TEXT][FZ_VIEW_UNMASKED]);
    const uint32_t *always;
    size_t n = fz_lazy_always(m->lazy, &always);
    for (size_t i = 0; i < n; i++) {
        rule_state *s = &m->st[always[i]];
        if (s->stamp == m->cur) continue;
        s->stamp = m->cur;
        s->terms = 0;
        m->touched[m->ntouched++] = always[i];
    }
    for (size_t i = 0; i < m->ntouched; i++) {
        rule_state *s = &m->st[m->touched[i]];
        s->terms = fz_lazy_resolve(m->lazy, m->touched[i], s->terms);
    }
    out->nscores = fz_lazy_scores(m->lazy, out->scores, FZ_MAX_SCORES);
}

uint64_t fz_matcher_models_scored(const fz_matcher *m) {
    return m->lazy ? fz_lazy_scored(m->lazy) : 0;
}

/* The length of the line at *p (before end), moving *p past it. */
static size_t next_line(const char **p, const char *end) {
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t len = (size_t)((nl ? nl : end) - *p);
    *p = nl ? nl + 1 : end;
    return len;
}

/* The lengths of the lines of s[0..n) as bits: bit L for a line of L < 63
 * bytes, bit 63 for one of 63 or more (FZ_NUMLEN_LONG). */
#define FZ_NUMLEN_LONG 63
static uint64_t line_lengths(const char *s, size_t n) {
    uint64_t bits = 0;
    for (const char *p = s, *end = s + n; p < end;) {
        size_t len = next_line(&p, end);
        bits |= 1ull << (len < FZ_NUMLEN_LONG ? len : FZ_NUMLEN_LONG);
    }
    return bits;
}

/* Whether a line of s[0..n) is lo to hi bytes long (hi 0: no bound),
 * given its line_lengths() bits: from the bits, or by reading the lines
 * when the range reaches lines of FZ_NUMLEN_LONG or more and one is. */
static int has_line_length(const char *s, size_t n, uint64_t bits, uint32_t lo, uint32_t hi) {
    uint32_t top = hi && hi < FZ_NUMLEN_LONG ? hi : FZ_NUMLEN_LONG - 1;
    if (lo < FZ_NUMLEN_LONG && top >= lo &&
        (bits & ((~0ull >> (63 - top)) & (~0ull << lo)))) /* bits lo..top */
        return 1;
    if (!(bits >> FZ_NUMLEN_LONG) || (hi && hi < FZ_NUMLEN_LONG)) return 0;
    for (const char *p = s, *end = s + n; p < end;) { /* long lines: rare */
        size_t len = next_line(&p, end);
        if (len >= lo && (!hi || len <= hi)) return 1;
    }
    return 0;
}

/* The atoms in no database (rules.h): text_flags tokens and text_numbers
 * length tests, recorded as a scan of their field would record them. */
static void scan_facts(fz_matcher *m, const fz_views *views) {
    fz_str fv = (*views)[FZ_FIELD_TEXT_FLAGS][FZ_VIEW_RAW];
    fz_str nv = (*views)[FZ_FIELD_TEXT_NUMBERS][FZ_VIEW_RAW];
    if (!(fv.p && fv.n) && !(nv.p && nv.n)) return;
    unsigned bits = fv.p ? fz_text_flags_parse(fv.p, fv.n) : 0;
    uint64_t lens = nv.p ? line_lengths(nv.p, nv.n) : 0;
    for (size_t i = 0; i < m->nfacts; i++) {
        const fz_atom *a = &m->atoms[m->facts[i]];
        if (a->mode & FZ_ATOM_NUMLEN
                ? !lens || !has_line_length(nv.p, nv.n, lens, FZ_NUMLEN_MIN(a->len),
                                            FZ_NUMLEN_MAX(a->len))
                : !(bits & a->len))
            continue;
        const rule_state *s = &m->st[a->rule];
        if (s->stamp == m->cur && (s->terms >> a->term & 1)) continue; /* one hit a term */
        record(m, a);
    }
}

/* Whether rule id's verdict may still depend on its pending terms (the
 * candidates not confirmed yet, and terms no database finds): 1, or 0 when
 * it is the same whatever they turn out to be. A rule matches when some
 * term matched (it is touched) and its condition holds. */
static int undecided(const fz_matcher *m, uint32_t id) {
    const rule_state *s = &m->st[id];
    uint64_t known = s->stamp == m->cur ? s->terms : 0;
    uint64_t unknown = (s->pstamp == m->pgen ? s->pending : 0) | m->unscanned[id];
    unknown &= ~known;
    if (!unknown) return 0;
    const fz_rule *r = fz_ruleset_rule(m->rs, id);
    int lo, hi; /* the verdict with every unknown false, and at best */
    if (!r->cond) {
        lo = known != 0;
        hi = 1;
    } else {
        int c = fz_cond_eval3(r->cond, r->ncond, known, unknown);
        if (c == 0) return 0;
        lo = known != 0 && c == 1;
        hi = 1;
    }
    return lo != hi;
}

/* The next confirm database the verdicts need, or -1. A candidate regex is
 * confirmed unless every rule it stands for (fz_atom.also) has a verdict
 * that cannot depend on it, given what the scans so far found: `threat
 * and (link or act)` with no candidate for threat needs no scan for act.
 * Asked again after each confirm scan, with the candidates that scan
 * settled known: a verdict once decided stays decided, so a candidate
 * passed over is never needed later. Skipping changes no verdict; the
 * skipped regex's hits are not counted (it was not scanned). */
static int next_confirm(fz_matcher *m) {
    if (m->cnext >= m->nccand) return -1;
    if (++m->pgen == 0) { /* generation wrapped: forget old ones */
        for (size_t i = 0; i < m->nrules; i++) m->st[i].pstamp = 0;
        m->pgen = 1;
    }
    for (size_t i = m->cnext; i < m->nccand; i++) { /* the terms still pending */
        const fz_confirm *cf = &m->confirms[m->ccand[i]];
        if (m->dbstamp[cf->db] == m->cur) continue; /* settled by its group's scan */
        const fz_atom *a = &m->atoms[cf->atom];
        for (;;) {
            rule_state *s = &m->st[a->rule];
            if (s->pstamp != m->pgen) {
                s->pstamp = m->pgen;
                s->pending = 0;
            }
            s->pending |= 1ull << a->term;
            if (!a->also) break;
            a = &m->atoms[a->also - 1];
        }
    }
    for (; m->cnext < m->nccand; m->cnext++) {
        const fz_confirm *cf = &m->confirms[m->ccand[m->cnext]];
        if (m->dbstamp[cf->db] == m->cur) continue; /* its group was scanned */
        const fz_atom *a = &m->atoms[cf->atom];
        int need = 0;
        for (;;) {
            if ((need = undecided(m, a->rule)) != 0 || !a->also) break;
            a = &m->atoms[a->also - 1];
        }
        if (!need) {
            m->pstats.not_needed += cf->nclauses != 0; /* a deferred one was no candidate */
            continue;
        }
        m->dbstamp[cf->db] = m->cur;
        m->cnext++;
        return (int)cf->db;
    }
    return -1;
}

static void sort_u32(uint32_t *v, int n) {
    for (int i = 1; i < n; i++) { /* insertion sort: n is small */
        uint32_t x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

/* The revision pairs (rules.h, fz_rule.pair) over this event: a rule of a
 * pair that matched counts `both` when its partner matched too. Each
 * rule's count of events where it alone matched is then matches - both. */
static void count_pairs(fz_matcher *m) {
    for (size_t i = 0; i < m->ntouched; i++) {
        uint32_t id = m->touched[i];
        if (m->st[id].mstamp != m->cur) continue;
        uint32_t p = fz_ruleset_rule(m->rs, id)->pair;
        if (p != FZ_RULE_NO_PAIR && m->st[p].mstamp == m->cur) bump(&m->ctr[id].both);
    }
}

/* Scans database d over view v, and over the unmasked text too when d is
 * the text's normalised view and the text is disguised (matcher.h). */
static inline __attribute__((always_inline)) int scan_view(fz_matcher *m, const fz_db *d, fz_str v,
                                                           const fz_views *views) {
    m->field = v;
    if (hs_scan(d->db, v.p, (unsigned)v.n, 0, m->scratch, on_match, m) != HS_SUCCESS) return -1;
    fz_str u = (*views)[FZ_FIELD_TEXT][FZ_VIEW_UNMASKED];
    if (d->field != FZ_FIELD_TEXT || d->view != FZ_VIEW_NORM || !u.p || !u.n) return 0;
    m->field = u;
    return hs_scan(d->db, u.p, (unsigned)u.n, 0, m->scratch, on_match, m) != HS_SUCCESS ? -1 : 0;
}

int fz_matcher_scan(fz_matcher *m, const fz_views *views, fz_matches *out) {
    if (++m->cur == 0) { /* stamp wrapped: forget old stamps */
        for (size_t i = 0; i < m->nrules; i++) m->st[i].stamp = m->st[i].mstamp = 0;
        for (size_t i = 0; i < fz_ruleset_confirm_count(m->rs); i++) m->cst[i].stamp = 0;
        for (size_t i = 0; i < fz_ruleset_db_count(m->rs); i++) m->dbstamp[i] = 0;
        m->cur = 1;
    }
    m->ntouched = 0;
    m->nccand = 0;
    m->cnext = 0;
    out->n = 0;
    out->truncated = 0;
    out->nshadow = 0;
    out->nscores = 0;
    const fz_ruleset *rs = m->rs;
    for (size_t i = 0; i < fz_ruleset_db_count(rs); i++) {
        const fz_db *d = fz_ruleset_db_at(rs, i);
        if (d->confirm) break; /* the confirms come last */
        fz_str v = (*views)[d->field][d->view];
        if (!v.p || v.n == 0) continue;
        if (scan_view(m, d, v, views) != 0) return -1;
    }
    if (m->nfacts) scan_facts(m, views);
    m->pstats.scans++;
    if (m->nccand) m->pstats.events_with_candidates++;
    /* the deferred regexes (no factor; their term alone decides nothing):
     * last, so that what the others found can make them unneeded. Not
     * counted as candidates; a factor never completes them, so each is
     * queued once. An empty view is not scanned, as above. */
    for (size_t i = 0; i < m->ndeferred; i++) {
        const fz_confirm *cf = &m->confirms[m->deferred[i]];
        fz_str v = (*views)[m->atoms[cf->atom].field][cf->view];
        if (v.p && v.n) m->ccand[m->nccand++] = m->deferred[i];
    }
    for (int db; (db = next_confirm(m)) >= 0;) {
        const fz_db *d = fz_ruleset_db_at(rs, (size_t)db);
        m->pstats.group_scans++;
        m->dbscans[db]++;
        m->hit = 0;
        if (scan_view(m, d, (*views)[d->field][d->view], views) != 0) return -1;
        m->pstats.confirmed += m->hit;
    }
    if (m->lazy) resolve_lazy(m, views, out);
    for (size_t i = 0; i < m->ntouched; i++) {
        uint32_t id = m->touched[i];
        const fz_rule *r = fz_ruleset_rule(rs, id);
        if (!fz_rule_eval(r, m->st[id].terms)) continue;
        bump(&m->ctr[id].matches);
        m->st[id].mstamp = m->cur;
        if (r->status == FZ_STATUS_SHADOW) {
            if (out->nshadow < FZ_MAX_SHADOW) out->shadow[out->nshadow] = id;
            out->nshadow++;
            continue;
        }
        if (out->n == 0) {
            out->primary = id;
        } else {
            fz_severity ps = fz_ruleset_rule(rs, out->primary)->severity;
            if (r->severity > ps || (r->severity == ps && id < out->primary)) out->primary = id;
        }
        if (out->n < FZ_MAX_MATCHES) {
            out->rules[out->n++] = id;
            continue;
        }
        /* full: keep the FZ_MAX_MATCHES lowest rule indexes */
        out->truncated = 1;
        int hi = 0;
        for (int k = 1; k < out->n; k++)
            if (out->rules[k] > out->rules[hi]) hi = k;
        if (id < out->rules[hi]) out->rules[hi] = id;
    }
    if (m->pairs) count_pairs(m);
    if (out->nshadow > FZ_MAX_SHADOW) out->nshadow = FZ_MAX_SHADOW;
    sort_u32(out->rules, out->n);
    sort_u32(out->shadow, out->nshadow);
    return out->n;
}

void fz_matcher_prefilter_stats(const fz_matcher *m, fz_prefilter_stats *out) { *out = m->pstats; }
const uint64_t *fz_matcher_candidate_counts(const fz_matcher *m) { return m->ccount; }
const uint64_t *fz_matcher_confirm_scans(const fz_matcher *m) { return m->dbscans; }

int fz_matcher_matched(const fz_matcher *m, uint32_t idx) {
    if (idx >= m->nrules || m->st[idx].stamp != m->cur) return 0;
    return fz_rule_eval(fz_ruleset_rule(m->rs, idx), m->st[idx].terms);
}
