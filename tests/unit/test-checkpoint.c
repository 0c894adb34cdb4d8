/*
 * test-checkpoint.c - a task checkpoint round-trips; the restore's verdict
 * on a checkpoint and the committed offset: they agree; an offset of the
 * checkpoint's lineage that lags it (the broker lost the offsets of the
 * committed transaction that wrote the checkpoint) is restored at the
 * checkpoint; an offset set by hand (no lineage, or another one), one
 * ahead of the checkpoint, or none at all starts a new lineage.
 */
#include <string.h>

#include "buf.h"
#include "checkpoint.h"
#include "test.h"

static fz_checkpoint ck(uint64_t lineage, int64_t position) {
    fz_checkpoint c;
    memset(&c, 0, sizeof(c));
    c.stage = 1;
    c.lineage = lineage;
    c.position = position;
    c.last_offset = position - 1;
    c.last_fp = 42;
    c.watermark = 7;
    return c;
}

TEST_IMPL(checkpoint_roundtrip) {
    fz_buf b;
    fz_buf_init(&b, 1 << 16);
    fz_checkpoint c = ck(0x0123456789abcdefull, 1064), d;
    c.seen = "abc";
    c.seen_len = 3;
    ASSERT(fz_checkpoint_encode(&b, &c) == FZ_OK);
    char err[256];
    ASSERT(fz_checkpoint_decode(b.p, b.len, &d, err, sizeof(err)) == 0);
    ASSERT_EQ_U64(d.lineage, c.lineage);
    ASSERT_EQ_I64(d.position, 1064);
    ASSERT_EQ_I64(d.last_offset, 1063);
    ASSERT_EQ_I64(d.seen_len, 3);
    ASSERT(fz_checkpoint_decode(b.p, b.len - 1, &d, err, sizeof(err)) != 0);
    ASSERT_CONTAINS(err, "damaged task checkpoint");
    fz_buf_free(&b);
}

TEST_IMPL(checkpoint_offset_tag) {
    char tag[FZ_CHECKPOINT_TAG_MAX];
    size_t n = fz_checkpoint_offset_tag(0x0123456789abcdefull, tag);
    ASSERT_EQ_I64(n, 20);
    ASSERT_STR_EQ(tag, "fz1:0123456789abcdef");
    ASSERT_EQ_I64(fz_checkpoint_offset_tag(0, tag), 20);
    ASSERT_STR_EQ(tag, "fz1:0000000000000000");
}

TEST_IMPL(checkpoint_verdict) {
    char err[512], tag[FZ_CHECKPOINT_TAG_MAX], other[FZ_CHECKPOINT_TAG_MAX];
    fz_checkpoint c = ck(0xfeedull, 1064);
    size_t n = fz_checkpoint_offset_tag(0xfeedull, tag);
    size_t m = fz_checkpoint_offset_tag(0xbeefull, other);
    /* one transaction wrote both */
    ASSERT(fz_checkpoint_judge(&c, 1064, tag, n, err, sizeof(err)) == FZ_CKPT_AGREES);
    ASSERT(fz_checkpoint_judge(&c, 1064, NULL, 0, err, sizeof(err)) == FZ_CKPT_AGREES);
    /* the offset of the same lineage lags: its transaction's offsets lost */
    ASSERT(fz_checkpoint_judge(&c, 1055, tag, n, err, sizeof(err)) == FZ_CKPT_OFFSET_LOST);
    ASSERT_CONTAINS(err, "committed offset 1055 lags its checkpoint at offset 1064");
    /* set by hand (no metadata), by another lineage, or a prefix of the tag */
    ASSERT(fz_checkpoint_judge(&c, 1055, NULL, 0, err, sizeof(err)) == FZ_CKPT_DISAGREES);
    ASSERT_CONTAINS(err, "checkpoint at offset 1064, committed offset 1055");
    ASSERT(fz_checkpoint_judge(&c, 1055, "", 0, err, sizeof(err)) == FZ_CKPT_DISAGREES);
    ASSERT(fz_checkpoint_judge(&c, 1055, other, m, err, sizeof(err)) == FZ_CKPT_DISAGREES);
    ASSERT(fz_checkpoint_judge(&c, 1055, tag, n - 1, err, sizeof(err)) == FZ_CKPT_DISAGREES);
    /* ahead of the checkpoint: offsets reset forward, never trusted */
    ASSERT(fz_checkpoint_judge(&c, 2000, tag, n, err, sizeof(err)) == FZ_CKPT_DISAGREES);
    ASSERT_CONTAINS(err, "checkpoint at offset 1064, committed offset 2000");
    /* no committed offset: a recreated topic or deleted offsets */
    ASSERT(fz_checkpoint_judge(&c, -1, tag, n, err, sizeof(err)) == FZ_CKPT_DISAGREES);
    ASSERT_CONTAINS(err, "no committed offset");
}
