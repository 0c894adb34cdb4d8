/*
 * fuzz_model.c - libFuzzer target for the text scorer's model files and
 * scoring (model.h). The first byte picks what the rest is:
 *   0: a model file as found on disk: parsed; when accepted, it scores a
 *      few texts;
 *   1: a text: scored by a fixed valid model (all feature kinds on, the
 *      first 64 characters);
 *   2: edits to a valid model file - (offset, byte) pairs - after which
 *      the checksum is recomputed, so the parser's checks behind the
 *      checksum (sizes, feature settings, doubles) are reached.
 * Invariants beyond "no crash": a refused file always says why, naming
 * the file; an accepted one scores in [0, 1] (never NaN); scoring counts
 * exactly the n-grams fz_model_ngrams() emits.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "model.h"

static uint8_t *g_valid;
static size_t g_valid_len;
static fz_model *g_model;

static void init(void) {
    /* a bound on the scored characters: a format 2 file, and texts longer than it */
    fz_model_features f = {10, 1, 3, 2, FZ_MODEL_FOLD_DIGITS | FZ_MODEL_CHARS_NON_ASCII, 64};
    static double w[1024];
    for (int i = 0; i < 1024; i++) w[i] = ((i * 7919) % 201 - 100) / 25.0;
    fz_model_spec spec = {f, -0.5, w, 0.5, "fuzz seed model"};
    char err[256];
    g_valid = fz_model_serialize(&spec, &g_valid_len, err, sizeof(err));
    g_model = g_valid ? fz_model_parse("seed.fzm", g_valid, g_valid_len, err, sizeof(err)) : NULL;
    if (!g_model) {
        fprintf(stderr, "fuzz_model: set-up: %s\n", err);
        abort();
    }
}

static void count_one(void *ctx, uint32_t bucket) {
    (void)bucket;
    ++*(size_t *)ctx;
}

static void check_scores(const fz_model *m, const char *text, size_t n) {
    double s = fz_model_score(m, text, n);
    if (!(s >= 0 && s <= 1)) abort();
    size_t seen = 0;
    size_t count = fz_model_ngrams(fz_model_config(m), text, n, count_one, &seen);
    if (seen != count) abort();
}

static void try_parse(const uint8_t *buf, size_t len) {
    char err[256] = "";
    fz_model *m = fz_model_parse("f.fzm", buf, len, err, sizeof(err));
    if (!m) {
        if (strncmp(err, "f.fzm: ", 7) != 0) abort(); /* refused without naming the file */
        return;
    }
    static const char *const texts[] = {"", "a", "您的账户已被冻结 http://x.cn 123", "\xff\xfe"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        check_scores(m, texts[i], strlen(texts[i]));
    fz_model_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_model) init();
    if (size < 1) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: try_parse(p, n); break;
    case 1: check_scores(g_model, (const char *)p, n); break;
    default: {
        uint8_t *copy = malloc(g_valid_len);
        if (!copy) return 0;
        memcpy(copy, g_valid, g_valid_len);
        for (size_t i = 0; i + 2 < n; i += 3) {
            size_t off = ((size_t)p[i] | (size_t)p[i + 1] << 8) % g_valid_len;
            copy[off] = p[i + 2];
        }
        /* a length other than the file's: cut or keep */
        size_t len = n % 7 == 3 ? g_valid_len / 2 : g_valid_len;
        if (len >= 40) {
            XXH3_state_t *st = XXH3_createState();
            if (st) {
                XXH3_128bits_reset(st);
                XXH3_128bits_update(st, copy, 24);
                XXH3_128bits_update(st, copy + 40, len - 40);
                XXH128_canonical_t c;
                XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
                memcpy(copy + 24, c.digest, 16);
                XXH3_freeState(st);
            }
        }
        try_parse(copy, len);
        free(copy);
    }
    }
    return 0;
}
