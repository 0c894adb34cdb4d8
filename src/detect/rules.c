/*
 * rules.c - see rules.h.
 *
 * Loading happens off the hot path, in four steps:
 *   1. sources: the *.yaml files of the directory (or of a compiled file)
 *      and, as rules name them, the list files; the version hashes them all;
 *   2. parse: libyaml's document API keeps a line on every node, so every
 *      problem is reported as file:line, all of them, sorted;
 *   3. atoms: every regex term on every field it names, and every literal
 *      of every list term, becomes one Hyperscan expression, grouped into
 *      one database per (field, view, regex|literal);
 *   4. compile (hs_compile_multi / hs_compile_lit_multi), or deserialise
 *      the databases of a compiled file.
 * If a database fails to compile, or when asked to (`rules check`), every
 * regex is analysed on its own with hs_expression_info() so that all bad
 * patterns are named, not just Hyperscan's first.
 */
#define _GNU_SOURCE
#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <yaml.h>

#include "aggrule.h"
#include "artifact.h"
#include "buf.h"
#include "cond.h"
#include "dbcache.h"
#include "log.h"
#include "model.h"
#include "norm.h"
#include "skel.h"
#include "prefilter.h"
#include "rulefile.h"
#include "textfacts.h"
#include "url.h"
#include "utf8.h"

/* Regex sets larger than this are split into several databases compiled
 * in parallel: Hyperscan compiles one database on one thread, and UTF-8
 * patterns with bounded gaps cost milliseconds each (a 10,000-rule set is
 * ~50 s on one core). Each extra database costs one more scan pass, so
 * the split is kept coarse. Fixed, so a compiled file's layout depends only
 * on its rules. */
#define REGEX_CHUNK 250
#define MAX_CHUNKS 8
/* databases scanned for every event, at most: regex chunks, list
 * literals, factors */
#define FZ_DB_MAX (FZ_FIELD_COUNT * FZ_VIEW_COUNT * (MAX_CHUNKS + 2))

/* what a source is (stored in compiled files: append only) */
#define SRC_RULES 0
#define SRC_LIST 1
#define SRC_MODEL 2 /* a model file (model.h); its bytes, parsed into rs->models */
#define FZ_MODEL_FILE_MAX_BYTES (64u << 20)

/* one input file of the ruleset, as read */
typedef struct source {
    char *rel; /* path relative to the rules directory */
    char *text;
    size_t len;
    int is_list; /* SRC_* */
    /* lists, once parsed: literals as offsets into text (NUL-terminated in
     * place), and the normalised copies */
    size_t nlit;
    char **lit;
    size_t *litlen;
    char *litbuf; /* a copy of text, split into literals in place */
    int parsed;   /* 0 = not yet, 1 = ok, -1 = had errors */
} source;

struct fz_ruleset {
    _Atomic long refs;
    fz_rule *rules;
    size_t nrules;
    source *src;
    size_t nsrc;
    fz_atom *atoms;
    size_t natoms;
    size_t nliterals;
    fz_db *dbs; /* the scanned ones (FZ_DB_MAX at most), then the confirms */
    size_t ndbs;
    int prefilter;
    fz_confirm *confirms;
    size_t nconfirms;
    uint32_t *factor_first; /* nfactors + 1 offsets into targets */
    fz_factor_target *targets;
    size_t nfactors;
    _Atomic size_t cached; /* databases loaded from the cache */
    uint32_t *unfiltered;  /* regex atoms with no usable factor */
    const char **unfiltered_why;
    size_t nunfiltered;
    uint8_t uses[FZ_FIELD_COUNT][FZ_VIEW_COUNT];
    double compile_secs;
    char *dir;
    char version[24];     /* the artifact's for a compiled file, else the sources' */
    char src_version[24]; /* "rs-" + XXH3-64 of the sources */
    fz_artifact_info art;
    char art_json[160]; /* ,"artifact":{...} for alerts, or "" */
    size_t art_json_len;
    const char **cats; /* the distinct categories of the rules (their strings) */
    size_t ncats;
    fz_url_brands *url_brands; /* lists/brands.txt, when a rule scans url_flags */
    struct {
        char *rel; /* as the rules name it */
        fz_model *m;
    } * models; /* in the order first named: fz_term.model_idx */
    size_t nmodels;
    uint32_t *aggs; /* enabled aggregate rules (aggrule.h) */
    size_t naggs;
};

static const char *const sev_names[] = {"", "low", "medium", "high", "critical"};
static const char *const status_names[] = {"enabled", "shadow", "disabled"};
static const char *const view_names[] = {"raw", "normalized", "skeleton"};
static const char *const mode_names[] = {"contains", "word", "equals", "prefix", "suffix", "line"};

const char *fz_severity_name(fz_severity s) {
    return (s >= FZ_SEV_LOW && s <= FZ_SEV_CRITICAL) ? sev_names[s] : "unknown";
}
const char *fz_rule_status_name(fz_rule_status s) {
    return (unsigned)s < FZ_ARRAY_LEN(status_names) ? status_names[s] : "unknown";
}
const char *fz_view_name(fz_view v) {
    return (unsigned)v < FZ_ARRAY_LEN(view_names) ? view_names[v] : "unknown";
}

/* ---- diagnostics ---- */

#define diag_add fz_rule_diags_add

void fz_rule_diags_add(fz_rule_diags *d, const char *file, unsigned line, int warning,
                       const char *fmt, ...) {
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        fz_rule_diag *nv = realloc(d->v, nc * sizeof(*nv));
        if (!nv) return;
        d->v = nv;
        d->cap = nc;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fz_rule_diag *g = &d->v[d->n++];
    g->file = strdup(file ? file : "");
    g->line = line;
    g->warning = warning;
    g->msg = strdup(msg);
    if (!warning) d->errors++;
}

void fz_rule_diags_free(fz_rule_diags *d) {
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

void fz_rule_diags_print(const fz_rule_diags *d, void *fpv) {
    FILE *fp = fpv;
    for (size_t i = 0; i < d->n; i++) {
        const fz_rule_diag *g = &d->v[i];
        if (g->line)
            fprintf(fp, "%s:%u: %s: %s\n", g->file, g->line, g->warning ? "warning" : "error",
                    g->msg);
        else
            fprintf(fp, "%s: %s: %s\n", g->file, g->warning ? "warning" : "error", g->msg);
    }
}

void fz_rule_diags_first_error(const fz_rule_diags *d, char *buf, size_t size) {
    buf[0] = '\0';
    for (size_t i = 0; i < d->n; i++) {
        const fz_rule_diag *g = &d->v[i];
        if (g->warning) continue;
        if (g->line)
            snprintf(buf, size, "%s:%u: %s", g->file, g->line, g->msg);
        else
            snprintf(buf, size, "%s: %s", g->file, g->msg);
        return;
    }
}

/* ---- ruleset lifetime ---- */

static void term_free(fz_term *t) {
    free(t->name);
    free(t->pattern);
    free(t->list);
    free(t->model);
}

static void rule_free(fz_rule *r) {
    free(r->id);
    free(r->category);
    free(r->description);
    free(r->file);
    for (size_t i = 0; i < r->nreferences; i++) free(r->references[i]);
    free(r->references);
    for (size_t i = 0; i < r->nterms; i++) term_free(&r->terms[i]);
    free(r->terms);
    free(r->cond);
    free(r->cond_src);
    for (size_t i = 0; i < r->ntests; i++)
        for (int f = 0; f < FZ_FIELD_COUNT; f++) free(r->tests[i].fields[f]);
    free(r->tests);
    free(r->json);
    free(r->agg);
}

static void source_free(source *s) {
    free(s->rel);
    free(s->text);
    free(s->lit); /* the literals point into litbuf */
    free(s->litbuf);
    free(s->litlen);
}

static void ruleset_free(fz_ruleset *rs) {
    for (size_t i = 0; i < rs->nrules; i++) rule_free(&rs->rules[i]);
    free(rs->rules);
    for (size_t i = 0; i < rs->nsrc; i++) source_free(&rs->src[i]);
    free(rs->src);
    for (size_t i = 0; i < rs->ndbs; i++) hs_free_database(rs->dbs[i].db);
    free(rs->dbs);
    free(rs->confirms);
    free(rs->factor_first);
    free(rs->targets);
    free(rs->unfiltered);
    free(rs->unfiltered_why);
    free(rs->atoms);
    free(rs->dir);
    free(rs->cats);
    fz_url_brands_destroy(rs->url_brands);
    for (size_t i = 0; i < rs->nmodels; i++) {
        free(rs->models[i].rel);
        fz_model_destroy(rs->models[i].m);
    }
    free(rs->models);
    free(rs->aggs);
    free(rs);
}

fz_ruleset *fz_ruleset_ref(fz_ruleset *rs) {
    if (rs) atomic_fetch_add(&rs->refs, 1);
    return rs;
}

void fz_ruleset_unref(fz_ruleset *rs) {
    if (rs && atomic_fetch_sub(&rs->refs, 1) == 1) ruleset_free(rs);
}

size_t fz_ruleset_count(const fz_ruleset *rs) { return rs->nrules; }
size_t fz_ruleset_model_count(const fz_ruleset *rs) { return rs->nmodels; }
const fz_model *fz_ruleset_model(const fz_ruleset *rs, size_t i) { return rs->models[i].m; }
const char *fz_ruleset_model_path(const fz_ruleset *rs, size_t i) { return rs->models[i].rel; }
const uint32_t *fz_ruleset_aggs(const fz_ruleset *rs, size_t *n) {
    *n = rs->naggs;
    return rs->aggs;
}
size_t fz_ruleset_pattern_count(const fz_ruleset *rs) { return rs->natoms; }
size_t fz_ruleset_literal_count(const fz_ruleset *rs) { return rs->nliterals; }
const fz_rule *fz_ruleset_rule(const fz_ruleset *rs, size_t i) { return &rs->rules[i]; }
const char *fz_ruleset_version(const fz_ruleset *rs) { return rs->version; }
const char *fz_ruleset_source_version(const fz_ruleset *rs) { return rs->src_version; }
const fz_artifact_info *fz_ruleset_artifact(const fz_ruleset *rs) { return &rs->art; }
const char *fz_ruleset_artifact_json(const fz_ruleset *rs, size_t *len) {
    *len = rs->art_json_len;
    return rs->art_json;
}
const fz_atom *fz_ruleset_atoms(const fz_ruleset *rs) { return rs->atoms; }
size_t fz_ruleset_db_count(const fz_ruleset *rs) { return rs->ndbs; }
const fz_db *fz_ruleset_db_at(const fz_ruleset *rs, size_t i) { return &rs->dbs[i]; }
int fz_ruleset_uses(const fz_ruleset *rs, fz_field f, fz_view v) { return rs->uses[f][v]; }
const fz_url_brands *fz_ruleset_url_brands(const fz_ruleset *rs) { return rs->url_brands; }
size_t fz_ruleset_confirm_count(const fz_ruleset *rs) { return rs->nconfirms; }
const fz_confirm *fz_ruleset_confirms(const fz_ruleset *rs) { return rs->confirms; }
size_t fz_ruleset_factor_count(const fz_ruleset *rs) { return rs->nfactors; }
int fz_ruleset_prefiltered(const fz_ruleset *rs) { return rs->prefilter; }

const fz_factor_target *fz_ruleset_factor_targets(const fz_ruleset *rs, uint32_t f, size_t *n) {
    *n = rs->factor_first[f + 1] - rs->factor_first[f];
    return rs->targets + rs->factor_first[f];
}

size_t fz_ruleset_unfiltered(const fz_ruleset *rs, const uint32_t **atoms,
                             const char *const **why) {
    *atoms = rs->unfiltered;
    *why = rs->unfiltered_why;
    return rs->nunfiltered;
}

const char *fz_ruleset_category_find(const fz_ruleset *rs, const char *name, size_t n) {
    for (size_t i = 0; i < rs->ncats; i++)
        if (strncmp(rs->cats[i], name, n) == 0 && rs->cats[i][n] == '\0') return rs->cats[i];
    return NULL;
}
double fz_ruleset_compile_secs(const fz_ruleset *rs) { return rs->compile_secs; }
size_t fz_ruleset_cached_dbs(const fz_ruleset *rs) { return atomic_load(&rs->cached); }

size_t fz_ruleset_db_bytes(const fz_ruleset *rs) {
    size_t total = 0;
    for (size_t i = 0; i < rs->ndbs; i++) {
        size_t n = 0;
        if (hs_database_size(rs->dbs[i].db, &n) == HS_SUCCESS) total += n;
    }
    return total;
}

int fz_rule_eval(const fz_rule *r, uint64_t terms) {
    if (!r->cond) return terms != 0;
    return fz_cond_eval(r->cond, r->ncond, terms);
}

/* ---- sources ---- */

static source *source_add(fz_ruleset *rs, const char *rel, char *text, size_t len, int is_list) {
    source *ns = realloc(rs->src, (rs->nsrc + 1) * sizeof(source));
    if (!ns) return NULL;
    rs->src = ns;
    source *s = &rs->src[rs->nsrc++];
    memset(s, 0, sizeof(*s));
    s->rel = strdup(rel);
    s->text = text;
    s->len = len;
    s->is_list = is_list;
    return s;
}

/* ---- file discovery ---- */

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static int path_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_yaml_ext(const char *name) {
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int collect_files(const char *dir, path_list *out, fz_rule_diags *diags) {
    DIR *dp = opendir(dir);
    if (!dp) {
        diag_add(diags, dir, 0, 0, "cannot open rules directory: %s", strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue; /* hidden files, editors' swap files */
        char *p;
        if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) continue;
        struct stat st;
        if (stat(p, &st) != 0) {
            diag_add(diags, p, 0, 0, "cannot stat: %s", strerror(errno));
            free(p);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            collect_files(p, out, diags);
            free(p);
        } else if (has_yaml_ext(de->d_name) && !S_ISREG(st.st_mode)) {
            diag_add(diags, p, 0, 0, "not a regular file (a FIFO, device or socket); not read");
            free(p);
        } else if (S_ISREG(st.st_mode) && has_yaml_ext(de->d_name)) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 32;
                out->v = realloc(out->v, out->cap * sizeof(char *));
            }
            out->v[out->n++] = p;
        } else {
            free(p);
        }
    }
    closedir(dp);
    return 0;
}

/* Read all of fd (closed here), a regular file of at most max bytes;
 * problems are reported against path. */
