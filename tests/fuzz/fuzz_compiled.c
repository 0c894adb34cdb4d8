/*
 * fuzz_compiled.c - libFuzzer target for the compiled-ruleset loader
 * (artifact.c's container, rules.c's body). Whatever the input, a load
 * must either succeed or fail with a diagnostic naming the file; it must
 * never crash, hang or leak.
 *
 * The first byte of the input picks what the rest is:
 *   0  a whole compiled file, loaded as it is, with the test key trusted
 *      and with no key (raw mutations: the signature, or the digest,
 *      refuses nearly all of them - as they must);
 *   1  a body (rules.c's layout), re-signed with the test key by the
 *      harness, so the parser behind the signature check sees every
 *      mutated framing, length, count, id and source;
 *   2  a list of edits (u32 offset, u8 xor; 5 bytes each) applied to the
 *      body of the genuine file, then re-signed as in 1 (small inputs
 *      that reach deep, whatever host the genuine file was built on).
 * In 1 and 2 every database blob the loader will deserialise is replaced
 * by the genuine blob of the same index (or an empty one): Hyperscan's
 * deserialiser trusts its bytes, and in fanzha only signed (or, without a
 * key, digest-checked) bytes ever reach it - the same guarantee, kept by
 * the harness. What stays trusted is documented in docs/rules.md.
 *
 * The genuine file is compiled at start-up from FANZHA_FUZZ_COMPILED_RULES
 * (default tests/integration/rules, relative to the repository root) and
 * signed with a fixed test key. FANZHA_FUZZ_COMPILED_SEEDS=DIR writes the
 * seed corpus (tests/fuzz/corpus/compiled) for this host into DIR;
 * FANZHA_FUZZ_COMPILED_STATS=1 prints, at exit, how many loads of each
 * kind succeeded (is the fuzzing getting past the checks?).
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "rules.h"

static fz_signkey *g_key;
static fz_keyring *g_trust;
static uint8_t *g_file; /* the genuine artifact */
static size_t g_file_len;
static const uint8_t *g_body;
static size_t g_body_len;
static struct {
    const uint8_t *p;
    size_t n;
} g_blobs[64];
static size_t g_nblobs;
static unsigned long g_loads[2][2]; /* [trusted][loaded] */

static void print_stats(void) {
    fprintf(stderr,
            "fuzz_compiled: with the test key %lu loaded, %lu refused; without a key %lu "
            "loaded, %lu refused\n",
            g_loads[1][1], g_loads[1][0], g_loads[0][1], g_loads[0][0]);
}

/* A reader/writer pair walking a body exactly as rules.c's loader does. */
typedef struct walk {
    const uint8_t *p, *end;
    uint8_t *out;
    size_t len, cap;
    int done; /* input ended: the loader fails here too */
} walk;

static void put(walk *w, const void *p, size_t n) {
    if (w->len + n > w->cap || !w->out) {
        size_t c = w->cap ? w->cap : 4096;
        while (c < w->len + n) c *= 2;
        w->out = realloc(w->out, c);
        if (!w->out) abort();
        w->cap = c;
    }
    if (n) memcpy(w->out + w->len, p, n);
    w->len += n;
}

/* Copy n bytes through; 0, or -1 (and the rest copied) at the end. */
static int copy(walk *w, size_t n) {
    if (w->done || (size_t)(w->end - w->p) < n) {
        if (!w->done) put(w, w->p, (size_t)(w->end - w->p));
        w->p = w->end;
        w->done = 1;
        return -1;
    }
    put(w, w->p, n);
    w->p += n;
    return 0;
}

static uint64_t peek64(const walk *w) {
    uint64_t v = 0;
    if ((size_t)(w->end - w->p) >= 8) memcpy(&v, w->p, 8);
    return v;
}
static uint32_t peek32(const walk *w) {
    uint32_t v = 0;
    if ((size_t)(w->end - w->p) >= 4) memcpy(&v, w->p, 4);
    return v;
}

static int copy_blob(walk *w) {
    uint64_t n = peek64(w);
    if (copy(w, 8) != 0) return -1;
    return copy(w, n > (uint64_t)(w->end - w->p) ? (size_t)(w->end - w->p) + 1 : (size_t)n);
}

/* The body with every database blob replaced by the genuine one; the
 * caller frees *out. Also used on the genuine body to find its blobs. */
static uint8_t *normalise(const uint8_t *body, size_t n, size_t *out_len, int record) {
    walk w = {body, body + n, NULL, 0, 0, 0};
    put(&w, "", 0);
    if (copy(&w, 4) || copy_blob(&w) || copy_blob(&w)) goto out;
    uint32_t nsrc = peek32(&w);
    if (copy(&w, 4)) goto out;
    for (uint32_t i = 0; i < nsrc; i++)
        if (copy_blob(&w) || copy(&w, 1) || copy_blob(&w)) goto out;
    uint32_t ndbs = peek32(&w);
    if (copy(&w, 4)) goto out;
    for (uint32_t i = 0; i < ndbs; i++) {
        if (copy(&w, 4 * 4 + 8)) goto out;
        uint64_t bl = peek64(&w);
        if ((size_t)(w.end - w.p) < 8 || bl > (uint64_t)(w.end - w.p - 8)) {
            /* the loader stops here: the blob is not all there */
            copy(&w, (size_t)(w.end - w.p) + 1);
            goto out;
        }
        if (record && g_nblobs < 64) {
            g_blobs[g_nblobs].p = w.p + 8;
            g_blobs[g_nblobs].n = (size_t)bl;
            g_nblobs++;
        }
        w.p += 8 + bl;
        uint64_t gl = i < g_nblobs ? g_blobs[i].n : 0;
        put(&w, &gl, 8);
        if (gl) put(&w, g_blobs[i].p, (size_t)gl);
    }
    put(&w, w.p, (size_t)(w.end - w.p)); /* trailing bytes: the loader refuses them */
out:
    *out_len = w.len;
    return w.out;
}

