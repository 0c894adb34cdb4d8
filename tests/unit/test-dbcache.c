/*
 * test-dbcache.c - the compiled-rules cache: a regex and a literal database
 * come back from the cache matching exactly as compiled; keys tell every
 * input apart; every single-byte damage, truncation, oversized length,
 * foreign version or platform, symbolic link or untrusted file is
 * refused (and the next store repairs it); untrusted directories are
 * refused at open; concurrent stores of one key leave a valid entry and
 * readers never see a partial one; pruning keeps the newest entries within
 * the bound and removes stale temporary files.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dbcache.h"
#include "log.h"
#include "test.h"

#define HDR_BYTES 152 /* the entry header (dbcache.c) */

/* ---- fixtures ---- */

static const char *g_rx[] = {"fraud\\d+", "transfer.{0,20}account", "police", "(?i)verify"};
static const unsigned g_rx_flags[] = {0, HS_FLAG_DOTALL, HS_FLAG_CASELESS, 0};
static const unsigned g_rx_ids[] = {10, 11, 12, 13};

static const char *g_lit[] = {"safe account", "0-facebook.com", "a\0b", "refund"};
static const size_t g_lit_len[] = {12, 14, 3, 6};
static const unsigned g_lit_flags[] = {0, HS_FLAG_CASELESS, 0, HS_FLAG_SINGLEMATCH};
static const unsigned g_lit_ids[] = {1, 2, 3, 4};

static const char g_text[] = "Police here: fraud42 detected; transfer your money to a SAFE account "
                             "now, verify at 0-FACEBOOK.com, a\0b, refund refund fraud7 VERIFY";

static hs_database_t *compile_rx(void) {
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi(g_rx, g_rx_flags, g_rx_ids, 4, HS_MODE_BLOCK, NULL, &db, &err) !=
        HS_SUCCESS)
        fz_test_fail(__FILE__, __LINE__, "hs_compile_multi: %s", err ? err->message : "?");
    return db;
}

static hs_database_t *compile_lit(void) {
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile_lit_multi(g_lit, g_lit_flags, g_lit_ids, g_lit_len, 4, HS_MODE_BLOCK, NULL, &db,
                             &err) != HS_SUCCESS)
        fz_test_fail(__FILE__, __LINE__, "hs_compile_lit_multi: %s", err ? err->message : "?");
    return db;
}

static void key_rx(fz_dbkey *k) {
    fz_dbkey_init(k, 0, HS_MODE_BLOCK);
    for (int i = 0; i < 4; i++)
        fz_dbkey_add(k, g_rx[i], strlen(g_rx[i]), g_rx_flags[i], g_rx_ids[i]);
}

static void key_lit(fz_dbkey *k) {
    fz_dbkey_init(k, 1, HS_MODE_BLOCK);
    for (int i = 0; i < 4; i++)
        fz_dbkey_add(k, g_lit[i], g_lit_len[i], g_lit_flags[i], g_lit_ids[i]);
}

/* A key of its own for each n (for tests that need many entries). */
static void key_n(fz_dbkey *k, unsigned n) {
    fz_dbkey_init(k, 1, HS_MODE_BLOCK);
    fz_dbkey_add(k, "n", 1, 0, n);
}

typedef struct matches {
    size_t n;
    unsigned long long v[256]; /* id << 32 | to */
} matches;

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                    void *ctx) {
    (void)from;
    (void)fl;
    matches *m = ctx;
    if (m->n < FZ_ARRAY_LEN(m->v)) m->v[m->n++] = (unsigned long long)id << 32 | to;
    return 0;
}

static matches scan(const hs_database_t *db) {
    hs_scratch_t *s = NULL;
    matches m = {0};
    ASSERT(hs_alloc_scratch(db, &s) == HS_SUCCESS);
    ASSERT(hs_scan(db, g_text, sizeof(g_text) - 1, 0, s, on_match, &m) == HS_SUCCESS);
    hs_free_scratch(s);
    return m;
}

