/*
 * reload.c - see reload.h.
 *
 * DESIGN. One thread sleeps in poll() on the inotify descriptor, the admin
 * socket and the admin clients, waking at least every 100 ms to look at
 * the SIGHUP flag, the debounce deadline, the client deadlines and the
 * stop flag. Everything it does - reading rule files, compiling, running
 * examples, waiting for workers to move - happens here, so a reload costs
 * the workers only a pointer swap. Reloads are serialised by construction:
 * there is one thread.
 *
 * Watching cannot go quiet. inotify watches an inode, not a path: when
 * rules_dir is deleted and another directory is renamed into place, the
 * old watches keep looking at the dead directory. So the thread also
 * watches rules_dir's parent for its name, treats IN_DELETE_SELF /
 * IN_MOVE_SELF / IN_IGNORED of the root and IN_Q_OVERFLOW as "the tree
 * changed shape", and, as a backstop, stats rules_dir once a second and
 * compares (st_dev, st_ino) with what it is watching. On any of these it
 * throws the inotify instance away, builds the watches again from the path
 * and schedules a reload. A Kubernetes ConfigMap volume publishes a new
 * version by renaming the `..data` symlink over the old one; `..data` is
 * the one hidden name that counts as a change. While the directory is
 * missing the old ruleset keeps serving, no reload is attempted by the
 * watch, and fz_reloader_source_ok() says so.
 *
 * The admin socket never blocks the thread: clients are non-blocking and
 * served from the same poll loop (at most ADMIN_MAX_CLIENTS at a time),
 * each with a deadline for its whole request, so a client trickling one
 * byte a second costs a slot for ADMIN_REQUEST_MS and nothing else. The
 * peer's credentials (SO_PEERCRED, SO_PEERGROUPS) are checked at accept.
 */
#define _GNU_SOURCE
#include "reload.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "artifact.h"
#include "dbcache.h"
#include "history.h"
#include "log.h"
#include "ruletest.h"

/* ---- the build policy ---- */

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static fz_dbcache *cache; /* guarded by cache_mu until opened */
static int cache_tried;   /* guarded by cache_mu */

fz_dbcache *fz_rules_cache(const char *dir) {
    pthread_mutex_lock(&cache_mu);
    if (!cache_tried) {
        cache_tried = 1;
        char def[4096], err[512];
        if (dir && strcmp(dir, "off") == 0) {
            dir = NULL;
        } else if (!dir || !*dir) {
            dir = fz_dbcache_default_dir(def, sizeof(def)) == 0 ? def : NULL;
            if (!dir) fz_log(FZ_LOG_WARN, "rules cache: no cache directory (set rules_cache_dir)");
        }
        if (dir && !(cache = fz_dbcache_open(dir, err, sizeof(err))))
            fz_log(FZ_LOG_WARN, "rules cache off: %s", err);
    }
    fz_dbcache *c = cache;
    pthread_mutex_unlock(&cache_mu);
    return c;
}

