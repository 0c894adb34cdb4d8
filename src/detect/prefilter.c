/*
 * prefilter.c - see prefilter.h.
 *
 * A recursive-descent parser over the pattern that returns, for each node,
 * an info: either an exact set of strings or a list of clauses. Sets are
 * small (EXACT_MAX strings of at most LIT_MAX bytes), so they are plain
 * arrays, deduplicated by linear search. Any syntax the parser does not
 * know sets p->bad and the result is thrown away.
 */
#include "prefilter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "utf8.h"

#define EXACT_MAX 64    /* strings in an exact set */
#define LIT_MAX 128     /* bytes in one of them */
#define CLAUSE_MAX 512  /* literals in one clause */
#define NCLAUSES_MAX 64 /* clauses of a node while parsing */
#define DEPTH_MAX 200
#define CLASS_MAX 16 /* members of a character class kept as an exact set */

typedef struct set {
    fz_pf_lit *v;
    size_t n, cap;
} set;

typedef struct info {
    int exact; /* 1: ex is the exact set of strings the node matches */
    set ex;
    set *cl; /* clauses (exact == 0) */
    size_t ncl;
} info;

typedef struct parser {
    const char *p, *end;
    int caseless, utf8;
    int normalised; /* the text holds no KELVIN SIGN or LONG S */
    int depth;
    int bad;   /* syntax not understood */
    int nomem; /* allocation failed */
    int zw;    /* saw a zero-width assertion (\\b, ^, $ ...): an exact set is then
                  only what the assertions let through, not the matches */
    int alts;  /* top-level alternatives */
} parser;

/* ---- sets ---- */

static void set_free(set *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i].s);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int set_has(const set *s, const char *b, size_t n) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].n == n && memcmp(s->v[i].s, b, n) == 0) return 1;
    return 0;
}

/* Add b[0..n) unless present; -1 when out of memory. */
static int set_add(set *s, const char *b, size_t n) {
    if (set_has(s, b, n)) return 0;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4;
        fz_pf_lit *nv = realloc(s->v, nc * sizeof(*nv));
        if (!nv) return -1;
        s->v = nv;
        s->cap = nc;
    }
    char *c = malloc(n + 1);
    if (!c) return -1;
    memcpy(c, b, n);
    c[n] = '\0';
    s->v[s->n++] = (fz_pf_lit){c, n};
    return 0;
}

static int set_has_empty(const set *s) { return set_has(s, "", 0); }

/* How rare a literal is likely to be in text, in half-points: an ASCII
 * letter or digit 2, ASCII punctuation 1, a space 0 (it is everywhere), a
 * non-ASCII character (CJK: one of thousands) 4. */
static size_t weight(const char *p, size_t n) {
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x80) {
            if ((c & 0xC0) != 0x80) w += 4; /* a lead byte */
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            w += 2;
        } else if (c != ' ') {
            w += 1;
        }
    }
    return w;
}

/* A clause is as selective as its most common literal. */
static size_t set_weight(const set *s) {
    size_t m = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
        size_t w = weight(s->v[i].s, s->v[i].n);
        if (w < m) m = w;
    }
    return s->n ? m : 0;
}

static size_t set_maxlen(const set *s) {
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].n > m) m = s->v[i].n;
    return m;
}

/* ---- infos ---- */

static void info_free(info *x) {
    set_free(&x->ex);
    for (size_t i = 0; i < x->ncl; i++) set_free(&x->cl[i]);
    free(x->cl);
    memset(x, 0, sizeof(*x));
}

static info info_any(void) { return (info){0}; }

static info info_exact1(parser *ps, const char *b, size_t n) {
    info x = {0};
    x.exact = 1;
    if (set_add(&x.ex, b, n) != 0) ps->nomem = 1;
    return x;
}

/* Append clause c (taken over) to x's clauses; a clause that can be
 * satisfied by the empty string says nothing and is dropped. */
static void add_clause(parser *ps, info *x, set *c) {
    if (c->n == 0 || set_has_empty(c) || x->ncl >= NCLAUSES_MAX) {
        set_free(c);
        return;
    }
    set *nv = realloc(x->cl, (x->ncl + 1) * sizeof(set));
    if (!nv) {
        ps->nomem = 1;
        set_free(c);
        return;
    }
    x->cl = nv;
    x->cl[x->ncl++] = *c;
    memset(c, 0, sizeof(*c));
}

