/*
 * train.c - see train.h.
 *
 * Design. Training is an offline, one-shot job over at most a few hundred
 * thousand short texts, so it favours plain code over speed: every corpus
 * is read whole, each text is normalised with the same fz_norm_text() the
 * stream threads use and turned into its n-gram buckets with the same
 * fz_model_ngrams() the scorer runs (so training and scoring cannot
 * disagree on a feature), the buckets of a text are sorted and merged into
 * one liblinear sparse vector, and liblinear's L2-regularised logistic
 * regression (solver 0, a trust-region Newton method: no random order)
 * fits the weights. The result is byte-for-byte reproducible: same
 * corpora and options, same file. The training record in the file names
 * the options and, per corpus, its file name, size, example counts and
 * XXH3 - never a path of the machine that trained it, nor a date.
 *
 * Corpus format, one example a line, UTF-8:
 *   LABEL<TAB>TEXT                     (LABEL 1 = fraud, 0 = not fraud)
 *   LABEL*WEIGHT<TAB>TEXT              (the example counts WEIGHT times, 1-100)
 *   {"label": 1, "text": "...", "weight": 3}   (NDJSON; label 0/1 or true/false;
 *                                       weight optional)
 * A weight makes training count an example several times (the same
 * vector, listed again: liblinear 2.3 has no per-example weights); it is
 * how a small class that must not be flagged (advertising among much ham)
 * is given its say. Evaluation counts every example once.
 * Empty lines and lines starting with '#' are skipped; anything else that
 * is not an example is an error naming file:line.
 */
#define _GNU_SOURCE
#include "train.h"

#include <errno.h>
#include <linear.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "buf.h"
#include "log.h"
#include "model.h"
#include "norm.h"
#include "utf8.h"

#define CORPUS_MAX_BYTES (1L << 30)
#define MODEL_FILE_MAX_BYTES (64L << 20)

#define WEIGHT_MAX 100

typedef struct example {
    int label;
    unsigned weight; /* training: the example counts this many times */
    char *norm;      /* normalised text */
    size_t n;
} example;

typedef struct corpus_set {
    example *v;
    size_t n, cap;
    fz_buf meta; /* per corpus: name, bytes, counts, digest */
} corpus_set;

static void corpus_set_free(corpus_set *cs) {
    for (size_t i = 0; i < cs->n; i++) free(cs->v[i].norm);
    free(cs->v);
    fz_buf_free(&cs->meta);
}

static char *read_file(const char *path, size_t *len, long max, char *err, size_t errsz) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long n = -1;
    if (fseek(fp, 0, SEEK_END) == 0) n = ftell(fp);
    if (n < 0 || n > max || fseek(fp, 0, SEEK_SET) != 0) {
        snprintf(err, errsz, "%s: %s", path,
                 n > max ? "too large" : "cannot read (not a regular file?)");
        goto out;
    }
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        snprintf(err, errsz, "%s: read error", path);
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[n] = '\0';
    *len = (size_t)n;
out:
    fclose(fp);
    return buf;
}

/* Four hex digits at s[at..at+4) (inside s[0..n)) into *u; 0 or -1. */
static int hex4(const char *s, size_t n, size_t at, uint32_t *u) {
    if (at + 4 > n) return -1;
    *u = 0;
    for (size_t d = at; d < at + 4; d++) {
        char c = s[d];
        unsigned v = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (v > 15) return -1;
        *u = *u * 16 + v;
    }
    return 0;
}

/* Unescape a JSON string body s[0..n) into out (room for n bytes: an
 * escape never grows). Returns the length, or -1 on a bad escape. */
static long json_unescape(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        if (++i >= n) return -1;
        switch (s[i]) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            uint32_t u, lo, cp;
            if (hex4(s, n, i + 1, &u) != 0) return -1;
            i += 4;
            cp = u;
            if (u >= 0xd800 && u < 0xdc00) { /* a high surrogate: its low half must follow */
                if (i + 2 >= n || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                    hex4(s, n, i + 3, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                i += 6;
                cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            } else if (u >= 0xdc00 && u <= 0xdfff) {
                return -1;
            }
            o += fz_utf8_encode(cp, out + o);
            break;
        }
        default: return -1;
        }
    }
    return (long)o;
}

