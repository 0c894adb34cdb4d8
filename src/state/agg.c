/*
 * agg.c - see agg.h.
 *
 * Workload: one hit per event that feeds an aggregate rule (every call,
 * transfer or sms of the rule's type that passes its filter), on the
 * thread that owns the store. Most keys are subscribers with a handful of
 * values in a window: their value list is a few slots long and a hit is a
 * set lookup plus a short linear scan. A heavy key (a SIM box) holds up to
 * exact_max values; the scan over them is sequential memory and the median
 * is a selection over a scratch array, paid only while the key is over
 * its threshold and not yet alerted.
 */
#include "agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "hll.h"

#define WAYS 8
#define HLL_P 10
#define NREG (1u << HLL_P)
#define LPFM 5 /* (time, rank) pairs kept per register */
#define SWEEP 2
#define SAVE_VERSION 1
#define MIN_VALS 8
#define FZ_AGG_TS_MAX 253402300799999LL /* 9999-12-31, as event times (event.h) */
#define NCLASS 14 /* value lists of MIN_VALS << c values, c < NCLASS (up to 65,536) */
#define SK_CLASS NCLASS
#define BLOCK_BYTES ((size_t)1 << 20)

typedef struct val {
    uint64_t h;
    int64_t ts;
    int64_t dur; /* seconds; -1 unknown */
} val;

/* a register of the sliding sketch: pairs in time order, ranks strictly
 * decreasing (a later, larger rank makes the earlier ones useless) */
typedef struct reg {
    int64_t ts[LPFM];
    uint8_t rank[LPFM];
    uint8_t n;
} reg;

typedef struct entry {
    uint64_t key; /* 0 = empty */
    int64_t newest_ms;
    int64_t quiet_until_ms; /* no alert from events before this (INT64_MIN: armed) */
    int64_t window_ms;
    int64_t dropped_ms; /* newest time of a value dropped from the list (INT64_MIN: none) */
    uint32_t n, cap;
    val *v;
    reg *sk;         /* sliding sketch, or NULL while exact */
    uint64_t logged; /* the key the changelog holds for this slot; 0 = none */
    uint32_t dirty;
} entry;

/* Value lists and sketches come from size classes carved out of 1 MiB
 * blocks and go back to a free list per class: after a warm-up, windows
 * come and go without malloc (the hot path allocates nothing per event);
 * blocks are kept until the store is destroyed, and what is in use is
 * bounded by max_bytes. */
typedef struct pool {
    void *free[NCLASS + 1];
    char **blocks;
    size_t nblocks, cap_blocks;
    char *cur;
    size_t left;
} pool;

struct fz_aggs {
    entry *slots;
    pool pool;
    uint64_t nsets;
    uint32_t exact_max;
    size_t max_bytes, bytes;
    int track;
    uint32_t *changed;
    size_t nchanged;
    uint64_t sweep;
    int64_t *scratch; /* exact_max durations for the median */
    uint8_t regs[NREG];
    uint64_t entries, evictions, late, over_budget, estimated;
};

fz_aggs *fz_aggs_new(size_t capacity, uint32_t exact_max, size_t max_bytes, int track, char *errstr,
                     size_t errstr_size) {
    if (capacity < WAYS) capacity = WAYS;
    if (exact_max < 16) exact_max = 16;
    if (exact_max > 65536) exact_max = 65536;
    fz_aggs *a = calloc(1, sizeof(*a));
    if (!a) goto nomem;
    a->nsets = (capacity + WAYS - 1) / WAYS;
    a->exact_max = exact_max;
    a->max_bytes = max_bytes;
    a->track = track;
    a->slots = calloc(a->nsets * WAYS, sizeof(entry));
    a->scratch = malloc(exact_max * sizeof(int64_t));
    if (!a->slots || !a->scratch) goto nomem_a;
    if (track && !(a->changed = malloc(a->nsets * WAYS * sizeof(uint32_t)))) goto nomem_a;
    return a;
nomem_a:
    free(a->slots);
    free(a->scratch);
    free(a);
nomem:
    snprintf(errstr, errstr_size, "aggregates: cannot allocate %zu entries", capacity);
    return NULL;
}

