/*
 * test-profile.c - `rules profile`: every regex term on every field it
 * scans gets one cost, sorted most expensive first, with the exact number
 * of sample events it matches; undecodable lines are skipped and counted;
 * a sample with no event is an error naming the file.
 */
#include <stdlib.h>

#include "profile.h"
#include "rules.h"
#include "test.h"

static const char *rules_yaml = "rules:\n"
                                "  - id: cheap\n"
                                "    category: t\n"
                                "    severity: high\n"
                                "    pattern: 'prize'\n"
                                "  - id: costly\n"
                                "    category: t\n"
                                "    severity: high\n"
                                "    flags: [dotall]\n"
                                "    pattern: '[0-9]{3,}.{0,40}(claim|call)'\n"
                                "  - id: numbers\n"
                                "    category: t\n"
                                "    severity: low\n"
                                "    fields: [from, to]\n"
                                "    pattern: '^86'\n"
                                "  - id: off\n"
                                "    category: t\n"
                                "    severity: low\n"
                                "    status: disabled\n"
                                "    pattern: 'never profiled'\n";

static fz_ruleset *load(const char *dir) {
    fz_rules_opts o = {.compile = 0};
    fz_rule_diags d = {0};
    fz_ruleset *rs = fz_ruleset_load(dir, &o, &d);
    if (!rs) {
        char buf[512];
        fz_rule_diags_first_error(&d, buf, sizeof(buf));
        fz_test_fail(__FILE__, __LINE__, "rules: %s", buf);
    }
    fz_rule_diags_free(&d);
    return rs;
}

TEST_IMPL(profile_costs) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "r.yaml", rules_yaml);
    char events[8192] = "";
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        const char *text = i % 4 == 0   ? "you won a prize of 5000, call now to claim it"
                           : i % 4 == 1 ? "see you at the station at 7"
                                        : "meeting moved to room 4, bring the slides";
        n += (size_t)snprintf(events + n, sizeof(events) - n,
                              "{\"id\":\"e%d\",\"ts\":1,\"type\":\"sms\",\"from\":\"%s\","
                              "\"to\":\"13800000000\",\"text\":\"%s\"}\n",
                              i, i % 2 ? "8613911112222" : "13911112222", text);
    }
    n += (size_t)snprintf(events + n, sizeof(events) - n, "not json\n\n");
    const char *path = fz_test_write_str(dir, "events.ndjson", events);

    fz_ruleset *rs = load(dir);
    fz_scan_cost *c = NULL;
    fz_profile_info info;
    char err[256];
    long k = fz_profile_scan(rs, path, 1000, 3, &c, &info, err, sizeof(err));
    if (k < 0) fz_test_fail(__FILE__, __LINE__, "profile: %s", err);
    ASSERT_EQ_I64(k, 4); /* cheap, costly on text; numbers on from and to */
    ASSERT_EQ_U64(info.events, 40);
    ASSERT_EQ_U64(info.invalid, 1);
    ASSERT(info.empty_ns > 0);
    ASSERT(info.view_bytes[FZ_FIELD_TEXT][FZ_VIEW_NORM] > 20);
    for (long i = 1; i < k; i++) ASSERT(c[i - 1].ns_per_event >= c[i].ns_per_event);
    int seen = 0;
    for (long i = 0; i < k; i++) {
        const char *id = c[i].rule->id;
        if (!strcmp(id, "cheap")) {
            ASSERT_EQ_U64(c[i].matched, 10);
            ASSERT(c[i].field == FZ_FIELD_TEXT && c[i].view == FZ_VIEW_NORM);
            seen |= 1;
        } else if (!strcmp(id, "costly")) {
            ASSERT_EQ_U64(c[i].matched, 10);
            seen |= 2;
        } else if (!strcmp(id, "numbers") && c[i].field == FZ_FIELD_FROM) {
            ASSERT_EQ_U64(c[i].matched, 20);
            ASSERT(c[i].view == FZ_VIEW_RAW);
            seen |= 4;
        } else if (!strcmp(id, "numbers") && c[i].field == FZ_FIELD_TO) {
            ASSERT_EQ_U64(c[i].matched, 0);
            seen |= 8;
        } else {
            fz_test_fail(__FILE__, __LINE__, "unexpected cost for rule %s", id);
        }
    }
    ASSERT_EQ_I64(seen, 15);
    free(c);

    /* nothing decodes: an error naming the file */
    const char *bad = fz_test_write_str(dir, "bad.ndjson", "{\"id\":1}\nnope\n");
    ASSERT(fz_profile_scan(rs, bad, 1000, 1, &c, &info, err, sizeof(err)) < 0);
    ASSERT(strstr(err, "bad.ndjson") && strstr(err, "no event decodes"));
    ASSERT(fz_profile_scan(rs, "/nonexistent/x.ndjson", 10, 1, &c, &info, err, sizeof(err)) < 0);
    ASSERT(strstr(err, "/nonexistent/x.ndjson"));
    fz_ruleset_unref(rs);
}
