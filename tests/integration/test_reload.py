"""SIGHUP reloads the rules: a broken ruleset is rejected with file:line and
the old one keeps serving; a good one takes over, visible in the alerts'
ruleset version."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid

import harness as h

import unittest


class Reload(unittest.TestCase):
    def test_sighup_bad_then_good_rules(self):
        rules = tempfile.mkdtemp(prefix="fanzha-rules-")
        self.addCleanup(shutil.rmtree, rules)
        shutil.copy(os.path.join(h.RULES, "test.yaml"), rules)
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1})
        group = f"g-reload-{uuid.uuid4().hex[:6]}"
        f = h.Fanzha("reload", topics, group, ("--rules-dir", rules, "--rules-watch", "0")).start()
        try:
            self.assertTrue(h.wait_for(lambda: "assigned" in f.log()), f.log())
            v1 = f.log().split("ruleset ")[1].split()[0]

            def send(eid, text):
                h.produce(topics["events"], [("k", json.dumps(
                    {"id": eid, "ts": 1764288000000, "type": "sms", "text": text},
                    ensure_ascii=False).encode())])

            h.wait_ready(f)
            send("r1", "您的账户已被冻结")           # matches it.zh.frozen
            send("r2", "pig butchering special offer")  # matches nothing yet
            self.assertTrue(h.wait_for(lambda: h.processed(f) >= 2), f.log())
            # 1. a broken file: rejected, old rules keep serving
            with open(os.path.join(rules, "broken.yaml"), "w") as fp:
                fp.write("rules:\n  - id: bad\n    category: x\n    severity: urgent\n"
                         "    fields: [text]\n    pattern: 'x'\n")
            f.signal(signal.SIGHUP)
            self.assertTrue(h.wait_for(lambda: "keeps serving" in f.log()), f.log())
            self.assertIn("broken.yaml:4:", f.log())
            send("r3", "您的银行卡已冻结")
            # 2. a good change: a new rule, a new version
            os.remove(os.path.join(rules, "broken.yaml"))
            with open(os.path.join(rules, "new.yaml"), "w") as fp:
                fp.write("rules:\n  - id: it.en.pig\n    category: romance_investment\n"
                         "    severity: high\n    fields: [text]\n    pattern: 'pig butchering'\n")
            f.signal(signal.SIGHUP)
            self.assertTrue(h.wait_for(lambda: f.log().count(" active: ") >= 2), f.log())
            v2 = f.log().split(" active: ")[-2].split("ruleset ")[-1]
            self.assertNotEqual(v1, v2)
            send("r4", "pig butchering special offer, again")
            self.assertTrue(h.wait_for(lambda: len(h.consume_all(topics["alerts"], idle_s=1)) >= 3, 60))
        finally:
            f.stop()
        alerts = {a["event_id"]: a for a in h.alerts_of(h.consume_all(topics["alerts"]))}
        self.assertEqual(set(alerts), {"r1", "r3", "r4"})
        self.assertEqual(alerts["r1"]["ruleset"], v1)
        self.assertEqual(alerts["r3"]["ruleset"], v1)   # the bad reload changed nothing
        self.assertEqual(alerts["r4"]["ruleset"], v2)
        self.assertEqual(alerts["r4"]["rule"]["id"], "it.en.pig")
        self.assertEqual(f.proc.returncode, 0)


class ReloadUnderTraffic(unittest.TestCase):
    """Rules change while events stream in: a broken file (noticed by
    inotify) and a ruleset whose own examples fail (pushed through the admin
    socket) are both rejected with the old rules serving; then a good change
    takes over. Every fraud event alerts exactly once - nothing lost,
    nothing scanned twice - and each alert names a ruleset that was active."""

    def test_failing_reloads_under_live_traffic(self):
        rules = tempfile.mkdtemp(prefix="fanzha-rules-")
        self.addCleanup(shutil.rmtree, rules)
        shutil.copy(os.path.join(h.RULES, "test.yaml"), rules)
        sock = os.path.join(tempfile.mkdtemp(prefix="fanzha-admin-"), "admin.sock")
        topics = h.create_topics({"events": 4, "alerts": 2, "dlq": 1})
        group = f"g-reload-live-{uuid.uuid4().hex[:6]}"
        f = h.Fanzha("reload-live", topics, group,
                     ("--rules-dir", rules, "--admin-socket", sock,
                      "--rules-watch-debounce-ms", "200")).start()
        ev = h.Events(24000, seed=31, fraud_rate=0.3)
        chunks = [ev.records[i::6] for i in range(6)]
        admin_out = []

        def admin(cmd):
            r = subprocess.run([h.FANZHA, "admin", "--socket", sock, cmd],
                               capture_output=True, text=True, timeout=60)
            admin_out.append((cmd, r.returncode, r.stdout, r.stderr))
            return r

        try:
            self.assertTrue(h.wait_for(lambda: "assigned" in f.log()), f.log())
            v1 = json.loads(admin("status").stdout)["ruleset"]
            h.produce(topics["events"], chunks[0])
            # 1. a broken file appears: inotify notices, the reload is rejected
            with open(os.path.join(rules, "broken.yaml"), "w") as fp:
                fp.write("rules:\n  - id: bad\n    category: x\n    severity: low\n"
                         "    pattern: '(unclosed'\n")
            self.assertTrue(h.wait_for(lambda: "reload rejected" in f.log()), f.log())
            self.assertIn("broken.yaml:5:", f.log())
            h.produce(topics["events"], chunks[1])
            os.remove(os.path.join(rules, "broken.yaml"))
            # 2. a rule whose own example fails: rejected through the admin socket
            with open(os.path.join(rules, "untested.yaml"), "w") as fp:
                fp.write("rules:\n  - id: it.wrong\n    category: x\n    severity: low\n"
                         "    pattern: 'pig butchering'\n"
                         "    tests:\n      should_match: ['nothing like it']\n")
            r = admin("reload")
            self.assertEqual(r.returncode, 1, admin_out)
            self.assertIn("should_match", r.stdout)
            self.assertIn("untested.yaml:7", r.stdout)
            h.produce(topics["events"], chunks[2])
            st = json.loads(admin("status").stdout)
            self.assertEqual(st["ruleset"], v1)
            self.assertGreaterEqual(st["reloads_failed"], 2)
            # 3. a good change: picked up by the watch, a new version
            os.remove(os.path.join(rules, "untested.yaml"))
            with open(os.path.join(rules, "new.yaml"), "w") as fp:
                fp.write("rules:\n  - id: it.en.table\n    category: test_only\n"
                         "    severity: low\n    pattern: 'table for two'\n"
                         "    tests:\n      should_match: ['Your table for two is confirmed']\n")
            self.assertTrue(h.wait_for(lambda: json.loads(admin("status").stdout)["ruleset"] != v1,
                                     30), f.log())
            v2 = json.loads(admin("status").stdout)["ruleset"]
            self.assertTrue(h.wait_for(lambda: "worker(s) moved" in f.log()), f.log())
            for c in chunks[3:]:
                h.produce(topics["events"], c)
            h.wait_caught_up(group, topics["events"], proc=f)
            stats = admin("rule-stats").stdout.splitlines()
            self.assertTrue(any('"id":"it.en.table"' in line for line in stats), stats)
        finally:
            f.stop()
        alerts = h.alerts_of(h.consume_all(topics["alerts"]))
        by_id = {}
        for a in alerts:
            by_id.setdefault(a["event_id"], []).append(a)
        dups = {k: len(v) for k, v in by_id.items() if len(v) > 1}
        self.assertEqual(dups, {}, "an event was scanned and alerted twice")
        self.assertTrue(ev.fraud_ids <= set(by_id), f"{len(ev.fraud_ids - set(by_id))} fraud "
                        "events lost")
        versions = {a["ruleset"] for a in alerts}
        self.assertLessEqual(versions, {v1, v2})
        self.assertIn(v1, versions)
        self.assertIn(v2, versions)
        # the new rule alerted only under the new version; never the rejected ones
        for a in alerts:
            ids = {r["id"] for r in a["rules"]}
            self.assertNotIn("it.wrong", ids)
            self.assertNotIn("bad", ids)
            if "it.en.table" in ids:
                self.assertEqual(a["ruleset"], v2)
        self.assertTrue(any("it.en.table" in {r["id"] for r in a["rules"]} for a in alerts))
        self.assertIn("longest worker stall", f.log())
        self.assertEqual(f.proc.returncode, 0)


if __name__ == "__main__":
    h.main()