static size_t class_bytes(int c) {
    return c == SK_CLASS ? NREG * sizeof(reg) : ((size_t)MIN_VALS << c) * sizeof(val);
}

static int class_of(uint32_t cap) {
    int c = 0;
    while (((uint32_t)MIN_VALS << c) < cap) c++;
    return c;
}

static void *pool_get(fz_aggs *a, int c) {
    pool *p = &a->pool;
    if (p->free[c]) {
        void *x = p->free[c];
        p->free[c] = *(void **)x;
        return x;
    }
    size_t n = class_bytes(c);
    if (n > p->left) {
        size_t bn = n > BLOCK_BYTES ? n : BLOCK_BYTES;
        if (p->nblocks == p->cap_blocks) {
            size_t cap = p->cap_blocks ? p->cap_blocks * 2 : 16;
            char **v = realloc(p->blocks, cap * sizeof(*v));
            if (!v) return NULL;
            p->blocks = v;
            p->cap_blocks = cap;
        }
        char *blk = malloc(bn);
        if (!blk) return NULL;
        p->blocks[p->nblocks++] = blk;
        p->cur = blk;
        p->left = bn;
    }
    void *x = p->cur;
    p->cur += n;
    p->left -= n;
    return x;
}

static void pool_put(fz_aggs *a, int c, void *x) {
    if (!x) return;
    *(void **)x = a->pool.free[c];
    a->pool.free[c] = x;
}

static void entry_clear(fz_aggs *a, entry *e) {
    if (e->cap) {
        a->bytes -= class_bytes(class_of(e->cap));
        pool_put(a, class_of(e->cap), e->v);
    }
    if (e->sk) {
        a->bytes -= class_bytes(SK_CLASS);
        a->estimated--;
        pool_put(a, SK_CLASS, e->sk);
    }
    e->v = NULL;
    e->sk = NULL;
    e->n = e->cap = 0;
}

void fz_aggs_destroy(fz_aggs *a) {
    if (!a) return;
    for (size_t i = 0; i < a->pool.nblocks; i++) free(a->pool.blocks[i]);
    free(a->pool.blocks);
    free(a->slots);
    free(a->changed);
    free(a->scratch);
    free(a);
}

uint64_t fz_agg_entry_key(fz_str rule_id, uint64_t number_key) {
    uint64_t k = XXH3_64bits_withSeed(rule_id.p ? rule_id.p : "", rule_id.n, number_key);
    return k ? k : 1;
}

static void mark(fz_aggs *a, uint64_t slot) {
    entry *e = &a->slots[slot];
    if (!a->track || e->dirty) return;
    e->dirty = 1;
    a->changed[a->nchanged++] = (uint32_t)slot;
}

static entry *set_of(fz_aggs *a, uint64_t key, uint64_t *base) {
    /* the key's own high bits, as the dedup store: not the bits the route
     * partitioner mixes, or a task's keys would crowd into few sets */
    uint64_t s = ((key >> 32) * a->nsets) >> 32;
    *base = s * WAYS;
    return &a->slots[*base];
}

static int expired(const entry *e, int64_t now_ms) {
    return e->key && fz_sat_sub(now_ms, e->newest_ms, NULL) >= e->window_ms;
}

/* free the entry in slot i (a tombstone for the changelog) */
static void drop(fz_aggs *a, uint64_t i) {
    entry *e = &a->slots[i];
    if (!e->key) return;
    entry_clear(a, e);
    e->key = 0;
    a->entries--;
    mark(a, i);
}

/* a few slots per hit: entries whose window ended long before now go */
static void sweep(fz_aggs *a, int64_t now_ms) {
    uint64_t total = a->nsets * WAYS;
    for (int i = 0; i < SWEEP; i++) {
        uint64_t s = a->sweep++ % total;
        entry *e = &a->slots[s];
        if (e->key && fz_sat_sub(now_ms, e->newest_ms, NULL) >= 2 * e->window_ms) drop(a, s);
    }
}

static entry *find(fz_aggs *a, uint64_t key, uint64_t *slot) {
    uint64_t base;
    entry *set = set_of(a, key, &base);
    for (int i = 0; i < WAYS; i++)
        if (set[i].key == key) {
            *slot = base + (uint64_t)i;
            return &set[i];
        }
    return NULL;
}