/* One NDJSON example; 0 or -1 with why filled. */
static int parse_json_line(const char *line, size_t n, int *label, unsigned *weight, char *text,
                           size_t *tlen, const char **why) {
    jsmn_parser p;
    jsmntok_t t[64];
    jsmn_init(&p);
    int nt = jsmn_parse(&p, line, n, t, 64);
    if (nt < 1 || t[0].type != JSMN_OBJECT) {
        *why = "not a JSON object";
        return -1;
    }
    int have_label = 0, have_text = 0;
    for (int i = 1; i + 1 < nt; i++) {
        if (t[i].type != JSMN_STRING || t[i].parent != 0) continue;
        const char *k = line + t[i].start;
        size_t kl = (size_t)(t[i].end - t[i].start);
        const jsmntok_t *v = &t[i + 1];
        const char *vs = line + v->start;
        size_t vl = (size_t)(v->end - v->start);
        if (kl == 5 && !memcmp(k, "label", 5)) {
            if (v->type == JSMN_PRIMITIVE && vl == 1 && (vs[0] == '0' || vs[0] == '1'))
                *label = vs[0] - '0';
            else if (v->type == JSMN_PRIMITIVE && vl == 4 && !memcmp(vs, "true", 4))
                *label = 1;
            else if (v->type == JSMN_PRIMITIVE && vl == 5 && !memcmp(vs, "false", 5))
                *label = 0;
            else {
                *why = "\"label\" must be 0, 1, true or false";
                return -1;
            }
            have_label = 1;
        } else if (kl == 6 && !memcmp(k, "weight", 6)) {
            char num[8];
            unsigned long w = 0;
            char *end = NULL;
            if (v->type == JSMN_PRIMITIVE && vl < sizeof(num)) {
                memcpy(num, vs, vl);
                num[vl] = '\0';
                w = strtoul(num, &end, 10);
            }
            if (!end || *end || w < 1 || w > WEIGHT_MAX) {
                *why = "\"weight\" must be an integer from 1 to 100";
                return -1;
            }
            *weight = (unsigned)w;
        } else if (kl == 4 && !memcmp(k, "text", 4)) {
            if (v->type != JSMN_STRING) {
                *why = "\"text\" must be a string";
                return -1;
            }
            long ul = json_unescape(vs, vl, text);
            if (ul < 0) {
                *why = "bad escape in \"text\"";
                return -1;
            }
            *tlen = (size_t)ul;
            have_text = 1;
        }
    }
    if (!have_label || !have_text) {
        *why = "an example needs \"label\" and \"text\"";
        return -1;
    }
    return 0;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Read one corpus into cs. Returns 0, or -1 with err filled (file:line). */
static int corpus_read(corpus_set *cs, const char *path, char *err, size_t errsz) {
    size_t len;
    char *buf = read_file(path, &len, CORPUS_MAX_BYTES, err, errsz);
    if (!buf) return -1;
    int rc = -1;
    size_t bad;
    if (!fz_utf8_valid(buf, len, &bad)) {
        unsigned long line = 1;
        for (size_t i = 0; i < bad; i++) line += buf[i] == '\n';
        snprintf(err, errsz, "%s:%lu: invalid UTF-8", path, line);
        goto out;
    }
    size_t pos = 0, counts[2] = {0, 0};
    unsigned long lineno = 0;
    while (pos < len) {
        char *line = buf + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + 1;
        lineno++;
        if (ll && line[ll - 1] == '\r') ll--;
        if (ll == 0 || line[0] == '#') continue;
        int label = -1;
        unsigned weight = 1;
        const char *text = NULL;
        size_t tl = 0;
        char *tmp = NULL;
        if (line[0] == '{') {
            const char *why = "";
            tmp = malloc(ll + 1);
            if (!tmp || parse_json_line(line, ll, &label, &weight, tmp, &tl, &why) != 0) {
                snprintf(err, errsz, "%s:%lu: %s", path, lineno, tmp ? why : "out of memory");
                free(tmp);
                goto out;
            }
            text = tmp;
        } else {
            size_t at = 1;
            if (ll >= 3 && line[1] == '*') { /* LABEL*WEIGHT */
                weight = 0;
                for (at = 2; at < ll && line[at] >= '0' && line[at] <= '9' && weight <= WEIGHT_MAX;
                     at++)
                    weight = weight * 10 + (unsigned)(line[at] - '0');
            }
            if (ll < at + 1 || (line[0] != '0' && line[0] != '1') || line[at] != '\t' ||
                weight < 1 || weight > WEIGHT_MAX) {
                snprintf(err, errsz,
                         "%s:%lu: want LABEL<TAB>TEXT with LABEL 0 or 1 (or LABEL*WEIGHT, "
                         "WEIGHT 1-100), or a JSON object {\"label\":..,\"text\":..}",
                         path, lineno);
                goto out;
            }
            label = line[0] - '0';
            text = line + at + 1;
            tl = ll - at - 1;
        }
        if (cs->n == cs->cap) {
            cs->cap = cs->cap ? 2 * cs->cap : 4096;
            example *nv = realloc(cs->v, cs->cap * sizeof(example));
            if (!nv) {
                free(tmp);
                snprintf(err, errsz, "out of memory");
                goto out;
            }
            cs->v = nv;
        }
        example *e = &cs->v[cs->n];
        e->label = label;
        e->weight = weight;
        e->norm = malloc(tl + 1);
        if (!e->norm) {
            free(tmp);
            snprintf(err, errsz, "out of memory");
            goto out;
        }
        e->n = fz_norm_text(text, tl, e->norm);
        free(tmp);
        cs->n++;
        counts[label]++;
    }
    if (counts[0] + counts[1] == 0) {
        snprintf(err, errsz, "%s: no examples", path);
        goto out;
    }
    fz_buf_printf(&cs->meta, "corpus %s: %zu bytes, %zu examples (%zu fraud), xxh3 %016llx\n",
                  base_name(path), len, counts[0] + counts[1], counts[1],
                  (unsigned long long)XXH3_64bits(buf, len));
    rc = 0;
out:
    free(buf);
    return rc;
}

static int corpora_read(corpus_set *cs, char **paths, int npaths, char *err, size_t errsz) {
    memset(cs, 0, sizeof(*cs));
    fz_buf_init(&cs->meta, FZ_MODEL_MAX_META / 2);
    if (fz_norm_init(err, errsz) != 0) return -1;
    for (int i = 0; i < npaths; i++)
        if (corpus_read(cs, paths[i], err, errsz) != 0) return -1;
    return 0;
}

/* ---- features -> liblinear vectors ---- */

typedef struct bucket_list {
    uint32_t *v;
    size_t n, cap;
} bucket_list;

static void collect(void *ctx, uint32_t bucket) {
    bucket_list *b = ctx;
    if (b->n < b->cap) b->v[b->n++] = bucket;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The sparse vector of text (sorted, merged; then the bias node and the
 * terminator) into out, which has room for 4 * n + 3 nodes (at most 4
 * n-grams start at each byte... see ngram_cap). Returns the node count. */
static size_t vectorise(const fz_model_features *f, const char *norm, size_t n, bucket_list *bl,
                        struct feature_node *out) {
    bl->n = 0;
    size_t total = fz_model_ngrams(f, norm, n, collect, bl);
    qsort(bl->v, bl->n, sizeof(uint32_t), cmp_u32);
    size_t k = 0;
    double unit = total ? 1.0 / sqrt((double)total) : 0;
    for (size_t i = 0; i < bl->n; i++) {
        if (k && out[k - 1].index == (int)bl->v[i] + 1) {
            out[k - 1].value += unit;
            continue;
        }
        out[k].index = (int)bl->v[i] + 1;
        out[k].value = unit;
        k++;
    }
    out[k].index = (1 << f->bits) + 1; /* the bias feature */
    out[k].value = 1.0;
    out[k + 1].index = -1;
    return k + 2;
}

/* The most n-grams a text of n bytes can give: at most 3 character
 * n-grams per code point and 2 word n-grams per word. */
static size_t ngram_cap(size_t n) { return 5 * n + 8; }

static void quiet(const char *s) { (void)s; }

/* "the first N characters" or "the whole text": what a model scores */
static const char *scored_desc(const fz_model_features *f, char *buf, size_t size) {
    if (!f->max_chars) return "the whole text";
    snprintf(buf, size, "the first %u characters", f->max_chars);
    return buf;
}

/* ---- train ---- */

static int train_usage(void) {
    fprintf(stderr,
            "usage: fanzha model train CORPUS... -o FILE [--bits N] [--chars MIN-MAX] "
            "[--words N]\n"
            "                          [--fold-digits|--keep-digits] [--chars-non-ascii]\n"
            "                          [--max-chars N]\n"
            "                          [--c C] [--pos-weight W]\n"
            "                          [--threshold T]\n"
            "  CORPUS: lines 'LABEL<TAB>TEXT' (1 = fraud, 0 = not) or "
            "{\"label\":0|1,\"text\":\"...\"}\n"
            "  defaults: --bits 20 --chars 1-3 --words 2 --fold-digits --c 1 --pos-weight 1 "
            "--threshold 0.5 --max-chars 0 (0: the whole text)\n");
    return 2;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

static int write_atomic(const char *path, const uint8_t *p, size_t n, char *err, size_t errsz) {
    char *tmp;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) return -1;
    FILE *fp = fopen(tmp, "wb");
    int ok = fp && fwrite(p, 1, n, fp) == n;
    if (fp) ok &= fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    if (fp) ok &= fclose(fp) == 0;
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

static int cmd_train(int argc, char **argv) {
    fz_model_features f = {20, 1, 3, 2, FZ_MODEL_FOLD_DIGITS, 0};
    double C = 1.0, pos_weight = 1.0, threshold = 0.5;
    const char *out = NULL;
    char **paths = calloc((size_t)argc + 1, sizeof(char *));
    int npaths = 0;
    if (!paths) return 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned x, y;
        if (!strcmp(a, "-o") && v) {
            out = v;
            i++;
        } else if (!strcmp(a, "--bits") && v && sscanf(v, "%u", &x) == 1) {
            f.bits = x;
            i++;
        } else if (!strcmp(a, "--chars") && v && sscanf(v, "%u-%u", &x, &y) == 2) {
            f.char_min = x;
            f.char_max = y;
            i++;
        } else if (!strcmp(a, "--words") && v && sscanf(v, "%u", &x) == 1) {
            f.word_max = x;
            i++;
        } else if (!strcmp(a, "--fold-digits")) {
            f.flags |= FZ_MODEL_FOLD_DIGITS;
        } else if (!strcmp(a, "--keep-digits")) {
            f.flags &= ~FZ_MODEL_FOLD_DIGITS;
        } else if (!strcmp(a, "--chars-non-ascii")) {
            f.flags |= FZ_MODEL_CHARS_NON_ASCII;
        } else if (!strcmp(a, "--max-chars") && v && sscanf(v, "%u", &x) == 1) {
            f.max_chars = x;
            i++;
        } else if (!strcmp(a, "--c") && v && parse_double(v, 1e-6, 1e6, &C) == 0) {
            i++;
        } else if (!strcmp(a, "--pos-weight") && v &&
                   parse_double(v, 1e-3, 1e3, &pos_weight) == 0) {
            i++;
        } else if (!strcmp(a, "--threshold") && v && parse_double(v, 0, 1, &threshold) == 0) {
            i++;
        } else if (a[0] != '-') {
            paths[npaths++] = argv[i];
        } else {
            fprintf(stderr, "fanzha model train: bad option or value: %s%s%s\n", a, v ? " " : "",
                    v ? v : "");
            free(paths);
            return train_usage();
        }
    }
    if (!out || npaths == 0) {
        free(paths);
        return train_usage();
    }
    char err[512];
    if (fz_model_features_check(&f, err, sizeof(err)) != 0) {
        fprintf(stderr, "fanzha model train: %s\n", err);
        free(paths);
        return 2;
    }
    corpus_set cs;
    int rc = 1;
    struct feature_node **x = NULL, *nodes = NULL;
    double *y = NULL, *w = NULL;
    uint32_t *scratch = NULL;
    struct model *lm = NULL;
    uint8_t *file = NULL;
    if (corpora_read(&cs, paths, npaths, err, sizeof(err)) != 0) goto fail;
    size_t total = 0, maxn = 0, npos = 0, rows = 0;
    for (size_t i = 0; i < cs.n; i++) {
        rows += cs.v[i].weight;
        total += ngram_cap(cs.v[i].n) + 2;
        if (cs.v[i].n > maxn) maxn = cs.v[i].n;
        npos += cs.v[i].label;
    }
    if (npos == 0 || npos == cs.n) {
        snprintf(err, sizeof(err), "the corpora need examples of both labels (%zu fraud, %zu not)",
                 npos, cs.n - npos);
        goto fail;
    }
    if (rows > INT32_MAX || total > (size_t)INT32_MAX) {
        snprintf(err, sizeof(err), "too many examples");
        goto fail;
    }
    x = malloc(rows * sizeof(*x));
    y = malloc(rows * sizeof(*y));
    nodes = malloc(total * sizeof(*nodes));
    scratch = malloc(ngram_cap(maxn) * sizeof(uint32_t));
    if (!x || !y || !nodes || !scratch) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    bucket_list bl = {scratch, 0, ngram_cap(maxn)};
    size_t used = 0, row = 0;
    for (size_t i = 0; i < cs.n; i++) {
        struct feature_node *v = nodes + used;
        used += vectorise(&f, cs.v[i].norm, cs.v[i].n, &bl, v);
        for (unsigned k = 0; k < cs.v[i].weight; k++, row++) { /* the same vector again */
            x[row] = v;
            y[row] = cs.v[i].label ? 1 : -1;
        }
    }
    size_t nw = (size_t)1 << f.bits;
    struct problem prob = {.l = (int)rows, .n = (int)nw + 1, .y = y, .x = x, .bias = 1.0};
    int wl[1] = {1};
    double wv[1] = {pos_weight};
    struct parameter param = {.solver_type = L2R_LR,
                              .eps = 0.01,
                              .C = C,
                              .nr_weight = pos_weight != 1.0,
                              .weight_label = wl,
                              .weight = wv,
                              .p = 0.1,
                              .init_sol = NULL};
    const char *perr = check_parameter(&prob, &param);
    if (perr) {
        snprintf(err, sizeof(err), "liblinear: %s", perr);
        goto fail;
    }
    set_print_string_function(quiet);
    srand(1); /* liblinear's solvers that shuffle use rand(); solver 0 does not */
    lm = train(&prob, &param);
    if (!lm || lm->nr_class != 2) {
        snprintf(err, sizeof(err), "liblinear: training failed");
        goto fail;
    }
    /* w's sign follows the first label liblinear saw: make it "fraud" */
    double sign = lm->label[0] == 1 ? 1.0 : -1.0;
    w = malloc(nw * sizeof(double));
    if (!w) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nw; i++) w[i] = sign * lm->w[i];
    double bias = sign * lm->w[nw];
    char bound[48];
    fz_buf meta;
    fz_buf_init(&meta, FZ_MODEL_MAX_META);
    fz_buf_printf(&meta,
                  "trained by fanzha %s with liblinear %d: L2-regularised logistic regression "
                  "(solver 0), C %g, eps 0.01, fraud weight %g\n"
                  "features: 2^%u buckets, character %u-%u-grams%s, word 1-%u-grams, digits %s, "
                  "%s scored\n"
                  "examples: %zu (%zu fraud), %zu training rows with their weights\n",
                  FZ_VERSION, liblinear_version, C, pos_weight, f.bits, f.char_min, f.char_max,
                  f.flags & FZ_MODEL_CHARS_NON_ASCII ? " (ending in a non-ASCII character)" : "",
                  f.word_max, f.flags & FZ_MODEL_FOLD_DIGITS ? "folded" : "kept",
                  scored_desc(&f, bound, sizeof(bound)), cs.n, npos, rows);
    fz_buf_put(&meta, cs.meta.p, cs.meta.len);
    fz_buf_putc(&meta, '\0');
    fz_model_spec spec = {f, bias, w, threshold, meta.failed ? "" : meta.p};
    size_t flen;
    file = fz_model_serialize(&spec, &flen, err, sizeof(err));
    fz_buf_free(&meta);
    if (!file) goto fail;
    if (write_atomic(out, file, flen, err, sizeof(err)) != 0) goto fail;
    fz_model *m = fz_model_parse(out, file, flen, err, sizeof(err));
    if (!m) goto fail;
    printf("wrote %s: %s, %zu bytes, %zu examples (%zu fraud), 2^%u buckets\n", out,
           fz_model_version(m), flen, cs.n, npos, f.bits);
    fz_model_destroy(m);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "fanzha model train: %s\n", err);
done:
    if (lm) free_and_destroy_model(&lm);
    free(file);
    free(w);
    free(scratch);
    free(nodes);
    free(x);
    free(y);
    corpus_set_free(&cs);
    free(paths);
    return rc;
}

