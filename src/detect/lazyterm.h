/*
 * lazyterm.h - model terms (model.h) evaluated after the scan, only where
 * a rule's outcome depends on them.
 *
 * Hyperscan finds every regex and list term of an event in one pass, and a
 * rule is evaluated only when one of its terms was found (the matcher's
 * touched rules). A model term has no pattern to find: it is a score with
 * a threshold, and scoring costs about a microsecond, so it is computed
 * lazily. After the scan, for each touched rule with model terms, the
 * condition is evaluated over every value the not-yet-known model terms
 * could take; only while the outcome still depends on them is the next
 * model scored (once per event per model file, whatever the number of
 * rules and thresholds). `bank and model` therefore never scores an event
 * without `bank`, and `bank or model` never scores one with it.
 *
 * A rule whose condition can hold with no regex or list term at all (a
 * rule that is only a model term, `model or bank`, ...) is "always
 * evaluated": it joins the touched rules of every event that has text.
 *
 * One fz_lazy per matcher, used by the matcher's thread only; built off
 * the hot path (fz_lazy_new allocates), allocation-free per event.
 */
#ifndef FZ_LAZYTERM_H
#define FZ_LAZYTERM_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "rules.h"

typedef struct fz_lazy fz_lazy;

/* The per-rule plan of rs's model terms. Returns NULL with *errstr filled
 * on failure, and NULL with errstr "" when rs has no model term (nothing
 * to do). The caller keeps rs alive while the result is used. */
fz_lazy *fz_lazy_new(const fz_ruleset *rs, char *errstr, size_t errstr_size);
void fz_lazy_destroy(fz_lazy *lz);

/* Start an event whose normalised text is text (p NULL or n 0: none; no
 * model term holds then and nothing is scored). unmasked is the skeleton
 * of a disguised text (matcher.h, FZ_VIEW_UNMASKED) or NULL: a model's
 * score is then the higher of the two texts' scores. Both must stay valid
 * until the event's last fz_lazy_resolve(). */
void fz_lazy_begin(fz_lazy *lz, fz_str text, fz_str unmasked);
/* The rules to evaluate on this event although no term of theirs was
 * found: the always-evaluated ones when the event has text, else none. */
size_t fz_lazy_always(const fz_lazy *lz, const uint32_t **rules);
/* The term set of rule `rule` with its model terms' bits filled in,
 * given the bits of its other terms (`terms`): scores what the outcome
 * depends on and leaves the rest 0. */
uint64_t fz_lazy_resolve(fz_lazy *lz, uint32_t rule, uint64_t terms);

/* A model scored for the current event. */
typedef struct fz_score {
    uint32_t model; /* fz_ruleset_model() index */
    float score;
} fz_score;

/* The models scored for the current event (at most max, in the order
 * scored) into out; returns how many. */
int fz_lazy_scores(const fz_lazy *lz, fz_score *out, int max);

/* Models scored since lz was made (each model once per event): the
 * scoring cost indicator. Owning thread, or anyone with relaxed loads. */
uint64_t fz_lazy_scored(const fz_lazy *lz);

#endif
