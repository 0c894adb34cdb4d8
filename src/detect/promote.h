/*
 * promote.h - `fanzha rules promote ID`: make a rule's shadow revision
 * the enabled one by editing its rule files in place.
 *
 * A rule id may appear twice in a rules directory: an enabled revision
 * and a shadow revision with a higher rev (rules.h, fz_rule.pair). To
 * promote is to delete the enabled revision's list item and to change the
 * shadow revision's `status: shadow` to `status: enabled`. A shadow rule
 * with no enabled revision is promoted by the status change alone.
 *
 * The files are edited as bytes, never re-serialised: libyaml's node
 * marks give the byte ranges, and everything outside them (comments,
 * quoting, key order, blank lines, the other rules) stays as it was. An
 * item is deleted as whole lines, from the line of its '-' to the end of
 * the line of its last value; comments above and below it stay. Anything
 * that would make the edit ambiguous is refused with the file and line:
 * a flow-style list or item, an item sharing a line with another, a
 * repeated id or status key, a status that is an alias or tagged.
 *
 * Before writing, the edited directory (a temporary copy) is loaded and
 * compiled with the same loader a reload uses, and must hold ID once, as
 * enabled, with the shadow revision's rev. Each file is then replaced
 * atomically (temporary file in the same directory, same mode, fsync,
 * rename), after checking that it still holds the bytes that were read:
 * a file changed meanwhile is refused. The shadow revision's file is
 * written first, so that a crash between two files leaves two enabled
 * revisions, which every loader refuses (a running instance keeps its
 * ruleset), never the id without an enabled revision.
 *
 * Main thread of a command; not thread-safe.
 */
#ifndef FZ_PROMOTE_H
#define FZ_PROMOTE_H

#include <stddef.h>
#include <stdio.h>

typedef struct fz_dbcache fz_dbcache;

/*
 * Edit the text of one rule file (file names it in errors). With del, the
 * list item of rule id whose status is enabled (written or by default) is
 * deleted; with flip, the `status: shadow` of id's shadow item becomes
 * `status: enabled`. Returns the new text (malloc'd, NUL-terminated,
 * *newlen bytes), or NULL with errstr filled ("file:line: why"). When
 * diff is not NULL, the changed lines are printed to it as unified-diff
 * hunks (no context lines) under "--- a/LABEL" / "+++ b/LABEL".
 */
char *fz_promote_edit(const char *file, const char *label, const char *text, size_t len,
                      const char *id, int del, int flip, FILE *diff, size_t *newlen, char *errstr,
                      size_t errstr_size);

/* The two steps of a promotion, apart so that a caller (a test) can act
 * between them: prepare reads, edits and validates (NULL with errstr
 * filled when refused; nothing is written); the diff is the change as
 * unified-diff text (valid while p is); commit writes the files, refusing
 * (-1, errstr) any that no longer holds the bytes prepare read. */
typedef struct fz_promote fz_promote;
fz_promote *fz_promote_prepare(const char *dir, const char *id, fz_dbcache *cache, char *errstr,
                               size_t errstr_size);
const char *fz_promote_diff(const fz_promote *p, size_t *len);
int fz_promote_commit(fz_promote *p, char *errstr, size_t errstr_size);
/* NULL is a no-op. */
void fz_promote_destroy(fz_promote *p);

/*
 * Promote rule id of the rules directory dir (see above): prepare, print
 * the diff, commit unless dry_run. With dry_run
 * nothing is written. cache (dbcache.h; NULL: none) serves the compile of
 * the edited copy: its databases are mostly the directory's own. What changes is printed to out as
 * a unified diff, then one summary line. Returns 0, or -1 with errstr filled: id unknown, no shadow
 * revision, an invalid directory before or after the edit, a file changed meanwhile, an I/O error.
 */
int fz_rules_promote(const char *dir, const char *id, int dry_run, fz_dbcache *cache, FILE *out,
                     char *errstr, size_t errstr_size);

#endif