static int is_dir(const char *p) {
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static pthread_mutex_t hist_mu = PTHREAD_MUTEX_INITIALIZER;
static fz_history *hist; /* guarded by hist_mu until opened */
static int hist_tried;   /* guarded by hist_mu */

fz_history *fz_rules_history(const fz_config *cfg) {
    pthread_mutex_lock(&hist_mu);
    if (!hist_tried && cfg->rules_keep > 0 && cfg->rules_compiled) {
        hist_tried = 1;
        char dir[4096], err[512];
        const char *cd = cfg->rules_cache_dir;
        int ok = 1;
        if (cfg->rules_history_dir && *cfg->rules_history_dir)
            snprintf(dir, sizeof(dir), "%s", cfg->rules_history_dir);
        else if (cd && *cd && strcmp(cd, "off") != 0)
            ok = snprintf(dir, sizeof(dir), "%s/history", cd) < (int)sizeof(dir);
        else if (!cd || !*cd)
            ok = fz_dbcache_default_dir(dir, sizeof(dir) - 8) == 0 &&
                 strcat(dir, "/history") != NULL;
        else
            ok = 0;
        if (!ok)
            fz_warn("rules history off: no directory (set rules_history_dir); 'fanzha admin "
                    "rollback' has nothing to go back to");
        else if (!(hist = fz_history_open(dir, (int)cfg->rules_keep, err, sizeof(err))))
            fz_warn("rules history off: %s", err);
    }
    fz_history *h = hist;
    pthread_mutex_unlock(&hist_mu);
    return h;
}

/* A diagnostic for path from a message that may start with "path: ". */
static void diag_from(fz_rule_diags *diags, const char *path, const char *err) {
    size_t pl = strlen(path);
    if (strncmp(err, path, pl) == 0 && err[pl] == ':' && err[pl + 1] == ' ') err += pl + 2;
    fz_rule_diags_add(diags, path, 0, 0, "%s", err);
}

/* Load the compiled file at path under the configured trust: with
 * rules_public_key set, the file must be signed by one of its keys and
 * pass fz_artifact_read()'s strict checks. The keys are read on every
 * call, so a rotated key file takes effect with the next reload. On
 * success *bytes (malloc'd, *len) is the file as verified. */
static fz_ruleset *load_artifact(const fz_config *cfg, const char *path, const char *expect,
                                 uint8_t **bytes, size_t *len, fz_rule_diags *diags) {
    fz_keyring *trust = NULL;
    fz_ruleset *rs = NULL;
    char err[1024];
    *bytes = NULL;
    if (cfg->rules_public_key && *cfg->rules_public_key) {
        trust = fz_keyring_load(cfg->rules_public_key, err, sizeof(err));
        if (!trust) {
            diag_from(diags, cfg->rules_public_key, err);
            return NULL;
        }
    }
    uint8_t *buf = fz_artifact_read(path, trust != NULL, len, err, sizeof(err));
    if (!buf) {
        diag_from(diags, path, err);
        goto out;
    }
    rs = fz_ruleset_load_artifact(path, buf, *len, expect, trust, diags);
    if (rs) {
        const fz_artifact_info *a = fz_ruleset_artifact(rs);
        if (a->has_signature && !a->signed_ok)
            fz_info("%s: signed, but the signature is not checked (rules_public_key is not set)",
                    path);
        *bytes = buf;
        buf = NULL;
    }
out:
    free(buf);
    fz_keyring_free(trust);
    return rs;
}

/* Run the embedded examples when rules_require_tests is on; rs is
 * released on failure. */
static fz_ruleset *require_tests(const fz_config *cfg, const char *where, fz_ruleset *rs,
                                 fz_rule_diags *diags) {
    if (!rs || !cfg->rules_require_tests) return rs;
    fz_ruletest_summary sum;
    char err[256];
    int rc = fz_ruletest_run(rs, diags, &sum, err, sizeof(err));
    if (rc == 0) return rs;
    if (rc < 0)
        fz_rule_diags_add(diags, where, 0, 0, "rule tests could not run: %s", err);
    else
        fz_rule_diags_add(diags, where, 0, 0,
                          "%zu of %zu rule test examples failed (rules_require_tests is on; "
                          "run 'fanzha rules test')",
                          sum.failed, sum.examples);
    fz_ruleset_unref(rs);
    return NULL;
}

fz_ruleset *fz_rules_build_kept(const fz_config *cfg, fz_history *keep, fz_rule_diags *diags) {
    fz_ruleset *rs;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (cfg->rules_public_key && *cfg->rules_public_key && !cfg->rules_compiled) {
        /* a key promises that only signed rules run; a directory is not signed */
        fz_rule_diags_add(diags, cfg->rules_public_key, 0, 0,
                          "rules_public_key is set, but rules_compiled is not: only a signed "
                          "compiled file can be checked (compile rules_dir with 'fanzha rules "
                          "compile --sign' and set rules_compiled)");
        return NULL;
    }
    if (cfg->rules_compiled) {
        char expect[32] = "";
        if (is_dir(cfg->rules_dir)) { /* the file must be built from these rules */
            fz_rules_opts o = {.compile = 0};
            fz_ruleset *src = fz_ruleset_load(cfg->rules_dir, &o, diags);
            if (!src) return NULL;
            snprintf(expect, sizeof(expect), "%s", fz_ruleset_source_version(src));
            fz_ruleset_unref(src);
        }
        rs =
            load_artifact(cfg, cfg->rules_compiled, expect[0] ? expect : NULL, &bytes, &len, diags);
    } else {
        fz_rules_opts o = {.compile = 1,
                           .no_prefilter = !cfg->rules_prefilter,
                           .cache = fz_rules_cache(cfg->rules_cache_dir)};
        rs = fz_ruleset_load(cfg->rules_dir, &o, diags);
        if (o.cache && fz_dbcache_prune(o.cache, (uint64_t)cfg->rules_cache_max_mb << 20) < 0)
            fz_log(FZ_LOG_WARN, "rules cache: pruning failed");
    }
    rs = require_tests(cfg, cfg->rules_compiled ? cfg->rules_compiled : cfg->rules_dir, rs, diags);
    if (rs && bytes && keep) {
        char err[512];
        if (fz_history_store(keep, fz_ruleset_version(rs), bytes, len, err, sizeof(err)) != 0)
            fz_warn("%s (the ruleset still loads; it cannot be rolled back to)", err);
    }
    free(bytes);
    return rs;
}

fz_ruleset *fz_rules_build(const fz_config *cfg, fz_rule_diags *diags) {
    return fz_rules_build_kept(cfg, NULL, diags);
}

void fz_rules_log_diags(const fz_rule_diags *diags) {
    for (size_t i = 0; i < diags->n; i++) {
        const fz_rule_diag *g = &diags->v[i];
        if (g->line)
            fz_log(g->warning ? FZ_LOG_WARN : FZ_LOG_ERROR, "%s:%u: %s", g->file, g->line, g->msg);
        else
            fz_log(g->warning ? FZ_LOG_WARN : FZ_LOG_ERROR, "%s: %s", g->file, g->msg);
    }
}

/* ---- the reload thread ---- */

#define ADMIN_MAX_CLIENTS 8
#define ADMIN_LINE_MAX 256
#define ADMIN_REQUEST_MS 2000 /* connect to complete command line */
#define ADMIN_REPLY_MS 10000  /* for a slow reader of a long reply */
#define SOURCE_CHECK_MS 1000

/* One admin connection; fd -1 = a free slot. Reload thread only. */
typedef struct admin_client {
    int fd;
    int replying;
    int64_t deadline_ms; /* monotonic */
    size_t inlen, outoff;
    char in[ADMIN_LINE_MAX];
    fz_buf out;
} admin_client;

struct fz_reloader {
    const fz_config *cfg;
    fz_reload_ops ops;
    volatile sig_atomic_t *hup;
    pthread_t tid;
    _Atomic int stop;
    /* reload thread only, after start */
    int ifd;          /* inotify, or -1 */
    int lfd;          /* admin listening socket, or -1 */
    int root_wd;      /* watch on the source's own directory, or -1 */
    int parent_wd;    /* watch on rules_dir's parent, or -1 */
    char *src;        /* rules_compiled, else rules_dir */
    char *src_base;   /* its last component, as the parent lists it */
    char *src_parent; /* the directory that holds it */
    char *watch_name; /* rules_compiled: the file name in its watched directory */
    int src_present;  /* source found at the last look */
    dev_t src_dev;
    ino_t src_ino;
    int64_t next_check_ms;
    int64_t due_ms; /* debounced reload due at (monotonic), or 0 */
    uid_t *uids;    /* admin_users, resolved */
    size_t nuids;
    gid_t *gids; /* admin_groups, resolved */
    size_t ngids;
    admin_client clients[ADMIN_MAX_CLIENTS];
    fz_ratelimit refuse_rl;
    char active[32];
    fz_artifact_info art; /* the active ruleset's provenance */
    fz_history *hist;     /* kept compiled rulesets, or NULL */
    _Atomic int pinned;   /* a rollback is active: file changes do not reload */
    char last_error[1024];
    _Atomic int64_t last_reload_ms; /* wall clock */
    /* any thread */
    _Atomic uint64_t ok, failed, unchanged, source_lost, rewatches, admin_refused, admin_timeouts;
    pthread_mutex_t src_mu; /* guards src_ok, src_detail */
    int src_ok;
    char src_detail[512];
};

uint64_t fz_reloader_ok(const fz_reloader *r) { return r ? atomic_load(&r->ok) : 0; }
uint64_t fz_reloader_failed(const fz_reloader *r) { return r ? atomic_load(&r->failed) : 0; }
uint64_t fz_reloader_unchanged(const fz_reloader *r) { return r ? atomic_load(&r->unchanged) : 0; }
int64_t fz_reloader_last_ms(const fz_reloader *r) {
    return r ? atomic_load(&r->last_reload_ms) : 0;
}
int fz_reloader_pinned(const fz_reloader *r) {
    return r ? atomic_load(&((fz_reloader *)r)->pinned) : 0;
}
uint64_t fz_reloader_source_lost(const fz_reloader *r) {
    return r ? atomic_load(&r->source_lost) : 0;
}
uint64_t fz_reloader_rewatches(const fz_reloader *r) { return r ? atomic_load(&r->rewatches) : 0; }
uint64_t fz_reloader_admin_refused(const fz_reloader *r) {
    return r ? atomic_load(&r->admin_refused) : 0;
}

int fz_reloader_source_ok(const fz_reloader *r, char *detail, size_t n) {
    if (!r) {
        if (detail && n) snprintf(detail, n, "no reload thread");
        return 1;
    }
    fz_reloader *m = (fz_reloader *)r; /* the mutex is not part of the value */
    pthread_mutex_lock(&m->src_mu);
    int ok = m->src_ok;
    if (detail && n) snprintf(detail, n, "%s", m->src_detail);
    pthread_mutex_unlock(&m->src_mu);
    return ok;
}

/* Record what the source looks like now; log the transitions. */
static void source_set(fz_reloader *r, int ok, const char *detail) {
    pthread_mutex_lock(&r->src_mu);
    int was = r->src_ok;
    r->src_ok = ok;
    snprintf(r->src_detail, sizeof(r->src_detail), "%s", detail);
    pthread_mutex_unlock(&r->src_mu);
    if (was && !ok) {
        atomic_fetch_add(&r->source_lost, 1);
        fz_warn("rules source lost: %s", detail);
    } else if (!was && ok) {
        fz_info("rules source back: %s", detail);
    }
}

/* Watch dir and its subdirectories down to depth 16 (depth counts from the
 * given value); root: this is the source's own directory. */
static void watch_tree(fz_reloader *r, const char *dir, int depth, int root) {
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                          IN_DELETE_SELF | IN_MOVE_SELF;
    int wd = inotify_add_watch(r->ifd, dir, mask);
    if (wd < 0) {
        fz_warn("rules watch: cannot watch %s: %s", dir, strerror(errno));
        return;
    }
    if (root) r->root_wd = wd;
    if (depth > 16) return;
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        char *p;
        if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) continue;
        if (is_dir(p)) watch_tree(r, p, depth + 1, 0);
        free(p);
    }
    closedir(dp);
}

