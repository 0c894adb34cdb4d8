/*
 * promote.c - see promote.h.
 *
 * The workload is one command run by an analyst: two small files read,
 * edited and written once, the directory loaded twice. Clarity and
 * refusing anything doubtful matter; speed does not.
 */
#define _GNU_SOURCE
#include "promote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "rulefile.h"
#include "rules.h"

#define MAX_FILE_BYTES (64u << 20) /* a rule file larger than this is refused */
#define MAX_DEPTH 64               /* nesting walked to find an item's last byte */

/* One byte range of a file replaced by repl. */
typedef struct edit {
    size_t start, end;
    const char *repl;
    unsigned line; /* 1-based line of start, for errors */
} edit;

static unsigned mark_line(const yaml_mark_t *m) { return (unsigned)m->line + 1; }

static const char *scalar_of(yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The end of n's last byte: the largest end mark of the scalars and flow
 * collections under it (depth-limited: an alias may point back to an
 * enclosing node). */
static size_t max_end(yaml_document_t *doc, yaml_node_t *n, int depth) {
    /* a block collection ends where the next token starts (the next
     * item's '-', a dedented key): only its contents count */
    int block =
        (n->type == YAML_MAPPING_NODE && n->data.mapping.style == YAML_BLOCK_MAPPING_STYLE) ||
        (n->type == YAML_SEQUENCE_NODE && n->data.sequence.style == YAML_BLOCK_SEQUENCE_STYLE);
    size_t e = block ? n->start_mark.index : n->end_mark.index;
    if (depth >= MAX_DEPTH) return e;
    if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            size_t x = max_end(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (x > e) e = x;
        }
    } else if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            size_t x = max_end(doc, yaml_document_get_node(doc, p->key), depth + 1);
            if (x > e) e = x;
            x = max_end(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (x > e) e = x;
        }
    }
    return e;
}

/* The byte range of list item n as whole lines: from the line of its '-'
 * through the end of the line of its last value. -1 when the item does
 * not sit alone on its lines that way. */
static int item_lines(yaml_document_t *doc, yaml_node_t *n, const char *text, size_t len,
                      size_t *start, size_t *end) {
    size_t s = n->start_mark.index, ls = s;
    if (s > len) return -1;
    while (ls > 0 && text[ls - 1] != '\n') ls--;
    size_t k = ls; /* "   - " and nothing else before the item's first key */
    while (k < s && text[k] == ' ') k++;
    if (k >= s || text[k] != '-') return -1;
    k++;
    if (k >= s || text[k] != ' ') return -1;
    while (k < s && text[k] == ' ') k++;
    if (k != s) return -1;
    size_t e = max_end(doc, n, 0);
    if (e > len) return -1;
    if (!(e > 0 && text[e - 1] == '\n')) {
        while (e < len && text[e] != '\n') e++;
        if (e < len) e++;
    }
    *start = ls;
    *end = e;
    return 0;
}