static char *read_fd_max(int fd, const char *path, size_t *len, long max, fz_rule_diags *diags) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_add(diags, path, 0, 0, "cannot read: not a regular file");
        close(fd);
        return NULL;
    }
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        diag_add(diags, path, 0, 0, "cannot open: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    if (n < 0 || n > max) {
        diag_add(diags, path, 0, 0, "file too large (limit %ld MiB)", max >> 20);
        fclose(fp);
        return NULL;
    }
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
        diag_add(diags, path, 0, 0, "read error");
    }
    fclose(fp);
    if (buf) buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* A rule file: rel beneath dir (rulefile.h), reported as path. */
static char *read_rule_file(const char *dir, const char *rel, const char *path, size_t *len,
                            fz_rule_diags *diags) {
    char why[256];
    int fd = fz_rulefile_open(dir, rel, why, sizeof(why));
    if (fd < 0) {
        diag_add(diags, path, 0, 0, "cannot open: %s", why);
        return NULL;
    }
    return read_fd_max(fd, path, len, 64L << 20, diags);
}

/* ---- loading context ---- */

typedef struct load_ctx {
    fz_ruleset *rs;
    const char *dir; /* NULL when the sources come from a compiled file */
    fz_rule_diags *diags;
} load_ctx;

static int valid_rel_path(const char *p) {
    if (!*p || p[0] == '/' || strlen(p) > 1024) return 0;
    for (const char *q = p; *q; q++) {
        if ((q == p || q[-1] == '/') && q[0] == '.' && q[1] == '.' && (q[2] == '/' || !q[2]))
            return 0;
    }
    return 1;
}

static int cmp_lit(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Split a list file into literals (in place). Reports problems against the
 * list file itself. Returns 0 if usable. */
static int list_parse(load_ctx *lc, source *s, const char *shown) {
    size_t bad;
    if (!fz_utf8_valid(s->text, s->len, &bad)) {
        unsigned line = 1;
        for (size_t i = 0; i < bad; i++) line += s->text[i] == '\n';
        diag_add(lc->diags, shown, line, 0, "invalid UTF-8 at byte %zu", bad);
        return -1;
    }
    size_t cap = 0, n = 0;
    char **lit = NULL;
    unsigned line = 0;
    int rc = 0;
    s->litbuf = malloc(s->len + 1);
    if (!s->litbuf) return -1;
    memcpy(s->litbuf, s->text, s->len + 1);
    char *p = s->litbuf, *end = s->litbuf + s->len;
    while (p < end) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        char *b = p;
        p = nl ? nl + 1 : end;
        while (b < e && (*b == ' ' || *b == '\t')) b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        if (b == e || *b == '#') continue;
        if (memchr(b, '\0', (size_t)(e - b))) {
            diag_add(lc->diags, shown, line, 0, "NUL byte in entry");
            rc = -1;
            continue;
        }
        if ((size_t)(e - b) > FZ_LITERAL_MAX_BYTES) {
            diag_add(lc->diags, shown, line, 0, "entry longer than %u bytes", FZ_LITERAL_MAX_BYTES);
            rc = -1;
            continue;
        }
        if (n == FZ_LIST_MAX_LITERALS) {
            diag_add(lc->diags, shown, line, 0, "more than %u entries; split the list",
                     FZ_LIST_MAX_LITERALS);
            rc = -1;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **nv = realloc(lit, cap * sizeof(char *));
            if (!nv) {
                rc = -1;
                break;
            }
            lit = nv;
        }
        *e = '\0';
        lit[n++] = b;
    }
    if (rc == 0 && n == 0) {
        diag_add(lc->diags, shown, 0, 0, "list has no entries");
        rc = -1;
    }
    if (n > 1) { /* sorted and unique: duplicates would only cost matches */
        qsort(lit, n, sizeof(char *), cmp_lit);
        size_t k = 1;
        for (size_t i = 1; i < n; i++)
            if (strcmp(lit[i], lit[k - 1]) != 0) lit[k++] = lit[i];
        n = k;
    }
    s->lit = lit;
    s->nlit = n;
    s->litlen = malloc((n ? n : 1) * sizeof(size_t));
    for (size_t i = 0; s->litlen && i < n; i++) s->litlen[i] = strlen(lit[i]);
    return s->litlen ? rc : -1;
}

/* The list at rel (relative to the rules directory), loaded once. Problems
 * are reported at the referencing place (file:line). */
static source *list_get(load_ctx *lc, const char *rel, const char *file, unsigned line) {
    fz_ruleset *rs = lc->rs;
    for (size_t i = 0; i < rs->nsrc; i++)
        if (rs->src[i].is_list == SRC_LIST && strcmp(rs->src[i].rel, rel) == 0)
            return rs->src[i].parsed > 0 ? &rs->src[i] : NULL;
    if (!valid_rel_path(rel)) {
        diag_add(lc->diags, file, line, 0,
                 "list '%s': give a path inside the rules directory (relative, no '..')", rel);
        return NULL;
    }
    if (!lc->dir) {
        diag_add(lc->diags, file, line, 0, "list '%s' is not in the compiled file", rel);
        return NULL;
    }
    char *path;
    if (asprintf(&path, "%s/%s", lc->dir, rel) < 0) return NULL;
    char why[256];
    int fd = fz_rulefile_open(lc->dir, rel, why, sizeof(why));
    FILE *fp = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!fp) {
        if (fd >= 0) snprintf(why, sizeof(why), "%s", strerror(errno));
        if (fd >= 0) close(fd);
        diag_add(lc->diags, file, line, 0, "list '%s': cannot open %s: %s", rel, path, why);
        free(path);
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *text = NULL;
    if (n < 0 || (unsigned long)n > FZ_LIST_MAX_BYTES) {
        diag_add(lc->diags, file, line, 0, "list '%s' is larger than %u MiB", rel,
                 FZ_LIST_MAX_BYTES >> 20);
    } else if ((text = malloc((size_t)n + 1)) && fread(text, 1, (size_t)n, fp) != (size_t)n) {
        diag_add(lc->diags, file, line, 0, "list '%s': read error", rel);
        free(text);
        text = NULL;
    }
    fclose(fp);
    if (!text) {
        free(path);
        return NULL;
    }
    text[n] = '\0';
    source *s = source_add(rs, rel, text, (size_t)n, 1);
    if (!s) {
        free(text);
        free(path);
        return NULL;
    }
    s->parsed = list_parse(lc, s, path) == 0 ? 1 : -1;
    free(path);
    return s->parsed > 0 ? s : NULL;
}

/* The model at rel (relative to the rules directory), loaded once: its
 * index in rs->models, or -1 with the problem reported at file:line. From
 * a compiled file, its bytes are one of the file's sources. */
static long model_get(load_ctx *lc, const char *rel, const char *file, unsigned line) {
    fz_ruleset *rs = lc->rs;
    for (size_t i = 0; i < rs->nmodels; i++)
        if (!strcmp(rs->models[i].rel, rel)) return rs->models[i].m ? (long)i : -1;
    if (!valid_rel_path(rel)) {
        diag_add(lc->diags, file, line, 0,
                 "model '%s': give a path inside the rules directory (relative, no '..')", rel);
        return -1;
    }
    void *nm = realloc(rs->models, (rs->nmodels + 1) * sizeof(*rs->models));
    if (!nm) return -1;
    rs->models = nm;
    long idx = (long)rs->nmodels;
    rs->models[idx].rel = strdup(rel);
    rs->models[idx].m = NULL; /* a model that failed stays, so it is reported once */
    rs->nmodels++;
    if (!rs->models[idx].rel) return -1;
    source *s = NULL;
    for (size_t i = 0; i < rs->nsrc && !s; i++)
        if (rs->src[i].is_list == SRC_MODEL && !strcmp(rs->src[i].rel, rel)) s = &rs->src[i];
    char *path = NULL;
    if (!s && !lc->dir) {
        diag_add(lc->diags, file, line, 0, "model '%s' is not in the compiled file", rel);
        return -1;
    }
    if (!s) {
        if (asprintf(&path, "%s/%s", lc->dir, rel) < 0) return -1;
        char why[256];
        int fd = fz_rulefile_open(lc->dir, rel, why, sizeof(why));
        if (fd < 0) {
            diag_add(lc->diags, file, line, 0, "model '%s': cannot open %s: %s", rel, path, why);
            free(path);
            return -1;
        }
        struct stat st;
        char *text = NULL;
        ssize_t got = -1;
        if (fstat(fd, &st) != 0) {
            diag_add(lc->diags, file, line, 0, "model '%s': cannot read %s: %s", rel, path,
                     strerror(errno));
        } else if ((uint64_t)st.st_size > FZ_MODEL_FILE_MAX_BYTES) {
            diag_add(lc->diags, file, line, 0, "model '%s' is larger than %u MiB", rel,
                     FZ_MODEL_FILE_MAX_BYTES >> 20);
        } else if ((text = malloc((size_t)st.st_size + 1))) {
            size_t n = 0;
            ssize_t k = 1;
            while (n < (size_t)st.st_size && (k = read(fd, text + n, (size_t)st.st_size - n)) > 0)
                n += (size_t)k;
            if (n == (size_t)st.st_size)
                got = (ssize_t)n;
            else
                diag_add(lc->diags, file, line, 0, "model '%s': read error on %s: %s", rel, path,
                         k < 0 ? strerror(errno) : "the file shrank while it was read");
        } else {
            diag_add(lc->diags, file, line, 0, "model '%s': out of memory", rel);
        }
        close(fd);
        if (got < 0) {
            free(text);
            free(path);
            return -1;
        }
        text[got] = '\0';
        s = source_add(rs, rel, text, (size_t)got, SRC_MODEL);
        if (!s) {
            free(text);
            free(path);
            return -1;
        }
    } else if (asprintf(&path, "%s", file) < 0) {
        return -1;
    }
    char err[512];
    rs->models[idx].m = fz_model_parse(path, (const uint8_t *)s->text, s->len, err, sizeof(err));
    if (!rs->models[idx].m) diag_add(lc->diags, file, line, 0, "model '%s': %s", rel, err);
    free(path);
    return rs->models[idx].m ? idx : -1;
}

/* ---- YAML helpers ---- */

typedef struct parse_ctx {
    load_ctx *lc;
    const char *file;
    yaml_document_t *doc;
    fz_rule_diags *diags;
} parse_ctx;

static unsigned node_line(yaml_node_t *n) { return n ? (unsigned)n->start_mark.line + 1 : 0; }

static const char *scalar(yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int valid_id(const char *s) {
    if (!*s || strlen(s) > 128) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-'))
            return 0;
    return 1;
}

static int valid_name(const char *s) {
    if (!*s || strlen(s) > 64 || (*s >= '0' && *s <= '9')) return 0;
    if (!strcmp(s, "and") || !strcmp(s, "or") || !strcmp(s, "not")) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

/* Statistics rows of these names are fanzha's own (ledger.h). */
static int reserved_category(const char *s) {
    return !strcmp(s, "all") || !strcmp(s, "intercept") || !strcmp(s, "unspecified") ||
           !strcmp(s, "unlisted");
}

static int valid_category(const char *s) {
    if (!*s || strlen(s) > 64) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

static int parse_uint(const char *s, unsigned *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > 1000000 || s[0] == '-') return -1;
    *out = (unsigned)v;
    return 0;
}

/* Calls fn for each scalar of a scalar-or-list node. */
typedef int (*item_fn)(parse_ctx *c, void *obj, yaml_node_t *item, const char *key);

static int for_each_item(parse_ctx *c, void *obj, yaml_node_t *v, const char *key, item_fn fn) {
    if (v->type == YAML_SCALAR_NODE) return fn(c, obj, v, key);
    if (v->type != YAML_SEQUENCE_NODE) {
        diag_add(c->diags, c->file, node_line(v), 0, "'%s' must be a list", key);
        return -1;
    }
    int rc = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, *it);
        if (!item || item->type != YAML_SCALAR_NODE) {
            diag_add(c->diags, c->file, node_line(item ? item : v), 0,
                     "items of '%s' must be scalars", key);
            rc = -1;
            continue;
        }
        if (fn(c, obj, item, key)) rc = -1;
    }
    return rc;
}

static int add_field(parse_ctx *c, void *obj, yaml_node_t *item, const char *key) {
    uint32_t *fields = obj;
    const char *s = scalar(item);
    int f = fz_field_parse(s, strlen(s));
    if (f < 0) {
        diag_add(c->diags, c->file, node_line(item), 0,
                 "unknown field '%s' in '%s' (known: text, from, to, url_host, url_domain, "
                 "url_flags, text_flags, text_numbers)",
                 s, key);
        return -1;
    }
    *fields |= 1u << f;
    return 0;
}

#define FLAGS_SET 0x80000000u /* marks "flags given" on a term */

static int add_flag(parse_ctx *c, void *obj, yaml_node_t *item, const char *key) {
    static const struct {
        const char *name;
        unsigned flag;
    } flags[] = {{"caseless", HS_FLAG_CASELESS},   {"dotall", HS_FLAG_DOTALL},
                 {"multiline", HS_FLAG_MULTILINE}, {"ucp", HS_FLAG_UCP},
                 {"utf8", HS_FLAG_UTF8},           {"singlematch", HS_FLAG_SINGLEMATCH}};
    unsigned *out = obj;
    const char *s = scalar(item);
    for (size_t i = 0; i < FZ_ARRAY_LEN(flags); i++)
        if (strcmp(s, flags[i].name) == 0) {
            *out |= flags[i].flag | FLAGS_SET;
            return 0;
        }
    diag_add(c->diags, c->file, node_line(item), 0,
             "unknown flag '%s' in '%s' (known: caseless, dotall, multiline, ucp)", s, key);
    return -1;
}

static int add_reference(parse_ctx *c, void *obj, yaml_node_t *item, const char *key) {
    (void)c;
    (void)key;
    fz_rule *r = obj;
    char **nv = realloc(r->references, (r->nreferences + 1) * sizeof(char *));
    if (!nv) return -1;
    r->references = nv;
    r->references[r->nreferences++] = strdup(scalar(item));
    return 0;
}

