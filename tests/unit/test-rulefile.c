/*
 * test-rulefile.c - files the rules directory names must be regular files
 * inside it: symlinks out, absolute symlinks, FIFOs and devices are refused
 * (without blocking), and the symlinks of a Kubernetes ConfigMap volume,
 * which stay inside, work - both through fz_rulefile_open() and through a
 * whole ruleset load.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rulefile.h"
#include "rules.h"
#include "test.h"

#define RULE(id, list)                                                                             \
    "rules:\n  - id: " id "\n    category: misc\n    severity: low\n    fields: [text]\n"          \
    "    list: " list "\n"

static char *join(const char *a, const char *b) {
    char *p;
    if (asprintf(&p, "%s/%s", a, b) < 0) abort();
    return p;
}

static void symlink_at(const char *dir, const char *name, const char *target) {
    char *p = join(dir, name);
    ASSERT(symlink(target, p) == 0);
    free(p);
}

/* The reason for refusing rel, or "" when it opened. */
static const char *why_of(const char *dir, const char *rel, char *why, size_t n) {
    why[0] = '\0';
    int fd = fz_rulefile_open(dir, rel, why, n);
    if (fd >= 0) {
        struct stat st;
        ASSERT(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
        close(fd);
        ASSERT(why[0] == '\0');
    } else {
        ASSERT(why[0] != '\0');
    }
    return why;
}

TEST_IMPL(rulefile_confined) {
    const char *top = fz_test_tmpdir();
    char *dir = join(top, "rules");
    ASSERT(mkdir(dir, 0700) == 0);
    fz_test_write_str(top, "secret.txt", "do not read\n");
    fz_test_write_str(dir, "plain.txt", "a\n");
    fz_test_write_str(dir, "sub/inner.txt", "b\n");
    symlink_at(dir, "up.txt", "../secret.txt");
    char *abs = join(top, "secret.txt");
    symlink_at(dir, "abs.txt", abs);
    symlink_at(dir, "abs_inside.txt", "/etc/hostname");
    symlink_at(dir, "sibling.txt", "sub/inner.txt");
    symlink_at(dir, "sub/back.txt", "../plain.txt");
    symlink_at(dir, "loop.txt", "loop.txt");
    char *fifo = join(dir, "fifo.txt");
    ASSERT(mkfifo(fifo, 0600) == 0);
    char why[512];
    ASSERT_STR_EQ(why_of(dir, "plain.txt", why, sizeof(why)), "");
    ASSERT_STR_EQ(why_of(dir, "sibling.txt", why, sizeof(why)), "");
    ASSERT_STR_EQ(why_of(dir, "sub/back.txt", why, sizeof(why)), "");
    ASSERT_CONTAINS(why_of(dir, "up.txt", why, sizeof(why)), "outside the rules directory");
    ASSERT_CONTAINS(why_of(dir, "abs.txt", why, sizeof(why)), "outside the rules directory");
    ASSERT_CONTAINS(why_of(dir, "abs_inside.txt", why, sizeof(why)), "outside");
    ASSERT_CONTAINS(why_of(dir, "../secret.txt", why, sizeof(why)), "outside the rules directory");
    ASSERT_CONTAINS(why_of(dir, "loop.txt", why, sizeof(why)), "symbolic links");
    ASSERT_CONTAINS(why_of(dir, "sub", why, sizeof(why)), "is a directory");
    ASSERT_CONTAINS(why_of(dir, "missing.txt", why, sizeof(why)), "No such file");
    ASSERT_CONTAINS(why_of(dir, "/etc/hostname", why, sizeof(why)), "relative");
    /* a FIFO nobody writes to: refused at once, not waited on */
    alarm(5);
    ASSERT_CONTAINS(why_of(dir, "fifo.txt", why, sizeof(why)), "is a FIFO");
    alarm(0);
    if (access("/dev/null", F_OK) == 0) {
        symlink_at(dir, "null.txt", "/dev/null");
        ASSERT_CONTAINS(why_of(dir, "null.txt", why, sizeof(why)), "outside");
    }
    free(fifo);
    free(abs);
    free(dir);
}

/* The layout the kubelet writes for a ConfigMap volume. */
TEST_IMPL(rulefile_configmap_layout) {
    const char *dir = fz_test_tmpdir();
    fz_test_write_str(dir, "..2026_12_07_05_40_00.123456789/rules.yaml",
                      RULE("x.list", "words.txt"));
    fz_test_write_str(dir, "..2026_12_07_05_40_00.123456789/words.txt", "alpha\nbeta\n");
    symlink_at(dir, "..data", "..2026_12_07_05_40_00.123456789");
    symlink_at(dir, "rules.yaml", "..data/rules.yaml");
    symlink_at(dir, "words.txt", "..data/words.txt");
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(dir, NULL, &diags);
    if (!rs) fz_rule_diags_print(&diags, stderr);
    ASSERT(rs != NULL);
    ASSERT_EQ_U64(fz_ruleset_literal_count(rs), 2);
    fz_ruleset_unref(rs);
    fz_rule_diags_free(&diags);
}

/* A whole load: the reload fails, naming the file and the reason. */
TEST_IMPL(rulefile_load_refuses) {
    const char *top = fz_test_tmpdir();
    char *dir = join(top, "rules");
    ASSERT(mkdir(dir, 0700) == 0);
    fz_test_write_str(top, "outside.txt", "secret\n");
    fz_test_write_str(top, "outside.yaml", RULE("x.out", "l.txt"));
    fz_test_write_str(dir, "a.yaml", RULE("x.list", "l.txt"));
    symlink_at(dir, "l.txt", "../outside.txt");
    fz_rule_diags diags = {0};
    fz_ruleset *rs = fz_ruleset_load(dir, NULL, &diags);
    ASSERT(rs == NULL);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_EQ_U64(diags.v[0].line, 6);
    ASSERT_CONTAINS(diags.v[0].msg, "list 'l.txt'");
    ASSERT_CONTAINS(diags.v[0].msg, "outside the rules directory");
    fz_rule_diags_free(&diags);

    char *l = join(dir, "l.txt");
    ASSERT(unlink(l) == 0 && mkfifo(l, 0600) == 0);
    alarm(5);
    memset(&diags, 0, sizeof(diags));
    ASSERT(fz_ruleset_load(dir, NULL, &diags) == NULL);
    alarm(0);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_CONTAINS(diags.v[0].msg, "is a FIFO");
    fz_rule_diags_free(&diags);

    /* a rule file linked from outside */
    ASSERT(unlink(l) == 0);
    fz_test_write_str(dir, "l.txt", "fine\n");
    symlink_at(dir, "b.yaml", "../outside.yaml");
    memset(&diags, 0, sizeof(diags));
    ASSERT(fz_ruleset_load(dir, NULL, &diags) == NULL);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_CONTAINS(diags.v[0].file, "b.yaml");
    ASSERT_CONTAINS(diags.v[0].msg, "outside the rules directory");
    fz_rule_diags_free(&diags);

    /* a FIFO named like a rule file */
    char *b = join(dir, "b.yaml");
    ASSERT(unlink(b) == 0 && mkfifo(b, 0600) == 0);
    alarm(5);
    memset(&diags, 0, sizeof(diags));
    ASSERT(fz_ruleset_load(dir, NULL, &diags) == NULL);
    alarm(0);
    ASSERT_EQ_U64(diags.errors, 1);
    ASSERT_CONTAINS(diags.v[0].msg, "not a regular file");
    fz_rule_diags_free(&diags);
    free(b);
    free(l);
    free(dir);
}