/* Find id's items in the parsed file and plan the edits (at most two). */
static int plan(const char *file, const char *text, size_t len, yaml_document_t *doc,
                const char *id, int del, int flip, edit *ed, int *ned, char *errstr,
                size_t errstr_size) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    yaml_node_t *seq = NULL;
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
             p++) {
            const char *k = scalar_of(yaml_document_get_node(doc, p->key));
            if (k && !strcmp(k, "rules")) seq = yaml_document_get_node(doc, p->value);
        }
    }
    if (!seq || seq->type != YAML_SEQUENCE_NODE) {
        snprintf(errstr, errstr_size, "%s: no list of rules under 'rules:'", file);
        return -1;
    }
    yaml_node_t *en = NULL, *sh = NULL, *sh_status = NULL, *sh_key = NULL;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        if (!item || item->type != YAML_MAPPING_NODE) continue;
        yaml_node_t *idv = NULL, *stv = NULL, *stk = NULL;
        int nid = 0, nst = 0;
        for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
             p++) {
            const char *k = scalar_of(yaml_document_get_node(doc, p->key));
            if (!k) continue;
            if (!strcmp(k, "id")) {
                nid++;
                idv = yaml_document_get_node(doc, p->value);
            } else if (!strcmp(k, "status")) {
                nst++;
                stk = yaml_document_get_node(doc, p->key);
                stv = yaml_document_get_node(doc, p->value);
            }
        }
        const char *iv = scalar_of(idv);
        if (!iv || strcmp(iv, id) != 0) continue;
        unsigned line = mark_line(&item->start_mark);
        if (nid > 1 || nst > 1) {
            snprintf(errstr, errstr_size, "%s:%u: rule '%s' has '%s' twice: edit it by hand", file,
                     line, id, nid > 1 ? "id" : "status");
            return -1;
        }
        const char *st = stv ? scalar_of(stv) : "enabled";
        if (!st) {
            snprintf(errstr, errstr_size, "%s:%u: rule '%s': 'status' is not a scalar", file,
                     mark_line(&stk->start_mark), id);
            return -1;
        }
        yaml_node_t **slot = !strcmp(st, "enabled") ? &en : !strcmp(st, "shadow") ? &sh : NULL;
        if (!slot) continue; /* disabled: neither revision */
        if (*slot) {
            snprintf(errstr, errstr_size, "%s:%u: rule '%s' has two %s revisions in this file",
                     file, line, id, st);
            return -1;
        }
        *slot = item;
        if (slot == &sh) {
            sh_status = stv;
            sh_key = stk;
        }
    }
    if (seq->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE && (en || sh)) {
        snprintf(errstr, errstr_size,
                 "%s:%u: 'rules' is a flow-style list ([...]): promote edits block lists only; "
                 "edit it by hand",
                 file, mark_line(&seq->start_mark));
        return -1;
    }
    *ned = 0;
    if (del) {
        if (!en) {
            snprintf(errstr, errstr_size, "%s: no enabled revision of rule '%s'", file, id);
            return -1;
        }
        size_t s, e;
        if (en->data.mapping.style == YAML_FLOW_MAPPING_STYLE ||
            item_lines(doc, en, text, len, &s, &e) != 0) {
            snprintf(errstr, errstr_size,
                     "%s:%u: the enabled revision of rule '%s' does not stand alone on its lines "
                     "as a block list item ('- key: value'): edit it by hand",
                     file, mark_line(&en->start_mark), id);
            return -1;
        }
        ed[(*ned)++] = (edit){s, e, "", mark_line(&en->start_mark)};
    }
    if (flip) {
        if (!sh) {
            snprintf(errstr, errstr_size, "%s: no shadow revision of rule '%s'", file, id);
            return -1;
        }
        size_t s = sh_status->start_mark.index, e = sh_status->end_mark.index;
        size_t is = sh->start_mark.index, ie = max_end(doc, sh, 0);
        const char *w = s <= e && e <= len ? text + s : "";
        size_t wn = s <= e && e <= len ? e - s : 0;
        int plain = wn == 6 && !memcmp(w, "shadow", 6);
        int quoted = wn == 8 && (!memcmp(w, "'shadow'", 8) || !memcmp(w, "\"shadow\"", 8));
        if (s < is || e > ie || !(plain || quoted)) {
            snprintf(errstr, errstr_size,
                     "%s:%u: the status of rule '%s' is not written as a plain 'shadow' in its "
                     "item (an alias, a tag?): edit it by hand",
                     file, mark_line(&sh_key->start_mark), id);
            return -1;
        }
        ed[(*ned)++] = (edit){s, e, "enabled", mark_line(&sh_status->start_mark)};
    }
    if (*ned == 2 && ed[0].start > ed[1].start) { /* ascending */
        edit t = ed[0];
        ed[0] = ed[1];
        ed[1] = t;
    }
    return 0;
}

static size_t count_lines(const char *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += p[i] == '\n';
    if (n > 0 && p[n - 1] != '\n') c++;
    return c;
}

static void put_lines(FILE *fp, char sign, const char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '\n') j++;
        fputc(sign, fp);
        fwrite(p + i, 1, j - i, fp);
        fputc('\n', fp);
        if (j == n) fputs("\\ No newline at end of file\n", fp);
        i = j + 1;
    }
}

