/*
 * fuzz_rules.c - libFuzzer target for the rule file parser: the input is
 * written as one rule file into a private directory and loaded; whatever
 * follows a line "---LIST---" becomes the list file l.txt beside it. It
 * must either load or report at least one error, never crash or leak;
 * every diagnostic names the file. A ruleset that loads also runs its
 * embedded examples.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules.h"

#include "ruletest.h"

static char g_dir[64], g_file[96], g_list[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof(g_dir), "/tmp/fanzha-fuzz-rules-%d", (int)getpid());
        snprintf(g_file, sizeof(g_file), "%s/r.yaml", g_dir);
        snprintf(g_list, sizeof(g_list), "%s/l.txt", g_dir);
        mkdir(g_dir, 0700);
    }
    if (size > 4096) return 0; /* keep Hyperscan compile times sane */
    static const char sep[] = "\n---LIST---\n";
    size_t rule_len = size, list_off = size;
    for (size_t i = 0; i + sizeof(sep) - 1 <= size; i++)
        if (memcmp(data + i, sep, sizeof(sep) - 1) == 0) {
            rule_len = i;
            list_off = i + sizeof(sep) - 1;
            break;
        }
    FILE *fp = fopen(g_file, "wb");
    if (!fp) abort();
    fwrite(data, 1, rule_len, fp);
    fclose(fp);
    unlink(g_list);
    if (list_off < size || rule_len < size) {
        fp = fopen(g_list, "wb");
        if (!fp) abort();
        fwrite(data + list_off, 1, size - list_off, fp);
        fclose(fp);
    }
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(g_dir, NULL, &diags);
    if (!rs && diags.errors == 0) abort(); /* a failed load must say why */
    for (size_t i = 0; i < diags.n; i++)
        if (!diags.v[i].file || !diags.v[i].msg) abort();
    if (rs) {
        fz_rule_diags td = {0};
        fz_ruletest_summary sum;
        char err[256];
        if (fz_ruletest_run(rs, &td, &sum, err, sizeof(err)) < 0) abort();
        fz_rule_diags_free(&td);
    }
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
    return 0;
}
