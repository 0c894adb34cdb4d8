/*
 * main.c - the fanzha command line: dispatches to run, replay and rules.
 */
#include <hs/hs.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "replay.h"
#include "rules.h"

#ifndef FZ_VERSION
#define FZ_VERSION "0.0.0"
#endif

static void usage(FILE *fp) {
    fprintf(fp,
            "fanzha %s - fraud-alert stream filter (Kafka -> Hyperscan -> Kafka)\n"
            "\n"
            "Usage:\n"
            "  fanzha run [OPTIONS]            consume events from Kafka, produce alerts\n"
            "  fanzha replay [OPTIONS] [FILE]  same pipeline over NDJSON files or stdin\n"
            "  fanzha rules check DIR          parse and compile a rules directory\n"
            "  fanzha version                  versions of fanzha and its libraries\n"
            "\n"
            "Run 'fanzha run --help' or 'fanzha replay --help' for every option.\n"
            "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n",
            FZ_VERSION);
}

static int cmd_rules(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[0], "check") != 0) {
        fprintf(stderr, "usage: fanzha rules check DIR\n");
        return 2;
    }
    fz_rule_diags diags = {0};
    int64_t t0 = fz_mono_ns();
    fz_ruleset *rs = fz_ruleset_load(argv[1], NULL, &diags);
    double secs = (double)(fz_mono_ns() - t0) / 1e9;
    fz_rule_diags_print(&diags, stderr);
    size_t nerr = diags.errors, nwarn = diags.n - diags.errors;
    fz_rule_diags_free(&diags);
    if (!rs) {
        fprintf(stderr, "%s: %zu error(s), %zu warning(s); rules NOT usable\n", argv[1], nerr,
                nwarn);
        return 1;
    }
    printf("%s: %zu rules, %zu patterns, ruleset %s, compiled in %.2f s, %zu warning(s)\n", argv[1],
           fz_ruleset_count(rs), fz_ruleset_pattern_count(rs), fz_ruleset_version(rs), secs, nwarn);
    fz_ruleset_unref(rs);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("fanzha %s\nlibrdkafka %s\nhyperscan %s\nxxhash %u\n", FZ_VERSION,
               rd_kafka_version_str(), hs_version(), XXH_versionNumber());
        return 0;
    }
    if (strcmp(cmd, "rules") == 0) return cmd_rules(argc - 2, argv + 2);
    unsigned scope;
    if (strcmp(cmd, "run") == 0)
        scope = FZ_SCOPE_RUN;
    else if (strcmp(cmd, "replay") == 0)
        scope = FZ_SCOPE_REPLAY;
    else {
        fprintf(stderr, "fanzha: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return 2;
    }
    fz_config cfg;
    char err[1024];
    fz_config_init(&cfg);
    int rc = fz_config_parse_args(&cfg, scope, cmd, argc - 2, argv + 2, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0) fprintf(stderr, "fanzha %s: %s\n", cmd, err);
        fz_config_free(&cfg);
        return rc < 0 ? 2 : 0;
    }
    fz_log_set_level((fz_log_level)fz_log_level_parse(cfg.log_level));
    if (hs_valid_platform() != HS_SUCCESS) {
        fprintf(stderr, "fanzha: this CPU lacks the instructions Hyperscan needs (SSSE3)\n");
        fz_config_free(&cfg);
        return 1;
    }
    rc = scope == FZ_SCOPE_RUN ? fz_daemon_main(&cfg) : fz_replay_main(&cfg);
    fz_config_free(&cfg);
    return rc;
}
