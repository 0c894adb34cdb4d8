/*
 * artifact.c - see artifact.h.
 *
 * Workload: a handful of artifacts per day, each read once per load (tens
 * of megabytes at most); nothing here is on the hot path. The design goal
 * is that no byte chosen by whoever wrote the file reaches a parser before
 * it has been authenticated: the header is fixed-size and every field of
 * it is either compared with a constant or checked against the file size;
 * the trailer is fixed-size too; the signature (Ed25519, libsodium's
 * crypto_sign_verify_detached) covers everything before it, and only then
 * is the body hashed and handed to the caller. Hyperscan's deserialiser
 * trusts its input, so this is what stands between a writable file and a
 * crash inside hs_scan.
 */
#define _GNU_SOURCE
#include "artifact.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define MAGIC "FZRULES\0"
#define SIG_MAGIC "FZSIG1\0\0"
#define FLAG_SIGNED 1u
#define OFF_FORMAT 8
#define OFF_FLAGS 12
#define OFF_LEN 16
#define OFF_DIGEST 24
#define OFF_BUILD 40
#define PUB_TAG "fanzha-ed25519-public"
#define SEC_TAG "fanzha-ed25519-secret"
#define KEYRING_MAX 64

struct fz_keyring {
    size_t n;
    uint8_t pk[KEYRING_MAX][crypto_sign_PUBLICKEYBYTES];
    uint8_t id[KEYRING_MAX][8];
};

struct fz_signkey {
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    uint8_t id[8];
    char idhex[FZ_ARTIFACT_KEYID_HEX + 1];
};

static int sodium_ready(void) { return sodium_init() >= 0; }

static void key_id(const uint8_t pk[crypto_sign_PUBLICKEYBYTES], uint8_t id[8]) {
    uint8_t h[32];
    crypto_generichash(h, sizeof(h), pk, crypto_sign_PUBLICKEYBYTES, NULL, 0);
    memcpy(id, h, 8);
}