static void assert_same_matches(const hs_database_t *a, const hs_database_t *b) {
    matches x = scan(a), y = scan(b);
    ASSERT(x.n > 0);
    ASSERT_EQ_U64(x.n, y.n);
    for (size_t i = 0; i < x.n; i++) ASSERT_EQ_U64(x.v[i], y.v[i]);
}

static const char *entry_path(const char *dir, const fz_dbkey *k) {
    static char path[4096];
    char hex[FZ_DBKEY_HEX_LEN + 1];
    fz_dbkey_hex(k, hex);
    snprintf(path, sizeof(path), "%s/%s%s", dir, hex, FZ_DBCACHE_SUFFIX);
    return path;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) fz_test_fail(__FILE__, __LINE__, "fopen(%s): %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)size + 1);
    ASSERT(p && fread(p, 1, (size_t)size, fp) == (size_t)size);
    fclose(fp);
    *n = (size_t)size;
    return p;
}

/* Overwrite path in place (keeps owner and mode 0600). */
static void spew(const char *path, const void *p, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) fz_test_fail(__FILE__, __LINE__, "open(%s): %s", path, strerror(errno));
    ASSERT(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static fz_dbcache *open_ok(const char *dir) {
    char err[512] = "";
    fz_dbcache *c = fz_dbcache_open(dir, err, sizeof(err));
    if (!c) fz_test_fail(__FILE__, __LINE__, "fz_dbcache_open(%s): %s", dir, err);
    return c;
}

static void store_ok(fz_dbcache *c, const fz_dbkey *k, const hs_database_t *db) {
    char err[512] = "";
    if (fz_dbcache_store(c, k, db, err, sizeof(err)) != 0)
        fz_test_fail(__FILE__, __LINE__, "fz_dbcache_store: %s", err);
}

static fz_dbcache_counters counters(const fz_dbcache *c) {
    fz_dbcache_counters s;
    fz_dbcache_stats(c, &s);
    return s;
}

/* fz_dbcache_load() that must refuse the entry, with a warning naming
 * why (what it logs, captured from stderr) */
static void assert_refused(fz_dbcache *c, const fz_dbkey *k, const char *why, int line) {
    static char log[4096];
    char path[4096];
    snprintf(path, sizeof(path), "%s/log", fz_test_tmpdir());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), saved = dup(STDERR_FILENO);
    ASSERT(fd >= 0 && saved >= 0);
    fz_log_set_level(FZ_LOG_WARN);
    uint64_t before = counters(c).rejected;
    ASSERT(dup2(fd, STDERR_FILENO) >= 0);
    hs_database_t *db = fz_dbcache_load(c, k);
    ASSERT(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    ssize_t n = pread(fd, log, sizeof(log) - 1, 0);
    close(fd);
    log[n > 0 ? n : 0] = '\0';
    if (db) fz_test_fail(__FILE__, line, "the entry was loaded, expected: %s", why);
    if (!strstr(log, why))
        fz_test_fail(__FILE__, line, "refused for another reason than \"%s\": %s", why, log);
    if (counters(c).rejected != before + 1) fz_test_fail(__FILE__, line, "not counted");
}
#define ASSERT_REFUSED(c, k, why) assert_refused((c), (k), (why), __LINE__)

/* ---- tests ---- */

TEST_IMPL(dbcache_roundtrip) {
    const char *dir = fz_test_tmpdir();
    fz_dbcache *c = open_ok(dir);
    hs_database_t *rx = compile_rx(), *lit = compile_lit();
    fz_dbkey krx, klit;
    key_rx(&krx);
    key_lit(&klit);

    ASSERT(fz_dbcache_load(c, &krx) == NULL);
    ASSERT_EQ_U64(counters(c).misses, 1);
    store_ok(c, &krx, rx);
    store_ok(c, &klit, lit);

    hs_database_t *rx2 = fz_dbcache_load(c, &krx), *lit2 = fz_dbcache_load(c, &klit);
    ASSERT(rx2 && lit2);
    assert_same_matches(rx, rx2);
    assert_same_matches(lit, lit2);

    /* a fresh cache on the same directory (a restart) finds them too */
    fz_dbcache *c2 = open_ok(dir);
    hs_database_t *lit3 = fz_dbcache_load(c2, &klit);
    ASSERT(lit3);
    assert_same_matches(lit, lit3);

    /* a key with one more expression misses */
    fz_dbkey other;
    key_rx(&other);
    fz_dbkey_add(&other, "x", 1, 0, 99);
    ASSERT(fz_dbcache_load(c, &other) == NULL);

    fz_dbcache_counters s = counters(c);
    ASSERT_EQ_U64(s.hits, 2);
    ASSERT_EQ_U64(s.misses, 2);
    ASSERT_EQ_U64(s.rejected, 0);
    ASSERT_EQ_U64(s.stores, 2);
    ASSERT_EQ_U64(s.store_failures, 0);
    ASSERT_EQ_U64(counters(c2).hits, 1);

    /* the entry is private */
    struct stat st;
    ASSERT(stat(entry_path(dir, &krx), &st) == 0);
    ASSERT_EQ_U64(st.st_mode & 0777, 0600);

    hs_free_database(rx);
    hs_free_database(rx2);
    hs_free_database(lit);
    hs_free_database(lit2);
    hs_free_database(lit3);
    fz_dbcache_close(c);
    fz_dbcache_close(c2);
}

TEST_IMPL(dbcache_keys_distinct) {
    char want[FZ_DBKEY_HEX_LEN + 1], got[FZ_DBKEY_HEX_LEN + 1];
    fz_dbkey a, b;
    key_rx(&a);
    key_rx(&b);
    fz_dbkey_hex(&a, want);
    fz_dbkey_hex(&b, got);
    ASSERT_STR_EQ(want, got); /* deterministic */
    ASSERT_EQ_U64(strspn(want, "0123456789abcdef"), FZ_DBKEY_HEX_LEN);

    char seen[9][FZ_DBKEY_HEX_LEN + 1];
    int n = 0;
    fz_dbkey_hex(&a, seen[n++]);
    fz_dbkey k;
#define VARIANT(literal, mode, ...)                                                                \
    do {                                                                                           \
        fz_dbkey_init(&k, literal, mode);                                                          \
        __VA_ARGS__;                                                                               \
        fz_dbkey_hex(&k, seen[n++]);                                                               \
    } while (0)
    /* base: "ab"(0, 1), "c"(0, 2), regex, block */
    VARIANT(0, HS_MODE_BLOCK, fz_dbkey_add(&k, "ab", 2, 0, 1); fz_dbkey_add(&k, "c", 1, 0, 2));
    VARIANT(0, HS_MODE_BLOCK, fz_dbkey_add(&k, "a", 1, 0, 1); fz_dbkey_add(&k, "bc", 2, 0, 2));
    VARIANT(0, HS_MODE_BLOCK, fz_dbkey_add(&k, "c", 1, 0, 2); fz_dbkey_add(&k, "ab", 2, 0, 1));
    VARIANT(0, HS_MODE_BLOCK, fz_dbkey_add(&k, "ab", 2, 1, 1); fz_dbkey_add(&k, "c", 1, 0, 2));
    VARIANT(0, HS_MODE_BLOCK, fz_dbkey_add(&k, "ab", 2, 0, 3); fz_dbkey_add(&k, "c", 1, 0, 2));
    VARIANT(1, HS_MODE_BLOCK, fz_dbkey_add(&k, "ab", 2, 0, 1); fz_dbkey_add(&k, "c", 1, 0, 2));
    VARIANT(0, HS_MODE_STREAM, fz_dbkey_add(&k, "ab", 2, 0, 1); fz_dbkey_add(&k, "c", 1, 0, 2));
    VARIANT(0, HS_MODE_BLOCK, fz_dbkey_add(&k, "ab", 2, 0, 1); fz_dbkey_add(&k, "c", 1, 0, 2);
            fz_dbkey_add_bytes(&k, "", 0));
#undef VARIANT
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            fz_test_context("variants %d and %d", i, j);
            ASSERT(strcmp(seen[i], seen[j]) != 0);
        }
}

