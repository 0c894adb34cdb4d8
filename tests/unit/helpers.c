/*
 * helpers.c - the harness behind test.h: failure reporting, the seeded
 * random generator, temporary directories, a naive UTF-8 reference and a
 * small strict JSON parser used to check every encoder's output.
 *
 * The reference UTF-8 decoder deliberately works differently from
 * src/utf8.c (decode first, then reject by code-point range), so that the
 * two can serve as each other's oracle.
 */
#include "rules.h"
#include "test.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- failures ---- */

static char g_context[512];
static int g_rand_used;
static uint64_t g_seed, g_state;
static int g_seeded;

static char *g_tmpdirs[64];
static int g_ntmpdirs;
static char *g_paths[256];
static int g_npaths;

static void cleanup(void) {
    for (int i = 0; i < g_ntmpdirs; i++) {
        fz_test_rm_rf(g_tmpdirs[i]);
        free(g_tmpdirs[i]);
    }
    g_ntmpdirs = 0;
    for (int i = 0; i < g_npaths; i++) free(g_paths[i]);
    g_npaths = 0;
}

void fz_test_context(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_context, sizeof(g_context), fmt, ap);
    va_end(ap);
}

void fz_test_fail(const char *file, int line, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    if (g_context[0]) fprintf(stderr, "  context: %s\n", g_context);
    if (g_rand_used)
        fprintf(stderr, "  random seed: FZ_TEST_SEED=%llu\n", (unsigned long long)g_seed);
    fflush(stderr);
    cleanup();
    _exit(1); /* no atexit handlers, no leak report for a test already failed */
}

/* ---- randomness ---- */

static void seed_once(void) {
    if (g_seeded) return;
    const char *s = getenv("FZ_TEST_SEED");
    g_seed = s && *s ? strtoull(s, NULL, 0) : 0x5eed5eedULL;
    g_state = g_seed;
    g_seeded = 1;
}

uint64_t fz_test_seed(void) {
    seed_once();
    return g_seed;
}

uint64_t fz_test_rand(void) {
    seed_once();
    g_rand_used = 1;
    uint64_t z = (g_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t fz_test_rand_below(uint64_t n) { return n ? fz_test_rand() % n : 0; }

/* ---- files ---- */

static void register_exit_cleanup(void) {
    static int done;
    if (!done) {
        atexit(cleanup);
        done = 1;
    }
}

const char *fz_test_tmpdir(void) {
    register_exit_cleanup();
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/fanzha-unit-XXXXXX", base);
    if (!mkdtemp(tmpl)) fz_test_fail(__FILE__, __LINE__, "mkdtemp(%s): %s", tmpl, strerror(errno));
    if (g_ntmpdirs == (int)(sizeof(g_tmpdirs) / sizeof(g_tmpdirs[0])))
        fz_test_fail(__FILE__, __LINE__, "too many temporary directories");
    g_tmpdirs[g_ntmpdirs] = strdup(tmpl);
    return g_tmpdirs[g_ntmpdirs++];
}

const char *fz_test_write(const char *dir, const char *name, const void *data, size_t n) {
    register_exit_cleanup();
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0) fz_test_fail(__FILE__, __LINE__, "asprintf");
    for (char *p = path + strlen(dir) + 1; *p; p++) /* parents of name */
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                fz_test_fail(__FILE__, __LINE__, "mkdir(%s): %s", path, strerror(errno));
            *p = '/';
        }
    FILE *fp = fopen(path, "wb");
    if (!fp) fz_test_fail(__FILE__, __LINE__, "fopen(%s): %s", path, strerror(errno));
    if (n && fwrite(data, 1, n, fp) != n) fz_test_fail(__FILE__, __LINE__, "fwrite(%s)", path);
    if (fclose(fp) != 0) fz_test_fail(__FILE__, __LINE__, "fclose(%s)", path);
    if (g_npaths < (int)(sizeof(g_paths) / sizeof(g_paths[0]))) g_paths[g_npaths++] = path;
    return path; /* when the table is full the string is simply kept */
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

void fz_test_rm_rf(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* ---- naive UTF-8 ---- */

size_t tu_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0) return 0;
    size_t len;
    uint32_t v;
    if ((s[0] & 0x80) == 0x00) {
        len = 1;
        v = s[0];
    } else if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        v = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        v = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        v = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min_cp[len]) return 0;            /* overlong */
    if (v >= 0xD800 && v <= 0xDFFF) return 0; /* surrogate */
    if (v > 0x10FFFF) return 0;               /* beyond Unicode */
    *cp = v;
    return len;
}

