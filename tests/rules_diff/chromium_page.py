#!/usr/bin/python3
"""The HTML report of `fanzha rules diff` as headless Chromium renders it.

    tests/rules_diff/chromium_page.py FANZHA_BIN [OUT_DIR]
    tests/rules_diff/chromium_page.py --check REPORT.html REPORT.json [OUT_DIR]

The first form diffs the rulesets of tests/cases/043-rules-diff over its
events (examples, invalid lines, a rule edited without a rev bump, a
shadow rule, timings on), writes the report as JSON and HTML, and checks
the page; the second checks a page written elsewhere (the Kafka
integration test checks the page of a Kafka time range with it).

The check: Chromium (headless, no sandbox, no GPU, network disabled: see
tests/headless.py) loads the page from a file and --dump-dom gives the DOM
it built. Every element with a data-count attribute is found in its
context (the ruleset row, the rule, the category, the examples, the
partition read, the alerts table, or the page) and its number must equal
the JSON report's (and each partition's data-stopped-by its stopped_by); a data-count that this test cannot place fails it, so
none goes unchecked. Every rule the JSON lists as changed and every
category has its row. Then --screenshot renders the page: a 1000x1400 PNG
large enough to hold the tables (a blank page compresses to a few KB).

Exits 77 (ctest SKIP_RETURN_CODE) when chromium is missing and
FANZHA_REQUIRE_CHROMIUM is unset; fails if it is set.
"""
import html.parser
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import headless  # noqa: E402

CASE = os.path.join(os.path.dirname(HERE), "cases", "043-rules-diff")
CONTEXT_ATTRS = ("data-side", "data-rule", "data-category", "data-table", "data-examples",
                 "data-partition")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
SHOT_MIN_BYTES = 20000


