/*
 * checkpoint.c - see checkpoint.h.
 */
#include "checkpoint.h"

#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define MAGIC "FZC"
#define VERSION 1

static void put64(fz_buf *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    fz_buf_put(b, x, 8);
}

static void put_blob(fz_buf *b, const void *p, size_t n) {
    uint32_t m = (uint32_t)n;
    unsigned char x[4] = {(unsigned char)m, (unsigned char)(m >> 8), (unsigned char)(m >> 16),
                          (unsigned char)(m >> 24)};
    fz_buf_put(b, x, 4);
    if (n) fz_buf_put(b, p, n);
}

fz_err fz_checkpoint_encode(fz_buf *b, const fz_checkpoint *c) {
    fz_buf_put(b, MAGIC, 3);
    fz_buf_putc(b, VERSION);
    fz_buf_putc(b, (char)c->stage);
    fz_buf_putc(b, c->ledger ? 1 : 0);
    put64(b, c->lineage);
    put64(b, (uint64_t)c->position);
    put64(b, (uint64_t)c->last_offset);
    put64(b, c->last_fp);
    put64(b, (uint64_t)c->watermark);
    put_blob(b, c->ledger, c->ledger ? c->ledger_len : 0);
    put_blob(b, c->seen, c->seen ? c->seen_len : 0);
    return b->failed ? FZ_ERR_FULL : FZ_OK;
}

static int get64(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    if (end - *p < 8) return -1;
    *v = 0;
    for (int i = 0; i < 8; i++) *v |= (uint64_t)(*p)[i] << (8 * i);
    *p += 8;
    return 0;
}

static int get_blob(const unsigned char **p, const unsigned char *end, const void **out,
                    size_t *n) {
    if (end - *p < 4) return -1;
    uint32_t m = (uint32_t)(*p)[0] | (uint32_t)(*p)[1] << 8 | (uint32_t)(*p)[2] << 16 |
                 (uint32_t)(*p)[3] << 24;
    *p += 4;
    if ((uint64_t)(end - *p) < m) return -1;
    *out = m ? *p : NULL;
    *n = m;
    *p += m;
    return 0;
}

int fz_checkpoint_decode(const void *p, size_t n, fz_checkpoint *c, char *err, size_t err_size) {
    memset(c, 0, sizeof(*c));
    const unsigned char *q = p, *end = q + n;
    if (n < 6 || memcmp(q, MAGIC, 3) != 0) {
        snprintf(err, err_size, "not a task checkpoint (%zu bytes)", n);
        return -1;
    }
    if (q[3] != VERSION) {
        snprintf(err, err_size, "checkpoint format %u, this build reads %u", q[3], VERSION);
        return -1;
    }
    c->stage = q[4];
    int has_ledger = q[5];
    q += 6;
    uint64_t v[5];
    for (int i = 0; i < 5; i++)
        if (get64(&q, end, &v[i])) goto bad;
    c->lineage = v[0];
    c->position = (int64_t)v[1];
    c->last_offset = (int64_t)v[2];
    c->last_fp = v[3];
    c->watermark = (int64_t)v[4];
    if (get_blob(&q, end, &c->ledger, &c->ledger_len) ||
        get_blob(&q, end, &c->seen, &c->seen_len) || q != end)
        goto bad;
    if (!has_ledger) c->ledger = NULL;
    if (c->position < 0 || c->last_offset < -1 || c->last_offset >= c->position) goto bad;
    return 0;
bad:
    snprintf(err, err_size, "damaged task checkpoint (%zu bytes)", n);
    return -1;
}

size_t fz_checkpoint_offset_tag(uint64_t lineage, char *out) {
    return (size_t)snprintf(out, FZ_CHECKPOINT_TAG_MAX, "fz1:%016llx", (unsigned long long)lineage);
}

fz_checkpoint_verdict fz_checkpoint_judge(const fz_checkpoint *c, int64_t committed,
                                          const void *tag, size_t tag_len, char *err,
                                          size_t err_size) {
    if (c->position == committed) return FZ_CKPT_AGREES;
    if (committed < 0) {
        snprintf(err, err_size,
                 "a checkpoint at offset %lld but no committed offset: the topic was recreated "
                 "(deleting a topic deletes its offsets) or the group's offsets were deleted",
                 (long long)c->position);
        return FZ_CKPT_DISAGREES;
    }
    char mine[FZ_CHECKPOINT_TAG_MAX];
    size_t n = fz_checkpoint_offset_tag(c->lineage, mine);
    if (c->position > committed && tag && tag_len == n && memcmp(tag, mine, n) == 0) {
        snprintf(err, err_size,
                 "committed offset %lld lags its checkpoint at offset %lld (same lineage): the "
                 "offsets of the committed transaction that wrote the checkpoint were lost at "
                 "the broker",
                 (long long)committed, (long long)c->position);
        return FZ_CKPT_OFFSET_LOST;
    }
    snprintf(err, err_size, "checkpoint at offset %lld, committed offset %lld",
             (long long)c->position, (long long)committed);
    return FZ_CKPT_DISAGREES;
}

uint64_t fz_checkpoint_fingerprint(const void *key, size_t key_len, const void *value, size_t len,
                                   int64_t timestamp) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    uint64_t kl = key_len;
    XXH3_64bits_update(&st, &kl, sizeof(kl));
    if (key_len) XXH3_64bits_update(&st, key, key_len);
    if (len) XXH3_64bits_update(&st, value, len);
    XXH3_64bits_update(&st, &timestamp, sizeof(timestamp));
    return XXH3_64bits_digest(&st);
}
