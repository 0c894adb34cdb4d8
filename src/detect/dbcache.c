/*
 * dbcache.c - see dbcache.h.
 *
 * Workload: up to a few hundred entries per ruleset, from kilobytes to
 * tens of megabytes each, loaded at start and at each reload, often from
 * several threads at once; each is read whole, checked, then deserialised.
 * A cold start compiles and stores every database once; stores cost an
 * fsync each, loads none.
 *
 * Entry layout (host byte order: an entry is for the machine that wrote
 * it, as Hyperscan's databases are):
 *
 *   offset size
 *        0    8  magic "FZHSDB\0\0"
 *        8    4  format version (FORMAT)
 *       12    4  header size (HDR_BYTES)
 *       16   16  key: XXH3-128 of the fz_dbkey, canonical (big-endian)
 *       32   64  hs_version(), NUL-padded
 *       96   32  host platform: u32 tune, u32 0, u64 cpu_features,
 *                u64 reserved1, u64 reserved2 (hs_platform_info_t)
 *      128    8  payload length (must equal file size - HDR_BYTES)
 *      136   16  XXH3-128 of the payload, canonical
 *      152    -  payload: hs_serialize_database()
 *
 * Every header byte but the two last fields is compared with the header
 * this process would write for the key, so a damaged header is refused
 * byte for byte; the length is checked against the file's size, never
 * used to read; the checksum covers the payload.
 *
 * DESIGN (threads): the cache holds an open directory descriptor and
 * atomic counters, nothing else that changes, so loads, stores and prunes
 * from many threads (or processes) need no lock: every file operation is
 * relative to the directory descriptor, writers never touch a file under
 * its final name, and a rename is atomic.
 */
#define _GNU_SOURCE
#include "dbcache.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"

#define FORMAT 1u
#define MAGIC "FZHSDB\0\0"
#define OFF_KEY 16
#define OFF_VERSION 32
#define VERSION_BYTES 64
#define OFF_PLATFORM 96
#define PLATFORM_BYTES 32
#define OFF_LEN 128
#define OFF_SUM 136
#define HDR_BYTES 152
#define TMP_PREFIX ".tmp-"
#define PRUNE_MAX_ENTRIES 100000 /* entries looked at by one prune */

struct fz_dbcache {
    char *dir; /* as given, for messages */
    int dfd;   /* the directory, held open; every file is opened relative to it */
    _Atomic uint64_t hits, misses, rejected, stores, store_failures, pruned;
};

/* ---- what this process is: Hyperscan version and platform ---- */

static pthread_once_t g_host_once = PTHREAD_ONCE_INIT;
static uint8_t g_version[VERSION_BYTES];   /* hs_version(), NUL-padded */
static uint8_t g_platform[PLATFORM_BYTES]; /* see the layout above */

static void host_init(void) {
    const char *v = hs_version();
    size_t n = strlen(v);
    memcpy(g_version, v, n < VERSION_BYTES - 1 ? n : VERSION_BYTES - 1);
    hs_platform_info_t p;
    memset(&p, 0, sizeof(p));
    if (hs_populate_platform(&p) != HS_SUCCESS) {
        /* unknown: a value no real platform has, so nothing ever matches it */
        memset(g_platform, 0xff, sizeof(g_platform));
        return;
    }
    uint32_t tune = p.tune, zero = 0;
    uint64_t f[3] = {p.cpu_features, p.reserved1, p.reserved2};
    memcpy(g_platform, &tune, 4);
    memcpy(g_platform + 4, &zero, 4);
    memcpy(g_platform + 8, f, sizeof(f));
}

/* ---- keys ---- */

