/*
 * campaign.c - see campaign.h. One left-to-right pass over the normalised
 * text; at each position the longest of URL, phone or digit run wins. Links
 * are found by fz_url_span() (url.h), the scanner the URL fields use too.
 */
#include "campaign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common.h"
#include "hll.h"
#include "norm.h"
#include "url.h"

static int lower_alpha(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int host_char(unsigned char c) { return lower_alpha(c) || digit(c) || c == '-' || c == '.'; }
static int space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Length of a number (digits with + - space separators) at s[0]; *ndigits
 * gets how many digits it holds. */
static size_t number_len(const char *s, size_t n, size_t *ndigits) {
    size_t i = 0, d = 0;
    if (i < n && s[i] == '+') i++;
    size_t last = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (digit(c)) {
            d++;
            i++;
            last = i;
        } else if ((c == '-' || c == ' ') && i + 1 < n && digit((unsigned char)s[i + 1]) && d) {
            i++;
        } else {
            break;
        }
    }
    *ndigits = d;
    return d ? last : 0;
}

size_t fz_campaign_form(const char *text, size_t n, unsigned masks, char *scratch, char *out) {
    return fz_campaign_form_normalised(scratch, fz_norm_text(text, n, scratch), masks, out);
}

size_t fz_campaign_form_normalised(const char *scratch, size_t m, unsigned masks, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < m;) {
        unsigned char c = (unsigned char)scratch[i];
        int at_word_start = i == 0 || !host_char((unsigned char)scratch[i - 1]);
        if ((masks & FZ_MASK_URLS) && at_word_start && (lower_alpha(c) || digit(c))) {
            size_t u = fz_url_span(scratch + i, m - i);
            if (u) {
                out[o++] = FZ_MASK_CHAR_URL;
                i += u;
                continue;
            }
        }
        if ((masks & (FZ_MASK_PHONES | FZ_MASK_DIGITS)) && (digit(c) || c == '+')) {
            size_t nd, len = number_len(scratch + i, m - i, &nd);
            if (len && (masks & FZ_MASK_PHONES) && nd >= 7) {
                out[o++] = FZ_MASK_CHAR_PHONE;
                i += len;
                continue;
            }
            if (len && (masks & FZ_MASK_DIGITS)) {
                /* a short number: only its digit run (separators stay text) */
                size_t k = i + (c == '+');
                if (k < m && digit((unsigned char)scratch[k])) {
                    if (c == '+') out[o++] = '+';
                    while (k < m && digit((unsigned char)scratch[k])) k++;
                    out[o++] = FZ_MASK_CHAR_DIGITS;
                    i = k;
                    continue;
                }
            }
        }
        if (!space(c)) out[o++] = (char)c;
        i++;
    }
    return o;
}

uint64_t fz_campaign_key(const char *text, size_t n, unsigned masks, char *scratch, char *out) {
    size_t k = fz_campaign_form(text, n, masks, scratch, out);
    return XXH3_64bits_withSeed(out, k, 0x63616d70u /* "camp" */);
}

uint64_t fz_campaign_key_normalised(const char *norm, size_t m, unsigned masks, char *out) {
    size_t k = fz_campaign_form_normalised(norm, m, masks, out);
    return XXH3_64bits_withSeed(out, k, 0x63616d70u /* "camp" */);
}

int fz_campaign_mask_parse(const char *w) {
    if (!strcmp(w, "digits")) return (int)FZ_MASK_DIGITS;
    if (!strcmp(w, "urls")) return (int)FZ_MASK_URLS;
    if (!strcmp(w, "phones")) return (int)FZ_MASK_PHONES;
    if (!strcmp(w, "all")) return (int)FZ_MASK_ALL;
    if (!strcmp(w, "none")) return 0;
    return -1;
}

static int parse_masks(const char *v, unsigned *out) {
    char word[32];
    unsigned m = 0;
    while (*v) {
        size_t n = strcspn(v, ", ");
        if (n == 0) {
            v++;
            continue;
        }
        if (n >= sizeof(word)) return -1;
        memcpy(word, v, n);
        word[n] = '\0';
        int bits = fz_campaign_mask_parse(word);
        if (bits < 0) return -1;
        m |= (unsigned)bits;
        v += n;
    }
    *out = m;
    return 0;
}