/* Add watches for what exists now (re-adding an existing one is a no-op). */
static void watch_setup(fz_reloader *r) {
    if (r->ifd < 0) return;
    if (r->cfg->rules_compiled) {
        char *copy = strdup(r->cfg->rules_compiled);
        char *slash = copy ? strrchr(copy, '/') : NULL;
        free(r->watch_name);
        r->watch_name = strdup(slash ? slash + 1 : r->cfg->rules_compiled);
        if (slash) *slash = '\0';
        /* the file's directory and its direct subdirectories, not a tree
         * that may be all of /etc */
        watch_tree(r, slash ? (copy[0] ? copy : "/") : ".", 16, 1);
        free(copy);
    }
    if (is_dir(r->cfg->rules_dir)) watch_tree(r, r->cfg->rules_dir, 0, !r->cfg->rules_compiled);
}

/* Look at the source: present, and the same inode as the one watched? */
static int source_look(fz_reloader *r, struct stat *st) {
    if (stat(r->src, st) != 0) return -errno;
    if (r->cfg->rules_compiled ? !S_ISREG(st->st_mode) : !S_ISDIR(st->st_mode)) return -ENOTDIR;
    return 0;
}

static void source_describe(fz_reloader *r, int rc) {
    char d[512];
    if (rc == 0)
        snprintf(d, sizeof(d), "%s %s (%s)",
                 r->cfg->rules_compiled ? "rules_compiled" : "rules_dir", r->src,
                 r->ifd >= 0 ? "watched" : "not watched: rules_watch is 0");
    else
        snprintf(d, sizeof(d), "%s %s: %s; ruleset %s keeps serving, watching for it to come back",
                 r->cfg->rules_compiled ? "rules_compiled" : "rules_dir", r->src,
                 rc == -ENOTDIR
                     ? (r->cfg->rules_compiled ? "not a regular file" : "not a directory")
                     : strerror(-rc),
                 r->active);
    source_set(r, rc == 0, d);
}

/*
 * Throw the watches away and build them again from the paths, recording
 * which source inode they watch. Called at start and whenever the tree may
 * have changed shape.
 */
static void rewatch(fz_reloader *r) {
    struct stat st;
    int rc = source_look(r, &st);
    r->src_present = rc == 0;
    r->src_dev = rc == 0 ? st.st_dev : 0;
    r->src_ino = rc == 0 ? st.st_ino : 0;
    if (r->cfg->rules_watch) {
        if (r->ifd >= 0) {
            close(r->ifd);
            atomic_fetch_add(&r->rewatches, 1);
        }
        r->root_wd = r->parent_wd = -1;
        r->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (r->ifd < 0) {
            fz_warn("rules watch disabled: inotify: %s", strerror(errno));
        } else {
            if (!r->cfg->rules_compiled)
                r->parent_wd = inotify_add_watch(r->ifd, r->src_parent,
                                                 IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                                     IN_MOVED_TO | IN_ONLYDIR);
            if (!r->cfg->rules_compiled && r->parent_wd < 0)
                fz_warn("rules watch: cannot watch %s (for %s being replaced): %s", r->src_parent,
                        r->src_base, strerror(errno));
            watch_setup(r);
        }
    }
    source_describe(r, rc);
}