static entry *claim(fz_aggs *a, uint64_t key, int64_t now_ms, uint64_t *slot) {
    uint64_t base;
    entry *set = set_of(a, key, &base);
    int pick = -1;
    for (int i = 0; i < WAYS && pick < 0; i++)
        if (!set[i].key) pick = i;
    for (int i = 0; i < WAYS && pick < 0; i++)
        if (expired(&set[i], now_ms)) pick = i;
    if (pick < 0) { /* the one idle longest */
        pick = 0;
        for (int i = 1; i < WAYS; i++)
            if (set[i].newest_ms < set[pick].newest_ms) pick = i;
        a->evictions++;
    }
    *slot = base + (uint64_t)pick;
    drop(a, *slot);
    entry *e = &set[pick];
    uint64_t logged = e->logged;
    uint32_t dirty = e->dirty;
    memset(e, 0, sizeof(*e));
    e->logged = logged;
    e->dirty = dirty;
    e->key = key;
    e->quiet_until_ms = INT64_MIN;
    e->dropped_ms = INT64_MIN;
    a->entries++;
    return e;
}

/* ---- the sliding sketch ---- */

static void sk_add(reg *sk, uint64_t h, int64_t ts) {
    /* values are number keys (hashes already), but the sketch must not
     * depend on that: mix (MurmurHash3's finaliser) */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    reg *r = &sk[h >> (64 - HLL_P)];
    uint64_t w = (h << HLL_P) | (1ull << (HLL_P - 1));
    uint8_t rank = (uint8_t)(__builtin_clzll(w) + 1);
    /* a pair as late and as high as the new one makes it useless */
    for (int j = 0; j < r->n; j++)
        if (r->ts[j] >= ts && r->rank[j] >= rank) return;
    int64_t ts2[LPFM + 1];
    uint8_t rk2[LPFM + 1];
    int n = 0, put = 0;
    for (int j = 0; j < r->n; j++) {
        if (r->ts[j] <= ts && r->rank[j] <= rank) continue; /* the new one outlives it */
        if (!put && r->ts[j] > ts) {
            ts2[n] = ts;
            rk2[n++] = rank;
            put = 1;
        }
        ts2[n] = r->ts[j];
        rk2[n++] = r->rank[j];
    }
    if (!put) {
        ts2[n] = ts;
        rk2[n++] = rank;
    }
    int from = n > LPFM ? n - LPFM : 0; /* full: the oldest go (they leave the window first) */
    r->n = (uint8_t)(n - from);
    memcpy(r->ts, ts2 + from, (size_t)r->n * sizeof(int64_t));
    memcpy(r->rank, rk2 + from, r->n);
}

static double sk_estimate(fz_aggs *a, const reg *sk, int64_t lo) {
    for (unsigned i = 0; i < NREG; i++) {
        const reg *r = &sk[i];
        uint8_t m = 0;
        for (int j = 0; j < r->n; j++)
            if (r->ts[j] > lo) {
                m = r->rank[j];
                break;
            }
        a->regs[i] = m;
    }
    return fz_hll_estimate(a->regs, HLL_P);
}

/* ---- the window ---- */

static int charge(fz_aggs *a, size_t more) {
    if (a->bytes + more > a->max_bytes) {
        a->over_budget++;
        return -1;
    }
    a->bytes += more;
    return 0;
}

/* drop values at or before lo; back to exact when nothing dropped is in
 * the window any more */
static void prune(fz_aggs *a, entry *e, int64_t lo) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < e->n; i++)
        if (e->v[i].ts > lo) e->v[k++] = e->v[i];
    e->n = k;
    if (e->sk && e->dropped_ms <= lo) {
        a->bytes -= class_bytes(SK_CLASS);
        a->estimated--;
        pool_put(a, SK_CLASS, e->sk);
        e->sk = NULL;
        e->dropped_ms = INT64_MIN;
    }
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static int64_t median(fz_aggs *a, const entry *e) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < e->n; i++)
        if (e->v[i].dur >= 0) a->scratch[m++] = e->v[i].dur;
    if (!m) return -1;
    qsort(a->scratch, m, sizeof(int64_t), cmp_i64);
    int64_t lo = a->scratch[m / 2 - (m % 2 ? 0 : 1)], hi = a->scratch[m / 2];
    return lo + (hi - lo) / 2; /* sorted and >= 0: no overflow */
}

