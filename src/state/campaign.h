/*
 * campaign.h - what makes two messages "the same campaign".
 *
 * A scam template is sent to thousands of recipients with per-recipient
 * details filled in: an order number, a callback number, a tracking link.
 * The campaign form of a text is its normalised view (norm.h) with white
 * space removed and, depending on the mask set, every URL or domain, every
 * phone-like number (7+ digits, with optional + - space separators) and
 * every other digit run replaced by a one-byte placeholder. Its XXH3 is the
 * campaign key: all variants of one template share it.
 *
 * Masks are chosen per rule category by configuration (a bank-impersonation
 * campaign may be told apart by its link, a loan campaign should not be);
 * the default masks all three. Pure functions, no allocation, any thread.
 */
#ifndef FZ_CAMPAIGN_H
#define FZ_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "common.h"

#define FZ_MASK_DIGITS 1u
#define FZ_MASK_URLS 2u
#define FZ_MASK_PHONES 4u
#define FZ_MASK_ALL (FZ_MASK_DIGITS | FZ_MASK_URLS | FZ_MASK_PHONES)

/* Placeholders in the campaign form. */
#define FZ_MASK_CHAR_URL '\x01'
#define FZ_MASK_CHAR_PHONE '\x02'
#define FZ_MASK_CHAR_DIGITS '\x03'

/*
 * Write the campaign form of text[0..n) into out and return its length.
 * scratch and out must each have room for n bytes; scratch receives the
 * normalised view on the way. fz_norm_init() must have succeeded.
 */
size_t fz_campaign_form(const char *text, size_t n, unsigned masks, char *scratch, char *out);

/* XXH3 of the campaign form (same buffers as above). */
uint64_t fz_campaign_key(const char *text, size_t n, unsigned masks, char *scratch, char *out);

/* The same from text that is already normalised (the scanner's view of it),
 * so the hot path does not normalise twice; out needs room for m bytes. */
size_t fz_campaign_form_normalised(const char *norm, size_t m, unsigned masks, char *out);
uint64_t fz_campaign_key_normalised(const char *norm, size_t m, unsigned masks, char *out);

/* Parse a mask list word ("digits", "urls", "phones", "all", "none");
 * returns the bits or -1. */
int fz_campaign_mask_parse(const char *word);

/* Masks per rule category, from the configuration's campaign_masks map
 * ("default" applies to categories not listed). Read-only once parsed. */
typedef struct fz_mask_config {
    unsigned default_masks;
    size_t n;
    char **category;
    unsigned *masks;
} fz_mask_config;

/* Parse pairs like ("impersonate_bank", "digits,phones"), ("default", "all").
 * Returns 0, or -1 with errstr naming the key and the bad word. */
int fz_mask_config_parse(fz_mask_config *mc, const char *const *keys, const char *const *values,
                         size_t n, char *errstr, size_t errstr_size);
unsigned fz_mask_config_lookup(const fz_mask_config *mc, const char *category);
void fz_mask_config_free(fz_mask_config *mc);

/* ---- the campaign table ----
 *
 * Every campaign seen recently, keyed by campaign key: when it started and
 * was last seen, how many events it had, distinct recipients and senders
 * (HyperLogLog), the first event's primary rule and ruleset, and one sample text. Hard cap on
 * campaigns (8-way sets; a full set evicts its least recently seen
 * campaign, counted and handed back so its closing summary can be sent).
 * For sms it replaces the dedup store: a campaign's first event alerts,
 * the rest are suppressed and counted, and summaries report the counts.
 * Like the dedup store it belongs to one thread and, with tracking on,
 * hands out its changes for a changelog (dedup.h explains the order).
 * (Events are not remembered by id: ids from different SMSCs collide, so a
 * different text under a reused id is a different event. fanzha run never
 * shows the table an input record twice: see stream/decide.c.)
 */
#define FZ_CAMPAIGN_SAMPLE 192
#define FZ_CAMPAIGN_P_RECIPIENTS 10 /* 1 KiB, 3.25 % standard error */
#define FZ_CAMPAIGN_P_SENDERS 6     /* 64 B, 13 % */

typedef struct fz_campaign {
    uint64_t key; /* 0 = empty slot */
    int64_t first_ms, last_ms;
    uint64_t count;
    int64_t summary_ms;     /* event time of the last summary (first_ms at start) */
    uint64_t summary_count; /* count at the last summary */
    char rule_id[129];      /* primary rule of the first event */
    char category[65];
    char ruleset[24]; /* ruleset version of the first event */
    uint16_t sample_len;
    char sample[FZ_CAMPAIGN_SAMPLE];
    uint8_t recipients[1u << FZ_CAMPAIGN_P_RECIPIENTS];
    uint8_t senders[1u << FZ_CAMPAIGN_P_SENDERS];
} fz_campaign;