static int parse_enum(parse_ctx *c, yaml_node_t *n, const char *key, const char *const *names,
                      size_t count, int *out) {
    const char *v = scalar(n);
    for (size_t i = 0; v && i < count; i++)
        if (names[i][0] && strcmp(v, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    char known[256] = "";
    for (size_t i = 0; i < count; i++)
        if (names[i][0])
            snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
                     known[0] ? ", " : "", names[i]);
    diag_add(c->diags, c->file, node_line(n), 0, "'%s' must be one of %s, not '%s'", key, known,
             v ? v : "(not a scalar)");
    return -1;
}

static fz_term *term_new(fz_rule *r) {
    fz_term *nt = realloc(r->terms, (r->nterms + 1) * sizeof(fz_term));
    if (!nt) return NULL;
    r->terms = nt;
    fz_term *t = &r->terms[r->nterms++];
    memset(t, 0, sizeof(*t));
    t->view = (fz_view)-1;
    t->mode = (fz_lit_mode)-1;
    return t;
}

static int set_pattern(parse_ctx *c, fz_term *t, yaml_node_t *n) {
    const char *s = scalar(n);
    if (!s) {
        diag_add(c->diags, c->file, node_line(n), 0, "'pattern' must be a string");
        return -1;
    }
    if (!*s) {
        diag_add(c->diags, c->file, node_line(n), 0, "empty pattern");
        return -1;
    }
    free(t->pattern); /* a key given twice: the last one counts */
    t->pattern = strdup(s);
    t->line = node_line(n);
    return 0;
}

static int set_list(parse_ctx *c, fz_term *t, yaml_node_t *n) {
    const char *s = scalar(n);
    if (!s || !*s) {
        diag_add(c->diags, c->file, node_line(n), 0, "'list' must be a path");
        return -1;
    }
    free(t->list);
    t->list = strdup(s);
    t->line = node_line(n);
    return 0;
}

/* model: {file: PATH, min_score: X} */
static int set_model(parse_ctx *c, fz_term *t, yaml_node_t *n) {
    t->line = node_line(n);
    if (n->type != YAML_MAPPING_NODE) {
        diag_add(c->diags, c->file, t->line, 0,
                 "'model' must be a mapping: {file: models/NAME.fzm, min_score: 0.9}");
        return -1;
    }
    int rc = 0, have_score = 0;
    free(t->model);
    t->model = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        const char *k = scalar(kn), *v = scalar(vn);
        if (k && !strcmp(k, "file")) {
            if (!v || !*v) {
                diag_add(c->diags, c->file, node_line(vn), 0, "model 'file' must be a path");
                rc = -1;
                continue;
            }
            free(t->model);
            t->model = strdup(v);
        } else if (k && !strcmp(k, "min_score")) {
            char *end = NULL;
            double d = v ? strtod(v, &end) : -1;
            if (!v || !*v || *end || !(d >= 0 && d <= 1)) {
                diag_add(c->diags, c->file, node_line(vn), 0,
                         "model 'min_score' must be a number in [0, 1], not '%s'", v ? v : "");
                rc = -1;
                continue;
            }
            t->min_score = d;
            have_score = 1;
        } else {
            diag_add(c->diags, c->file, node_line(kn), 0,
                     "unknown model key '%s' (known: file, min_score)", k ? k : "?");
            rc = -1;
        }
    }
    if (rc == 0 && (!t->model || !have_score)) {
        diag_add(c->diags, c->file, t->line, 0, "model term needs 'file' and 'min_score'");
        rc = -1;
    }
    if (rc && !t->model) t->model = strdup(""); /* still a model term, for the checks below */
    return rc;
}

/* A term written as a mapping: {name, pattern | list | model, fields, view, flags,
 * list_match}. */
static int parse_term_map(parse_ctx *c, fz_rule *r, yaml_node_t *m) {
    fz_term *t = term_new(r);
    if (!t) return -1;
    t->line = node_line(m);
    int rc = 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        const char *k = scalar(kn);
        if (!k || !vn) {
            rc = -1;
            continue;
        }
        if (!strcmp(k, "name")) {
            const char *v = scalar(vn);
            if (!v || !valid_name(v)) {
                diag_add(c->diags, c->file, node_line(vn), 0,
                         "invalid term name '%s': use a-z 0-9 _ (not starting with a digit; "
                         "not and/or/not)",
                         v ? v : "");
                rc = -1;
            } else {
                free(t->name);
                t->name = strdup(v);
            }
        } else if (!strcmp(k, "pattern")) {
            rc |= set_pattern(c, t, vn);
        } else if (!strcmp(k, "list")) {
            rc |= set_list(c, t, vn);
        } else if (!strcmp(k, "model")) {
            rc |= set_model(c, t, vn);
            t->line = node_line(m);
        } else if (!strcmp(k, "fields") || !strcmp(k, "field")) {
            rc |= for_each_item(c, &t->fields, vn, k, add_field);
        } else if (!strcmp(k, "flags")) {
            rc |= for_each_item(c, &t->hs_flags, vn, k, add_flag);
        } else if (!strcmp(k, "view")) {
            int v;
            if (parse_enum(c, vn, k, view_names, FZ_VIEW_COUNT, &v))
                rc = -1;
            else
                t->view = (fz_view)v;
        } else if (!strcmp(k, "list_match")) {
            int v;
            if (parse_enum(c, vn, k, mode_names, FZ_ARRAY_LEN(mode_names), &v))
                rc = -1;
            else
                t->mode = (fz_lit_mode)v;
        } else {
            diag_add(c->diags, c->file, node_line(kn), 0,
                     "unknown term key '%s' (known: name, pattern, list, model, list_match, "
                     "fields, view, flags)",
                     k);
            rc = -1;
        }
    }
    if (!!t->pattern + !!t->list + !!t->model != 1) {
        diag_add(c->diags, c->file, t->line, 0,
                 "a term needs exactly one of 'pattern', 'list' or 'model'");
        rc = -1;
    } else if (t->model && (t->fields || t->hs_flags || (int)t->view >= 0 || (int)t->mode >= 0)) {
        diag_add(c->diags, c->file, t->line, 0,
                 "a model term scores the normalised text: 'fields', 'view', 'flags' and "
                 "'list_match' do not apply to it");
        rc = -1;
    }
    return rc;
}

static int parse_patterns(parse_ctx *c, fz_rule *r, yaml_node_t *v) {
    if (v->type == YAML_SCALAR_NODE) {
        fz_term *t = term_new(r);
        return t ? set_pattern(c, t, v) : -1;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        diag_add(c->diags, c->file, node_line(v), 0, "'patterns' must be a list");
        return -1;
    }
    int rc = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, *it);
        if (item && item->type == YAML_SCALAR_NODE) {
            fz_term *t = term_new(r);
            rc |= t ? set_pattern(c, t, item) : -1;
        } else if (item && item->type == YAML_MAPPING_NODE) {
            rc |= parse_term_map(c, r, item);
        } else {
            diag_add(c->diags, c->file, node_line(item ? item : v), 0,
                     "items of 'patterns' must be patterns or {name:, pattern:|list:} mappings");
            rc = -1;
        }
    }
    return rc;
}

/* tests: {should_match: [...], should_not_match: [...]}; an example is a
 * string (the text) or a mapping of fields. */
static int parse_tests(parse_ctx *c, fz_rule *r, yaml_node_t *v) {
    if (v->type != YAML_MAPPING_NODE) {
        diag_add(c->diags, c->file, node_line(v), 0,
                 "'tests' must be a mapping with should_match / should_not_match lists");
        return -1;
    }
    int rc = 0;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        const char *k = scalar(kn);
        int should;
        if (k && !strcmp(k, "should_match"))
            should = 1;
        else if (k && !strcmp(k, "should_not_match"))
            should = 0;
        else {
            diag_add(c->diags, c->file, node_line(kn), 0,
                     "unknown key '%s' in 'tests' (known: should_match, should_not_match)",
                     k ? k : "?");
            rc = -1;
            continue;
        }
        if (!vn || vn->type != YAML_SEQUENCE_NODE) {
            diag_add(c->diags, c->file, node_line(vn ? vn : kn), 0, "'%s' must be a list", k);
            rc = -1;
            continue;
        }
        for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top;
             it++) {
            yaml_node_t *ex = yaml_document_get_node(c->doc, *it);
            fz_rule_test *nt = realloc(r->tests, (r->ntests + 1) * sizeof(fz_rule_test));
            if (!nt || !ex) return -1;
            r->tests = nt;
            fz_rule_test *t = &r->tests[r->ntests++];
            memset(t, 0, sizeof(*t));
            t->line = node_line(ex);
            t->should_match = should;
            if (ex->type == YAML_SCALAR_NODE) {
                t->fields[FZ_FIELD_TEXT] = strdup(scalar(ex));
                continue;
            }
            if (ex->type != YAML_MAPPING_NODE) {
                diag_add(c->diags, c->file, t->line, 0,
                         "a test example is a text or a mapping of fields (text, from, to)");
                rc = -1;
                continue;
            }
            for (yaml_node_pair_t *q = ex->data.mapping.pairs.start; q < ex->data.mapping.pairs.top;
                 q++) {
                const char *fk = scalar(yaml_document_get_node(c->doc, q->key));
                const char *fv = scalar(yaml_document_get_node(c->doc, q->value));
                int f = fk ? fz_field_parse(fk, strlen(fk)) : -1;
                if (f >= FZ_FIELD_EVENT_COUNT && fv) {
                    diag_add(c->diags, c->file, t->line, 0,
                             "test example: field '%s' is derived from the text; give a text "
                             "that has it instead",
                             fk);
                    rc = -1;
                    continue;
                }
                if (f < 0 || !fv) {
                    diag_add(c->diags, c->file, t->line, 0,
                             "test example: unknown field '%s' (known: text, from, to)",
                             fk ? fk : "?");
                    rc = -1;
                    continue;
                }
                free(t->fields[f]);
                t->fields[f] = strdup(fv);
            }
        }
    }
    return rc;
}

static char *rule_json(const fz_rule *r, size_t *len) {
    fz_buf b;
    fz_buf_init(&b, 4096);
    fz_buf_puts(&b, "{\"id\":");
    fz_buf_put_json_str(&b, r->id, strlen(r->id));
    fz_buf_printf(&b, ",\"rev\":%u,\"category\":", r->rev);
    fz_buf_put_json_str(&b, r->category, strlen(r->category));
    fz_buf_printf(&b, ",\"severity\":\"%s\"}", fz_severity_name(r->severity));
    fz_buf_putc(&b, '\0');
    if (b.failed) {
        fz_buf_free(&b);
        return NULL;
    }
    *len = b.len - 1;
    return b.p;
}

