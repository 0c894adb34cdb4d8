/*
 * prom.c - the Prometheus text exposition format (see prom.h).
 */
#include "prom.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void fz_prom_labels_init(fz_prom_labels *l) {
    l->n = 0;
    l->s[0] = '\0';
}

static void lput(fz_prom_labels *l, char c) {
    if (l->n + 1 >= sizeof(l->s)) return;
    l->s[l->n++] = c;
    l->s[l->n] = '\0';
}

void fz_prom_label_n(fz_prom_labels *l, const char *k, const char *v, size_t vn) {
    /* room for the closing quote and brace is kept back */
    size_t klen = strlen(k);
    if (l->n + klen + 8 >= sizeof(l->s)) return;
    lput(l, l->n ? ',' : '{');
    for (size_t i = 0; i < klen; i++) lput(l, k[i]);
    lput(l, '=');
    lput(l, '"');
    size_t limit = sizeof(l->s) - 4;
    for (size_t i = 0; i < vn; i++) {
        unsigned char c = (unsigned char)v[i];
        const char *esc = c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n" : NULL;
        size_t need = esc ? 2 : 1;
        if (c >= 0xc0) { /* a lead byte: the whole character fits or none of it */
            size_t cl = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            need = cl;
        }
        if (l->n + need >= limit) break;
        if (esc) {
            lput(l, esc[0]);
            lput(l, esc[1]);
        } else if (c >= 0xc0) {
            for (size_t j = 0; j < need && i + j < vn; j++) lput(l, v[i + j]);
            i += need - 1;
        } else {
            lput(l, (char)c);
        }
    }
    lput(l, '"');
}

void fz_prom_label(fz_prom_labels *l, const char *k, const char *v) {
    fz_prom_label_n(l, k, v ? v : "", v ? strlen(v) : 0);
}

void fz_prom_label_i64(fz_prom_labels *l, const char *k, int64_t v) {
    char s[24];
    snprintf(s, sizeof(s), "%" PRId64, v);
    fz_prom_label(l, k, s);
}

static void put_name(fz_buf *b, const char *name, const fz_prom_labels *l) {
    fz_buf_puts(b, name);
    if (l && l->n) {
        fz_buf_put(b, l->s, l->n);
        fz_buf_putc(b, '}');
    }
    fz_buf_putc(b, ' ');
}

void fz_prom_family(fz_buf *b, const char *name, const char *type, const char *help) {
    fz_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                  !strcmp(type, "info") ? "gauge" : type);
}

void fz_prom_u64(fz_buf *b, const char *name, const fz_prom_labels *l, uint64_t v) {
    put_name(b, name, l);
    fz_buf_printf(b, "%" PRIu64 "\n", v);
}

void fz_prom_i64(fz_buf *b, const char *name, const fz_prom_labels *l, int64_t v) {
    put_name(b, name, l);
    fz_buf_printf(b, "%" PRId64 "\n", v);
}

void fz_prom_f64(fz_buf *b, const char *name, const fz_prom_labels *l, double v) {
    put_name(b, name, l);
    fz_buf_printf(b, "%.17g\n", v);
}

void fz_prom_counter(fz_buf *b, const char *name, const char *help, uint64_t v) {
    fz_prom_family(b, name, "counter", help);
    fz_prom_u64(b, name, NULL, v);
}

void fz_prom_gauge(fz_buf *b, const char *name, const char *help, int64_t v) {
    fz_prom_family(b, name, "gauge", help);
    fz_prom_i64(b, name, NULL, v);
}

void fz_prom_hist(fz_buf *b, const char *name, const fz_prom_labels *l, const fz_hist *const *hs,
                  int n) {
    uint64_t counts[FZ_HIST_BUCKETS + 1] = {0}, sum_us = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= FZ_HIST_BUCKETS; j++)
            counts[j] += atomic_load_explicit(&hs[i]->bucket[j], memory_order_relaxed);
        sum_us += atomic_load_explicit(&hs[i]->sum_us, memory_order_relaxed);
    }
    char nm[160];
    uint64_t cum = 0;
    snprintf(nm, sizeof(nm), "%s_bucket", name);
    for (int j = 0; j <= FZ_HIST_BUCKETS; j++) {
        cum += counts[j];
        fz_prom_labels lb = l ? *l : (fz_prom_labels){.n = 0};
        char le[32];
        if (j < FZ_HIST_BUCKETS)
            snprintf(le, sizeof(le), "%g", (double)fz_hist_bounds_ms[j] / 1000.0);
        else
            snprintf(le, sizeof(le), "+Inf");
        fz_prom_label(&lb, "le", le);
        fz_prom_u64(b, nm, &lb, cum);
    }
    snprintf(nm, sizeof(nm), "%s_sum", name);
    fz_prom_f64(b, nm, l, (double)sum_us / 1e6);
    snprintf(nm, sizeof(nm), "%s_count", name);
    fz_prom_u64(b, nm, l, cum);
}
