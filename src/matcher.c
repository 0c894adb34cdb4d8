/*
 * matcher.c - see matcher.h.
 *
 * Each field is scanned with hs_scan() against its own database. The match
 * callback marks the rule with the current scan's stamp so a rule matched
 * by several patterns or fields is reported once; no clearing is needed
 * between events because the stamp changes.
 */
#include "matcher.h"

#include <stdio.h>
#include <stdlib.h>

struct fz_matcher {
    hs_scratch_t *scratch;
    const fz_ruleset *rs; /* during a scan */
    uint32_t primary;     /* highest severity matched; lowest index on ties */
    uint32_t *stamp;      /* per rule: last scan that matched it */
    size_t nstamp;
    uint32_t cur;
    uint32_t out[FZ_MAX_MATCHES];
    int n;
    int truncated;
};

fz_matcher *fz_matcher_new(char *errstr, size_t errstr_size) {
    fz_matcher *m = calloc(1, sizeof(*m));
    if (!m) snprintf(errstr, errstr_size, "matcher: out of memory");
    return m;
}

void fz_matcher_destroy(fz_matcher *m) {
    if (!m) return;
    hs_free_scratch(m->scratch);
    free(m->stamp);
    free(m);
}

int fz_matcher_bind(fz_matcher *m, const fz_ruleset *rs, char *errstr, size_t errstr_size) {
    for (int f = 0; f < FZ_FIELD_COUNT; f++) {
        const hs_database_t *db = fz_ruleset_db(rs, (fz_field)f);
        if (!db) continue;
        if (hs_alloc_scratch(db, &m->scratch) != HS_SUCCESS) {
            snprintf(errstr, errstr_size, "matcher: hs_alloc_scratch failed");
            return -1;
        }
    }
    size_t n = fz_ruleset_count(rs);
    if (n > m->nstamp) {
        uint32_t *ns = realloc(m->stamp, n * sizeof(uint32_t));
        if (!ns) {
            snprintf(errstr, errstr_size, "matcher: out of memory");
            return -1;
        }
        m->stamp = ns;
        m->nstamp = n;
    }
    memset(m->stamp, 0, m->nstamp * sizeof(uint32_t));
    m->cur = 0;
    return 0;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx) {
    (void)from;
    (void)to;
    (void)flags;
    fz_matcher *m = ctx;
    if (m->stamp[id] == m->cur) return 0;
    m->stamp[id] = m->cur;
    if (m->n == 0) {
        m->primary = id;
    } else {
        fz_severity s = fz_ruleset_rule(m->rs, id)->severity;
        fz_severity ps = fz_ruleset_rule(m->rs, m->primary)->severity;
        if (s > ps || (s == ps && id < m->primary)) m->primary = id;
    }
    if (m->n < FZ_MAX_MATCHES) {
        m->out[m->n++] = id;
        return 0;
    }
    /* full: keep the FZ_MAX_MATCHES lowest rule indexes */
    m->truncated = 1;
    int hi = 0;
    for (int i = 1; i < m->n; i++)
        if (m->out[i] > m->out[hi]) hi = i;
    if (id < m->out[hi]) m->out[hi] = id;
    return 0;
}

int fz_matcher_scan(fz_matcher *m, const fz_ruleset *rs, const fz_event *ev, uint32_t *out,
                    int *truncated, uint32_t *primary) {
    if (++m->cur == 0) { /* stamp wrapped: forget old stamps */
        memset(m->stamp, 0, m->nstamp * sizeof(uint32_t));
        m->cur = 1;
    }
    m->n = 0;
    m->truncated = 0;
    m->rs = rs;
    for (int f = 0; f < FZ_FIELD_COUNT; f++) {
        const hs_database_t *db = fz_ruleset_db(rs, (fz_field)f);
        fz_str v = ev->fields[f];
        if (!db || !v.p || v.n == 0) continue;
        if (hs_scan(db, v.p, (unsigned)v.n, 0, m->scratch, on_match, m) != HS_SUCCESS) return -1;
    }
    /* insertion sort: n is small */
    for (int i = 1; i < m->n; i++) {
        uint32_t x = m->out[i];
        int j = i - 1;
        while (j >= 0 && m->out[j] > x) {
            m->out[j + 1] = m->out[j];
            j--;
        }
        m->out[j + 1] = x;
    }
    memcpy(out, m->out, (size_t)m->n * sizeof(uint32_t));
    *truncated = m->truncated;
    *primary = m->primary;
    return m->n;
}