void fz_dbkey_init(fz_dbkey *k, int literal, unsigned hs_mode) {
    assert((uintptr_t)k % _Alignof(fz_dbkey) == 0);
    pthread_once(&g_host_once, host_init);
    uint32_t head[3] = {FORMAT, literal ? 1u : 0u, hs_mode};
    XXH3_128bits_reset(&k->st);
    XXH3_128bits_update(&k->st, "fanzha-dbcache", 14);
    XXH3_128bits_update(&k->st, head, sizeof(head));
    XXH3_128bits_update(&k->st, g_version, sizeof(g_version));
    XXH3_128bits_update(&k->st, g_platform, sizeof(g_platform));
}

void fz_dbkey_add(fz_dbkey *k, const char *expr, size_t len, unsigned flags, unsigned id) {
    uint64_t n = len;
    uint32_t tail[2] = {flags, id};
    XXH3_128bits_update(&k->st, "E", 1);
    XXH3_128bits_update(&k->st, &n, sizeof(n));
    XXH3_128bits_update(&k->st, expr, len);
    XXH3_128bits_update(&k->st, tail, sizeof(tail));
}

void fz_dbkey_add_bytes(fz_dbkey *k, const void *p, size_t n) {
    uint64_t len = n;
    XXH3_128bits_update(&k->st, "B", 1);
    XXH3_128bits_update(&k->st, &len, sizeof(len));
    XXH3_128bits_update(&k->st, p, n);
}

static void key_bytes(const fz_dbkey *k, uint8_t out[16]) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&k->st));
    memcpy(out, c.digest, 16);
}

static void hex16(const uint8_t in[16], char out[FZ_DBKEY_HEX_LEN + 1]) {
    static const char xd[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = xd[in[i] >> 4];
        out[2 * i + 1] = xd[in[i] & 15];
    }
    out[FZ_DBKEY_HEX_LEN] = '\0';
}

void fz_dbkey_hex(const fz_dbkey *k, char out[FZ_DBKEY_HEX_LEN + 1]) {
    uint8_t b[16];
    key_bytes(k, b);
    hex16(b, out);
}

/* The entry's file name for a key. */
typedef struct entry_name {
    char s[FZ_DBKEY_HEX_LEN + sizeof(FZ_DBCACHE_SUFFIX)];
} entry_name;

static entry_name name_of(const uint8_t key[16]) {
    entry_name n;
    hex16(key, n.s);
    memcpy(n.s + FZ_DBKEY_HEX_LEN, FZ_DBCACHE_SUFFIX, sizeof(FZ_DBCACHE_SUFFIX));
    return n;
}

static int is_entry_name(const char *s) {
    for (int i = 0; i < FZ_DBKEY_HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return strcmp(s + FZ_DBKEY_HEX_LEN, FZ_DBCACHE_SUFFIX) == 0;
}

/* The header this process writes for key, up to (not including) the
 * payload length. */
static void header_prefix(uint8_t h[OFF_LEN], const uint8_t key[16]) {
    uint32_t fmt = FORMAT, hdr = HDR_BYTES;
    pthread_once(&g_host_once, host_init);
    memcpy(h, MAGIC, 8);
    memcpy(h + 8, &fmt, 4);
    memcpy(h + 12, &hdr, 4);
    memcpy(h + OFF_KEY, key, 16);
    memcpy(h + OFF_VERSION, g_version, VERSION_BYTES);
    memcpy(h + OFF_PLATFORM, g_platform, PLATFORM_BYTES);
}

static void checksum(const void *p, size_t n, uint8_t out[16]) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
    memcpy(out, c.digest, 16);
}

/* ---- open, close ---- */

fz_dbcache *fz_dbcache_open(const char *dir, char *errstr, size_t errstr_size) {
    fz_dbcache *c = NULL;
    int dfd = -1;
    if (!dir || !*dir) {
        snprintf(errstr, errstr_size, "rules cache: no directory given");
        return NULL;
    }
    dfd = fz_private_dir_open("rules cache", dir, "another user could plant databases in it",
                              "chmod go-w it or choose another directory", errstr, errstr_size);
    if (dfd < 0) goto fail;
    c = calloc(1, sizeof(*c));
    if (!c || !(c->dir = strdup(dir))) {
        snprintf(errstr, errstr_size, "rules cache %s: out of memory", dir);
        free(c);
        goto fail_close;
    }
    c->dfd = dfd; /* now owned by c */
    return c;
fail_close:
    close(dfd);
fail:
    return NULL;
}

