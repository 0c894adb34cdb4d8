/*
 * fuzz_event.c - libFuzzer target for the event decoder and everything a
 * decoded event flows through (match, dedup key, alert / verdict /
 * dead-letter encoding). Invariants checked beyond "no crash":
 *  - a decoded event's views lie inside the message or the arena and hold
 *    valid UTF-8;
 *  - every encoded record is valid UTF-8 and ends with '}'.
 * Rules come from FANZHA_FUZZ_RULES (default tests/integration/rules).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alert.h"
#include "campaign.h"
#include "watch.h"
#include "pipeline.h"
#include "stores.h"
#include "utf8.h"

static fz_ruleset *g_rs;
static fz_pipeline *g_pipe;
static fz_stores g_stores;
static fz_campaign g_closed, g_summary;
static fz_watch *g_watch;
static fz_buf g_out;

static void init(void) {
    char err[256];
    const char *dir = getenv("FANZHA_FUZZ_RULES");
    fz_rule_diags diags = {0};
    g_rs = fz_ruleset_load(dir ? dir : "tests/integration/rules", NULL, &diags);
    fz_rule_diags_free(&diags);
    g_pipe = fz_pipeline_new(4096, 0, err, sizeof(err));
    fz_stores_config sc = {1024, 64, 600000, 60000};
    int st_ok = fz_stores_init(&g_stores, &sc, 0, err, sizeof(err)) == 0;
    g_watch = fz_watch_new(4096, 3600000, err, sizeof(err));
    fz_buf_init(&g_out, 1 << 20);
    if (!g_rs || !g_pipe || !st_ok || !g_watch ||
        fz_pipeline_bind(g_pipe, g_rs, err, sizeof(err))) {
        fprintf(stderr, "fuzz_event: set-up failed (rules dir?)\n");
        abort();
    }
}

static void check_view(fz_str s) {
    if (s.p && !fz_utf8_valid(s.p, s.n, NULL)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_rs) init();
    fz_result r;
    const char *msg = (const char *)data;
    fz_pipeline_reset_arena(g_pipe);
    fz_pipeline_scan(g_pipe, msg, size, &r);
    fz_pipeline_intercept(g_pipe, g_watch, &r);
    fz_pipeline_decide(g_pipe, &g_stores, &r, &g_closed, &g_summary);
    if (r.verdict != FZ_VERDICT_INVALID) {
        check_view(r.ev.id);
        for (int f = 0; f < FZ_FIELD_COUNT; f++) check_view(r.ev.fields[f]);
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
