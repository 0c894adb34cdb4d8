/*
 * fs.c - small file-system helpers (see fs.h).
 */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