int fz_mask_config_parse(fz_mask_config *mc, const char *const *keys, const char *const *values,
                         size_t n, char *errstr, size_t errstr_size) {
    memset(mc, 0, sizeof(*mc));
    mc->default_masks = FZ_MASK_ALL;
    mc->category = calloc(n ? n : 1, sizeof(char *));
    mc->masks = calloc(n ? n : 1, sizeof(unsigned));
    if (!mc->category || !mc->masks) {
        snprintf(errstr, errstr_size, "campaign_masks: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned m;
        if (parse_masks(values[i], &m) != 0) {
            snprintf(errstr, errstr_size,
                     "campaign_masks.%s: '%s' is not a list of digits, urls, phones, all, none",
                     keys[i], values[i]);
            fz_mask_config_free(mc);
            return -1;
        }
        if (!strcmp(keys[i], "default")) {
            mc->default_masks = m;
            continue;
        }
        mc->category[mc->n] = strdup(keys[i]);
        mc->masks[mc->n++] = m;
    }
    return 0;
}

unsigned fz_mask_config_lookup(const fz_mask_config *mc, const char *category) {
    if (!mc) return FZ_MASK_ALL;
    for (size_t i = 0; i < mc->n; i++)
        if (!strcmp(mc->category[i], category)) return mc->masks[i];
    return mc->default_masks;
}

void fz_mask_config_free(fz_mask_config *mc) {
    for (size_t i = 0; mc->category && i < mc->n; i++) free(mc->category[i]);
    free(mc->category);
    free(mc->masks);
    memset(mc, 0, sizeof(*mc));
}

/* ---- the campaign table ---- */

#define WAYS 8

static const char *const state_names[] = {"open", "closed_window", "closed_evicted", "closed_end"};

const char *fz_campaign_state_name(fz_campaign_state s) {
    return (unsigned)s < 4 ? state_names[s] : "unknown";
}

typedef struct slot {
    fz_campaign c;   /* c.key == 0: empty */
    uint64_t logged; /* the key the changelog holds for this slot; 0 = none */
    uint32_t dirty;  /* changed since the last changes_done() (tracking only) */
} slot;

struct fz_campaigns {
    slot *slots; /* nsets * WAYS */
    uint64_t nsets;
    int64_t window_ms, summary_ms;
    int track;
    uint32_t *changed; /* dirty slots, in the order they changed */
    size_t nchanged;
    uint64_t live, evictions;
    size_t bytes;
};

fz_campaigns *fz_campaigns_new(size_t max_campaigns, int64_t window_ms, int64_t summary_ms,
                               int track, char *errstr, size_t errstr_size) {
    fz_campaigns *c = calloc(1, sizeof(*c));
    if (!c) goto nomem;
    c->window_ms = window_ms;
    c->summary_ms = summary_ms;
    c->track = track;
    if (max_campaigns < WAYS) max_campaigns = WAYS;
    c->nsets = (max_campaigns + WAYS - 1) / WAYS;
    c->slots = calloc(c->nsets * WAYS, sizeof(slot));
    if (!c->slots) goto nomem_c;
    if (track && !(c->changed = malloc(c->nsets * WAYS * sizeof(uint32_t)))) goto nomem_c;
    c->bytes = c->nsets * WAYS * (sizeof(slot) + (track ? sizeof(uint32_t) : 0));
    fz_prefault(c->slots, c->nsets * WAYS * sizeof(slot));
    if (track) fz_prefault(c->changed, c->nsets * WAYS * sizeof(uint32_t));
    return c;
nomem_c:
    free(c->slots);
    free(c);
nomem:
    snprintf(errstr, errstr_size, "campaigns: cannot allocate %zu campaigns", max_campaigns);
    return NULL;
}

void fz_campaigns_destroy(fz_campaigns *c) {
    if (!c) return;
    free(c->slots);
    free(c->changed);
    free(c);
}

static void touched(fz_campaigns *c, slot *s) {
    if (!c->track || s->dirty) return;
    s->dirty = 1;
    c->changed[c->nchanged++] = (uint32_t)(s - c->slots);
}

/* The set of a key: splitmix64's finalizer, then its high bits. Not the
 * Fibonacci hash the route partitioner uses (fz_route_partition): a decide
 * task holds only the keys of its route partition, which agree in those
 * bits, and with them would have filled 1/N of its sets (test
 * route_stores_use_every_set). */
static slot *set_of(fz_campaigns *c, uint64_t key) {
    uint64_t z = key;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    uint64_t set = (uint64_t)(((unsigned __int128)z * c->nsets) >> 64);
    return &c->slots[set * WAYS];
}

static void copy_str(char *dst, size_t cap, fz_str s) {
    size_t n = s.p ? (s.n < cap ? s.n : cap - 1) : 0;
    if (n) memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void campaign_start(fz_campaign *cp, const fz_campaign_event *ev, uint64_t key) {
    memset(cp, 0, sizeof(*cp));
    cp->key = key;
    cp->first_ms = cp->last_ms = cp->summary_ms = ev->ts_ms;
    copy_str(cp->rule_id, sizeof(cp->rule_id), ev->rule_id);
    copy_str(cp->category, sizeof(cp->category), ev->category);
    copy_str(cp->ruleset, sizeof(cp->ruleset), ev->ruleset);
    size_t sl = ev->sample_len < FZ_CAMPAIGN_SAMPLE ? ev->sample_len : FZ_CAMPAIGN_SAMPLE;
    /* never cut a UTF-8 character in half */
    while (sl > 0 && sl < ev->sample_len && ((unsigned char)ev->sample[sl] & 0xC0) == 0x80) sl--;
    if (sl) memcpy(cp->sample, ev->sample, sl);
    cp->sample_len = (uint16_t)sl;
}

/* Is ts outside the window of a campaign that started at first? Both ways
 * in event time (a campaign dated in the future does not take the present's
 * events); overflow-free. */
static int outside(int64_t ts, int64_t first, int64_t window) {
    uint64_t d = ts >= first ? (uint64_t)ts - (uint64_t)first : (uint64_t)first - (uint64_t)ts;
    return d >= (uint64_t)window;
}

void fz_campaigns_hit(fz_campaigns *c, const fz_campaign_event *ev, fz_campaign_result *res,
                      fz_campaign *closed, fz_campaign *summary) {
    memset(res, 0, sizeof(*res));
    uint64_t key = ev->key ? ev->key : 1;
    slot *ways = set_of(c, key), *s = NULL, *free_slot = NULL, *oldest = &ways[0];
    for (int w = 0; w < WAYS; w++) {
        if (ways[w].c.key == key) {
            s = &ways[w];
            break;
        }
        if (!ways[w].c.key && !free_slot) free_slot = &ways[w];
        if (ways[w].c.last_ms < oldest->c.last_ms) oldest = &ways[w];
    }
    res->outcome = FZ_CAMPAIGN_REPEAT;
    if (s && c->window_ms > 0 && outside(ev->ts_ms, s->c.first_ms, c->window_ms)) {
        /* the campaign's window is over: it closes, this event opens the next */
        *closed = s->c;
        res->closed = 1;
        res->closed_state = FZ_CAMPAIGN_CLOSED_WINDOW;
        campaign_start(&s->c, ev, key);
        res->outcome = FZ_CAMPAIGN_NEW;
    } else if (!s) {
        res->outcome = FZ_CAMPAIGN_NEW;
        s = free_slot;
        if (!s) { /* full set: the least recently seen campaign closes */
            s = oldest;
            *closed = s->c;
            res->closed = 1;
            res->closed_state = FZ_CAMPAIGN_CLOSED_EVICTED;
            c->evictions++;
        } else {
            c->live++;
        }
        campaign_start(&s->c, ev, key);
    }
    fz_campaign *cp = &s->c;
    cp->count++;
    if (ev->ts_ms < cp->first_ms) cp->first_ms = ev->ts_ms;
    if (ev->ts_ms > cp->last_ms) cp->last_ms = ev->ts_ms;
    if (ev->recipient_hash)
        fz_hll_add(cp->recipients, FZ_CAMPAIGN_P_RECIPIENTS, ev->recipient_hash);
    if (ev->sender_hash) fz_hll_add(cp->senders, FZ_CAMPAIGN_P_SENDERS, ev->sender_hash);
    res->count = cp->count;
    if (c->summary_ms > 0 && res->outcome == FZ_CAMPAIGN_REPEAT &&
        fz_sat_sub(ev->ts_ms, cp->summary_ms, NULL) >= c->summary_ms) {
        cp->summary_ms = ev->ts_ms;
        cp->summary_count = cp->count;
        *summary = *cp;
        res->summary = 1;
    }
    touched(c, s);
}

int fz_campaigns_get(fz_campaigns *c, uint64_t key, fz_campaign *out) {
    if (key == 0) key = 1;
    slot *ways = set_of(c, key);
    for (int w = 0; w < WAYS; w++)
        if (ways[w].c.key == key) {
            *out = ways[w].c;
            return 0;
        }
    return -1;
}

void fz_campaigns_drain(fz_campaigns *c, void (*fn)(void *ctx, const fz_campaign *cp), void *ctx) {
    for (uint64_t i = 0; i < c->nsets * WAYS; i++) {
        if (!c->slots[i].c.key) continue;
        fn(ctx, &c->slots[i].c);
        c->slots[i].c.key = 0;
        touched(c, &c->slots[i]);
    }
    c->live = 0;
}

int fz_campaigns_changes(fz_campaigns *c, fz_campaigns_change_fn fn, void *ctx) {
    int rc;
    for (size_t i = 0; i < c->nchanged; i++) { /* keys that left first */
        slot *s = &c->slots[c->changed[i]];
        if (s->logged && s->logged != s->c.key && (rc = fn(ctx, s->logged, NULL))) return rc;
    }
    for (size_t i = 0; i < c->nchanged; i++) {
        slot *s = &c->slots[c->changed[i]];
        if (s->c.key && (rc = fn(ctx, s->c.key, &s->c))) return rc;
    }
    return 0;
}

void fz_campaigns_changes_done(fz_campaigns *c) {
    for (size_t i = 0; i < c->nchanged; i++) {
        slot *s = &c->slots[c->changed[i]];
        s->logged = s->c.key;
        s->dirty = 0;
    }
    c->nchanged = 0;
}

size_t fz_campaigns_changed(const fz_campaigns *c) { return c->nchanged; }

void fz_campaigns_put(fz_campaigns *c, const fz_campaign *cp) {
    uint64_t key = cp->key ? cp->key : 1;
    slot *ways = set_of(c, key), *s = NULL, *free_slot = NULL, *oldest = &ways[0];
    for (int w = 0; w < WAYS && !s; w++) {
        if (ways[w].c.key == key) s = &ways[w];
        if (!ways[w].c.key && !free_slot) free_slot = &ways[w];
        if (ways[w].c.last_ms < oldest->c.last_ms) oldest = &ways[w];
    }
    if (!s && free_slot) {
        s = free_slot;
        c->live++;
    } else if (!s) { /* a smaller table than before: the evicted key leaves */
        s = oldest;
        c->evictions++;
        touched(c, s);
    }
    s->c = *cp;
    s->c.key = key;
    if (!s->dirty) s->logged = key;
}

void fz_campaigns_remove(fz_campaigns *c, uint64_t key) {
    slot *ways = set_of(c, key ? key : 1);
    for (int w = 0; w < WAYS; w++)
        if (ways[w].c.key == key) {
            ways[w].c.key = 0;
            if (!ways[w].dirty) ways[w].logged = 0;
            c->live--;
            return;
        }
}

/* The entry codec: fixed little-endian layout, version byte first. */
#define CAMPAIGN_CODEC 1

fz_err fz_campaign_save(const fz_campaign *cp, fz_buf *b) {
    fz_buf_putc(b, CAMPAIGN_CODEC);
    fz_buf_put(b, &cp->key, 8);
    fz_buf_put(b, &cp->first_ms, 8);
    fz_buf_put(b, &cp->last_ms, 8);
    fz_buf_put(b, &cp->count, 8);
    fz_buf_put(b, &cp->summary_ms, 8);
    fz_buf_put(b, &cp->summary_count, 8);
    const char *str[3] = {cp->rule_id, cp->category, cp->ruleset};
    for (int i = 0; i < 3; i++) {
        uint8_t n = (uint8_t)strnlen(str[i], 255);
        fz_buf_putc(b, (char)n);
        fz_buf_put(b, str[i], n);
    }
    fz_buf_put(b, &cp->sample_len, 2);
    fz_buf_put(b, cp->sample, cp->sample_len);
    fz_buf_put(b, cp->recipients, sizeof(cp->recipients));
    fz_buf_put(b, cp->senders, sizeof(cp->senders));
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

size_t fz_campaign_load(fz_campaign *cp, const void *p, size_t n) {
    const unsigned char *c = p, *end = c + n;
    memset(cp, 0, sizeof(*cp));
#define TAKE(dst, len)                                                                             \
    do {                                                                                           \
        if ((size_t)(end - c) < (size_t)(len)) return 0;                                           \
        memcpy((dst), c, (len));                                                                   \
        c += (len);                                                                                \
    } while (0)
    uint8_t ver;
    TAKE(&ver, 1);
    if (ver != CAMPAIGN_CODEC) return 0;
    TAKE(&cp->key, 8);
    TAKE(&cp->first_ms, 8);
    TAKE(&cp->last_ms, 8);
    TAKE(&cp->count, 8);
    TAKE(&cp->summary_ms, 8);
    TAKE(&cp->summary_count, 8);
    char *str[3] = {cp->rule_id, cp->category, cp->ruleset};
    size_t cap[3] = {sizeof(cp->rule_id), sizeof(cp->category), sizeof(cp->ruleset)};
    for (int i = 0; i < 3; i++) {
        uint8_t len;
        TAKE(&len, 1);
        if (len >= cap[i]) return 0;
        TAKE(str[i], len);
        str[i][len] = '\0';
    }
    TAKE(&cp->sample_len, 2);
    if (cp->sample_len > FZ_CAMPAIGN_SAMPLE) return 0;
    TAKE(cp->sample, cp->sample_len);
    TAKE(cp->recipients, sizeof(cp->recipients));
    TAKE(cp->senders, sizeof(cp->senders));
#undef TAKE
    if (!cp->key) return 0;
    return (size_t)(c - (const unsigned char *)p);
}

void fz_campaigns_stats_get(fz_campaigns *c, fz_campaigns_stats *out) {
    out->campaigns = c->live;
    out->evictions = c->evictions;
    out->bytes = c->bytes;
}
