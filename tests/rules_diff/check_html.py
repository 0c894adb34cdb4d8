#!/usr/bin/python3
"""check_html.py REPORT.html REPORT.json -- the HTML report of `fanzha rules
diff` is static and self-contained, and its counts are the JSON report's.

Static: no script, no element that loads anything (img, link, iframe, object,
embed, base, form), no attribute that names a URL (src, href, action, ...),
no event handler attribute, no url( in the style. Every numeric cell
(td class="n") carries a data- attribute naming it. The rows
tr[data-rule] / tr[data-category] hold the gained, lost and unchanged counts
of that rule or category in the JSON, and the alerts table the event totals.
"""
import json
import sys
from html.parser import HTMLParser

FORBIDDEN_TAGS = {"script", "img", "link", "iframe", "object", "embed", "base", "form",
                  "frame", "audio", "video", "source", "svg", "meta-refresh"}
URL_ATTRS = {"src", "href", "action", "formaction", "srcset", "poster", "background",
             "data", "codebase", "ping", "xlink:href"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.errors = []
        self.rows = {}  # (kind, name) -> {count name: value}
        self.row = None
        self.cell = None
        self.text = ""
        self.in_style = False
        self.table = None
        self.alerts = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in FORBIDDEN_TAGS:
            self.errors.append("forbidden element <%s>" % tag)
        for k, v in attrs:
            if k in URL_ATTRS:
                self.errors.append("<%s %s=%r> refers to something" % (tag, k, v))
            if k.startswith("on"):
                self.errors.append("<%s %s=...>: an event handler" % (tag, k))
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            self.errors.append("meta refresh")
        if tag == "style":
            self.in_style = True
        if tag == "table":
            self.table = a.get("data-table")
        if tag == "tr":
            if "data-rule" in a:
                self.row = ("rule", a["data-rule"])
            elif "data-category" in a:
                self.row = ("category", a["data-category"])
            elif self.table == "alerts":
                self.row = ("alerts", "")
            else:
                self.row = None
        if tag == "td":
            if "n" in (a.get("class") or "").split():
                names = [k for k in a if k.startswith("data-")]
                if not names:
                    self.errors.append("a numeric cell without a data- attribute")
                self.cell = a.get("data-count")
            else:
                self.cell = None
            self.text = ""

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False
        if tag == "td" and self.cell and self.row:
            self.rows.setdefault(self.row, {})[self.cell] = int(self.text)
            self.cell = None

    def handle_data(self, data):
        if self.in_style and "url(" in data:
            self.errors.append("url( in the style")
        self.text += data


def main():
    html_path, json_path = sys.argv[1], sys.argv[2]
    page = Page()
    with open(html_path, encoding="utf-8") as f:
        page.feed(f.read())
    rep = json.load(open(json_path, encoding="utf-8"))
    errors = list(page.errors)
    kinds = ("gained", "lost", "unchanged")

    def check(key, want):
        got = page.rows.get(key)
        if got is None:
            errors.append("%s %r: no row in the HTML" % key)
            return
        for k in kinds:
            if got.get(k) != want[k]:
                errors.append("%s %r: %s is %r in the HTML, %r in the JSON" %
                              (key[0], key[1], k, got.get(k), want[k]))

    listed = 0
    for r in rep["rules"]:
        changed = (r["change"] != "same" or r["gained"] or r["lost"] or
                   r["shadow_old"] != r["shadow_new"] or
                   (r["old"] and r["new"] and r["old"]["status"] != r["new"]["status"]))
        if changed:
            listed += 1
            check(("rule", r["id"]), r)
        elif ("rule", r["id"]) in page.rows:
            errors.append("rule %r listed although nothing changed" % r["id"])
    for c in rep["categories"]:
        check(("category", c["name"]), c)
    check(("alerts", ""), rep["alerts"])
    if listed == 0 and not rep["rules"]:
        errors.append("no rules at all in the JSON")
    for e in errors:
        print("FAIL: %s: %s" % (html_path, e))
    if not errors:
        print("ok: %s: static, %d rule rows and %d category rows match the JSON" %
              (html_path, listed, len(rep["categories"])))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