/* Turn x into its clause form (an exact set becomes one clause). */
static void to_clauses(parser *ps, info *x) {
    if (!x->exact) return;
    x->exact = 0;
    set e = x->ex;
    memset(&x->ex, 0, sizeof(x->ex));
    add_clause(ps, x, &e);
}

/* How selective a clause is: its commonest literal, then fewer literals. */
static int clause_better(const set *a, const set *b) {
    size_t ma = set_weight(a), mb = set_weight(b);
    if (ma != mb) return ma > mb;
    return a->n < b->n;
}

/* ---- combinators ---- */

/* run = run x e (cross product); 0, or 1 when it would grow too large
 * (run unchanged). */
static int cross(parser *ps, set *run, const set *e) {
    if (run->n * e->n > EXACT_MAX || set_maxlen(run) + set_maxlen(e) > LIT_MAX) return 1;
    set out = {0};
    char buf[2 * LIT_MAX];
    for (size_t i = 0; i < run->n; i++)
        for (size_t j = 0; j < e->n; j++) {
            memcpy(buf, run->v[i].s, run->v[i].n);
            memcpy(buf + run->v[i].n, e->v[j].s, e->v[j].n);
            if (set_add(&out, buf, run->v[i].n + e->v[j].n) != 0) ps->nomem = 1;
        }
    set_free(run);
    *run = out;
    return 0;
}

/* The concatenation of items[0..n) (taken over). Exact runs are extended
 * while small; a run that cannot grow becomes a clause. */
static info concat(parser *ps, info *items, size_t n) {
    info out = {0};
    set run = {0};
    if (set_add(&run, "", 0) != 0) ps->nomem = 1;
    int all_exact = 1;
    for (size_t i = 0; i < n; i++) {
        info *c = &items[i];
        if (c->exact) {
            if (cross(ps, &run, &c->ex) != 0) {
                all_exact = 0;
                add_clause(ps, &out, &run);
                run = c->ex;
                memset(&c->ex, 0, sizeof(c->ex));
            }
        } else {
            all_exact = 0;
            add_clause(ps, &out, &run);
            if (set_add(&run, "", 0) != 0) ps->nomem = 1;
            for (size_t k = 0; k < c->ncl; k++) add_clause(ps, &out, &c->cl[k]);
        }
        info_free(c);
    }
    if (all_exact) {
        out.exact = 1;
        out.ex = run;
        return out;
    }
    add_clause(ps, &out, &run);
    return out;
}

/* The alternation of items[0..n) (taken over). */
static info alternate(parser *ps, info *items, size_t n) {
    if (n == 1) return items[0];
    info out = {0};
    size_t total = 0;
    int all_exact = 1;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].exact) all_exact = 0;
        total += items[i].ex.n;
    }
    if (all_exact && total <= EXACT_MAX) {
        out.exact = 1;
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < items[i].ex.n; k++)
                if (set_add(&out.ex, items[i].ex.v[k].s, items[i].ex.v[k].n) != 0) ps->nomem = 1;
            info_free(&items[i]);
        }
        return out;
    }
    /* every branch must give one clause; the union is the clause */
    set u = {0};
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        to_clauses(ps, &items[i]);
        const set *best = NULL;
        for (size_t k = 0; k < items[i].ncl; k++)
            if (!best || clause_better(&items[i].cl[k], best)) best = &items[i].cl[k];
        if (!best) ok = 0;
        for (size_t k = 0; ok && k < best->n; k++)
            if (set_add(&u, best->v[k].s, best->v[k].n) != 0) ps->nomem = 1;
        if (u.n > CLAUSE_MAX) ok = 0;
        info_free(&items[i]);
    }
    if (ok) add_clause(ps, &out, &u);
    set_free(&u);
    return out;
}

/* x{min,max} (max < 0: unbounded). */
static info repeat(parser *ps, info x, long min, long max) {
    if (min == 1 && max == 1) return x;
    if (min == 0) {
        if (max == 1 && x.exact && x.ex.n < EXACT_MAX) {
            if (set_add(&x.ex, "", 0) != 0) ps->nomem = 1;
            return x;
        }
        info_free(&x);
        return info_any();
    }
    to_clauses(ps, &x);
    return x;
}

