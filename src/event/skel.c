/*
 * skel.c - see skel.h.
 *
 * ICU's uspoof_getSkeleton() normalises, allocates and walks its data for
 * each call, which the hot path cannot afford; but the skeleton of a
 * string is, to within the order of combining marks, the skeletons of its
 * characters one after the other. So fz_skel_init() asks ICU once for the
 * skeleton of every assigned code point outside ASCII and CJK (about 50,000
 * calls, 10 ms) and keeps the ones that differ, lower-cased, in a pool of
 * UTF-8 bytes; a two-level table (0x1100 blocks of 256 code points, a
 * block allocated only where some code point maps or is a letter) gives
 * each code point an entry: its skeleton's place in the pool and the
 * classes the word rules need (letter, combining mark, lower-case, looks
 * like a capital I). Built once, read-only after: threads share it.
 *
 * Workload: SMS texts of a few hundred bytes, mostly ASCII. ASCII goes a
 * byte at a time through a class table; other characters cost a decode
 * and two loads. Digit swaps need the whole word (0nline: the letter comes
 * after the digit), so a word is written first and its digits rewritten
 * in place when it ends: every swap is one byte for one byte.
 */
#include "skel.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "common.h"
#include "norm.h"
#include "utf8.h"

/* entry bits: skeleton length, flags, pool offset */
#define E_LEN_MASK 0x1Fu /* bytes of the skeleton (<= SKEL_MAX) */
#define E_MAPPED 0x20u   /* the skeleton differs from the character */
#define E_WORD 0x40u     /* a letter or combining mark: part of a word */
#define E_LETTER 0x80u   /* a letter: the word may swap its digits */
#define E_LOWER 0x100u   /* a lower-case letter (for the I rule) */
#define E_ILIKE 0x200u   /* upper-case with skeleton l: takes the I rule */
#define E_OFF_SHIFT 10
#define SKEL_MAX 31u /* longer skeletons (a few Arabic ligatures) are not used */

#define NBLOCKS (0x110000 >> 8)

static uint32_t *blocks[NBLOCKS]; /* NULL: no entry in those 256 code points */
static char *pool;
static size_t pool_len, pool_cap;
static pthread_once_t skel_once = PTHREAD_ONCE_INIT;
static char skel_err[256];

/* ASCII classes */
#define A_LOWER 1                  /* a-z */
#define A_UPPER 2                  /* A-Z */
#define A_SWAP 4                   /* a digit or symbol that a word with a letter swaps */
#define A_DIGIT 8                  /* 0-9: part of a word */
static unsigned char aclass[256];  /* 0 for bytes >= 0x80 */
static unsigned char swap_to[256]; /* 0 = no swap */

