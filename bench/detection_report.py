#!/usr/bin/env python3
"""Write docs/detection.md: the detection-quality table of the shipped rules
on the real SMS corpora, for the whole corpora and for the tune/check split.

    bench/detection_report.py [--fanzha BIN] [--out docs/detection.md]

Runs bench/quality.py three times (--part all, tune, check). Exits 3 when the
corpora are absent.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import quality  # noqa: E402

INTRO = """# Detection quality

How well the shipped rules (`rules/`) separate fraud from advertising and
ordinary messages on the real SMS corpora in `../shared/data`: provenance
and licences are in that folder's README. Reproduce with:

```sh
python3 bench/detection_report.py          # this page
python3 bench/quality.py --part check      # one table; --show-misses CLASS / --show-hits CLASS to inspect
```

Every message becomes an SMS event and goes through `fanzha replay
--verdicts` with dedup off. A message counts as *flagged* when at least one
enabled rule matched. **Recall** is the share of fraud messages flagged.
**False positives** is the share of advertising or ham messages flagged. The
*+shadow* column shows what the rate would be if the `status: shadow` rules
were enabled too.

Classes:
- Chinese fraud: `sms-zh-fbs/FR_*` and `sms-zh-spam80w/fraud_*`.
- English fraud-like spam: UCI spam that asks the recipient to claim, call
  back, verify or pay. The cue list is fixed in bench/quality.py, so the
  class is the same for every ruleset. `uci/spam(all)` is shown for
  reference.
- SpamHunter (`sms-en-spamhunter`, smishing reported on Twitter in many
  countries, translated to English): `spamhunter/Fraud` is fraud (account
  alerts, delivery, tax refund, prize, card, financial, covid) and
  `spamhunter/Ads` advertising (promotions, loans and gambling, politics).
  The machine translation leaves verbs in their base form ("your account
  have be block"), which rules meet by matching word stems.
- Advertising: `AD_*`, `ad_*`.
- Ham: UCI ham.
- `IL_*` (illegal services), `Other` and `spam_mixed` are shown without a
  target.

Parts of these corpora are held back and evaluated separately. To estimate
how well the rules generalise, every class is split by a hash of the message
id. Rules were written and tuned looking only at the *tune* two thirds; the
*check* third shows the gap.
"""


def run_part(fanzha, part, tmp):
    out = os.path.join(tmp, f"{part}.json")
    r = subprocess.run([sys.executable, os.path.join(HERE, "quality.py"), "--fanzha", fanzha,
                        "--part", part, "--json", out], capture_output=True, text=True)
    if r.returncode == 3:
        print("detection_report: SKIPPED: no SMS corpora (set FANZHA_DATA)")
        sys.exit(3)
    if r.returncode not in (0, 1):
        sys.exit(f"detection_report: quality.py failed: {r.stderr[-2000:]}")
    return json.load(open(out))["classes"]


def fmt(kind, rate):
    return f"{rate:.3f}" if kind == "fraud" else f"{rate * 100:.2f} %"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fanzha", default=os.path.join(ROOT, "build", "fanzha"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "detection.md"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        parts = {p: run_part(a.fanzha, p, tmp) for p in ("all", "tune", "check")}
        md_all = subprocess.run([sys.executable, os.path.join(HERE, "quality.py"), "--fanzha",
                                 a.fanzha, "--markdown"], capture_output=True, text=True).stdout
    rs = subprocess.run([a.fanzha, "rules", "check", "--fast", os.path.join(ROOT, "rules")],
                        capture_output=True, text=True).stdout.strip()
    # the summary line only; the prefilter's list of always-scanned regexes follows it
    rs = rs.splitlines()[0] if rs else rs
    lines = [INTRO, f"\nMeasured on {time.strftime('%Y-%m-%d')}; `fanzha rules check` said: "
             f"{rs.replace(ROOT + '/', '')}\n", "\n## Whole corpora\n\n"]
    lines += [l + "\n" for l in md_all.splitlines() if l.startswith("|")]
    lines.append("\n## Generalisation: tune vs check\n\n")
    lines.append("| class | kind | target | tune | check | check − tune |\n|---|---|---|---:|---:|---:|\n")
    for cls, (kind, target) in quality.TARGETS.items():
        if cls not in parts["tune"] or kind == "info":
            continue
        t, c = parts["tune"][cls]["rate"], parts["check"][cls]["rate"]
        goal = f">= {target:.2f}" if kind == "fraud" else f"<= {target * 100:.1f} %"
        d = (c - t) if kind == "fraud" else (c - t) * 100
        lines.append(f"| {cls} | {kind} | {goal} | {fmt(kind, t)} | {fmt(kind, c)} | "
                     f"{d:+.3f}{'' if kind == 'fraud' else ' pt'} |\n")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("".join(lines))
        with open(os.path.join(HERE, "detection_notes.md"), encoding="utf-8") as n:
            f.write("\n" + n.read())
    print(f"detection_report: wrote {os.path.relpath(a.out, ROOT)}")


if __name__ == "__main__":
    main()