/* ---- characters ---- */

/* Code points with no case partner anywhere: a caseless pattern's
 * character there matches exactly itself. U+00B5 MICRO SIGN is not one:
 * caseless, it also matches U+03BC and U+039C (Greek mu). */
static int caseless_safe(uint32_t cp) {
    static const uint32_t ranges[][2] = {
        {0x00A0, 0x00B4},   {0x00B6, 0x00BF},   {0x00D7, 0x00D7}, {0x00F7, 0x00F7},
        {0x2000, 0x206F},   {0x20A0, 0x20CF},   {0x2190, 0x23FF}, {0x2500, 0x27BF},
        {0x2E80, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7AF}, {0xF900, 0xFAFF},
        {0xFE30, 0xFE4F},   {0xFF01, 0xFF20},   {0xFF3B, 0xFF40}, {0xFF5B, 0xFFEF},
        {0x1F000, 0x1FAFF}, {0x20000, 0x3134F},
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1]) return 1;
    return 0;
}

/* Add code point cp, as the pattern's case mode reads it, to s. Returns 1
 * when cp cannot be represented (caseless with case partners we do not
 * model). */
static int add_cp(parser *ps, set *s, uint32_t cp) {
    char b[4];
    size_t n;
    if (ps->caseless && cp < 0x80) {
        int c = (int)cp;
        if (c >= 'A' && c <= 'Z') c += 32;
        b[0] = (char)c;
        if (set_add(s, b, 1) != 0) ps->nomem = 1;
        if (ps->normalised) return 0;
        if (c == 'k' && set_add(s, "\xE2\x84\xAA", 3) != 0) ps->nomem = 1; /* KELVIN SIGN */
        if (c == 's' && set_add(s, "\xC5\xBF", 2) != 0) ps->nomem = 1;     /* LONG S */
        return 0;
    }
    if (ps->caseless && !caseless_safe(cp)) return 1;
    if (!ps->utf8) {
        if (cp > 0xFF) return 1;
        b[0] = (char)cp;
        n = 1;
    } else {
        n = fz_utf8_encode(cp, b);
    }
    if (set_add(s, b, n) != 0) ps->nomem = 1;
    return 0;
}

/* Read one literal code point of the pattern at ps->p. */
static uint32_t next_cp(parser *ps) {
    unsigned char c = (unsigned char)*ps->p;
    if (c < 0x80 || !ps->utf8) {
        ps->p++;
        return c;
    }
    uint32_t cp;
    size_t n = fz_utf8_decode(ps->p, (size_t)(ps->end - ps->p), &cp);
    if (n == 0) {
        ps->bad = 1;
        ps->p = ps->end;
        return 0;
    }
    ps->p += n;
    return cp;
}

/* One code point as an info: exact, or "anything" when case makes it
 * unrepresentable. */
static info char_info(parser *ps, uint32_t cp) {
    info x = {0};
    x.exact = 1;
    if (add_cp(ps, &x.ex, cp)) {
        info_free(&x);
        return info_any();
    }
    return x;
}