static void schedule(fz_reloader *r) { r->due_ms = fz_mono_ms() + r->cfg->rules_watch_debounce_ms; }

/* The once-a-second backstop: a source replaced or gone behind the watches. */
static void source_check(fz_reloader *r) {
    struct stat st;
    int rc = source_look(r, &st);
    int present = rc == 0;
    if (present == r->src_present &&
        (!present || (st.st_dev == r->src_dev && st.st_ino == r->src_ino))) {
        if (!present) source_describe(r, rc); /* keep the reason current */
        return;
    }
    rewatch(r);
    if (r->src_present && r->cfg->rules_watch) schedule(r);
}

/* Editors' temporary files do not count as changes; a ConfigMap's `..data`
 * swap does. */
static int ignored_name(const char *n) {
    if (!strcmp(n, "..data")) return 0;
    size_t l = strlen(n);
    return n[0] == '.' || (l && n[l - 1] == '~') || (l > 4 && !strcmp(n + l - 4, ".swp")) ||
           (l > 4 && !strcmp(n + l - 4, ".tmp")) || strstr(n, ".tmp.") != NULL;
}

static void drain_inotify(fz_reloader *r) {
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int reshape = 0, changed = 0;
    while (!reshape) {
        ssize_t n = read(r->ifd, buf, sizeof(buf));
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            p += sizeof(*e) + e->len;
            const char *name = e->len ? e->name : "";
            if (e->mask & IN_Q_OVERFLOW) {
                reshape = 1;
            } else if (e->wd == r->parent_wd) {
                if (e->len && !strcmp(name, r->src_base)) reshape = 1;
            } else if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
                if (e->wd == r->root_wd)
                    reshape = 1;
                else
                    changed = 1; /* a subdirectory went: its parent saw that too */
            } else if (e->len && ignored_name(name)) {
                continue;
            } else if (r->cfg->rules_compiled && !is_dir(r->cfg->rules_dir) && e->len &&
                       strcmp(name, r->watch_name) != 0) {
                continue;
            } else {
                changed = 1;
            }
        }
    }
    if (reshape) {
        fz_info("rules watch: %s was replaced, removed or overflowed the queue; watching it again",
                r->src);
        rewatch(r);
        if (r->src_present) schedule(r);
    } else if (changed) {
        schedule(r);
    }
}

/* Build and publish. Returns 0 on success (or no change), -1 on failure;
 * msg gets a one-line summary for the admin reply. */
static int do_reload(fz_reloader *r, const char *why, char *msg, size_t msg_size) {
    fz_rule_diags diags = {0};
    int64_t t0 = fz_mono_ms();
    fz_info("%s: reloading rules from %s", why,
            r->cfg->rules_compiled ? r->cfg->rules_compiled : r->cfg->rules_dir);
    fz_ruleset *rs = fz_rules_build_kept(r->cfg, r->hist, &diags);
    fz_rules_log_diags(&diags);
    r->last_reload_ms = fz_now_ms();
    if (!rs) {
        atomic_fetch_add(&r->failed, 1);
        fz_rule_diags_first_error(&diags, r->last_error, sizeof(r->last_error));
        fz_error("reload rejected (%zu error(s), first: %s); ruleset %s keeps serving",
                 diags.errors, r->last_error, r->active);
        snprintf(msg, msg_size, "%zu error(s); first: %s", diags.errors, r->last_error);
        fz_rule_diags_free(&diags);
        watch_setup(r); /* new subdirectories, if any */
        return -1;
    }
    fz_rule_diags_free(&diags);
    if (!strcmp(fz_ruleset_version(rs), r->active)) {
        atomic_fetch_add(&r->unchanged, 1);
        fz_info("reload: ruleset %s unchanged", r->active);
        snprintf(msg, msg_size, "unchanged");
        fz_ruleset_unref(rs);
        return 0;
    }
    char ver[32], err[256];
    snprintf(ver, sizeof(ver), "%s", fz_ruleset_version(rs));
    size_t nrules = fz_ruleset_count(rs), npat = fz_ruleset_pattern_count(rs);
    fz_artifact_info art = *fz_ruleset_artifact(rs);
    if (r->ops.publish(r->ops.ctx, rs, err, sizeof(err)) != 0) {
        atomic_fetch_add(&r->failed, 1);
        snprintf(r->last_error, sizeof(r->last_error), "publish: %s", err);
        fz_error("reload: %s; ruleset %s keeps serving", r->last_error, r->active);
        snprintf(msg, msg_size, "%s", r->last_error);
        return -1;
    }
    atomic_fetch_add(&r->ok, 1);
    fz_info("ruleset %s active: %zu rules, %zu patterns, signer %s (replaced %s; reload took %lld "
            "ms)",
            ver, nrules, npat, art.key_id, r->active, (long long)(fz_mono_ms() - t0));
    snprintf(r->active, sizeof(r->active), "%s", ver);
    r->art = art;
    snprintf(msg, msg_size, "ruleset %s active", ver);
    watch_setup(r);
    return 0;
}

/* ---- history and rollback ---- */

/* The version "rollback" without one goes back to: the kept version just
 * older than the active one, or the newest kept one when the active one
 * is not kept. 0, or -1 with msg. */
static int rollback_target(fz_reloader *r, char out[20], char *msg, size_t msg_size) {
    fz_history_entry *v = calloc(FZ_HISTORY_MAX, sizeof(*v));
    if (!v) {
        snprintf(msg, msg_size, "out of memory");
        return -1;
    }
    size_t n = fz_history_list(r->hist, v, FZ_HISTORY_MAX), i = 0;
    while (i < n && strcmp(v[i].version, r->active) != 0) i++;
    size_t pick = i < n ? i + 1 : 0;
    int rc = -1;
    if (pick < n) {
        memcpy(out, v[pick].version, 20);
        rc = 0;
    } else {
        snprintf(msg, msg_size,
                 "no kept ruleset older than the active %s (see 'fanzha admin "
                 "history')",
                 r->active);
    }
    free(v);
    return rc;
}

