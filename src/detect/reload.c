/*
 * reload.c - see reload.h.
 *
 * DESIGN. One thread sleeps in poll() on the inotify descriptor and the
 * admin socket, waking at least every 100 ms to look at the SIGHUP flag,
 * the debounce deadline and the stop flag. Everything it does - reading
 * rule files, compiling, running examples, waiting for workers to move -
 * happens here, so a reload costs the workers only a pointer swap. Reloads
 * are serialised by construction: there is one thread.
 */
#define _GNU_SOURCE
#include "reload.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dbcache.h"
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

fz_ruleset *fz_rules_build(const fz_config *cfg, fz_rule_diags *diags) {
    fz_ruleset *rs;
    if (cfg->rules_compiled) {
        char expect[32] = "";
        if (is_dir(cfg->rules_dir)) { /* the file must be built from these rules */
            fz_rules_opts o = {.compile = 0};
            fz_ruleset *src = fz_ruleset_load(cfg->rules_dir, &o, diags);
            if (!src) return NULL;
            snprintf(expect, sizeof(expect), "%s", fz_ruleset_version(src));
            fz_ruleset_unref(src);
        }
        rs = fz_ruleset_load_compiled(cfg->rules_compiled, expect[0] ? expect : NULL, diags);
    } else {
        fz_rules_opts o = {.compile = 1,
                           .no_prefilter = !cfg->rules_prefilter,
                           .cache = fz_rules_cache(cfg->rules_cache_dir)};
        rs = fz_ruleset_load(cfg->rules_dir, &o, diags);
        if (o.cache && fz_dbcache_prune(o.cache, (uint64_t)cfg->rules_cache_max_mb << 20) < 0)
            fz_log(FZ_LOG_WARN, "rules cache: pruning failed");
    }
    if (!rs || !cfg->rules_require_tests) return rs;
    fz_ruletest_summary sum;
    char err[256];
    int rc = fz_ruletest_run(rs, diags, &sum, err, sizeof(err));
    if (rc == 0) return rs;
    if (rc < 0)
        fz_rule_diags_add(diags, cfg->rules_dir, 0, 0, "rule tests could not run: %s", err);
    else
        fz_rule_diags_add(diags, cfg->rules_compiled ? cfg->rules_compiled : cfg->rules_dir, 0, 0,
                          "%zu of %zu rule test examples failed (rules_require_tests is on; "
                          "run 'fanzha rules test')",
                          sum.failed, sum.examples);
    fz_ruleset_unref(rs);
    return NULL;
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

struct fz_reloader {
    const fz_config *cfg;
    fz_reload_ops ops;
    volatile sig_atomic_t *hup;
    pthread_t tid;
    _Atomic int stop;
    int ifd;          /* inotify, or -1 */
    int lfd;          /* admin listening socket, or -1 */
    char *watch_name; /* rules_compiled: the file name in its watched directory */
    int64_t due_ms;   /* debounced reload due at (monotonic), or 0 */
    _Atomic uint64_t ok, failed, unchanged;
    char active[32];
    char last_error[1024];
    int64_t last_reload_ms; /* wall clock */
};

uint64_t fz_reloader_ok(const fz_reloader *r) { return r ? atomic_load(&r->ok) : 0; }
uint64_t fz_reloader_failed(const fz_reloader *r) { return r ? atomic_load(&r->failed) : 0; }

static void watch_tree(fz_reloader *r, const char *dir, int depth) {
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                          IN_DELETE_SELF | IN_MOVE_SELF;
    if (inotify_add_watch(r->ifd, dir, mask) < 0) {
        fz_warn("rules watch: cannot watch %s: %s", dir, strerror(errno));
        return;
    }
    if (depth > 16) return;
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        char *p;
        if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) continue;
        if (is_dir(p)) watch_tree(r, p, depth + 1);
        free(p);
    }
    closedir(dp);
}

