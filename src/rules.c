/*
 * rules.c - see rules.h.
 *
 * Loading happens off the hot path: parse each YAML file with libyaml's
 * document API (which keeps line numbers on every node), validate every
 * rule, check every pattern on its own with hs_expression_info() so that
 * all syntax errors are reported with file:line (not just Hyperscan's
 * first), then compile one database per event field with
 * hs_compile_multi(). The Hyperscan id of an expression is the index of
 * its rule, so a match maps straight back to the rule.
 */
#define _GNU_SOURCE
#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <yaml.h>

#include "buf.h"
#include "utf8.h"

struct fz_ruleset {
    _Atomic long refs;
    fz_rule *rules;
    size_t nrules;
    size_t npatterns;
    hs_database_t *db[FZ_FIELD_COUNT];
    char version[24];
};

static const char *const sev_names[] = {"", "low", "medium", "high", "critical"};

const char *fz_severity_name(fz_severity s) {
    return (s >= FZ_SEV_LOW && s <= FZ_SEV_CRITICAL) ? sev_names[s] : "unknown";
}

/* ---- diagnostics ---- */

static void diag_add(fz_rule_diags *d, const char *file, unsigned line, int warning,
                     const char *fmt, ...) FZ_PRINTF(5, 6);

static void diag_add(fz_rule_diags *d, const char *file, unsigned line, int warning,
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

/* ---- ruleset lifetime ---- */

static void rule_free(fz_rule *r) {
    free(r->id);
    free(r->category);
    free(r->description);
    free(r->file);
    for (size_t i = 0; i < r->npatterns; i++) free(r->patterns[i]);
    free(r->patterns);
    free(r->pattern_lines);
    free(r->json);
}

static void ruleset_free(fz_ruleset *rs) {
    for (size_t i = 0; i < rs->nrules; i++) rule_free(&rs->rules[i]);
    free(rs->rules);
    for (int f = 0; f < FZ_FIELD_COUNT; f++) hs_free_database(rs->db[f]);
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
size_t fz_ruleset_pattern_count(const fz_ruleset *rs) { return rs->npatterns; }
const fz_rule *fz_ruleset_rule(const fz_ruleset *rs, size_t i) { return &rs->rules[i]; }
const char *fz_ruleset_version(const fz_ruleset *rs) { return rs->version; }
const hs_database_t *fz_ruleset_db(const fz_ruleset *rs, fz_field f) { return rs->db[f]; }

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

static char *read_file(const char *path, size_t *len, fz_rule_diags *diags) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        diag_add(diags, path, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    if (n < 0 || n > 64L * 1024 * 1024) {
        diag_add(diags, path, 0, 0, "file too large (limit 64 MiB)");
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

/* ---- YAML helpers ---- */

typedef struct parse_ctx {
    const char *file;
    yaml_document_t *doc;
    fz_rule_diags *diags;
} parse_ctx;

static unsigned node_line(yaml_node_t *n) { return (unsigned)n->start_mark.line + 1; }

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

/* Apply a list-or-scalar node: calls fn for each scalar item. */
typedef int (*item_fn)(parse_ctx *c, fz_rule *r, yaml_node_t *item, const char *key);

static int for_each_item(parse_ctx *c, fz_rule *r, yaml_node_t *v, const char *key, item_fn fn) {
    if (v->type == YAML_SCALAR_NODE) return fn(c, r, v, key);
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
        if (fn(c, r, item, key)) rc = -1;
    }
    return rc;
}

static int add_field(parse_ctx *c, fz_rule *r, yaml_node_t *item, const char *key) {
    const char *s = scalar(item);
    int f = fz_field_parse(s, strlen(s));
    if (f < 0) {
        diag_add(c->diags, c->file, node_line(item), 0,
                 "unknown field '%s' in '%s' (known: text, from, to)", s, key);
        return -1;
    }
    r->fields |= 1u << f;
    return 0;
}

static int add_flag(parse_ctx *c, fz_rule *r, yaml_node_t *item, const char *key) {
    static const struct {
        const char *name;
        unsigned flag;
    } flags[] = {{"caseless", HS_FLAG_CASELESS},   {"dotall", HS_FLAG_DOTALL},
                 {"multiline", HS_FLAG_MULTILINE}, {"ucp", HS_FLAG_UCP},
                 {"utf8", HS_FLAG_UTF8},           {"singlematch", HS_FLAG_SINGLEMATCH}};
    const char *s = scalar(item);
    for (size_t i = 0; i < FZ_ARRAY_LEN(flags); i++)
        if (strcmp(s, flags[i].name) == 0) {
            r->hs_flags |= flags[i].flag;
            return 0;
        }
    diag_add(c->diags, c->file, node_line(item), 0,
             "unknown flag '%s' in '%s' (known: caseless, dotall, multiline, ucp)", s, key);
    return -1;
}

static int add_pattern(parse_ctx *c, fz_rule *r, yaml_node_t *item, const char *key) {
    (void)key;
    const char *s = scalar(item);
    if (!*s) {
        diag_add(c->diags, c->file, node_line(item), 0, "empty pattern");
        return -1;
    }
    char **np = realloc(r->patterns, (r->npatterns + 1) * sizeof(char *));
    unsigned *nl = realloc(r->pattern_lines, (r->npatterns + 1) * sizeof(unsigned));
    if (np) r->patterns = np;
    if (nl) r->pattern_lines = nl;
    if (!np || !nl) return -1;
    r->patterns[r->npatterns] = strdup(s);
    r->pattern_lines[r->npatterns] = node_line(item);
    r->npatterns++;
    return 0;
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
    static const char *const known[] = {"id",    "rev",     "category", "severity",   "fields",
                                        "flags", "pattern", "patterns", "description"};
    int rc = 0;
    unsigned line = node_line(m);
    r->line = line;
    r->file = strdup(c->file);
    r->hs_flags = HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH;
    if (m->type != YAML_MAPPING_NODE) {
        diag_add(c->diags, c->file, line, 0, "a rule must be a mapping (id: ..., pattern: ...)");
        return -1;
    }
    int have_pattern = 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        const char *k = scalar(kn);
        if (!k || !vn) {
            diag_add(c->diags, c->file, node_line(kn), 0, "rule keys must be scalars");
            rc = -1;
            continue;
        }
        size_t ki;
        for (ki = 0; ki < FZ_ARRAY_LEN(known); ki++)
            if (strcmp(k, known[ki]) == 0) break;
        if (ki == FZ_ARRAY_LEN(known)) {
            diag_add(c->diags, c->file, node_line(kn), 0,
                     "unknown key '%s' (known: id, rev, category, severity, fields, flags, "
                     "pattern, patterns, description)",
                     k);
            rc = -1;
            continue;
        }
        const char *v = scalar(vn);
        unsigned vl = node_line(vn);
        if (strcmp(k, "fields") == 0) {
            rc |= for_each_item(c, r, vn, k, add_field);
        } else if (strcmp(k, "flags") == 0) {
            rc |= for_each_item(c, r, vn, k, add_flag);
        } else if (strcmp(k, "pattern") == 0 || strcmp(k, "patterns") == 0) {
            if (have_pattern) {
                diag_add(c->diags, c->file, vl, 0, "give either 'pattern' or 'patterns', once");
                rc = -1;
            }
            have_pattern = 1;
            rc |= for_each_item(c, r, vn, k, add_pattern);
        } else if (!v) {
            diag_add(c->diags, c->file, vl, 0, "'%s' must be a scalar", k);
            rc = -1;
        } else if (strcmp(k, "id") == 0) {
            r->line = vl;
            if (!valid_id(v)) {
                diag_add(c->diags, c->file, vl, 0, "invalid id '%s': use 1-128 of a-z 0-9 . _ -",
                         v);
                rc = -1;
            }
            free(r->id);
            r->id = strdup(v);
        } else if (strcmp(k, "rev") == 0) {
            if (parse_uint(v, &r->rev) || r->rev == 0) {
                diag_add(c->diags, c->file, vl, 0, "'rev' must be an integer >= 1, not '%s'", v);
                rc = -1;
            }
        } else if (strcmp(k, "category") == 0) {
            if (!valid_category(v)) {
                diag_add(c->diags, c->file, vl, 0, "invalid category '%s': use 1-64 of a-z 0-9 _",
                         v);
                rc = -1;
            }
            free(r->category);
            r->category = strdup(v);
        } else if (strcmp(k, "severity") == 0) {
            r->severity = 0;
            for (int s = FZ_SEV_LOW; s <= FZ_SEV_CRITICAL; s++)
                if (strcmp(v, sev_names[s]) == 0) r->severity = (fz_severity)s;
            if (!r->severity) {
                diag_add(c->diags, c->file, vl, 0,
                         "severity must be low, medium, high or critical, not '%s'", v);
                rc = -1;
            }
        } else if (strcmp(k, "description") == 0) {
            free(r->description);
            r->description = strdup(v);
        }
    }
    static const char *const required[] = {"id", "category", "severity", "fields"};
    const int missing[] = {r->id == NULL, r->category == NULL, r->severity == 0, r->fields == 0};
    for (size_t i = 0; i < FZ_ARRAY_LEN(required); i++)
        if (missing[i] && rc == 0) {
            diag_add(c->diags, c->file, line, 0, "rule is missing '%s'", required[i]);
            rc = -1;
        }
    if (!have_pattern && rc == 0) {
        diag_add(c->diags, c->file, line, 0, "rule is missing 'pattern' or 'patterns'");
        rc = -1;
    }
    if (r->rev == 0) r->rev = 1; /* rev defaults to 1 */
    return rc;
}

/* Parse a file's rules, appending valid ones to *rules. */
static void parse_file(const char *file, const char *text, size_t len, fz_rule **rules,
                       size_t *nrules, size_t *cap, fz_rule_diags *diags) {
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
    parse_ctx c = {file, &doc, diags};
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
            if (*nrules == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *rules = realloc(*rules, *cap * sizeof(fz_rule));
            }
            fz_rule *r = &(*rules)[*nrules];
            memset(r, 0, sizeof(*r));
            if (parse_rule(&c, yaml_document_get_node(&doc, *it), r) == 0)
                (*nrules)++;
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

/* Report duplicate ids (both places). */
static void check_duplicates(fz_rule *rules, size_t n, fz_rule_diags *diags) {
    size_t *ix = malloc(n * sizeof(size_t));
    if (!ix) return;
    for (size_t i = 0; i < n; i++) ix[i] = i;
    qsort_r(ix, n, sizeof(size_t), cmp_str_idx, rules);
    for (size_t i = 1; i < n; i++) {
        fz_rule *a = &rules[ix[i - 1]], *b = &rules[ix[i]];
        if (strcmp(a->id, b->id) == 0) {
            fz_rule *first = ix[i - 1] < ix[i] ? a : b, *second = first == a ? b : a;
            diag_add(diags, second->file, second->line, 0,
                     "duplicate rule id '%s' (first at %s:%u)", second->id, first->file,
                     first->line);
        }
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

/* Check each pattern on its own so every bad one is named. */
static void check_patterns(fz_rule *rules, size_t n, fz_rule_diags *diags) {
    for (size_t i = 0; i < n; i++) {
        fz_rule *r = &rules[i];
        for (size_t p = 0; p < r->npatterns; p++) {
            hs_expr_info_t *info = NULL;
            hs_compile_error_t *err = NULL;
            if (hs_expression_info(r->patterns[p], r->hs_flags, &info, &err) != HS_SUCCESS) {
                diag_add(diags, r->file, r->pattern_lines[p], 0, "rule '%s': pattern rejected: %s",
                         r->id, err ? err->message : "unknown error");
                hs_free_compile_error(err);
                continue;
            }
            if (info->min_width == 0) {
                diag_add(diags, r->file, r->pattern_lines[p], 0,
                         "rule '%s': pattern can match the empty string, so it would fire on "
                         "every event",
                         r->id);
            }
            if (!(r->hs_flags & HS_FLAG_UCP) && cjk_boundary(r->patterns[p]))
                diag_add(diags, r->file, r->pattern_lines[p], 1,
                         "rule '%s': \\b next to a CJK character is not a word boundary there: "
                         "without 'ucp' CJK is not \\w, so \\b only matches beside an ASCII "
                         "letter, digit or '_'",
                         r->id);
            free(info);
        }
    }
}

/* Find the rule/pattern behind the idx-th expression compiled for field f. */
static void locate_expr(fz_rule *rules, size_t n, fz_field f, unsigned idx, fz_rule **rr,
                        size_t *pp) {
    unsigned k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(rules[i].fields & (1u << f))) continue;
        for (size_t p = 0; p < rules[i].npatterns; p++, k++)
            if (k == idx) {
                *rr = &rules[i];
                *pp = p;
                return;
            }
    }
    *rr = NULL;
}

static int compile_field(fz_ruleset *rs, fz_field f, fz_rule_diags *diags) {
    size_t cnt = 0;
    for (size_t i = 0; i < rs->nrules; i++)
        if (rs->rules[i].fields & (1u << f)) cnt += rs->rules[i].npatterns;
    if (cnt == 0) return 0;
    const char **exprs = malloc(cnt * sizeof(char *));
    unsigned *flags = malloc(cnt * sizeof(unsigned));
    unsigned *ids = malloc(cnt * sizeof(unsigned));
    int rc = -1;
    if (!exprs || !flags || !ids) goto out;
    size_t k = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        fz_rule *r = &rs->rules[i];
        if (!(r->fields & (1u << f))) continue;
        for (size_t p = 0; p < r->npatterns; p++, k++) {
            exprs[k] = r->patterns[p];
            flags[k] = r->hs_flags;
            ids[k] = (unsigned)i;
        }
    }
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)cnt, HS_MODE_BLOCK, NULL, &rs->db[f], &err) !=
        HS_SUCCESS) {
        fz_rule *r = NULL;
        size_t p = 0;
        if (err && err->expression >= 0)
            locate_expr(rs->rules, rs->nrules, f, (unsigned)err->expression, &r, &p);
        if (r)
            diag_add(diags, r->file, r->pattern_lines[p], 0, "rule '%s': Hyperscan: %s", r->id,
                     err->message);
        else
            diag_add(diags, "", 0, 0, "Hyperscan compile of field '%s' failed: %s",
                     fz_field_name(f), err ? err->message : "unknown error");
        hs_free_compile_error(err);
        goto out;
    }
    rc = 0;