/* Load a kept ruleset - verified exactly like a fresh one - and make it
 * active; pins it (file changes no longer reload) until an explicit
 * reload. version NULL or empty: see rollback_target(). */
static int do_rollback(fz_reloader *r, const char *version, char *msg, size_t msg_size) {
    char want[20], path[4200], err[256];
    fz_rule_diags diags = {0};
    if (!r->hist) {
        snprintf(msg, msg_size,
                 "no rules history (rules_keep is 0, or its directory could not "
                 "be used: see the log at start-up)");
        return -1;
    }
    if (version && *version) {
        if (!fz_history_is_version(version)) {
            snprintf(msg, msg_size,
                     "not a ruleset version: '%.40s' (expected rs- and 16 hex "
                     "digits; see 'fanzha admin history')",
                     version);
            return -1;
        }
        memcpy(want, version, sizeof(want)); /* checked: 19 characters and a NUL */
    } else if (rollback_target(r, want, msg, msg_size) != 0) {
        return -1;
    }
    if (fz_history_path(r->hist, want, path, sizeof(path)) != 0) {
        snprintf(msg, msg_size, "history path too long");
        return -1;
    }
    fz_info("admin: rolling back to ruleset %s from %s", want, path);
    uint8_t *bytes = NULL;
    size_t len = 0;
    fz_ruleset *rs = load_artifact(r->cfg, path, NULL, &bytes, &len, &diags);
    free(bytes);
    if (rs && strcmp(fz_ruleset_version(rs), want) != 0) {
        fz_rule_diags_add(&diags, path, 0, 0, "holds ruleset %s, not %s: refused",
                          fz_ruleset_version(rs), want);
        fz_ruleset_unref(rs);
        rs = NULL;
    }
    rs = require_tests(r->cfg, path, rs, &diags);
    fz_rules_log_diags(&diags);
    if (!rs) {
        atomic_fetch_add(&r->failed, 1);
        fz_rule_diags_first_error(&diags, r->last_error, sizeof(r->last_error));
        fz_error("rollback to %s rejected (%s); ruleset %s keeps serving", want, r->last_error,
                 r->active);
        snprintf(msg, msg_size, "rollback to %s rejected: %s", want, r->last_error);
        fz_rule_diags_free(&diags);
        return -1;
    }
    fz_rule_diags_free(&diags);
    fz_artifact_info art = *fz_ruleset_artifact(rs);
    if (r->ops.publish(r->ops.ctx, rs, err, sizeof(err)) != 0) {
        atomic_fetch_add(&r->failed, 1);
        snprintf(r->last_error, sizeof(r->last_error), "publish: %s", err);
        snprintf(msg, msg_size, "rollback to %s: %s", want, r->last_error);
        return -1;
    }
    atomic_fetch_add(&r->ok, 1);
    fz_warn("rollback: ruleset %s active (signer %s; replaced %s); pinned: changes of the rule "
            "files are ignored until 'fanzha admin reload' or SIGHUP",
            want, art.key_id, r->active);
    snprintf(r->active, sizeof(r->active), "%s", want);
    r->art = art;
    r->pinned = 1;
    r->last_reload_ms = fz_now_ms();
    snprintf(msg, msg_size, "ruleset %s active (pinned until the next 'fanzha admin reload')",
             want);
    return 0;
}

static void put_artifact(fz_buf *b, const fz_artifact_info *a) {
    fz_buf_printf(b,
                  "\"artifact\":{\"version\":\"%s\",\"digest\":\"%s\",\"signer\":\"%s\","
                  "\"signed\":%s,\"build_time_s\":%lld}",
                  a->version, a->digest, a->key_id, a->signed_ok ? "true" : "false",
                  (long long)a->build_time_s);
}

static void history_reply(fz_reloader *r, fz_buf *b) {
    if (!r->hist) {
        fz_buf_puts(b, "{\"ok\":false,\"message\":\"no rules history (rules_keep is 0, or its "
                       "directory could not be used)\"}\n");
        return;
    }
    fz_history_entry *v = calloc(FZ_HISTORY_MAX, sizeof(*v));
    size_t n = v ? fz_history_list(r->hist, v, FZ_HISTORY_MAX) : 0;
    fz_buf_printf(b, "{\"ok\":true,\"active\":\"%s\",\"pinned\":%s,\"dir\":", r->active,
                  r->pinned ? "true" : "false");
    const char *dir = fz_history_dir(r->hist);
    fz_buf_put_json_str(b, dir, strlen(dir));
    fz_buf_puts(b, ",\"kept\":[");
    for (size_t i = 0; i < n; i++)
        fz_buf_printf(b, "%s{\"version\":\"%s\",\"kept_ms\":%lld,\"bytes\":%llu,\"active\":%s}",
                      i ? "," : "", v[i].version, (long long)(v[i].kept_ns / 1000000),
                      (unsigned long long)v[i].bytes,
                      strcmp(v[i].version, r->active) == 0 ? "true" : "false");
    fz_buf_puts(b, "]}\n");
    free(v);
}

/* ---- admin socket ---- */

