/*
 * campaign.c - see campaign.h. One left-to-right pass over the normalised
 * text; at each position the longest of URL, phone or digit run wins.
 */
#include "campaign.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common.h"
#include "hll.h"
#include "norm.h"

static int lower_alpha(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int host_char(unsigned char c) { return lower_alpha(c) || digit(c) || c == '-' || c == '.'; }
static int path_char(unsigned char c) {
    return host_char(c) || c == '/' || c == '?' || c == '=' || c == '&' || c == '%' || c == '_' ||
           c == '#' || c == ':' || c == '~' || c == '+';
}
static int space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Length of a URL or bare domain starting at s[0], or 0. */
static size_t url_len(const char *s, size_t n) {
    size_t i = 0;
    if (n >= 7 && memcmp(s, "http://", 7) == 0)
        i = 7;
    else if (n >= 8 && memcmp(s, "https://", 8) == 0)
        i = 8;
    else if (n >= 4 && memcmp(s, "www.", 4) == 0)
        i = 4;
    size_t host = i;
    while (i < n && host_char((unsigned char)s[i])) i++;
    /* a host needs a dot followed by a 2+ letter label */
    size_t last_dot = 0;
    for (size_t k = host; k < i; k++)
        if (s[k] == '.') last_dot = k + 1;
    int is_host = 0;
    if (last_dot && last_dot < i && lower_alpha((unsigned char)s[last_dot])) {
        size_t tld = 0;
        while (last_dot + tld < i && lower_alpha((unsigned char)s[last_dot + tld])) tld++;
        is_host = tld >= 2 && last_dot + tld == i;
    }
    if (!is_host && host == 0) return 0;
    if (!is_host && i == host) return 0;
    while (i < n && path_char((unsigned char)s[i])) i++;
    while (i > 0 && (s[i - 1] == '.' || s[i - 1] == ':')) i--; /* sentence punctuation */
    return i;
}

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
            size_t u = url_len(scratch + i, m - i);
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
#define STRIPES 1024

static const char *const state_names[] = {"open", "closed_window", "closed_evicted", "closed_end"};

const char *fz_campaign_state_name(fz_campaign_state s) {
    return (unsigned)s < 4 ? state_names[s] : "unknown";
}

struct fz_campaigns {
    fz_campaign *slots; /* nsets * WAYS */
    uint64_t nsets;
    int64_t window_ms, summary_ms;
    pthread_mutex_t set_locks[STRIPES];
    _Atomic uint64_t live, evictions;
    size_t bytes;
};

fz_campaigns *fz_campaigns_new(size_t max_campaigns, int64_t window_ms, int64_t summary_ms,
                               char *errstr, size_t errstr_size) {
    fz_campaigns *c = calloc(1, sizeof(*c));
    if (!c) goto nomem;
    c->window_ms = window_ms;
    c->summary_ms = summary_ms;
    if (max_campaigns < WAYS) max_campaigns = WAYS;
    c->nsets = (max_campaigns + WAYS - 1) / WAYS;
    c->slots = calloc(c->nsets * WAYS, sizeof(fz_campaign));
    if (!c->slots) goto nomem_c;
    c->bytes = c->nsets * WAYS * sizeof(fz_campaign);
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&c->set_locks[i], NULL);
    }
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
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_destroy(&c->set_locks[i]);
    }
    free(c->slots);
    free(c);
}