out:
    free(exprs);
    free(flags);
    free(ids);
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

static fz_ruleset *ruleset_load(const char *dir, fz_rule_diags *diags);

fz_ruleset *fz_ruleset_load(const char *dir, fz_rule_diags *diags) {
    size_t from = diags->n;
    fz_ruleset *rs = ruleset_load(dir, diags);
    diags_sort(diags, from);
    return rs;
}

static fz_ruleset *ruleset_load(const char *dir, fz_rule_diags *diags) {
    fz_ruleset *rs = calloc(1, sizeof(*rs));
    path_list files = {0};
    size_t cap = 0;
    size_t errors_before = diags->errors;
    if (!rs) return NULL;
    atomic_init(&rs->refs, 1);
    if (collect_files(dir, &files, diags) != 0) goto fail;
    if (files.n) qsort(files.v, files.n, sizeof(char *), path_cmp);
    if (files.n == 0) diag_add(diags, dir, 0, 0, "no *.yaml rule files found");

    XXH3_state_t *h = XXH3_createState();
    XXH3_64bits_reset(h);
    size_t dlen = strlen(dir);
    for (size_t i = 0; i < files.n; i++) {
        size_t len = 0;
        char *text = read_file(files.v[i], &len, diags);
        if (!text) continue;
        const char *rel = files.v[i] + dlen;
        XXH3_64bits_update(h, rel, strlen(rel) + 1);
        XXH3_64bits_update(h, text, len);
        parse_file(files.v[i], text, len, &rs->rules, &rs->nrules, &cap, diags);
        free(text);
    }
    snprintf(rs->version, sizeof(rs->version), "rs-%016llx",
             (unsigned long long)XXH3_64bits_digest(h));
    XXH3_freeState(h);

    if (rs->nrules == 0 && diags->errors == errors_before)
        diag_add(diags, dir, 0, 0, "no rules defined");
    check_duplicates(rs->rules, rs->nrules, diags);
    check_patterns(rs->rules, rs->nrules, diags);
    if (diags->errors != errors_before) goto fail;
    for (size_t i = 0; i < rs->nrules; i++) {
        fz_rule *r = &rs->rules[i];
        r->json = rule_json(r, &r->json_len);
        rs->npatterns += r->npatterns * (size_t)__builtin_popcount(r->fields);
        if (!r->json) goto fail;
    }
    for (int f = 0; f < FZ_FIELD_COUNT; f++)
        if (compile_field(rs, (fz_field)f, diags) != 0) goto fail;
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    return rs;

fail:
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    ruleset_free(rs);
    return NULL;
}
