"""A shadow revision on live traffic (docs/rules.md, "A shadow revision"):
a running instance gets a candidate revision of one of its rules by hot
reload (the admin socket); `fanzha admin rule-stats`, `fanzha rules stats
--admin` and the metrics show both revisions' counts over the same events,
exactly, for a known mix (only the old one, both, only the candidate,
neither); the candidate never alerts (alerts name rev 1 only). `fanzha rules promote` then makes it
the enabled revision, a SIGHUP loads that, and the new revision alerts
while the old one is gone, its counters starting over with the ruleset."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.request
import uuid

import harness as h

import unittest

ENABLED = """\
rules:
  # the live revision: any parcel message
  - id: it.parcel
    rev: 1
    category: parcel_delivery
    severity: high
    fields: [text]
    pattern: 'parcel'
"""

CANDIDATE = """\
rules:
  # the candidate: the fee, not the word parcel
  - id: it.parcel
    rev: 2
    status: shadow
    category: parcel_delivery
    severity: high
    fields: [text]
    pattern: 'customs fee'
"""

# (text, old revision matches, candidate matches)
MIX = ([("your parcel is on its way", 1, 0)] * 3 +
       [("parcel held: pay the customs fee", 1, 1)] * 2 +
       [("a customs fee is due now", 0, 1)] * 4 +
       [("see you at dinner", 0, 0)])


class ShadowRevision(unittest.TestCase):
    def test_shadow_revision_evidence_then_promote(self):
        rules = tempfile.mkdtemp(prefix="fanzha-rules-")
        self.addCleanup(shutil.rmtree, rules)
        with open(os.path.join(rules, "parcel.yaml"), "w") as fp:
            fp.write(ENABLED)
        sock = os.path.join(tempfile.mkdtemp(prefix="fanzha-admin-"), "admin.sock")
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1})
        group = f"g-shadow-{uuid.uuid4().hex[:6]}"
        f = h.Fanzha("shadow", topics, group,
                     ("--rules-dir", rules, "--admin-socket", sock, "--rules-watch", "0",
                      "--dedup-window-ms", "0")).start()  # every match alerts
        seq = [0]

        def send(batch):
            recs = []
            for text, _, _ in batch:
                seq[0] += 1
                eid = f"e{seq[0]}"
                recs.append((eid, json.dumps(
                    {"id": eid, "ts": 1764288000000 + seq[0], "type": "sms",
                     "from": f"+4470000{seq[0]:05d}", "to": "+447999000001",
                     "text": f"{text} (ref {seq[0]})"}).encode()))
            h.produce(topics["events"], recs)
            return [r[0] for r in recs]

        def admin(cmd):
            return subprocess.run([h.FANZHA, "admin", "--socket", sock, cmd],
                                  capture_output=True, text=True, timeout=60)

        def stats():
            r = admin("rule-stats")
            self.assertEqual(r.returncode, 0, r.stderr)
            return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

        def reloaded(n):  # the n-th ruleset active and every worker on it
            return h.wait_for(lambda: f.log().count("worker(s) moved") >= n, 60)

        try:
            h.wait_ready(f)
            self.assertTrue(h.wait_for(lambda: "assigned" in f.log()), f.log())
            v1 = json.loads(admin("status").stdout)["ruleset"]
            before = send(MIX[:3])  # old rules only: counted before the candidate exists
            h.wait_caught_up(group, topics["events"], proc=f)

            # 1. the candidate arrives by hot reload
            with open(os.path.join(rules, "candidate.yaml"), "w") as fp:
                fp.write(CANDIDATE)
            moved = f.log().count("worker(s) moved")
            r = admin("reload")
            self.assertEqual(r.returncode, 0, (r.stdout, r.stderr, f.log()[-3000:]))
            self.assertTrue(reloaded(moved + 1), f.log()[-3000:])
            v2 = json.loads(admin("status").stdout)["ruleset"]
            self.assertNotEqual(v1, v2)
            mixed = send(MIX)
            h.wait_caught_up(group, topics["events"], proc=f)

            rows = [s for s in stats() if s["id"] == "it.parcel"]
            by_rev = {s["rev"]: s for s in rows}
            self.assertEqual(sorted(by_rev), [1, 2], rows)
            old, new = by_rev[1], by_rev[2]
            # the same 10 events: counted since the reload, the first 3 not
            self.assertEqual((old["status"], old["matches"], old["pair_rev"], old["both"],
                              old["only"]), ("enabled", 5, 2, 2, 3), old)
            self.assertEqual((new["status"], new["matches"], new["pair_rev"], new["both"],
                              new["only"]), ("shadow", 6, 1, 2, 4), new)
            self.assertTrue(all(s["ruleset"] == v2 for s in rows), rows)

            # the same through `fanzha rules stats --admin`
            r = subprocess.run([h.FANZHA, "rules", "stats", "--admin", sock],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("revision pairs (same events)", r.stdout)
            line = [l for l in r.stdout.splitlines()
                    if l.startswith("it.parcel") and len(l.split()) == 8]
            self.assertEqual(line and line[0].split(), ["it.parcel", "1", "5", "2", "6", "2",
                                                        "3", "4"], r.stdout)

            # and the metrics
            port = f.metrics_port()
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                          timeout=30).read().decode()
            for outcome, n in (("both", 2), ("only_enabled", 3), ("only_shadow", 4)):
                want = (f'fanzha_rule_revision_events_total{{rule="it.parcel",'
                        f'outcome="{outcome}"}} {n}')
                self.assertIn(want, body, [l for l in body.splitlines() if "revision" in l])
            self.assertRegex(body, r'fanzha_rule_matches_total\{rule="it.parcel",rev="2",'
                                   r'[^}]*status="shadow"\} 6\n')

            # 2. promote: a dry run writes nothing, then the edit
            with open(os.path.join(rules, "parcel.yaml")) as fp:
                self.assertEqual(fp.read(), ENABLED)
            r = subprocess.run([h.FANZHA, "rules", "promote", "it.parcel", "--rules", rules,
                                "--dry-run"], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("would promote rule 'it.parcel'", r.stdout)
            with open(os.path.join(rules, "candidate.yaml")) as fp:
                self.assertEqual(fp.read(), CANDIDATE)
            r = subprocess.run([h.FANZHA, "rules", "promote", "it.parcel", "--rules", rules],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("-    status: shadow\n+    status: enabled\n", r.stdout)
            self.assertIn("promoted rule 'it.parcel': rev 2 enabled (was shadow), rev 1 removed",
                          r.stdout)
            with open(os.path.join(rules, "parcel.yaml")) as fp:
                self.assertEqual(fp.read(), "rules:\n  # the live revision: any parcel message\n")
            with open(os.path.join(rules, "candidate.yaml")) as fp:
                self.assertEqual(fp.read(), CANDIDATE.replace("status: shadow",
                                                              "status: enabled"))
            moved = f.log().count("worker(s) moved")
            f.signal(signal.SIGHUP)
            self.assertTrue(reloaded(moved + 1), f.log()[-3000:])
            v3 = json.loads(admin("status").stdout)["ruleset"]
            self.assertNotIn(v3, (v1, v2))
            after = send([MIX[0], MIX[0], MIX[5], MIX[5], MIX[5]])  # 2 parcel, 3 fee
            h.wait_caught_up(group, topics["events"], proc=f)
            rows = [s for s in stats() if s["id"] == "it.parcel"]
            self.assertEqual(len(rows), 1, rows)
            self.assertEqual((rows[0]["rev"], rows[0]["status"], rows[0]["matches"]),
                             (2, "enabled", 3), rows)
            self.assertNotIn("pair_rev", rows[0])
            self.assertTrue(h.wait_for(
                lambda: len(h.alerts_of(h.consume_all(topics["alerts"], idle_s=1))) >= 8, 60))
        finally:
            f.stop()
        alerts = {a["event_id"]: a for a in h.alerts_of(h.consume_all(topics["alerts"]))}
        # before the candidate: 3 parcel alerts of rev 1
        want = {e: (1, v1) for e in before}
        # with the candidate in shadow: rev 1 alone alerts, the candidate rides along
        for e, (_, old_m, new_m) in zip(mixed, MIX):
            if old_m:
                want[e] = (1, v2)
        # after the promotion: rev 2 alerts, the word parcel alone no more
        for e in after[2:]:
            want[e] = (2, v3)
        got = {e: (a["rule"]["rev"], a["ruleset"]) for e, a in alerts.items()}
        self.assertEqual(got, want)
        self.assertEqual(f.proc.returncode, 0)


if __name__ == "__main__":
    h.main()