/* ---- eval, info ---- */

static fz_model *model_load(const char *path, char *err, size_t errsz) {
    size_t len;
    char *buf = read_file(path, &len, MODEL_FILE_MAX_BYTES, err, errsz);
    if (!buf) return NULL;
    fz_model *m = fz_model_parse(path, (const uint8_t *)buf, len, err, errsz);
    free(buf);
    return m;
}

static int64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct scored {
    double s;
    int label;
} scored;

static int cmp_scored(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return x < y ? -1 : x > y;
}

/* ROC AUC: the probability that a random fraud example scores above a
 * random other one (ties count half). Sorts v. */
static double roc_auc(scored *v, size_t n, size_t npos) {
    qsort(v, n, sizeof(*v), cmp_scored);
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double mid = (double)(i + j + 1) / 2.0; /* mean 1-based rank of the tie */
        for (size_t k = i; k < j; k++)
            if (v[k].label) rank_sum += mid;
        i = j;
    }
    size_t nneg = n - npos;
    if (!npos || !nneg) return NAN;
    return (rank_sum - (double)npos * (double)(npos + 1) / 2.0) / ((double)npos * (double)nneg);
}

static int cmd_eval(int argc, char **argv) {
    const char *model = NULL;
    double thr = -1;
    int scores = 0, npaths = 0;
    long rounds = 1;
    char **paths = calloc((size_t)argc + 1, sizeof(char *));
    if (!paths) return 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--scores"))
            scores = 1;
        else if (!strcmp(argv[i], "--threshold") && i + 1 < argc &&
                 parse_double(argv[i + 1], 0, 1, &thr) == 0)
            i++;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc &&
                 (rounds = strtol(argv[i + 1], NULL, 10)) >= 1 && rounds <= 1000)
            i++;
        else if (argv[i][0] == '-') {
            free(paths);
            fprintf(stderr, "usage: fanzha model eval MODEL CORPUS... [--threshold T] "
                            "[--scores] [--rounds N]\n");
            return 2;
        } else if (!model)
            model = argv[i];
        else
            paths[npaths++] = argv[i];
    }
    if (!model || !npaths) {
        free(paths);
        fprintf(
            stderr,
            "usage: fanzha model eval MODEL CORPUS... [--threshold T] [--scores] [--rounds N]\n");
        return 2;
    }
    char err[512];
    corpus_set cs;
    memset(&cs, 0, sizeof(cs));
    scored *v = NULL;
    int rc = 1;
    fz_model *m = model_load(model, err, sizeof(err));
    if (!m || corpora_read(&cs, paths, npaths, err, sizeof(err)) != 0) goto fail;
    if (thr < 0) thr = fz_model_threshold(m);
    v = malloc((cs.n ? cs.n : 1) * sizeof(*v));
    if (!v) goto fail;
    size_t tp = 0, fp = 0, tn = 0, fn = 0;
    /* the thread's CPU time, not the wall clock: other processes on the
     * machine do not count; the fastest round is the least disturbed */
    int64_t best = INT64_MAX;
    for (long round = 0; round < rounds; round++) {
        int64_t t0 = thread_cpu_ns();
        for (size_t i = 0; i < cs.n; i++) v[i].s = fz_model_score(m, cs.v[i].norm, cs.v[i].n);
        int64_t t = thread_cpu_ns() - t0;
        if (t < best) best = t;
    }
    for (size_t i = 0; i < cs.n; i++) {
        v[i].label = cs.v[i].label;
        int hit = v[i].s >= thr;
        tp += hit && v[i].label;
        fp += hit && !v[i].label;
        tn += !hit && !v[i].label;
        fn += !hit && v[i].label;
        if (scores) printf("%.6f\t%d\n", v[i].s, v[i].label);
    }
    double prec = tp + fp ? (double)tp / (double)(tp + fp) : 0;
    double rec = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    double fpr = fp + tn ? (double)fp / (double)(fp + tn) : 0;
    double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
    double acc = cs.n ? (double)(tp + tn) / (double)cs.n : 0;
    double auc = roc_auc(v, cs.n, tp + fn);
    FILE *o = scores ? stderr : stdout;
    fprintf(o, "model %s (%s), threshold %.4f, %zu examples (%zu fraud, %zu not)\n", model,
            fz_model_version(m), thr, cs.n, tp + fn, fp + tn);
    fprintf(o, "tp %zu fp %zu tn %zu fn %zu\n", tp, fp, tn, fn);
    fprintf(o, "precision %.4f recall %.4f fpr %.4f f1 %.4f accuracy %.4f roc_auc %.4f\n", prec,
            rec, fpr, f1, acc, auc);
    size_t bytes = 0;
    for (size_t i = 0; i < cs.n; i++) bytes += cs.v[i].n;
    fprintf(o,
            "scoring: %.3f us CPU per example (fastest of %ld round(s); mean %.0f bytes of "
            "normalised text)\n",
            cs.n ? (double)best / 1e3 / (double)cs.n : 0.0, rounds,
            cs.n ? (double)bytes / (double)cs.n : 0.0);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "fanzha model eval: %s\n", err);
