/*
 * matcher.h - per-worker matching of an event's fields against a ruleset.
 *
 * A matcher owns one Hyperscan scratch and a "seen" stamp per rule, and is
 * used by exactly one thread. The ruleset it scans is shared read-only.
 * Binding to a new ruleset (start-up, reload) may allocate; scanning never
 * does.
 */
#ifndef FZ_MATCHER_H
#define FZ_MATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "rules.h"

/* Most rules reported for one event; more matches are counted, not kept. */
#define FZ_MAX_MATCHES 64

typedef struct fz_matcher fz_matcher;

fz_matcher *fz_matcher_new(char *errstr, size_t errstr_size);
void fz_matcher_destroy(fz_matcher *m);

/* Prepare scratch and per-rule state for rs. The matcher does not keep a
 * reference: the caller keeps rs alive while it scans with it. */
int fz_matcher_bind(fz_matcher *m, const fz_ruleset *rs, char *errstr, size_t errstr_size);

/*
 * Scan every field of ev that some rule applies to. Writes the indexes of
 * the matching rules, ascending and each once, into out and returns how
 * many. If more than FZ_MAX_MATCHES rules matched, out keeps the
 * FZ_MAX_MATCHES lowest indexes and *truncated is set. *primary gets the
 * matched rule with the highest severity (lowest index among equals),
 * whether or not it is in out; it is set only when the result is > 0.
 * Returns -1 on a Hyperscan runtime error.
 */
int fz_matcher_scan(fz_matcher *m, const fz_ruleset *rs, const fz_event *ev, uint32_t *out,
                    int *truncated, uint32_t *primary);

#endif
