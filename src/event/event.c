/*
 * event.c - see event.h.
 *
 * Workload: ~100-1000 byte JSON objects with 4-10 keys, millions per
 * second per core, most of the bytes in one string (the text). One strict
 * pass checks the syntax and records where each member of the root object
 * sits (json_scan); one walk over those members picks out the known fields
 * and skips everything else. A string ends at the next quote, backslash or
 * control character: the scalar path looks for it eight bytes at a time;
 * the AVX2 and SSE4.2 paths mark all of them in the event first, 32 or 16
 * bytes at a time, and find each by a bit scan. The level is simd.h's,
 * chosen once per event, and every level accepts, rejects and reports
 * exactly alike (tests/unit/test-simd.c runs the decoder on each).
 */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>

#include "simd.h"
#include "utf8.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FZ_EVENT_X86 1
#endif

/* A member of the root object: key and value as offsets into the message;
 * strings without their quotes, containers from bracket to bracket. */
typedef enum { J_OBJECT, J_ARRAY, J_STRING, J_PRIMITIVE } json_type;
typedef struct member {
    uint32_t kstart, kend;
    json_type type;
    uint32_t start, end;
    int escaped; /* a string with a backslash in it */
    int number;  /* a primitive: NUM_NONE (true, false, null), NUM_INT or NUM_OTHER */
} member;
enum { NUM_NONE, NUM_INT, NUM_OTHER };

struct fz_decoder {
    size_t max_event_bytes;
    unsigned max_tokens; /* keys and values, nested ones included */
    member *members;     /* max_tokens / 2 + 1 */
    char *arena;
    size_t arena_cap;
    size_t arena_len;
    uint64_t *marks; /* vector paths: bit i set when byte i is '"', '\\' or < 0x20 */
};

static const char *const reason_names[FZ_REASON_COUNT] = {
    "none",        "too_large",     "invalid_utf8",    "invalid_json", "not_object",
    "too_complex", "missing_field", "wrong_type",      "bad_value",    "scan_error",
    "ts_ahead",    "ts_behind",     "output_rejected",
};

static const char *const type_names[FZ_EV_TYPE_COUNT] = {"sms", "call", "transfer", "report"};
static const char *const field_names[FZ_FIELD_COUNT] = {
    "text", "from", "to", "url_host", "url_domain", "url_flags", "text_flags", "text_numbers"};

const char *fz_reason_name(fz_reason r) {
    return (unsigned)r < FZ_REASON_COUNT ? reason_names[r] : "unknown";
}
const char *fz_event_type_name(fz_event_type t) {
    return (unsigned)t < FZ_EV_TYPE_COUNT ? type_names[t] : "unknown";
}
const char *fz_field_name(fz_field f) {
    return (unsigned)f < FZ_FIELD_COUNT ? field_names[f] : "unknown";
}
int fz_field_parse(const char *name, size_t n) {
    for (int i = 0; i < FZ_FIELD_COUNT; i++)
        if (strlen(field_names[i]) == n && memcmp(field_names[i], name, n) == 0) return i;
    return -1;
}

fz_decoder *fz_decoder_new(size_t max_event_bytes, size_t arena_bytes, unsigned max_tokens,
                           char *errstr, size_t errstr_size) {
    if (max_tokens < 8 || max_event_bytes == 0) {
        snprintf(errstr, errstr_size, "decoder: max_tokens must be >= 8 and max_event_bytes > 0");
        return NULL;
    }
    if (arena_bytes < max_event_bytes) arena_bytes = max_event_bytes;
    fz_decoder *d = calloc(1, sizeof(*d));
    if (!d) goto fail;
    d->max_event_bytes = max_event_bytes;
    d->max_tokens = max_tokens;
    d->members = malloc(sizeof(member) * (max_tokens / 2 + 1));
    if (!d->members) goto fail_decoder;
    d->marks = malloc(sizeof(uint64_t) * (max_event_bytes / 64 + 2));
    if (!d->marks) goto fail_members;
    d->arena = malloc(arena_bytes);
    if (!d->arena) goto fail_marks;
    d->arena_cap = arena_bytes;
    return d;

fail_marks:
    free(d->marks);
fail_members:
    free(d->members);
fail_decoder:
    free(d);
fail:
    snprintf(errstr, errstr_size, "decoder: out of memory");
    return NULL;
}

