/*
 * history.c - see history.h.
 *
 * Workload: a store per reload that changed the rules (a few a day), a
 * listing per admin command; the directory holds `keep` files (5 by
 * default) of up to tens of megabytes. Every file operation is relative to
 * the directory descriptor opened (and checked) once, so replacing the
 * path afterwards does not redirect the history; names other than
 * VERSION.fzr are never touched.
 */
#define _GNU_SOURCE
#include "history.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

#define TMP_PREFIX ".tmp-"

struct fz_history {
    char *dir;
    int dfd;
    int keep;
};

int fz_history_is_version(const char *s) {
    if (strncmp(s, "rs-", 3) != 0) return 0;
    for (int i = 3; i < 19; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[19] == '\0';
}

fz_history *fz_history_open(const char *dir, int keep, char *errstr, size_t errstr_size) {
    int dfd = -1;
    if (!dir || !*dir || keep < 1) {
        snprintf(errstr, errstr_size, "rules history: no directory given");
        return NULL;
    }
    if ((dfd = fz_private_dir_open("rules history", dir, NULL, NULL, errstr, errstr_size)) < 0)
        goto fail;
    fz_history *h = calloc(1, sizeof(*h));
    if (!h || !(h->dir = strdup(dir))) {
        free(h);
        snprintf(errstr, errstr_size, "rules history %s: out of memory", dir);
        goto fail;
    }
    h->dfd = dfd; /* now owned by h */
    h->keep = keep;
    return h;
fail:
    if (dfd >= 0) close(dfd);
    return NULL;
}

void fz_history_close(fz_history *h) {
    if (!h) return;
    close(h->dfd);
    free(h->dir);
    free(h);
}

const char *fz_history_dir(const fz_history *h) { return h->dir; }

int fz_history_path(const fz_history *h, const char *version, char *out, size_t out_size) {
    if (!fz_history_is_version(version)) return -1;
    int n = snprintf(out, out_size, "%s/%s" FZ_HISTORY_SUFFIX, h->dir, version);
    return n >= 0 && (size_t)n < out_size ? 0 : -1;
}

static int newest_first(const void *a, const void *b) {
    const fz_history_entry *x = a, *y = b;
    if (x->kept_ns != y->kept_ns) return x->kept_ns < y->kept_ns ? 1 : -1;
    return strcmp(y->version, x->version);
}

/* Every entry (not only the newest max), sorted; malloc'd, *n set. */
static fz_history_entry *scan(fz_history *h, size_t *n) {
    *n = 0;
    int d2 = openat(h->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
    if (!d) {
        if (d2 >= 0) close(d2);
        return NULL;
    }
    fz_history_entry *v = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *s = de->d_name;
        size_t l = strlen(s);
        struct stat st;
        char ver[20];
        if (l != 19 + strlen(FZ_HISTORY_SUFFIX) || strcmp(s + 19, FZ_HISTORY_SUFFIX) != 0) continue;
        memcpy(ver, s, 19);
        ver[19] = '\0';
        if (!fz_history_is_version(ver) || fstatat(h->dfd, s, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            if (cap >= 4 * FZ_HISTORY_MAX) break;
            cap = cap ? cap * 2 : 16;
            fz_history_entry *nv = realloc(v, cap * sizeof(*v));
            if (!nv) break;
            v = nv;
        }
        memcpy(v[*n].version, ver, sizeof(ver));
        v[*n].kept_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        v[*n].bytes = (uint64_t)st.st_size;
        (*n)++;
    }
    closedir(d);
    if (*n > 1) qsort(v, *n, sizeof(*v), newest_first);
    return v;
}

size_t fz_history_list(fz_history *h, fz_history_entry *out, size_t max) {
    size_t n;
    fz_history_entry *v = scan(h, &n);
    if (n > max) n = max;
    if (n) memcpy(out, v, n * sizeof(*v));
    free(v);
    return n;
}

int fz_history_store(fz_history *h, const char *version, const uint8_t *buf, size_t len,
                     char *errstr, size_t errstr_size) {
    char name[40], tmp[96];
    struct stat st;
    if (!fz_history_is_version(version)) {
        snprintf(errstr, errstr_size, "rules history: not a version: %s", version);
        return -1;
    }
    snprintf(name, sizeof(name), "%s" FZ_HISTORY_SUFFIX, version);
    /* kept already: written again (a damaged copy heals), keeping its age */
    int had = fstatat(h->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
        rnd = (uint64_t)(uintptr_t)&rnd ^ (uint64_t)getpid();
    snprintf(tmp, sizeof(tmp), TMP_PREFIX "%ld-%016llx", (long)getpid(), (unsigned long long)rnd);
    int fd = openat(h->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "rules history %s: cannot create a temporary file: %s",
                 h->dir, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    if (close(fd) != 0) ok = 0;
    if (!ok || renameat(h->dfd, tmp, h->dfd, name) != 0) {
        snprintf(errstr, errstr_size, "rules history %s/%s: write failed: %s", h->dir, name,
                 strerror(errno ? errno : EIO));
        (void)unlinkat(h->dfd, tmp, 0);
        return -1;
    }
    if (had) {
        struct timespec t[2] = {st.st_atim, st.st_mtim};
        (void)utimensat(h->dfd, name, t, AT_SYMLINK_NOFOLLOW);
    }
    (void)fsync(h->dfd);
    size_t n;
    fz_history_entry *v = scan(h, &n);
    for (size_t i = (size_t)h->keep; i < n; i++) {
        snprintf(name, sizeof(name), "%s" FZ_HISTORY_SUFFIX, v[i].version);
        (void)unlinkat(h->dfd, name, 0);
    }
    free(v);
    return 0;
}
