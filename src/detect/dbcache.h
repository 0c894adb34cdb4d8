/*
 * dbcache.h - compiled Hyperscan databases cached on disk, so that a
 * restart, a new instance or a reload with unchanged rules deserialises
 * its databases (milliseconds) instead of compiling them (seconds).
 *
 * An entry is one serialised database in one file of the cache directory,
 * named after its key: 32 hex digits of an XXH3-128 over everything the
 * compiled bytes depend on - a format version, the compile call (literal
 * or regex, Hyperscan mode), hs_version(), the host platform
 * (hs_populate_platform()) and every expression with its flags and id, in
 * compile order. Rules that did not change find their entry; any change
 * makes a new key, and the old entry ages out (fz_dbcache_prune()).
 *
 * Nothing read from the cache is trusted: an entry is used only if it is a
 * regular file owned by this process's effective uid, not writable by
 * group or others, and every header field matches (magic, format, the full
 * key, Hyperscan version, platform, payload length against the file size,
 * payload checksum) before Hyperscan sees a byte of it; Hyperscan's own
 * description of the bytes must then agree with the database it loaded.
 * Anything else is a miss to the caller, who compiles and stores a fresh
 * entry that replaces the bad one.
 *
 * Entries are written to a unique temporary file (O_EXCL), fsync'd and
 * renamed into place, so instances on one host can share the directory:
 * a reader sees a whole entry or none, and two writers of one key write
 * the same bytes (the last rename wins).
 *
 * Threads: fz_dbcache_open() and fz_dbcache_close() from one thread, with
 * no other call in flight on that cache; every other function may be called
 * from any number of threads at once on one cache (the rule compiler loads
 * and stores its databases from parallel compile threads). A fz_dbkey
 * belongs to the thread that builds it.
 */
#ifndef FZ_DBCACHE_H
#define FZ_DBCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t, so a key needs no allocation */
#include <xxhash.h>

/* An entry's file name: FZ_DBKEY_HEX_LEN hex digits and this suffix. */
#define FZ_DBCACHE_SUFFIX ".hsdb"
#define FZ_DBKEY_HEX_LEN 32
/* No entry's payload (the serialised database) may be larger than this. */
#define FZ_DBCACHE_MAX_PAYLOAD_BYTES (UINT64_C(1) << 30)
/* Temporary files this much older than now are left over from a writer
 * that died; fz_dbcache_prune() removes them. */
#define FZ_DBCACHE_STALE_TMP_S 600

/* What one database was compiled from. Build it with fz_dbkey_init() and
 * one fz_dbkey_add() per expression; the fields are private. It must sit
 * at an address aligned to _Alignof(fz_dbkey) (64: XXH3's state uses
 * aligned vector loads): on the stack, in static storage, or from
 * aligned_alloc(); plain malloc() is not enough. */
typedef struct fz_dbkey {
    XXH3_state_t st;
} fz_dbkey;

/* Start the key of one database compiled by hs_compile_lit_multi()
 * (literal != 0) or hs_compile_multi() (literal == 0) in hs_mode
 * (HS_MODE_BLOCK, ...), with a NULL platform (compiled for this host).
 * Folds in the cache's format version, hs_version() and the host platform.
 * k is caller-owned storage (e.g. on the stack); nothing is allocated. */
void fz_dbkey_init(fz_dbkey *k, int literal, unsigned hs_mode);

/* Add one expression exactly as passed to the compiler, in compile order:
 * len bytes of expr (for hs_compile_multi, strlen of the pattern), its
 * flags and its id. */
void fz_dbkey_add(fz_dbkey *k, const char *expr, size_t len, unsigned flags, unsigned id);

/* Add anything else the compiled database depends on (extended
 * parameters, say): n bytes at p, framed so that no sequence of calls can
 * produce the key of another. */
void fz_dbkey_add_bytes(fz_dbkey *k, const void *p, size_t n);

/* The key as FZ_DBKEY_HEX_LEN lowercase hex digits and a NUL (the entry's
 * file name without its suffix), for logs. k is not changed; more
 * expressions may still be added. */
void fz_dbkey_hex(const fz_dbkey *k, char out[FZ_DBKEY_HEX_LEN + 1]);

typedef struct fz_dbcache fz_dbcache;

/* Loads are counted in exactly one of hits, misses (no entry) and rejected
 * (an entry that was damaged, foreign, untrusted or unreadable). */
typedef struct fz_dbcache_counters {
    uint64_t hits;
    uint64_t misses;
    uint64_t rejected;
    uint64_t stores;
    uint64_t store_failures;
    uint64_t pruned; /* entries and stale temporary files removed */
} fz_dbcache_counters;

/* Open the cache in dir, creating it (and missing parents) with mode 0700
 * if it does not exist. dir may be a symbolic link; what it points to must
 * be a directory owned by the effective uid and not writable by group or
 * others, else NULL with errstr naming the directory and the reason. The
 * directory is held open, so renaming or replacing the path afterwards
 * does not redirect the cache. dir is copied. */
fz_dbcache *fz_dbcache_open(const char *dir, char *errstr, size_t errstr_size);

/* Close the cache. Databases loaded from it are the caller's and stay
 * valid. NULL is a no-op. */
void fz_dbcache_close(fz_dbcache *c);

/* The database stored under k, deserialised, or NULL when there is none or
 * it is not to be trusted (never an error to the caller: compile, then
 * fz_dbcache_store()). The caller owns the result (hs_free_database()). A
 * hit sets the entry's modification time to now, which is what
 * fz_dbcache_prune() keeps the newest of. The file is read whole into one
 * buffer of its size, at most FZ_DBCACHE_MAX_PAYLOAD_BYTES plus a header,
 * freed before returning. c == NULL (cache off) returns NULL. */
hs_database_t *fz_dbcache_load(fz_dbcache *c, const fz_dbkey *k);

/* Store db under k, replacing any entry there, atomically (a temporary
 * file in the directory, fsync, rename). 0, or -1 with errstr set and the
 * failure counted; the cache is unchanged then, and the caller goes on
 * with its compiled db, which stays the caller's either way. c == NULL
 * (cache off) returns 0 and stores nothing. */
int fz_dbcache_store(fz_dbcache *c, const fz_dbkey *k, const hs_database_t *db, char *errstr,
                     size_t errstr_size);

/* Keep the cache within max_bytes: entries are kept newest first (by
 * modification time; a hit counts as new) while their sizes add up to at
 * most max_bytes, and the rest removed; temporary files older than
 * FZ_DBCACHE_STALE_TMP_S are removed too. Files whose names are not the
 * cache's are left alone. Returns the number of files removed, or -1 if
 * the directory could not be read. c == NULL returns 0. */
int fz_dbcache_prune(fz_dbcache *c, uint64_t max_bytes);

/* A snapshot of the counters since fz_dbcache_open(); c == NULL gives
 * zeros. */
void fz_dbcache_stats(const fz_dbcache *c, fz_dbcache_counters *out);

/* The default cache directory: $CACHE_DIRECTORY (systemd's
 * CacheDirectory=; the first one if it lists several), else
 * $XDG_CACHE_HOME/fanzha, else $HOME/.cache/fanzha (relative values are
 * ignored). 0 with the path in out, or -1 when none applies or it does not
 * fit in out_size bytes. */
int fz_dbcache_default_dir(char *out, size_t out_size);

#endif
