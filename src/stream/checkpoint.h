/*
 * checkpoint.h - a task's checkpoint: the record a task writes to the state
 * topic (key "<group>|<topic>|<partition>") in the same transaction as its
 * input offset, so the two always agree.
 *
 * It holds where the task stands (the next offset; the last record read and
 * its fingerprint, which tells a recreated topic from the one the task
 * knew), the task's lineage (a random id that the task's statistics
 * records and changelog entries carry, so a new beginning never overwrites
 * an old one), the screen stage's event-time watermark, the statistics
 * ledger, and the decide stage's table of input records already seen.
 *
 * Format: "FZC" and a version byte, fixed fields, then two blobs with u32
 * lengths; little-endian; checked on decode. Pure functions, any thread.
 */
#ifndef FZ_CHECKPOINT_H
#define FZ_CHECKPOINT_H

#include <stdint.h>

#include "buf.h"

typedef struct fz_checkpoint {
    uint8_t stage; /* FZ_STAGE_* (task.h) */
    uint64_t lineage;
    int64_t position;    /* next offset to read */
    int64_t last_offset; /* the last record read; -1 none */
    uint64_t last_fp;    /* its fingerprint (fz_checkpoint_fingerprint) */
    int64_t watermark;   /* screen: newest event time accepted; INT64_MIN none */
    const void *ledger;  /* fz_ledger_save() bytes; NULL = statistics off */
    size_t ledger_len;
    const void *seen; /* decide: the input records already seen (decide.c) */
    size_t seen_len;
} fz_checkpoint;

fz_err fz_checkpoint_encode(fz_buf *b, const fz_checkpoint *c);
/* Views into p. 0, or -1 with the reason in err. */
int fz_checkpoint_decode(const void *p, size_t n, fz_checkpoint *c, char *err, size_t err_size);

/* The metadata a task's committed offset carries: "fz1:" and the lineage
 * it was committed in (16 hex digits). out holds FZ_CHECKPOINT_TAG_MAX
 * bytes; returns the length (no NUL counted). */
#define FZ_CHECKPOINT_TAG_MAX 24
size_t fz_checkpoint_offset_tag(uint64_t lineage, char *out);

/* What a restore makes of a checkpoint and the committed offset. */
typedef enum fz_checkpoint_verdict {
    FZ_CKPT_AGREES, /* they agree (one transaction wrote both): restore */
    /* the committed offset, of the checkpoint's lineage, lags the
     * checkpoint: the transaction that wrote the checkpoint committed (a
     * read_committed reader saw it), but the broker lost the offsets it
     * carried (seen after a broker restart: its commit marker written to
     * the state topic, not to __consumer_offsets). Restore; the checkpoint
     * holds what was committed. */
    FZ_CKPT_OFFSET_LOST,
    /* anything else (offsets reset by hand, a recreated topic): a new
     * lineage at the committed offset */
    FZ_CKPT_DISAGREES,
} fz_checkpoint_verdict;

/* The verdict on checkpoint c given the group's committed offset (-1:
 * none) and the metadata committed with it (tag[0..tag_len), NULL: none);
 * for FZ_CKPT_OFFSET_LOST and FZ_CKPT_DISAGREES, why in err. Pure. */
fz_checkpoint_verdict fz_checkpoint_judge(const fz_checkpoint *c, int64_t committed,
                                          const void *tag, size_t tag_len, char *err,
                                          size_t err_size);

/* The fingerprint of a Kafka record: XXH3 of its key, value and timestamp. */
uint64_t fz_checkpoint_fingerprint(const void *key, size_t key_len, const void *value, size_t len,
                                   int64_t timestamp);

#endif