static int is_punct_escape(unsigned char c) {
    return c >= 0x20 && c < 0x7F &&
           !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/* Escapes that stand for one character of a class (\d, \w ...): 1. */
static int is_class_escape(unsigned char c) { return c && strchr("dDwWsShHvVN", c) != NULL; }

static int simple_escape(unsigned char c, uint32_t *cp) {
    switch (c) {
    case 'n': *cp = '\n'; return 1;
    case 't': *cp = '\t'; return 1;
    case 'r': *cp = '\r'; return 1;
    case 'f': *cp = '\f'; return 1;
    case 'e': *cp = 0x1B; return 1;
    case 'a': *cp = 0x07; return 1;
    default: return 0;
    }
}

/* [...] after the '['. */
static info parse_class(parser *ps) {
    int negated = 0, big = 0, first = 1;
    set s = {0};
    if (ps->p < ps->end && *ps->p == '^') {
        negated = 1;
        ps->p++;
    }
    for (;;) {
        if (ps->p >= ps->end) {
            ps->bad = 1;
            break;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == ']' && !first) {
            ps->p++;
            break;
        }
        first = 0;
        uint32_t lo;
        if (c == '[' && ps->p + 1 < ps->end &&
            (ps->p[1] == ':' || ps->p[1] == '.' || ps->p[1] == '=')) {
            ps->bad = 1; /* POSIX classes: not modelled */
            break;
        }
        if (c == '\\') {
            if (ps->p + 1 >= ps->end) {
                ps->bad = 1;
                break;
            }
            unsigned char e = (unsigned char)ps->p[1];
            ps->p += 2;
            if (is_class_escape(e)) {
                big = 1;
                continue;
            }
            if (e == 'p' || e == 'P') {
                big = 1;
                if (ps->p < ps->end && *ps->p == '{') {
                    const char *q = memchr(ps->p, '}', (size_t)(ps->end - ps->p));
                    if (!q) {
                        ps->bad = 1;
                        break;
                    }
                    ps->p = q + 1;
                } else if (ps->p < ps->end) {
                    ps->p++;
                }
                continue;
            }
            if (is_punct_escape(e)) {
                lo = e;
            } else if (!simple_escape(e, &lo)) {
                ps->bad = 1;
                break;
            }
        } else {
            lo = next_cp(ps);
            if (ps->bad) break;
        }
        uint32_t hi = lo;
        if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
            ps->p++;
            if (*ps->p == '\\') {
                if (ps->p + 1 >= ps->end || !is_punct_escape((unsigned char)ps->p[1])) {
                    ps->bad = 1;
                    break;
                }
                hi = (unsigned char)ps->p[1];
                ps->p += 2;
            } else {
                hi = next_cp(ps);
                if (ps->bad) break;
            }
            if (hi < lo) {
                ps->bad = 1;
                break;
            }
        }
        if (hi - lo >= CLASS_MAX) {
            big = 1;
            continue;
        }
        for (uint32_t cp = lo; cp <= hi && !big; cp++)
            if (add_cp(ps, &s, cp)) big = 1;
        if (s.n > CLASS_MAX) big = 1;
    }
    if (negated || big || ps->bad || s.n == 0) {
        set_free(&s);
        return info_any();
    }
    info x = {0};
    x.exact = 1;
    x.ex = s;
    return x;
}

static info parse_alt(parser *ps);

/* A number of a {n,m} quantifier; -1 if none. */
static long read_num(parser *ps) {
    long v = -1;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        v = (v < 0 ? 0 : v) * 10 + (*ps->p - '0');
        if (v > 100000) v = 100000;
        ps->p++;
    }
    return v;
}

/* One atom, without its quantifier. */
static info parse_atom(parser *ps) {
    unsigned char c = (unsigned char)*ps->p;
    switch (c) {
    case '(': {
        ps->p++;
        if (ps->p < ps->end && *ps->p == '?') {
            if (ps->p + 1 < ps->end && ps->p[1] == ':') {
                ps->p += 2;
            } else {
                ps->bad = 1; /* inline options, lookaround, named groups */
                return info_any();
            }
        }
        if (++ps->depth > DEPTH_MAX) {
            ps->bad = 1;
            return info_any();
        }
        info x = parse_alt(ps);
        ps->depth--;
        if (ps->p >= ps->end || *ps->p != ')') {
            ps->bad = 1;
            return x;
        }
        ps->p++;
        return x;
    }
    case '[': ps->p++; return parse_class(ps);
    case '.': ps->p++; return info_any();
    case '^':
    case '$':
        ps->p++;
        ps->zw = 1;
        return info_exact1(ps, "", 0);
    case '\\': {
        if (ps->p + 1 >= ps->end) {
            ps->bad = 1;
            return info_any();
        }
        unsigned char e = (unsigned char)ps->p[1];
        ps->p += 2;
        if (e && strchr("bBAzZG", e)) {
            ps->zw = 1;
            return info_exact1(ps, "", 0);
        }
        if (is_class_escape(e) || e == 'R' || e == 'X' || e == 'C') return info_any();
        if (e == 'p' || e == 'P') {
            if (ps->p < ps->end && *ps->p == '{') {
                const char *q = memchr(ps->p, '}', (size_t)(ps->end - ps->p));
                if (!q) {
                    ps->bad = 1;
                    return info_any();
                }
                ps->p = q + 1;
            } else if (ps->p < ps->end) {
                ps->p++;
            }
            return info_any();
        }
        uint32_t cp;
        if (is_punct_escape(e)) return char_info(ps, e);
        if (simple_escape(e, &cp)) return char_info(ps, cp);
        ps->bad = 1; /* \x, \Q, \k, \1, \c ...: not modelled */
        return info_any();
    }
    case '*':
    case '+':
    case '?':
    case '{':
    case ')':
    case '|': ps->bad = 1; return info_any();
    default: return char_info(ps, next_cp(ps));
    }
}