/* Parse one rule mapping into r. Returns 0 if valid. */
static int parse_rule(parse_ctx *c, yaml_node_t *m, fz_rule *r) {
    static const char *const known =
        "id, rev, category, severity, status, description, references, fields, view, flags, "
        "pattern, patterns, list, list_match, model, condition, tests, aggregate";
    int rc = 0;
    unsigned line = node_line(m);
    r->line = line;
    r->file = strdup(c->file);
    if (m->type != YAML_MAPPING_NODE) {
        diag_add(c->diags, c->file, line, 0, "a rule must be a mapping (id: ..., pattern: ...)");
        return -1;
    }
    uint32_t fields = 0;
    unsigned flags = 0;
    int view = -1, mode = -1;
    unsigned cond_line = 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        const char *k = scalar(kn);
        if (!k || !vn) {
            diag_add(c->diags, c->file, node_line(kn), 0, "rule keys must be scalars");
            rc = -1;
            continue;
        }
        const char *v = scalar(vn);
        unsigned vl = node_line(vn);
        if (!strcmp(k, "fields")) {
            rc |= for_each_item(c, &fields, vn, k, add_field);
        } else if (!strcmp(k, "flags")) {
            rc |= for_each_item(c, &flags, vn, k, add_flag);
        } else if (!strcmp(k, "references")) {
            rc |= for_each_item(c, r, vn, k, add_reference);
        } else if (!strcmp(k, "pattern") || !strcmp(k, "patterns")) {
            rc |= parse_patterns(c, r, vn);
        } else if (!strcmp(k, "list")) {
            fz_term *t = term_new(r);
            rc |= t ? set_list(c, t, vn) : -1;
        } else if (!strcmp(k, "model")) {
            fz_term *t = term_new(r);
            rc |= t ? set_model(c, t, vn) : -1;
        } else if (!strcmp(k, "tests")) {
            rc |= parse_tests(c, r, vn);
        } else if (!strcmp(k, "aggregate")) {
            free(r->agg);
            r->agg = calloc(1, sizeof(*r->agg));
            rc |= r->agg ? fz_aggrule_parse(c->doc, vn, c->file, c->diags, r->agg) : -1;
        } else if (!strcmp(k, "view")) {
            rc |= parse_enum(c, vn, k, view_names, FZ_VIEW_COUNT, &view);
        } else if (!strcmp(k, "list_match")) {
            rc |= parse_enum(c, vn, k, mode_names, FZ_ARRAY_LEN(mode_names), &mode);
        } else if (!strcmp(k, "status")) {
            int s = 0;
            rc |= parse_enum(c, vn, k, status_names, FZ_ARRAY_LEN(status_names), &s);
            r->status = (fz_rule_status)s;
        } else if (!strcmp(k, "severity")) {
            int s = 0;
            rc |= parse_enum(c, vn, k, sev_names, FZ_ARRAY_LEN(sev_names), &s);
            r->severity = (fz_severity)s;
        } else if (!v) {
            if (strstr(known, k))
                diag_add(c->diags, c->file, vl, 0, "'%s' must be a scalar", k);
            else
                diag_add(c->diags, c->file, node_line(kn), 0, "unknown key '%s' (known: %s)", k,
                         known);
            rc = -1;
        } else if (!strcmp(k, "id")) {
            r->line = vl;
            if (!valid_id(v)) {
                diag_add(c->diags, c->file, vl, 0, "invalid id '%s': use 1-128 of a-z 0-9 . _ -",
                         v);
                rc = -1;
            }
            free(r->id);
            r->id = strdup(v);
        } else if (!strcmp(k, "rev")) {
            if (parse_uint(v, &r->rev) || r->rev == 0) {
                diag_add(c->diags, c->file, vl, 0, "'rev' must be an integer >= 1, not '%s'", v);
                rc = -1;
            }
        } else if (!strcmp(k, "category")) {
            if (!valid_category(v)) {
                diag_add(c->diags, c->file, vl, 0, "invalid category '%s': use 1-64 of a-z 0-9 _",
                         v);
                rc = -1;
            } else if (reserved_category(v)) {
                diag_add(c->diags, c->file, vl, 0,
                         "category '%s' is reserved for fanzha's statistics rows (all, intercept, "
                         "unspecified, unlisted)",
                         v);
                rc = -1;
            }
            free(r->category);
            r->category = strdup(v);
        } else if (!strcmp(k, "description")) {
            free(r->description);
            r->description = strdup(v);
        } else if (!strcmp(k, "condition")) {
            free(r->cond_src);
            r->cond_src = strdup(v);
            cond_line = vl;
        } else {
            diag_add(c->diags, c->file, node_line(kn), 0, "unknown key '%s' (known: %s)", k, known);
            rc = -1;
        }
    }
    static const char *const required[] = {"id", "category", "severity"};
    const int missing[] = {r->id == NULL, r->category == NULL, r->severity == 0};
    for (size_t i = 0; i < FZ_ARRAY_LEN(required); i++)
        if (missing[i] && rc == 0) {
            diag_add(c->diags, c->file, line, 0, "rule is missing '%s'", required[i]);
            rc = -1;
        }
    if (r->nterms == 0 && !r->agg && rc == 0) {
        diag_add(c->diags, c->file, line, 0,
                 "rule has no 'pattern', 'patterns', 'list' or 'model'");
        rc = -1;
    }
    if (r->nterms > FZ_MAX_TERMS) {
        diag_add(c->diags, c->file, line, 0, "rule has %zu terms; at most %d", r->nterms,
                 FZ_MAX_TERMS);
        rc = -1;
    }
    size_t nmodel = 0;
    for (size_t i = 0; i < r->nterms; i++) nmodel += r->terms[i].model != NULL;
    if (nmodel > FZ_MAX_MODEL_TERMS) {
        diag_add(c->diags, c->file, line, 0, "rule has %zu model terms; at most %d", nmodel,
                 FZ_MAX_MODEL_TERMS);
        rc = -1;
    }
    if (r->rev == 0) r->rev = 1;
    if (!fields) fields = 1u << FZ_FIELD_TEXT;
    /* rule-level settings fill what a term does not say itself */
    const char *names[FZ_MAX_TERMS];
    for (size_t i = 0; i < r->nterms && i < FZ_MAX_TERMS; i++) {
        fz_term *t = &r->terms[i];
        if (!t->fields) t->fields = fields;
        if (!(t->hs_flags & FLAGS_SET)) t->hs_flags |= flags;
        t->hs_flags &= ~FLAGS_SET;
        if ((int)t->view < 0) t->view = (fz_view)view; /* still -1 = by field */
        if ((int)t->mode < 0) t->mode = mode >= 0 ? (fz_lit_mode)mode : FZ_LIT_CONTAINS;
        if (!t->name && asprintf(&t->name, "p%zu", i + 1) < 0) return -1;
        const uint32_t numbers = (1u << FZ_FIELD_FROM) | (1u << FZ_FIELD_TO);
        if (t->view == FZ_VIEW_SKEL && (t->fields & numbers)) {
            diag_add(c->diags, c->file, t->line ? t->line : line, 0,
                     "term '%s': view 'skeleton' is for the text field only (it scans %s); "
                     "use 'normalized' for from/to",
                     t->name, t->fields & (1u << FZ_FIELD_FROM) ? "from" : "to");
            rc = -1;
        }
        const uint32_t raw_only = (1u << FZ_FIELD_URL_FLAGS) | (1u << FZ_FIELD_TEXT_FLAGS) |
                                  (1u << FZ_FIELD_TEXT_NUMBERS);
        if ((int)t->view > FZ_VIEW_RAW && (t->fields & raw_only)) {
            int f = __builtin_ctz(t->fields & raw_only);
            diag_add(c->diags, c->file, t->line ? t->line : line, 0,
                     "term '%s': %s has the raw view only (its tokens are ASCII)", t->name,
                     fz_field_name((fz_field)f));
            rc = -1;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(names[j], t->name)) {
                diag_add(c->diags, c->file, t->line, 0, "term name '%s' used twice in rule",
                         t->name);
                rc = -1;
            }
        names[i] = t->name;
        if (t->model) { /* scores the normalised text, whatever the rule says */
            t->fields = 1u << FZ_FIELD_TEXT;
            t->view = FZ_VIEW_NORM;
            t->hs_flags = 0;
            long mi = *t->model ? model_get(c->lc, t->model, c->file, t->line) : -1;
            if (mi < 0)
                rc = -1;
            else
                t->model_idx = (uint32_t)mi;
            continue;
        }
        if (t->list && t->pattern == NULL) {
            source *s = list_get(c->lc, t->list, c->file, t->line);
            if (!s)
                rc = -1;
            else
                t->nliterals = s->nlit;
        }
    }
    if (r->agg && rc == 0) rc |= fz_aggrule_check_rule(r, c->diags);
    if (r->cond_src && rc == 0) {
        char err[512];
        r->cond = fz_cond_compile(r->cond_src, names, r->nterms, &r->ncond, err, sizeof(err));
        if (!r->cond) {
            diag_add(c->diags, c->file, cond_line, 0, "%s", err);
            rc = -1;
        } else if (fz_cond_eval(r->cond, r->ncond, 0)) {
            diag_add(c->diags, c->file, cond_line, 0,
                     "condition '%s' is true when no term matches, so it would fire on every "
                     "event; require at least one term",
                     r->cond_src);
            rc = -1;
        } else {
            uint64_t used = fz_cond_terms_used(r->cond, r->ncond);
            for (size_t i = 0; i < r->nterms; i++)
                if (!(used & (1ull << i)))
                    diag_add(c->diags, c->file, r->terms[i].line, 1,
                             "rule '%s': term '%s' is not used in the condition", r->id,
                             r->terms[i].name);
        }
    }
    return rc;
}

/* Parse a file's rules, appending valid ones to rs->rules. */
static void parse_file(load_ctx *lc, const char *file, const char *text, size_t len, size_t *cap) {
    fz_ruleset *rs = lc->rs;
    fz_rule_diags *diags = lc->diags;
    size_t bad;
    if (!fz_utf8_valid(text, len, &bad)) {
        unsigned line = 1;
        for (size_t i = 0; i < bad; i++) line += text[i] == '\n';
        diag_add(diags, file, line, 0, "invalid UTF-8 at byte %zu", bad);
        return;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        diag_add(diags, file, (unsigned)parser.problem_mark.line + 1, 0, "YAML: %s%s%s",
                 parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return;
    }
    parse_ctx c = {lc, file, &doc, diags};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) goto done; /* empty file: no rules */
    if (root->type != YAML_MAPPING_NODE) {
        diag_add(diags, file, node_line(root), 0, "top level must be a mapping with 'rules:'");
        goto done;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
        const char *k = scalar(kn);
        if (!k || strcmp(k, "rules") != 0) {
            diag_add(diags, file, node_line(kn), 0, "unknown top-level key '%s' (expected 'rules')",
                     k ? k : "?");
            continue;
        }
        if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.length == 0) continue; /* rules: */
        if (vn->type != YAML_SEQUENCE_NODE) {
            diag_add(diags, file, node_line(vn), 0, "'rules' must be a list of rules");
            continue;
        }
        for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top;
             it++) {
            if (rs->nrules == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                rs->rules = realloc(rs->rules, *cap * sizeof(fz_rule));
            }
            fz_rule *r = &rs->rules[rs->nrules];
            memset(r, 0, sizeof(*r));
            if (parse_rule(&c, yaml_document_get_node(&doc, *it), r) == 0)
                rs->nrules++;
            else
                rule_free(r);
        }
    }
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
}

static int cmp_str_idx(const void *a, const void *b, void *arg) {
    const fz_rule *rules = arg;
    return strcmp(rules[*(const size_t *)a].id, rules[*(const size_t *)b].id);
}

/* Pair the revisions of a repeated id, or report it (both places). An id
 * may appear twice: one enabled revision and one shadow revision with a
 * higher rev and the same category (the candidate, docs/rules.md "A shadow
 * revision"); every other repetition is an error. Sets every rule's pair. */
static void check_duplicates(fz_rule *rules, size_t n, fz_rule_diags *diags) {
    for (size_t i = 0; i < n; i++) rules[i].pair = FZ_RULE_NO_PAIR;
    size_t *ix = malloc((n ? n : 1) * sizeof(size_t));
    if (!ix) return;
    for (size_t i = 0; i < n; i++) ix[i] = i;
    qsort_r(ix, n, sizeof(size_t), cmp_str_idx, rules);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(rules[ix[i]].id, rules[ix[j]].id) == 0) j++;
        size_t first = ix[i]; /* the lowest index (file order) of the run */
        for (size_t k = i + 1; k < j; k++)
            if (ix[k] < first) first = ix[k];
        if (j - i == 2) {
            fz_rule *a = &rules[first], *b = &rules[ix[i] == first ? ix[i + 1] : ix[i]];
            fz_rule *en = a->status == FZ_STATUS_ENABLED ? a : b, *sh = en == a ? b : a;
            char why[160] = "";
            if (en->status != FZ_STATUS_ENABLED || sh->status != FZ_STATUS_SHADOW)
                snprintf(why, sizeof(why),
                         "an id repeats only as one enabled and one shadow revision, not %s and %s",
                         fz_rule_status_name(a->status), fz_rule_status_name(b->status));
            else if (sh->rev <= en->rev)
                snprintf(why, sizeof(why),
                         "the shadow revision's rev (%u) must be above the enabled one's (%u)",
                         sh->rev, en->rev);
            else if (strcmp(sh->category, en->category) != 0)
                snprintf(why, sizeof(why),
                         "the shadow revision's category '%.40s' differs from the enabled one's "
                         "'%.40s'",
                         sh->category, en->category);
            if (!why[0]) {
                en->pair = (uint32_t)(sh - rules);
                sh->pair = (uint32_t)(en - rules);
            } else {
                diag_add(diags, b->file, b->line, 0, "duplicate rule id '%s' (first at %s:%u): %s",
                         b->id, a->file, a->line, why);
            }
        } else {
            for (size_t k = i; k < j; k++) {
                if (ix[k] == first) continue;
                fz_rule *second = &rules[ix[k]];
                diag_add(diags, second->file, second->line, 0,
                         "duplicate rule id '%s' (first at %s:%u): an id appears at most twice, "
                         "as an enabled and a shadow revision",
                         second->id, rules[first].file, rules[first].line);
            }
        }
        i = j;
    }
    free(ix);
}

/* 1 if the pattern has \b right before or after a non-ASCII character. */
static int cjk_boundary(const char *pat) {
    for (const char *q = strstr(pat, "\\b"); q; q = strstr(q + 2, "\\b")) {
        if (q > pat && q[-1] == '\\') continue; /* an escaped backslash, then 'b' */
        if ((unsigned char)q[2] >= 0x80 || (q > pat && (unsigned char)q[-1] >= 0x80)) return 1;
    }
    return 0;
}

fz_view fz_term_view(const fz_term *t, fz_field f) {
    if ((int)t->view >= 0) return t->view;
    return f == FZ_FIELD_TEXT ? FZ_VIEW_NORM : FZ_VIEW_RAW;
}

unsigned fz_term_regex_flags(const fz_term *t, fz_view v) {
    unsigned fl = t->hs_flags | HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH;
    if (v == FZ_VIEW_NORM || v == FZ_VIEW_SKEL) fl |= HS_FLAG_CASELESS; /* lower-cased views */
    return fl;
}

/* Run fn(ctx, i) for every i in [0, n) on all online cores (the calling
 * thread included); returns when every call has. The calls must be
 * independent: Hyperscan compiles and analyses are. */
typedef struct parallel {
    size_t n;
    _Atomic size_t next;
    void (*fn)(void *ctx, size_t i);
    void *ctx;
} parallel;

static void *parallel_worker(void *arg) {
    parallel *pl = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&pl->next, 1);
        if (i >= pl->n) return NULL;
        pl->fn(pl->ctx, i);
    }
}

static void parallel_for(size_t n, void (*fn)(void *ctx, size_t i), void *ctx) {
    parallel pl = {n, 0, fn, ctx};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = ncpu > 1 ? (size_t)ncpu : 1;
    if (nthreads > 64) nthreads = 64;
    if (nthreads > n) nthreads = n;
    pthread_t tids[64];
    size_t started = 0;
    for (size_t t = 1; t < nthreads; t++)
        if (pthread_create(&tids[t], NULL, parallel_worker, &pl) == 0) started = t;
    parallel_worker(&pl);
    for (size_t t = 1; t <= started; t++) pthread_join(tids[t], NULL);
}

/* One regex analysed on its own (hs_expression_info), on any thread. */
typedef struct analysis {
    const fz_rule *r;
    const fz_term *t;
    hs_error_t rc;
    int empty;
    double ms;
    char msg[256];
} analysis;

typedef struct analysis_ctx {
    analysis *v;
    size_t n;
    int compile; /* profile: time a full compile of the pattern alone */
} analysis_ctx;

static void analyse_one(void *ctx, size_t j) {
    analysis_ctx *ac = ctx;
    analysis *an = &ac->v[j];
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;
    int64_t t0 = fz_mono_ns();
    if (ac->compile) {
        hs_database_t *db = NULL;
        an->rc = hs_compile(an->t->pattern, fz_term_regex_flags(an->t, FZ_VIEW_NORM), HS_MODE_BLOCK,
                            NULL, &db, &err);
        hs_free_database(db);
    } else {
        an->rc = hs_expression_info(an->t->pattern, fz_term_regex_flags(an->t, FZ_VIEW_RAW), &info,
                                    &err);
    }
    an->ms = (double)(fz_mono_ns() - t0) / 1e6;
    if (an->rc != HS_SUCCESS)
        snprintf(an->msg, sizeof(an->msg), "%s", err ? err->message : "unknown error");
    else if (info)
        an->empty = info->min_width == 0;
    hs_free_compile_error(err);
    free(info);
}

/* Per-pattern checks that need no compile (always) and with compile
 * (analyze: every error named, slow patterns warned about). The analyses
 * are independent, so they run on every core. */
static void run_analyses(analysis_ctx *ac) { parallel_for(ac->n, analyse_one, ac); }

static int cmp_cost(const void *a, const void *b) {
    const fz_pattern_cost *x = a, *y = b;
    return (x->compile_ms < y->compile_ms) - (x->compile_ms > y->compile_ms);
}

