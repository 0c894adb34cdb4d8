/*
 * gitrules.c - see gitrules.h.
 */
#define _GNU_SOURCE
#include "gitrules.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define REV_MAX 200
#define OUTPUT_MAX 4096

int fz_gitrules_rev_ok(const char *rev) {
    size_t n = strlen(rev);
    if (n == 0 || n > REV_MAX || rev[0] == '-' || strstr(rev, "..")) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rev[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._/~^@{}+-", c)))
            return 0;
    }
    return 1;
}

/*
 * Run argv[0] (found on PATH) with argv, stdin from /dev/null, stdout and
 * stderr into out (up to out_size - 1 bytes kept, NUL-terminated, one
 * trailing newline removed). Returns the exit status, or -1 when it could
 * not run or was killed (errstr filled).
 */
static int run(char *const argv[], char *out, size_t out_size, char *errstr, size_t errstr_size) {
    int pfd[2];
    out[0] = '\0';
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        snprintf(errstr, errstr_size, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    size_t len = 0;
    char buf[4096];
    for (;;) {
        ssize_t k = read(pfd[0], buf, sizeof(buf));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        size_t take = (size_t)k < out_size - 1 - len ? (size_t)k : out_size - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
    }
    close(pfd[0]);
    out[len] = '\0';
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r')) out[--len] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(errstr, errstr_size, "waiting for %s: %s", argv[0], strerror(errno));
            return -1;
        }
    if (!WIFEXITED(st)) {
        snprintf(errstr, errstr_size, "%s was killed by signal %d", argv[0],
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        return -1;
    }
    return WEXITSTATUS(st);
}

/* The first line of s, for an error message. */
static const char *first_line(char *s) {
    char *nl = strchr(s, '\n');
    if (nl) *nl = '\0';
    return s;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void fz_gitrules_remove(const char *out) {
    if (!out || !*out) return;
    nftw(out, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    /* out is <tmp>/fanzha-rules-XXXXXX/rules: the directory made for it too */
    char parent[4096];
    if (snprintf(parent, sizeof(parent), "%s", out) >= (int)sizeof(parent)) return;
    char *slash = strrchr(parent, '/');
    if (!slash || strcmp(slash, "/rules") != 0) return;
    *slash = '\0';
    const char *base = strrchr(parent, '/');
    if (base && strncmp(base + 1, "fanzha-rules-", 13) == 0)
        nftw(parent, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int fz_gitrules_export(const char *dir, const char *rev, char *out, size_t out_size, char *display,
                       size_t display_size, char *errstr, size_t errstr_size) {
    char res[OUTPUT_MAX], prefix[OUTPUT_MAX], commit[128], spec[OUTPUT_MAX + 160];
    char tmp[4096], tarfile[4200], rules[4200];
    struct stat st;
    out[0] = '\0';
    if (!fz_gitrules_rev_ok(rev)) {
        snprintf(errstr, errstr_size,
                 "--git '%s': not a revision (letters, digits and ._/~^@{}+- only, no leading "
                 "'-', no '..', at most %d characters)",
                 rev, REV_MAX);
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errstr, errstr_size,
                 "%s: %s (with --git, OLD is a rules directory in a git "
                 "work tree)",
                 dir, stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
        return -1;
    }
    char top[OUTPUT_MAX];
    char *top_argv[] = {"git", "-C", (char *)dir, "rev-parse", "--show-toplevel", NULL};
    int rc = run(top_argv, top, sizeof(top), errstr, errstr_size);
    if (rc < 0) return -1;
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s: not in a git work tree: %s", dir, first_line(top));
        return -1;
    }
    char *prefix_argv[] = {"git", "-C", (char *)dir, "rev-parse", "--show-prefix", NULL};
    rc = run(prefix_argv, prefix, sizeof(prefix), errstr, errstr_size);
    if (rc < 0) return -1;
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s: not in a git work tree: %s", dir, first_line(prefix));
        return -1;
    }
    size_t pl = strlen(prefix);
    if (pl && prefix[pl - 1] == '/') prefix[--pl] = '\0';
    snprintf(spec, sizeof(spec), "%s^{commit}", rev);
    char *verify_argv[] = {"git",      "-C",      (char *)dir, "rev-parse",
                           "--verify", "--quiet", spec,        NULL};
    rc = run(verify_argv, commit, sizeof(commit), errstr, errstr_size);
    if (rc < 0) return -1;
    if (rc != 0 || strlen(commit) < 40) {
        snprintf(errstr, errstr_size, "--git %s: not a commit in the repository of %s", rev, dir);
        return -1;
    }
    snprintf(spec, sizeof(spec), "%s:%s", commit, prefix);
    char *type_argv[] = {"git", "-C", (char *)dir, "cat-file", "-t", spec, NULL};
    rc = run(type_argv, res, sizeof(res), errstr, errstr_size);
    if (rc < 0) return -1;
    if (rc != 0 || strcmp(res, "tree") != 0) {
        snprintf(errstr, errstr_size, "--git %s: %s is %s at %s", rev, pl ? prefix : ".",
                 rc != 0 ? "not present" : "not a directory", rev);
        return -1;
    }
    const char *td = getenv("TMPDIR");
    if (!td || !*td) td = "/tmp";
    if (snprintf(tmp, sizeof(tmp), "%s/fanzha-rules-XXXXXX", td) >= (int)sizeof(tmp) ||
        !mkdtemp(tmp)) {
        snprintf(errstr, errstr_size, "cannot make a temporary directory in %s: %s", td,
                 strerror(errno));
        return -1;
    }
    snprintf(tarfile, sizeof(tarfile), "%s/rules.tar", tmp);
    snprintf(rules, sizeof(rules), "%s/rules", tmp);
    if (mkdir(rules, 0700) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", rules, strerror(errno));
        goto fail;
    }
    /* from the top: in a subdirectory, git archive limits itself to it */
    char *archive_argv[] = {"git", "-C", top, "archive", "--format=tar", "-o", tarfile, spec, NULL};
    rc = run(archive_argv, res, sizeof(res), errstr, errstr_size);
    if (rc < 0) goto fail;
    if (rc != 0) {
        snprintf(errstr, errstr_size, "git archive %s: %s", rev, first_line(res));
        goto fail;
    }
    char *tar_argv[] = {
        "tar", "-x", "--no-same-owner", "--no-same-permissions", "-f", tarfile, "-C", rules, NULL};
    rc = run(tar_argv, res, sizeof(res), errstr, errstr_size);
    if (rc < 0) goto fail;
    if (rc != 0) {
        snprintf(errstr, errstr_size, "unpacking %s at %s: %s", dir, rev, first_line(res));
        goto fail;
    }
    unlink(tarfile);
    if (snprintf(out, out_size, "%s", rules) >= (int)out_size) {
        snprintf(errstr, errstr_size, "temporary path too long");
        goto fail;
    }
    snprintf(display, display_size, "%s:%s", rev, pl ? prefix : ".");
    return 0;
fail:
    out[0] = '\0';
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return -1;
}
