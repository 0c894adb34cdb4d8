/*
 * diffreport.c - see diffreport.h.
 *
 * The text and HTML reports list the rules that changed or whose verdicts
 * did (a shipped ruleset has hundreds of rules; the untouched ones are
 * counted, not listed); the JSON report lists every rule.
 */
#include "diffreport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

#define OUT_MAX_BYTES ((size_t)1 << 30)

static const char *const side_names[2] = {"old", "new"};

int fz_diffreport_gates(fz_diff_report *r) {
    const fz_diff_totals *t = fz_rulesdiff_totals(r->diff);
    fz_diff_gates *g = &r->gates;
    g->new_rate = t->valid ? (double)t->alerts.n[FZ_DIFF_GAINED] / (double)t->valid : 0.0;
    g->lost_failed = g->fail_on_lost && t->alerts.n[FZ_DIFF_LOST] > 0;
    g->rate_failed = g->max_new_rate >= 0 && g->new_rate > g->max_new_rate;
    return g->lost_failed || g->rate_failed;
}

static void status_counts(const fz_ruleset *rs, size_t n[3]) {
    n[0] = n[1] = n[2] = 0;
    for (size_t i = 0; i < fz_ruleset_count(rs); i++) n[fz_ruleset_rule(rs, i)->status]++;
}

/* A rule the text and HTML reports list: changed, or its verdicts did. */
static int rule_listed(const fz_diff_rule *r) {
    return r->change != FZ_RULE_SAME || r->t.n[FZ_DIFF_GAINED] || r->t.n[FZ_DIFF_LOST] ||
           r->shadow_old != r->shadow_new ||
           (r->old_rule && r->new_rule && r->old_rule->status != r->new_rule->status);
}

static int same_verdicts(const fz_diff_rule *r) {
    return r->t.n[FZ_DIFF_GAINED] == 0 && r->t.n[FZ_DIFF_LOST] == 0 &&
           r->shadow_old == r->shadow_new;
}

static const char *status_of(const fz_rule *r) { return r ? fz_rule_status_name(r->status) : "-"; }

static double ratio(const fz_diff_report *r) {
    return r->side[0].us_per_event > 0 ? r->side[1].us_per_event / r->side[0].us_per_event : 0.0;
}

/* ---- text ---- */

static void text_example(FILE *fp, const fz_diff_example *e) {
    fprintf(fp, "    %s %s id=%s from=%s to=%s old=%s new=%s\n", e->where, e->type,
            e->id[0] ? e->id : "-", e->from[0] ? e->from : "-", e->to[0] ? e->to : "-",
            e->old_rule ? e->old_rule : "-", e->new_rule ? e->new_rule : "-");
    if (e->text) fprintf(fp, "      \"%s\"\n", e->text);
}

/* ms since the epoch as RFC 3339 UTC with milliseconds. */
static void iso_ms(int64_t ms, char *out, size_t n) {
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, n, "%lld ms", (long long)ms);
        return;
    }
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void text_kafka(FILE *fp, const fz_diff_kafka *k) {
    char from[80], to[80];
    iso_ms(k->from_ms, from, sizeof(from));
    iso_ms(k->to_ms, to, sizeof(to));
    fprintf(fp, "topic %s at %s, records stamped from %s to before %s", k->topic, k->brokers, from,
            to);
    for (size_t i = 0; i < k->nparts; i++) {
        const fz_diff_partition *p = &k->parts[i];
        fprintf(fp, "%s partition %d offsets %lld-%lld (%llu records, %s)", i ? ";" : ":",
                (int)p->partition, (long long)p->start, (long long)p->end,
                (unsigned long long)p->records, p->stopped_by);
    }
}

static void text_examples(FILE *fp, const char *what, const char *name, const fz_diff_tally *t) {
    for (int k = 0; k < FZ_DIFF_KINDS; k++) {
        if (t->nex[k] == 0 || k == FZ_DIFF_UNCHANGED) continue;
        fprintf(fp, "  %s%s%s %s: %zu of %llu\n", what, name ? " " : "", name ? name : "",
                fz_diff_kind_name((fz_diff_kind)k), t->nex[k], (unsigned long long)t->n[k]);
        for (size_t i = 0; i < t->nex[k]; i++) text_example(fp, &t->ex[k][i]);
    }
}

static void text_side(FILE *fp, const fz_diff_report *r, int s) {
    const fz_diff_side *sd = &r->side[s];
    size_t st[3];
    status_counts(sd->rs, st);
    fprintf(fp, "%s: %s: ruleset %s, %zu rules (%zu enabled, %zu shadow, %zu disabled)\n",
            side_names[s], sd->source, fz_ruleset_version(sd->rs), fz_ruleset_count(sd->rs), st[0],
            st[1], st[2]);
}