static void hex(const uint8_t *in, size_t n, char *out) {
    static const char xd[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = xd[in[i] >> 4];
        out[2 * i + 1] = xd[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Exactly n bytes of lowercase or uppercase hex in s[0..2n) and then the
 * end of the token. 0, or -1. */
static int unhex(const char *s, size_t slen, uint8_t *out, size_t n) {
    size_t got = 0;
    if (slen != 2 * n) return -1;
    return sodium_hex2bin(out, n, s, slen, NULL, &got, NULL) == 0 && got == n ? 0 : -1;
}

/* ---- key files ---- */

/* Read a small text file after checking who may write (and, for secret
 * keys, read) it. malloc'd NUL-terminated text, or NULL with errstr. */
static char *read_key_file(const char *path, int secret, char *errstr, size_t errstr_size) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    char *text = NULL;
    struct stat st;
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path,
                 errno == ELOOP ? "a symbolic link (refused)" : strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errstr, errstr_size, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        snprintf(errstr, errstr_size,
                 "%s: refused: owned by uid %u, not by this process (uid %u) "
                 "or root",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto out;
    }
    if (st.st_mode & (secret ? (mode_t)077 : (mode_t)(S_IWGRP | S_IWOTH))) {
        snprintf(errstr, errstr_size, "%s: refused: mode %04o; it must not be %s (chmod %s)", path,
                 (unsigned)(st.st_mode & 07777),
                 secret ? "readable or writable by group or others" : "writable by group or others",
                 secret ? "600" : "go-w");
        goto out;
    }
    if (st.st_size > 65536) {
        snprintf(errstr, errstr_size, "%s: larger than a key file may be (64 KiB)", path);
        goto out;
    }
    text = calloc(1, (size_t)st.st_size + 1);
    if (!text) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (got != (size_t)st.st_size) {
        snprintf(errstr, errstr_size, "%s: read failed", path);
        free(text);
        text = NULL;
    }
out:
    close(fd);
    return text;
}

/* Parse one key line "TAG KEYID HEX" into key (klen bytes) and its id;
 * the id must be the one the key hashes to. 0, or -1 with why. */
static int parse_key_line(const char *line, size_t len, const char *tag, uint8_t *key, size_t klen,
                          const char **why) {
    uint8_t id[8], want[8];
    size_t tl = strlen(tag);
    if (len < tl + 1 || memcmp(line, tag, tl) != 0 || line[tl] != ' ') {
        *why = "not a key line (expected '" PUB_TAG "' or '" SEC_TAG "' KEYID HEX)";
        return -1;
    }
    const char *p = line + tl + 1, *end = line + len;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp || unhex(p, (size_t)(sp - p), id, 8) != 0) {
        *why = "the key id is not 16 hex digits";
        return -1;
    }
    const char *k = sp + 1;
    size_t kl = (size_t)(end - k);
    while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\r' || k[kl - 1] == '\t')) kl--;
    if (unhex(k, kl, key, klen) != 0) {
        *why = klen == crypto_sign_PUBLICKEYBYTES ? "the key is not 64 hex digits"
                                                  : "the key is not 128 hex digits";
        return -1;
    }
    const uint8_t *pk = klen == crypto_sign_PUBLICKEYBYTES ? key : key + crypto_sign_SEEDBYTES;
    key_id(pk, want);
    if (memcmp(id, want, 8) != 0) {
        *why = "the key id does not match the key";
        return -1;
    }
    return 0;
}

fz_keyring *fz_keyring_load(const char *path, char *errstr, size_t errstr_size) {
    if (!sodium_ready()) {
        snprintf(errstr, errstr_size, "libsodium could not be initialised");
        return NULL;
    }
    char *text = read_key_file(path, 0, errstr, errstr_size);
    if (!text) return NULL;
    fz_keyring *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto fail;
    }
    unsigned lineno = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        lineno++;
        const char *why = NULL;
        if (len && line[len - 1] == '\r') len--;
        if (len == 0 || line[0] == '#') goto next;
        if (k->n == KEYRING_MAX) {
            snprintf(errstr, errstr_size, "%s:%u: more than %d keys", path, lineno, KEYRING_MAX);
            goto fail;
        }
        if (parse_key_line(line, len, PUB_TAG, k->pk[k->n], crypto_sign_PUBLICKEYBYTES, &why) !=
            0) {
            snprintf(errstr, errstr_size, "%s:%u: %s", path, lineno,
                     len > strlen(SEC_TAG) && !memcmp(line, SEC_TAG, strlen(SEC_TAG))
                         ? "a secret key: give the public key (PREFIX.pub) here"
                         : why);
            goto fail;
        }
        key_id(k->pk[k->n], k->id[k->n]);
        k->n++;
    next:
        line = nl ? nl + 1 : NULL;
    }
    if (k->n == 0) {
        snprintf(errstr, errstr_size, "%s: no public key in it", path);
        goto fail;
    }
    free(text);
    return k;
fail:
    free(text);
    free(k);
    return NULL;
}

void fz_keyring_free(fz_keyring *k) { free(k); }
size_t fz_keyring_count(const fz_keyring *k) { return k ? k->n : 0; }

static void signkey_fill(fz_signkey *k) {
    key_id(k->sk + crypto_sign_SEEDBYTES, k->id);
    hex(k->id, 8, k->idhex);
}

fz_signkey *fz_signkey_from_bytes(const uint8_t sk[64]) {
    if (!sodium_ready()) return NULL;
    fz_signkey *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    memcpy(k->sk, sk, sizeof(k->sk));
    signkey_fill(k);
    return k;
}

fz_keyring *fz_keyring_of(const fz_signkey *s) {
    fz_keyring *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    memcpy(k->pk[0], s->sk + crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES);
    memcpy(k->id[0], s->id, 8);
    k->n = 1;
    return k;
}

