"""SIGHUP reloads the rules: a broken ruleset is rejected with file:line and
the old one keeps serving; a good one takes over, visible in the alerts'
ruleset version."""
import json
import os
import shutil
import signal
import tempfile
import time
import uuid

import harness as h

import unittest


def wait_for(pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


class Reload(unittest.TestCase):
    def test_sighup_bad_then_good_rules(self):
        rules = tempfile.mkdtemp(prefix="fanzha-rules-")
        self.addCleanup(shutil.rmtree, rules)
        shutil.copy(os.path.join(h.RULES, "test.yaml"), rules)
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1})
        group = f"g-reload-{uuid.uuid4().hex[:6]}"
        f = h.Fanzha("reload", topics, group, ("--rules-dir", rules)).start()
        try:
            self.assertTrue(wait_for(lambda: "assigned" in f.log()), f.log())
            v1 = f.log().split("ruleset ")[1].split()[0]

            def send(eid, text):
                h.produce(topics["events"], [("k", json.dumps(
                    {"id": eid, "ts": 1764288000000, "type": "sms", "text": text},
                    ensure_ascii=False).encode())])

            send("r1", "您的账户已被冻结")           # matches it.zh.frozen
            send("r2", "pig butchering special offer")  # matches nothing yet
            # 1. a broken file: rejected, old rules keep serving
            with open(os.path.join(rules, "broken.yaml"), "w") as fp:
                fp.write("rules:\n  - id: bad\n    category: x\n    severity: urgent\n"
                         "    fields: [text]\n    pattern: 'x'\n")
            f.signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "previous ruleset keeps serving" in f.log()),
                            f.log())
            self.assertIn("broken.yaml:4:", f.log())
            send("r3", "您的银行卡已冻结")
            # 2. a good change: a new rule, a new version
            os.remove(os.path.join(rules, "broken.yaml"))
            with open(os.path.join(rules, "new.yaml"), "w") as fp:
                fp.write("rules:\n  - id: it.en.pig\n    category: romance_investment\n"
                         "    severity: high\n    fields: [text]\n    pattern: 'pig butchering'\n")
            f.signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: f.log().count(" active: ") >= 2), f.log())
            v2 = f.log().split(" active: ")[-2].split("ruleset ")[-1]
            self.assertNotEqual(v1, v2)
            send("r4", "pig butchering special offer, again")
            self.assertTrue(wait_for(lambda: len(h.consume_all(topics["alerts"], 1)) >= 3, 60))
        finally:
            f.stop()
        alerts = {a["event_id"]: a for a in h.alerts_of(h.consume_all(topics["alerts"]))}
        self.assertEqual(set(alerts), {"r1", "r3", "r4"})
        self.assertEqual(alerts["r1"]["ruleset"], v1)
        self.assertEqual(alerts["r3"]["ruleset"], v1)   # the bad reload changed nothing
        self.assertEqual(alerts["r4"]["ruleset"], v2)
        self.assertEqual(alerts["r4"]["rule"]["id"], "it.en.pig")
        self.assertEqual(f.proc.returncode, 0)


if __name__ == "__main__":
    h.main()
