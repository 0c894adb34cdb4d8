/*
 * artifact.h - the container of a compiled ruleset file (`fanzha rules
 * compile`): a fixed-size header, the body (sources and serialised
 * Hyperscan databases, laid out by rules.c), and an optional Ed25519
 * signature; plus the signing keys and the trusted-key ring.
 *
 * File layout (host byte order, like the Hyperscan databases inside):
 *
 *   offset size
 *        0    8  magic "FZRULES\0"
 *        8    4  container format (FZ_ARTIFACT_FORMAT)
 *       12    4  flags: bit 0 = signed (a trailer follows the body)
 *       16    8  body length in bytes
 *       24   16  digest: XXH3-128, canonical (big-endian), over the other
 *                 header bytes (0-23, 40-47) and then the body
 *       40    8  build time, seconds since the epoch (UTC)
 *       48    -  body
 *   signed files only, the trailer (FZ_ARTIFACT_TRAILER_BYTES):
 *        0    8  magic "FZSIG1\0\0"
 *        8    8  key id (the first 8 bytes of BLAKE2b-256 of the public key)
 *       16   64  Ed25519 signature over every byte of the file before it
 *                 (header, body, trailer magic and key id)
 *
 * Checks, in this order, before a byte of the body is parsed: the header
 * (magic, format, known flags, body length equal to what the file size
 * leaves); for a signed file the trailer's magic, its key id among the
 * trusted keys, and the signature; then the digest. The
 * artifact's version is "rs-" + the first 16 hex digits of that digest,
 * so it names every byte that is loaded - sources and databases - and a
 * file spliced from two others has another version or fails the check.
 * Without a trusted key anyone who can write the file can recompute the
 * digest: the digest catches accidents, the signature catches attackers.
 *
 * Key files are one line of text each:
 *   fanzha-ed25519-public KEYID HEX64        (PREFIX.pub)
 *   fanzha-ed25519-secret KEYID HEX128       (PREFIX.sec, mode 0600)
 * KEYID is 16 hex digits; HEX64 the 32-byte public key, HEX128 libsodium's
 * 64-byte secret key (seed and public key). A trusted-keys file holds one
 * or more public lines (rotation: add the new key, re-sign, drop the old);
 * empty lines and lines starting with '#' are skipped.
 *
 * Threads: a keyring is immutable once loaded and may be shared; every
 * function is reentrant.
 */
#ifndef FZ_ARTIFACT_H
#define FZ_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#define FZ_ARTIFACT_FORMAT 3u
#define FZ_ARTIFACT_HEADER_BYTES 48
#define FZ_ARTIFACT_TRAILER_BYTES 80
#define FZ_ARTIFACT_KEYID_HEX 16
/* No compiled file may be larger than this. */
#define FZ_ARTIFACT_MAX_BYTES (UINT64_C(4) << 30)

/* What a loaded artifact is, for status, alerts and metrics. */
typedef struct fz_artifact_info {
    char version[20];                       /* "rs-" + 16 hex digits of the digest */
    char digest[33];                        /* the header's digest, 32 hex digits */
    char key_id[FZ_ARTIFACT_KEYID_HEX + 1]; /* the verified signer, or "unsigned" */
    int64_t build_time_s;                   /* from the header; 0 if unknown */
    int signed_ok;                          /* 1: signature verified with a trusted key */
    int has_signature;                      /* 1: the file carries a signature */
} fz_artifact_info;

/* The trusted public keys. */
typedef struct fz_keyring fz_keyring;

/* Load the public keys of path (one or more lines, see above). The file
 * must not be writable by group or others and must be owned by the
 * effective uid or root. NULL with errstr naming the file (and line) and
 * the reason. */
fz_keyring *fz_keyring_load(const char *path, char *errstr, size_t errstr_size);
void fz_keyring_free(fz_keyring *k);
size_t fz_keyring_count(const fz_keyring *k);

/* A fresh key pair written to PREFIX.pub and PREFIX.sec (0600, refused if
 * either exists). key_id_out gets the key id. 0, or -1 with errstr. */
int fz_artifact_keygen(const char *prefix, char key_id_out[FZ_ARTIFACT_KEYID_HEX + 1], char *errstr,
                       size_t errstr_size);

/* A secret key, read from a PREFIX.sec file (must not be readable by group
 * or others). Opaque; free with fz_signkey_free(), which wipes it. */
typedef struct fz_signkey fz_signkey;
fz_signkey *fz_signkey_load(const char *path, char *errstr, size_t errstr_size);
void fz_signkey_free(fz_signkey *k);
const char *fz_signkey_id(const fz_signkey *k);
/* The same key from its 64 raw bytes (tests and the fuzzer). */
fz_signkey *fz_signkey_from_bytes(const uint8_t sk[64]);
/* A keyring trusting exactly the public half of k (tests and the fuzzer). */
fz_keyring *fz_keyring_of(const fz_signkey *k);

/*
 * Build a whole artifact around body (len bytes): header with the
 * digest and build_time_s, and - when key is not NULL - the signed
 * trailer. Returns a malloc'd buffer (*out_len bytes) or NULL when out of
 * memory.
 */
uint8_t *fz_artifact_build(const void *body, size_t len, int64_t build_time_s,
                           const fz_signkey *key, size_t *out_len);

/*
 * Check a whole artifact in memory (see the order above). trust NULL: a
 * signature is not required and not checked (has_signature tells); else
 * the file must be signed by one of its keys. On success 0, *body and
 * *body_len point into buf, and info is filled. On failure -1 with errstr
 * saying why (without a file name; the caller adds it).
 */
int fz_artifact_verify(const uint8_t *buf, size_t len, const fz_keyring *trust,
                       const uint8_t **body, size_t *body_len, fz_artifact_info *info, char *errstr,
                       size_t errstr_size);

/*
 * Read a whole compiled file. Opened with O_NOFOLLOW (a symbolic link as
 * the last component is refused); it must be a regular file. When strict
 * (a trusted key is configured), the opened file must also be owned by the
 * effective uid or root and not writable by group or others, and so must
 * the directory holding it (otherwise whoever may write there can replace
 * it). The checks are made on the opened descriptors (fstat), so the file
 * that is checked is the file that is read. Returns a malloc'd buffer
 * (*len bytes) or NULL with errstr naming the file and the reason.
 */
uint8_t *fz_artifact_read(const char *path, int strict, size_t *len, char *errstr,
                          size_t errstr_size);

#endif