fz_signkey *fz_signkey_load(const char *path, char *errstr, size_t errstr_size) {
    if (!sodium_ready()) {
        snprintf(errstr, errstr_size, "libsodium could not be initialised");
        return NULL;
    }
    char *text = read_key_file(path, 1, errstr, errstr_size);
    if (!text) return NULL;
    fz_signkey *k = calloc(1, sizeof(*k));
    const char *why = "out of memory";
    size_t len = strcspn(text, "\n");
    if (len && text[len - 1] == '\r') len--;
    if (!k || parse_key_line(text, len, SEC_TAG, k->sk, sizeof(k->sk), &why) != 0) {
        snprintf(errstr, errstr_size, "%s:1: %s", path,
                 !strncmp(text, PUB_TAG, strlen(PUB_TAG)) ? "a public key: signing needs the "
                                                            "secret key (PREFIX.sec)"
                                                          : why);
        sodium_memzero(text, strlen(text));
        free(text);
        fz_signkey_free(k);
        return NULL;
    }
    sodium_memzero(text, strlen(text));
    free(text);
    signkey_fill(k);
    return k;
}

void fz_signkey_free(fz_signkey *k) {
    if (!k) return;
    sodium_memzero(k, sizeof(*k));
    free(k);
}

const char *fz_signkey_id(const fz_signkey *k) { return k->idhex; }

/* Write text to path, created exclusively with mode. 0, or -1 with errstr. */
static int write_new(const char *path, const char *text, mode_t mode, char *errstr,
                     size_t errstr_size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    int rc = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : -1;
    if (close(fd) != 0) rc = -1;
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s: write failed: %s", path, strerror(errno));
        unlink(path);
    }
    return rc;
}

int fz_artifact_keygen(const char *prefix, char key_id_out[FZ_ARTIFACT_KEYID_HEX + 1], char *errstr,
                       size_t errstr_size) {
    if (!sodium_ready()) {
        snprintf(errstr, errstr_size, "libsodium could not be initialised");
        return -1;
    }
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], id[8];
    char pkh[2 * sizeof(pk) + 1], skh[2 * sizeof(sk) + 1], idh[17];
    char line[400], pub[4096], sec[4096];
    int rc = -1;
    crypto_sign_keypair(pk, sk);
    key_id(pk, id);
    hex(pk, sizeof(pk), pkh);
    hex(sk, sizeof(sk), skh);
    hex(id, sizeof(id), idh);
    if (snprintf(pub, sizeof(pub), "%s.pub", prefix) >= (int)sizeof(pub) ||
        snprintf(sec, sizeof(sec), "%s.sec", prefix) >= (int)sizeof(sec)) {
        snprintf(errstr, errstr_size, "%s: path too long", prefix);
        goto out;
    }
    snprintf(line, sizeof(line), SEC_TAG " %s %s\n", idh, skh);
    if (write_new(sec, line, 0600, errstr, errstr_size) != 0) goto out;
    snprintf(line, sizeof(line), PUB_TAG " %s %s\n", idh, pkh);
    if (write_new(pub, line, 0644, errstr, errstr_size) != 0) {
        unlink(sec);
        goto out;
    }
    memcpy(key_id_out, idh, sizeof(idh));
    rc = 0;
out:
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(skh, sizeof(skh));
    sodium_memzero(line, sizeof(line));
    return rc;
}

/* ---- build, verify ---- */

/* XXH3-128 over every header byte but the digest's own, then the body.
 * -1 when out of memory. */
static int digest(const uint8_t *hdr, const void *body, size_t n, uint8_t out[16]) {
    XXH3_state_t *st = XXH3_createState();
    if (!st) return -1;
    XXH3_128bits_reset(st);
    XXH3_128bits_update(st, hdr, OFF_DIGEST);
    XXH3_128bits_update(st, hdr + OFF_BUILD, FZ_ARTIFACT_HEADER_BYTES - OFF_BUILD);
    XXH3_128bits_update(st, body, n);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    memcpy(out, c.digest, 16);
    return 0;
}