static void load(const uint8_t *file, size_t n, const fz_keyring *trust) {
    fz_rule_diags d = {0};
    fz_ruleset *rs = fz_ruleset_load_artifact("fuzz.fzr", file, n, NULL, trust, &d);
    if (!rs && d.errors == 0) abort(); /* a refusal must say why */
    for (size_t i = 0; i < d.n; i++)
        if (!d.v[i].file || !d.v[i].msg || strncmp(d.v[i].file, "fuzz.fzr", 8) != 0) {
            fprintf(stderr, "a diagnostic that does not name the file: %s: %s\n", d.v[i].file,
                    d.v[i].msg);
            abort();
        }
    if (rs && trust && !fz_ruleset_artifact(rs)->signed_ok) abort();
    g_loads[trust != NULL][rs != NULL]++;
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&d);
}

static void resign_and_load(const uint8_t *body, size_t n) {
    size_t nl, fl;
    uint8_t *norm = normalise(body, n, &nl, 0);
    uint8_t *file = fz_artifact_build(norm, nl, 1764288000, g_key, &fl);
    if (!file) abort();
    load(file, fl, g_trust);
    free(file);
    free(norm);
}

static void write_seed(const char *dir, const char *name, uint8_t mode, const void *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) abort();
    fwrite(&mode, 1, 1, fp);
    fwrite(p, 1, n, fp);
    fclose(fp);
}

static void init(void) {
    if (sodium_init() < 0) abort();
    uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
        sk[crypto_sign_SECRETKEYBYTES];
    memset(seed, 0x42, sizeof(seed)); /* the test key: fixed, public, never trusted elsewhere */
    crypto_sign_seed_keypair(pk, sk, seed);
    g_key = fz_signkey_from_bytes(sk);
    g_trust = g_key ? fz_keyring_of(g_key) : NULL;
    const char *dir = getenv("FANZHA_FUZZ_COMPILED_RULES");
    fz_rules_opts o = {.compile = 1};
    fz_rule_diags d = {0};
    fz_ruleset *rs = fz_ruleset_load(dir ? dir : "tests/integration/rules", &o, &d);
    if (!g_trust || !rs) {
        fz_rule_diags_print(&d, stderr);
        fprintf(stderr, "fuzz_compiled: cannot build the genuine file (run from the repository "
                        "root, or set FANZHA_FUZZ_COMPILED_RULES)\n");
        abort();
    }
    g_file = fz_ruleset_artifact_bytes(rs, 1764288000, g_key, &g_file_len);
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&d);
    if (!g_file) abort();
    g_body = g_file + FZ_ARTIFACT_HEADER_BYTES;
    g_body_len = g_file_len - FZ_ARTIFACT_HEADER_BYTES - FZ_ARTIFACT_TRAILER_BYTES;
    size_t nl;
    free(normalise(g_body, g_body_len, &nl, 1));
    if (g_nblobs == 0) abort();
    /* the genuine file must load, or the fuzzing never gets past the checks */
    fz_ruleset *ok = fz_ruleset_load_artifact("genuine", g_file, g_file_len, NULL, g_trust, &d);
    if (!ok) {
        fz_rule_diags_print(&d, stderr);
        abort();
    }
    fz_ruleset_unref(ok);
    fz_rule_diags_free(&d);
    if (getenv("FANZHA_FUZZ_COMPILED_STATS")) atexit(print_stats);
    const char *out = getenv("FANZHA_FUZZ_COMPILED_SEEDS");
    if (out) {
        write_seed(out, "genuine-file", 0, g_file, g_file_len);
        write_seed(out, "genuine-body", 1, g_body, g_body_len);
        /* edits: the prefilter flag; a source count; a database's natoms */
        const uint8_t e1[] = {0, 0, 0, 0, 1};
        write_seed(out, "edit-prefilter", 2, e1, sizeof(e1));
        /* the sources version's length field, and the last database's tail */
        uint32_t off = 4 + 8 + (uint32_t)strlen(hs_version());
        uint8_t e2[10];
        memcpy(e2, &off, 4);
        e2[4] = 0x80;
        uint32_t off2 = (uint32_t)(g_body_len - 9);
        memcpy(e2 + 5, &off2, 4);
        e2[9] = 0x01;
        write_seed(out, "edit-version-and-tail", 2, e2, sizeof(e2));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_key) init();
    if (size < 1 || size > (4u << 20)) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        load(p, n, g_trust);
        load(p, n, NULL);
        break;
    case 1: resign_and_load(p, n); break;
    case 2: {
        uint8_t *b = malloc(g_body_len);
        if (!b) abort();
        memcpy(b, g_body, g_body_len);
        for (size_t i = 0; i + 5 <= n && i < 5 * 64; i += 5) {
            uint32_t off;
            memcpy(&off, p + i, 4);
            b[off % g_body_len] ^= p[i + 4];
        }
        resign_and_load(b, g_body_len);
        free(b);
        break;
    }
    }
    return 0;
}