/* The edits as unified-diff hunks of whole lines, no context. */
static void print_diff(FILE *fp, const char *label, const char *text, size_t len, const edit *ed,
                       int ned) {
    fprintf(fp, "--- a/%s\n+++ b/%s\n", label, label);
    long delta = 0;
    for (int i = 0; i < ned; i++) {
        size_t ls = ed[i].start, le = ed[i].end;
        while (ls > 0 && text[ls - 1] != '\n') ls--;
        if (ed[i].end == ed[i].start || text[le - 1] != '\n')
            while (le < len && text[le++] != '\n') {}
        size_t old_first = 1 + count_lines(text, ls) - (ls > 0 && text[ls - 1] != '\n');
        size_t nold = count_lines(text + ls, le - ls);
        char *nw = NULL;
        size_t nwlen = 0;
        FILE *m = open_memstream(&nw, &nwlen);
        if (!m) return;
        fwrite(text + ls, 1, ed[i].start - ls, m);
        fputs(ed[i].repl, m);
        fwrite(text + ed[i].end, 1, le - ed[i].end, m);
        fclose(m);
        size_t nnew = count_lines(nw, nwlen);
        long new_first = (long)old_first + delta;
        fprintf(fp, "@@ -%zu,%zu +%ld,%zu @@\n", nold ? old_first : old_first - 1, nold,
                nnew ? new_first : new_first - 1, nnew);
        put_lines(fp, '-', text + ls, le - ls);
        put_lines(fp, '+', nw, nwlen);
        delta += (long)nnew - (long)nold;
        free(nw);
    }
}

char *fz_promote_edit(const char *file, const char *label, const char *text, size_t len,
                      const char *id, int del, int flip, FILE *diff, size_t *newlen, char *errstr,
                      size_t errstr_size) {
    yaml_parser_t parser;
    yaml_document_t doc;
    char *out = NULL;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(errstr, errstr_size, "%s:%u: YAML: %s", file,
                 (unsigned)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        return NULL;
    }
    edit ed[2];
    int ned = 0;
    if (plan(file, text, len, &doc, id, del, flip, ed, &ned, errstr, errstr_size) != 0) goto done;
    size_t n = len;
    for (int i = 0; i < ned; i++) n = n - (ed[i].end - ed[i].start) + strlen(ed[i].repl);
    out = malloc(n + 1);
    if (!out) {
        snprintf(errstr, errstr_size, "%s: out of memory", file);
        goto done;
    }
    size_t o = 0, at = 0;
    for (int i = 0; i < ned; i++) {
        memcpy(out + o, text + at, ed[i].start - at);
        o += ed[i].start - at;
        size_t rl = strlen(ed[i].repl);
        memcpy(out + o, ed[i].repl, rl);
        o += rl;
        at = ed[i].end;
    }
    memcpy(out + o, text + at, len - at);
    o += len - at;
    out[o] = '\0';
    *newlen = o;
    if (diff) print_diff(diff, label, text, len, ed, ned);
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return out;
}

/* ---- the command ---- */

/* Read rel beneath dir whole (rulefile.h: a regular file inside it). */
static char *read_rel(const char *dir, const char *rel, size_t *len, struct stat *sto, char *errstr,
                      size_t errstr_size) {
    char why[256];
    int fd = fz_rulefile_open(dir, rel, why, sizeof(why));
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s/%s: %s", dir, rel, why);
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        snprintf(errstr, errstr_size, "%s/%s: %s", dir, rel, strerror(errno));
        goto out;
    }
    if (st.st_size > (off_t)MAX_FILE_BYTES) {
        snprintf(errstr, errstr_size, "%s/%s: larger than 64 MiB", dir, rel);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        snprintf(errstr, errstr_size, "%s/%s: out of memory", dir, rel);
        goto out;
    }
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            snprintf(errstr, errstr_size, "%s/%s: short read", dir, rel);
            free(buf);
            buf = NULL;
            goto out;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    *sto = st;
out:
    close(fd);
    return buf;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copy directory src to dst (which exists): directories, regular files,
 * symbolic links as links. */