TEST_IMPL(dbcache_damage_rejected) {
    fz_log_set_level(FZ_LOG_ERROR); /* one warning per damaged entry otherwise */
    const char *dir = fz_test_tmpdir();
    fz_dbcache *c = open_ok(dir);
    hs_database_t *db = compile_lit();
    fz_dbkey k;
    key_lit(&k);
    store_ok(c, &k, db);
    const char *path = entry_path(dir, &k);
    size_t n;
    uint8_t *orig = slurp(path, &n), *bad = malloc(n);
    ASSERT(n > HDR_BYTES + 64 && bad);

    /* every header byte, then about 300 payload bytes, the last included */
    size_t stride = (n - HDR_BYTES) / 300 + 1, tried = 0;
    size_t *offs = malloc((HDR_BYTES + 302) * sizeof(size_t)), noffs = 0;
    ASSERT(offs);
    for (size_t off = 0; off < HDR_BYTES; off++) offs[noffs++] = off;
    for (size_t off = HDR_BYTES; off < n; off += stride) offs[noffs++] = off;
    offs[noffs++] = n - 1;
    for (size_t i = 0; i < noffs; i++, tried++) {
        size_t off = offs[i];
        fz_test_context("damaged byte at offset %zu of %zu", off, n);
        memcpy(bad, orig, n);
        bad[off] ^= (uint8_t)(1 + fz_test_rand_below(255));
        spew(path, bad, n);
        uint64_t before = counters(c).rejected;
        hs_database_t *got = fz_dbcache_load(c, &k);
        ASSERT(got == NULL);
        ASSERT_EQ_U64(counters(c).rejected, before + 1);
    }
    free(offs);
    fz_test_context("%s", "");
    ASSERT(tried > HDR_BYTES + 100);
    ASSERT_EQ_U64(counters(c).hits, 0);

    /* a store repairs it */
    store_ok(c, &k, db);
    hs_database_t *again = fz_dbcache_load(c, &k);
    ASSERT(again);
    assert_same_matches(db, again);
    ASSERT_EQ_U64(counters(c).hits, 1);

    free(orig);
    free(bad);
    hs_free_database(db);
    hs_free_database(again);
    fz_dbcache_close(c);
}