int fz_diffreport_text(const fz_diff_report *r, FILE *fp) {
    const fz_rulesdiff *d = r->diff;
    const fz_diff_totals *t = fz_rulesdiff_totals(d);
    size_t nrules, ncats, ninv;
    const fz_diff_rule *rules = fz_rulesdiff_rules(d, &nrules);
    const fz_diff_category *cats = fz_rulesdiff_categories(d, &ncats);
    const char *const *inv = fz_rulesdiff_invalid_samples(d, &ninv);

    fprintf(fp, "fanzha rules diff\n");
    text_side(fp, r, 0);
    text_side(fp, r, 1);
    fprintf(fp, "events: %llu read from", (unsigned long long)t->events);
    for (size_t i = 0; i < r->ninputs; i++) fprintf(fp, "%s %s", i ? "," : "", r->inputs[i]);
    if (r->kafka) {
        fputc(' ', fp);
        text_kafka(fp, r->kafka);
    }
    fprintf(fp, ": %llu valid, %llu invalid", (unsigned long long)t->valid,
            (unsigned long long)t->invalid);
    for (int k = 1; k < FZ_REASON_COUNT; k++)
        if (t->invalid_by_reason[k])
            fprintf(fp, " %s=%llu", fz_reason_name((fz_reason)k),
                    (unsigned long long)t->invalid_by_reason[k]);
    fputc('\n', fp);
    for (size_t i = 0; i < ninv; i++) fprintf(fp, "  %s\n", inv[i]);
    if (t->truncated)
        fprintf(fp,
                "  %llu event(s) matched more than %d rules: the rules past it are not "
                "compared\n",
                (unsigned long long)t->truncated, FZ_MAX_MATCHES);
    fprintf(fp,
            "alerting events: old %llu, new %llu: %llu gained, %llu lost, %llu unchanged (%llu "
            "of them with another primary rule)\n",
            (unsigned long long)t->alerting_old, (unsigned long long)t->alerting_new,
            (unsigned long long)t->alerts.n[FZ_DIFF_GAINED],
            (unsigned long long)t->alerts.n[FZ_DIFF_LOST],
            (unsigned long long)t->alerts.n[FZ_DIFF_UNCHANGED],
            (unsigned long long)t->primary_changed);

    size_t nch[FZ_RULE_SHADOW + 1] = {0}, nsame = 0, listed = 0;
    for (size_t i = 0; i < nrules; i++) {
        nch[rules[i].change]++;
        nsame += rules[i].change == FZ_RULE_REV_CHANGED && same_verdicts(&rules[i]);
        listed += rule_listed(&rules[i]);
    }
    fprintf(fp,
            "rules: %zu added, %zu removed, %zu with a new rev (%zu of them with the same "
            "verdicts), %zu edited without a new rev",
            nch[FZ_RULE_ADDED], nch[FZ_RULE_REMOVED], nch[FZ_RULE_REV_CHANGED], nsame,
            nch[FZ_RULE_EDITED]);
    if (nch[FZ_RULE_SHADOW])
        fprintf(fp, ", %zu with a shadow revision added, removed or changed", nch[FZ_RULE_SHADOW]);
    fputc('\n', fp);
    for (size_t i = 0; i < nrules; i++) {
        const fz_diff_rule *x = &rules[i];
        const fz_rule *o = x->old_rule, *n = x->new_rule;
        switch (x->change) {
        case FZ_RULE_ADDED:
            fprintf(fp, "  added    %s rev %u, %s, category %s\n", x->id, n->rev, status_of(n),
                    n->category);
            break;
        case FZ_RULE_REMOVED:
            fprintf(fp, "  removed  %s rev %u, %s, category %s\n", x->id, o->rev, status_of(o),
                    o->category);
            break;
        case FZ_RULE_REV_CHANGED:
            fprintf(fp, "  rev      %s rev %u -> %u%s\n", x->id, o->rev, n->rev,
                    same_verdicts(x) ? ", same verdicts" : "");
            break;
        case FZ_RULE_EDITED:
            fprintf(fp, "  edited   %s rev %u: definition changed, rev not bumped\n", x->id,
                    n->rev);
            break;
        case FZ_RULE_SHADOW: {
            const fz_rule *os = x->old_shadow, *ns = x->new_shadow;
            if (!os)
                fprintf(fp, "  shadow   %s: shadow revision rev %u added beside rev %u\n", x->id,
                        ns->rev, n->rev);
            else if (!ns)
                fprintf(fp, "  shadow   %s: shadow revision rev %u removed (rev %u stays)\n", x->id,
                        os->rev, n->rev);
            else if (os->rev != ns->rev)
                fprintf(fp, "  shadow   %s: shadow revision rev %u -> %u\n", x->id, os->rev,
                        ns->rev);
            else
                fprintf(fp, "  shadow   %s: shadow revision rev %u edited, rev not bumped\n", x->id,
                        ns->rev);
            break;
        }
        case FZ_RULE_SAME: break;
        }
        if (o && n && o->status != n->status)
            fprintf(fp, "  status   %s %s -> %s\n", x->id, status_of(o), status_of(n));
        if (o && n && strcmp(o->category, n->category) != 0)
            fprintf(fp, "  category %s %s -> %s\n", x->id, o->category, n->category);
    }

    fprintf(fp, "per rule (%zu of %zu listed: changed or verdicts changed):\n", listed, nrules);
    if (listed)
        fprintf(fp, "  %-32s %-24s %-11s %8s %8s %9s %12s\n", "rule", "category", "change",
                "gained", "lost", "unchanged", "shadow o/n");
    for (size_t i = 0; i < nrules; i++) {
        const fz_diff_rule *x = &rules[i];
        if (!rule_listed(x)) continue;
        const fz_rule *any = x->new_rule ? x->new_rule : x->old_rule;
        char sh[48];
        snprintf(sh, sizeof(sh), "%llu/%llu", (unsigned long long)x->shadow_old,
                 (unsigned long long)x->shadow_new);
        fprintf(fp, "  %-32s %-24s %-11s %8llu %8llu %9llu %12s\n", x->id, any->category,
                fz_diff_change_name(x->change), (unsigned long long)x->t.n[FZ_DIFF_GAINED],
                (unsigned long long)x->t.n[FZ_DIFF_LOST],
                (unsigned long long)x->t.n[FZ_DIFF_UNCHANGED], sh);
    }
    size_t quiet = 0;
    for (size_t i = 0; i < ncats; i++)
        quiet += cats[i].t.n[0] + cats[i].t.n[1] + cats[i].t.n[2] == 0;
    fprintf(fp, "per category (%zu of %zu listed: the others match none of these events):\n",
            ncats - quiet, ncats);
    if (quiet < ncats)
        fprintf(fp, "  %-32s %8s %8s %9s\n", "category", "gained", "lost", "unchanged");
    for (size_t i = 0; i < ncats; i++)
        if (cats[i].t.n[0] + cats[i].t.n[1] + cats[i].t.n[2])
            fprintf(fp, "  %-32s %8llu %8llu %9llu\n", cats[i].name,
                    (unsigned long long)cats[i].t.n[FZ_DIFF_GAINED],
                    (unsigned long long)cats[i].t.n[FZ_DIFF_LOST],
                    (unsigned long long)cats[i].t.n[FZ_DIFF_UNCHANGED]);

    if (fz_rulesdiff_examples(d) > 0) {
        fprintf(fp, "examples (the first %zu of each; unchanged ones in --json and --html):\n",
                fz_rulesdiff_examples(d));
        text_examples(fp, "events", NULL, &t->alerts);
        for (size_t i = 0; i < nrules; i++) text_examples(fp, "rule", rules[i].id, &rules[i].t);
        for (size_t i = 0; i < ncats; i++) text_examples(fp, "category", cats[i].name, &cats[i].t);
    }

    if (r->timed) {
        fprintf(fp, "cost:\n");
        for (int s = 0; s < 2; s++) {
            const fz_diff_side *sd = &r->side[s];
            fprintf(fp,
                    "  %s: loaded in %.3f s (compile %.3f s, %zu of %zu databases from the rules "
                    "cache)",
                    side_names[s], sd->load_s, fz_ruleset_compile_secs(sd->rs),
                    fz_ruleset_cached_dbs(sd->rs), fz_ruleset_db_count(sd->rs));
            if (sd->timed)
                fprintf(fp, "; matching: %.0f events/s, %.2f us/event\n", sd->events_per_s,
                        sd->us_per_event);
            else
                fprintf(fp, "; matching not measured (no valid events)\n");
        }
        if (r->side[0].timed && r->side[1].timed)
            fprintf(fp,
                    "  new/old time per event: %.2f (fastest of %d round(s), each matching %zu "
                    "events %zu time(s), one thread)\n",
                    ratio(r), r->rounds, r->timed_events, r->repeats);
    } else {
        fprintf(fp, "cost: not measured (--no-timing)\n");
    }

    const fz_diff_gates *g = &r->gates;
    fprintf(fp, "gates: --fail-on-lost %s",
            !g->fail_on_lost ? "off"
            : g->lost_failed ? "FAILED"
                             : "passed");
    if (g->fail_on_lost) fprintf(fp, " (%llu lost)", (unsigned long long)t->alerts.n[FZ_DIFF_LOST]);
    if (g->max_new_rate >= 0)
        fprintf(fp, "; --max-new-alerts-rate %g %s (%llu gained / %llu events = %.6f)",
                g->max_new_rate, g->rate_failed ? "FAILED" : "passed",
                (unsigned long long)t->alerts.n[FZ_DIFF_GAINED], (unsigned long long)t->valid,
                g->new_rate);
    else
        fprintf(fp, "; --max-new-alerts-rate off");
    fprintf(fp, "\nresult: %s\n", g->lost_failed || g->rate_failed ? "FAILED" : "passed");
    fflush(fp);
    return ferror(fp) ? -1 : 0;
}