/* Quantifiers after an atom. */
static info parse_quant(parser *ps, info x) {
    while (ps->p < ps->end) {
        long min, max;
        char c = *ps->p;
        if (c == '*') {
            min = 0, max = -1;
            ps->p++;
        } else if (c == '+') {
            min = 1, max = -1;
            ps->p++;
        } else if (c == '?') {
            min = 0, max = 1;
            ps->p++;
        } else if (c == '{') {
            const char *save = ps->p;
            ps->p++;
            min = read_num(ps);
            max = min;
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                max = read_num(ps);
            }
            if (min < 0 || ps->p >= ps->end || *ps->p != '}' || (max >= 0 && max < min)) {
                ps->p = save; /* not a quantifier: PCRE reads '{' literally */
                ps->bad = 1;
                return x;
            }
            ps->p++;
        } else {
            break;
        }
        if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+')) ps->p++; /* lazy, possessive */
        x = repeat(ps, x, min, max);
    }
    return x;
}

/* A growing list of infos (the items of a concatenation or alternation). */
typedef struct info_list {
    info *v;
    size_t n, cap;
} info_list;

/* Append x (taken over); 0, or -1 with x freed and ps->nomem set. */
static int info_push(parser *ps, info_list *l, info x) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        info *nv = realloc(l->v, nc * sizeof(info));
        if (!nv) {
            ps->nomem = 1;
            info_free(&x);
            return -1;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = x;
    return 0;
}

static info parse_concat(parser *ps) {
    info_list l = {0};
    while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')' && !ps->bad && !ps->nomem)
        if (info_push(ps, &l, parse_quant(ps, parse_atom(ps))) != 0) break;
    info out = concat(ps, l.v, l.n);
    free(l.v);
    return out;
}

static info parse_alt(parser *ps) {
    info_list l = {0};
    while (info_push(ps, &l, parse_concat(ps)) == 0 && ps->p < ps->end && *ps->p == '|' &&
           !ps->bad && !ps->nomem)
        ps->p++;
    info *items = l.v;
    size_t n = l.n;
    if (ps->depth == 0) ps->alts = (int)n;
    info out = n ? alternate(ps, items, n) : info_any();
    free(items);
    return out;
}