int tu_valid(const unsigned char *s, size_t n, size_t *bad) {
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        size_t l = tu_decode(s + i, n - i, &cp);
        if (!l) {
            if (bad) *bad = i;
            return 0;
        }
        i += l;
    }
    return 1;
}

size_t tu_encode(uint32_t cp, unsigned char out[4]) {
    if (cp <= 0x7F) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    size_t len = cp <= 0x7FF ? 2 : cp <= 0xFFFF ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (size_t i = len - 1; i > 0; i--) {
        out[i] = (unsigned char)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    out[0] = (unsigned char)(lead[len] | cp);
    return len;
}

/* ---- base64 ---- */

/* Naive RFC 4648 decoder for the oracle; -1 on any malformed input. */
long tb64_decode(const char *s, size_t n, unsigned char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n % 4) return -1;
    long o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            const char *c = s[i + k] ? strchr(tab, s[i + k]) : NULL;
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (c && !pad) {
                v[k] = (int)(c - tab);
            } else {
                return -1;
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2) out[o++] = (unsigned char)(w >> 8);
        if (pad < 1) out[o++] = (unsigned char)w;
    }
    return o;
}

/* ---- strict JSON ---- */

int tj_allow_duplicate_keys;

typedef struct jp {
    const unsigned char *s;
    size_t n, i;
    int depth;
    char *err;
    size_t errsz;
    int failed;
} jp;

static void jfail(jp *p, const char *why) {
    if (!p->failed) snprintf(p->err, p->errsz, "%s at byte %zu", why, p->i);
    p->failed = 1;
}

static void jws(jp *p) {
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static tj *jnew(tj_type t) {
    tj *v = calloc(1, sizeof(*v));
    if (!v) abort();
    v->type = t;
    return v;
}

static void jappend(char **buf, size_t *len, size_t *cap, const void *d, size_t n) {
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap) *cap = *cap ? *cap * 2 : 32;
        *buf = realloc(*buf, *cap);
        if (!*buf) abort();
    }
    memcpy(*buf + *len, d, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static int jhex4(jp *p, uint32_t *out) {
    uint32_t v = 0;
    if (p->i + 4 > p->n) return -1;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p->s[p->i + k];
        int h = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (h < 0) return -1;
        v = v * 16 + (uint32_t)h;
    }
    p->i += 4;
    *out = v;
    return 0;
}

/* At the opening quote; returns the decoded string (malloc'ed) or NULL. */
static char *jstring(jp *p, size_t *outlen) {
    char *buf = NULL;
    size_t len = 0, cap = 0;
    p->i++; /* opening quote */
    jappend(&buf, &len, &cap, "", 0);
    for (;;) {
        if (p->i >= p->n) {
            jfail(p, "unterminated string");
            break;
        }
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            *outlen = len;
            return buf;
        }
        if (c < 0x20) {
            jfail(p, "raw control character in string");
            break;
        }
        if (c == '\\') {
            p->i++;
            if (p->i >= p->n) {
                jfail(p, "unterminated escape");
                break;
            }
            unsigned char e = p->s[p->i++];
            const char *simple = NULL;
            switch (e) {
            case '"': simple = "\""; break;
            case '\\': simple = "\\"; break;
            case '/': simple = "/"; break;
            case 'b': simple = "\b"; break;
            case 'f': simple = "\f"; break;
            case 'n': simple = "\n"; break;
            case 'r': simple = "\r"; break;
            case 't': simple = "\t"; break;
            case 'u': break;
            default: jfail(p, "bad escape"); goto fail;
            }
            if (simple) {
                jappend(&buf, &len, &cap, simple, 1);
                continue;
            }
            uint32_t cp, lo;
            if (jhex4(p, &cp)) {
                jfail(p, "bad \\u escape");
                break;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                jfail(p, "lone low surrogate");
                break;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->i + 2 > p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
                    jfail(p, "lone high surrogate");
                    break;
                }
                p->i += 2;
                if (jhex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    jfail(p, "bad surrogate pair");
                    break;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            unsigned char u[4];
            jappend(&buf, &len, &cap, u, tu_encode(cp, u));
            continue;
        }
        uint32_t cp;
        size_t l = tu_decode(p->s + p->i, p->n - p->i, &cp);
        if (!l) {
            jfail(p, "invalid UTF-8 in string");
            break;
        }
        jappend(&buf, &len, &cap, p->s + p->i, l);
        p->i += l;
    }
fail:
    free(buf);
    return NULL;
}