/* ---- JSON ---- */

static void j_key(fz_buf *b, const char *k, int *first) {
    fz_buf_put_key(b, k, *first);
    *first = 0;
}

static void j_str(fz_buf *b, const char *s) {
    if (s)
        fz_buf_put_json_str(b, s, strlen(s));
    else
        fz_buf_puts(b, "null");
}

static void j_u64(fz_buf *b, const char *k, uint64_t v, int *first) {
    j_key(b, k, first);
    fz_buf_put_u64(b, v);
}

static void j_num(fz_buf *b, const char *k, double v, int *first) {
    j_key(b, k, first);
    fz_buf_printf(b, "%.6g", v);
}

static void j_example(fz_buf *b, const fz_diff_example *e) {
    int f = 1;
    fz_buf_putc(b, '{');
    j_key(b, "where", &f);
    j_str(b, e->where);
    j_key(b, "type", &f);
    j_str(b, e->type);
    j_key(b, "id", &f);
    j_str(b, e->id);
    j_key(b, "from", &f);
    j_str(b, e->from);
    j_key(b, "to", &f);
    j_str(b, e->to);
    j_key(b, "text", &f);
    j_str(b, e->text);
    j_key(b, "old_rule", &f);
    j_str(b, e->old_rule);
    j_key(b, "new_rule", &f);
    j_str(b, e->new_rule);
    fz_buf_putc(b, '}');
}