size_t fz_ruleset_profile(const fz_ruleset *rs, fz_pattern_cost **out) {
    analysis_ctx ac = {NULL, 0, 1};
    size_t cap = 0;
    *out = NULL;
    for (size_t i = 0; i < rs->nrules; i++)
        for (size_t k = 0; k < rs->rules[i].nterms; k++) {
            if (!rs->rules[i].terms[k].pattern) continue;
            if (ac.n == cap) {
                cap = cap ? cap * 2 : 256;
                analysis *nv = realloc(ac.v, cap * sizeof(analysis));
                if (!nv) goto out;
                ac.v = nv;
            }
            memset(&ac.v[ac.n], 0, sizeof(analysis));
            ac.v[ac.n].r = &rs->rules[i];
            ac.v[ac.n++].t = &rs->rules[i].terms[k];
        }
    if (!ac.n) goto out;
    run_analyses(&ac);
    *out = calloc(ac.n, sizeof(fz_pattern_cost));
    if (!*out) goto out;
    for (size_t j = 0; j < ac.n; j++)
        (*out)[j] = (fz_pattern_cost){ac.v[j].r, ac.v[j].t, ac.v[j].ms};
    qsort(*out, ac.n, sizeof(fz_pattern_cost), cmp_cost);
out:
    free(ac.v);
    return *out ? ac.n : 0;
}

static void check_patterns(fz_ruleset *rs, int analyze, double slow_ms, fz_rule_diags *diags) {
    analysis_ctx ac = {NULL, 0, 0};
    size_t cap = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        fz_rule *r = &rs->rules[i];
        for (size_t k = 0; k < r->nterms; k++) {
            fz_term *t = &r->terms[k];
            if (!t->pattern) continue;
            if (!(t->hs_flags & HS_FLAG_UCP) && cjk_boundary(t->pattern))
                diag_add(diags, r->file, t->line, 1,
                         "rule '%s': \\b next to a CJK character is not a word boundary there: "
                         "without 'ucp' CJK is not \\w, so \\b only matches beside an ASCII "
                         "letter, digit or '_'",
                         r->id);
            if (!analyze) continue;
            if (ac.n == cap) {
                cap = cap ? cap * 2 : 256;
                analysis *nv = realloc(ac.v, cap * sizeof(analysis));
                if (!nv) {
                    free(ac.v);
                    return;
                }
                ac.v = nv;
            }
            memset(&ac.v[ac.n], 0, sizeof(analysis));
            ac.v[ac.n].r = r;
            ac.v[ac.n++].t = t;
        }
    }
    if (!ac.n) return;
    run_analyses(&ac);
    for (size_t j = 0; j < ac.n; j++) {
        const analysis *an = &ac.v[j];
        if (an->rc != HS_SUCCESS)
            diag_add(diags, an->r->file, an->t->line, 0, "rule '%s': pattern rejected: %s",
                     an->r->id, an->msg);
        else if (an->empty)
            diag_add(diags, an->r->file, an->t->line, 0,
                     "rule '%s': pattern can match the empty string, so it would fire on "
                     "every event",
                     an->r->id);
        if (an->rc == HS_SUCCESS && an->ms > slow_ms)
            diag_add(diags, an->r->file, an->t->line, 1,
                     "rule '%s': pattern is slow to compile (%.0f ms to analyse); bound its "
                     "repeats or split it",
                     an->r->id, an->ms);
    }
    free(ac.v);
}

/* ---- atoms and databases ---- */

/* db_build slots per (field, view): always-scanned regexes, literals
 * (list literals, the literals of literal-set regexes and the factors, in
 * one database: one literal pass over the view instead of two, about a
 * tenth of the matching time on 250-byte SMS), regexes behind the
 * prefilter. */
enum { KIND_REGEX = 0, KIND_LITERAL = 1, KIND_CONFIRM = 2, NKINDS };
#define NKEYS (FZ_FIELD_COUNT * FZ_VIEW_COUNT * NKINDS)

static size_t db_key(fz_field f, fz_view v, int kind) {
    return ((size_t)f * FZ_VIEW_COUNT + (size_t)v) * NKINDS + (size_t)kind;
}

/* Regexes behind the prefilter are compiled in groups of this many (same
 * field and view): a candidate costs a scan of its group. One: a group of
 * 16 cost a candidate 0.3-4 us a scan, where the one regex it needs costs
 * a fraction of that; on the corpora the matcher runs about 20 % faster
 * with each regex alone (docs/benchmarks/detect_cost.md), though a regex
 * alone costs more than its share of a group would. */
#define CONFIRM_GROUP 1

typedef struct db_build {
    const char **ex;
    unsigned *flags;
    unsigned *ids;
    size_t *lens;
    size_t n, cap;
} db_build;

static int db_build_add(db_build *b, const char *ex, size_t len, unsigned flags, unsigned id) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        const char **ne = realloc(b->ex, nc * sizeof(char *));
        if (ne) b->ex = ne;
        unsigned *nf = realloc(b->flags, nc * sizeof(unsigned));
        if (nf) b->flags = nf;
        unsigned *ni = realloc(b->ids, nc * sizeof(unsigned));
        if (ni) b->ids = ni;
        size_t *nl = realloc(b->lens, nc * sizeof(size_t));
        if (nl) b->lens = nl;
        if (!ne || !nf || !ni || !nl) return -1;
        b->cap = nc;
    }
    b->ex[b->n] = ex;
    b->lens[b->n] = len;
    b->flags[b->n] = flags;
    b->ids[b->n] = id;
    b->n++;
    return 0;
}

/* Keep str (malloc'd) until the databases are compiled; -1 (str freed)
 * when out of memory. */
static int arena_push(char ***arena, size_t *narena, char *str) {
    if ((*narena & (*narena - 1)) == 0) {
        char **na = realloc(*arena, (*narena ? *narena * 2 : 1) * sizeof(char *));
        if (!na) {
            free(str);
            return -1;
        }
        *arena = na;
    }
    (*arena)[(*narena)++] = str;
    return 0;
}

/* The factor literals while building: deduplicated per (field, view,
 * caseless, bytes) with an open-addressing table, and the (factor,
 * confirm, clause) triples that become the targets. */
typedef struct factor_key {
    const char *s;
    size_t n;
    uint16_t field;
    uint8_t view, caseless;
} factor_key;

typedef struct factor_triple {
    uint32_t factor, confirm, clause;
} factor_triple;

typedef struct factor_build {
    factor_key *keys; /* by factor index */
    size_t nkeys;
    uint32_t *table; /* factor index + 1, or 0 */
    size_t tcap;     /* power of two */
    factor_triple *tr;
    size_t ntr, trcap;
} factor_build;

static void factor_build_free(factor_build *fb) {
    free(fb->keys);
    free(fb->table);
    free(fb->tr);
    memset(fb, 0, sizeof(*fb));
}

static uint64_t factor_hash(const factor_key *k) {
    uint64_t seed = ((uint64_t)k->field << 16) | ((uint64_t)k->view << 8) | k->caseless;
    return XXH3_64bits_withSeed(k->s, k->n, seed);
}

/* The index of factor k (its string kept in the arena), added to the
 * literal database of its (field, view) when new; -1 when out of memory. */
static int64_t factor_get(factor_build *fb, db_build *bb, char ***arena, size_t *narena,
                          const factor_key *k) {
    if (fb->nkeys * 2 >= fb->tcap) { /* grow and rehash */
        size_t nc = fb->tcap ? fb->tcap * 2 : 1024;
        uint32_t *nt = calloc(nc, sizeof(uint32_t));
        factor_key *nk = realloc(fb->keys, nc / 2 * sizeof(factor_key));
        if (!nt || !nk) {
            free(nt);
            if (nk) fb->keys = nk;
            return -1;
        }
        fb->keys = nk;
        for (size_t i = 0; i < fb->nkeys; i++) {
            size_t h = (size_t)factor_hash(&fb->keys[i]) & (nc - 1);
            while (nt[h]) h = (h + 1) & (nc - 1);
            nt[h] = (uint32_t)i + 1;
        }
        free(fb->table);
        fb->table = nt;
        fb->tcap = nc;
    }
    size_t h = (size_t)factor_hash(k) & (fb->tcap - 1);
    for (; fb->table[h]; h = (h + 1) & (fb->tcap - 1)) {
        const factor_key *e = &fb->keys[fb->table[h] - 1];
        if (e->n == k->n && e->field == k->field && e->view == k->view &&
            e->caseless == k->caseless && memcmp(e->s, k->s, k->n) == 0)
            return fb->table[h] - 1;
    }
    char *copy = malloc(k->n + 1);
    if (!copy) return -1;
    memcpy(copy, k->s, k->n);
    copy[k->n] = '\0';
    if (arena_push(arena, narena, copy) != 0) return -1;
    uint32_t idx = (uint32_t)fb->nkeys;
    unsigned fl = HS_FLAG_SINGLEMATCH | (k->caseless ? HS_FLAG_CASELESS : 0);
    if (db_build_add(&bb[db_key((fz_field)k->field, (fz_view)k->view, KIND_LITERAL)], copy, k->n,
                     fl, FZ_FACTOR_ID + idx) != 0)
        return -1;
    fb->keys[fb->nkeys] = *k;
    fb->keys[fb->nkeys++].s = copy;
    fb->table[h] = idx + 1;
    return idx;
}

static int factor_target(factor_build *fb, uint32_t factor, uint32_t confirm, uint32_t clause) {
    if (fb->ntr == fb->trcap) {
        size_t nc = fb->trcap ? fb->trcap * 2 : 1024;
        factor_triple *nv = realloc(fb->tr, nc * sizeof(*nv));
        if (!nv) return -1;
        fb->tr = nv;
        fb->trcap = nc;
    }
    fb->tr[fb->ntr++] = (factor_triple){factor, confirm, clause};
    return 0;
}

/* Regex atom id (pattern on field f in view v) behind its factors, or in
 * the always-scanned database of (f, v) when it has none. With none and
 * `deferred` (its term alone cannot make its rule match), it is a confirm
 * of no clause instead: a candidate in every event, scanned only where a
 * verdict depends on it (`p1 or (tandc and promo)` with no tandc found
 * needs no scan for promo). */
static int add_regex(fz_ruleset *rs, db_build *bb, factor_build *fb, char ***arena, size_t *narena,
                     const char *pat, unsigned fl, unsigned id, int f, fz_view v, int deferred) {
    if (!rs->prefilter) return db_build_add(&bb[db_key((fz_field)f, v, 0)], pat, 0, fl, id);
    fz_prefilter pf;
    /* both views of text hold no upper-case ASCII (norm.h, skel.h), nor
     * does any view of the fields derived from it (url.h, textfacts.h) */
    int normalised = (f == FZ_FIELD_TEXT && (v == FZ_VIEW_NORM || v == FZ_VIEW_SKEL)) ||
                     fz_field_is_derived(f); /* read from the normalised text */
    if (fz_prefilter_derive(pat, fl | (normalised ? FZ_PF_NORMALISED : 0), &pf) != 0) return -1;
    if (pf.n == 0 && !deferred) {
        if ((rs->nunfiltered & (rs->nunfiltered - 1)) == 0) {
            size_t nc = rs->nunfiltered ? rs->nunfiltered * 2 : 1;
            uint32_t *na = realloc(rs->unfiltered, nc * sizeof(uint32_t));
            if (na) rs->unfiltered = na;
            const char **nw = realloc(rs->unfiltered_why, nc * sizeof(char *));
            if (nw) rs->unfiltered_why = nw;
            if (!na || !nw) return -1;
        }
        rs->unfiltered[rs->nunfiltered] = id;
        rs->unfiltered_why[rs->nunfiltered++] = pf.why;
        return db_build_add(&bb[db_key((fz_field)f, v, 0)], pat, 0, fl, id);
    }
    if ((rs->nconfirms & (rs->nconfirms - 1)) == 0) {
        fz_confirm *nc =
            realloc(rs->confirms, (rs->nconfirms ? rs->nconfirms * 2 : 1) * sizeof(fz_confirm));
        if (!nc) goto nomem;
        rs->confirms = nc;
    }
    uint32_t ci = (uint32_t)rs->nconfirms++;
    rs->confirms[ci] =
        (fz_confirm){id, 0, (uint32_t)((1ull << pf.n) - 1), (uint8_t)v, (uint8_t)pf.n};
    if (db_build_add(&bb[db_key((fz_field)f, v, KIND_CONFIRM)], pat, 0, fl, id) != 0) goto nomem;
    /* The normalised text holds no upper-case ASCII letter (norm.h), and
     * a caseless pattern's factors are lower case: matched as they are,
     * they find exactly what caseless matching would, and an exact
     * literal scan is cheaper than a caseless one. */
    int caseless = pf.caseless && !normalised;
    for (size_t k = 0; k < pf.n; k++)
        for (size_t j = 0; j < pf.clauses[k].n; j++) {
            factor_key key = {pf.clauses[k].lits[j].s, pf.clauses[k].lits[j].n, (uint16_t)f,
                              (uint8_t)v, (uint8_t)caseless};
            int64_t fi = factor_get(fb, bb, arena, narena, &key);
            if (fi < 0 || factor_target(fb, (uint32_t)fi, ci, (uint32_t)k) != 0) goto nomem;
        }
    fz_prefilter_free(&pf);
    return 0;
nomem:
    fz_prefilter_free(&pf);
    return -1;
}

static int cmp_triple(const void *a, const void *b) {
    const factor_triple *x = a, *y = b;
    if (x->factor != y->factor) return x->factor < y->factor ? -1 : 1;
    if (x->confirm != y->confirm) return x->confirm < y->confirm ? -1 : 1;
    return (x->clause > y->clause) - (x->clause < y->clause);
}

/* The factor -> (confirm, clause) table, as offsets per factor. */
static int factors_finish(fz_ruleset *rs, factor_build *fb) {
    rs->nfactors = fb->nkeys;
    rs->factor_first = calloc(fb->nkeys + 1, sizeof(uint32_t));
    rs->targets = malloc((fb->ntr ? fb->ntr : 1) * sizeof(fz_factor_target));
    if (!rs->factor_first || !rs->targets) return -1;
    if (fb->ntr) qsort(fb->tr, fb->ntr, sizeof(factor_triple), cmp_triple);
    for (size_t i = 0; i < fb->ntr; i++) {
        rs->targets[i] = (fz_factor_target){fb->tr[i].confirm, fb->tr[i].clause};
        rs->factor_first[fb->tr[i].factor + 1]++;
    }
    for (size_t f = 0; f < fb->nkeys; f++) rs->factor_first[f + 1] += rs->factor_first[f];
    return 0;
}

static source *find_list(fz_ruleset *rs, const char *rel) {
    for (size_t i = 0; i < rs->nsrc; i++)
        if (rs->src[i].is_list == SRC_LIST && !strcmp(rs->src[i].rel, rel)) return &rs->src[i];
    return NULL;
}

/* The regexes compiled so far (prefilter on): one Hyperscan pattern serves
 * every term that writes the same regex with the same flags on the same
 * field and view (rules often share a "link" or "act" term). */
