/*
 * fuzz_rules.c - libFuzzer target for the rule file parser: the input is
 * written as one rule file into a private directory and loaded. It must
 * either load or report at least one error, never crash or leak; every
 * diagnostic names the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules.h"

static char g_dir[64], g_file[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof(g_dir), "/tmp/fanzha-fuzz-rules-%d", (int)getpid());
        snprintf(g_file, sizeof(g_file), "%s/r.yaml", g_dir);
        mkdir(g_dir, 0700);
    }
    if (size > 4096) return 0; /* keep Hyperscan compile times sane */
    FILE *fp = fopen(g_file, "wb");
    if (!fp) abort();
    fwrite(data, 1, size, fp);
    fclose(fp);
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(g_dir, NULL, &diags);
    if (!rs && diags.errors == 0) abort(); /* a failed load must say why */
    for (size_t i = 0; i < diags.n; i++)
        if (!diags.v[i].file || !diags.v[i].msg) abort();
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
    return 0;
}