/* "gained":n,"lost":n,"unchanged":n,"examples":{...} into an open object */
static void j_tally(fz_buf *b, const fz_diff_tally *t, int *first) {
    for (int k = 0; k < FZ_DIFF_KINDS; k++)
        j_u64(b, fz_diff_kind_name((fz_diff_kind)k), t->n[k], first);
    j_key(b, "examples", first);
    fz_buf_putc(b, '{');
    for (int k = 0; k < FZ_DIFF_KINDS; k++) {
        fz_buf_put_key(b, fz_diff_kind_name((fz_diff_kind)k), k == 0);
        fz_buf_putc(b, '[');
        for (size_t i = 0; i < t->nex[k]; i++) {
            if (i) fz_buf_putc(b, ',');
            j_example(b, &t->ex[k][i]);
        }
        fz_buf_putc(b, ']');
    }
    fz_buf_putc(b, '}');
}

/* The rule file's name as the user knows it (see fz_diff_side.root). */
static void j_file(fz_buf *b, const fz_diff_side *sd, const char *file) {
    size_t rl = sd->root && sd->root_display ? strlen(sd->root) : 0;
    if (rl && file && !strncmp(file, sd->root, rl) && (file[rl] == '/' || !file[rl])) {
        size_t dl = strlen(sd->root_display), fl = strlen(file + rl);
        char *name = malloc(dl + fl + 1);
        if (name) {
            memcpy(name, sd->root_display, dl);
            memcpy(name + dl, file + rl, fl + 1);
            j_str(b, name);
            free(name);
            return;
        }
    }
    j_str(b, file);
}

static void j_rule_side(fz_buf *b, const fz_diff_side *sd, const fz_rule *r) {
    if (!r) {
        fz_buf_puts(b, "null");
        return;
    }
    int f = 1;
    fz_buf_putc(b, '{');
    j_u64(b, "rev", r->rev, &f);
    j_key(b, "status", &f);
    j_str(b, fz_rule_status_name(r->status));
    j_key(b, "category", &f);
    j_str(b, r->category);
    j_key(b, "severity", &f);
    j_str(b, fz_severity_name(r->severity));
    j_key(b, "file", &f);
    j_file(b, sd, r->file);
    j_u64(b, "line", r->line, &f);
    fz_buf_putc(b, '}');
}

static void j_side(fz_buf *b, const fz_diff_report *r, int s) {
    const fz_diff_side *sd = &r->side[s];
    size_t st[3];
    status_counts(sd->rs, st);
    int f = 1;
    fz_buf_putc(b, '{');
    j_key(b, "source", &f);
    j_str(b, sd->source);
    j_key(b, "version", &f);
    j_str(b, fz_ruleset_version(sd->rs));
    j_u64(b, "rules", fz_ruleset_count(sd->rs), &f);
    j_u64(b, "enabled", st[0], &f);
    j_u64(b, "shadow", st[1], &f);
    j_u64(b, "disabled", st[2], &f);
    j_u64(b, "databases", fz_ruleset_db_count(sd->rs), &f);
    j_key(b, "cost", &f);
    if (!r->timed) {
        fz_buf_puts(b, "null");
    } else {
        int g = 1;
        fz_buf_putc(b, '{');
        j_num(b, "load_s", sd->load_s, &g);
        j_num(b, "compile_s", fz_ruleset_compile_secs(sd->rs), &g);
        j_u64(b, "cached_databases", fz_ruleset_cached_dbs(sd->rs), &g);
        j_key(b, "match", &g);
        if (sd->timed) {
            int h = 1;
            fz_buf_putc(b, '{');
            j_u64(b, "events", r->timed_events, &h);
            j_u64(b, "rounds", (uint64_t)r->rounds, &h);
            j_u64(b, "repeats", r->repeats, &h);
            j_num(b, "seconds", sd->match_s, &h);
            j_num(b, "events_per_s", sd->events_per_s, &h);
            j_num(b, "us_per_event", sd->us_per_event, &h);
            fz_buf_putc(b, '}');
        } else {
            fz_buf_puts(b, "null");
        }
        fz_buf_putc(b, '}');
    }
    fz_buf_putc(b, '}');
}