static int isdig(unsigned char c) { return c >= '0' && c <= '9'; }

static tj *jvalue(jp *p);

static tj *jnumber(jp *p) {
    size_t st = p->i;
    if (p->i < p->n && p->s[p->i] == '-') p->i++;
    if (p->i < p->n && p->s[p->i] == '0') {
        p->i++;
    } else if (p->i < p->n && p->s[p->i] >= '1' && p->s[p->i] <= '9') {
        while (p->i < p->n && isdig(p->s[p->i])) p->i++;
    } else {
        jfail(p, "bad number");
        return NULL;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || !isdig(p->s[p->i])) {
            jfail(p, "bad fraction");
            return NULL;
        }
        while (p->i < p->n && isdig(p->s[p->i])) p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        if (p->i >= p->n || !isdig(p->s[p->i])) {
            jfail(p, "bad exponent");
            return NULL;
        }
        while (p->i < p->n && isdig(p->s[p->i])) p->i++;
    }
    tj *v = jnew(TJ_NUM);
    v->len = p->i - st;
    v->str = malloc(v->len + 1);
    if (!v->str) abort();
    memcpy(v->str, p->s + st, v->len);
    v->str[v->len] = '\0';
    return v;
}

static void jpush(tj *v, tj *kid, char *key) {
    v->kids = realloc(v->kids, (v->n + 1) * sizeof(tj *));
    if (!v->kids) abort();
    v->kids[v->n] = kid;
    if (v->type == TJ_OBJ) {
        v->keys = realloc(v->keys, (v->n + 1) * sizeof(char *));
        if (!v->keys) abort();
        v->keys[v->n] = key;
    }
    v->n++;
}

static tj *jcontainer(jp *p, int obj) {
    tj *v = jnew(obj ? TJ_OBJ : TJ_ARR);
    p->i++;
    if (++p->depth > 128) {
        jfail(p, "nesting too deep");
        goto fail;
    }
    jws(p);
    if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
        p->i++;
        p->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        jws(p);
        if (obj) {
            size_t kl;
            if (p->i >= p->n || p->s[p->i] != '"') {
                jfail(p, "expected a string key");
                goto fail;
            }
            if (!(key = jstring(p, &kl))) goto fail;
            for (size_t k = 0; k < v->n && !tj_allow_duplicate_keys; k++)
                if (strcmp(v->keys[k], key) == 0) {
                    free(key);
                    jfail(p, "duplicate key");
                    goto fail;
                }
            jws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                jfail(p, "expected ':'");
                goto fail;
            }
            p->i++;
        }
        tj *kid = jvalue(p);
        if (!kid) {
            free(key);
            goto fail;
        }
        jpush(v, kid, key);
        jws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
            p->i++;
            p->depth--;
            return v;
        }
        jfail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        goto fail;
    }
fail:
    tj_free(v);
    return NULL;
}