/* The reply to one command line, as JSON lines. */
static void admin_execute(fz_reloader *r, const char *line, fz_buf *b) {
    if (!strcmp(line, "reload")) {
        char msg[1200];
        if (r->pinned) fz_info("admin reload: the rollback pin on %s is lifted", r->active);
        r->pinned = 0;
        int rc = do_reload(r, "admin", msg, sizeof(msg));
        fz_buf_printf(b, "{\"ok\":%s,\"ruleset\":\"%s\",\"message\":", rc == 0 ? "true" : "false",
                      r->active);
        fz_buf_put_json_str(b, msg, strlen(msg));
        fz_buf_puts(b, "}\n");
    } else if (!strcmp(line, "status")) {
        char detail[512];
        int src_ok = fz_reloader_source_ok(r, detail, sizeof(detail));
        fz_buf_printf(b,
                      "{\"ok\":true,\"ruleset\":\"%s\",\"reloads_ok\":%llu,\"reloads_failed\":%llu,"
                      "\"reloads_unchanged\":%llu,\"last_reload_ms\":%lld,\"last_reload_error\":",
                      r->active, (unsigned long long)atomic_load(&r->ok),
                      (unsigned long long)atomic_load(&r->failed),
                      (unsigned long long)atomic_load(&r->unchanged),
                      (long long)atomic_load(&r->last_reload_ms));
        fz_buf_put_json_str(b, r->last_error, strlen(r->last_error));
        fz_buf_printf(b, ",\"pinned\":%s,", r->pinned ? "true" : "false");
        put_artifact(b, &r->art);
        fz_buf_printf(b, ",\"rules_source_ok\":%s,\"rules_source\":", src_ok ? "true" : "false");
        fz_buf_put_json_str(b, detail, strlen(detail));
        fz_buf_printf(b,
                      ",\"rules_source_lost\":%llu,\"rules_rewatches\":%llu,"
                      "\"admin_refused\":%llu,\"admin_timeouts\":%llu,",
                      (unsigned long long)atomic_load(&r->source_lost),
                      (unsigned long long)atomic_load(&r->rewatches),
                      (unsigned long long)atomic_load(&r->admin_refused),
                      (unsigned long long)atomic_load(&r->admin_timeouts));
        r->ops.status(r->ops.ctx, b);
        fz_buf_puts(b, "}\n");
    } else if (!strcmp(line, "rule-stats")) {
        r->ops.rule_stats(r->ops.ctx, b);
    } else if (!strcmp(line, "history")) {
        history_reply(r, b);
    } else if (!strcmp(line, "rollback") || !strncmp(line, "rollback ", 9)) {
        char msg[1200];
        int rc = do_rollback(r, line[8] ? line + 9 : NULL, msg, sizeof(msg));
        fz_buf_printf(b, "{\"ok\":%s,\"ruleset\":\"%s\",\"message\":", rc == 0 ? "true" : "false",
                      r->active);
        fz_buf_put_json_str(b, msg, strlen(msg));
        fz_buf_puts(b, "}\n");
    } else {
        fz_buf_puts(b, "{\"ok\":false,\"message\":\"unknown command; known: reload, status, "
                       "rule-stats, history, rollback [VERSION]\"}\n");
    }
}

/* A one-line answer to a connection we are about to drop; never waits. */
static void admin_say_and_close(int fd, const char *json_line) {
    ssize_t n = send(fd, json_line, strlen(json_line), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    close(fd);
}

static void client_close(admin_client *c) {
    close(c->fd);
    c->fd = -1;
    fz_buf_free(&c->out);
}

static int peer_allowed(const fz_reloader *r, int fd, struct ucred *uc) {
    socklen_t l = sizeof(*uc);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, uc, &l) != 0) return 0;
    if (uc->uid == 0 || uc->uid == geteuid()) return 1;
    for (size_t i = 0; i < r->nuids; i++)
        if (uc->uid == r->uids[i]) return 1;
    if (!r->ngids) return 0;
    gid_t groups[1024];
    socklen_t gl = sizeof(groups);
    size_t ng = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0) ng = gl / sizeof(gid_t);
    for (size_t i = 0; i < r->ngids; i++) {
        if (uc->gid == r->gids[i]) return 1;
        for (size_t k = 0; k < ng; k++)
            if (groups[k] == r->gids[i]) return 1;
    }
    return 0;
}

static void admin_accept(fz_reloader *r) {
    for (int round = 0; round < 16; round++) {
        int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        struct ucred uc = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
        if (!peer_allowed(r, fd, &uc)) {
            atomic_fetch_add(&r->admin_refused, 1);
            char line[256];
            snprintf(line, sizeof(line),
                     "{\"ok\":false,\"message\":\"permission denied: uid %u is not allowed on this "
                     "admin socket (admin_users, admin_groups)\"}\n",
                     (unsigned)uc.uid);
            admin_say_and_close(fd, line);
            uint64_t supp = 0;
            if (fz_ratelimit_allow(&r->refuse_rl, 10000, &supp))
                fz_warn("admin socket: refused pid %d uid %u gid %u: not root, not fanzha's user, "
                        "not in admin_users or admin_groups (%llu more refused since the last "
                        "message)",
                        (int)uc.pid, (unsigned)uc.uid, (unsigned)uc.gid, (unsigned long long)supp);
            continue;
        }
        admin_client *c = NULL;
        for (size_t i = 0; i < ADMIN_MAX_CLIENTS && !c; i++)
            if (r->clients[i].fd < 0) c = &r->clients[i];
        if (!c) {
            admin_say_and_close(fd, "{\"ok\":false,\"message\":\"busy: too many admin "
                                    "connections; try again\"}\n");
            continue;
        }
        c->fd = fd;
        c->replying = 0;
        c->inlen = c->outoff = 0;
        c->deadline_ms = fz_mono_ms() + ADMIN_REQUEST_MS;
        fz_buf_init(&c->out, 64u << 20);
    }
}

static void client_write(admin_client *c) {
    while (c->outoff < c->out.len) {
        ssize_t n =
            send(c->fd, c->out.p + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) break;
        c->outoff += (size_t)n;
    }
    client_close(c);
}

static void client_read(fz_reloader *r, admin_client *c) {
    ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n < 0 || (n == 0 && c->inlen == 0)) {
        client_close(c);
        return;
    }
    c->inlen += (size_t)n;
    c->in[c->inlen] = '\0';
    int complete = n == 0 || memchr(c->in, '\n', c->inlen) != NULL;
    if (!complete && c->inlen < sizeof(c->in) - 1) return;
    if (!complete) {
        fz_buf_puts(&c->out, "{\"ok\":false,\"message\":\"command line too long\"}\n");
    } else {
        c->in[strcspn(c->in, "\r\n")] = '\0';
        admin_execute(r, c->in, &c->out);
    }
    c->replying = 1;
    c->deadline_ms = fz_mono_ms() + ADMIN_REPLY_MS;
    client_write(c);
}