static int write_buf(fz_buf *b, FILE *fp) {
    if (b->failed) {
        errno = ENOMEM;
        return -1;
    }
    if (b->len && fwrite(b->p, 1, b->len, fp) != b->len) return -1;
    return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

int fz_diffreport_json(const fz_diff_report *r, FILE *fp) {
    const fz_rulesdiff *d = r->diff;
    const fz_diff_totals *t = fz_rulesdiff_totals(d);
    size_t nrules, ncats, ninv;
    const fz_diff_rule *rules = fz_rulesdiff_rules(d, &nrules);
    const fz_diff_category *cats = fz_rulesdiff_categories(d, &ncats);
    const char *const *inv = fz_rulesdiff_invalid_samples(d, &ninv);
    fz_buf b;
    fz_buf_init(&b, OUT_MAX_BYTES);
    int f = 1;
    fz_buf_putc(&b, '{');
    for (int s = 0; s < 2; s++) {
        j_key(&b, side_names[s], &f);
        j_side(&b, r, s);
    }
    j_key(&b, "match_time_ratio", &f);
    if (r->timed && r->side[0].timed && r->side[1].timed)
        fz_buf_printf(&b, "%.6g", ratio(r));
    else
        fz_buf_puts(&b, "null");
    j_key(&b, "inputs", &f);
    fz_buf_putc(&b, '[');
    for (size_t i = 0; i < r->ninputs; i++) {
        if (i) fz_buf_putc(&b, ',');
        j_str(&b, r->inputs[i]);
    }
    fz_buf_putc(&b, ']');
    if (r->kafka) {
        const fz_diff_kafka *k = r->kafka;
        char tbuf[80];
        int g = 1;
        j_key(&b, "kafka", &f);
        fz_buf_putc(&b, '{');
        j_key(&b, "brokers", &g);
        j_str(&b, k->brokers);
        j_key(&b, "topic", &g);
        j_str(&b, k->topic);
        j_key(&b, "from_ms", &g);
        fz_buf_printf(&b, "%lld", (long long)k->from_ms);
        j_key(&b, "to_ms", &g);
        fz_buf_printf(&b, "%lld", (long long)k->to_ms);
        iso_ms(k->from_ms, tbuf, sizeof(tbuf));
        j_key(&b, "from", &g);
        j_str(&b, tbuf);
        iso_ms(k->to_ms, tbuf, sizeof(tbuf));
        j_key(&b, "to", &g);
        j_str(&b, tbuf);
        j_key(&b, "partitions", &g);
        fz_buf_putc(&b, '[');
        for (size_t i = 0; i < k->nparts; i++) {
            const fz_diff_partition *p = &k->parts[i];
            int h = 1;
            fz_buf_puts(&b, i ? ",{" : "{");
            j_u64(&b, "partition", (uint64_t)p->partition, &h);
            j_key(&b, "start", &h);
            fz_buf_printf(&b, "%lld", (long long)p->start);
            j_key(&b, "end", &h);
            fz_buf_printf(&b, "%lld", (long long)p->end);
            j_key(&b, "log_end", &h);
            fz_buf_printf(&b, "%lld", (long long)p->log_end);
            j_u64(&b, "records", p->records, &h);
            j_key(&b, "stopped_by", &h);
            j_str(&b, p->stopped_by);
            fz_buf_putc(&b, '}');
        }
        fz_buf_puts(&b, "]}");
    }
    j_key(&b, "events", &f);
    {
        int g = 1;
        fz_buf_putc(&b, '{');
        j_u64(&b, "read", t->events, &g);
        j_u64(&b, "valid", t->valid, &g);
        j_u64(&b, "invalid", t->invalid, &g);
        j_key(&b, "invalid_by_reason", &g);
        fz_buf_putc(&b, '{');
        int h = 1;
        for (int k = 1; k < FZ_REASON_COUNT; k++)
            if (t->invalid_by_reason[k])
                j_u64(&b, fz_reason_name((fz_reason)k), t->invalid_by_reason[k], &h);
        fz_buf_putc(&b, '}');
        j_key(&b, "invalid_samples", &g);
        fz_buf_putc(&b, '[');
        for (size_t i = 0; i < ninv; i++) {
            if (i) fz_buf_putc(&b, ',');
            j_str(&b, inv[i]);
        }
        fz_buf_putc(&b, ']');
        j_u64(&b, "truncated", t->truncated, &g);
        fz_buf_putc(&b, '}');
    }
    j_key(&b, "alerts", &f);
    {
        int g = 1;
        fz_buf_putc(&b, '{');
        j_u64(&b, "old", t->alerting_old, &g);
        j_u64(&b, "new", t->alerting_new, &g);
        j_u64(&b, "primary_changed", t->primary_changed, &g);
        j_tally(&b, &t->alerts, &g);
        fz_buf_putc(&b, '}');
    }
    j_key(&b, "rules", &f);
    fz_buf_putc(&b, '[');
    for (size_t i = 0; i < nrules; i++) {
        const fz_diff_rule *x = &rules[i];
        int g = 1;
        if (i) fz_buf_putc(&b, ',');
        fz_buf_putc(&b, '{');
        j_key(&b, "id", &g);
        j_str(&b, x->id);
        j_key(&b, "change", &g);
        j_str(&b, fz_diff_change_name(x->change));
        j_key(&b, "same_verdicts", &g);
        fz_buf_puts(&b, same_verdicts(x) ? "true" : "false");
        j_key(&b, "old", &g);
        j_rule_side(&b, &r->side[0], x->old_rule);
        j_key(&b, "new", &g);
        j_rule_side(&b, &r->side[1], x->new_rule);
        j_key(&b, "old_shadow", &g);
        j_rule_side(&b, &r->side[0], x->old_shadow);
        j_key(&b, "new_shadow", &g);
        j_rule_side(&b, &r->side[1], x->new_shadow);
        j_u64(&b, "shadow_old", x->shadow_old, &g);
        j_u64(&b, "shadow_new", x->shadow_new, &g);
        j_tally(&b, &x->t, &g);
        fz_buf_putc(&b, '}');
    }
    fz_buf_putc(&b, ']');
    j_key(&b, "categories", &f);
    fz_buf_putc(&b, '[');
    for (size_t i = 0; i < ncats; i++) {
        int g = 1;
        if (i) fz_buf_putc(&b, ',');
        fz_buf_putc(&b, '{');
        j_key(&b, "name", &g);
        j_str(&b, cats[i].name);
        j_tally(&b, &cats[i].t, &g);
        fz_buf_putc(&b, '}');
    }
    fz_buf_putc(&b, ']');
    const fz_diff_gates *gt = &r->gates;
    j_key(&b, "gates", &f);
    {
        int g = 1;
        fz_buf_putc(&b, '{');
        j_key(&b, "fail_on_lost", &g);
        fz_buf_printf(&b, "{\"on\":%s,\"failed\":%s}", gt->fail_on_lost ? "true" : "false",
                      gt->lost_failed ? "true" : "false");
        j_key(&b, "max_new_alerts_rate", &g);
        fz_buf_putc(&b, '{');
        int h = 1;
        j_key(&b, "limit", &h);
        if (gt->max_new_rate >= 0)
            fz_buf_printf(&b, "%.6g", gt->max_new_rate);
        else
            fz_buf_puts(&b, "null");
        j_num(&b, "rate", gt->new_rate, &h);
        j_key(&b, "failed", &h);
        fz_buf_puts(&b, gt->rate_failed ? "true" : "false");
        fz_buf_puts(&b, "}}");
    }
    j_key(&b, "failed", &f);
    fz_buf_puts(&b, gt->lost_failed || gt->rate_failed ? "true" : "false");
    fz_buf_puts(&b, "}\n");
    int rc = write_buf(&b, fp);
    fz_buf_free(&b);
    return rc;
}

/* ---- HTML ---- */

static void h_esc(fz_buf *b, const char *s) {
    if (!s) s = "-";
    for (; *s; s++) switch (*s) {
        case '&': fz_buf_puts(b, "&amp;"); break;
        case '<': fz_buf_puts(b, "&lt;"); break;
        case '>': fz_buf_puts(b, "&gt;"); break;
        case '"': fz_buf_puts(b, "&quot;"); break;
        case '\'': fz_buf_puts(b, "&#39;"); break;
        default: fz_buf_putc(b, *s);
        }
}

/* <td data-count="NAME">v</td> */
static void h_count(fz_buf *b, const char *name, uint64_t v) {
    fz_buf_printf(b, "<td class=\"n\" data-count=\"%s\">%llu</td>", name, (unsigned long long)v);
}

static void h_tally_cells(fz_buf *b, const fz_diff_tally *t) {
    for (int k = 0; k < FZ_DIFF_KINDS; k++) h_count(b, fz_diff_kind_name((fz_diff_kind)k), t->n[k]);
}

static void h_examples(fz_buf *b, const char *attr, const char *name, const fz_diff_tally *t) {
    for (int k = 0; k < FZ_DIFF_KINDS; k++) {
        if (t->nex[k] == 0) continue;
        fz_buf_printf(b, "<details data-examples=\"%s\" %s=\"", fz_diff_kind_name((fz_diff_kind)k),
                      attr);
        h_esc(b, name);
        fz_buf_printf(b, "\"><summary>%s ", fz_diff_kind_name((fz_diff_kind)k));
        h_esc(b, name);
        fz_buf_printf(b,
                      ": <span data-count=\"examples\">%zu</span> of <span "
                      "data-count=\"total\">%llu</span></summary><ol>",
                      t->nex[k], (unsigned long long)t->n[k]);
        for (size_t i = 0; i < t->nex[k]; i++) {
            const fz_diff_example *e = &t->ex[k][i];
            fz_buf_puts(b, "<li><code>");
            h_esc(b, e->where);
            fz_buf_puts(b, "</code> ");
            h_esc(b, e->type);
            fz_buf_puts(b, " id=");
            h_esc(b, e->id[0] ? e->id : "-");
            fz_buf_puts(b, " from=");
            h_esc(b, e->from[0] ? e->from : "-");
            fz_buf_puts(b, " to=");
            h_esc(b, e->to[0] ? e->to : "-");
            fz_buf_puts(b, " old=");
            h_esc(b, e->old_rule);
            fz_buf_puts(b, " new=");
            h_esc(b, e->new_rule);
            if (e->text) {
                fz_buf_puts(b, "<br><q>");
                h_esc(b, e->text);
                fz_buf_puts(b, "</q>");
            }
            fz_buf_puts(b, "</li>");
        }
        fz_buf_puts(b, "</ol></details>\n");
    }
}

int fz_diffreport_html(const fz_diff_report *r, FILE *fp) {
    const fz_rulesdiff *d = r->diff;
    const fz_diff_totals *t = fz_rulesdiff_totals(d);
    size_t nrules, ncats, ninv;
    const fz_diff_rule *rules = fz_rulesdiff_rules(d, &nrules);
    const fz_diff_category *cats = fz_rulesdiff_categories(d, &ncats);
    const char *const *inv = fz_rulesdiff_invalid_samples(d, &ninv);
    const fz_diff_gates *g = &r->gates;
    int failed = g->lost_failed || g->rate_failed;
    fz_buf b;
    fz_buf_init(&b, OUT_MAX_BYTES);
    fz_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                    "style-src 'unsafe-inline'\">\n<title>fanzha rules diff</title>\n<style>\n"
                    "body{font-family:sans-serif;margin:1.5em;color:#222}"
                    "table{border-collapse:collapse;margin:.5em 0}"
                    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
                    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
                    "tr.lost td{background:#fde8e8}tr.gained td{background:#e8f4fd}"
                    ".failed{color:#b00;font-weight:bold}.passed{color:#070}"
                    "q{color:#444}details{margin:.3em 0}\n</style></head>\n<body>\n"
                    "<h1>fanzha rules diff</h1>\n");
    fz_buf_printf(&b, "<p data-result=\"%s\" class=\"%s\">Result: %s</p>\n",
                  failed ? "failed" : "passed", failed ? "failed" : "passed",
                  failed ? "FAILED" : "passed");
    fz_buf_puts(&b, "<h2>Rulesets</h2>\n<table><tr><th></th><th>source</th><th>version</th>"
                    "<th>rules</th><th>enabled</th><th>shadow</th><th>disabled</th>");
    if (r->timed)
        fz_buf_puts(&b, "<th>load s</th><th>compile s</th><th>cached databases</th>"
                        "<th>events/s</th><th>&micro;s/event</th>");
    fz_buf_puts(&b, "</tr>\n");
    for (int s = 0; s < 2; s++) {
        const fz_diff_side *sd = &r->side[s];
        size_t st[3];
        status_counts(sd->rs, st);
        fz_buf_printf(&b, "<tr data-side=\"%s\"><th>%s</th><td>", side_names[s], side_names[s]);
        h_esc(&b, sd->source);
        fz_buf_puts(&b, "</td><td><code>");
        h_esc(&b, fz_ruleset_version(sd->rs));
        fz_buf_puts(&b, "</code></td>");
        h_count(&b, "rules", fz_ruleset_count(sd->rs));
        h_count(&b, "enabled", st[0]);
        h_count(&b, "shadow", st[1]);
        h_count(&b, "disabled", st[2]);
        if (r->timed) {
            fz_buf_printf(&b, "<td class=\"n\" data-seconds=\"load\">%.3f</td>", sd->load_s);
            fz_buf_printf(&b, "<td class=\"n\" data-seconds=\"compile\">%.3f</td>",
                          fz_ruleset_compile_secs(sd->rs));
            h_count(&b, "cached-databases", fz_ruleset_cached_dbs(sd->rs));
            if (sd->timed)
                fz_buf_printf(&b,
                              "<td class=\"n\" data-rate=\"events-per-s\">%.0f</td>"
                              "<td class=\"n\" data-rate=\"us-per-event\">%.2f</td>",
                              sd->events_per_s, sd->us_per_event);
            else
                fz_buf_puts(&b, "<td>-</td><td>-</td>");
        }
        fz_buf_puts(&b, "</tr>\n");
    }
    fz_buf_puts(&b, "</table>\n");
    if (r->timed && r->side[0].timed && r->side[1].timed)
        fz_buf_printf(&b,
                      "<p>New/old matching time per event: <span data-ratio=\"match-time\">%.2f"
                      "</span> (fastest of <span data-count=\"rounds\">%d</span> round(s), each "
                      "matching <span data-count=\"timed-events\">%zu</span> events <span "
                      "data-count=\"repeats\">%zu</span> time(s), one thread).</p>\n",
                      ratio(r), r->rounds, r->timed_events, r->repeats);
    else if (!r->timed)
        fz_buf_puts(&b, "<p>Cost not measured (--no-timing).</p>\n");

    fz_buf_puts(&b, "<h2>Events</h2>\n");
    if (r->kafka) {
        const fz_diff_kafka *k = r->kafka;
        char from[80], to[80];
        iso_ms(k->from_ms, from, sizeof(from));
        iso_ms(k->to_ms, to, sizeof(to));
        fz_buf_puts(&b, "<p>Records of topic <code data-kafka=\"topic\">");
        h_esc(&b, k->topic);
        fz_buf_puts(&b, "</code> at <code>");
        h_esc(&b, k->brokers);
        fz_buf_printf(&b,
                      "</code> stamped from <time data-ms=\"from\" datetime=\"%s\">%s</time> "
                      "to before <time data-ms=\"to\" datetime=\"%s\">%s</time>:</p>\n"
                      "<table data-table=\"partitions\"><tr><th>partition</th><th>first offset"
                      "</th><th>stopped at</th><th>log end</th><th>records</th><th>stopped by"
                      "</th></tr>\n",
                      from, from, to, to);
        for (size_t i = 0; i < k->nparts; i++) {
            const fz_diff_partition *p = &k->parts[i];
            fz_buf_printf(&b, "<tr data-partition=\"%d\"><th>%d</th>", (int)p->partition,
                          (int)p->partition);
            h_count(&b, "start", (uint64_t)p->start);
            h_count(&b, "end", (uint64_t)p->end);
            h_count(&b, "log-end", (uint64_t)p->log_end);
            h_count(&b, "records", p->records);
            fz_buf_printf(&b, "<td data-stopped-by=\"%s\">%s</td></tr>\n", p->stopped_by,
                          p->stopped_by);
        }
        fz_buf_puts(&b, "</table>\n");
    }
    fz_buf_puts(&b, "<table>");
    fz_buf_printf(&b, "<tr><th>read</th>");
    h_count(&b, "events", t->events);
    fz_buf_puts(&b, "</tr><tr><th>valid</th>");
    h_count(&b, "valid", t->valid);
    fz_buf_puts(&b, "</tr><tr><th>invalid</th>");
    h_count(&b, "invalid", t->invalid);
    fz_buf_puts(&b, "</tr><tr><th>alerting, old</th>");
    h_count(&b, "alerting-old", t->alerting_old);
    fz_buf_puts(&b, "</tr><tr><th>alerting, new</th>");
    h_count(&b, "alerting-new", t->alerting_new);
    fz_buf_puts(&b, "</tr><tr><th>with another primary rule</th>");
    h_count(&b, "primary-changed", t->primary_changed);
    fz_buf_puts(&b, "</tr></table>\n<table data-table=\"alerts\"><tr><th>gained</th><th>lost"
                    "</th><th>unchanged</th></tr><tr>");
    h_tally_cells(&b, &t->alerts);
    fz_buf_puts(&b, "</tr></table>\n");
    if (ninv) {
        fz_buf_puts(&b, "<p>First invalid lines:</p><ul>");
        for (size_t i = 0; i < ninv; i++) {
            fz_buf_puts(&b, "<li><code>");
            h_esc(&b, inv[i]);
            fz_buf_puts(&b, "</code></li>");
        }
        fz_buf_puts(&b, "</ul>\n");
    }
    h_examples(&b, "data-events", "events", &t->alerts);

    fz_buf_puts(&b, "<h2>Rules</h2>\n<table data-table=\"rules\"><tr><th>rule</th><th>change"
                    "</th><th>rev</th><th>status</th><th>category</th><th>gained</th><th>lost"
                    "</th><th>unchanged</th><th>shadow old</th><th>shadow new</th></tr>\n");
    size_t listed = 0;
    for (size_t i = 0; i < nrules; i++) {
        const fz_diff_rule *x = &rules[i];
        if (!rule_listed(x)) continue;
        listed++;
        const fz_rule *o = x->old_rule, *n = x->new_rule, *any = n ? n : o;
        const char *cls = x->t.n[FZ_DIFF_LOST] ? "lost" : x->t.n[FZ_DIFF_GAINED] ? "gained" : "";
        fz_buf_printf(&b, "<tr class=\"%s\" data-rule=\"", cls);
        h_esc(&b, x->id);
        fz_buf_printf(&b, "\" data-change=\"%s\" data-same-verdicts=\"%s\"><td><code>",
                      fz_diff_change_name(x->change), same_verdicts(x) ? "true" : "false");
        h_esc(&b, x->id);
        fz_buf_printf(&b, "</code></td><td>%s</td><td>", fz_diff_change_name(x->change));
        if (o) fz_buf_printf(&b, "%u", o->rev);
        if (o && n && o->rev != n->rev) fz_buf_puts(&b, " &rarr; ");
        if (n && (!o || o->rev != n->rev)) fz_buf_printf(&b, "%u", n->rev);
        fz_buf_printf(&b, "</td><td>%s", status_of(o));
        if (!o || !n || o->status != n->status) fz_buf_printf(&b, " &rarr; %s", status_of(n));
        fz_buf_puts(&b, "</td><td>");
        h_esc(&b, any->category);
        fz_buf_puts(&b, "</td>");
        h_tally_cells(&b, &x->t);
        h_count(&b, "shadow-old", x->shadow_old);
        h_count(&b, "shadow-new", x->shadow_new);
        fz_buf_puts(&b, "</tr>\n");
    }
    fz_buf_printf(&b,
                  "</table>\n<p><span data-count=\"rules-listed\">%zu</span> of <span "
                  "data-count=\"rules-total\">%zu</span> rules listed: the others are unchanged "
                  "and so are their verdicts.</p>\n",
                  listed, nrules);
    for (size_t i = 0; i < nrules; i++)
        if (rule_listed(&rules[i])) h_examples(&b, "data-rule", rules[i].id, &rules[i].t);

    fz_buf_puts(&b, "<h2>Categories</h2>\n<table data-table=\"categories\"><tr><th>category"
                    "</th><th>gained</th><th>lost</th><th>unchanged</th></tr>\n");
    for (size_t i = 0; i < ncats; i++) {
        fz_buf_puts(&b, "<tr data-category=\"");
        h_esc(&b, cats[i].name);
        fz_buf_puts(&b, "\"><td>");
        h_esc(&b, cats[i].name);
        fz_buf_puts(&b, "</td>");
        h_tally_cells(&b, &cats[i].t);
        fz_buf_puts(&b, "</tr>\n");
    }
    fz_buf_puts(&b, "</table>\n");
    for (size_t i = 0; i < ncats; i++) h_examples(&b, "data-category", cats[i].name, &cats[i].t);

    fz_buf_puts(&b, "<h2>Gates</h2>\n<ul>");
    fz_buf_printf(&b, "<li data-gate=\"fail-on-lost\" data-state=\"%s\">--fail-on-lost: %s</li>",
                  !g->fail_on_lost ? "off"
                  : g->lost_failed ? "failed"
                                   : "passed",
                  !g->fail_on_lost ? "off"
                  : g->lost_failed ? "FAILED"
                                   : "passed");
    if (g->max_new_rate >= 0)
        fz_buf_printf(&b,
                      "<li data-gate=\"max-new-alerts-rate\" data-state=\"%s\">"
                      "--max-new-alerts-rate %g: %s (rate <span data-rate=\"new-alerts\">%.6f"
                      "</span>)</li>",
                      g->rate_failed ? "failed" : "passed", g->max_new_rate,
                      g->rate_failed ? "FAILED" : "passed", g->new_rate);
    else
        fz_buf_puts(&b, "<li data-gate=\"max-new-alerts-rate\" data-state=\"off\">"
                        "--max-new-alerts-rate: off</li>");
    fz_buf_puts(&b, "</ul>\n</body></html>\n");
    int rc = write_buf(&b, fp);
    fz_buf_free(&b);
    return rc;
}
