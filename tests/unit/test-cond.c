/*
 * test-cond.c - rule conditions: precedence and grouping checked against a
 * direct evaluation over every assignment of the terms, and every syntax
 * error named with its column.
 */
#include <stdlib.h>

#include "common.h"
#include "cond.h"
#include "test.h"

static const char *const names[] = {"a", "b", "c", "link_2"};

static int16_t *compile(const char *src, size_t *n, char *err) {
    return fz_cond_compile(src, names, 4, n, err, 256);
}

TEST_IMPL(cond_truth_tables) {
    const char *srcs[] = {"a and b or c",        "a and (b or c)",   "not a and b",
                          "not (a and b)",       "a or b and not c", "a and not b and not c",
                          "(a or b) and link_2", "not not a",        "a and b and c and link_2"};
    for (unsigned bits = 0; bits < 16; bits++) {
        int a = bits & 1, b = (bits >> 1) & 1, c = (bits >> 2) & 1, d = (bits >> 3) & 1;
        int want[] = {(a && b) || c, a && (b || c), !a && b, !(a && b),       a || (b && !c),
                      a && !b && !c, (a || b) && d, a,       a && b && c && d};
        for (size_t i = 0; i < FZ_ARRAY_LEN(srcs); i++) {
            size_t n;
            char err[256];
            int16_t *p = compile(srcs[i], &n, err);
            fz_test_context("%s with a=%d b=%d c=%d link_2=%d", srcs[i], a, b, c, d);
            ASSERT(p != NULL);
            ASSERT_EQ_I64(fz_cond_eval(p, n, bits), want[i]);
            free(p);
        }
    }
}

/* fz_cond_eval3 against every completion of the unknown terms: a definite
 * answer must hold for all of them (sound), and since each of these
 * conditions names a term once, an answer the same for all completions
 * must be given (Kleene's logic is exact on read-once formulas). */
TEST_IMPL(cond_three_valued) {
    const char *srcs[] = {"a and b or c",        "a and (b or c)",   "not a and b",
                          "not (a and b)",       "a or b and not c", "a and not b and not c",
                          "(a or b) and link_2", "not not a",        "a and b and c and link_2"};
    size_t definite = 0;
    for (size_t i = 0; i < FZ_ARRAY_LEN(srcs); i++) {
        size_t n;
        char err[256];
        int16_t *p = compile(srcs[i], &n, err);
        ASSERT(p != NULL);
        for (unsigned unknown = 0; unknown < 16; unknown++)
            for (unsigned known = 0; known < 16; known++) {
                if (known & unknown) continue;
                int seen[2] = {0, 0};
                for (unsigned fill = 0; fill < 16; fill++) {
                    if (fill & ~unknown) continue;
                    seen[fz_cond_eval(p, n, known | fill)] = 1;
                }
                int want = seen[0] && seen[1] ? -1 : seen[1];
                fz_test_context("%s with known 0x%x unknown 0x%x", srcs[i], known, unknown);
                ASSERT_EQ_I64(fz_cond_eval3(p, n, known, unknown), want);
                definite += want >= 0 && unknown;
            }
        free(p);
    }
    ASSERT(definite > 100); /* decided with terms unknown: what the matcher uses */
}

TEST_IMPL(cond_errors) {
    static const char *const bad[][2] = {
        {"a and", "unexpected end"},
        {"a b", "unexpected 'b'"},
        {"(a or b", "expected ')'"},
        {"a and zz", "unknown term 'zz'"},
        {"and a", "expected a term name"},
        {"a & b", "unexpected '&'"},
        {"", "unexpected end"},
    };
    for (size_t i = 0; i < FZ_ARRAY_LEN(bad); i++) {
        size_t n;
        char err[256] = "";
        fz_test_context("%s", bad[i][0]);
        ASSERT(compile(bad[i][0], &n, err) == NULL);
        ASSERT_CONTAINS(err, bad[i][1]);
        ASSERT_CONTAINS(err, "column");
    }
    size_t n;
    char err[256];
    int16_t *p = compile("a and not b", &n, err);
    ASSERT(p != NULL);
    ASSERT_EQ_U64(fz_cond_terms_used(p, n), 3);
    free(p);
}
