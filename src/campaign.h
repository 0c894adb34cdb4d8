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

/* Parse a mask list word ("digits", "urls", "phones", "all", "none");
 * returns the bits or -1. */
int fz_campaign_mask_parse(const char *word);

#endif