/* add value h at ts to e; 1 if the entry changed */
static int add_value(fz_aggs *a, entry *e, uint64_t h, int64_t ts, int64_t dur) {
    for (uint32_t i = 0; i < e->n; i++)
        if (e->v[i].h == h) {
            if (ts < e->v[i].ts) return 0;
            e->v[i].ts = ts;
            e->v[i].dur = dur;
            if (e->sk) sk_add(e->sk, h, ts);
            return 1;
        }
    if (e->n == e->cap && e->cap < a->exact_max) {
        uint32_t cap = e->cap ? e->cap * 2 : MIN_VALS;
        if (cap > a->exact_max) cap = a->exact_max;
        int c = class_of(cap), oc = e->cap ? class_of(e->cap) : -1;
        size_t more = class_bytes(c) - (oc >= 0 ? class_bytes(oc) : 0);
        if (charge(a, more) == 0) {
            val *nv = pool_get(a, c);
            if (nv) {
                if (e->n) memcpy(nv, e->v, (size_t)e->n * sizeof(val));
                if (oc >= 0) pool_put(a, oc, e->v);
                e->v = nv;
                e->cap = cap;
            } else {
                a->bytes -= more;
            }
        }
    }
    if (e->n < e->cap) {
        e->v[e->n++] = (val){h, ts, dur};
        if (e->sk) sk_add(e->sk, h, ts);
        return 1;
    }
    if (e->cap < a->exact_max && !e->sk) return 0; /* no room: counted over budget */
    if (!e->sk) { /* past exact_max: the sketch counts from here on */
        if (charge(a, class_bytes(SK_CLASS)) != 0) return 0;
        e->sk = pool_get(a, SK_CLASS);
        if (!e->sk) {
            a->bytes -= class_bytes(SK_CLASS);
            return 0;
        }
        memset(e->sk, 0, class_bytes(SK_CLASS));
        a->estimated++;
        for (uint32_t i = 0; i < e->n; i++) sk_add(e->sk, e->v[i].h, e->v[i].ts);
    }
    sk_add(e->sk, h, ts);
    /* the list keeps the newest values: the oldest makes room */
    uint32_t old = 0;
    for (uint32_t i = 1; i < e->n; i++)
        if (e->v[i].ts < e->v[old].ts) old = i;
    if (e->v[old].ts > ts) return 1; /* older than all kept: counted in the sketch only */
    if (e->v[old].ts > e->dropped_ms) e->dropped_ms = e->v[old].ts;
    e->v[old] = (val){h, ts, dur};
    return 1;
}

void fz_aggs_hit(fz_aggs *a, const fz_agg_in *in, fz_agg_out *out) {
    memset(out, 0, sizeof(*out));
    out->median_duration_s = -1;
    if (!in->key || !in->value || in->window_ms <= 0) return;
    sweep(a, in->ts_ms);
    uint64_t slot;
    entry *e = find(a, in->key, &slot);
    if (!e) {
        e = claim(a, in->key, in->ts_ms, &slot);
        e->newest_ms = in->ts_ms;
    }
    e->window_ms = in->window_ms;
    if (in->ts_ms > e->newest_ms) e->newest_ms = in->ts_ms;
    int64_t lo = fz_sat_sub(e->newest_ms, in->window_ms, NULL);
    if (in->ts_ms <= lo) {
        a->late++;
        return;
    }
    prune(a, e, lo);
    add_value(a, e, in->value, in->ts_ms, in->duration_s);
    mark(a, slot);
    out->estimated = e->sk != NULL;
    if (e->sk) {
        double est = sk_estimate(a, e->sk, lo);
        out->distinct = (uint64_t)(est + 0.5);
        if (out->distinct < e->n) out->distinct = e->n;
    } else {
        out->distinct = e->n;
    }
    out->first_ms = e->newest_ms;
    for (uint32_t i = 0; i < e->n; i++)
        if (e->v[i].ts < out->first_ms) out->first_ms = e->v[i].ts;
    if (out->distinct < in->min_distinct || in->ts_ms < e->quiet_until_ms) return;
    if (in->median_below_ms > 0) {
        out->median_duration_s = median(a, e);
        if (out->median_duration_s < 0 || out->median_duration_s >= in->median_below_ms / 1000)
            return;
    }
    out->fired = 1;
    e->quiet_until_ms = fz_sat_add(in->ts_ms, in->window_ms, NULL);
}

