#!/usr/bin/env python3
"""The quick start's sample traffic (deploy/sample/events.ndjson) shows what
fanzha does: replayed as feed_and_watch.py produces it (fresh ids and
times, the raw lines as they are), it must raise alerts, dead letters for
its two broken lines, and the interception of the transfer that the
subscriber warned by the first SMS then makes, so that the statistics the
quick start prints show money intercepted (挽损) and not 0.00.

    tests/sample_events.py FANZHA_BIN
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "deploy", "sample", "events.ndjson")


def main():
    fanzha = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        events = os.path.join(tmp, "events.ndjson")
        with open(SAMPLE, encoding="utf-8") as f, open(events, "w", encoding="utf-8") as out:
            for i, line in enumerate(f):
                rec = json.loads(line)
                if "raw" in rec:
                    out.write(rec["raw"] + "\n")
                else:
                    ev = dict(rec["event"], id=f"qs-{i + 1:02d}", ts=1764288000000 + i)
                    out.write(json.dumps(ev, ensure_ascii=False) + "\n")
        alerts = os.path.join(tmp, "alerts.ndjson")
        # the default rules cache: compiled once for every test that loads rules/
        r = subprocess.run([fanzha, "replay", "--rules", os.path.join(ROOT, "rules"),
                            "-o", alerts, events],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            sys.exit(f"sample_events: fanzha replay exited {r.returncode}:\n{r.stderr[-2000:]}")
        recs = [json.loads(line) for line in open(alerts, encoding="utf-8")]
    fails = []
    plain = [a for a in recs if a.get("type") == "alert"]
    intercepts = [a for a in plain if a["rule"]["id"] == "fanzha.intercept"]
    if len(plain) < 5:
        fails.append(f"{len(plain)} alerts, want at least 5")
    if [(a["from"], a.get("intercept", {}).get("payer_warned")) for a in intercepts] != \
            [("+8613912345678", True)]:
        fails.append(f"intercepts {[(a['from'], a.get('intercept')) for a in intercepts]}, want "
                     "one: the transfer of +8613912345678, warned by the first SMS")
    if "invalid 2" not in r.stderr.replace(",", "") and " 2 invalid" not in r.stderr:
        fails.append("the two broken lines are not counted invalid: " + r.stderr.splitlines()[0])
    if "intercepted 30000.00 CNY" not in r.stdout + r.stderr:
        fails.append("the statistics do not show the 30000.00 CNY intercepted")
    for f in fails:
        print("sample_events: FAILED: " + f)
    print(f"sample_events: {len(plain)} alerts, {len(intercepts)} intercept(s): "
          + ("ok" if not fails else f"{len(fails)} failure(s)"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
