#!/usr/bin/env python3
"""The report page (fanzha stats --report) against fanzha stats itself.

Generates a multi-week event stream - a few weeks a year ago and five weeks
now, one of them empty; reports with losses in CNY, JPY, USD and KWD; a
category that only appears in the last week; police-impersonation SMS
campaigns whose recipients then transfer money and are intercepted - replays
it (fanzha replay --stats-output), sums it by ISO week at +08:00
(fanzha stats --period week --stats-output periods.ndjson), and renders the
report of several weeks in headless Chromium with the network disabled:

- every data-figure on the page (headline figures with 环比 and 同比, every
  cell of the category, money, campaign and rule tables) equals what the
  periods.ndjson of fanzha stats and the alert records say, "—" where
  there is nothing to compare with, and no figure is left unchecked;
- the page holds no http:// or https:// reference, no script, no external
  resource, and a category named like markup is text;
- a screenshot is written and is not blank;
- printed to PDF it has A4 pages, every chart's title and its axis caption
  are on the same page, and no word lies outside the page box (pdftotext
  -bbox-layout); pdftoppm renders every page, none blank, with nothing
  in its margins (nothing cut at the page edge).

    tests/report_page.py FANZHA_BIN [OUT_DIR]

OUT_DIR keeps the pages, screenshot and PDF (default: a temporary dir).
Exits 77 (ctest SKIP_RETURN_CODE) when chromium or poppler-utils are
missing and FANZHA_REQUIRE_CHROMIUM is unset; fails if it is set.
"""
import datetime as dt
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import headless  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(ROOT, "tests", "cases", "008-ledger", "rules")
CST = dt.timezone(dt.timedelta(hours=8))
DECIMALS = {"JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3}
FAILS = []
HOSTILE = "<i>x</i>&\"'<script>"


def fail(msg):
    FAILS.append(msg)
    print("report_page: FAILED: " + msg)


def ms(d):
    return int(d.timestamp() * 1000)


# ---- the event stream ----

def events():
    """Events in time order. Weeks start on Mondays at +08:00."""
    out = []
    n = [0]

    def ev(t, **kw):
        n[0] += 1
        out.append(dict(kw, id=f"e{n[0]}", ts=ms(t)))

    def week(monday, k, currencies, categories, campaign_size, transfers):
        # a campaign: the same police-impersonation SMS to campaign_size subscribers
        base = monday + dt.timedelta(hours=9 + k)
        subs = [f"+86139{k:02d}{i:06d}" for i in range(campaign_size)]
        for i, to in enumerate(subs):
            ev(base + dt.timedelta(minutes=i), type="sms", **{"from": f"+861310000{k:04d}"}, to=to,
               text=f"我是市公安局民警，请将资金转入安全账户 6222 0200 {k:04d} 5678 配合调查")
        ev(base + dt.timedelta(minutes=30), type="sms", **{"from": "+8610010"},
           to="+8613800000000", text="明天下午三点开会")
        ev(base + dt.timedelta(hours=1), type="sms", **{"from": "+8617000000001"},
           to=f"+86137{k:08d}", text="您好，有一笔退款待领取")
        # some warned subscribers transfer money the next day: intercepted
        for i in range(transfers):
            ev(base + dt.timedelta(days=1, minutes=i), type="transfer", **{"from": subs[i]},
               to=f"62284800{k:04d}{i:04d}", amount=f"{80000 + 25000 * i + k}.{i:02d}",
               currency="CNY")
        # reports with losses, one per (currency, category), amounts that need separators
        t = base + dt.timedelta(days=2)
        for j, cur in enumerate(currencies):
            for c, cat in enumerate(categories):
                dec = DECIMALS.get(cur, 2)
                whole = 1234567 // (10 ** (j + c)) + 1000 * k
                amount = f"{whole}" if dec == 0 else f"{whole}.{(k * 7 + j) % (10 ** dec):0{dec}d}"
                kw = {"category": cat} if cat else {}
                ev(t + dt.timedelta(minutes=10 * (j * 5 + c)), type="report",
                   **{"from": f"+86136{k:02d}{j}{c}0000"}, amount=amount, currency=cur, **kw)

    # a year ago: the weeks of 2025-11-10 and 2025-11-17 (52 weeks before 2026-11-09 and -16)
    y0 = dt.datetime(2025, 11, 10, tzinfo=CST)
    week(y0, 1, ["CNY"], ["impersonate_police", "investment"], 3, 1)
    week(y0 + dt.timedelta(weeks=1), 2, ["CNY", "USD"], ["investment"], 2, 2)
    # now: 2026-11-02, -09, -16, (-23 empty), -30
    w0 = dt.datetime(2026, 11, 2, tzinfo=CST)
    week(w0, 3, ["CNY", "JPY"], ["impersonate_police", "investment", None], 4, 2)
    week(w0 + dt.timedelta(weeks=1), 4, ["CNY", "JPY", "USD"], ["impersonate_police"], 5, 3)
    # a category named by input, as hostile as a category may be: escaped, never markup
    week(w0 + dt.timedelta(weeks=2), 5, ["CNY"], ["investment", HOSTILE], 3, 0)
    week(w0 + dt.timedelta(weeks=4), 6, ["CNY", "KWD", "JPY"],
         ["impersonate_police", "romance"], 6, 4)
    return out


# ---- what the page must say, from fanzha stats' JSON lines ----

def money_text(minor, cur):
    dec = DECIMALS.get(cur, 2)
    a = abs(minor)
    whole = f"{a // 10 ** dec:,}"
    s = whole if dec == 0 else f"{whole}.{a % 10 ** dec:0{dec}d}"
    return ("-" if minor < 0 else "") + s


def count_text(v):
    return f"{v:,}"


def change_text(cur_v, base, cur=None):
    """(text, data-value) of a change, as the page writes it."""
    if base is None:
        return "—", ""
    d = cur_v - base
    sign = "+" if d > 0 else "-" if d < 0 else ""
    t = sign + (money_text(abs(d), cur) if cur else count_text(abs(d)))
    if base > 0:
        t += f" ({sign}{abs(100.0 * d / base):.1f}%)"
    return t, str(d)


def rate(lost, held):
    return None if lost + held == 0 else held / (lost + held)


def rate_text(r):
    return ("—", "") if r is None else (f"{100.0 * r:.1f}%", f"{r:.4f}")


def rate_change_text(now, then, pp):
    if now is None or then is None:
        return "—", ""
    d = now - then
    t = f"{abs(100.0 * d):.1f}"
    sign = "" if t == "0.0" else "+" if d > 0 else "-"
    return f"{sign}{t}{pp}", f"{d:.4f}"


def money_map(money):
    return {m["currency"]: (m["lost"], m["intercepted"]) for m in money or []}


def expected_figures(period, alerts, lang):
    """data-figure -> (text, data-value or None) for the page of `period`."""
    exp = {}
    pp = "个百分点" if lang == "zh" else " pp"
    rows = period["rows"]
    all_ = rows[0]
    assert all_["category"] == "all"

    def values(row, key):
        c = row.get(key)
        return None if c is None else c["values"]

    prev, ago = values(all_, "previous"), values(all_, "period_ago")
    for f in ("cases", "intercepts", "alerts", "campaigns"):
        exp[f] = (count_text(all_[f]), str(all_[f]))
        exp[f + ".previous"] = change_text(all_[f], prev[f] if prev else None)
        exp[f + ".period_ago"] = change_text(all_[f], ago[f] if ago else None)
        # the page's change must also be the JSON's change
        for key in ("previous", "period_ago"):
            if all_[key] is not None:
                assert exp[f"{f}.{key}"][1] == str(all_[key]["change"][f]), (f, key)
    now_m = money_map(all_["money"])
    prev_m = money_map(prev["money"]) if prev else {}
    ago_m = money_map(ago["money"]) if ago else {}
    curs = list(dict.fromkeys(list(now_m) + list(prev_m) + list(ago_m)))
    for cur in curs:
        for k, name in ((0, "lost"), (1, "intercepted")):
            v = now_m.get(cur, (0, 0))[k]
            exp[f"{name}.{cur}"] = (money_text(v, cur), str(v))
            exp[f"{name}.{cur}.previous"] = change_text(
                v, prev_m.get(cur, (0, 0))[k] if prev else None, cur)
            exp[f"{name}.{cur}.period_ago"] = change_text(
                v, ago_m.get(cur, (0, 0))[k] if ago else None, cur)
        r_now = rate(*now_m.get(cur, (0, 0)))
        exp[f"recovery_rate.{cur}"] = rate_text(r_now)
        for key, base, m in (("previous", prev, prev_m), ("period_ago", ago, ago_m)):
            r_then = rate(*m.get(cur, (0, 0))) if base else None
            exp[f"recovery_rate.{cur}.{key}"] = rate_change_text(r_now, r_then, pp)
    for m in all_["money"]:  # the page's rate is the JSON's
        r = m["recovery_rate"]
        assert exp[f"recovery_rate.{m['currency']}"][1] == ("" if r is None else f"{r:.4f}")
    # the category tables
    for row in rows:
        c = row["category"]
        exp[f"cat.{c}"] = (c, None)
        for f in ("screened", "alerts", "suppressed", "campaigns", "cases", "intercepts"):
            exp[f"cat.{c}.{f}"] = (count_text(row[f]), str(row[f]))
        for key in ("previous", "period_ago"):
            v = values(row, key)
            exp[f"cat.{c}.cases.{key}"] = change_text(row["cases"], v["cases"] if v else None)
        for m in row["money"]:
            cur = m["currency"]
            exp[f"cat.{c}.lost.{cur}"] = (money_text(m["lost"], cur), str(m["lost"]))
            exp[f"cat.{c}.intercepted.{cur}"] = (money_text(m["intercepted"], cur),
                                                 str(m["intercepted"]))
            exp[f"cat.{c}.recovery_rate.{cur}"] = rate_text(rate(m["lost"], m["intercepted"]))
    # campaigns and rules, from the alert records
    start, end = period["period"]["start"], period["period"]["end"]
    latest = {}
    for a in alerts:
        if a["type"] == "campaign" and a["first_ts"] < end and a["last_ts"] >= start:
            k = (a["key"], a["first_ts"])
            if k not in latest or (a["last_ts"], a["count"]) >= (latest[k]["last_ts"],
                                                                  latest[k]["count"]):
                latest[k] = a
    camps = sorted(latest.values(), key=lambda a: (-a["count"], a["first_ts"]))[:10]
    for i, a in enumerate(camps):
        exp[f"campaign.{i}.rule"] = (a["rule"]["id"], None)
        exp[f"campaign.{i}.category"] = (a["rule"]["category"], None)
        for f, ts in (("first_seen", a["first_ts"]), ("last_seen", a["last_ts"])):
            t = dt.datetime.fromtimestamp(ts / 1000, CST)  # both languages are run at +08:00
            exp[f"campaign.{i}.{f}"] = (t.strftime("%Y-%m-%d %H:%M"), str(ts))
        for f, k in (("events", "count"), ("recipients", "recipients_estimate"),
                     ("senders", "senders_estimate")):
            exp[f"campaign.{i}.{f}"] = (count_text(a[k]), str(a[k]))
        exp[f"campaign.{i}.sample"] = (a["sample"], None)
    if not camps:
        exp["campaigns.none"] = (None, None)
    rules = {}
    for a in alerts:
        if a["type"] == "alert" and start <= a["ts"] < end:
            r = rules.setdefault(a["rule"]["id"], [a["rule"]["category"], 0])
            r[1] += 1
    if sum(n for _, n in rules.values()) != all_["alerts"]:
        fail(f"{period['period']['label']}: the alert records hold "
             f"{sum(n for _, n in rules.values())} alerts, the statistics {all_['alerts']}")
    ranked = sorted(rules.items(), key=lambda kv: (-kv[1][1], kv[0]))[:10]
    for i, (rid, (cat, n)) in enumerate(ranked):
        exp[f"rule.{i}.id"] = (rid, None)
        exp[f"rule.{i}.category"] = (cat, None)
        exp[f"rule.{i}.alerts"] = (count_text(n), str(n))
    if not ranked:
        exp["rules.none"] = (None, None)
    if period["period"]["partial"]:
        exp["partial"] = (None, None)
    exp["period"] = (None, None)
    return exp


# ---- reading the page back ----

class Figures(html.parser.HTMLParser):
    """data-figure elements: name -> (text, data-value); plus what must not be there."""

    def __init__(self):
        super().__init__()
        self.figs, self.stack, self.bad = {}, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.bad.append(f"<{tag}>")
        for k, v in attrs:
            if v and re.search(r"(?i)\b(https?|ftp)://", v):
                self.bad.append(f"<{tag} {k}={v!r}>")
        if tag in ("br", "meta", "input", "hr", "path", "use", "rect", "circle", "line"):
            return
        self.stack.append([tag, a.get("data-figure"), a.get("data-value"), []])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1][0] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        while self.stack:
            t, name, value, text = self.stack.pop()
            s = "".join(text)
            if self.stack:
                self.stack[-1][3].append(s)
            if name is not None:
                if name in self.figs:
                    self.bad.append(f"data-figure {name!r} twice")
                self.figs[name] = (s.strip(), value)
            if t == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][3].append(data)