static tj *jvalue(jp *p) {
    jws(p);
    if (p->i >= p->n) {
        jfail(p, "unexpected end");
        return NULL;
    }
    unsigned char c = p->s[p->i];
    if (c == '{' || c == '[') return jcontainer(p, c == '{');
    if (c == '"') {
        size_t l;
        char *s = jstring(p, &l);
        if (!s) return NULL;
        tj *v = jnew(TJ_STR);
        v->str = s;
        v->len = l;
        return v;
    }
    static const struct {
        const char *lit;
        tj_type t;
    } lits[] = {{"null", TJ_NULL}, {"true", TJ_TRUE}, {"false", TJ_FALSE}};
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(lits[k].lit);
        if (p->n - p->i >= l && memcmp(p->s + p->i, lits[k].lit, l) == 0) {
            p->i += l;
            return jnew(lits[k].t);
        }
    }
    if (c == '-' || isdig(c)) return jnumber(p);
    jfail(p, "unexpected character");
    return NULL;
}

tj *tj_parse(const char *s, size_t n, char *err, size_t errsz) {
    jp p = {(const unsigned char *)s, n, 0, 0, err, errsz, 0};
    tj *v = jvalue(&p);
    if (!v) return NULL;
    jws(&p);
    if (p.i != p.n) {
        jfail(&p, "trailing data");
        tj_free(v);
        return NULL;
    }
    return v;
}

void tj_free(tj *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        tj_free(v->kids[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->kids);
    free(v->keys);
    free(v->str);
    free(v);
}

const tj *tj_get(const tj *v, const char *path) {
    char part[256];
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t l = dot ? (size_t)(dot - path) : strlen(path);
        if (l >= sizeof(part)) return NULL;
        memcpy(part, path, l);
        part[l] = '\0';
        path += l + (dot ? 1 : 0);
        const tj *next = NULL;
        if (v->type == TJ_OBJ) {
            for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->keys[i], part) == 0) next = v->kids[i];
        } else if (v->type == TJ_ARR) {
            char *end;
            unsigned long idx = strtoul(part, &end, 10);
            if (*end == '\0' && idx < v->n) next = v->kids[idx];
        }
        v = next;
    }
    return v;
}

int tj_is_str(const tj *v, const char *s) {
    return v && v->type == TJ_STR && v->len == strlen(s) && memcmp(v->str, s, v->len) == 0;
}

int tj_int(const tj *v, int64_t *out) {
    if (!v || v->type != TJ_NUM) return 0;
    for (size_t i = 0; i < v->len; i++)
        if (v->str[i] == '.' || v->str[i] == 'e' || v->str[i] == 'E') return 0;
    errno = 0;
    long long x = strtoll(v->str, NULL, 10);
    if (errno) return 0;
    *out = x;
    return 1;
}

struct fz_ruleset *fz_test_load_rules(const char *dir) {
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(dir, NULL, &diags);
    if (!rs) {
        fz_rule_diags_print(&diags, stderr);
        fz_test_fail(__FILE__, __LINE__, "rules in %s did not load", dir);
    }
    fz_rule_diags_free(&diags);
    return rs;
}

void fz_test_pipe_open(fz_test_pipe *f, const char *rules_yaml, int64_t dedup_window_ms) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "r.yaml", rules_yaml);
    f->rs = fz_test_load_rules(dir);
    char err[256];
    f->p = fz_pipeline_new(1 << 17, 0, err, sizeof(err));
    if (!f->p || fz_pipeline_bind(f->p, f->rs, err, sizeof(err)) != 0)
        fz_test_fail(__FILE__, __LINE__, "pipeline: %s", err);
    fz_stores_config sc = {1024, 0, dedup_window_ms, 0, 0, 0, 0};
    if (fz_stores_init(&f->st, &sc, 0, err, sizeof(err)) != 0)
        fz_test_fail(__FILE__, __LINE__, "stores: %s", err);
    fz_buf_init(&f->b, 1 << 20);
}

void fz_test_pipe_close(fz_test_pipe *f) {
    fz_buf_free(&f->b);
    fz_stores_destroy(&f->st);
    fz_pipeline_destroy(f->p);
    fz_ruleset_unref(f->rs);
}
