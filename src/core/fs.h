/*
 * fs.h - small file-system helpers shared by the on-disk stores (the
 * compiled-rules cache, the kept rulesets).
 */
#ifndef FZ_FS_H
#define FZ_FS_H

#include <stddef.h>

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

#endif