uint8_t *fz_artifact_build(const void *body, size_t len, int64_t build_time_s,
                           const fz_signkey *key, size_t *out_len) {
    size_t total = FZ_ARTIFACT_HEADER_BYTES + len + (key ? FZ_ARTIFACT_TRAILER_BYTES : 0);
    uint8_t *b = malloc(total);
    if (!b) return NULL;
    uint32_t fmt = FZ_ARTIFACT_FORMAT, flags = key ? FLAG_SIGNED : 0;
    uint64_t blen = len;
    memcpy(b, MAGIC, 8);
    memcpy(b + OFF_FORMAT, &fmt, 4);
    memcpy(b + OFF_FLAGS, &flags, 4);
    memcpy(b + OFF_LEN, &blen, 8);
    memcpy(b + OFF_BUILD, &build_time_s, 8);
    if (digest(b, body, len, b + OFF_DIGEST) != 0) {
        free(b);
        return NULL;
    }
    memcpy(b + FZ_ARTIFACT_HEADER_BYTES, body, len);
    if (key) {
        uint8_t *t = b + FZ_ARTIFACT_HEADER_BYTES + len;
        memcpy(t, SIG_MAGIC, 8);
        memcpy(t + 8, key->id, 8);
        crypto_sign_detached(t + 16, NULL, b, total - crypto_sign_BYTES, key->sk);
    }
    *out_len = total;
    return b;
}

int fz_artifact_verify(const uint8_t *buf, size_t len, const fz_keyring *trust,
                       const uint8_t **body, size_t *body_len, fz_artifact_info *info, char *errstr,
                       size_t errstr_size) {
    memset(info, 0, sizeof(*info));
    uint32_t fmt, flags;
    uint64_t blen;
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0) {
        snprintf(errstr, errstr_size,
                 "not a compiled ruleset (write one with 'fanzha rules compile')");
        return -1;
    }
    if (len < FZ_ARTIFACT_HEADER_BYTES) {
        snprintf(errstr, errstr_size, "truncated: shorter than its header");
        return -1;
    }
    memcpy(&fmt, buf + OFF_FORMAT, 4);
    memcpy(&flags, buf + OFF_FLAGS, 4);
    memcpy(&blen, buf + OFF_LEN, 8);
    if (fmt != FZ_ARTIFACT_FORMAT) {
        snprintf(errstr, errstr_size,
                 "compiled-ruleset format %u; this fanzha reads format %u: recompile it with "
                 "'fanzha rules compile'",
                 fmt, FZ_ARTIFACT_FORMAT);
        return -1;
    }
    if (flags & ~FLAG_SIGNED) {
        snprintf(errstr, errstr_size, "damaged: unknown header flags 0x%x", flags);
        return -1;
    }
    size_t trailer = (flags & FLAG_SIGNED) ? FZ_ARTIFACT_TRAILER_BYTES : 0;
    if (len - FZ_ARTIFACT_HEADER_BYTES < trailer ||
        blen != (uint64_t)(len - FZ_ARTIFACT_HEADER_BYTES - trailer)) {
        snprintf(errstr, errstr_size,
                 "truncated or damaged: the header's body length does not match the file size");
        return -1;
    }
    snprintf(info->key_id, sizeof(info->key_id), "unsigned");
    if (trailer) {
        const uint8_t *t = buf + len - trailer;
        if (memcmp(t, SIG_MAGIC, 8) != 0) {
            snprintf(errstr, errstr_size, "damaged: no signature trailer where the header says");
            return -1;
        }
        info->has_signature = 1;
        char idh[17];
        hex(t + 8, 8, idh);
        if (trust) {
            size_t i = 0;
            while (i < trust->n && memcmp(trust->id[i], t + 8, 8) != 0) i++;
            if (i == trust->n) {
                snprintf(errstr, errstr_size,
                         "refused: signed by key %s, which is not among the %zu trusted key(s) "
                         "of rules_public_key",
                         idh, trust->n);
                return -1;
            }
            if (!sodium_ready() || crypto_sign_verify_detached(t + 16, buf, len - crypto_sign_BYTES,
                                                               trust->pk[i]) != 0) {
                snprintf(errstr, errstr_size,
                         "refused: bad signature (key %s): the file was changed after it was "
                         "signed",
                         idh);
                return -1;
            }
            info->signed_ok = 1;
            memcpy(info->key_id, idh, sizeof(idh));
        }
    } else if (trust) {
        snprintf(errstr, errstr_size,
                 "refused: unsigned, and rules_public_key requires a signature (sign it with "
                 "'fanzha rules compile ... --sign KEY.sec')");
        return -1;
    }
    uint8_t want[16];
    if (digest(buf, buf + FZ_ARTIFACT_HEADER_BYTES, (size_t)blen, want) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (memcmp(want, buf + OFF_DIGEST, 16) != 0) {
        snprintf(errstr, errstr_size,
                 "damaged: the body does not hash to the digest in the header (spliced, "
                 "truncated or changed)");
        return -1;
    }
    hex(want, 16, info->digest);
    snprintf(info->version, sizeof(info->version), "rs-%.16s", info->digest);
    memcpy(&info->build_time_s, buf + OFF_BUILD, 8);
    *body = buf + FZ_ARTIFACT_HEADER_BYTES;
    *body_len = (size_t)blen;
    return 0;
}

