/*
 * gitrules.h - a rules directory as it was at a git revision, for
 * `fanzha rules diff --git REV` (review a change against the committed
 * rules without a second checkout).
 *
 * The directory's tree at REV is exported with `git archive` into a fresh
 * temporary directory and unpacked with `tar`; both run through
 * posix_spawnp (no shell), with REV checked first (a revision expression:
 * no leading '-', no ':' or "..", no white space or shell characters) and
 * resolved to a commit. Errors name the directory and the revision: not in
 * a git repository, REV not a commit, the directory not present at REV.
 * Called from the main thread of a command; not thread-safe (it runs
 * child processes and waits for them).
 */
#ifndef FZ_GITRULES_H
#define FZ_GITRULES_H

#include <stddef.h>

/*
 * Export directory dir (inside a git work tree; it must exist now) as of
 * revision rev into a new temporary directory under $TMPDIR (else /tmp),
 * whose path is written to out (out_size bytes: PATH_MAX is enough).
 * display (display_size bytes) receives how to name it to a user:
 * "REV:path-in-repository". Returns 0, or -1 with errstr filled and
 * nothing left behind.
 */
int fz_gitrules_export(const char *dir, const char *rev, char *out, size_t out_size, char *display,
                       size_t display_size, char *errstr, size_t errstr_size);

/* Remove a directory made by fz_gitrules_export() and everything in it.
 * NULL or "" is a no-op. */
void fz_gitrules_remove(const char *out);

/* 1 when rev is acceptable as a revision expression (see above). */
int fz_gitrules_rev_ok(const char *rev);

#endif
