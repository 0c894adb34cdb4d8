/*
 * fs.h - small file-system helpers shared by the on-disk stores (the
 * compiled-rules cache, the kept rulesets).
 */
#ifndef FZ_FS_H
#define FZ_FS_H

/* mkdir -p: every missing component of dir is created with mode 0700 (the
 * stores hold what the daemon trusts). 0, or -1 with errno. */
int fz_mkdir_p(const char *dir);

#endif