/* ---- reading a file ---- */

static const char *unsafe_owner_or_mode(const struct stat *st) {
    if (st->st_uid != geteuid() && st->st_uid != 0) return "owned by another user";
    if (st->st_mode & (S_IWGRP | S_IWOTH)) return "writable by group or others";
    return NULL;
}

uint8_t *fz_artifact_read(const char *path, int strict, size_t *len, char *errstr,
                          size_t errstr_size) {
    char *copy = strdup(path), *copy2 = strdup(path);
    uint8_t *buf = NULL;
    int dfd = -1, fd = -1;
    struct stat st, dst;
    const char *why;
    if (!copy || !copy2) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto out;
    }
    const char *dir = dirname(copy), *base = basename(copy2);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(errstr, errstr_size, "%s: cannot open its directory %s: %s", path, dir,
                 strerror(errno));
        goto out;
    }
    /* O_NONBLOCK: a FIFO planted under the name must not block the open */
    fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", path,
                 errno == ELOOP ? "refused: a symbolic link (give the file it points to)"
                                : strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || fstat(dfd, &dst) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errstr, errstr_size, "%s: refused: not a regular file", path);
        goto out;
    }
    if (strict && (why = unsafe_owner_or_mode(&st)) != NULL) {
        snprintf(errstr, errstr_size,
                 "%s: refused: %s (uid %u, mode %04o); with rules_public_key set the file must "
                 "be owned by this process's user (uid %u) or root and not writable by group "
                 "or others",
                 path, why, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                 (unsigned)geteuid());
        goto out;
    }
    if (strict && (why = unsafe_owner_or_mode(&dst)) != NULL) {
        snprintf(errstr, errstr_size,
                 "%s: refused: its directory %s is %s (uid %u, mode %04o), so others could "
                 "replace the file",
                 path, dir, why, (unsigned)dst.st_uid, (unsigned)(dst.st_mode & 07777));
        goto out;
    }
    if ((uint64_t)st.st_size > FZ_ARTIFACT_MAX_BYTES) {
        snprintf(errstr, errstr_size, "%s: larger than a compiled ruleset may be", path);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size ? size : 1);
    if (!buf) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (got != size) {
        snprintf(errstr, errstr_size, "%s: read failed or the file shrank while read", path);
        free(buf);
        buf = NULL;
        goto out;
    }
    *len = size;
out:
    if (fd >= 0) close(fd);
    if (dfd >= 0) close(dfd);
    free(copy);
    free(copy2);
    return buf;
}
