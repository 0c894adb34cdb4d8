/*
 * test-offsets.c - per-partition offset tracking against a naive oracle:
 * slots finish out of order (the worker's own count plus extra counts for
 * produced records), and after every step the committable position must
 * be one past the longest finished prefix. A full ring refuses pushes.
 */
#include <stdlib.h>

#include "offsets.h"
#include "test.h"

TEST_IMPL(offsets_oracle) {
    enum { N = 5000, CAP = 256 };
    const int64_t base = 1000; /* offsets need not start at 0 */
    fz_track *t = fz_track_new("events", 2, CAP, 1);
    ASSERT(t != NULL);
    ASSERT_STR_EQ(t->topic, "events");
    ASSERT_EQ_I64(t->partition, 2);
    ASSERT_EQ_I64(t->worker, 1);
    ASSERT_EQ_I64(t->next_commit, -1);
    ASSERT(fz_track_idle(t));

    fz_slot **slot = calloc(N, sizeof(*slot));
    int32_t *pending = calloc(N, sizeof(*pending)); /* oracle's counts */
    int *live = calloc(N, sizeof(*live));           /* indexes with pending > 0 */
    ASSERT(slot && pending && live);
    int nlive = 0, pushed = 0, full_seen = 0;
    int64_t want_commit = -1;
    int prefix = 0; /* oracle: first unfinished index */
    while (prefix < N) {
        int do_push = pushed < N && (nlive == 0 || fz_test_rand_below(2) == 0);
        if (do_push) {
            fz_slot *s = fz_track_push(t, base + pushed);
            if (!s) {
                /* only when CAP slots are outstanding */
                ASSERT_EQ_U64(fz_track_inflight(t), CAP);
                full_seen++;
                do_push = 0;
            } else {
                slot[pushed] = s;
                pending[pushed] = 1;
                /* records produced for it: more counts, before the worker's
                 * own count is dropped */
                int extra = (int)fz_test_rand_below(4);
                if (extra) {
                    fz_slot_add(s, extra);
                    pending[pushed] += extra;
                }
                live[nlive++] = pushed++;
            }
        }
        if (!do_push) {
            ASSERT(nlive > 0);
            int li = (int)fz_test_rand_below((uint64_t)nlive);
            int idx = live[li];
            fz_slot_done(slot[idx]);
            if (--pending[idx] == 0) live[li] = live[--nlive];
        }
        while (prefix < pushed && pending[prefix] == 0) prefix++;
        int64_t before = t->next_commit;
        int moved = fz_track_advance(t);
        if (prefix > 0) want_commit = base + prefix;
        if (t->next_commit != want_commit)
            fz_test_fail(__FILE__, __LINE__, "next_commit %lld, oracle %lld (pushed %d)",
                         (long long)t->next_commit, (long long)want_commit, pushed);
        ASSERT_EQ_I64(moved, before != t->next_commit);
        ASSERT_EQ_U64(fz_track_inflight(t), (uint64_t)(pushed - prefix));
    }
    ASSERT_EQ_I64(t->next_commit, base + N);
    ASSERT(fz_track_idle(t));
    ASSERT(full_seen > 0); /* the ring did fill up along the way */
    free(slot);
    free(pending);
    free(live);
    fz_track_destroy(t);
}

TEST_IMPL(offsets_ring_full) {
    fz_track *t = fz_track_new("t", 0, 5, 0); /* rounds up to 8 */
    ASSERT(t != NULL);
    ASSERT_EQ_U64(t->mask, 7);
    fz_slot *s[8];
    for (int i = 0; i < 8; i++) {
        s[i] = fz_track_push(t, i);
        ASSERT(s[i] != NULL);
        ASSERT_EQ_I64(s[i]->offset, i);
    }
    ASSERT(fz_track_push(t, 8) == NULL);
    ASSERT_EQ_U64(fz_track_inflight(t), 8);
    /* finishing a later slot frees nothing */
    fz_slot_done(s[3]);
    ASSERT_EQ_I64(fz_track_advance(t), 0);
    ASSERT_EQ_I64(t->next_commit, -1);
    ASSERT(fz_track_push(t, 8) == NULL);
    /* finishing the first frees one place; the ring wraps to it */
    fz_slot_done(s[0]);
    ASSERT_EQ_I64(fz_track_advance(t), 1);
    ASSERT_EQ_I64(t->next_commit, 1);
    fz_slot *w = fz_track_push(t, 8);
    ASSERT(w == s[0]);
    ASSERT_EQ_I64(w->offset, 8);
    ASSERT(fz_track_push(t, 9) == NULL);
    /* 1 and 2 finish: the prefix runs through the already finished 3 */
    fz_slot_done(s[2]);
    fz_slot_done(s[1]);
    ASSERT_EQ_I64(fz_track_advance(t), 1);
    ASSERT_EQ_I64(t->next_commit, 4);
    ASSERT_EQ_I64(fz_track_advance(t), 0);
    fz_track_destroy(t);
    fz_track_destroy(NULL);

    /* capacity 1 is a ring of one */
    t = fz_track_new("t", 0, 1, 0);
    ASSERT(t != NULL);
    fz_slot *a = fz_track_push(t, 42);
    ASSERT(a != NULL);
    ASSERT(fz_track_push(t, 43) == NULL);
    fz_slot_done(a);
    ASSERT_EQ_I64(fz_track_advance(t), 1);
    ASSERT_EQ_I64(t->next_commit, 43);
    ASSERT(fz_track_push(t, 43) != NULL);
    fz_track_destroy(t);
}
