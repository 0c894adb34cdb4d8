/*
 * lazyterm.c - see lazyterm.h.
 *
 * Design. The plan is built once per matcher: for every rule with model
 * terms (at most FZ_MAX_MODEL_TERMS, so at most 16 assignments of their
 * bits), which term bits they are, which model and threshold each uses,
 * and whether the condition can hold with every other term absent (an
 * always-evaluated rule). Per event the work is: a stamp (so nothing is
 * cleared between events), then for each touched rule a table lookup;
 * only rules with model terms enumerate the assignments of their unknown
 * bits (a handful of postfix evaluations, no allocation) and score a model
 * while the outcome depends on it. Scores are cached per event per model
 * file in a stamped array.
 */
#include "lazyterm.h"

#include <stdio.h>
#include <stdlib.h>

#include "model.h"

typedef struct rule_plan {
    uint8_t n;                            /* model terms */
    uint8_t term[FZ_MAX_MODEL_TERMS];     /* their term indexes */
    uint32_t model[FZ_MAX_MODEL_TERMS];   /* fz_ruleset_model() index */
    double min_score[FZ_MAX_MODEL_TERMS]; /* thresholds */
} rule_plan;

struct fz_lazy {
    const fz_ruleset *rs;
    uint32_t *slot; /* per rule: 1 + index into plans, or 0 */
    rule_plan *plans;
    uint32_t *always; /* always-evaluated rules */
    size_t nalways;
    size_t nmodels;
    const fz_model **models;
    uint32_t *stamp; /* per model: event of the cached score */
    double *score;
    uint32_t cur;
    fz_str text;
    fz_str unmasked; /* a disguised text's skeleton (matcher.h), or NULL */
    fz_score scored[FZ_MAX_MODEL_TERMS * 4];
    int nscored;
    uint64_t scored_total;
};

/* Does r's outcome, with other terms `terms`, depend on the model bits
 * not in `known`? *val receives the outcome when it does not. */
static int depends(const fz_rule *r, const rule_plan *p, uint64_t terms, unsigned known, int *val) {
    int first = -1;
    for (unsigned a = 0; a < (1u << p->n); a++) {
        if (a & known) continue; /* enumerate the unknown bits only */
        uint64_t t = terms;
        for (unsigned j = 0; j < p->n; j++)
            if (a & (1u << j)) t |= 1ull << p->term[j];
        int v = fz_rule_eval(r, t);
        if (first < 0)
            first = v;
        else if (v != first)
            return 1;
    }
    *val = first;
    return 0;
}

fz_lazy *fz_lazy_new(const fz_ruleset *rs, char *errstr, size_t errstr_size) {
    size_t nr = fz_ruleset_count(rs), nplans = 0;
    errstr[0] = '\0';
    for (size_t i = 0; i < nr; i++) {
        const fz_rule *r = fz_ruleset_rule(rs, i);
        if (r->status == FZ_STATUS_DISABLED) continue;
        for (size_t k = 0; k < r->nterms; k++)
            if (r->terms[k].model) {
                nplans++;
                break;
            }
    }
    if (nplans == 0) return NULL;
    fz_lazy *lz = calloc(1, sizeof(*lz));
    if (!lz) goto nomem;
    lz->rs = rs;
    lz->nmodels = fz_ruleset_model_count(rs);
    lz->slot = calloc(nr, sizeof(uint32_t));
    lz->plans = calloc(nplans, sizeof(rule_plan));
    lz->always = calloc(nplans, sizeof(uint32_t));
    lz->models = calloc(lz->nmodels + 1, sizeof(*lz->models));
    lz->stamp = calloc(lz->nmodels + 1, sizeof(uint32_t));
    lz->score = calloc(lz->nmodels + 1, sizeof(double));
    if (!lz->slot || !lz->plans || !lz->always || !lz->models || !lz->stamp || !lz->score)
        goto nomem;
    for (size_t i = 0; i < lz->nmodels; i++) lz->models[i] = fz_ruleset_model(rs, i);
    size_t np = 0;
    for (size_t i = 0; i < nr; i++) {
        const fz_rule *r = fz_ruleset_rule(rs, i);
        if (r->status == FZ_STATUS_DISABLED) continue;
        rule_plan p = {0};
        for (size_t k = 0; k < r->nterms && p.n < FZ_MAX_MODEL_TERMS; k++) {
            const fz_term *t = &r->terms[k];
            if (!t->model) continue;
            p.term[p.n] = (uint8_t)k;
            p.model[p.n] = t->model_idx;
            p.min_score[p.n] = t->min_score;
            p.n++;
        }
        if (!p.n) continue;
        lz->plans[np] = p;
        lz->slot[i] = (uint32_t)++np;
        int val;
        /* true for some model bits with every other term absent */
        if (depends(r, &p, 0, 0, &val) || val) lz->always[lz->nalways++] = (uint32_t)i;
    }
    return lz;
nomem:
    snprintf(errstr, errstr_size, "model terms: out of memory");
    fz_lazy_destroy(lz);
    return NULL;
}