class Counts(html.parser.HTMLParser):
    """Every data-count element: (its context, name, text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, attrs dict)
        self.open = []  # [index in stack, name, context, text parts]
        self.counts = []
        self.rows = set()  # ("rule", id), ("category", name), ("partition", n), ("side", s)
        self.stopped_by = {}  # partition -> data-stopped-by

    def context(self):
        ctx = {}
        for _, a in self.stack:
            for k in CONTEXT_ATTRS + ("data-events",):
                if k in a:
                    ctx[k] = a[k]
        return ctx

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in VOID:
            return
        self.stack.append((tag, a))
        if tag == "tr":
            for k, kind in (("data-rule", "rule"), ("data-category", "category"),
                            ("data-partition", "partition"), ("data-side", "side")):
                if k in a:
                    self.rows.add((kind, a[k]))
        if "data-stopped-by" in a:
            self.stopped_by[self.context().get("data-partition")] = a["data-stopped-by"]
        if "data-count" in a:
            self.open.append([len(self.stack) - 1, a["data-count"], self.context(), []])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            t, _ = self.stack.pop()
            if self.open and self.open[-1][0] == len(self.stack):
                _, name, ctx, text = self.open.pop()
                self.counts.append((ctx, name, "".join(text).strip()))
            if t == tag:
                break

    def handle_data(self, data):
        for o in self.open:
            o[3].append(data)


def rule_listed(r):
    """As the reports list rules (rulesdiff's rule_listed())."""
    return (r["change"] != "same" or r["gained"] or r["lost"] or
            r["shadow_old"] != r["shadow_new"] or
            (r["old"] and r["new"] and r["old"]["status"] != r["new"]["status"]))


def expected(rep, ctx, name):
    """The JSON's value for data-count name in context ctx; KeyError when
    the test does not know the count."""
    key = name.replace("-", "_")
    rules = {r["id"]: r for r in rep["rules"]}
    cats = {c["name"]: c for c in rep["categories"]}
    if "data-examples" in ctx:
        kind = ctx["data-examples"]
        if "data-rule" in ctx:
            row = rules[ctx["data-rule"]]
        elif "data-category" in ctx:
            row = cats[ctx["data-category"]]
        elif ctx.get("data-events") == "events":
            row = rep["alerts"]
        else:
            raise KeyError(name)
        return {"examples": len(row["examples"][kind]), "total": row[kind]}[name]
    if "data-partition" in ctx:
        parts = {str(p["partition"]): p for p in rep["kafka"]["partitions"]}
        return parts[ctx["data-partition"]][key]
    if "data-rule" in ctx:
        return rules[ctx["data-rule"]][key]
    if "data-category" in ctx:
        return cats[ctx["data-category"]][key]
    if "data-side" in ctx:
        side = rep[ctx["data-side"]]
        if name == "cached-databases":
            return side["cost"]["cached_databases"]
        if name in ("rules", "enabled", "shadow", "disabled"):
            return side[name]
        raise KeyError(name)
    if ctx.get("data-table") == "alerts":
        return rep["alerts"][key]
    page = {
        "events": rep["events"]["read"],
        "valid": rep["events"]["valid"],
        "invalid": rep["events"]["invalid"],
        "alerting-old": rep["alerts"]["old"],
        "alerting-new": rep["alerts"]["new"],
        "primary-changed": rep["alerts"]["primary_changed"],
        "rules-listed": sum(1 for r in rep["rules"] if rule_listed(r)),
        "rules-total": len(rep["rules"]),
    }
    if name in page:
        return page[name]
    if name in ("rounds", "timed-events", "repeats"):
        match = rep["old"]["cost"]["match"]
        return match[{"timed-events": "events"}.get(name, name)]
    raise KeyError(name)


def check(chromium, page, report_json, out, label):
    """Check page against report_json with Chromium; a list of failures."""
    fails = []
    with open(report_json, encoding="utf-8") as f:
        rep = json.load(f)
    profile = os.path.join(out, "profile-" + label)
    r = headless.run(chromium, profile, "--dump-dom", "file://" + os.path.abspath(page))
    if r.returncode != 0 or "</html>" not in r.stdout:
        return [f"{label}: chromium --dump-dom exited {r.returncode}: {r.stderr[-1500:]}"]
    with open(os.path.join(out, label + ".dom.html"), "w", encoding="utf-8") as f:
        f.write(r.stdout)
    p = Counts()
    p.feed(r.stdout)
    p.close()
    if not p.counts:
        fails.append(f"{label}: no data-count in the DOM")
    for ctx, name, text in p.counts:
        where = f"{label}: data-count={name!r} in {ctx or 'the page'}"
        try:
            want = expected(rep, ctx, name)
        except KeyError as e:
            fails.append(f"{where}: not in the JSON report ({e}): unchecked")
            continue
        if text != str(want):
            fails.append(f"{where}: the page says {text!r}, the JSON {want!r}")
    for r_ in rep["rules"]:
        if rule_listed(r_) and ("rule", r_["id"]) not in p.rows:
            fails.append(f"{label}: rule {r_['id']!r} changed but has no row")
    for c in rep["categories"]:
        if ("category", c["name"]) not in p.rows:
            fails.append(f"{label}: category {c['name']!r} has no row")
    for s in ("old", "new"):
        if ("side", s) not in p.rows:
            fails.append(f"{label}: no row for the {s} ruleset")
    for part in (rep.get("kafka") or {}).get("partitions", []):
        if ("partition", str(part["partition"])) not in p.rows:
            fails.append(f"{label}: partition {part['partition']} has no row")
        elif p.stopped_by.get(str(part["partition"])) != part["stopped_by"]:
            fails.append(f"{label}: partition {part['partition']} stopped by "
                         f"{p.stopped_by.get(str(part['partition']))!r} on the page, "
                         f"{part['stopped_by']!r} in the JSON")
    shot = os.path.join(out, label + ".png")
    r = headless.run(chromium, profile, "--window-size=1000,1400", "--hide-scrollbars",
                     f"--screenshot={shot}", "file://" + os.path.abspath(page))
    size = headless.png_size(shot) if os.path.exists(shot) else None
    nbytes = os.path.getsize(shot) if os.path.exists(shot) else 0
    if r.returncode != 0 or size != (1000, 1400) or nbytes < SHOT_MIN_BYTES:
        fails.append(f"{label}: screenshot {shot}: exit {r.returncode}, {size}, {nbytes} bytes "
                     f"(want 1000x1400, at least {SHOT_MIN_BYTES} bytes)")
    print(f"chromium_page: {label}: {len(p.counts)} data-count values checked against "
          f"{report_json}; screenshot {nbytes} bytes; " +
          ("ok" if not fails else f"{len(fails)} failure(s)"))
    return fails


def main(argv):
    chromium = headless.find_chromium()
    if not chromium:
        headless.skip_or_fail("chromium_page", ["chromium"])
    with tempfile.TemporaryDirectory() as tmp:
        if argv[1:2] == ["--check"]:
            out = argv[4] if len(argv) > 4 else tmp
            os.makedirs(out, exist_ok=True)
            fails = check(chromium, argv[2], argv[3], out, "page")
        else:
            out = argv[2] if len(argv) > 2 else tmp
            os.makedirs(out, exist_ok=True)
            page, rj = os.path.join(out, "diff.html"), os.path.join(out, "diff.json")
            r = subprocess.run([os.path.abspath(argv[1]), "rules", "diff", "old-rules",
                                "new-rules", "events.ndjson", "--rules-cache", "off",
                                "--examples", "2",
                                "--max-event-bytes", "512", "--timing-events", "100",
                                "--html", page, "--json", rj],
                               cwd=CASE, capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                sys.exit(f"chromium_page: fanzha rules diff exited {r.returncode}:\n"
                         f"{r.stderr[-3000:]}")
            fails = check(chromium, page, rj, out, "diff")
    for f in fails:
        print("chromium_page: FAILED: " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