typedef struct regex_seen {
    const char *pattern;
    unsigned flags;
    int field;
    fz_view view;
    uint32_t last; /* the last atom it stands for */
} regex_seen;

typedef struct regex_seens {
    regex_seen *v;
    size_t n, cap;
} regex_seens;

/* The last atom of an identical regex seen before (and id becomes its
 * last), or -1 after recording this one as new; -2 when out of memory.
 * Linear: a few hundred regexes, once per load. */
static int64_t regex_same(regex_seens *rs, const char *pat, unsigned fl, int f, fz_view v,
                          uint32_t id) {
    for (size_t i = 0; i < rs->n; i++) {
        regex_seen *e = &rs->v[i];
        if (e->flags == fl && e->field == f && e->view == v && !strcmp(e->pattern, pat)) {
            uint32_t last = e->last;
            e->last = id;
            return last;
        }
    }
    if (rs->n == rs->cap) {
        size_t nc = rs->cap ? rs->cap * 2 : 64;
        regex_seen *nv = realloc(rs->v, nc * sizeof(*nv));
        if (!nv) return -2;
        rs->v = nv;
        rs->cap = nc;
    }
    rs->v[rs->n++] = (regex_seen){pat, fl, f, v, id};
    return -1;
}

/* Whether term k of r, a regex, may wait until a verdict needs it: its
 * term alone cannot make the rule match. Not in a rule with a model term:
 * the model is scored after the scans, so until then nearly every verdict
 * of such a rule depends on its regexes, and one scanned alone on most
 * events costs more than its share of the always-scanned database. */
static int defer_term(const fz_rule *r, size_t k) {
    for (size_t j = 0; j < r->nterms; j++)
        if (r->terms[j].model) return 0;
    return !fz_rule_eval(r, 1ull << k);
}

static int ascii_only(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

/* A bounded decimal at *p (at most 65,000), advancing *p; -1 when there
 * is none or it is larger. */
static long small_number(const char **p) {
    long n = -1;
    for (; **p >= '0' && **p <= '9'; (*p)++) {
        n = (n < 0 ? 0 : n * 10) + (**p - '0');
        if (n > 65000) return -1;
    }
    return n;
}

/* The FZ_NUMLEN() range when pat, compiled with flags fl, asks a
 * text_numbers line for a length of digits and nothing else (rules.h,
 * FZ_ATOM_NUMLEN), else 0. */
static unsigned numlen_shape(const char *pat, unsigned fl) {
    static const char head[] = "^[0-9]{";
    if (!(fl & HS_FLAG_MULTILINE) || strncmp(pat, head, sizeof(head) - 1) != 0) return 0;
    const char *p = pat + sizeof(head) - 1;
    long lo = small_number(&p), hi = lo;
    if (lo <= 0) return 0;
    if (*p == ',') {
        p++;
        hi = *p == '}' ? 0 : small_number(&p); /* {N,}: no upper bound */
        if (hi < 0 || (hi && hi < lo)) return 0;
    }
    if (*p++ != '}') return 0;
    if (*p == '\0') return FZ_NUMLEN(lo, 0); /* no end anchor: N digits start the line */
    return p[0] == '$' && p[1] == '\0' ? FZ_NUMLEN(lo, hi) : 0;
}

/* Build every atom. Literal expressions for the normalised view are
 * normalised copies kept in *arena (freed by the caller after compiling),
 * as are the factor literals and the literals of literal-set regexes. */
static int build_atoms(fz_ruleset *rs, db_build *bb, char ***arena, size_t *narena) {
    size_t cap = 0;
    factor_build fb = {0};
    regex_seens seen = {0};
    fz_pf_exact sets[FZ_PF_MAX_BRANCHES];
    size_t nsets = 0;
    char *rest = NULL; /* the branches that are no set, or NULL */
    int out = -1;
    for (size_t i = 0; i < rs->nrules; i++) {
        fz_rule *r = &rs->rules[i];
        if (r->status == FZ_STATUS_DISABLED) continue;
        for (size_t k = 0; k < r->nterms; k++) {
            fz_term *t = &r->terms[k];
            if (t->model) { /* no atom: scored after the scan (lazyterm.h) */
                rs->uses[FZ_FIELD_TEXT][FZ_VIEW_NORM] = 1;
                continue;
            }
            for (int f = 0; f < FZ_FIELD_COUNT; f++) {
                if (!(t->fields & (1u << f))) continue;
                fz_view v = fz_term_view(t, (fz_field)f);
                source *s = t->list ? find_list(rs, t->list) : NULL;
                /* both views of text hold no upper-case ASCII (norm.h, skel.h) */
                int normalised = f == FZ_FIELD_TEXT && (v == FZ_VIEW_NORM || v == FZ_VIEW_SKEL);
                for (size_t q = 0; q < nsets; q++) fz_pf_exact_free(&sets[q]);
                nsets = 0;
                rest = NULL; /* the arena's */
                /* a literal-set regex on one field: its literals, one hit per
                 * scan (on several fields the term would count one per
                 * field); or an alternation some of whose branches are
                 * literal sets: theirs, and one regex of the other branches */
                size_t nlits = 0;
                if (t->pattern && rs->prefilter && __builtin_popcount(t->fields) == 1) {
                    unsigned pf = fz_term_regex_flags(t, v) | (normalised ? FZ_PF_NORMALISED : 0);
                    if (fz_prefilter_exact(t->pattern, pf, &sets[0]) != 0) goto done;
                    nsets = sets[0].n ? 1 : 0;
                    if (!nsets) {
                        int nsplit =
                            fz_prefilter_split(t->pattern, pf, sets, FZ_PF_MAX_BRANCHES, &rest);
                        if (nsplit < 0) goto done;
                        nsets = (size_t)nsplit;
                        /* compiled with the rest: the arena keeps it */
                        if (rest && arena_push(arena, narena, rest) != 0) goto done;
                    }
                    for (size_t q = 0; q < nsets; q++) nlits += sets[q].n;
                }
                const char *pattern = rest ? rest : t->pattern; /* the regex atom's */
                size_t count = t->list ? (s ? s->nlit : 0) : nlits + (!nsets || rest);
                for (size_t j = 0, set = 0, in_set = 0; j < count; j++) {
                    if (rs->natoms == cap) {
                        cap = cap ? cap * 2 : 1024;
                        fz_atom *na = realloc(rs->atoms, cap * sizeof(fz_atom));
                        if (!na) goto done;
                        rs->atoms = na;
                    }
                    fz_atom *a = &rs->atoms[rs->natoms];
                    a->rule = (uint32_t)i;
                    a->term = (uint8_t)k;
                    a->field = (uint16_t)f;
                    unsigned id = (unsigned)rs->natoms;
                    int rc;
                    a->also = 0;
                    if (!t->list && j < nlits) {
                        while (in_set == sets[set].n) { /* the next set's literals */
                            set++;
                            in_set = 0;
                        }
                        const fz_pf_exact ex = sets[set];
                        const fz_pf_lit *l = &ex.lits[in_set++];
                        char *lit = malloc(l->n + 1);
                        if (!lit) goto done;
                        memcpy(lit, l->s, l->n + 1);
                        if (arena_push(arena, narena, lit) != 0) goto done;
                        a->mode = (uint8_t)(FZ_ATOM_SET | (ex.word_start ? FZ_ATOM_SET_WSTART : 0) |
                                            (ex.word_end ? FZ_ATOM_SET_WEND : 0));
                        a->len = (uint32_t)l->n;
                        /* lower-case literals: exact on the lower-cased views */
                        unsigned fl = ex.caseless && !normalised ? HS_FLAG_CASELESS : 0;
                        /* with a boundary to check, a later occurrence may be the one */
                        if (!ex.word_start && !ex.word_end) fl |= HS_FLAG_SINGLEMATCH;
                        /* a token: no scan (rules.h). The field holds
                         * ASCII tokens only, so the other forms of a
                         * caseless literal ("lin" + KELVIN SIGN for link)
                         * never match: bit 0, never recorded */
                        unsigned token = fz_text_flag_bit(lit, l->n);
                        if (f == FZ_FIELD_TEXT_FLAGS && v == FZ_VIEW_RAW && ex.word_start &&
                            ex.word_end && (token || !ascii_only(lit, l->n))) {
                            a->mode |= FZ_ATOM_FLAG;
                            a->len = token;
                            rc = 0;
                        } else {
                            rc = db_build_add(&bb[db_key(f, v, KIND_LITERAL)], lit, l->n, fl, id);
                        }
                    } else if (!t->list) {
                        a->mode = FZ_LIT_CONTAINS;
                        a->len = 0;
                        unsigned fl = fz_term_regex_flags(t, v);
                        unsigned digits =
                            f == FZ_FIELD_TEXT_NUMBERS && v == FZ_VIEW_RAW && rs->prefilter
                                ? numlen_shape(pattern, fl)
                                : 0;
                        int64_t prev = rs->prefilter && !digits
                                           ? regex_same(&seen, pattern, fl, f, v, id)
                                           : -1;
                        if (prev == -2) goto done;
                        if (digits) { /* a length test: no scan (rules.h) */
                            a->mode = FZ_ATOM_NUMLEN;
                            a->len = digits; /* FZ_NUMLEN() */
                            rc = 0;
                        } else if (prev >= 0) {
                            rs->atoms[prev].also = id + 1; /* scanned as the first one */
                            rc = 0;
                        } else {
                            rc = add_regex(rs, bb, &fb, arena, narena, pattern, fl, id, f, v,
                                           defer_term(r, k));
                        }
                    } else {
                        const char *lit = s->lit[j];
                        size_t len = s->litlen[j];
                        if (len == 0) continue; /* Hyperscan rejects (or worse) empty literals */
                        if (v == FZ_VIEW_NORM || v == FZ_VIEW_SKEL || fz_field_is_derived(f)) {
                            /* a skeleton is at most SKEL_GROWTH times the text */
                            size_t room = v == FZ_VIEW_SKEL ? FZ_SKEL_GROWTH * len : len;
                            char *nv = malloc(2 * room + 1);
                            if (!nv) goto done;
                            if (v == FZ_VIEW_SKEL)
                                len = fz_skel_text(lit, len, nv + room + 1, nv, room);
                            else
                                /* url_*, text_flags: lower-case like the
                                 * fields; text_numbers: digits only */
                                len = f == FZ_FIELD_TEXT || fz_field_is_url(f) ||
                                              f == FZ_FIELD_TEXT_FLAGS
                                          ? fz_norm_text(lit, len, nv)
                                          : fz_norm_number(lit, len, nv);
                            nv[len] = '\0';
                            if (arena_push(arena, narena, nv) != 0) goto done;
                            lit = nv;
                            if (len == 0) continue; /* nothing left to match */
                        }
                        a->mode = (uint8_t)t->mode;
                        a->len = (uint32_t)len;
                        unsigned fl = 0;
                        if ((t->hs_flags & HS_FLAG_CASELESS) ||
                            ((v == FZ_VIEW_NORM || v == FZ_VIEW_SKEL) && f == FZ_FIELD_TEXT))
                            fl |= HS_FLAG_CASELESS;
                        if (t->mode == FZ_LIT_CONTAINS) fl |= HS_FLAG_SINGLEMATCH;
                        rc = db_build_add(&bb[db_key(f, v, 1)], lit, len, fl, id);
                        rs->nliterals++;
                    }
                    if (rc) goto done;
                    rs->natoms++;
                    rs->uses[f][v] = 1;
                }
            }
        }
    }
    out = factors_finish(rs, &fb);
done:
    factor_build_free(&fb);
    for (size_t q = 0; q < nsets; q++) fz_pf_exact_free(&sets[q]);
    free(seen.v);
    return out;
}

/* Name the rule and term behind atom id in a diagnostic. */
static void diag_atom(fz_ruleset *rs, fz_rule_diags *diags, unsigned id, const char *what,
                      const char *msg) {
    const fz_atom *a = &rs->atoms[id];
    const fz_rule *r = &rs->rules[a->rule];
    const fz_term *t = &r->terms[a->term];
    diag_add(diags, r->file, t->line, 0, "rule '%s': %s: %s", r->id, what, msg);
}

/* One database to build: a slice of one key's atoms. */
typedef struct db_job {
    size_t key, start, count;
    fz_field field;
    fz_view view;
    int literal;
    int confirm;
} db_job;

/* The most databases plan_dbs() makes. */
static size_t plan_max(const db_build *bb) {
    size_t n = FZ_DB_MAX;
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        for (int v = 0; v < FZ_VIEW_COUNT; v++)
            n += bb[db_key((fz_field)f, (fz_view)v, KIND_CONFIRM)].n / CONFIRM_GROUP + 1;
    return n;
}

/* The databases a set of atoms makes, in a fixed order: the scanned ones,
 * then the confirm groups. */
static size_t plan_dbs(const db_build *bb, db_job *jobs) {
    size_t n = 0;
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        for (int v = 0; v < FZ_VIEW_COUNT; v++)
            for (int kind = 0; kind < NKINDS; kind++) {
                if (kind == KIND_CONFIRM) continue;
                int lit = kind != KIND_REGEX;
                size_t key = db_key((fz_field)f, (fz_view)v, kind), total = bb[key].n;
                if (!total) continue;
                size_t chunks = lit ? 1 : (total + REGEX_CHUNK - 1) / REGEX_CHUNK;
                if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
                for (size_t c = 0; c < chunks; c++) {
                    size_t a = total * c / chunks, b = total * (c + 1) / chunks;
                    jobs[n++] = (db_job){key, a, b - a, (fz_field)f, (fz_view)v, lit, 0};
                }
            }
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        for (int v = 0; v < FZ_VIEW_COUNT; v++) {
            size_t key = db_key((fz_field)f, (fz_view)v, KIND_CONFIRM), total = bb[key].n;
            for (size_t a = 0; a < total; a += CONFIRM_GROUP) {
                size_t c = total - a < CONFIRM_GROUP ? total - a : CONFIRM_GROUP;
                jobs[n++] = (db_job){key, a, c, (fz_field)f, (fz_view)v, 0, 1};
            }
        }
    return n;
}

/* Point each confirm at its group's database (jobs from plan_dbs()): the
 * k-th confirm of a (field, view) is entry k of that confirm slot. */
static void link_confirms(fz_ruleset *rs, const db_job *jobs, size_t njobs) {
    size_t seen[FZ_FIELD_COUNT][FZ_VIEW_COUNT] = {{0}};
    for (size_t c = 0; c < rs->nconfirms; c++) {
        fz_confirm *cf = &rs->confirms[c];
        fz_field f = (fz_field)rs->atoms[cf->atom].field;
        size_t e = seen[f][cf->view]++, key = db_key(f, (fz_view)cf->view, KIND_CONFIRM);
        for (size_t j = 0; j < njobs; j++)
            if (jobs[j].confirm && jobs[j].key == key && e >= jobs[j].start &&
                e < jobs[j].start + jobs[j].count)
                cf->db = (uint32_t)j;
    }
}

typedef struct compile_ctx {
    fz_ruleset *rs;
    fz_dbcache *cache;
    db_build *bb;
    db_job *jobs;
    hs_compile_error_t **errs; /* per job */
    hs_error_t *rc;
} compile_ctx;

static void compile_one(void *ctx, size_t j) {
    compile_ctx *cc = ctx;
    db_job *jb = &cc->jobs[j];
    db_build *b = &cc->bb[jb->key];
    fz_db *d = &cc->rs->dbs[j];
    fz_dbkey key; /* on the stack: it must be aligned (dbcache.h) */
    if (cc->cache) {
        fz_dbkey_init(&key, jb->literal, HS_MODE_BLOCK);
        for (size_t i = jb->start; i < jb->start + jb->count; i++)
            fz_dbkey_add(&key, b->ex[i], jb->literal ? b->lens[i] : strlen(b->ex[i]), b->flags[i],
                         b->ids[i]);
        d->db = fz_dbcache_load(cc->cache, &key);
        if (d->db) {
            atomic_fetch_add(&cc->rs->cached, 1);
            cc->rc[j] = HS_SUCCESS;
            return;
        }
    }
    cc->rc[j] =
        jb->literal
            ? hs_compile_lit_multi(b->ex + jb->start, b->flags + jb->start, b->ids + jb->start,
                                   b->lens + jb->start, (unsigned)jb->count, HS_MODE_BLOCK, NULL,
                                   &d->db, &cc->errs[j])
            : hs_compile_multi(b->ex + jb->start, b->flags + jb->start, b->ids + jb->start,
                               (unsigned)jb->count, HS_MODE_BLOCK, NULL, &d->db, &cc->errs[j]);
    char err[256];
    if (cc->cache && cc->rc[j] == HS_SUCCESS &&
        fz_dbcache_store(cc->cache, &key, d->db, err, sizeof(err)) != 0)
        fz_log(FZ_LOG_WARN, "rules cache: %s (the compiled database still serves)", err);
}

static int compile_dbs(fz_ruleset *rs, db_build *bb, fz_dbcache *cache, fz_rule_diags *diags) {
    size_t max = plan_max(bb);
    db_job *jobs = malloc(max * sizeof(db_job));
    hs_compile_error_t **errs = calloc(max, sizeof(hs_compile_error_t *));
    hs_error_t *rcs = malloc(max * sizeof(hs_error_t));
    rs->dbs = calloc(max, sizeof(fz_db));
    if (!jobs || !errs || !rcs || !rs->dbs) {
        free(jobs);
        free(errs);
        free(rcs);
        diag_add(diags, rs->dir ? rs->dir : "", 0, 0, "out of memory");
        return -1;
    }
    size_t njobs = plan_dbs(bb, jobs);
    for (size_t j = 0; j < njobs; j++) {
        fz_db *d = &rs->dbs[j];
        d->field = jobs[j].field;
        d->view = jobs[j].view;
        d->literal = jobs[j].literal;
        d->confirm = jobs[j].confirm;
        d->natoms = jobs[j].count;
        d->db = NULL;
    }
    compile_ctx cc = {rs, cache, bb, jobs, errs, rcs};
    parallel_for(njobs, compile_one, &cc);
    rs->ndbs = njobs;
    link_confirms(rs, jobs, njobs);
    int rc = 0;
    for (size_t j = 0; j < njobs; j++) {
        if (rcs[j] == HS_SUCCESS) continue;
        hs_compile_error_t *err = errs[j];
        db_build *b = &bb[jobs[j].key];
        if (rc == 0) { /* report the first failing database's error */
            if (err && err->expression >= 0 && (size_t)err->expression < jobs[j].count)
                diag_atom(rs, diags, b->ids[jobs[j].start + (size_t)err->expression], "Hyperscan",
                          err->message);
            else
                diag_add(diags, rs->dir ? rs->dir : "", 0, 0,
                         "Hyperscan compile of field '%s' (%s) failed: %s",
                         fz_field_name(jobs[j].field), fz_view_name(jobs[j].view),
                         err ? err->message : "unknown error");
        }
        hs_free_compile_error(err);
        rc = -1;
    }
    free(jobs);
    free(errs);
    free(rcs);
    return rc;
}

static int diag_cmp(const void *a, const void *b) {
    const fz_rule_diag *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c) return c;
    return (x->line > y->line) - (x->line < y->line);
}

