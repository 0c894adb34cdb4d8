/*
 * simd.h - which vector instructions the byte scanners use.
 *
 * The decoder (event.c), the UTF-8 check (utf8.c) and the normaliser
 * (norm.c) each have one scalar path and, on x86-64, SSE4.2 and AVX2 paths
 * of their inner loops, which give the same results byte for byte. The
 * level is chosen once, on first use: the best the CPU has, unless the
 * environment variable FANZHA_SIMD says otherwise (off, sse4.2, avx2 or
 * auto; a level the CPU lacks falls back to the next one down). Each module
 * then picks its functions by level once per call (per event, per field),
 * never per byte.
 *
 * Tests and benchmarks switch levels with fz_simd_set_level() to run the
 * same inputs through every path.
 */
#ifndef FZ_SIMD_H
#define FZ_SIMD_H

typedef enum fz_simd_level {
    FZ_SIMD_SCALAR = 0, /* the baseline: portable C, eight bytes at a time at most */
    FZ_SIMD_SSE42,      /* 16 bytes at a time (SSE4.2, with SSSE3's pshufb) */
    FZ_SIMD_AVX2,       /* 32 bytes at a time */
    FZ_SIMD_LEVEL_COUNT
} fz_simd_level;

/* The level in use. Cheap (one relaxed load) after the first call. */
fz_simd_level fz_simd_level_get(void);

/* The best level this CPU (and OS) supports. */
fz_simd_level fz_simd_level_best(void);

/* Use want, or the best supported level below it; returns the level now in
 * use. Any thread may call it; a decode already running in another thread
 * finishes on the level it started with. Meant for tests, benchmarks and
 * start-up, not for switching back and forth under load. */
fz_simd_level fz_simd_set_level(fz_simd_level want);

/* "scalar", "sse4.2", "avx2". */
const char *fz_simd_level_name(fz_simd_level level);

/* Parse a FANZHA_SIMD value: off|scalar|none, sse4.2|sse42, avx2, auto
 * (auto: the best level). Returns 0, or -1 when s is none of these. */
int fz_simd_level_parse(const char *s, fz_simd_level *out);

#endif