void fz_decoder_destroy(fz_decoder *d) {
    if (!d) return;
    free(d->members);
    free(d->marks);
    free(d->arena);
    free(d);
}

void fz_decoder_reset_arena(fz_decoder *d) { d->arena_len = 0; }

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(const char *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/*
 * Turn the raw contents of a JSON string token into a view. Without
 * backslashes (the scan says whether there are any) the view points into
 * the message; otherwise the string is unescaped into the arena. Returns
 * FZ_REASON_NONE or why it failed.
 */
static fz_reason string_view(fz_decoder *d, const char *raw, size_t n, int escaped, fz_str *out) {
    const char *bs = escaped ? memchr(raw, '\\', n) : NULL;
    if (!bs) {
        *out = (fz_str){raw, n};
        return FZ_REASON_NONE;
    }
    if (d->arena_cap - d->arena_len < n) return FZ_REASON_TOO_LARGE;
    char *dst = d->arena + d->arena_len, *w = dst;
    size_t pre = (size_t)(bs - raw);
    memcpy(w, raw, pre);
    w += pre;
    for (size_t i = pre; i < n; i++) {
        char c = raw[i];
        if (c != '\\') {
            *w++ = c;
            continue;
        }
        if (++i >= n) return FZ_REASON_INVALID_JSON;
        switch (raw[i]) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (i + 4 >= n || read_hex4(raw + i + 1, &cp)) return FZ_REASON_INVALID_JSON;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* a high surrogate must be followed by \uDC00-\uDFFF */
                if (i + 6 >= n || raw[i + 1] != '\\' || raw[i + 2] != 'u' ||
                    read_hex4(raw + i + 3, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return FZ_REASON_INVALID_UTF8;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return FZ_REASON_INVALID_UTF8;
            }
            w += fz_utf8_encode(cp, w); /* never longer than the 6+ escape bytes */
            break;
        }
        default: return FZ_REASON_INVALID_JSON;
        }
    }
    *out = (fz_str){dst, (size_t)(w - dst)};
    d->arena_len += (size_t)(w - dst);
    return FZ_REASON_NONE;
}

static const char *escape_problem(fz_reason r) {
    switch (r) {
    case FZ_REASON_INVALID_UTF8: return "\\u escape is a lone or misordered UTF-16 surrogate";
    case FZ_REASON_TOO_LARGE: return "unescaped strings exceed the decoder arena";
    default: return "invalid string escape";
    }
}

/* JSON number grammar check for a primitive token. */
static int is_json_number(const char *p, size_t n, int *is_int) {
    size_t i = 0;
    *is_int = 1;
    if (i < n && p[i] == '-') i++;
    if (i >= n) return 0;
    if (p[i] == '0') {
        i++;
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    } else {
        return 0;
    }
    if (i < n && p[i] == '.') {
        *is_int = 0;
        i++;
        size_t s = i;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
        if (i == s) return 0;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        *is_int = 0;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        size_t s = i;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
        if (i == s) return 0;
    }
    return i == n;
}

/* 1 if p[0..n) is true, false, null or a JSON number, with its kind
 * (NUM_*) in *number; else 0. */
static int valid_primitive(const char *p, size_t n, int *number) {
    int is_int;
    *number = NUM_NONE;
    if (n == 4 && (memcmp(p, "true", 4) == 0 || memcmp(p, "null", 4) == 0)) return 1;
    if (n == 5 && memcmp(p, "false", 5) == 0) return 1;
    if (!is_json_number(p, n, &is_int)) return 0;
    *number = is_int ? NUM_INT : NUM_OTHER;
    return 1;
}