static int cmp_lit(const void *a, const void *b) {
    const fz_pf_lit *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int cmp_clause(const void *a, const void *b) {
    const set *x = a, *y = b;
    return clause_better(x, y) ? -1 : clause_better(y, x) ? 1 : 0;
}

int fz_prefilter_derive(const char *pattern, unsigned hs_flags, fz_prefilter *out) {
    memset(out, 0, sizeof(*out));
    parser ps = {.p = pattern, .end = pattern + strlen(pattern)};
    ps.caseless = (hs_flags & HS_FLAG_CASELESS) != 0;
    ps.utf8 = (hs_flags & HS_FLAG_UTF8) != 0;
    ps.normalised = (hs_flags & FZ_PF_NORMALISED) != 0;
    out->caseless = ps.caseless;
    if (hs_flags & (HS_FLAG_COMBINATION | HS_FLAG_PREFILTER)) {
        out->why = "logical combination";
        return 0;
    }
    info x = parse_alt(&ps);
    if (ps.p != ps.end) ps.bad = 1; /* an unmatched ')' */
    if (ps.nomem) {
        info_free(&x);
        return -1;
    }
    if (ps.bad) {
        info_free(&x);
        out->why = "syntax the factor analysis does not model (inline options, lookaround, "
                   "escapes such as \\x or \\Q)";
        return 0;
    }
    to_clauses(&ps, &x);
    /* keep the useful clauses, most selective first */
    size_t k = 0, best = 0;
    for (size_t i = 0; i < x.ncl; i++) {
        size_t w = set_weight(&x.cl[i]);
        if (w < FZ_PF_EXTRA_WEIGHT) {
            set_free(&x.cl[i]);
            continue;
        }
        if (w > best) best = w;
        x.cl[k++] = x.cl[i];
    }
    x.ncl = k;
    if (best < FZ_PF_MIN_WEIGHT) {
        info_free(&x);
        out->why = "no literal that every match must contain is rare enough (each of a set of "
                   "alternatives needs 3 ASCII letters or digits, or 2 CJK characters)";
        return 0;
    }
    qsort(x.cl, x.ncl, sizeof(set), cmp_clause);
    size_t keep = x.ncl < FZ_PF_MAX_CLAUSES ? x.ncl : FZ_PF_MAX_CLAUSES;
    out->clauses = calloc(keep, sizeof(fz_pf_clause));
    if (!out->clauses) {
        info_free(&x);
        return -1;
    }
    for (size_t i = 0; i < keep; i++) {
        qsort(x.cl[i].v, x.cl[i].n, sizeof(fz_pf_lit), cmp_lit);
        out->clauses[i].lits = x.cl[i].v;
        out->clauses[i].n = x.cl[i].n;
        memset(&x.cl[i], 0, sizeof(set));
    }
    out->n = keep;
    info_free(&x);
    return 0;
}

int fz_prefilter_exact(const char *pattern, unsigned hs_flags, fz_pf_exact *out) {
    memset(out, 0, sizeof(*out));
    const unsigned known = HS_FLAG_CASELESS | HS_FLAG_DOTALL | HS_FLAG_MULTILINE |
                           HS_FLAG_SINGLEMATCH | HS_FLAG_UTF8 | FZ_PF_NORMALISED;
    if (hs_flags & ~known) return 0; /* UCP (a Unicode \b), SOM, combinations ... */
    const char *p = pattern, *end = pattern + strlen(pattern);
    if (end - p >= 2 && p[0] == '\\' && p[1] == 'b') {
        out->word_start = 1;
        p += 2;
    }
    if (end - p >= 2 && end[-2] == '\\' && end[-1] == 'b') {
        size_t bs = 0; /* the backslashes before 'b': odd = an escape of b */
        for (const char *q = end - 2; q >= p && *q == '\\'; q--) bs++;
        if (bs % 2 == 1) {
            out->word_end = 1;
            end -= 2;
        }
    }
    if (p >= end) return 0;
    parser ps = {.p = p, .end = end};
    ps.caseless = (hs_flags & HS_FLAG_CASELESS) != 0;
    ps.utf8 = (hs_flags & HS_FLAG_UTF8) != 0;
    ps.normalised = (hs_flags & FZ_PF_NORMALISED) != 0;
    info x = parse_alt(&ps);
    if (ps.p != ps.end) ps.bad = 1;
    if (ps.nomem) {
        info_free(&x);
        return -1;
    }
    /* \ba|b\b is (\ba)|(b\b): edges count only around one alternative */
    int edges_ok = !(out->word_start || out->word_end) || ps.alts <= 1;
    if (ps.bad || ps.zw || !x.exact || !edges_ok || x.ex.n == 0 || set_has_empty(&x.ex)) {
        info_free(&x);
        out->word_start = out->word_end = 0;
        return 0;
    }
    qsort(x.ex.v, x.ex.n, sizeof(fz_pf_lit), cmp_lit);
    out->lits = x.ex.v;
    out->n = x.ex.n;
    out->caseless = ps.caseless;
    memset(&x.ex, 0, sizeof(x.ex));
    info_free(&x);
    return 0;
}

void fz_pf_exact_free(fz_pf_exact *e) {
    if (!e) return;
    for (size_t i = 0; i < e->n; i++) free(e->lits[i].s);
    free(e->lits);
    memset(e, 0, sizeof(*e));
}

void fz_prefilter_free(fz_prefilter *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t k = 0; k < p->clauses[i].n; k++) free(p->clauses[i].lits[k].s);
        free(p->clauses[i].lits);
    }
    free(p->clauses);
    memset(p, 0, sizeof(*p));
}

/* The end of the class that opens at p[0] == '[' (the offset after its
 * ']'), or 0 when it does not close before end. */
static size_t class_end(const char *p, const char *end) {
    const char *q = p + 1;
    if (q < end && *q == '^') q++;
    if (q < end && *q == ']') q++; /* a ']' first is a member */
    while (q < end && *q != ']') q += *q == '\\' ? 2 : 1;
    return q < end ? (size_t)(q + 1 - p) : 0;
}