static void clients_expire(fz_reloader *r) {
    int64_t now = fz_mono_ms();
    for (size_t i = 0; i < ADMIN_MAX_CLIENTS; i++) {
        admin_client *c = &r->clients[i];
        if (c->fd < 0 || now < c->deadline_ms) continue;
        atomic_fetch_add(&r->admin_timeouts, 1);
        fz_debug("admin socket: dropped a client after %d ms without a complete %s",
                 c->replying ? ADMIN_REPLY_MS : ADMIN_REQUEST_MS,
                 c->replying ? "read of its reply" : "command line");
        if (!c->replying) {
            int fd = c->fd;
            c->fd = -1;
            fz_buf_free(&c->out);
            admin_say_and_close(fd, "{\"ok\":false,\"message\":\"timeout: send the command and a "
                                    "newline within 2000 ms\"}\n");
        } else {
            client_close(c);
        }
    }
}

/* Resolve admin_users / admin_groups (names or ids) once, at start. */
static int resolve_ids(char **names, size_t n, int groups, void **out, size_t *nout, char *errstr,
                       size_t errstr_size) {
    unsigned *v = calloc(n ? n : 1, sizeof(unsigned));
    if (!v) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *s = names[i];
        char *end = NULL;
        errno = 0;
        unsigned long id = isdigit((unsigned char)s[0]) ? strtoul(s, &end, 10) : 0;
        if (end && !*end && !errno && id < 0xffffffffUL) {
            v[i] = (unsigned)id;
            continue;
        }
        char buf[16384];
        int rc, found = 0;
        if (groups) {
            struct group g, *gp = NULL;
            rc = getgrnam_r(s, &g, buf, sizeof(buf), &gp);
            if (gp) v[i] = (unsigned)gp->gr_gid, found = 1;
        } else {
            struct passwd pw, *pp = NULL;
            rc = getpwnam_r(s, &pw, buf, sizeof(buf), &pp);
            if (pp) v[i] = (unsigned)pp->pw_uid, found = 1;
        }
        if (!found) {
            if (rc != 0 && rc != ENOENT && rc != ESRCH)
                snprintf(errstr, errstr_size, "%s: cannot look up '%s': %s",
                         groups ? "admin_groups" : "admin_users", s, strerror(rc));
            else
                snprintf(errstr, errstr_size, "%s: no such %s '%s' (give a name or a numeric id)",
                         groups ? "admin_groups" : "admin_users", groups ? "group" : "user", s);
            free(v);
            return -1;
        }
    }
    *out = v;
    *nout = n;
    return 0;
}

/*
 * Create the listening socket with its final mode before anyone can reach
 * it. bind() creates the inode with 0777 & ~umask, and the umask is
 * process-wide (other threads may be running), so the socket is bound
 * inside a fresh private directory next to the target (mkdtemp: 0700, ours
 * alone), chmod'ed to 0660 there and listen()ed on, then rename()d into
 * place - atomically replacing a stale socket from an earlier run. Nothing
 * else is ever replaced: an existing file that is not a socket, or a socket
 * another process still answers on, is an error.
 */
static int admin_listen(const char *path, char *errstr, size_t errstr_size) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    char *copy = strdup(path);
    if (!copy) return -1;
    const char *dir = dirname(copy);
    int fd = -1;
    char tmpdir[sizeof(sa.sun_path)] = "";
    if (strlen(path) >= sizeof(sa.sun_path) ||
        (size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/.fzaXXXXXX", dir) + 2 >= sizeof(sa.sun_path)) {
        snprintf(errstr, errstr_size,
                 "admin_socket: path too long: %s (the limit is %zu bytes, and the directory "
                 "name plus 13 must fit it too)",
                 path, sizeof(sa.sun_path) - 1);
        free(copy);
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(errstr, errstr_size,
                     "admin_socket %s: exists and is not a socket; refusing to replace it", path);
            goto fail;
        }
        strcpy(sa.sun_path, path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            snprintf(errstr, errstr_size,
                     "admin_socket %s: another process is listening on it (a fanzha still "
                     "running?)",
                     path);
            goto fail;
        }
        if (probe >= 0) close(probe);
    }
    if (!mkdtemp(tmpdir)) {
        snprintf(errstr, errstr_size,
                 "admin_socket %s: cannot create a private directory in %s: %s", path, dir,
                 strerror(errno));
        tmpdir[0] = '\0';
        goto fail;
    }
    chmod(tmpdir, 0700);        /* mkdtemp gave 0700 less the umask; the owner needs it all */
    size_t tl = strlen(tmpdir); /* tl + 3 <= sizeof(sun_path): checked above */
    memcpy(sa.sun_path, tmpdir, tl);
    memcpy(sa.sun_path + tl, "/s", 3);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        chmod(sa.sun_path, 0660) != 0 || listen(fd, 16) != 0 || rename(sa.sun_path, path) != 0) {
        snprintf(errstr, errstr_size, "admin_socket %s: %s", path, strerror(errno));
        unlink(sa.sun_path);
        goto fail;
    }
    rmdir(tmpdir);
    free(copy);
    return fd;
fail:
    if (fd >= 0) close(fd);
    if (tmpdir[0] && strstr(tmpdir, "XXXXXX") == NULL) rmdir(tmpdir);
    free(copy);
    return -1;
}

