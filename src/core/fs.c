/*
 * fs.c - small file-system helpers (see fs.h).
 */
#define _GNU_SOURCE /* getline */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fz_mkdir_p(const char *dir) {
    char *p = strdup(dir);
    if (!p) return -1;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char was = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            rc = -1;
            break;
        }
        *s = was;
        if (was == '\0') break;
    }
    int saved = errno;
    free(p);
    errno = saved;
    return rc;
}

int fz_private_dir_open(const char *what, const char *dir, const char *owner_hint,
                        const char *mode_hint, char *errstr, size_t errstr_size) {
    struct stat st;
    if (fz_mkdir_p(dir) != 0) {
        snprintf(errstr, errstr_size, "%s %s: cannot create: %s", what, dir, strerror(errno));
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fstat(dfd, &st) != 0) {
        snprintf(errstr, errstr_size, "%s %s: cannot open: %s", what, dir, strerror(errno));
        if (dfd >= 0) close(dfd);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(errstr, errstr_size,
                 "%s %s: refused: owned by uid %u, not by this process (uid %u)%s%s", what, dir,
                 (unsigned)st.st_uid, (unsigned)geteuid(), owner_hint ? "; " : "",
                 owner_hint ? owner_hint : "");
        close(dfd);
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(errstr, errstr_size, "%s %s: refused: writable by group or others (mode %04o)%s%s",
                 what, dir, (unsigned)(st.st_mode & 07777), mode_hint ? "; " : "",
                 mode_hint ? mode_hint : "");
        close(dfd);
        return -1;
    }
    return dfd;
}

int fz_each_line(FILE *fp, fz_line_fn fn, void *ctx) {
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0) {
        errno = 0; /* getline's ENOMEM tells a failed line from the end */
        if ((n = getline(&line, &cap, fp)) < 0) break;
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (n == 0) continue;
        if (fn(ctx, line, (size_t)n, lineno)) rc = 1;
    }
    if (rc == 0 && (ferror(fp) || errno == ENOMEM)) rc = -1;
    free(line);
    return rc;
}