/* The bytes a primitive (number, true, false, null) is scanned over:
 * 0-9 a-z - + . E; the grammar check comes after. */
static const unsigned char primitive_byte[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['-'] = 1, ['+'] = 1, ['.'] = 1, ['E'] = 1};

/* Does the 8-byte word hold a byte that ends a run of plain string bytes:
 * '"', '\\' or a control character (< 0x20)? May say yes for a word that
 * holds such a byte somewhere; never says no when one is there. */
static inline int word_special(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & high ? 1 : 0;
}

static inline int byte_special(unsigned char c) { return c == '"' || c == '\\' || c < 0x20; }

/* The first i' >= i with s[i'] a quote, a backslash or a control character,
 * or n: one function per level. */
static inline size_t special_scalar(const char *s, size_t i, size_t n) {
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (word_special(w)) break;
        i += 8;
    }
    while (i < n && !byte_special((unsigned char)s[i])) i++;
    return i;
}

#ifdef FZ_EVENT_X86
__attribute__((target("sse4.2"))) static inline unsigned special_mask_sse42(const char *p) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i m =
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v)); /* <= 0x1F */
    return (unsigned)_mm_movemask_epi8(m);
}

/*
 * The vector paths mark every quote, backslash and control character of the
 * message in d->marks first, a block at a time (no block waits for another),
 * so that finding the end of a string is a shift and a bit scan, not a
 * load-compare-mask chain per string. Bits past n are clear.
 */
__attribute__((target("sse4.2"))) static void mark_sse42(const char *s, size_t n, uint64_t *marks) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        marks[i / 64] = (uint64_t)special_mask_sse42(s + i) |
                        (uint64_t)special_mask_sse42(s + i + 16) << 16 |
                        (uint64_t)special_mask_sse42(s + i + 32) << 32 |
                        (uint64_t)special_mask_sse42(s + i + 48) << 48;
    if (i == n) return;
    uint64_t m = 0;
    size_t j = i;
    for (; j + 16 <= n; j += 16) m |= (uint64_t)special_mask_sse42(s + j) << (j - i);
    for (; j < n; j++) m |= (uint64_t)byte_special((unsigned char)s[j]) << (j - i);
    marks[i / 64] = m;
}

__attribute__((target("avx2"))) static inline uint32_t special_mask_avx2(const char *p) {
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    __m256i m = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),
                                _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
    m = _mm256_or_si256(m, _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1F)), v));
    return (uint32_t)_mm256_movemask_epi8(m);
}

__attribute__((target("avx2"))) static void mark_avx2(const char *s, size_t n, uint64_t *marks) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        marks[i / 64] = (uint64_t)special_mask_avx2(s + i) | (uint64_t)special_mask_avx2(s + i + 32)
                                                                 << 32;
    if (i == n) return;
    if (n >= 64) { /* the last 64 bytes, less those before i */
        uint64_t m =
            (uint64_t)special_mask_avx2(s + n - 64) | (uint64_t)special_mask_avx2(s + n - 32) << 32;
        marks[i / 64] = m >> (64 - (n - i));
        return;
    }
    uint64_t m = 0;
    size_t j = i;
    if (j + 32 <= n) {
        m = special_mask_avx2(s + j);
        j += 32;
    }
    for (; j + 16 <= n; j += 16) m |= (uint64_t)special_mask_sse42(s + j) << (j - i);
    for (; j < n; j++) m |= (uint64_t)byte_special((unsigned char)s[j]) << (j - i);
    marks[i / 64] = m;
}

