/*
 * runner.c - the unit-test runner, after libuv's test/runner.c.
 *
 *   fanzha_unit --list     print every test name, one per line
 *   fanzha_unit NAME       run one test in this process; exit 0 on pass,
 *                          1 on a failed assertion ("file:line: text" on
 *                          stderr), 2 for an unknown name
 *   fanzha_unit            run every test, each in its own child process
 *                          with a 60 s timeout, and print a TAP-like summary
 *
 * CTest registers each name from test-list.h as its own test, so a crash
 * or hang fails one test, not the run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define TEST_ENTRY(name) void fz_test_##name(void);
#include "test-list.h"
#undef TEST_ENTRY

typedef struct test_entry {
    const char *name;
    void (*fn)(void);
} test_entry;

static const test_entry tests[] = {
#define TEST_ENTRY(name) {#name, fz_test_##name},
#include "test-list.h"
#undef TEST_ENTRY
};

#define NTESTS (sizeof(tests) / sizeof(tests[0]))
#define TIMEOUT_MS 60000

static int run_one(const test_entry *t) {
    t->fn();
    fflush(stdout);
    return 0;
}

/* Run t in a child; 0 if it passed. */
static int run_forked(const test_entry *t) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) exit(run_one(t)); /* exit, not _exit: atexit removes temp dirs */
    struct timespec nap = {0, 5 * 1000 * 1000};
    for (int waited_ms = 0;; waited_ms += 5) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            fprintf(stderr, "%s: killed by signal %d\n", t->name, WTERMSIG(status));
            return -1;
        }
        if (r < 0) {
            perror("waitpid");
            return -1;
        }
        if (waited_ms >= TIMEOUT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "%s: timed out after %d ms\n", t->name, TIMEOUT_MS);
            return -1;
        }
        nanosleep(&nap, NULL);
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NTESTS; i++) printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc == 2) {
        for (size_t i = 0; i < NTESTS; i++)
            if (strcmp(argv[1], tests[i].name) == 0) return run_one(&tests[i]);
        fprintf(stderr, "fanzha_unit: no test named '%s' (see --list)\n", argv[1]);
        return 2;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: fanzha_unit [--list | NAME]\n");
        return 2;
    }
    int failed = 0;
    printf("1..%zu\n", NTESTS);
    for (size_t i = 0; i < NTESTS; i++) {
        int rc = run_forked(&tests[i]);
        printf("%s %zu - %s\n", rc == 0 ? "ok" : "not ok", i + 1, tests[i].name);
        fflush(stdout);
        failed += rc != 0;
    }
    printf("# %zu tests, %d failed\n", NTESTS, failed);
    return failed ? 1 : 0;
}
