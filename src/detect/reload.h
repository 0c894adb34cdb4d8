/*
 * reload.h - getting a ruleset from the configuration, at start-up and on
 * every reload, and the reload thread of `fanzha run`.
 *
 * fz_rules_build() is the one policy: compile rules_dir (or load the
 * rules_compiled file, checking it against rules_dir when that exists),
 * then - unless rules_require_tests is 0 - run the rules' embedded
 * examples. Any error leaves the caller with NULL and every problem in
 * diags as file:line, so a bad push never replaces working rules.
 * Compiled databases come from the on-disk cache when their inputs are
 * unchanged (rules_cache_dir), so a restart or a reload that changed one
 * file recompiles only the databases that file feeds.
 *
 * The reload thread owns the slow, blocking side of rule management so the
 * consumer and workers never wait on it: it watches rules_dir (inotify,
 * debounced; also its parent, so a replaced directory or a ConfigMap's
 * `..data` swap is seen), notices SIGHUP (through a flag), serves the
 * admin socket (peer-checked, non-blocking, each client with a deadline),
 * builds the new ruleset, hands it to the daemon's publish callback (which
 * prepares one matcher per worker, publishes them, and waits until every
 * worker has moved on before freeing the old ruleset), and keeps the
 * reload counters.
 */
#ifndef FZ_RELOAD_H
#define FZ_RELOAD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "rules.h"

fz_ruleset *fz_rules_build(const fz_config *cfg, fz_rule_diags *diags);

typedef struct fz_history fz_history;
/*
 * fz_rules_build(), and when the ruleset came from a compiled file and
 * passed, the file's bytes as verified are kept in keep (NULL: not kept)
 * for `fanzha admin rollback`. A compiled file is read under the trust of
 * rules_public_key (artifact.h): when it is set, the file must be signed
 * by one of its keys, and it and its directory must be owned by the
 * effective uid or root and not writable by group or others. The key file
 * is read at every call, so a rotated key takes effect with a reload.
 */
fz_ruleset *fz_rules_build_kept(const fz_config *cfg, fz_history *keep, fz_rule_diags *diags);

/*
 * The process's rules history (history.h), opened on first use in
 * rules_history_dir (default: "history" under the rules cache directory)
 * and kept until exit; NULL when rules_compiled is not set (rules compiled
 * at run time are not kept), when rules_keep is 0, or when the directory
 * cannot be used (logged once, as a warning). Thread-safe.
 */
fz_history *fz_rules_history(const fz_config *cfg);

/*
 * The process's compiled-rules cache (dbcache.h), opened on first use in
 * dir (NULL: the default directory; "off": none) and kept until exit; the
 * directory of the first call wins. NULL when off or when the directory
 * cannot be used (logged once, as a warning: rules are then compiled).
 * Thread-safe.
 */
fz_dbcache *fz_rules_cache(const char *dir);
/* Log every diagnostic (errors as errors, warnings as warnings). */
void fz_rules_log_diags(const fz_rule_diags *diags);

typedef struct fz_reload_ops {
    void *ctx;
    /* Make rs (a reference passed in) the ruleset every worker uses; wait
     * until they all have, then release the previous one. 0 or -1 with
     * errstr (then rs has been released). Called on the reload thread. */
    int (*publish)(void *ctx, fz_ruleset *rs, char *errstr, size_t errstr_size);
    /* Append the daemon's status as JSON members (no braces) to out. */
    void (*status)(void *ctx, fz_buf *out);
    /* Append one JSON line per rule with its counters to out. */
    void (*rule_stats)(void *ctx, fz_buf *out);
} fz_reload_ops;

typedef struct fz_reloader fz_reloader;

/*
 * Start the reload thread. active is the ruleset already published (its
 * version is reported until the first reload). *hup is polled: SIGHUP's
 * handler sets it. Returns NULL with errstr (admin socket or inotify set-up
 * failed).
 */
fz_reloader *fz_reloader_start(const fz_config *cfg, const fz_reload_ops *ops,
                               const fz_ruleset *active, volatile sig_atomic_t *hup, char *errstr,
                               size_t errstr_size);
/* Stop and join the thread; removes the admin socket. NULL is a no-op. */
void fz_reloader_stop(fz_reloader *r);

/* Counters for the statistics line; any thread. */
uint64_t fz_reloader_ok(const fz_reloader *r);
uint64_t fz_reloader_failed(const fz_reloader *r);
uint64_t fz_reloader_unchanged(const fz_reloader *r);
/* Wall-clock ms of the last reload tried; 0: none yet. */
int64_t fz_reloader_last_ms(const fz_reloader *r);
/* 1 while a rollback pins the active ruleset (file changes are not
 * loaded); any thread. The active ruleset's provenance is
 * fz_ruleset_artifact() of the published ruleset. */
int fz_reloader_pinned(const fz_reloader *r);

/*
 * Is the rules source (rules_dir, or the rules_compiled file) there and
 * being watched? 1 = yes, 0 = it is gone or not what it should be (the
 * active ruleset keeps serving; the watch picks it up again when it comes
 * back). detail (may be NULL) gets one line for /readyz and admin status,
 * e.g. "rules_dir /etc/fanzha/rules: No such file or directory; ruleset
 * 3f2a... keeps serving, watching for it to come back". Any thread.
 */
int fz_reloader_source_ok(const fz_reloader *r, char *detail, size_t n);
/* How often the source went missing; how often the watches were rebuilt
 * (directory replaced, ConfigMap root swapped, queue overflow); admin
 * connections refused by the peer check. Any thread. */
uint64_t fz_reloader_source_lost(const fz_reloader *r);
uint64_t fz_reloader_rewatches(const fz_reloader *r);
uint64_t fz_reloader_admin_refused(const fz_reloader *r);

/*
 * Admin commands besides reload, status and rule-stats:
 *   history           the kept compiled rulesets, newest first;
 *   rollback [VER]    load kept ruleset VER (default: the kept one just
 *                     older than the active one) through the same checks
 *                     as a fresh file, publish it and pin it: changes of
 *                     the rule files are then logged and ignored until
 *                     `admin reload` or SIGHUP.
 * Status carries "pinned" and "artifact" (version, digest, signer,
 * signed, build_time_s) of the active ruleset.
 *
 * Client side of the admin socket: send cmd ("reload", "status",
 * "rule-stats", "history", "rollback [VER]") and copy the reply to fp. Returns 0 when the daemon
 * answered and did not report a failure, 1 when it reported one, -1 when
 * it could not be reached (message on stderr).
 */
int fz_admin_request(const char *socket_path, const char *cmd, void *fp);

#endif