static void watch_setup(fz_reloader *r) {
    if (r->ifd < 0) return;
    if (r->cfg->rules_compiled) {
        char *copy = strdup(r->cfg->rules_compiled);
        char *slash = copy ? strrchr(copy, '/') : NULL;
        free(r->watch_name);
        r->watch_name = strdup(slash ? slash + 1 : r->cfg->rules_compiled);
        if (slash) *slash = '\0';
        watch_tree(r, slash ? (copy[0] ? copy : "/") : ".", 16);
        free(copy);
    }
    if (is_dir(r->cfg->rules_dir)) watch_tree(r, r->cfg->rules_dir, 0);
}

/* Editors' temporary files do not count as changes. */
static int ignored_name(const char *n) {
    size_t l = strlen(n);
    return n[0] == '.' || (l && n[l - 1] == '~') || (l > 4 && !strcmp(n + l - 4, ".swp")) ||
           (l > 4 && !strcmp(n + l - 4, ".tmp")) || strstr(n, ".tmp.") != NULL;
}

static void drain_inotify(fz_reloader *r) {
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(r->ifd, buf, sizeof(buf));
        if (n <= 0) return;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            p += sizeof(*e) + e->len;
            const char *name = e->len ? e->name : "";
            if (e->len && ignored_name(name)) continue;
            if (r->cfg->rules_compiled && !is_dir(r->cfg->rules_dir) && e->len &&
                strcmp(name, r->watch_name) != 0)
                continue;
            r->due_ms = fz_mono_ms() + r->cfg->rules_watch_debounce_ms;
        }
    }
}

/* Build and publish. Returns 0 on success (or no change), -1 on failure;
 * msg gets a one-line summary for the admin reply. */
static int do_reload(fz_reloader *r, const char *why, char *msg, size_t msg_size) {
    fz_rule_diags diags = {0};
    int64_t t0 = fz_mono_ms();
    fz_info("%s: reloading rules from %s", why,
            r->cfg->rules_compiled ? r->cfg->rules_compiled : r->cfg->rules_dir);
    fz_ruleset *rs = fz_rules_build(r->cfg, &diags);
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
    if (r->ops.publish(r->ops.ctx, rs, err, sizeof(err)) != 0) {
        atomic_fetch_add(&r->failed, 1);
        snprintf(r->last_error, sizeof(r->last_error), "publish: %s", err);
        fz_error("reload: %s; ruleset %s keeps serving", r->last_error, r->active);
        snprintf(msg, msg_size, "%s", r->last_error);
        return -1;
    }
    atomic_fetch_add(&r->ok, 1);
    fz_info("ruleset %s active: %zu rules, %zu patterns (replaced %s; reload took %lld ms)", ver,
            nrules, npat, r->active, (long long)(fz_mono_ms() - t0));
    snprintf(r->active, sizeof(r->active), "%s", ver);
    snprintf(msg, msg_size, "ruleset %s active", ver);
    watch_setup(r);
    return 0;
}

/* ---- admin socket ---- */

static void admin_reply(int fd, fz_buf *b) {
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->p + off, b->len - off);
        if (n <= 0) return;
        off += (size_t)n;
    }
}

static void admin_serve(fz_reloader *r) {
    int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char line[256];
    size_t n = 0;
    while (n < sizeof(line) - 1) {
        ssize_t k = read(fd, line + n, sizeof(line) - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        if (memchr(line, '\n', n)) break;
    }
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    fz_buf b;
    fz_buf_init(&b, 64u << 20);
    if (!strcmp(line, "reload")) {
        char msg[1200];
        int rc = do_reload(r, "admin", msg, sizeof(msg));
        fz_buf_printf(&b, "{\"ok\":%s,\"ruleset\":\"%s\",\"message\":", rc == 0 ? "true" : "false",
                      r->active);
        fz_buf_put_json_str(&b, msg, strlen(msg));
        fz_buf_puts(&b, "}\n");
    } else if (!strcmp(line, "status")) {
        fz_buf_printf(&b,
                      "{\"ok\":true,\"ruleset\":\"%s\",\"reloads_ok\":%llu,\"reloads_failed\":%llu,"
                      "\"reloads_unchanged\":%llu,\"last_reload_ms\":%lld,\"last_reload_error\":",
                      r->active, (unsigned long long)atomic_load(&r->ok),
                      (unsigned long long)atomic_load(&r->failed),
                      (unsigned long long)atomic_load(&r->unchanged), (long long)r->last_reload_ms);
        fz_buf_put_json_str(&b, r->last_error, strlen(r->last_error));
        fz_buf_putc(&b, ',');
        r->ops.status(r->ops.ctx, &b);
        fz_buf_puts(&b, "}\n");
    } else if (!strcmp(line, "rule-stats")) {
        r->ops.rule_stats(r->ops.ctx, &b);
    } else {
        fz_buf_puts(&b, "{\"ok\":false,\"message\":\"unknown command; known: reload, status, "
                        "rule-stats\"}\n");
    }
    admin_reply(fd, &b);
    fz_buf_free(&b);
    close(fd);
}

static int admin_listen(const char *path, char *errstr, size_t errstr_size) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(errstr, errstr_size, "admin_socket: path longer than %zu bytes: %s",
                 sizeof(sa.sun_path) - 1, path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) goto fail;
    unlink(path); /* a stale socket from a previous run */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0) goto fail;
    chmod(path, 0660);
    return fd;