static int copy_tree(const char *src, const char *dst, int depth, char *errstr,
                     size_t errstr_size) {
    if (depth > MAX_DEPTH) {
        snprintf(errstr, errstr_size, "%s: directories nested too deep", src);
        return -1;
    }
    DIR *d = opendir(src);
    if (!d) {
        snprintf(errstr, errstr_size, "%s: %s", src, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char s[PATH_MAX], t[PATH_MAX];
        if ((size_t)snprintf(s, sizeof(s), "%s/%s", src, e->d_name) >= sizeof(s) ||
            (size_t)snprintf(t, sizeof(t), "%s/%s", dst, e->d_name) >= sizeof(t)) {
            snprintf(errstr, errstr_size, "%s/%s: path too long", src, e->d_name);
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(s, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            rc = mkdir(t, 0700) == 0 ? copy_tree(s, t, depth + 1, errstr, errstr_size) : -1;
        } else if (S_ISLNK(st.st_mode)) {
            char l[PATH_MAX];
            ssize_t n = readlink(s, l, sizeof(l) - 1);
            if (n < 0) continue;
            l[n] = '\0';
            rc = symlink(l, t);
        } else if (S_ISREG(st.st_mode)) {
            int in = open(s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            int out = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            char buf[65536];
            ssize_t n;
            while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
                if (write_all(out, buf, (size_t)n) != 0) rc = -1;
            if (in < 0 || out < 0) rc = -1;
            if (in >= 0) close(in);
            if (out >= 0) close(out);
        }
        if (rc != 0 && !errstr[0])
            snprintf(errstr, errstr_size, "copying %s: %s", s, strerror(errno));
    }
    closedir(d);
    return rc;
}

/* Replace path with n bytes at p: a temporary file beside it with the
 * mode (and, where allowed, the owner) of orig, fsync, rename, fsync of
 * the directory. */
static int replace_file(const char *path, const char *p, size_t n, const struct stat *orig,
                        char *errstr, size_t errstr_size) {
    char tmp[PATH_MAX], dirname[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dl = slash ? (size_t)(slash - path) : 1;
    if (dl == 0) dl = 1; /* "/x" */
    if ((size_t)snprintf(dirname, sizeof(dirname), "%.*s", (int)dl, slash ? path : ".") >=
            sizeof(dirname) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.promote-XXXXXX", dirname, base) >= sizeof(tmp)) {
        snprintf(errstr, errstr_size, "%s: path too long", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: cannot create a temporary file beside it: %s", path,
                 strerror(errno));
        return -1;
    }
    if (fchown(fd, orig->st_uid, orig->st_gid) != 0 && errno != EPERM) {
        snprintf(errstr, errstr_size, "%s: chown %s: %s", path, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (fchmod(fd, orig->st_mode & 07777) != 0 || write_all(fd, p, n) != 0 || fsync(fd) != 0) {
        snprintf(errstr, errstr_size, "%s: writing %s: %s", path, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        snprintf(errstr, errstr_size, "%s: rename: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    int dfd = open(dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* One file to change. */
typedef struct pfile {
    const char *path; /* as the loader names it: dir/rel */
    const char *rel;
    char *old, *neu;
    size_t oldlen, newlen;
    struct stat st; /* as read */
    int del, flip;
} pfile;

/* Find id's revisions in rs. */
static void find_revs(const fz_ruleset *rs, const char *id, const fz_rule **en, const fz_rule **sh,
                      const fz_rule **other) {
    *en = *sh = *other = NULL;
    for (size_t i = 0; i < fz_ruleset_count(rs); i++) {
        const fz_rule *r = fz_ruleset_rule(rs, i);
        if (strcmp(r->id, id) != 0) continue;
        if (r->status == FZ_STATUS_ENABLED)
            *en = r;
        else if (r->status == FZ_STATUS_SHADOW)
            *sh = r;
        else
            *other = r;
    }
}

/* The first error of diags, with the temporary directory tmp shown as dir. */
static void first_error(const fz_rule_diags *d, const char *tmp, const char *dir, char *buf,
                        size_t size) {
    char e[1024];
    fz_rule_diags_first_error(d, e, sizeof(e));
    size_t tl = tmp ? strlen(tmp) : 0;
    if (tl && !strncmp(e, tmp, tl))
        snprintf(buf, size, "%s%s", dir, e + tl);
    else
        snprintf(buf, size, "%s", e);
}

struct fz_promote {
    char *dir, *id;
    fz_ruleset *rs; /* as loaded before the edit: f[].path points into it */
    pfile f[2];     /* the shadow revision's file first (promote.h) */
    int nf;
    unsigned sh_rev, en_rev; /* en_rev 0: a lone shadow rule */
    char *diff;
    size_t difflen;
};

void fz_promote_destroy(fz_promote *p) {
    if (!p) return;
    for (int j = 0; j < p->nf; j++) {
        free(p->f[j].old);
        free(p->f[j].neu);
    }
    free(p->diff);
    free(p->dir);
    free(p->id);
    fz_ruleset_unref(p->rs);
    free(p);
}

const char *fz_promote_diff(const fz_promote *p, size_t *len) {
    *len = p->difflen;
    return p->diff;
}

/* The edited files, in a copy of the directory, loaded and compiled as a
 * reload would: 0 when they load and hold p->id once, enabled, with the
 * shadow revision's rev. */
static int validate(const fz_promote *p, fz_dbcache *cache, char *errstr, size_t errstr_size) {
    int rc = -1;
    fz_rule_diags diags = {0};
    fz_ruleset *after = NULL;
    char tmpdir[PATH_MAX];
    const char *td = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/fanzha-promote-XXXXXX", td && td[0] ? td : "/tmp");
    if (!mkdtemp(tmpdir)) {
        snprintf(errstr, errstr_size, "%s: %s", tmpdir, strerror(errno));
        return -1;
    }
    if (copy_tree(p->dir, tmpdir, 0, errstr, errstr_size) != 0) goto out;
    for (int j = 0; j < p->nf; j++) {
        char t[PATH_MAX];
        if ((size_t)snprintf(t, sizeof(t), "%s/%s", tmpdir, p->f[j].rel) >= sizeof(t)) {
            snprintf(errstr, errstr_size, "%s: path too long", p->f[j].path);
            goto out;
        }
        int fd = open(t, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || write_all(fd, p->f[j].neu, p->f[j].newlen) != 0) {
            snprintf(errstr, errstr_size, "%s: %s", t, strerror(errno));
            if (fd >= 0) close(fd);
            goto out;
        }
        close(fd);
    }
    fz_rules_opts full = {.compile = 1, .cache = cache};
    after = fz_ruleset_load(tmpdir, &full, &diags);
    if (!after) {
        char e[1024];
        first_error(&diags, tmpdir, p->dir, e, sizeof(e));
        snprintf(errstr, errstr_size, "the promoted rules would not load: %s; nothing changed", e);
        goto out;
    }
    const fz_rule *en, *sh, *other;
    find_revs(after, p->id, &en, &sh, &other);
    if (!en || sh || other || en->rev != p->sh_rev) {
        snprintf(errstr, errstr_size,
                 "rule '%s' after the edit is not rev %u alone and enabled; nothing changed", p->id,
                 p->sh_rev);
        goto out;
    }
    rc = 0;
out:
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    fz_ruleset_unref(after);
    fz_rule_diags_free(&diags);
    return rc;
}

fz_promote *fz_promote_prepare(const char *dir, const char *id, fz_dbcache *cache, char *errstr,
                               size_t errstr_size) {
    fz_rule_diags diags = {0};
    FILE *dfp = NULL;
    errstr[0] = '\0';
    fz_promote *p = calloc(1, sizeof(*p));
    if (!p || !(p->dir = strdup(dir)) || !(p->id = strdup(id))) goto nomem;

    fz_rules_opts parse_only = {.compile = 0};
    p->rs = fz_ruleset_load(dir, &parse_only, &diags);
    if (!p->rs) {
        char e[1024];
        first_error(&diags, NULL, dir, e, sizeof(e));
        snprintf(errstr, errstr_size, "%s: the rules do not load as they are (%s); nothing changed",
                 dir, e);
        goto fail;
    }
    const fz_rule *en, *sh, *other;
    find_revs(p->rs, id, &en, &sh, &other);
    if (!en && !sh && !other) {
        snprintf(errstr, errstr_size, "%s: no rule with id '%s'", dir, id);
        goto fail;
    }
    if (!sh) {
        if (en)
            snprintf(errstr, errstr_size,
                     "rule '%s' has no shadow revision to promote (rev %u is enabled at %s:%u); "
                     "add one with a higher rev and 'status: shadow' first",
                     id, en->rev, en->file, en->line);
        else
            snprintf(errstr, errstr_size,
                     "rule '%s' is %s at %s:%u, not shadow: set its status by hand", id,
                     fz_rule_status_name(other->status), other->file, other->line);
        goto fail;
    }
    p->sh_rev = sh->rev;
    p->en_rev = en ? en->rev : 0;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    const fz_rule *revs[2] = {sh, en}; /* the shadow revision's file first (promote.h) */
    for (int k = 0; k < 2 && revs[k]; k++) {
        const fz_rule *r = revs[k];
        if (strncmp(r->file, dir, dl) != 0 || r->file[dl] != '/') {
            snprintf(errstr, errstr_size, "%s: not beneath %s", r->file, dir);
            goto fail;
        }
        pfile *f = NULL;
        for (int j = 0; j < p->nf; j++)
            if (!strcmp(p->f[j].path, r->file)) f = &p->f[j];
        if (!f) {
            f = &p->f[p->nf++];
            f->path = r->file;
            f->rel = r->file + dl + 1;
            struct stat lst;
            if (lstat(f->path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
                snprintf(errstr, errstr_size,
                         "%s is a symbolic link: promote replaces regular files only", f->path);
                goto fail;
            }
            f->old = read_rel(dir, f->rel, &f->oldlen, &f->st, errstr, errstr_size);
            if (!f->old) goto fail;
        }
        if (r == sh)
            f->flip = 1;
        else
            f->del = 1;
    }
    dfp = open_memstream(&p->diff, &p->difflen);
    if (!dfp) goto nomem;
    for (int j = 0; j < p->nf; j++) {
        pfile *f = &p->f[j];
        f->neu = fz_promote_edit(f->path, f->rel, f->old, f->oldlen, id, f->del, f->flip, dfp,
                                 &f->newlen, errstr, errstr_size);
        if (!f->neu) goto fail;
    }
    fclose(dfp);
    dfp = NULL;
    if (validate(p, cache, errstr, errstr_size) != 0) goto fail;
    fz_rule_diags_free(&diags);
    return p;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    if (dfp) fclose(dfp);
    fz_rule_diags_free(&diags);
    fz_promote_destroy(p);
    return NULL;
}

int fz_promote_commit(fz_promote *p, char *errstr, size_t errstr_size) {
    for (int j = 0; j < p->nf; j++) { /* unchanged since read? */
        size_t len;
        struct stat st;
        char *now = read_rel(p->dir, p->f[j].rel, &len, &st, errstr, errstr_size);
        if (!now) return -1;
        int same = len == p->f[j].oldlen && !memcmp(now, p->f[j].old, len);
        free(now);
        if (!same) {
            snprintf(errstr, errstr_size, "%s changed while promoting; nothing written: run again",
                     p->f[j].path);
            return -1;
        }
    }
    for (int j = 0; j < p->nf; j++)
        if (replace_file(p->f[j].path, p->f[j].neu, p->f[j].newlen, &p->f[j].st, errstr,
                         errstr_size) != 0)
            return -1;
    return 0;
}

int fz_rules_promote(const char *dir, const char *id, int dry_run, fz_dbcache *cache, FILE *out,
                     char *errstr, size_t errstr_size) {
    fz_promote *p = fz_promote_prepare(dir, id, cache, errstr, errstr_size);
    if (!p) return -1;
    if (out) fwrite(p->diff, 1, p->difflen, out);
    if (!dry_run && fz_promote_commit(p, errstr, errstr_size) != 0) {
        fz_promote_destroy(p);
        return -1;
    }
    if (out) {
        const char *what = dry_run ? "would promote" : "promoted";
        const char *note = dry_run ? " (dry run: nothing written)" : "";
        if (p->en_rev)
            fprintf(out, "%s rule '%s': rev %u enabled (was shadow), rev %u removed%s\n", what, id,
                    p->sh_rev, p->en_rev, note);
        else
            fprintf(out, "%s rule '%s': rev %u enabled (was shadow)%s\n", what, id, p->sh_rev,
                    note);
    }
    fz_promote_destroy(p);
    return 0;
}
