/*
 * fuzz_event.c - libFuzzer target for the event decoder and everything a
 * decoded event flows through (match, dedup key, alert / verdict /
 * dead-letter encoding). Invariants checked beyond "no crash":
 *  - a decoded event's views lie inside the message or the arena and hold
 *    valid UTF-8;
 *  - every encoded record is valid UTF-8 and ends with '}';
 *  - every SIMD level (simd.h) decodes the input as the scalar path does
 *    (reason, detail, values) and normalises its text to the same bytes;
 *  - the text's skeleton view (skel.h) is the same on every level, valid
 *    UTF-8 and free of upper-case ASCII.
 * Rules come from FANZHA_FUZZ_RULES (default tests/integration/rules).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alert.h"
#include "campaign.h"
#include "watch.h"
#include "norm.h"
#include "pipeline.h"
#include "simd.h"
#include "skel.h"
#include "stores.h"
#include "utf8.h"

static fz_ruleset *g_rs;
static fz_pipeline *g_pipe;
static fz_stores g_stores;
static fz_campaign g_closed, g_summary;
static fz_watch *g_watch;
static fz_buf g_out;
static fz_decoder *g_dec; /* the differential decodes */
static char g_norm[2][4096], g_skel[2][8192], g_skel_tmp[4096];

static void init(void) {
    char err[256];
    const char *dir = getenv("FANZHA_FUZZ_RULES");
    fz_rule_diags diags = {0};
    g_rs = fz_ruleset_load(dir ? dir : "tests/integration/rules", NULL, &diags);
    fz_rule_diags_free(&diags);
    g_pipe = fz_pipeline_new(4096, 0, err, sizeof(err));
    fz_stores_config sc = {1024, 64, 600000, 60000, 0, 0, 0};
    int st_ok = fz_stores_init(&g_stores, &sc, 0, err, sizeof(err)) == 0;
    g_watch = fz_watch_new(4096, 3600000, err, sizeof(err));
    fz_buf_init(&g_out, 1 << 20);
    g_dec = fz_decoder_new(4096, 4096 * FZ_SIMD_LEVEL_COUNT, 1024, err, sizeof(err));
    if (!g_rs || !g_pipe || !st_ok || !g_watch || !g_dec || fz_skel_init(err, sizeof(err)) ||
        fz_pipeline_bind(g_pipe, g_rs, err, sizeof(err))) {
        fprintf(stderr, "fuzz_event: set-up failed (rules dir?)\n");
        abort();
    }
}

static void check_view(fz_str s) {
    if (s.p && !fz_utf8_valid(s.p, s.n, NULL)) abort();
}

static int same_str(fz_str a, fz_str b) {
    return (a.p == NULL) == (b.p == NULL) && a.n == b.n && (a.n == 0 || !memcmp(a.p, b.p, a.n));
}

/* Decode and normalise msg on every level the CPU has; abort unless each
 * gives the scalar path's answer. Leaves the level as it found it. */
static void check_levels(const char *msg, size_t size) {
    fz_simd_level was = fz_simd_level_get();
    fz_event ev[2];
    char detail[2][192];
    fz_reason reason[2];
    size_t norm_n[2], skel_n[2];
    fz_decoder_reset_arena(g_dec);
    for (int l = 0; l <= (int)fz_simd_level_best(); l++) {
        int k = l != 0; /* 0: the scalar answer, 1: this level's */
        fz_simd_set_level((fz_simd_level)l);
        reason[k] = fz_event_decode(g_dec, msg, size, &ev[k], detail[k], sizeof(detail[k]));
        fz_str text = ev[k].fields[FZ_FIELD_TEXT];
        norm_n[k] =
            reason[k] == FZ_REASON_NONE && text.p ? fz_norm_text(text.p, text.n, g_norm[k]) : 0;
        skel_n[k] = reason[k] == FZ_REASON_NONE && text.p
                        ? fz_skel_text(text.p, text.n, g_skel_tmp, g_skel[k], sizeof(g_skel[k]))
                        : 0;
        if (!fz_utf8_valid(g_skel[k], skel_n[k], NULL)) abort();
        for (size_t i = 0; i < skel_n[k]; i++)
            if (g_skel[k][i] >= 'A' && g_skel[k][i] <= 'Z') abort();
        if (l == 0) continue;
        const fz_event *a = &ev[0], *b = &ev[1];
        if (reason[1] != reason[0] || strcmp(detail[1], detail[0]) != 0 ||
            !same_str(a->id, b->id) || a->type != b->type || a->ts_ms != b->ts_ms ||
            a->amount_minor != b->amount_minor || a->has_amount != b->has_amount ||
            a->duration_s != b->duration_s || !same_str(a->currency, b->currency) ||
            !same_str(a->category, b->category) || norm_n[1] != norm_n[0] ||
            memcmp(g_norm[0], g_norm[1], norm_n[0]) != 0 || skel_n[1] != skel_n[0] ||
            memcmp(g_skel[0], g_skel[1], skel_n[0]) != 0)
            abort();
        for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++)
            if (!same_str(a->fields[f], b->fields[f])) abort();
    }
    fz_simd_set_level(was);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_rs) init();
    fz_result r;
    const char *msg = (const char *)data;
    if (size <= 4096) check_levels(msg, size);
    fz_pipeline_reset_arena(g_pipe);
    fz_pipeline_scan(g_pipe, msg, size, &r);
    fz_pipeline_intercept(g_pipe, g_watch, &r);
    fz_pipeline_decide(g_pipe, &g_stores, &r, &g_closed, &g_summary);
    if (r.verdict != FZ_VERDICT_INVALID) {
        check_view(r.ev.id);
        for (int f = 0; f < FZ_FIELD_EVENT_COUNT; f++) check_view(r.ev.fields[f]);
    }
    fz_source src = {.topic = "t", .partition = 0, .offset = 1};
    fz_buf_reset(&g_out);
    if (r.verdict == FZ_VERDICT_ALERT) fz_alert_encode(&g_out, g_rs, &r, 600000, &src);
    if (r.verdict == FZ_VERDICT_INVALID) fz_deadletter_encode(&g_out, &r, msg, size, &src, 0);
    fz_buf_putc(&g_out, '\n');
    fz_verdict_encode(&g_out, g_rs, &r, &src);
    if (g_out.failed || !fz_utf8_valid(g_out.p, g_out.len, NULL) || g_out.p[g_out.len - 1] != '}')
        abort();
    return 0;
}
