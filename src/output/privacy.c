/*
 * privacy.c - see privacy.h.
 *
 * Masking writes the kept characters and one '*' per hidden character
 * straight into the caller's buffer; hashing keeps libsodium's BLAKE2b
 * state on the stack. Both run on the screen stage's hot path (every
 * matched event) and allocate nothing. Numbers have passed the decoder's
 * UTF-8 check, so masking counts characters, not bytes; a kept character
 * that JSON would need to escape (a quote, a backslash, a control
 * character) is masked too, so the output needs no escaping.
 */
#include "privacy.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "utf8.h"

static fz_privacy g_privacy; /* written once before threads start */

int fz_privacy_numbers_parse(const char *s) {
    if (!strcmp(s, "keep")) return FZ_NUMBERS_KEEP;
    if (!strcmp(s, "mask")) return FZ_NUMBERS_MASK;
    if (!strcmp(s, "hash")) return FZ_NUMBERS_HASH;
    return -1;
}

int fz_privacy_texts_parse(const char *s) {
    if (!strcmp(s, "keep")) return 0;
    if (!strcmp(s, "drop")) return 1;
    return -1;
}

static int load_key(fz_privacy *p, const char *path, char *err, size_t n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, n, "option 'privacy_hash_key_file': %s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char buf[FZ_PRIVACY_KEY_MAX + 2];
    size_t len = fread(buf, 1, sizeof(buf), fp);
    int bad = ferror(fp);
    struct stat st;
    int loose = fstat(fileno(fp), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO));
    fclose(fp);
    if (bad) {
        snprintf(err, n, "option 'privacy_hash_key_file': %s: read error", path);
        return -1;
    }
    if (len > 0 && buf[len - 1] == '\n') len--;
    if (len > 0 && buf[len - 1] == '\r') len--;
    if (len < FZ_PRIVACY_KEY_MIN || len > FZ_PRIVACY_KEY_MAX) {
        snprintf(err, n,
                 "option 'privacy_hash_key_file': %s: the key must be %d to %d bytes (one "
                 "trailing newline aside), it is %s%zu; make one with: openssl rand -hex 32 > %s",
                 path, FZ_PRIVACY_KEY_MIN, FZ_PRIVACY_KEY_MAX,
                 len > FZ_PRIVACY_KEY_MAX ? "more than " : "",
                 len > FZ_PRIVACY_KEY_MAX ? (size_t)FZ_PRIVACY_KEY_MAX : len, path);
        return -1;
    }
    if (loose)
        fz_warn("privacy_hash_key_file %s can be read by other users (chmod 600 it): whoever "
                "has the key can reverse the number hashes by trying every number",
                path);
    memcpy(p->key, buf, len);
    p->key_len = len;
    sodium_memzero(buf, sizeof(buf));
    return 0;
}

int fz_privacy_from_config(fz_privacy *p, const fz_config *c, char *err, size_t n) {
    memset(p, 0, sizeof(*p));
    int num = fz_privacy_numbers_parse(c->privacy_numbers);
    int txt = fz_privacy_texts_parse(c->privacy_texts);
    if (num < 0) {
        snprintf(err, n, "option 'privacy_numbers': expected keep, mask or hash, got '%s'",
                 c->privacy_numbers);
        return -1;
    }
    if (txt < 0) {
        snprintf(err, n, "option 'privacy_texts': expected keep or drop, got '%s'",
                 c->privacy_texts);
        return -1;
    }
    p->numbers = (fz_numbers_policy)num;
    p->drop_texts = txt;
    if (p->numbers == FZ_NUMBERS_HASH && !(c->privacy_hash_key_file && *c->privacy_hash_key_file)) {
        snprintf(err, n,
                 "option 'privacy_numbers: hash' needs privacy_hash_key_file (a secret of 16 to "
                 "64 bytes, e.g. openssl rand -hex 32 > FILE): an unkeyed hash of a phone number "
                 "is reversed by trying every number");
        return -1;
    }
    if (sodium_init() < 0) {
        snprintf(err, n, "libsodium failed to initialise");
        return -1;
    }
    if (c->privacy_hash_key_file && *c->privacy_hash_key_file &&
        load_key(p, c->privacy_hash_key_file, err, n))
        return -1;
    return 0;
}