void fz_lazy_destroy(fz_lazy *lz) {
    if (!lz) return;
    free(lz->slot);
    free(lz->plans);
    free(lz->always);
    free(lz->models);
    free(lz->stamp);
    free(lz->score);
    free(lz);
}

void fz_lazy_begin(fz_lazy *lz, fz_str text, fz_str unmasked) {
    if (++lz->cur == 0) { /* stamp wrapped: forget old stamps */
        for (size_t i = 0; i < lz->nmodels; i++) lz->stamp[i] = 0;
        lz->cur = 1;
    }
    lz->text = text.p && text.n ? text : FZ_STR_NULL;
    lz->unmasked = lz->text.p && unmasked.p && unmasked.n ? unmasked : FZ_STR_NULL;
    lz->nscored = 0;
}

size_t fz_lazy_always(const fz_lazy *lz, const uint32_t **rules) {
    *rules = lz->always;
    return lz->text.p ? lz->nalways : 0;
}

static double score_of(fz_lazy *lz, uint32_t model) {
    if (lz->stamp[model] == lz->cur) return lz->score[model];
    double s = fz_model_score(lz->models[model], lz->text.p, lz->text.n);
    if (lz->unmasked.p) { /* the higher score, as a pattern found in either text is found */
        double u = fz_model_score(lz->models[model], lz->unmasked.p, lz->unmasked.n);
        if (u > s) s = u;
    }
    lz->stamp[model] = lz->cur;
    lz->score[model] = s;
    lz->scored_total++;
    if (lz->nscored < (int)FZ_ARRAY_LEN(lz->scored))
        lz->scored[lz->nscored++] = (fz_score){model, (float)s};
    return s;
}

uint64_t fz_lazy_resolve(fz_lazy *lz, uint32_t rule, uint64_t terms) {
    uint32_t slot = lz->slot[rule];
    if (!slot || !lz->text.p) return terms; /* no model term, or no text: they are absent */
    const rule_plan *p = &lz->plans[slot - 1];
    const fz_rule *r = fz_ruleset_rule(lz->rs, rule);
    unsigned known = 0;
    int val;
    for (unsigned j = 0; j < p->n && depends(r, p, terms, known, &val); j++) {
        known |= 1u << j;
        if (score_of(lz, p->model[j]) >= p->min_score[j]) terms |= 1ull << p->term[j];
    }
    return terms;
}

int fz_lazy_scores(const fz_lazy *lz, fz_score *out, int max) {
    int n = lz->nscored < max ? lz->nscored : max;
    for (int i = 0; i < n; i++) out[i] = lz->scored[i];
    return n;
}

uint64_t fz_lazy_scored(const fz_lazy *lz) { return lz->scored_total; }