def chromium(*args, timeout=120):
    r = headless.run(CHROMIUM, PROFILE, *args, timeout=timeout)
    if r.returncode != 0:
        fail(f"chromium {' '.join(args[:-1])} exited {r.returncode}: {r.stderr[-1500:]}")
    return r.stdout


def run(cmd, what):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"report_page: {what} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return r


def check_page(page, period, alerts, lang):
    label = period["period"]["label"]
    raw = open(page, encoding="utf-8").read()
    for m in re.finditer(r"(?i)(https?|ftp)://", raw):
        fail(f"{label}: the page holds a URL: {raw[max(0, m.start() - 60):m.end() + 40]!r}")
    dom = chromium("--dump-dom", "file://" + page)
    p = Figures()
    p.feed(dom)
    p.close()
    for b in p.bad:
        fail(f"{label}: {b}")
    exp = expected_figures(period, alerts, lang)
    for name, (text, value) in exp.items():
        if name not in p.figs:
            fail(f"{label}: no data-figure {name!r} on the page (want {text!r})")
            continue
        got_text, got_value = p.figs[name]
        if text is not None and got_text != text:
            fail(f"{label}: {name}: the page says {got_text!r}, fanzha stats {text!r}")
        if value is not None and got_value != value:
            fail(f"{label}: {name}: data-value {got_value!r}, fanzha stats {value!r}")
    for name in p.figs:
        if name not in exp:
            fail(f"{label}: data-figure {name!r} is on the page but not checked")
    return len(exp)