TEST_IMPL(dbcache_truncated_and_oversized) {
    const char *dir = fz_test_tmpdir();
    fz_dbcache *c = open_ok(dir);
    hs_database_t *db = compile_rx();
    fz_dbkey k;
    key_rx(&k);
    store_ok(c, &k, db);
    const char *path = entry_path(dir, &k);
    size_t n;
    uint8_t *orig = slurp(path, &n), *big = calloc(1, n + 1);
    ASSERT(big);

    /* truncated anywhere: empty, inside the header, at it, one byte short */
    size_t cuts[] = {0, 1, 8, HDR_BYTES - 1, HDR_BYTES, HDR_BYTES + 1, n / 2, n - 1};
    for (size_t i = 0; i < FZ_ARRAY_LEN(cuts); i++) {
        fz_test_context("truncated to %zu of %zu bytes", cuts[i], n);
        spew(path, orig, cuts[i]);
        ASSERT_REFUSED(c, &k,
                       cuts[i] < HDR_BYTES ? "shorter than its header" : "length does not match");
    }
    /* one byte too many */
    fz_test_context("one byte appended");
    memcpy(big, orig, n);
    spew(path, big, n + 1);
    ASSERT_REFUSED(c, &k, "length does not match the file size");

    /* hostile length fields, the rest intact */
    uint64_t lens[] = {UINT64_MAX,        UINT64_C(1) << 40, (UINT64_C(1) << 30) + 1,
                       n - HDR_BYTES + 1, n - HDR_BYTES - 1, 0};
    for (size_t i = 0; i < FZ_ARRAY_LEN(lens); i++) {
        fz_test_context("length field %llu", (unsigned long long)lens[i]);
        memcpy(big, orig, n);
        memcpy(big + 128, &lens[i], 8);
        spew(path, big, n);
        ASSERT_REFUSED(c, &k, "length does not match the file size");
    }

    /* a (sparse) file past the size cap is refused without being read */
    fz_test_context("file past the cap");
    spew(path, orig, n);
    int fd = open(path, O_WRONLY);
    ASSERT(fd >= 0);
    ASSERT(ftruncate(fd, (off_t)(HDR_BYTES + FZ_DBCACHE_MAX_PAYLOAD_BYTES + 1)) == 0);
    close(fd);
    ASSERT_REFUSED(c, &k, "larger than an entry may be");
    fz_test_context("%s", "");

    store_ok(c, &k, db);
    hs_database_t *again = fz_dbcache_load(c, &k);
    ASSERT(again);
    assert_same_matches(db, again);

    free(orig);
    free(big);
    hs_free_database(db);
    hs_free_database(again);
    fz_dbcache_close(c);
}

