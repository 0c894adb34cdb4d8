/*
 * fuzz_matcher.c - libFuzzer target: the prefilter matcher against the
 * reference matcher (tests/diff/matcher_pair.h) on fuzzed texts. The input
 * is an SMS text (valid UTF-8 only: the decoder refuses the rest before any
 * matching); it is matched as the text of an SMS event, and its first 32
 * bytes also as the sender and recipient, in every view the rules use.
 * Any difference between the two verdicts aborts. The rules are the
 * shipped ones (FANZHA_FUZZ_MATCHER_RULES, default "rules", relative to
 * the working directory).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_pair.h"
#include "utf8.h"

static fz_matcher_pair g_mp;
static int g_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_ready) {
        const char *dir = getenv("FANZHA_FUZZ_MATCHER_RULES");
        if (fz_matcher_pair_open(&g_mp, dir ? dir : "rules", 1 << 20) != 0) abort();
        g_ready = 1;
    }
    if (size > 8192 || !fz_utf8_valid((const char *)data, size, NULL)) return 0;
    fz_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = FZ_EV_SMS;
    ev.fields[FZ_FIELD_TEXT] = (fz_str){(const char *)data, size};
    size_t nn = size < 32 ? size : 32;
    while (nn > 0 && nn < size && ((unsigned char)data[nn] & 0xC0) == 0x80) nn--;
    ev.fields[FZ_FIELD_FROM] = (fz_str){(const char *)data, nn};
    ev.fields[FZ_FIELD_TO] = (fz_str){(const char *)data, nn};
    fz_matches out[2];
    int eq = fz_matcher_pair_event(&g_mp, &ev, out);
    if (eq == 1) return 0;
    fprintf(stderr, "matchers differ on: %.*s\n", (int)size, (const char *)data);
    fz_matcher_pair_print(&g_mp, out, stderr);
    abort();
}