static int is_cjk(uint32_t cp) {
    return (cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
           (cp >= 0xFF61 && cp <= 0xFFDC) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

static uint32_t entry_of(uint32_t cp) {
    const uint32_t *b = cp < 0x110000 ? blocks[cp >> 8] : NULL;
    return b ? b[cp & 0xFF] : 0;
}

static int pool_put(const char *s, size_t n, size_t *off) {
    if (pool_len + n > pool_cap) {
        size_t cap = pool_cap ? pool_cap * 2 : 1u << 16;
        char *np = realloc(pool, cap);
        if (!np) return -1;
        pool = np;
        pool_cap = cap;
    }
    *off = pool_len;
    memcpy(pool + pool_len, s, n);
    pool_len += n;
    return 0;
}

/* The skeleton of cp as fanzha uses it (skel.h step 2) into out; returns
 * its length, or -1 when ICU has none. */
static int skeleton_of(const USpoofChecker *sc, uint32_t cp, char *out, size_t cap) {
    UChar in[2], sk[64];
    int32_t il = 0;
    U16_APPEND_UNSAFE(in, il, (UChar32)cp);
    UErrorCode e = U_ZERO_ERROR;
    int32_t kl = uspoof_getSkeleton(sc, 0, in, il, sk, (int32_t)FZ_ARRAY_LEN(sk), &e);
    if (U_FAILURE(e)) return -1;
    char u8[256];
    int32_t n = 0;
    e = U_ZERO_ERROR;
    u_strToUTF8(u8, (int32_t)sizeof(u8), &n, sk, kl, &e);
    if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING) return -1;
    size_t o = 0;
    for (int32_t i = 0; i < n && o < cap; i++) {
        char c = u8[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c == 'n' && o > 0 && out[o - 1] == 'r') { /* rn: the skeleton of m */
            out[o - 1] = 'm';
            continue;
        }
        out[o++] = c;
    }
    return (int)o;
}

static void table_build(void) {
    for (unsigned c = 'a'; c <= 'z'; c++) aclass[c] = A_LOWER;
    for (unsigned c = 'A'; c <= 'Z'; c++) aclass[c] = A_UPPER;
    for (unsigned c = '0'; c <= '9'; c++) aclass[c] = A_DIGIT;
    static const char swaps[][2] = {{'0', 'o'}, {'1', 'l'}, {'3', 'e'}, {'4', 'a'}, {'5', 's'},
                                    {'7', 't'}, {'8', 'b'}, {'@', 'a'}, {'$', 's'}};
    for (size_t i = 0; i < FZ_ARRAY_LEN(swaps); i++) {
        swap_to[(unsigned char)swaps[i][0]] = (unsigned char)swaps[i][1];
        aclass[(unsigned char)swaps[i][0]] |= A_SWAP;
    }
    UErrorCode e = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&e);
    if (U_FAILURE(e)) {
        snprintf(skel_err, sizeof(skel_err), "ICU: cannot open the spoof checker: %s",
                 u_errorName(e));
        return;
    }
    for (uint32_t cp = 0x80; cp < 0x110000; cp++) {
        if ((cp >= 0xD800 && cp <= 0xDFFF) || is_cjk(cp)) continue;
        int8_t type = u_charType((UChar32)cp);
        if (type == U_UNASSIGNED || type == U_PRIVATE_USE_CHAR) continue;
        uint32_t ent = 0;
        if (u_isalpha((UChar32)cp)) ent |= E_WORD | E_LETTER;
        if (U_GET_GC_MASK((UChar32)cp) & U_GC_M_MASK) ent |= E_WORD;
        if (u_islower((UChar32)cp)) ent |= E_LOWER;
        char sk[SKEL_MAX + 1], self[4];
        int kl = skeleton_of(sc, cp, sk, sizeof(sk));
        size_t sl = fz_utf8_encode(cp, self);
        if (kl >= 0 && kl <= (int)SKEL_MAX && !((size_t)kl == sl && !memcmp(sk, self, sl))) {
            size_t off;
            if (pool_put(sk, (size_t)kl, &off) != 0) goto nomem;
            ent |= E_MAPPED | (uint32_t)kl | (uint32_t)(off << E_OFF_SHIFT);
            if (kl == 1 && sk[0] == 'l' && u_isupper((UChar32)cp)) ent |= E_ILIKE;
        }
        if (!ent) continue;
        if (!blocks[cp >> 8] && !(blocks[cp >> 8] = calloc(256, sizeof(uint32_t)))) goto nomem;
        blocks[cp >> 8][cp & 0xFF] = ent;
    }
    uspoof_close(sc);
    return;
nomem:
    snprintf(skel_err, sizeof(skel_err), "skeleton table: out of memory");
    uspoof_close(sc);
}

int fz_skel_init(char *errstr, size_t errstr_size) {
    if (fz_norm_init(errstr, errstr_size) != 0) return -1;
    pthread_once(&skel_once, table_build);
    if (skel_err[0]) {
        snprintf(errstr, errstr_size, "%s", skel_err);
        return -1;
    }
    return 0;
}