done:
    free(v);
    corpus_set_free(&cs);
    fz_model_destroy(m);
    free(paths);
    return rc;
}

static int cmd_info(int argc, char **argv) {
    if (argc != 1) {
        fprintf(stderr, "usage: fanzha model info MODEL\n");
        return 2;
    }
    char err[512];
    fz_model *m = model_load(argv[0], err, sizeof(err));
    if (!m) {
        fprintf(stderr, "fanzha model info: %s\n", err);
        return 1;
    }
    const fz_model_features *f = fz_model_config(m);
    char bound[48];
    printf("%s: %s, format %u, 2^%u buckets, character %u-%u-grams%s, word 1-%u-grams, digits %s, "
           "%s scored, threshold %.4f\n%s",
           argv[0], fz_model_version(m), fz_model_format(m), f->bits, f->char_min, f->char_max,
           f->flags & FZ_MODEL_CHARS_NON_ASCII ? " (ending in a non-ASCII character)" : "",
           f->word_max, f->flags & FZ_MODEL_FOLD_DIGITS ? "folded" : "kept",
           scored_desc(f, bound, sizeof(bound)), fz_model_threshold(m), fz_model_meta(m));
    fz_model_destroy(m);
    return 0;
}

int fz_model_cmd(int argc, char **argv) {
    if (argc >= 1 && !strcmp(argv[0], "train")) return cmd_train(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "eval")) return cmd_eval(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "info")) return cmd_info(argc - 1, argv + 1);
    fprintf(stderr,
            "usage: fanzha model train CORPUS... -o FILE [options]   (--help: "
            "'fanzha model train')\n"
            "       fanzha model eval MODEL CORPUS... [--threshold T] [--scores] [--rounds N]\n"
            "       fanzha model info MODEL\n");
    return 2;
}