def check_pdf(pdf, png_prefix, charts):
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    w, h = float(size.group(1)), float(size.group(2))
    if abs(w - 595.28) > 1 or abs(h - 841.89) > 1:
        fail(f"PDF page size {w} x {h} pts, want A4 (595.28 x 841.89)")
    text = subprocess.run(["pdftotext", "-layout", pdf, "-"], capture_output=True,
                          text=True).stdout.split("\f")
    for title, caption in charts:
        tp = [i for i, t in enumerate(text) if title in t]
        cp = [i for i, t in enumerate(text) if caption in t]
        if not tp or not cp:
            fail(f"PDF: chart {title!r} or its caption {caption!r} not found")
        elif tp[0] != cp[0]:
            fail(f"PDF: chart {title!r} is split: title on page {tp[0] + 1}, "
                 f"caption on page {cp[0] + 1}")
    bbox = subprocess.run(["pdftotext", "-bbox-layout", pdf, "-"], capture_output=True,
                          text=True).stdout
    words = 0
    for page in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', bbox, re.S):
        pw, ph = float(page.group(1)), float(page.group(2))
        for m in re.finditer(r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" '
                             r'yMax="([-\d.]+)">([^<]*)</word>', page.group(3)):
            x0, y0, x1, y1 = map(float, m.groups()[:4])
            words += 1
            if x0 < 0 or y0 < 0 or x1 > pw + 0.5 or y1 > ph + 0.5:
                fail(f"PDF: word {m.group(5)!r} at ({x0},{y0})-({x1},{y1}) is outside the "
                     f"{pw} x {ph} page")
    if words < 200:
        fail(f"PDF: only {words} words of text")
    # rendered, every page keeps its margins (@page: 14 mm top and bottom, 12 mm at the
    # sides) white: nothing runs over or is cut at the page edge
    dpi = 50
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", pdf, png_prefix], check=True)
    pgms = sorted(f for f in os.listdir(os.path.dirname(png_prefix))
                  if f.startswith(os.path.basename(png_prefix)) and f.endswith(".pgm"))
    if len(pgms) != pages:
        fail(f"pdftoppm rendered {len(pgms)} page(s) of {pages}")
    band = int(8 / 25.4 * dpi)  # 8 mm, inside the margins
    for name in pgms:
        w, h, px = read_pgm(os.path.join(os.path.dirname(png_prefix), name))
        inked = sum(1 for v in px if v < 128)
        if inked < 200:
            fail(f"PDF page {name} is blank ({inked} dark pixels)")
        for y in list(range(band)) + list(range(h - band, h)):
            if min(px[y * w:(y + 1) * w]) < 128:
                fail(f"PDF page {name}: ink in the top or bottom margin (row {y} of {h})")
                break
        for y in range(h):
            row = px[y * w:(y + 1) * w]
            if min(row[:band]) < 128 or min(row[w - band:]) < 128:
                fail(f"PDF page {name}: ink in the side margin (row {y}): cut off")
                break
    return pages