typedef enum fz_campaign_outcome {
    FZ_CAMPAIGN_NEW = 0, /* first event of the campaign: alert now */
    FZ_CAMPAIGN_REPEAT   /* counted into an existing campaign */
} fz_campaign_outcome;

/* Why a campaign summary is written. */
typedef enum fz_campaign_state {
    FZ_CAMPAIGN_OPEN = 0,       /* periodic: the campaign goes on */
    FZ_CAMPAIGN_CLOSED_WINDOW,  /* its window (dedup_window_ms from the first event) ended */
    FZ_CAMPAIGN_CLOSED_EVICTED, /* pushed out of the full table */
    FZ_CAMPAIGN_CLOSED_END      /* end of input (replay) */
} fz_campaign_state;

const char *fz_campaign_state_name(fz_campaign_state s);

/* One matched event, as the table sees it. */
typedef struct fz_campaign_event {
    uint64_t key;
    int64_t ts_ms;
    uint64_t recipient_hash, sender_hash; /* 0 = absent */
    fz_str rule_id, category, ruleset;    /* for a new campaign (cut to fit) */
    const char *sample;                   /* the text, for a new campaign */
    size_t sample_len;
} fz_campaign_event;

typedef struct fz_campaign_result {
    fz_campaign_outcome outcome;
    uint64_t count; /* the campaign's events including this one */
    int closed;     /* *closed holds a campaign that ended: window over or evicted */
    fz_campaign_state closed_state;
    int summary; /* *summary holds the campaign: a periodic summary is due */
} fz_campaign_result;

typedef struct fz_campaigns fz_campaigns;

typedef struct fz_campaigns_stats {
    uint64_t campaigns; /* live */
    uint64_t evictions;
    size_t bytes; /* memory held, fixed at creation */
} fz_campaigns_stats;

/*
 * A table for at most max_campaigns campaigns. A campaign lasts window_ms
 * of event time from its first event (the dedup window: afterwards - or
 * window_ms before it - the next event starts a new campaign and alerts
 * again); summary_ms > 0 asks for a periodic summary when an event arrives
 * that long (event time) after the previous summary. NULL with errstr.
 */
fz_campaigns *fz_campaigns_new(size_t max_campaigns, int64_t window_ms, int64_t summary_ms,
                               int track, char *errstr, size_t errstr_size);
void fz_campaigns_destroy(fz_campaigns *c);

/* Count one matched event. closed and summary (each sizeof(fz_campaign))
 * receive copies when res says so. */
void fz_campaigns_hit(fz_campaigns *c, const fz_campaign_event *ev, fz_campaign_result *res,
                      fz_campaign *closed, fz_campaign *summary);

/* Is a closing summary worth writing? A one-event campaign's alert has
 * said everything already. */
static inline int fz_campaign_worth_closing(const fz_campaign *cp) { return cp->count >= 2; }

/* Copy campaign key into *out; 0, or -1 if it is not in the table. */
int fz_campaigns_get(fz_campaigns *c, uint64_t key, fz_campaign *out);

/* Call fn for every live campaign and empty the table (end of input). */
void fz_campaigns_drain(fz_campaigns *c, void (*fn)(void *ctx, const fz_campaign *cp), void *ctx);

/* Changelog (see dedup.h): tombstones (cp NULL) first, then changed entries. */
typedef int (*fz_campaigns_change_fn)(void *ctx, uint64_t key, const fz_campaign *cp);
int fz_campaigns_changes(fz_campaigns *c, fz_campaigns_change_fn fn, void *ctx);
void fz_campaigns_changes_done(fz_campaigns *c);
size_t fz_campaigns_changed(const fz_campaigns *c);
/* Restore an entry as the changelog holds it, or remove a key. */
void fz_campaigns_put(fz_campaigns *c, const fz_campaign *cp);
void fz_campaigns_remove(fz_campaigns *c, uint64_t key);

/* One campaign in the changelog's binary form (versioned); load returns
 * the bytes used, 0 if they are not a campaign this build wrote. */
fz_err fz_campaign_save(const fz_campaign *cp, fz_buf *b);
size_t fz_campaign_load(fz_campaign *cp, const void *p, size_t n);

void fz_campaigns_stats_get(fz_campaigns *c, fz_campaigns_stats *out);

#endif