static void *reloader_main(void *arg) {
    fz_reloader *r = arg;
    fz_log_set_component("reload");
    while (!atomic_load(&r->stop)) {
        struct pollfd pf[2 + ADMIN_MAX_CLIENTS];
        int cidx[ADMIN_MAX_CLIENTS];
        int n = 0, ii = -1, il = -1;
        if (r->ifd >= 0) {
            pf[n] = (struct pollfd){r->ifd, POLLIN, 0};
            ii = n++;
        }
        if (r->lfd >= 0) {
            pf[n] = (struct pollfd){r->lfd, POLLIN, 0};
            il = n++;
        }
        for (int i = 0; i < ADMIN_MAX_CLIENTS; i++) {
            cidx[i] = -1;
            if (r->clients[i].fd < 0) continue;
            pf[n] = (struct pollfd){r->clients[i].fd, r->clients[i].replying ? POLLOUT : POLLIN, 0};
            cidx[i] = n++;
        }
        poll(pf, (nfds_t)n, 100);
        if (ii >= 0 && (pf[ii].revents & POLLIN)) drain_inotify(r);
        for (int i = 0; i < ADMIN_MAX_CLIENTS; i++) {
            admin_client *c = &r->clients[i];
            if (cidx[i] < 0 || c->fd < 0 || !pf[cidx[i]].revents) continue;
            if (c->replying)
                client_write(c);
            else
                client_read(r, c);
        }
        if (il >= 0 && (pf[il].revents & POLLIN)) admin_accept(r);
        clients_expire(r);
        if (fz_mono_ms() >= r->next_check_ms) {
            r->next_check_ms = fz_mono_ms() + SOURCE_CHECK_MS;
            source_check(r);
        }
        char msg[1200];
        if (*r->hup) {
            *r->hup = 0;
            r->due_ms = 0;
            if (r->pinned) fz_info("SIGHUP: the rollback pin on %s is lifted", r->active);
            r->pinned = 0;
            do_reload(r, "SIGHUP", msg, sizeof(msg));
        }
        if (r->due_ms && fz_mono_ms() >= r->due_ms) {
            r->due_ms = 0;
            source_check(r);
            if (r->pinned)
                fz_warn("rules changed, not reloaded: ruleset %s is pinned by a rollback "
                        "('fanzha admin reload' or SIGHUP loads the files)",
                        r->active);
            else if (r->src_present)
                do_reload(r, "rules changed", msg, sizeof(msg));
            else
                fz_info("rules changed, but %s is not there; ruleset %s keeps serving", r->src,
                        r->active);
        }
    }
    return NULL;
}

static void reloader_free(fz_reloader *r) {
    if (r->ifd >= 0) close(r->ifd);
    if (r->lfd >= 0) close(r->lfd);
    for (size_t i = 0; i < ADMIN_MAX_CLIENTS; i++)
        if (r->clients[i].fd >= 0) client_close(&r->clients[i]);
    pthread_mutex_destroy(&r->src_mu);
    free(r->uids);
    free(r->gids);
    free(r->src);
    free(r->src_base);
    free(r->src_parent);
    free(r->watch_name);
    free(r);
}

fz_reloader *fz_reloader_start(const fz_config *cfg, const fz_reload_ops *ops,
                               const fz_ruleset *active, volatile sig_atomic_t *hup, char *errstr,
                               size_t errstr_size) {
    fz_reloader *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    r->cfg = cfg;
    r->ops = *ops;
    r->hup = hup;
    r->ifd = r->lfd = r->root_wd = r->parent_wd = -1;
    for (size_t i = 0; i < ADMIN_MAX_CLIENTS; i++) r->clients[i].fd = -1;
    pthread_mutex_init(&r->src_mu, NULL);
    r->src_ok = 1;
    snprintf(r->active, sizeof(r->active), "%s", fz_ruleset_version(active));
    r->art = *fz_ruleset_artifact(active);
    r->hist = fz_rules_history(cfg);
    r->src = strdup(cfg->rules_compiled ? cfg->rules_compiled : cfg->rules_dir);
    char *a = r->src ? strdup(r->src) : NULL, *b = r->src ? strdup(r->src) : NULL;
    if (a && b) {
        size_t l = strlen(a); /* "rules/" is "rules" to basename/dirname */
        while (l > 1 && a[l - 1] == '/') {
            l--;
            a[l] = b[l] = '\0';
        }
        r->src_base = strdup(basename(a));
        r->src_parent = strdup(dirname(b));
    }
    free(a);
    free(b);
    if (!r->src || !r->src_base || !r->src_parent) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (resolve_ids(cfg->admin_users, cfg->n_admin_users, 0, (void **)&r->uids, &r->nuids, errstr,
                    errstr_size) != 0 ||
        resolve_ids(cfg->admin_groups, cfg->n_admin_groups, 1, (void **)&r->gids, &r->ngids, errstr,
                    errstr_size) != 0)
        goto fail;
    rewatch(r);
    r->next_check_ms = fz_mono_ms() + SOURCE_CHECK_MS;
    if (cfg->admin_socket && *cfg->admin_socket) {
        r->lfd = admin_listen(cfg->admin_socket, errstr, errstr_size);
        if (r->lfd < 0) goto fail;
    }
    if (pthread_create(&r->tid, NULL, reloader_main, r) != 0) {
        snprintf(errstr, errstr_size, "cannot start the reload thread");
        if (r->lfd >= 0) unlink(cfg->admin_socket);
        goto fail;
    }
    return r;
fail:
    reloader_free(r);
    return NULL;
}

void fz_reloader_stop(fz_reloader *r) {
    if (!r) return;
    atomic_store(&r->stop, 1);
    pthread_join(r->tid, NULL);
    if (r->lfd >= 0) unlink(r->cfg->admin_socket);
    reloader_free(r);
}

/* ---- admin client ---- */

int fz_admin_request(const char *socket_path, const char *cmd, void *fpv) {
    FILE *fp = fpv;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(socket_path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "fanzha admin: socket path too long: %s\n", socket_path);
        return -1;
    }
    strcpy(sa.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr,
                "fanzha admin: cannot connect to %s: %s (is fanzha run started with "
                "admin_socket set?)\n",
                socket_path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    /* the daemon may answer and close before reading (a refused peer):
     * a failed write is reported only if no answer follows */
    char line[300];
    errno = 0;
    int ll = snprintf(line, sizeof(line), "%s\n", cmd);
    int werr = (ll < 0 || (size_t)ll >= sizeof(line) ||
                send(fd, line, (size_t)ll, MSG_NOSIGNAL) != (ssize_t)ll)
                   ? (errno ? errno : EMSGSIZE)
                   : 0;
    char buf[65536];
    ssize_t n;
    int failed = 0, first = 1;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (first && memmem(buf, (size_t)n, "\"ok\":false", 10)) failed = 1;
        first = 0;
        fwrite(buf, 1, (size_t)n, fp);
    }
    close(fd);
    if (first && werr) {
        fprintf(stderr, "fanzha admin: write failed: %s\n", strerror(werr));
        return -1;
    }
    if (first) {
        fprintf(stderr, "fanzha admin: %s closed the connection without an answer\n", socket_path);
        return -1;
    }
    return failed;
}