fail:
    snprintf(errstr, errstr_size, "admin_socket %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
}

static void *reloader_main(void *arg) {
    fz_reloader *r = arg;
    fz_log_set_component("reload");
    while (!atomic_load(&r->stop)) {
        struct pollfd pf[2];
        int n = 0, ii = -1, il = -1;
        if (r->ifd >= 0) {
            pf[n] = (struct pollfd){r->ifd, POLLIN, 0};
            ii = n++;
        }
        if (r->lfd >= 0) {
            pf[n] = (struct pollfd){r->lfd, POLLIN, 0};
            il = n++;
        }
        poll(pf, (nfds_t)n, 100);
        if (ii >= 0 && (pf[ii].revents & POLLIN)) drain_inotify(r);
        if (il >= 0 && (pf[il].revents & POLLIN)) admin_serve(r);
        char msg[1200];
        if (*r->hup) {
            *r->hup = 0;
            r->due_ms = 0;
            do_reload(r, "SIGHUP", msg, sizeof(msg));
        }
        if (r->due_ms && fz_mono_ms() >= r->due_ms) {
            r->due_ms = 0;
            do_reload(r, "rules changed", msg, sizeof(msg));
        }
    }
    return NULL;
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
    r->ifd = r->lfd = -1;
    snprintf(r->active, sizeof(r->active), "%s", fz_ruleset_version(active));
    if (cfg->rules_watch) {
        r->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (r->ifd < 0) fz_warn("rules watch disabled: inotify: %s", strerror(errno));
        watch_setup(r);
    }
    if (cfg->admin_socket && *cfg->admin_socket) {
        r->lfd = admin_listen(cfg->admin_socket, errstr, errstr_size);
        if (r->lfd < 0) goto fail;
    }
    if (pthread_create(&r->tid, NULL, reloader_main, r) != 0) {
        snprintf(errstr, errstr_size, "cannot start the reload thread");
        goto fail;
    }
    return r;
fail:
    if (r->ifd >= 0) close(r->ifd);
    if (r->lfd >= 0) close(r->lfd);
    free(r->watch_name);
    free(r);
    return NULL;
}

void fz_reloader_stop(fz_reloader *r) {
    if (!r) return;
    atomic_store(&r->stop, 1);
    pthread_join(r->tid, NULL);
    if (r->ifd >= 0) close(r->ifd);
    if (r->lfd >= 0) {
        close(r->lfd);
        unlink(r->cfg->admin_socket);
    }
    free(r->watch_name);
    free(r);
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
    size_t cl = strlen(cmd);
    if (write(fd, cmd, cl) != (ssize_t)cl || write(fd, "\n", 1) != 1) {
        fprintf(stderr, "fanzha admin: write failed: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int failed = 0, first = 1;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (first && memmem(buf, (size_t)n, "\"ok\":false", 10)) failed = 1;
        first = 0;
        fwrite(buf, 1, (size_t)n, fp);
    }
    close(fd);
    return failed;
}
