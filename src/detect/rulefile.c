/*
 * rulefile.c - see rulefile.h.
 *
 * DESIGN. The kernel does the confinement: openat2(2) with
 * RESOLVE_BENEATH resolves the path (symlinks included) relative to a
 * descriptor of the rules directory and fails with EXDEV the moment it
 * would leave it - absolute symlinks and '..' above the top included - so
 * there is no window between checking a path and opening it. The file is
 * first opened O_PATH (which neither blocks on a FIFO nor wakes a device),
 * checked to be a regular file, then opened for reading the same way and
 * checked again to be the same inode, so a swap in between is refused too.
 *
 * Where openat2 is missing (kernels before 5.6, or a seccomp filter that
 * answers ENOSYS or EPERM for it) the fallback resolves both paths with
 * realpath(), requires the file's to lie under the directory's, and opens
 * the resolved path with O_NOFOLLOW | O_NONBLOCK, checking the inode
 * against the one realpath saw. A rename racing that is detected; a
 * directory component swapped for a symlink between the two steps is not,
 * which is why openat2 comes first.
 *
 * Used only while loading rules (the reload thread, the rules commands):
 * a few system calls per file, no caching.
 */
#define _GNU_SOURCE
#include "rulefile.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *kind(mode_t m) {
    if (S_ISFIFO(m)) return "is a FIFO";
    if (S_ISCHR(m)) return "is a character device";
    if (S_ISBLK(m)) return "is a block device";
    if (S_ISSOCK(m)) return "is a socket";
    if (S_ISDIR(m)) return "is a directory";
    return "is not a plain file";
}

static void reason(char *why, size_t n, int err) {
    if (err == EXDEV)
        snprintf(why, n,
                 "resolves outside the rules directory (a symlink pointing out of it, an "
                 "absolute symlink, or '..'); only relative links that stay inside are followed");
    else if (err == ELOOP)
        snprintf(why, n, "too many levels of symbolic links");
    else
        snprintf(why, n, "%s", strerror(err));
}

static int beneath(int dfd, const char *rel, uint64_t flags) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY); /* O_PATH takes no others */
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do fd = syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
    while (fd < 0 && errno == EINTR);
    return (int)fd;
}

/* The file checked as a (a regular file) opened as fd: fd when fd is that
 * file, else -1 with the reason in why (fd closed). */
static int regular_and_same(const struct stat *a, int fd, char *why, size_t why_size) {
    struct stat b;
    if (fd < 0) {
        reason(why, why_size, errno);
        return -1;
    }
    if (fstat(fd, &b) != 0 || b.st_dev != a->st_dev || b.st_ino != a->st_ino) {
        snprintf(why, why_size, "changed while being opened");
        close(fd);
        return -1;
    }
    return fd;
}

/* Not a regular file: the reason in why. */
static int not_regular(const struct stat *a, char *why, size_t why_size) {
    if (S_ISREG(a->st_mode)) return 0;
    snprintf(why, why_size, "%s, not a regular file", kind(a->st_mode));
    return 1;
}

/* The realpath() fallback; see DESIGN. */
static int fallback(const char *dir, const char *rel, char *why, size_t why_size) {
    char *top = realpath(dir, NULL), *joined = NULL, *real = NULL;
    int fd = -1;
    if (!top) {
        reason(why, why_size, errno);
        goto out;
    }
    if (asprintf(&joined, "%s/%s", dir, rel) < 0) {
        joined = NULL;
        reason(why, why_size, ENOMEM);
        goto out;
    }
    if (!(real = realpath(joined, NULL))) {
        reason(why, why_size, errno);
        goto out;
    }
    size_t tl = strlen(top);
    if (strncmp(real, top, tl) != 0 || (real[tl] != '/' && strcmp(top, "/") != 0)) {
        reason(why, why_size, EXDEV);
        goto out;
    }
    struct stat a;
    if (stat(real, &a) != 0) {
        reason(why, why_size, errno);
        goto out;
    }
    if (not_regular(&a, why, why_size)) goto out;
    fd = regular_and_same(&a, open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY),
                          why, why_size);
out:
    free(top);
    free(joined);
    free(real);
    return fd;
}

int fz_rulefile_open(const char *dir, const char *rel, char *why, size_t why_size) {
    if (!*rel || rel[0] == '/') {
        snprintf(why, why_size, "not a path relative to the rules directory");
        return -1;
    }
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(why, why_size, "rules directory: %s", strerror(errno));
        return -1;
    }
    int fd = -1;
    struct stat a;
    int pfd = beneath(dfd, rel, O_PATH);
    if (pfd < 0 && (errno == ENOSYS || errno == EPERM)) {
        fd = fallback(dir, rel, why, why_size);
        goto out;
    }
    if (pfd < 0) {
        reason(why, why_size, errno);
        goto out;
    }
    if (fstat(pfd, &a) != 0) {
        reason(why, why_size, errno);
        goto out;
    }
    if (not_regular(&a, why, why_size)) goto out;
    fd = regular_and_same(&a, beneath(dfd, rel, O_RDONLY | O_NONBLOCK), why, why_size);
out:
    if (pfd >= 0) close(pfd);
    close(dfd);
    return fd;
}