/* The first i' >= i with a mark, or n. */
static inline size_t special_marked(const uint64_t *marks, size_t i, size_t n) {
    if (i >= n) return n;
    uint64_t m = marks[i / 64] >> (i % 64);
    if (m) return i + (size_t)__builtin_ctzll(m);
    for (size_t w = i / 64 + 1; w * 64 < n; w++)
        if (marks[w]) return w * 64 + (size_t)__builtin_ctzll(marks[w]);
    return n;
}
#define SPECIAL(level, s, i, n)                                                                    \
    ((level) == FZ_SIMD_SCALAR ? special_scalar((s), (i), (n)) : special_marked(d->marks, (i), (n)))
#else
#define SPECIAL(level, s, i, n) special_scalar((s), (i), (n))
#endif

/*
 * Strict RFC 8259 syntax check of the whole message, one pass, no
 * allocation (nesting is tracked in a bit stack), which also records the
 * members of the root object in d->members (when the root is an object)
 * and counts keys and values in *ntok. Returns 0, or -1 with *off at the
 * first offending byte. Inlined once per SIMD level (json_scan_avx2, ...),
 * where level is a constant.
 */
#define JSON_MAX_DEPTH 256
static inline __attribute__((always_inline)) int
json_scan_body(fz_decoder *d, const char *s, size_t n, size_t *off, size_t *nmembers,
               unsigned long *ntok, fz_simd_level level) {
    uint64_t stack[JSON_MAX_DEPTH / 64] = {0}; /* bit set = object, clear = array */
    int depth = 0, is_key = 0;
    size_t i = 0, m = 0, mcap = d->max_tokens / 2 + 1;
    unsigned long tokens = 0;
    member *mem = d->members;
#define WS()                                                                                       \
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++
#define BAD()                                                                                      \
    do {                                                                                           \
        *off = i;                                                                                  \
        return -1;                                                                                 \
    } while (0)
/* a value directly inside the root: a member's value */
#define MEMBER_VALUE() (depth == 1 && m < mcap)
value:
    WS();
    if (i >= n) BAD();
    tokens++;
    switch (s[i]) {
    case '{':
    case '[': {
        if (depth == JSON_MAX_DEPTH) BAD();
        int obj = s[i] == '{';
        if (MEMBER_VALUE()) {
            mem[m].type = obj ? J_OBJECT : J_ARRAY;
            mem[m].start = (uint32_t)i;
        }
        if (obj)
            stack[depth / 64] |= 1ULL << (depth % 64);
        else
            stack[depth / 64] &= ~(1ULL << (depth % 64));
        depth++;
        i++;
        WS();
        if (i < n && s[i] == (obj ? '}' : ']')) {
            i++;
            goto close;
        }
        if (obj) goto key;
        goto value;
    }
    case '"': is_key = 0; goto string;
    default: {
        size_t st = i;
        int number;
        while (i < n && primitive_byte[(unsigned char)s[i]]) i++;
        if (i == st || !valid_primitive(s + st, i - st, &number)) {
            i = st;
            BAD();
        }
        if (MEMBER_VALUE()) {
            mem[m].type = J_PRIMITIVE;
            mem[m].number = number;
            mem[m].start = (uint32_t)st;
            mem[m++].end = (uint32_t)i;
        }
        goto after;
    }
    }
key:
    WS();
    if (i >= n || s[i] != '"') BAD();
    tokens++;
    is_key = 1; /* a key is a string followed by ':' and a value */
    {
    string:
        i++; /* opening quote */
        size_t st = i;
        int escaped = 0;
        for (;;) {
            i = SPECIAL(level, s, i, n);
            if (i >= n) BAD();
            unsigned char c = (unsigned char)s[i];
            if (c == '"') break;
            if (c < 0x20) BAD();
            if (c == '\\') {
                escaped = 1;
                i++;
                if (i >= n) BAD();
                if (s[i] == 'u') {
                    uint32_t cp;
                    if (i + 4 >= n || read_hex4(s + i + 1, &cp)) BAD();
                    i += 4;
                } else if (!strchr("\"\\/bfnrt", s[i]) || s[i] == '\0') {
                    BAD();
                }
            }
            i++;
        }
        if (depth == 1 && m < mcap) {
            if (is_key) {
                mem[m].kstart = (uint32_t)st;
                mem[m].kend = (uint32_t)i;
            } else {
                mem[m].type = J_STRING;
                mem[m].escaped = escaped;
                mem[m].start = (uint32_t)st;
                mem[m++].end = (uint32_t)i;
            }
        }
        i++; /* closing quote */
        if (is_key) {
            is_key = 0;
            WS();
            if (i >= n || s[i] != ':') BAD();
            i++;
            goto value;
        }
    }
after:
    WS();
    if (depth == 0) {
        if (i != n) BAD();
        *nmembers = m;
        *ntok = tokens;
        return 0;
    }
    if (i >= n) BAD();
    {
        int obj = (stack[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1;
        if (s[i] == ',') {
            i++;
            if (obj) goto key;
            goto value;
        }
        if (s[i] == (obj ? '}' : ']')) {
            i++;
            goto close;
        }
    }
    BAD();
close: /* s[i - 1] closed the container at this depth */
    depth--;
    if (MEMBER_VALUE()) mem[m++].end = (uint32_t)i;
    goto after;
#undef WS
#undef BAD
#undef MEMBER_VALUE
}

static int json_scan_scalar(fz_decoder *d, const char *s, size_t n, size_t *off, size_t *nm,
                            unsigned long *ntok) {
    return json_scan_body(d, s, n, off, nm, ntok, FZ_SIMD_SCALAR);
}
#ifdef FZ_EVENT_X86
__attribute__((target("sse4.2"))) static int json_scan_sse42(fz_decoder *d, const char *s, size_t n,
                                                             size_t *off, size_t *nm,
                                                             unsigned long *ntok) {
    mark_sse42(s, n, d->marks);
    return json_scan_body(d, s, n, off, nm, ntok, FZ_SIMD_SSE42);
}
__attribute__((target("avx2"))) static int json_scan_avx2(fz_decoder *d, const char *s, size_t n,
                                                          size_t *off, size_t *nm,
                                                          unsigned long *ntok) {
    mark_avx2(s, n, d->marks);
    return json_scan_body(d, s, n, off, nm, ntok, FZ_SIMD_AVX2);
}
#endif

typedef int (*json_scan_fn)(fz_decoder *, const char *, size_t, size_t *, size_t *,
                            unsigned long *);
static const json_scan_fn json_scan[FZ_SIMD_LEVEL_COUNT] = {
    json_scan_scalar,
#ifdef FZ_EVENT_X86
    json_scan_sse42,
    json_scan_avx2,
#else
    json_scan_scalar,
    json_scan_scalar,
#endif
};

static int parse_i64(const char *p, size_t n, int64_t *out) {
    int64_t v = 0;
    size_t i = 0;
    int neg = 0;
    if (n && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= n) return -1;
    if (n - i <= 18) { /* cannot overflow */
        for (; n - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            /* eight digits at once, if they are eight digits */
            uint64_t dg = w - 0x3030303030303030ULL;
            if ((dg | (w + 0x4646464646464646ULL)) & 0x8080808080808080ULL) return -1;
            dg = dg * 10 + (dg >> 8); /* little-endian: the first digit is the low byte */
            dg = (((dg & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
                  (((dg >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >>
                 32;
            v = v * 100000000 + (int64_t)dg;
        }
        for (; i < n; i++) {
            if (p[i] < '0' || p[i] > '9') return -1;
            v = v * 10 + (p[i] - '0');
        }
        *out = neg ? -v : v;
        return 0;
    }
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        int dg = p[i] - '0';
        if (v > (INT64_MAX - dg) / 10) return -1;
        v = v * 10 + dg;
    }
    *out = neg ? -v : v;
    return 0;
}

int fz_currency_decimals(fz_str c) {
    static const char *const zero[] = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"};
    static const char *const three[] = {"BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"};
    if (c.n != 3) return 2;
    for (size_t i = 0; i < FZ_ARRAY_LEN(zero); i++)
        if (memcmp(c.p, zero[i], 3) == 0) return 0;
    for (size_t i = 0; i < FZ_ARRAY_LEN(three); i++)
        if (memcmp(c.p, three[i], 3) == 0) return 3;
    return 2;
}

int fz_amount_parse(const char *s, size_t n, int decimals, int64_t *out, char *detail,
                    size_t detail_size) {
    size_t i = 0;
    int64_t units = 0;
    if (n == 0) {
        snprintf(detail, detail_size, "empty amount");
        return -1;
    }
    if (s[0] == '-') {
        snprintf(detail, detail_size, "amount must not be negative");
        return -1;
    }
    size_t int_start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        int dg = s[i] - '0';
        if (units > (INT64_MAX - dg) / 10) goto overflow;
        units = units * 10 + dg;
        i++;
    }
    if (i == int_start) goto syntax;
    int frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t fs = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (frac == decimals) {
                if (s[i] != '0') {
                    snprintf(detail, detail_size, "amount has more than %d decimal places",
                             decimals);
                    return -1;
                }
            } else {
                int dg = s[i] - '0';
                if (units > (INT64_MAX - dg) / 10) goto overflow;
                units = units * 10 + dg;
                frac++;
            }
            i++;
        }
        if (i == fs) goto syntax;
    }
    if (i != n) goto syntax;
    for (; frac < decimals; frac++) {
        if (units > INT64_MAX / 10) goto overflow;
        units *= 10;
    }
    *out = units;
    return 0;
syntax:
    snprintf(detail, detail_size, "amount must be a plain decimal like 1234.56");
    return -1;
overflow:
    snprintf(detail, detail_size, "amount too large");
    return -1;
}

/* Fail helpers: set detail and return the reason. */
#define FAIL(reason, ...)                                                                          \
    do {                                                                                           \
        snprintf(detail, detail_size, __VA_ARGS__);                                                \
        return (reason);                                                                           \
    } while (0)

enum known_key {
    K_ID,
    K_TS,
    K_TYPE,
    K_FROM,
    K_TO,
    K_TEXT,
    K_AMOUNT,
    K_CURRENCY,
    K_CATEGORY,
    K_DURATION,
    K_COUNT
};
static const char *const key_names[K_COUNT] = {
    "id", "ts", "type", "from", "to", "text", "amount", "currency", "category", "duration_s"};

static int key_lookup(const char *p, size_t n) {
    for (int k = 0; k < K_COUNT; k++) {
        const char *name = key_names[k];
        if (name[0] == p[0] && strlen(name) == n && memcmp(name, p, n) == 0) return k;
    }
    return -1;
}

fz_reason fz_event_decode(fz_decoder *d, const char *msg, size_t len, fz_event *ev, char *detail,
                          size_t detail_size) {
    memset(ev, 0, sizeof(*ev));
    ev->duration_s = -1;
    detail[0] = '\0';
    if (len > d->max_event_bytes)
        FAIL(FZ_REASON_TOO_LARGE, "event is %zu bytes, limit is %zu (max_event_bytes)", len,
             d->max_event_bytes);
    size_t bad;
    if (!fz_utf8_valid(msg, len, &bad))
        FAIL(FZ_REASON_INVALID_UTF8, "invalid UTF-8 at byte %zu", bad);

    size_t bad_json, nm;
    unsigned long ntok;
    if (json_scan[fz_simd_level_get()](d, msg, len, &bad_json, &nm, &ntok) != 0) {
        if (len == 0) FAIL(FZ_REASON_INVALID_JSON, "empty message");
        FAIL(FZ_REASON_INVALID_JSON, "malformed JSON at byte %zu", bad_json);
    }
    size_t first = 0;
    while (first < len &&
           (msg[first] == ' ' || msg[first] == '\t' || msg[first] == '\n' || msg[first] == '\r'))
        first++;
    if (msg[first] != '{') FAIL(FZ_REASON_NOT_OBJECT, "event must be a JSON object");
    if (ntok > d->max_tokens)
        FAIL(FZ_REASON_TOO_COMPLEX, "event has more than %u JSON tokens", d->max_tokens);

    int idx[K_COUNT];
    for (int k = 0; k < K_COUNT; k++) idx[k] = -1;
    const member *t = d->members;
    for (size_t k = 0; k < nm; k++) {
        int kk = key_lookup(msg + t[k].kstart, t[k].kend - t[k].kstart);
        if (kk >= 0) idx[kk] = (int)k; /* a repeated key: the last one wins */
    }

    /* id first, so later failures can still name the event */
    fz_reason r;
    if (idx[K_ID] < 0) FAIL(FZ_REASON_MISSING_FIELD, "field 'id' is required");
    const member *tv = &t[idx[K_ID]];
    if (tv->type != J_STRING) FAIL(FZ_REASON_WRONG_TYPE, "field 'id' must be a string");
    r = string_view(d, msg + tv->start, (size_t)(tv->end - tv->start), tv->escaped, &ev->id);
    if (r) FAIL(r, "field 'id': %s", escape_problem(r));
    if (ev->id.n == 0 || ev->id.n > FZ_EVENT_ID_MAX) {
        ev->id = FZ_STR_NULL;
        FAIL(FZ_REASON_BAD_VALUE, "field 'id' must be 1-%d bytes", FZ_EVENT_ID_MAX);
    }

    if (idx[K_TS] < 0) FAIL(FZ_REASON_MISSING_FIELD, "field 'ts' is required");
    tv = &t[idx[K_TS]];
    if (tv->type != J_PRIMITIVE || tv->number != NUM_INT)
        FAIL(FZ_REASON_WRONG_TYPE, "field 'ts' must be an integer (epoch milliseconds)");
    if (parse_i64(msg + tv->start, (size_t)(tv->end - tv->start), &ev->ts_ms) || ev->ts_ms < 0 ||
        ev->ts_ms > FZ_TS_MAX)
        FAIL(FZ_REASON_BAD_VALUE,
             "field 'ts' out of range: epoch milliseconds from 0 to %lld (9999-12-31)",
             (long long)FZ_TS_MAX);

    if (idx[K_TYPE] < 0) FAIL(FZ_REASON_MISSING_FIELD, "field 'type' is required");
    tv = &t[idx[K_TYPE]];
    if (tv->type != J_STRING) FAIL(FZ_REASON_WRONG_TYPE, "field 'type' must be a string");
    fz_str ty = {msg + tv->start, (size_t)(tv->end - tv->start)};
    int found = 0;
    for (int k = 0; k < FZ_EV_TYPE_COUNT; k++)
        if (fz_str_eq(ty, type_names[k])) {
            ev->type = (fz_event_type)k;
            found = 1;
        }
    if (!found)
        FAIL(FZ_REASON_BAD_VALUE, "field 'type' must be one of sms, call, transfer, report");

    /* optional strings, type-checked whenever present */
    const int skeys[] = {K_FROM, K_TO, K_TEXT, K_CURRENCY, K_CATEGORY};
    fz_str *sdst[] = {&ev->fields[FZ_FIELD_FROM], &ev->fields[FZ_FIELD_TO],
                      &ev->fields[FZ_FIELD_TEXT], &ev->currency, &ev->category};
    for (size_t s = 0; s < FZ_ARRAY_LEN(skeys); s++) {
        int ti = idx[skeys[s]];
        if (ti < 0) continue;
        tv = &t[ti];
        if (tv->type == J_PRIMITIVE && tv->end - tv->start == 4 &&
            memcmp(msg + tv->start, "null", 4) == 0)
            continue; /* null = absent */
        if (tv->type != J_STRING)
            FAIL(FZ_REASON_WRONG_TYPE, "field '%s' must be a string", key_names[skeys[s]]);
        r = string_view(d, msg + tv->start, (size_t)(tv->end - tv->start), tv->escaped, sdst[s]);
        if (r) FAIL(r, "field '%s': %s", key_names[skeys[s]], escape_problem(r));
    }

    if (idx[K_DURATION] >= 0) {
        tv = &t[idx[K_DURATION]];
        if (tv->type != J_PRIMITIVE || tv->number != NUM_INT)
            FAIL(FZ_REASON_WRONG_TYPE, "field 'duration_s' must be an integer");
        if (parse_i64(msg + tv->start, (size_t)(tv->end - tv->start), &ev->duration_s) ||
            ev->duration_s < 0)
            FAIL(FZ_REASON_BAD_VALUE, "field 'duration_s' must be >= 0");
    }

    if (ev->currency.p == NULL) ev->currency = FZ_STR_LIT("CNY");
    if (ev->currency.n != 3)
        FAIL(FZ_REASON_BAD_VALUE, "field 'currency' must be a 3-letter ISO 4217 code");
    for (int c = 0; c < 3; c++)
        if (ev->currency.p[c] < 'A' || ev->currency.p[c] > 'Z')
            FAIL(FZ_REASON_BAD_VALUE, "field 'currency' must be a 3-letter ISO 4217 code");

    if (idx[K_AMOUNT] >= 0) {
        tv = &t[idx[K_AMOUNT]];
        const char *ap = msg + tv->start;
        size_t an = (size_t)(tv->end - tv->start);
        if (tv->type == J_PRIMITIVE) {
            if (tv->number == NUM_NONE)
                FAIL(FZ_REASON_WRONG_TYPE, "field 'amount' must be a number or a decimal string");
        } else if (tv->type != J_STRING) {
            FAIL(FZ_REASON_WRONG_TYPE, "field 'amount' must be a number or a decimal string");
        }
        char why[96];
        if (fz_amount_parse(ap, an, fz_currency_decimals(ev->currency), &ev->amount_minor, why,
                            sizeof(why)))
            FAIL(FZ_REASON_BAD_VALUE, "field 'amount': %s", why);
        if (ev->amount_minor > FZ_AMOUNT_MAX_MINOR)
            FAIL(FZ_REASON_BAD_VALUE,
                 "field 'amount': more than the maximum of %lld minor units (10^15)",
                 (long long)FZ_AMOUNT_MAX_MINOR);
        ev->has_amount = 1;
    }

    /* per-type requirements */
    switch (ev->type) {
    case FZ_EV_SMS:
        if (!ev->fields[FZ_FIELD_TEXT].p)
            FAIL(FZ_REASON_MISSING_FIELD, "field 'text' is required for type sms");
        break;
    case FZ_EV_CALL:
        if (!ev->fields[FZ_FIELD_FROM].p || !ev->fields[FZ_FIELD_TO].p)
            FAIL(FZ_REASON_MISSING_FIELD, "fields 'from' and 'to' are required for type call");
        break;
    case FZ_EV_TRANSFER:
        if (!ev->fields[FZ_FIELD_FROM].p || !ev->fields[FZ_FIELD_TO].p)
            FAIL(FZ_REASON_MISSING_FIELD, "fields 'from' and 'to' are required for type transfer");
        if (!ev->has_amount)
            FAIL(FZ_REASON_MISSING_FIELD, "field 'amount' is required for type transfer");
        break;
    case FZ_EV_REPORT:
        if (!ev->fields[FZ_FIELD_FROM].p)
            FAIL(FZ_REASON_MISSING_FIELD, "field 'from' is required for type report");
        if (!ev->has_amount)
            FAIL(FZ_REASON_MISSING_FIELD, "field 'amount' is required for type report");
        break;
    default: break;
    }
    return FZ_REASON_NONE;
}