def read_pgm(path):
    """(width, height, pixels) of a binary PGM (P5, maxval 255) as pdftoppm -gray writes."""
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P5" or fields[3] != b"255":
        sys.exit(f"report_page: {path}: not an 8-bit binary PGM")
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[pos + 1:pos + 1 + w * h]


def main():
    global CHROMIUM, PROFILE
    fanzha = sys.argv[1]
    CHROMIUM = headless.find_chromium()
    missing = [n for n, p in (("chromium", CHROMIUM), ("pdfinfo", shutil.which("pdfinfo")),
                              ("pdftoppm", shutil.which("pdftoppm"))) if not p]
    if missing:
        headless.skip_or_fail("report_page", missing)
    keep = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as tmp:
        out = keep or tmp
        os.makedirs(out, exist_ok=True)
        PROFILE = os.path.join(tmp, "profile")
        ev = os.path.join(tmp, "events.ndjson")
        with open(ev, "w", encoding="utf-8") as f:
            for e in events():
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
        stats, alerts_f = os.path.join(tmp, "stats.ndjson"), os.path.join(tmp, "alerts.ndjson")
        run([fanzha, "replay", "--rules", RULES, "--ledger-window-ms", "3600000",
             "--ledger-grace-ms", "60000", "--max-event-lag-ms", "0", "--max-event-ahead-ms", "0", "--stats-output", stats,
             "-o", alerts_f, ev], "fanzha replay")
        periods_f = os.path.join(tmp, "periods.ndjson")
        run([fanzha, "stats", stats, "--period", "week", "--stats-output", periods_f],
            "fanzha stats --period week")
        periods = {}
        for line in open(periods_f, encoding="utf-8"):
            p = json.loads(line)
            periods[p["period"]["label"]] = p
        alerts = [json.loads(line) for line in open(alerts_f, encoding="utf-8")]
        # the weeks checked: the first week of records (nothing earlier: 环比 and 同比 "—"),
        # this year's first week (同比 before the first record: "—"), a week with 同比, the
        # empty week, and the last week (a new category, KWD, JPY, 同比 of an empty week)
        weeks = {"2025-W46": "2025-11-16", "2026-W45": "2026-11-08", "2026-W47": "2026-11-22",
                 "2026-W48": "2026-11-29", "2026-W49": "2026-12-06"}
        checked = 0
        for label, sunday in weeks.items():
            if label not in periods:
                fail(f"fanzha stats wrote no period {label}: {sorted(periods)}")
                continue
            for lang in ("zh", "en"):
                page = os.path.join(out, f"report-{label}-{lang}.html")
                cmd = [fanzha, "stats", stats, "--period", "week", "--to", sunday,
                       "--report", page, "--alerts", alerts_f, "--lang", lang]
                if lang == "en":
                    cmd += ["--utc-offset", "+08:00"]
                if label.startswith("2026"):
                    cmd += ["--from", "2026-11-02"]
                run(cmd, f"fanzha stats --report ({label}, {lang})")
                checked += check_page(page, periods[label], alerts, lang)
        # what the expectations rely on, so that the test cannot pass vacuously
        last = periods["2026-W49"]["rows"]
        if last[0]["period_ago"] is None or last[0]["previous"] is None:
            fail("2026-W49 should compare with 2025-W49 (zeros) and 2026-W48")
        if periods["2026-W45"]["rows"][0]["period_ago"] is not None:
            fail("2026-W45's 同比 (2025-W45) lies before the first record: want null")
        if HOSTILE not in [r["category"] for r in periods["2026-W47"]["rows"]]:
            fail(f"2026-W47 lacks the category {HOSTILE!r}")
        if periods["2026-W48"]["rows"][0]["screened"] != 0:
            fail("2026-W48 should be empty")
        if {m["currency"] for m in last[0]["money"]} != {"CNY", "KWD", "JPY"}:
            fail(f"2026-W49 currencies {last[0]['money']}")
        if not any(m["intercepted"] > 0 for m in last[0]["money"]):
            fail("2026-W49 intercepted nothing")
        # the page without alert records says so, and still shows every figure
        page = os.path.join(out, "report-no-alerts.html")
        run([fanzha, "stats", stats, "--period", "week", "--from", "2026-11-02", "--report",
             page], "fanzha stats --report without --alerts")
        dom = chromium("--dump-dom", "file://" + page)
        if 'data-figure="campaigns.missing"' not in dom or "--alerts" not in dom:
            fail("without --alerts the page does not say the campaign tables need them")
        # screenshot and print of the last week's page
        page = os.path.join(out, "report-2026-W49-zh.html")
        shot = os.path.join(out, "report.png")
        chromium("--window-size=1000,1400", "--hide-scrollbars", f"--screenshot={shot}",
                 "file://" + page)
        size = headless.png_size(shot) if os.path.exists(shot) else None
        if size != (1000, 1400) or os.path.getsize(shot) < 20000:
            fail(f"screenshot {shot}: {size}, "
                 f"{os.path.getsize(shot) if os.path.exists(shot) else 0} bytes")
        pdf = os.path.join(out, "report.pdf")
        chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", "file://" + page)
        charts = [("发案数与拦截转账笔数", "纵轴：笔数")] + \
            [(f"案损与挽损金额（{c}）", f"纵轴：{c}") for c in ("CNY", "JPY", "USD", "KWD")] + \
            [("各类别预警数", "纵轴：预警数")]
        pages = check_pdf(pdf, os.path.join(out, "page"), charts) if os.path.exists(pdf) else 0
        print(f"report_page: {len(weeks)} weeks x 2 languages, {checked} figures checked; "
              f"PDF {pages} A4 page(s); " + ("ok" if not FAILS else f"{len(FAILS)} failure(s)"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