TEST_IMPL(dbcache_foreign_rejected) {
    const char *dir = fz_test_tmpdir();
    fz_dbcache *c = open_ok(dir);
    hs_database_t *db = compile_lit();
    fz_dbkey k, k2;
    key_lit(&k);
    key_n(&k2, 7);
    store_ok(c, &k, db);
    const char *p = entry_path(dir, &k);
    char path[4096];
    snprintf(path, sizeof(path), "%s", p);
    size_t n;
    uint8_t *orig = slurp(path, &n), *bad = malloc(n);
    ASSERT(bad);

    /* another Hyperscan version wrote it */
    memcpy(bad, orig, n);
    memset(bad + 32, 0, 64);
    memcpy(bad + 32, "4.7.0 2018-01-24", 16);
    spew(path, bad, n);
    ASSERT_REFUSED(c, &k, "written by another Hyperscan version");

    /* another CPU (cpu_features, then tune) */
    memcpy(bad, orig, n);
    bad[96 + 8] ^= 0x04;
    spew(path, bad, n);
    ASSERT_REFUSED(c, &k, "written for another CPU platform");
    memcpy(bad, orig, n);
    bad[96] ^= 0x01;
    spew(path, bad, n);
    ASSERT_REFUSED(c, &k, "written for another CPU platform");

    /* a valid entry under another key's name */
    spew(entry_path(dir, &k2), orig, n);
    ASSERT_REFUSED(c, &k2, "holds another key");

    /* intact, but writable by the group: someone else could have changed it */
    spew(path, orig, n);
    ASSERT(chmod(path, 0620) == 0);
    ASSERT_REFUSED(c, &k, "writable by group or others");
    ASSERT(chmod(path, 0600) == 0);

    /* intact, but owned by someone else (needs root to arrange) */
    if (geteuid() == 0) {
        ASSERT(chown(path, 65534, 65534) == 0);
        ASSERT_REFUSED(c, &k, "owned by another user");
    } else {
        fprintf(stderr, "dbcache_foreign_rejected: not root: other owner's entry not tried\n");
    }

    /* the next store replaces it */
    store_ok(c, &k, db);
    hs_database_t *again = fz_dbcache_load(c, &k);
    ASSERT(again);
    assert_same_matches(db, again);
    ASSERT_EQ_U64(counters(c).hits, 1);

    free(orig);
    free(bad);
    hs_free_database(db);
    hs_free_database(again);
    fz_dbcache_close(c);
}

