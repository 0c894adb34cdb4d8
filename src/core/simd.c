/*
 * simd.c - see simd.h. The level lives in one atomic int, -1 until the
 * first fz_simd_level_get() reads the CPU's features and FANZHA_SIMD.
 */
#include "simd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static _Atomic int g_level = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static const char *const level_names[FZ_SIMD_LEVEL_COUNT] = {"scalar", "sse4.2", "avx2"};

const char *fz_simd_level_name(fz_simd_level level) {
    return (unsigned)level < FZ_SIMD_LEVEL_COUNT ? level_names[level] : "unknown";
}

int fz_simd_level_parse(const char *s, fz_simd_level *out) {
    static const struct {
        const char *name;
        int level; /* -1: the best */
    } names[] = {{"off", FZ_SIMD_SCALAR},
                 {"scalar", FZ_SIMD_SCALAR},
                 {"none", FZ_SIMD_SCALAR},
                 {"sse4.2", FZ_SIMD_SSE42},
                 {"sse42", FZ_SIMD_SSE42},
                 {"avx2", FZ_SIMD_AVX2},
                 {"auto", -1}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].level < 0 ? fz_simd_level_best() : (fz_simd_level)names[i].level;
            return 0;
        }
    return -1;
}

fz_simd_level fz_simd_level_best(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    /* (libgcc sets avx2 only when the OS saves the YMM registers) */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("sse4.2")) return FZ_SIMD_AVX2;
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("ssse3")) return FZ_SIMD_SSE42;
#endif
    return FZ_SIMD_SCALAR;
}

static fz_simd_level clamp(fz_simd_level want) {
    fz_simd_level best = fz_simd_level_best();
    return (unsigned)want < FZ_SIMD_LEVEL_COUNT && want < best ? want : best;
}

static void level_init(void) {
    fz_simd_level level = fz_simd_level_best();
    const char *env = getenv("FANZHA_SIMD");
    if (env && env[0]) {
        fz_simd_level want;
        if (fz_simd_level_parse(env, &want) == 0)
            level = clamp(want);
        else
            fz_log(FZ_LOG_WARN, "FANZHA_SIMD=%s is not off, sse4.2, avx2 or auto: using %s", env,
                   fz_simd_level_name(level));
    }
    atomic_store_explicit(&g_level, (int)level, memory_order_relaxed);
}

fz_simd_level fz_simd_level_get(void) {
    int level = atomic_load_explicit(&g_level, memory_order_relaxed);
    if (FZ_UNLIKELY(level < 0)) {
        pthread_once(&g_once, level_init);
        level = atomic_load_explicit(&g_level, memory_order_relaxed);
    }
    return (fz_simd_level)level;
}

fz_simd_level fz_simd_set_level(fz_simd_level want) {
    pthread_once(&g_once, level_init); /* FANZHA_SIMD is read once, and never overrides this */
    fz_simd_level level = clamp(want);
    atomic_store_explicit(&g_level, (int)level, memory_order_relaxed);
    return level;
}
