/*
 * privacy.h - what alerts, campaign summaries and dead letters may carry
 * for downstream systems that must not see subscriber numbers or message
 * texts (docs/alerts.md#privacy).
 *
 *   privacy_numbers: keep   numbers as they are (the default)
 *                    mask   first 3 and last 4 characters kept of numbers
 *                           of 11 or more characters (13812345678 ->
 *                           138****5678), the last 2 of 5-10, none below;
 *                           one '*' per masked character
 *                    hash   32 hex digits of keyed BLAKE2b-128 (libsodium
 *                           crypto_generichash) of the number as it appears
 *                           in the event, keyed with privacy_hash_key_file:
 *                           stable for one key, so a downstream system can
 *                           still join and count by number; without the key
 *                           it cannot be reversed by trying every number
 *   privacy_texts:   keep | drop (alerts lose "text", campaign summaries
 *                           carry "sample":"")
 *
 * With either option on, a dead letter no longer carries the rejected
 * payload (it may hold both): "payload_omitted":true, its length, and,
 * when a hash key is configured, "payload_hash", the keyed hash of the
 * whole payload, so the record can still be found in the input topic.
 *
 * The process has one policy, set before any thread starts and read-only
 * afterwards; the encoders in alert.c read it. Nothing here allocates.
 */
#ifndef FZ_PRIVACY_H
#define FZ_PRIVACY_H

#include <stddef.h>

#include "buf.h"
#include "common.h"
#include "config.h"

typedef enum fz_numbers_policy {
    FZ_NUMBERS_KEEP = 0,
    FZ_NUMBERS_MASK,
    FZ_NUMBERS_HASH,
} fz_numbers_policy;

#define FZ_PRIVACY_KEY_MIN 16 /* crypto_generichash_KEYBYTES_MIN */
#define FZ_PRIVACY_KEY_MAX 64 /* crypto_generichash_KEYBYTES_MAX */
#define FZ_PRIVACY_HASH_HEX 32

typedef struct fz_privacy {
    fz_numbers_policy numbers;
    int drop_texts;
    size_t key_len; /* 0: no key */
    unsigned char key[FZ_PRIVACY_KEY_MAX];
} fz_privacy;

/* Parse "keep|mask|hash" and "keep|drop"; -1 if unknown. */
int fz_privacy_numbers_parse(const char *s);
int fz_privacy_texts_parse(const char *s);

/*
 * Build a policy from privacy_numbers, privacy_texts and
 * privacy_hash_key_file: the key is the file's bytes (one trailing newline
 * removed), 16 to 64 of them (`openssl rand -hex 32 > key`). -1 with a
 * message naming the option or the file in err.
 */
int fz_privacy_from_config(fz_privacy *p, const fz_config *c, char *err, size_t n);

/* The process's policy: p is copied; NULL keeps everything. Call before
 * threads start. */
void fz_privacy_set(const fz_privacy *p);
const fz_privacy *fz_privacy_get(void);
/* 1 when numbers or texts are changed (dead letters then omit payloads). */
int fz_privacy_on(const fz_privacy *p);

/* The number s[0..n) as a JSON string under p (kept, masked or hashed). */
fz_err fz_privacy_put_number(fz_buf *b, const fz_privacy *p, fz_str s);
/* The keyed hash of data as FZ_PRIVACY_HASH_HEX lower-case hex digits and
 * a NUL; p must have a key. */
void fz_privacy_hash_hex(const fz_privacy *p, const void *data, size_t n,
                         char out[FZ_PRIVACY_HASH_HEX + 1]);

/*
 * The Kafka key of an alert or a dead letter is its input record's key,
 * often the subscriber's number: under privacy_numbers mask or hash it is
 * written as the number would be (masked bytes, or the 32 hex digits of
 * its keyed hash), so records of one subscriber still share a key and a
 * partition. key[0..n) -> out (cap FZ_PRIVACY_KEY_OUT): the length of the
 * key to write; with keep (or no key), n and *use = key.
 */
#define FZ_PRIVACY_KEY_OUT 128
size_t fz_privacy_kafka_key(const fz_privacy *p, const void *key, size_t n,
                            char out[FZ_PRIVACY_KEY_OUT], const void **use);

#endif