/* Sort the diagnostics added since index `from` by file and line. */
static void diags_sort(fz_rule_diags *d, size_t from) {
    if (d->n > from) qsort(d->v + from, d->n - from, sizeof(fz_rule_diag), diag_cmp);
}

static int cmp_src(const void *a, const void *b) {
    const source *x = a, *y = b;
    if (x->is_list != y->is_list) return x->is_list - y->is_list;
    return strcmp(x->rel, y->rel);
}

/* The url_* fields and text_flags (its link token) need the public suffix
 * list (url.h), and url_flags the
 * brands table: the rules directory's lists/brands.txt when there is one,
 * read as a list source like any other (so it is part of the version and
 * of a compiled file). Without it no link gets a brand token: a warning. */
#define URL_BRANDS_LIST "lists/brands.txt"

static int load_url_data(load_ctx *lc, const char *shown_prefix) {
    fz_ruleset *rs = lc->rs;
    const uint32_t url = (1u << FZ_FIELD_URL_HOST) | (1u << FZ_FIELD_URL_DOMAIN) |
                         (1u << FZ_FIELD_URL_FLAGS) | (1u << FZ_FIELD_TEXT_FLAGS);
    const fz_rule *ur = NULL, *fr = NULL;
    const fz_term *ut = NULL, *ft = NULL;
    for (size_t i = 0; i < rs->nrules; i++)
        for (size_t k = 0; k < rs->rules[i].nterms; k++) {
            const fz_term *t = &rs->rules[i].terms[k];
            if ((t->fields & url) && !ur) ur = &rs->rules[i], ut = t;
            if ((t->fields & (1u << FZ_FIELD_URL_FLAGS)) && !fr) fr = &rs->rules[i], ft = t;
        }
    if (!ur) return 0;
    char err[256];
    if (fz_url_init(err, sizeof(err)) != 0) {
        diag_add(lc->diags, ur->file, ut->line ? ut->line : ur->line, 0, "%s", err);
        return -1;
    }
    if (!fr) return 0;
    int present = 0;
    if (lc->dir) {
        char *path;
        struct stat st;
        if (asprintf(&path, "%s/%s", lc->dir, URL_BRANDS_LIST) < 0) return -1;
        present = lstat(path, &st) == 0;
        free(path);
    } else {
        for (size_t i = 0; i < rs->nsrc; i++)
            present |= rs->src[i].is_list && !strcmp(rs->src[i].rel, URL_BRANDS_LIST);
    }
    unsigned line = ft->line ? ft->line : fr->line;
    if (!present) {
        diag_add(lc->diags, fr->file, line, 1,
                 "rule '%s' scans url_flags, but there is no %s: no link gets a brand token",
                 fr->id, URL_BRANDS_LIST);
        return 0;
    }
    source *s = list_get(lc, URL_BRANDS_LIST, fr->file, line);
    if (!s) return -1;
    unsigned bad;
    rs->url_brands = fz_url_brands_parse(s->text, s->len, &bad, err, sizeof(err));
    if (!rs->url_brands) {
        char *shown;
        if (asprintf(&shown, "%s%s", shown_prefix, URL_BRANDS_LIST) < 0) return -1;
        diag_add(lc->diags, shown, bad, 0, "%s", err);
        free(shown);
        return -1;
    }
    return 0;
}

/* Parse the rule sources already in rs->src, check, hash. Returns 0 if
 * there was no error. */
static int ruleset_parse(load_ctx *lc, const char *shown_prefix) {
    fz_ruleset *rs = lc->rs;
    size_t cap = 0, errors_before = lc->diags->errors;
    char errstr[256];
    if (fz_skel_init(errstr, sizeof(errstr)) != 0) {
        diag_add(lc->diags, rs->dir ? rs->dir : "", 0, 0, "%s", errstr);
        return -1;
    }
    size_t nyaml = rs->nsrc; /* lists get appended while parsing */
    for (size_t i = 0; i < nyaml; i++) {
        if (rs->src[i].is_list) continue;
        char *shown;
        if (asprintf(&shown, "%s%s", shown_prefix, rs->src[i].rel) < 0) return -1;
        /* copy out: parsing may grow rs->src and move it */
        char *text = rs->src[i].text;
        size_t len = rs->src[i].len;
        parse_file(lc, shown, text, len, &cap);
        free(shown);
    }
    if (lc->diags->errors == errors_before && load_url_data(lc, shown_prefix) != 0 &&
        lc->diags->errors == errors_before)
        return -1;
    if (rs->nsrc > 1) qsort(rs->src, rs->nsrc, sizeof(source), cmp_src);
    XXH3_state_t *h = XXH3_createState();
    if (!h) return -1;
    XXH3_64bits_reset(h);
    for (size_t i = 0; i < rs->nsrc; i++) {
        source *s = &rs->src[i];
        XXH3_64bits_update(h, s->rel, strlen(s->rel) + 1);
        XXH3_64bits_update(h, s->is_list == SRC_MODEL ? "M" : s->is_list ? "L" : "R", 1);
        uint64_t len = s->len;
        XXH3_64bits_update(h, &len, sizeof(len));
        XXH3_64bits_update(h, s->text, s->len);
    }
    snprintf(rs->version, sizeof(rs->version), "rs-%016llx",
             (unsigned long long)XXH3_64bits_digest(h));
    memcpy(rs->src_version, rs->version, sizeof(rs->version));
    /* a ruleset compiled from its directory: no artifact (yet) */
    memcpy(rs->art.version, rs->version, sizeof(rs->art.version));
    snprintf(rs->art.key_id, sizeof(rs->art.key_id), "unsigned");
    XXH3_freeState(h);
    if (nyaml > 0 && rs->nrules == 0 && lc->diags->errors == errors_before)
        diag_add(lc->diags, rs->dir ? rs->dir : "", 0, 0, "no rules defined");
    check_duplicates(rs->rules, rs->nrules, lc->diags);
    for (size_t i = 0; i < rs->nrules; i++) {
        fz_rule *r = &rs->rules[i];
        r->json = rule_json(r, &r->json_len);
        if (!r->json) return -1;
    }
    rs->cats = calloc(rs->nrules + 1, sizeof(*rs->cats));
    if (!rs->cats) return -1;
    for (size_t i = 0; i < rs->nrules; i++) {
        const char *c = rs->rules[i].category;
        if (c && !fz_ruleset_category_find(rs, c, strlen(c))) rs->cats[rs->ncats++] = c;
    }
    rs->aggs = calloc(rs->nrules + 1, sizeof(*rs->aggs));
    if (!rs->aggs) return -1;
    for (size_t i = 0; i < rs->nrules; i++)
        if (rs->rules[i].agg && rs->rules[i].status == FZ_STATUS_ENABLED)
            rs->aggs[rs->naggs++] = (uint32_t)i;
    return lc->diags->errors == errors_before ? 0 : -1;
}

static void db_builds_free(db_build *bb, char **arena, size_t narena) {
    for (size_t i = 0; i < NKEYS; i++) {
        free(bb[i].ex);
        free(bb[i].flags);
        free(bb[i].ids);
        free(bb[i].lens);
    }
    for (size_t i = 0; i < narena; i++) free(arena[i]);
    free(arena);
}

static fz_ruleset *ruleset_new(const char *dir) {
    fz_ruleset *rs = calloc(1, sizeof(*rs));
    if (!rs) return NULL;
    atomic_init(&rs->refs, 1);
    rs->dir = strdup(dir);
    return rs;
}

static fz_ruleset *load_dir(const char *dir_in, const fz_rules_opts *o, fz_rule_diags *diags) {
    char *dir = strdup(dir_in);
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dir[--dl] = '\0';
    fz_ruleset *rs = ruleset_new(dir);
    path_list files = {0};
    db_build bb[NKEYS];
    char **arena = NULL;
    size_t narena = 0;
    memset(bb, 0, sizeof(bb));
    load_ctx lc = {rs, dir, diags};
    size_t errors_before = diags->errors;
    if (!rs) goto fail;
    rs->prefilter = !o->no_prefilter;
    if (collect_files(dir, &files, diags) != 0) goto fail;
    if (files.n) qsort(files.v, files.n, sizeof(char *), path_cmp);
    if (files.n == 0) diag_add(diags, dir, 0, 0, "no *.yaml rule files found");
    for (size_t i = 0; i < files.n; i++) {
        size_t len = 0;
        char *text = read_rule_file(dir, files.v[i] + dl + 1, files.v[i], &len, diags);
        if (!text) continue;
        if (!source_add(rs, files.v[i] + dl + 1, text, len, 0)) free(text);
    }
    char *prefix;
    if (asprintf(&prefix, "%s/", dir) < 0) goto fail;
    int prc = ruleset_parse(&lc, prefix);
    free(prefix);
    /* pattern problems are worth reporting even when other rules failed */
    check_patterns(rs, o->analyze || prc != 0, o->slow_ms > 0 ? o->slow_ms : 200, diags);
    if (prc != 0 || diags->errors != errors_before) goto fail;
    if (!o->compile) goto done;
    if (build_atoms(rs, bb, &arena, &narena) != 0) {
        diag_add(diags, dir, 0, 0, "out of memory");
        goto fail;
    }
    int64_t t0 = fz_mono_ns();
    fz_rule_diags cdiags = {0};
    if (compile_dbs(rs, bb, o->cache, &cdiags) != 0) {
        /* name every bad pattern, not just Hyperscan's first; fall back to
         * Hyperscan's own message when no single pattern is at fault */
        size_t before = diags->errors;
        if (!o->analyze) check_patterns(rs, 1, 1e9, diags);
        for (size_t i = 0; diags->errors == before && i < cdiags.n; i++)
            diag_add(diags, cdiags.v[i].file, cdiags.v[i].line, 0, "%s", cdiags.v[i].msg);
        fz_rule_diags_free(&cdiags);
        goto fail;
    }
    fz_rule_diags_free(&cdiags);
    rs->compile_secs = (double)(fz_mono_ns() - t0) / 1e9;
done:
    db_builds_free(bb, arena, narena);
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    free(dir);
    return rs;
fail:
    db_builds_free(bb, arena, narena);
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    free(dir);
    if (rs) ruleset_free(rs);
    return NULL;
}