TEST_IMPL(dbcache_untrusted_dir_refused) {
    const char *base = fz_test_tmpdir();
    char path[4096], link[4096], err[512];
    umask(022);

    /* missing, with missing parents: made, private */
    snprintf(path, sizeof(path), "%s/a/b/cache", base);
    fz_dbcache *c = open_ok(path);
    fz_dbcache_close(c);
    struct stat st;
    ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    ASSERT_EQ_U64(st.st_mode & 0777, 0700);
    snprintf(link, sizeof(link), "%s/a", base);
    ASSERT(stat(link, &st) == 0);
    ASSERT_EQ_U64(st.st_mode & 0777, 0700);

    /* a symbolic link to a good directory is fine */
    snprintf(link, sizeof(link), "%s/good-link", base);
    ASSERT(symlink(path, link) == 0);
    fz_dbcache_close(open_ok(link));

    /* group- or world-writable: refused, naming the directory and why */
    static const unsigned modes[] = {0770, 0720, 0702, 0777, 01777};
    for (size_t i = 0; i < FZ_ARRAY_LEN(modes); i++) {
        fz_test_context("mode %04o", modes[i]);
        snprintf(path, sizeof(path), "%s/shared-%zu", base, i);
        ASSERT(mkdir(path, 0700) == 0 && chmod(path, modes[i]) == 0);
        err[0] = '\0';
        ASSERT(fz_dbcache_open(path, err, sizeof(err)) == NULL);
        ASSERT_CONTAINS(err, path);
        ASSERT_CONTAINS(err, "writable by group or others");
    }
    fz_test_context("%s", "");

    /* ... also behind a symbolic link */
    snprintf(link, sizeof(link), "%s/bad-link", base);
    ASSERT(symlink(path, link) == 0);
    err[0] = '\0';
    ASSERT(fz_dbcache_open(link, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, link);
    ASSERT_CONTAINS(err, "writable by group or others");

    /* not a directory */
    snprintf(path, sizeof(path), "%s/file", base);
    fz_test_write_str(base, "file", "x");
    ASSERT(fz_dbcache_open(path, err, sizeof(err)) == NULL);
    ASSERT_CONTAINS(err, path);
    ASSERT(fz_dbcache_open("", err, sizeof(err)) == NULL);

    /* owned by someone else (needs root to arrange) */
    if (geteuid() == 0) {
        snprintf(path, sizeof(path), "%s/theirs", base);
        ASSERT(mkdir(path, 0700) == 0 && chown(path, 65534, 65534) == 0);
        err[0] = '\0';
        ASSERT(fz_dbcache_open(path, err, sizeof(err)) == NULL);
        ASSERT_CONTAINS(err, path);
        ASSERT_CONTAINS(err, "owned by uid 65534");
    } else {
        fprintf(stderr, "dbcache_untrusted_dir_refused: not root: other owner not tried\n");
    }
}

TEST_IMPL(dbcache_symlink_entry_refused) {
    const char *dir = fz_test_tmpdir();
    fz_dbcache *c = open_ok(dir);
    hs_database_t *db = compile_rx();
    fz_dbkey k, k2;
    key_rx(&k);
    key_n(&k2, 1);
    store_ok(c, &k, db);
    char target[4096], path[4096];
    snprintf(target, sizeof(target), "%s", entry_path(dir, &k));
    snprintf(path, sizeof(path), "%s", entry_path(dir, &k2));

    /* another key's name linked to a valid entry */
    ASSERT(symlink(target, path) == 0);
    ASSERT_REFUSED(c, &k2, "a symbolic link");

    /* the entry's own name linked to its valid bytes elsewhere */
    char moved[4096];
    snprintf(moved, sizeof(moved), "%s/elsewhere", dir);
    ASSERT(rename(target, moved) == 0);
    ASSERT(symlink(moved, target) == 0);
    ASSERT_REFUSED(c, &k, "a symbolic link");

    /* a FIFO under the name neither blocks nor is read */
    ASSERT(unlink(path) == 0 && mkfifo(path, 0600) == 0);
    ASSERT_REFUSED(c, &k2, "not a regular file");

    /* a store replaces the link itself, not what it points to */
    size_t n0, n1;
    uint8_t *before = slurp(moved, &n0);
    store_ok(c, &k, db);
    struct stat st;
    ASSERT(lstat(target, &st) == 0 && S_ISREG(st.st_mode));
    uint8_t *after = slurp(moved, &n1);
    ASSERT(n0 == n1 && memcmp(before, after, n0) == 0);
    hs_database_t *again = fz_dbcache_load(c, &k);
    ASSERT(again);
    assert_same_matches(db, again);

    free(before);
    free(after);
    hs_free_database(db);
    hs_free_database(again);
    fz_dbcache_close(c);
}

typedef struct writer {
    fz_dbcache *c;
    const hs_database_t *db;
    int failures; /* stores that failed, or loads after a store that missed */
} writer;

static void *write_and_read(void *arg) {
    writer *w = arg;
    fz_dbkey k;
    key_lit(&k);
    char err[512];
    for (int i = 0; i < 25; i++) {
        if (fz_dbcache_store(w->c, &k, w->db, err, sizeof(err)) != 0) w->failures++;
        hs_database_t *got = fz_dbcache_load(w->c, &k);
        if (!got) w->failures++;
        hs_free_database(got);
    }
    return NULL;
}

TEST_IMPL(dbcache_concurrent_stores) {
    const char *dir = fz_test_tmpdir();
    fz_dbcache *c = open_ok(dir);
    hs_database_t *db = compile_lit();
    enum { NT = 8 };
    pthread_t t[NT];
    writer w[NT];
    for (int i = 0; i < NT; i++) {
        w[i] = (writer){c, db, 0};
        ASSERT(pthread_create(&t[i], NULL, write_and_read, &w[i]) == 0);
    }
    for (int i = 0; i < NT; i++) {
        ASSERT(pthread_join(t[i], NULL) == 0);
        ASSERT_EQ_I64(w[i].failures, 0);
    }
    fz_dbcache_counters s = counters(c);
    ASSERT_EQ_U64(s.stores, NT * 25);
    ASSERT_EQ_U64(s.hits, NT * 25);
    ASSERT_EQ_U64(s.rejected, 0); /* no reader ever saw a partial entry */
    ASSERT_EQ_U64(s.store_failures, 0);

    /* one entry, no temporary files left behind */
    ASSERT_EQ_I64(fz_dbcache_prune(c, UINT64_MAX), 0);
    fz_dbkey k;
    key_lit(&k);
    hs_database_t *got = fz_dbcache_load(c, &k);
    ASSERT(got);
    assert_same_matches(db, got);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s' | wc -l)\" = 1", dir);
    ASSERT(system(cmd) == 0);

    hs_free_database(db);
    hs_free_database(got);
    fz_dbcache_close(c);
}

static void set_mtime(const char *path, time_t t) {
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    ASSERT(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

TEST_IMPL(dbcache_prune) {
    fz_log_set_level(FZ_LOG_ERROR);
    const char *dir = fz_test_tmpdir();
    fz_dbcache *c = open_ok(dir);
    hs_database_t *db = compile_lit();
    time_t now = time(NULL);
    fz_dbkey k[5];
    char path[5][4096];
    for (unsigned i = 0; i < 5; i++) { /* entry i is i seconds newer than entry 0 */
        key_n(&k[i], i);
        store_ok(c, &k[i], db);
        snprintf(path[i], sizeof(path[i]), "%s", entry_path(dir, &k[i]));
        set_mtime(path[i], now - 1000 + (time_t)i);
    }
    struct stat st;
    ASSERT(stat(path[0], &st) == 0);
    uint64_t size = (uint64_t)st.st_size;

    /* a writer that died long ago, one still writing, a stranger's file,
     * and a symbolic link under an entry's name */
    const char *stale = fz_test_write_str(dir, ".tmp-1-0-00000000deadbeef", "partial");
    const char *fresh = fz_test_write_str(dir, ".tmp-2-0-00000000cafebabe", "partial");
    const char *other = fz_test_write_str(dir, "README", "not ours");
    set_mtime(stale, now - FZ_DBCACHE_STALE_TMP_S - 60);
    set_mtime(other, now - 100000);
    fz_dbkey kl;
    key_n(&kl, 100);
    char lpath[4096];
    snprintf(lpath, sizeof(lpath), "%s", entry_path(dir, &kl));
    ASSERT(symlink(path[0], lpath) == 0);

    /* room for three: the two oldest go, with the stale file and the link */
    ASSERT_EQ_I64(fz_dbcache_prune(c, 3 * size + size / 2), 4);
    ASSERT(!exists(path[0]) && !exists(path[1]));
    ASSERT(exists(path[2]) && exists(path[3]) && exists(path[4]));
    ASSERT(!exists(stale) && !exists(lpath));
    ASSERT(exists(fresh) && exists(other));
    ASSERT_EQ_U64(counters(c).pruned, 4);

    /* a hit makes an entry the newest: entry 3 is then the oldest */
    hs_database_t *got = fz_dbcache_load(c, &k[2]);
    ASSERT(got);
    hs_free_database(got);
    ASSERT_EQ_I64(fz_dbcache_prune(c, 2 * size), 1);
    ASSERT(exists(path[2]) && !exists(path[3]) && exists(path[4]));

    /* within the bound: nothing to do; zero: everything of ours goes */
    ASSERT_EQ_I64(fz_dbcache_prune(c, 2 * size), 0);
    ASSERT_EQ_I64(fz_dbcache_prune(c, 0), 2);
    ASSERT(!exists(path[2]) && !exists(path[4]));
    ASSERT(exists(fresh) && exists(other));

    hs_free_database(db);
    fz_dbcache_close(c);
}

TEST_IMPL(dbcache_off_and_default_dir) {
    /* a NULL cache is "off": every call is a harmless no-op */
    fz_dbkey k;
    key_rx(&k);
    char err[64] = "";
    ASSERT(fz_dbcache_load(NULL, &k) == NULL);
    ASSERT_EQ_I64(fz_dbcache_store(NULL, &k, NULL, err, sizeof(err)), 0);
    ASSERT_EQ_I64(fz_dbcache_prune(NULL, 0), 0);
    fz_dbcache_counters s;
    fz_dbcache_stats(NULL, &s);
    ASSERT_EQ_U64(s.hits + s.misses + s.rejected + s.stores + s.store_failures + s.pruned, 0);
    fz_dbcache_close(NULL);

    char out[256];
    setenv("CACHE_DIRECTORY", "/var/cache/fanzha:/var/cache/other", 1);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    setenv("HOME", "/home/fz", 1);
    ASSERT_EQ_I64(fz_dbcache_default_dir(out, sizeof(out)), 0);
    ASSERT_STR_EQ(out, "/var/cache/fanzha");
    unsetenv("CACHE_DIRECTORY");
    ASSERT_EQ_I64(fz_dbcache_default_dir(out, sizeof(out)), 0);
    ASSERT_STR_EQ(out, "/xdg/fanzha");
    setenv("XDG_CACHE_HOME", "relative", 1); /* the XDG spec says: ignore it */
    ASSERT_EQ_I64(fz_dbcache_default_dir(out, sizeof(out)), 0);
    ASSERT_STR_EQ(out, "/home/fz/.cache/fanzha");
    ASSERT_EQ_I64(fz_dbcache_default_dir(out, 8), -1); /* does not fit */
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    ASSERT_EQ_I64(fz_dbcache_default_dir(out, sizeof(out)), -1);
}
