/*
 * fs.h - small file-system helpers shared by the on-disk stores (the
 * compiled-rules cache, the kept rulesets), and the line reader of the
 * commands that read JSON lines from files.
 */
#ifndef FZ_FS_H
#define FZ_FS_H

#include <stddef.h>
#include <stdio.h>

/* mkdir -p: every missing component of dir is created with mode 0700 (the
 * stores hold what the daemon trusts). 0, or -1 with errno. */
int fz_mkdir_p(const char *dir);

/* Create dir (fz_mkdir_p) and open it for a store of what the daemon will
 * trust: it must be owned by the effective uid and not writable by group
 * or others (symbolic links are followed: what they point to is checked).
 * The directory's descriptor, or -1 with errstr "WHAT DIR: ..." (plus
 * hint after a refusal, if not NULL). */
int fz_private_dir_open(const char *what, const char *dir, const char *owner_hint,
                        const char *mode_hint, char *errstr, size_t errstr_size);

/* fn gets each non-empty line of fp, without its line ending ("\n" or
 * "\r\n"), and its number (from 1); a non-zero return stops the read. */
typedef int (*fz_line_fn)(void *ctx, char *line, size_t n, size_t lineno);
/* Read fp to its end through fn: 0; 1 when fn stopped it; -1 with errno on
 * a read error (or out of memory for a line). fp stays open. */
int fz_each_line(FILE *fp, fz_line_fn fn, void *ctx);

#endif