fz_ruleset *fz_ruleset_load(const char *dir, const fz_rules_opts *opts, fz_rule_diags *diags) {
    static const fz_rules_opts defaults = {.compile = 1};
    size_t from = diags->n;
    fz_ruleset *rs = load_dir(dir, opts ? opts : &defaults, diags);
    diags_sort(diags, from);
    return rs;
}

/* ---- compiled files ----
 *
 * The container (header, digest, signature) is artifact.c's; this is the
 * body it carries (host byte order; a compiled file is for the machine
 * type that wrote it, as Hyperscan's databases are):
 *   u32 layout  str hs_version  str source_version
 * (layout: 0 = no prefilter, LAYOUT_PREFILTER = the prefilter's databases
 * as build_atoms() lays them out now; 1 was the prefilter before
 * literal-set regexes and shared regexes, 2 the one with confirm groups
 * of 16 regexes, 3 the one with text_flags tokens and text_numbers
 * length tests in databases, 4 the one with end-anchored length tests
 * ('^[0-9]{N}$') in databases, all refused: recompile)
 *   u32 nsources, then per source: str rel, u8 is_list, blob text
 *   u32 ndbs, then per database: u32 field, u32 view, u32 literal, u32 confirm,
 *                                u64 natoms, blob hs_serialize_database()
 * str and blob are u64 length + bytes. The sources travel with the
 * databases so that the loader rebuilds exactly the same rules and atoms
 * (and can show them) without compiling anything. Nothing here is parsed
 * before the container's checks passed (fz_artifact_verify()).
 */

#define LAYOUT_PREFILTER 5u

static int put_raw(FILE *fp, const void *p, size_t n) { return fwrite(p, 1, n, fp) == n ? 0 : -1; }
static int put_u32(FILE *fp, uint32_t v) { return put_raw(fp, &v, 4); }
static int put_u64(FILE *fp, uint64_t v) { return put_raw(fp, &v, 8); }
static int put_blob(FILE *fp, const void *p, size_t n) {
    return put_u64(fp, n) || put_raw(fp, p, n) ? -1 : 0;
}

/* The body of rs's compiled file in a malloc'd buffer, or NULL. */
static char *body_write(const fz_ruleset *rs, size_t *len) {
    char *mem = NULL;
    FILE *fp = open_memstream(&mem, len);
    if (!fp) return NULL;
    int rc = put_u32(fp, rs->prefilter ? LAYOUT_PREFILTER : 0u);
    rc |= put_blob(fp, hs_version(), strlen(hs_version()));
    rc |= put_blob(fp, rs->src_version, strlen(rs->src_version));
    rc |= put_u32(fp, (uint32_t)rs->nsrc);
    for (size_t i = 0; i < rs->nsrc && !rc; i++) {
        const source *s = &rs->src[i];
        uint8_t is_list = (uint8_t)s->is_list;
        rc |= put_blob(fp, s->rel, strlen(s->rel)) | put_raw(fp, &is_list, 1);
        rc |= put_blob(fp, s->text, s->len);
    }
    rc |= put_u32(fp, (uint32_t)rs->ndbs);
    for (size_t i = 0; i < rs->ndbs && !rc; i++) {
        const fz_db *d = &rs->dbs[i];
        char *bytes = NULL;
        size_t n = 0;
        if (hs_serialize_database(d->db, &bytes, &n) != HS_SUCCESS) {
            rc = -1;
            break;
        }
        rc |= put_u32(fp, (uint32_t)d->field) | put_u32(fp, (uint32_t)d->view) |
              put_u32(fp, (uint32_t)d->literal) | put_u32(fp, (uint32_t)d->confirm) |
              put_u64(fp, d->natoms) | put_blob(fp, bytes, n);
        free(bytes);
    }
    if (fclose(fp) != 0) rc = -1;
    if (rc != 0) {
        free(mem);
        return NULL;
    }
    return mem;
}

uint8_t *fz_ruleset_artifact_bytes(const fz_ruleset *rs, int64_t build_time_s,
                                   const fz_signkey *key, size_t *len) {
    size_t blen = 0;
    char *body = body_write(rs, &blen);
    if (!body) return NULL;
    uint8_t *a = fz_artifact_build(body, blen, build_time_s, key, len);
    free(body);
    return a;
}

int fz_ruleset_save(const fz_ruleset *rs, const char *path, const fz_signkey *key, char *errstr,
                    size_t errstr_size) {
    /* SOURCE_DATE_EPOCH: reproducible builds give byte-identical files */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    int64_t now = sde && *sde ? (int64_t)strtoll(sde, NULL, 10) : (int64_t)time(NULL);
    size_t n = 0;
    uint8_t *bytes = fz_ruleset_artifact_bytes(rs, now, key, &n);
    if (!bytes) {
        snprintf(errstr, errstr_size, "%s: out of memory or a database could not be serialised",
                 path);
        return -1;
    }
    char *tmp;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
        free(bytes);
        return -1;
    }
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, bytes + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == n && fsync(fd) == 0;
    if (close(fd) != 0) ok = 0;
    if (ok && rename(tmp, path) == 0) {
        rc = 0;
    } else {
        snprintf(errstr, errstr_size, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
    }
out:
    free(tmp);
    free(bytes);
    return rc;
}

typedef struct reader {
    const char *p, *end;
    int bad;
} reader;

static const void *get_raw(reader *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const void *p = r->p;
    r->p += n;
    return p;
}
static uint32_t get_u32(reader *r) {
    uint32_t v = 0;
    const void *p = get_raw(r, 4);
    if (p) memcpy(&v, p, 4);
    return v;
}
static uint64_t get_u64(reader *r) {
    uint64_t v = 0;
    const void *p = get_raw(r, 8);
    if (p) memcpy(&v, p, 8);
    return v;
}
static const char *get_blob(reader *r, size_t *n) {
    *n = get_u64(r);
    return get_raw(r, *n);
}

/* Parse a verified body into a ruleset; NULL with diagnostics. */
static fz_ruleset *body_load(const char *path, const char *body, size_t blen,
                             const char *expect_version, fz_rule_diags *diags) {
    fz_ruleset *rs = NULL;
    reader r = {body, body + blen, 0};
    uint32_t prefilter = get_u32(&r);
    size_t n;
    const char *hv = get_blob(&r, &n);
    if (hv && (n != strlen(hs_version()) || memcmp(hv, hs_version(), n) != 0)) {
        diag_add(diags, path, 0, 0,
                 "compiled with Hyperscan %.*s; this fanzha uses Hyperscan %s: recompile it",
                 (int)(n > 64 ? 64 : n), hv, hs_version());
        return NULL;
    }
    const char *ver = get_blob(&r, &n);
    char version[64] = "";
    if (ver) snprintf(version, sizeof(version), "%.*s", (int)(n > 40 ? 40 : n), ver);
    if (expect_version && strcmp(version, expect_version) != 0) {
        diag_add(diags, path, 0, 0,
                 "holds ruleset %s, but %s was expected (the rules changed since it was "
                 "compiled): recompile it with 'fanzha rules compile'",
                 version, expect_version);
        return NULL;
    }
    if (prefilter != 0 && prefilter != LAYOUT_PREFILTER) {
        diag_add(diags, path, 0, 0, "%s",
                 prefilter >= 1 && prefilter < LAYOUT_PREFILTER
                     ? "compiled by an earlier fanzha, whose prefilter laid out the "
                       "databases differently: recompile it with 'fanzha rules compile'"
                     : "truncated or damaged compiled ruleset");
        return NULL;
    }
    rs = ruleset_new(path);
    if (!rs) return NULL;
    rs->prefilter = prefilter != 0;
    uint32_t nsrc = get_u32(&r);
    for (uint32_t i = 0; i < nsrc && !r.bad; i++) {
        size_t rl, tl;
        const char *rel = get_blob(&r, &rl);
        const uint8_t *is_list = get_raw(&r, 1);
        const char *text = get_blob(&r, &tl);
        if (r.bad || *is_list > SRC_MODEL) {
            r.bad = 1;
            break;
        }
        char *relz = strndup(rel, rl), *textz = malloc(tl + 1);
        if (!relz || !textz) {
            free(relz);
            free(textz);
            r.bad = 1;
            break;
        }
        memcpy(textz, text, tl);
        textz[tl] = '\0';
        source *s = source_add(rs, relz, textz, tl, *is_list);
        free(relz);
        if (!s) {
            free(textz);
            r.bad = 1;
            break;
        }
        if (s->is_list == SRC_LIST) { /* named "FILE:LIST", as the rule files are */
            load_ctx lc0 = {rs, NULL, diags};
            char *shown = NULL;
            if (asprintf(&shown, "%s:%s", path, s->rel) < 0) {
                r.bad = 1;
                break;
            }
            s->parsed = list_parse(&lc0, s, shown) == 0 ? 1 : -1;
            free(shown);
        }
    }
    if (r.bad) {
        diag_add(diags, path, 0, 0, "truncated or damaged compiled ruleset");
        goto fail;
    }
    load_ctx lc = {rs, NULL, diags};
    char *prefix;
    if (asprintf(&prefix, "%s:", path) < 0) goto fail;
    int prc = ruleset_parse(&lc, prefix);
    free(prefix);
    if (prc != 0) goto fail;
    if (strcmp(rs->version, version) != 0) {
        diag_add(diags, path, 0, 0, "damaged: its sources hash to %s, not %s", rs->version,
                 version);
        goto fail;
    }
    db_build bb[NKEYS];
    char **arena = NULL;
    size_t narena = 0;
    memset(bb, 0, sizeof(bb));
    int brc = build_atoms(rs, bb, &arena, &narena);
    db_job *jobs = brc == 0 ? malloc(plan_max(bb) * sizeof(db_job)) : NULL;
    if (jobs) rs->dbs = calloc(plan_max(bb), sizeof(fz_db));
    size_t want = jobs && rs->dbs ? plan_dbs(bb, jobs) : 0;
    int64_t t0 = fz_mono_ns();
    uint32_t ndbs = get_u32(&r);
    if (!jobs || !rs->dbs || ndbs != want) r.bad = 1;
    for (uint32_t i = 0; i < ndbs && !r.bad; i++) {
        fz_db *d = &rs->dbs[rs->ndbs];
        d->field = (fz_field)get_u32(&r);
        d->view = (fz_view)get_u32(&r);
        d->literal = (int)get_u32(&r);
        d->confirm = (int)get_u32(&r);
        d->natoms = get_u64(&r);
        size_t bl;
        const char *bytes = get_blob(&r, &bl);
        if (r.bad || (unsigned)d->field >= FZ_FIELD_COUNT || (unsigned)d->view >= FZ_VIEW_COUNT ||
            d->field != jobs[i].field || d->view != jobs[i].view || d->literal != jobs[i].literal ||
            d->confirm != jobs[i].confirm || d->natoms != jobs[i].count) {
            r.bad = 1;
            break;
        }
        hs_error_t e = hs_deserialize_database(bytes, bl, &d->db);
        if (e != HS_SUCCESS) {
            diag_add(diags, path, 0, 0, "%s",
                     e == HS_DB_PLATFORM_ERROR
                         ? "compiled for a CPU with instructions this one lacks: recompile it "
                           "on (or for) this machine"
                     : e == HS_DB_VERSION_ERROR ? "compiled with another Hyperscan version"
                                                : "a database in it is damaged");
            db_builds_free(bb, arena, narena);
            free(jobs);
            goto fail;
        }
        rs->ndbs++;
    }
    if (!r.bad && r.p != r.end) r.bad = 1; /* trailing bytes in the body */
    if (!r.bad) link_confirms(rs, jobs, rs->ndbs);
    free(jobs);
    rs->compile_secs = (double)(fz_mono_ns() - t0) / 1e9;
    db_builds_free(bb, arena, narena);
    if (r.bad) {
        diag_add(diags, path, 0, 0, "truncated or damaged compiled ruleset");
        goto fail;
    }
    return rs;
fail:
    ruleset_free(rs);
    return NULL;
}

fz_ruleset *fz_ruleset_load_artifact(const char *path, const uint8_t *buf, size_t len,
                                     const char *expect_version, const fz_keyring *trust,
                                     fz_rule_diags *diags) {
    size_t from = diags->n;
    const uint8_t *body = NULL;
    size_t blen = 0;
    fz_artifact_info info;
    char err[512];
    fz_ruleset *rs = NULL;
    if (fz_artifact_verify(buf, len, trust, &body, &blen, &info, err, sizeof(err)) != 0) {
        diag_add(diags, path, 0, 0, "%s", err);
        goto out;
    }
    rs = body_load(path, (const char *)body, blen, expect_version, diags);
    if (!rs) goto out;
    rs->art = info;
    /* what runs is named by every byte of it, not by its sources alone */
    memcpy(rs->version, info.version, sizeof(info.version));
    int jl = snprintf(rs->art_json, sizeof(rs->art_json),
                      ",\"artifact\":{\"signer\":\"%s\",\"signed\":%s,\"build_time_s\":%lld}",
                      info.key_id, info.signed_ok ? "true" : "false", (long long)info.build_time_s);
    rs->art_json_len = jl > 0 && (size_t)jl < sizeof(rs->art_json) ? (size_t)jl : 0;
out:
    diags_sort(diags, from);
    return rs;
}

fz_ruleset *fz_ruleset_load_compiled(const char *path, const char *expect_version,
                                     const fz_keyring *trust, fz_rule_diags *diags) {
    size_t len = 0;
    char err[1024];
    uint8_t *buf = fz_artifact_read(path, trust != NULL, &len, err, sizeof(err));
    if (!buf) {
        /* err starts with the path, which the diagnostic names already */
        size_t pl = strlen(path);
        const char *why = strncmp(err, path, pl) == 0 && err[pl] == ':' ? err + pl + 2 : err;
        fz_rule_diags_add(diags, path, 0, 0, "%s", why);
        return NULL;
    }
    fz_ruleset *rs = fz_ruleset_load_artifact(path, buf, len, expect_version, trust, diags);
    free(buf);
    return rs;
}