static void campaign_start(fz_campaign *cp, const fz_campaign_event *ev, uint64_t key) {
    memset(cp, 0, sizeof(*cp));
    cp->key = key;
    cp->first_ms = cp->last_ms = cp->summary_ms = ev->ts_ms;
    snprintf(cp->rule_id, sizeof(cp->rule_id), "%s", ev->rule_id ? ev->rule_id : "");
    snprintf(cp->category, sizeof(cp->category), "%s", ev->category ? ev->category : "");
    snprintf(cp->ruleset, sizeof(cp->ruleset), "%s", ev->ruleset ? ev->ruleset : "");
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
    uint64_t set = (uint64_t)(((unsigned __int128)(key * 0x9E3779B97F4A7C15ull) * c->nsets) >> 64);
    pthread_mutex_t *l = &c->set_locks[set % STRIPES];
    fz_campaign *ways = &c->slots[set * WAYS];
    pthread_mutex_lock(l);
    fz_campaign *hit = NULL, *free_slot = NULL, *oldest = &ways[0];
    for (int w = 0; w < WAYS; w++) {
        if (ways[w].key == key) {
            hit = &ways[w];
            break;
        }
        if (!ways[w].key && !free_slot) free_slot = &ways[w];
        if (ways[w].last_ms < oldest->last_ms) oldest = &ways[w];
    }
    res->outcome = FZ_CAMPAIGN_REPEAT;
    if (hit && c->window_ms > 0 && outside(ev->ts_ms, hit->first_ms, c->window_ms)) {
        /* the campaign's window is over: it closes, this event opens the next */
        *closed = *hit;
        res->closed = 1;
        res->closed_state = FZ_CAMPAIGN_CLOSED_WINDOW;
        campaign_start(hit, ev, key);
        res->outcome = FZ_CAMPAIGN_NEW;
    } else if (!hit) {
        res->outcome = FZ_CAMPAIGN_NEW;
        hit = free_slot;
        if (!hit) { /* full set: the least recently seen campaign closes */
            hit = oldest;
            *closed = *hit;
            res->closed = 1;
            res->closed_state = FZ_CAMPAIGN_CLOSED_EVICTED;
            atomic_fetch_add_explicit(&c->evictions, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&c->live, 1, memory_order_relaxed);
        }
        campaign_start(hit, ev, key);
    }
    hit->count++;
    if (ev->ts_ms < hit->first_ms) hit->first_ms = ev->ts_ms;
    if (ev->ts_ms > hit->last_ms) hit->last_ms = ev->ts_ms;
    if (ev->recipient_hash)
        fz_hll_add(hit->recipients, FZ_CAMPAIGN_P_RECIPIENTS, ev->recipient_hash);
    if (ev->sender_hash) fz_hll_add(hit->senders, FZ_CAMPAIGN_P_SENDERS, ev->sender_hash);
    res->count = hit->count;
    if (c->summary_ms > 0 && res->outcome == FZ_CAMPAIGN_REPEAT &&
        fz_sat_sub(ev->ts_ms, hit->summary_ms, NULL) >= c->summary_ms) {
        hit->summary_ms = ev->ts_ms;
        hit->summary_count = hit->count;
        *summary = *hit;
        res->summary = 1;
    }
    pthread_mutex_unlock(l);
}

int fz_campaigns_get(fz_campaigns *c, uint64_t key, fz_campaign *out) {
    if (key == 0) key = 1;
    uint64_t set = (uint64_t)(((unsigned __int128)(key * 0x9E3779B97F4A7C15ull) * c->nsets) >> 64);
    pthread_mutex_t *l = &c->set_locks[set % STRIPES];
    int rc = -1;
    pthread_mutex_lock(l);
    for (int w = 0; w < WAYS; w++)
        if (c->slots[set * WAYS + w].key == key) {
            *out = c->slots[set * WAYS + w];
            rc = 0;
            break;
        }
    pthread_mutex_unlock(l);
    return rc;
}

void fz_campaigns_drain(fz_campaigns *c, void (*fn)(void *ctx, const fz_campaign *cp), void *ctx) {
    for (uint64_t i = 0; i < c->nsets * WAYS; i++) {
        if (!c->slots[i].key) continue;
        fn(ctx, &c->slots[i]);
        c->slots[i].key = 0;
    }
    atomic_store(&c->live, 0);
}

void fz_campaigns_stats_get(fz_campaigns *c, fz_campaigns_stats *out) {
    out->campaigns = atomic_load(&c->live);
    out->evictions = atomic_load(&c->evictions);
    out->bytes = c->bytes;
}