void fz_dbcache_close(fz_dbcache *c) {
    if (!c) return;
    close(c->dfd);
    free(c->dir);
    free(c);
}

/* ---- load ---- */

static hs_database_t *reject(fz_dbcache *c, const char *name, const char *why) {
    atomic_fetch_add_explicit(&c->rejected, 1, memory_order_relaxed);
    fz_log(FZ_LOG_WARN, "rules cache %s/%s: ignored (%s); it will be compiled again", c->dir, name,
           why);
    return NULL;
}

/* Read exactly n bytes at offset 0. 0, or -1. */
static int read_all(int fd, uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Check a whole entry read into buf; NULL if fine, else why not. */
static const char *check_entry(const uint8_t *buf, size_t size, const uint8_t key[16]) {
    uint8_t want[OFF_LEN];
    header_prefix(want, key);
    if (memcmp(buf, want, 8) != 0) return "not a cache entry (magic)";
    if (memcmp(buf + 8, want + 8, 8) != 0) return "another cache format";
    if (memcmp(buf + OFF_KEY, want + OFF_KEY, 16) != 0) return "holds another key";
    if (memcmp(buf + OFF_VERSION, want + OFF_VERSION, VERSION_BYTES) != 0)
        return "written by another Hyperscan version";
    if (memcmp(buf + OFF_PLATFORM, want + OFF_PLATFORM, PLATFORM_BYTES) != 0)
        return "written for another CPU platform";
    uint64_t len;
    memcpy(&len, buf + OFF_LEN, 8);
    if (len != (uint64_t)(size - HDR_BYTES)) return "length does not match the file size";
    uint8_t sum[16];
    checksum(buf + HDR_BYTES, size - HDR_BYTES, sum);
    if (memcmp(sum, buf + OFF_SUM, 16) != 0) return "checksum mismatch";
    return NULL;
}

hs_database_t *fz_dbcache_load(fz_dbcache *c, const fz_dbkey *k) {
    if (!c) return NULL;
    uint8_t key[16];
    key_bytes(k, key);
    entry_name name = name_of(key);
    hs_database_t *db = NULL;
    uint8_t *buf = NULL;
    char *info_file = NULL, *info_db = NULL;
    const char *why = NULL;
    struct stat st;

    /* O_NONBLOCK: a FIFO planted under the name must not block the open */
    int fd = openat(c->dfd, name.s, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
            return NULL;
        }
        return reject(c, name.s, errno == ELOOP ? "a symbolic link" : strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        why = strerror(errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        why = "not a regular file";
        goto out;
    }
    if (st.st_uid != geteuid()) {
        why = "owned by another user";
        goto out;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        why = "writable by group or others";
        goto out;
    }
    if (st.st_size < HDR_BYTES) {
        why = "shorter than its header";
        goto out;
    }
    if ((uint64_t)st.st_size - HDR_BYTES > FZ_DBCACHE_MAX_PAYLOAD_BYTES) {
        why = "larger than an entry may be";
        goto out;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size);
    if (!buf) {
        why = "out of memory";
        goto out;
    }
    if (read_all(fd, buf, size) != 0) {
        why = "read failed or the file shrank";
        goto out;
    }
    if ((why = check_entry(buf, size, key)) != NULL) goto out;

    const char *payload = (const char *)buf + HDR_BYTES;
    size_t plen = size - HDR_BYTES;
    if (hs_serialized_database_info(payload, plen, &info_file) != HS_SUCCESS) {
        why = "Hyperscan does not recognise the database";
        goto out;
    }
    hs_error_t e = hs_deserialize_database(payload, plen, &db);
    if (e != HS_SUCCESS) {
        db = NULL;
        why = e == HS_DB_PLATFORM_ERROR  ? "Hyperscan: built for another platform"
              : e == HS_DB_VERSION_ERROR ? "Hyperscan: another version"
                                         : "Hyperscan refused the database";
        goto out;
    }
    if (hs_database_info(db, &info_db) != HS_SUCCESS || strcmp(info_file, info_db) != 0) {
        why = "the loaded database does not describe itself as the file does";
        goto out;
    }
    /* the hit makes the entry the newest for fz_dbcache_prune() */
    (void)futimens(fd, NULL);
out:
    close(fd);
    free(buf);
    free(info_file); /* Hyperscan's misc allocator: malloc unless changed */
    free(info_db);
    if (why) {
        hs_free_database(db);
        return reject(c, name.s, why);
    }
    atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
    return db;
}

/* ---- store ---- */

static _Atomic uint64_t g_tmp_counter;

/* Write all n bytes. 0, or -1 with errno. */
static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int fz_dbcache_store(fz_dbcache *c, const fz_dbkey *k, const hs_database_t *db, char *errstr,
                     size_t errstr_size) {
    if (!c) return 0;
    uint8_t key[16], hdr[HDR_BYTES];
    key_bytes(k, key);
    entry_name name = name_of(key);
    char *bytes = NULL;
    size_t n = 0;
    char tmp[96];
    int fd = -1, rc = -1;

    if (hs_serialize_database(db, &bytes, &n) != HS_SUCCESS) {
        snprintf(errstr, errstr_size, "rules cache %s/%s: Hyperscan could not serialise it", c->dir,
                 name.s);
        goto fail;
    }
    if ((uint64_t)n > FZ_DBCACHE_MAX_PAYLOAD_BYTES) {
        snprintf(errstr, errstr_size, "rules cache %s/%s: %zu bytes, more than an entry may hold",
                 c->dir, name.s, n);
        goto fail;
    }
    header_prefix(hdr, key);
    uint64_t len = n;
    memcpy(hdr + OFF_LEN, &len, 8);
    checksum(bytes, n, hdr + OFF_SUM);

    /* a name no other writer (thread or process) can be using */
    for (int tries = 0; fd < 0 && tries < 8; tries++) {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
            rnd = (uint64_t)clock() ^ ((uint64_t)time(NULL) << 20) ^ (uint64_t)(uintptr_t)&rnd;
        snprintf(tmp, sizeof(tmp), TMP_PREFIX "%ld-%llu-%016llx", (long)getpid(),
                 (unsigned long long)atomic_fetch_add(&g_tmp_counter, 1), (unsigned long long)rnd);
        fd = openat(c->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        snprintf(errstr, errstr_size, "rules cache %s: cannot create a temporary file: %s", c->dir,
                 strerror(errno));
        goto fail;
    }
    if (write_all(fd, hdr, HDR_BYTES) != 0 || write_all(fd, bytes, n) != 0 || fsync(fd) != 0) {
        snprintf(errstr, errstr_size, "rules cache %s/%s: write failed: %s", c->dir, tmp,
                 strerror(errno));
        goto fail_unlink;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0) {
        snprintf(errstr, errstr_size, "rules cache %s/%s: write failed: %s", c->dir, tmp,
                 strerror(errno));
        goto fail_unlink;
    }
    if (renameat(c->dfd, tmp, c->dfd, name.s) != 0) {
        snprintf(errstr, errstr_size, "rules cache %s/%s: rename failed: %s", c->dir, name.s,
                 strerror(errno));
        goto fail_unlink;
    }
    rc = 0;
    atomic_fetch_add_explicit(&c->stores, 1, memory_order_relaxed);
    goto out;
fail_unlink:
    if (fd >= 0) close(fd);
    fd = -1;
    (void)unlinkat(c->dfd, tmp, 0);
fail:
    atomic_fetch_add_explicit(&c->store_failures, 1, memory_order_relaxed);
out:
    free(bytes); /* Hyperscan's misc allocator: malloc unless changed */
    return rc;
}

/* ---- prune ---- */

typedef struct prune_entry {
    char name[FZ_DBKEY_HEX_LEN + sizeof(FZ_DBCACHE_SUFFIX)];
    uint64_t size;
    struct timespec mtime;
} prune_entry;

/* newest first; ties by name, so the order is the same in every process */
static int newest_first(const void *a, const void *b) {
    const prune_entry *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
    return strcmp(x->name, y->name);
}

int fz_dbcache_prune(fz_dbcache *c, uint64_t max_bytes) {
    if (!c) return 0;
    int dfd2 = openat(c->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd2 >= 0 ? fdopendir(dfd2) : NULL;
    if (!d) {
        if (dfd2 >= 0) close(dfd2);
        return -1;
    }
    prune_entry *v = NULL;
    size_t n = 0, cap = 0;
    int removed = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        const char *s = de->d_name;
        if (strncmp(s, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
            if (fstatat(c->dfd, s, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
                now - st.st_mtime > FZ_DBCACHE_STALE_TMP_S && unlinkat(c->dfd, s, 0) == 0)
                removed++;
            continue;
        }
        if (!is_entry_name(s) || fstatat(c->dfd, s, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode)) { /* planted under an entry's name: never loaded */
            if (!S_ISDIR(st.st_mode) && unlinkat(c->dfd, s, 0) == 0) removed++;
            continue;
        }
        if (n == cap) {
            if (cap == PRUNE_MAX_ENTRIES) break;
            size_t nc = cap ? cap * 2 : 64;
            if (nc > PRUNE_MAX_ENTRIES) nc = PRUNE_MAX_ENTRIES;
            prune_entry *nv = realloc(v, nc * sizeof(*v));
            if (!nv) break;
            v = nv;
            cap = nc;
        }
        memcpy(v[n].name, s, sizeof(v[n].name));
        v[n].size = (uint64_t)st.st_size;
        v[n].mtime = st.st_mtim;
        n++;
    }
    closedir(d); /* closes dfd2 */
    if (n > 1) qsort(v, n, sizeof(*v), newest_first);
    uint64_t kept = 0;
    size_t i = 0;
    for (; i < n && v[i].size <= max_bytes - kept; i++) kept += v[i].size;
    for (; i < n; i++)
        if (unlinkat(c->dfd, v[i].name, 0) == 0) removed++;
    free(v);
    atomic_fetch_add_explicit(&c->pruned, (uint64_t)removed, memory_order_relaxed);
    return removed;
}

/* ---- counters, default directory ---- */

void fz_dbcache_stats(const fz_dbcache *c, fz_dbcache_counters *out) {
    memset(out, 0, sizeof(*out));
    if (!c) return;
    fz_dbcache *m = (fz_dbcache *)c; /* atomic loads take non-const pointers in C11 */
    out->hits = atomic_load_explicit(&m->hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&m->misses, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&m->rejected, memory_order_relaxed);
    out->stores = atomic_load_explicit(&m->stores, memory_order_relaxed);
    out->store_failures = atomic_load_explicit(&m->store_failures, memory_order_relaxed);
    out->pruned = atomic_load_explicit(&m->pruned, memory_order_relaxed);
}

int fz_dbcache_default_dir(char *out, size_t out_size) {
    const char *s = getenv("CACHE_DIRECTORY");
    int n = -1;
    if (s && s[0] == '/') {
        size_t len = strcspn(s, ":");
        if (len <= (size_t)INT32_MAX) n = snprintf(out, out_size, "%.*s", (int)len, s);
    } else if ((s = getenv("XDG_CACHE_HOME")) && s[0] == '/') {
        n = snprintf(out, out_size, "%s/fanzha", s);
    } else if ((s = getenv("HOME")) && s[0] == '/') {
        n = snprintf(out, out_size, "%s/.cache/fanzha", s);
    }
    return n >= 0 && (size_t)n < out_size ? 0 : -1;
}