void fz_privacy_set(const fz_privacy *p) {
    if (p)
        g_privacy = *p;
    else
        memset(&g_privacy, 0, sizeof(g_privacy));
}

const fz_privacy *fz_privacy_get(void) { return &g_privacy; }

int fz_privacy_on(const fz_privacy *p) {
    return p && (p->numbers != FZ_NUMBERS_KEEP || p->drop_texts);
}

void fz_privacy_hash_hex(const fz_privacy *p, const void *data, size_t n,
                         char out[FZ_PRIVACY_HASH_HEX + 1]) {
    unsigned char h[FZ_PRIVACY_HASH_HEX / 2];
    crypto_generichash(h, sizeof(h), data, n, p->key, p->key_len);
    sodium_bin2hex(out, FZ_PRIVACY_HASH_HEX + 1, h, sizeof(h));
}

/* Characters of s[0..n) (invalid bytes count one each). */
static size_t chars(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        size_t l = fz_utf8_seq_len(s + i, n - i);
        i += l ? l : 1;
    }
    return k;
}

static fz_err put_masked(fz_buf *b, const char *s, size_t n) {
    size_t total = chars(s, n);
    size_t head = total >= 11 ? 3 : 0;
    size_t tail = total >= 11 ? 4 : total >= 5 ? 2 : 0;
    fz_buf_reserve(b, n + 2);
    fz_buf_putc(b, '"');
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        size_t l = fz_utf8_seq_len(s + i, n - i);
        if (!l) l = 1;
        unsigned char c = (unsigned char)s[i];
        int keep = (k < head || k >= total - tail) && l == fz_utf8_seq_len(s + i, n - i) &&
                   !(c < 0x20 || c == '"' || c == '\\' || c == 0x7f);
        if (keep)
            fz_buf_put(b, s + i, l);
        else
            fz_buf_putc(b, '*');
        i += l;
    }
    return fz_buf_putc(b, '"');
}

fz_err fz_privacy_put_number(fz_buf *b, const fz_privacy *p, fz_str s) {
    if (!p || p->numbers == FZ_NUMBERS_KEEP) return fz_buf_put_json_str(b, s.p, s.n);
    if (p->numbers == FZ_NUMBERS_MASK) return put_masked(b, s.p, s.n);
    char hex[FZ_PRIVACY_HASH_HEX + 1];
    fz_privacy_hash_hex(p, s.p, s.n, hex);
    fz_buf_putc(b, '"');
    fz_buf_put(b, hex, FZ_PRIVACY_HASH_HEX);
    return fz_buf_putc(b, '"');
}

size_t fz_privacy_kafka_key(const fz_privacy *p, const void *key, size_t n,
                            char out[FZ_PRIVACY_KEY_OUT], const void **use) {
    *use = key;
    if (!p || p->numbers == FZ_NUMBERS_KEEP || !key || !n) return n;
    *use = out;
    if (p->numbers == FZ_NUMBERS_HASH) {
        char hex[FZ_PRIVACY_HASH_HEX + 1];
        fz_privacy_hash_hex(p, key, n, hex);
        memcpy(out, hex, FZ_PRIVACY_HASH_HEX);
        return FZ_PRIVACY_HASH_HEX;
    }
    /* mask, byte by byte (a key need not be text): the head and tail kept
     * as for numbers, the middle one '*' per byte, at most the buffer */
    const unsigned char *k = key;
    size_t head = n >= 11 ? 3 : 0, tail = n >= 11 ? 4 : n >= 5 ? 2 : 0;
    size_t stars = n - head - tail;
    if (head + stars + tail > FZ_PRIVACY_KEY_OUT) stars = FZ_PRIVACY_KEY_OUT - head - tail;
    size_t o = 0;
    for (size_t i = 0; i < head; i++) out[o++] = (char)k[i];
    for (size_t i = 0; i < stars; i++) out[o++] = '*';
    for (size_t i = n - tail; i < n; i++) out[o++] = (char)k[i];
    return o;
}
