/*
 * history.h - the last few compiled rulesets that loaded, kept on disk so
 * that `fanzha admin rollback` can go back to one of them.
 *
 * Each kept artifact is the compiled file exactly as it was loaded
 * (signature included), in one file of the history directory named
 * VERSION.fzr (VERSION: fz_ruleset_version(), "rs-" + 16 hex digits).
 * Files are written to a unique temporary name (O_EXCL, mode 0600),
 * fsync'd and renamed into place; after each store the oldest (by
 * modification time: when the version was first kept) beyond `keep` are
 * removed. A kept file is trusted no more than a fresh one: rollback loads
 * it through the same checks (fz_artifact_read(), fz_artifact_verify()).
 *
 * Threads: one thread (the reload thread) uses a history at a time.
 */
#ifndef FZ_HISTORY_H
#define FZ_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define FZ_HISTORY_SUFFIX ".fzr"
#define FZ_HISTORY_MAX 1000

typedef struct fz_history fz_history;

typedef struct fz_history_entry {
    char version[20];
    int64_t kept_ns; /* when it was first kept (modification time, ns since the epoch) */
    uint64_t bytes;
} fz_history_entry;

/* Open (creating with mode 0700, parents too) dir, which must be owned by
 * the effective uid and not writable by group or others; keep >= 1. NULL
 * with errstr naming the directory and the reason. */
fz_history *fz_history_open(const char *dir, int keep, char *errstr, size_t errstr_size);
void fz_history_close(fz_history *h);
const char *fz_history_dir(const fz_history *h);

/* Keep len bytes at buf as version's artifact (an existing entry of that
 * version is replaced but keeps its age), then prune. 0, or -1 with
 * errstr. */
int fz_history_store(fz_history *h, const char *version, const uint8_t *buf, size_t len,
                     char *errstr, size_t errstr_size);

/* The kept entries, newest first, into out (at most max); returns how
 * many. */
size_t fz_history_list(fz_history *h, fz_history_entry *out, size_t max);

/* The path of version's kept file into out; -1 when version is not a
 * version name or the path does not fit. Whether it exists is the
 * loader's business. */
int fz_history_path(const fz_history *h, const char *version, char *out, size_t out_size);

/* 1 if s is "rs-" followed by 16 lowercase hex digits. */
int fz_history_is_version(const char *s);

#endif