/* The end of the group that opens at p[0] == '(' (the offset after its
 * ')'), or 0 when it does not close before end. Escapes and classes are
 * skipped as the parser reads them. */
static size_t group_end(const char *p, const char *end) {
    int depth = 0;
    for (const char *q = p; q < end; q++) {
        if (*q == '\\') {
            if (++q >= end) return 0;
        } else if (*q == '[') {
            size_t k = class_end(q, end);
            if (!k) return 0;
            q += k - 1;
        } else if (*q == '(') {
            depth++;
        } else if (*q == ')') {
            if (--depth == 0) return (size_t)(q + 1 - p);
        }
    }
    return 0;
}

/* The top-level branches of p[0..n): their starts and lengths into start[]
 * and len[] (at most max); returns their number, or 0 when there are more
 * than max or the pattern does not parse as this reading expects. */
static size_t top_branches(const char *p, size_t n, size_t *start, size_t *len, size_t max) {
    size_t nb = 0, from = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] == '\\') {
            if (++i >= n) return 0;
            continue;
        }
        if (i < n && (p[i] == '[' || p[i] == '(')) {
            size_t k = p[i] == '(' ? group_end(p + i, p + n) : class_end(p + i, p + n);
            if (!k) return 0;
            i += k - 1;
            continue;
        }
        if (i == n || p[i] == '|') {
            if (nb == max) return 0;
            start[nb] = from;
            len[nb++] = i - from;
            from = i + 1;
        }
    }
    return nb;
}

int fz_prefilter_split(const char *pattern, unsigned hs_flags, fz_pf_exact *sets, size_t max,
                       char **rest) {
    *rest = NULL;
    const char *p = pattern;
    size_t n = strlen(pattern);
    /* quoting is not read here, and an option set inside the pattern
     * ((?i)a|b) holds for the branches after it: keep such patterns whole */
    if (strstr(pattern, "\\Q") || strstr(pattern, "(?")) return 0;
    size_t start[FZ_PF_MAX_BRANCHES], len[FZ_PF_MAX_BRANCHES];
    size_t nb = top_branches(p, n, start, len, FZ_PF_MAX_BRANCHES);
    if (nb == 1 && n >= 2 && p[0] == '(' && p[1] != '?' && group_end(p, p + n) == n) {
        p++; /* one group that is the whole pattern: its branches */
        n -= 2;
        nb = top_branches(p, n, start, len, FZ_PF_MAX_BRANCHES);
    }
    if (nb < 2) return 0;
    for (size_t b = 0; b < nb; b++)
        if (len[b] == 0) return 0; /* an empty branch matches everywhere */
    size_t nsets = 0, restlen = 0;
    char *branch = malloc(n + 1), *r = malloc(n + 1);
    if (!branch || !r) goto nomem;
    for (size_t b = 0; b < nb; b++) {
        memcpy(branch, p + start[b], len[b]);
        branch[len[b]] = '\0';
        fz_pf_exact e;
        if (nsets < max && fz_prefilter_exact(branch, hs_flags, &e) != 0) goto nomem;
        if (nsets < max && e.n) {
            sets[nsets++] = e;
            continue;
        }
        if (restlen) r[restlen++] = '|';
        memcpy(r + restlen, branch, len[b]);
        restlen += len[b];
    }
    free(branch);
    if (nsets == 0) {
        free(r);
        return 0;
    }
    if (restlen) {
        r[restlen] = '\0';
        /* alone, a branch may be one Hyperscan refuses where the whole
         * pattern is accepted (one that can never match): keep it whole */
        hs_expr_info_t *hinfo = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_expression_info(r, hs_flags & ~FZ_PF_NORMALISED, &hinfo, &err) != HS_SUCCESS) {
            hs_free_compile_error(err);
            free(r);
            for (size_t i = 0; i < nsets; i++) fz_pf_exact_free(&sets[i]);
            return 0;
        }
        free(hinfo);
        *rest = r;
    } else {
        free(r);
    }
    return (int)nsets;
nomem:
    free(branch);
    free(r);
    for (size_t i = 0; i < nsets; i++) fz_pf_exact_free(&sets[i]);
    return -1;
}