/* ---- changelog ---- */

int fz_agg_changes(fz_aggs *a, fz_agg_change_fn fn, void *ctx) {
    int rc;
    for (size_t i = 0; i < a->nchanged; i++) {
        entry *e = &a->slots[a->changed[i]];
        if (e->logged && e->logged != e->key && (rc = fn(ctx, e->logged, NULL))) return rc;
    }
    for (size_t i = 0; i < a->nchanged; i++) {
        entry *e = &a->slots[a->changed[i]];
        if (e->key && (rc = fn(ctx, e->key, a))) return rc;
    }
    return 0;
}

void fz_agg_changes_done(fz_aggs *a) {
    for (size_t i = 0; i < a->nchanged; i++) {
        entry *e = &a->slots[a->changed[i]];
        e->logged = e->key;
        e->dirty = 0;
    }
    a->nchanged = 0;
}

size_t fz_agg_changed(const fz_aggs *a) { return a->nchanged; }

static void put64(fz_buf *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    fz_buf_put(b, x, 8);
}

/* version, flags, n, newest, quiet_until, window, dropped, n x (h, ts,
 * dur), then with the sketch: NREG x (count, count x (ts, rank)) */
fz_err fz_agg_entry_save(const fz_aggs *a, uint64_t key, fz_buf *b) {
    uint64_t slot;
    entry *e = find((fz_aggs *)a, key, &slot);
    if (!e) return FZ_ERR_ARG;
    /* only what the window holds (a reload may have shortened it since the
     * entry was last pruned) */
    int64_t lo = fz_sat_sub(e->newest_ms, e->window_ms, NULL);
    uint64_t n = 0;
    for (uint32_t i = 0; i < e->n; i++) n += e->v[i].ts > lo;
    fz_buf_putc(b, SAVE_VERSION);
    fz_buf_putc(b, e->sk ? 1 : 0);
    put64(b, n);
    put64(b, (uint64_t)e->newest_ms);
    put64(b, (uint64_t)e->quiet_until_ms);
    put64(b, (uint64_t)e->window_ms);
    put64(b, (uint64_t)e->dropped_ms);
    for (uint32_t i = 0; i < e->n; i++) {
        if (e->v[i].ts <= lo) continue;
        put64(b, e->v[i].h);
        put64(b, (uint64_t)e->v[i].ts);
        put64(b, (uint64_t)e->v[i].dur);
    }
    if (e->sk)
        for (unsigned i = 0; i < NREG; i++) {
            fz_buf_putc(b, (char)e->sk[i].n);
            for (int j = 0; j < e->sk[i].n; j++) {
                put64(b, (uint64_t)e->sk[i].ts[j]);
                fz_buf_putc(b, (char)e->sk[i].rank[j]);
            }
        }
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, err_size, __VA_ARGS__);                                                      \
        goto bad;                                                                                  \
    } while (0)