size_t fz_skel_map(const char *in, size_t n, char *out, size_t cap) {
    size_t i = 0, o = 0;
    size_t word = 0;  /* where the current word starts in out */
    int in_word = 0;  /* a word is open */
    int letter = 0;   /* it holds a letter */
    int swaps = 0;    /* it holds a byte to swap */
    int prev_low = 0; /* the character before is a lower-case letter of the word */
#define END_WORD()                                                                                 \
    do {                                                                                           \
        if (in_word && letter && swaps)                                                            \
            for (size_t k_ = word; k_ < o; k_++)                                                   \
                if (swap_to[(unsigned char)out[k_]])                                               \
                    out[k_] = (char)swap_to[(unsigned char)out[k_]];                               \
        in_word = letter = swaps = prev_low = 0;                                                   \
    } while (0)
#define BEGIN_WORD()                                                                               \
    do {                                                                                           \
        if (!in_word) {                                                                            \
            in_word = 1;                                                                           \
            word = o;                                                                              \
        }                                                                                          \
    } while (0)
    while (i < n) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x80) {
            if (o >= cap) break;
            unsigned cl = aclass[c];
            size_t run;
            if ((cl & (A_LOWER | A_UPPER)) && !in_word && (run = fz_skel_spaced_run(in, n, i))) {
                /* letters spaced out (step 5): written together, one word */
                if (o + (run - i + 1) / 2 > cap) break;
                BEGIN_WORD();
                for (; i < run; i += 2) out[o++] = (char)(in[i] | 0x20);
                i = run;
                letter = prev_low = 1;
                continue;
            }
            if (cl & A_LOWER) { /* the common case: a run of lower-case letters */
                BEGIN_WORD();
                size_t end = n - i < cap - o ? n : i + (cap - o);
                do {
                    out[o++] = in[i++];
                } while (i < end && aclass[(unsigned char)in[i]] == A_LOWER);
                letter = prev_low = 1;
                continue;
            } else if (cl & A_UPPER) {
                BEGIN_WORD();
                out[o++] = c == 'I' && prev_low ? 'l' : (char)(c + 32);
                letter = 1;
                prev_low = c == 'I' && prev_low;
            } else if (c == '|') {
                BEGIN_WORD();
                out[o++] = 'l';
                letter = prev_low = 1;
            } else if (cl & (A_DIGIT | A_SWAP)) {
                BEGIN_WORD();
                out[o++] = (char)c;
                swaps |= cl & A_SWAP;
                prev_low = 0;
            } else {
                END_WORD();
                out[o++] = (char)c;
            }
            i++;
            continue;
        }
        if (c >= 0xE3 && c <= 0xE9 && n - i >= 3 && (in[i + 1] & 0xC0) == 0x80 &&
            (in[i + 2] & 0xC0) == 0x80) { /* U+3000..9FFF: CJK, copied (is_cjk) */
            if (o + 3 > cap) break;
            END_WORD();
            memcpy(out + o, in + i, 3);
            o += 3;
            i += 3;
            continue;
        }
        uint32_t cp;
        size_t len = fz_utf8_decode(in + i, n - i, &cp);
        if (len == 0) { /* not UTF-8: copied as it is */
            if (o >= cap) break;
            END_WORD();
            out[o++] = in[i++];
            continue;
        }
        uint32_t ent = entry_of(cp);
        const char *s = in + i;
        size_t sl = len;
        if (ent & E_MAPPED) {
            s = pool + (ent >> E_OFF_SHIFT);
            sl = ent & E_LEN_MASK;
        }
        if (o + sl > cap) break;
        if (!(ent & E_WORD))
            END_WORD();
        else
            BEGIN_WORD();
        if (ent & E_ILIKE) {
            out[o++] = prev_low ? 'l' : 'i';
        } else {
            for (size_t k = 0; k < sl; k++) {
                unsigned char b = (unsigned char)s[k];
                out[o + k] = (char)b;
                if (in_word && b < 0x80 && (aclass[b] & A_SWAP)) swaps = 1;
            }
            o += sl;
        }
        if (ent & E_WORD) {
            if (ent & E_LETTER) letter = 1;
            prev_low = (ent & E_ILIKE) ? prev_low : (ent & E_LOWER) != 0;
        }
        i += len;
    }
    END_WORD();
#undef END_WORD
#undef BEGIN_WORD
    return o;
}

size_t fz_skel_text(const char *in, size_t n, char *tmp, char *out, size_t cap) {
    size_t k = fz_norm_text_cased(in, n, tmp);
    return fz_skel_map(tmp, k, out, cap);
}

/* skel.h. The table's entry answers it: a letter (not a combining mark)
 * whose skeleton is one or two ASCII letters, or that takes the I rule. */
int fz_skel_looks_latin(uint32_t cp) {
    uint32_t ent = entry_of(cp);
    if (!(ent & E_LETTER)) return 0;
    if (ent & E_ILIKE) return 1;
    if (!(ent & E_MAPPED) || (ent & E_LEN_MASK) > 2) return 0;
    const char *k = pool + (ent >> E_OFF_SHIFT);
    for (size_t i = 0; i < (ent & E_LEN_MASK); i++)
        if (!(aclass[(unsigned char)k[i]] & A_LOWER)) return 0;
    return 1;
}

int fz_skel_capital_i(const char *raw, size_t n) {
    for (const char *p = raw, *end = raw + n; (p = memchr(p, 'I', (size_t)(end - p))); p++)
        if (p > raw && (aclass[(unsigned char)p[-1]] & A_LOWER)) return 1;
    return 0;
}