int fz_agg_put(fz_aggs *a, uint64_t key, const void *p, size_t n, char *err, size_t err_size) {
    fz_rd d = fz_rd_init(p, n);
    val *v = NULL;
    reg *sk = NULL;
    if (!key) BAD("aggregate entry with key 0");
    uint8_t ver = fz_rd_u8(&d), flags = fz_rd_u8(&d);
    if (d.bad || ver != SAVE_VERSION)
        BAD("aggregate entry of version %u, this build reads %u", ver, SAVE_VERSION);
    if (flags > 1) BAD("aggregate entry with unknown flags %u", flags);
    uint64_t nv = fz_rd_u64(&d);
    int64_t newest = (int64_t)fz_rd_u64(&d), quiet = (int64_t)fz_rd_u64(&d),
            window = (int64_t)fz_rd_u64(&d), dropped = (int64_t)fz_rd_u64(&d);
    if (d.bad) BAD("aggregate entry truncated (%zu bytes)", n);
    if (nv > a->exact_max || (uint64_t)(d.end - d.p) / 24 < nv)
        BAD("aggregate entry with %llu values (at most %u here, or truncated)",
            (unsigned long long)nv, a->exact_max);
    if (newest < 0 || newest > FZ_AGG_TS_MAX)
        BAD("aggregate entry with newest event time %lld", (long long)newest);
    if (window <= 0 || window > 7LL * 86400 * 1000)
        BAD("aggregate entry with window %lld ms", (long long)window);
    uint32_t cap = MIN_VALS;
    while (cap < nv) cap *= 2;
    if (cap > a->exact_max) cap = a->exact_max;
    if (!(v = malloc(cap * sizeof(val)))) BAD("out of memory");
    for (uint64_t i = 0; i < nv; i++) {
        v[i].h = fz_rd_u64(&d);
        v[i].ts = (int64_t)fz_rd_u64(&d);
        v[i].dur = (int64_t)fz_rd_u64(&d);
        if (!v[i].h || v[i].ts > newest || v[i].ts <= newest - window || v[i].dur < -1)
            BAD("aggregate entry value %llu out of its window or invalid", (unsigned long long)i);
        for (uint64_t j = 0; j < i; j++)
            if (v[j].h == v[i].h) BAD("aggregate entry lists a value twice");
    }
    if (flags & 1) {
        if (!(sk = calloc(NREG, sizeof(reg)))) BAD("out of memory");
        for (unsigned i = 0; i < NREG && !d.bad; i++) {
            uint8_t c = fz_rd_u8(&d);
            if (c > LPFM) BAD("aggregate sketch register with %u pairs (at most %d)", c, LPFM);
            sk[i].n = c;
            for (int j = 0; j < c; j++) {
                sk[i].ts[j] = (int64_t)fz_rd_u64(&d);
                sk[i].rank[j] = fz_rd_u8(&d);
                if (sk[i].rank[j] < 1 || sk[i].rank[j] > 64 - HLL_P + 1 || sk[i].ts[j] > newest ||
                    (j && (sk[i].ts[j] < sk[i].ts[j - 1] || sk[i].rank[j] >= sk[i].rank[j - 1])))
                    BAD("aggregate sketch register %u out of order or out of range", i);
            }
        }
    }
    if (d.bad || d.p != d.end)
        BAD("aggregate entry truncated or with trailing bytes (%zu bytes)", n);
    size_t need = class_bytes(class_of(cap)) + (sk ? class_bytes(SK_CLASS) : 0);
    val *pv = pool_get(a, class_of(cap));
    reg *psk = sk ? pool_get(a, SK_CLASS) : NULL;
    if (!pv || (sk && !psk)) {
        if (pv) pool_put(a, class_of(cap), pv);
        if (psk) pool_put(a, SK_CLASS, psk);
        BAD("out of memory");
    }
    memcpy(pv, v, (size_t)nv * sizeof(val));
    if (sk) memcpy(psk, sk, class_bytes(SK_CLASS));
    free(v);
    free(sk);
    v = NULL;
    sk = NULL;
    uint64_t slot;
    entry *e = find(a, key, &slot);
    if (e) {
        entry_clear(a, e);
    } else {
        e = claim(a, key, newest, &slot);
    }
    if (a->bytes + need > a->max_bytes) a->over_budget++; /* restored all the same */
    a->bytes += need;
    e->newest_ms = newest;
    e->quiet_until_ms = quiet;
    e->window_ms = window;
    e->dropped_ms = dropped;
    e->v = pv;
    e->n = (uint32_t)nv;
    e->cap = cap;
    e->sk = psk;
    if (psk) a->estimated++;
    mark(a, slot);
    return 0;
bad:
    free(v);
    free(sk);
    return -1;
}

void fz_agg_remove(fz_aggs *a, uint64_t key) {
    uint64_t slot;
    if (find(a, key, &slot)) drop(a, slot);
}

void fz_aggs_stats_get(const fz_aggs *a, fz_agg_stats *out) {
    out->entries = a->entries;
    out->capacity = a->nsets * WAYS;
    out->evictions = a->evictions;
    out->late = a->late;
    out->over_budget = a->over_budget;
    out->estimated = a->estimated;
    out->bytes = a->bytes + a->nsets * WAYS * sizeof(entry);
}
