"""A model term under `fanzha run`: the score reaches the alert, and a new
model file is a new ruleset. One daemon watching a rules directory with a
model-only rule (`model: {file: models/m.fzm, min_score: 0.5}`):
  1. the model, trained by `fanzha model train` on a tiny corpus where
     prize messages are fraud, alerts on a prize message with its score in
     the alert's "models" field, and not on a greeting;
  2. the model file is replaced (trained again with the labels swapped,
     written as train writes it: a temporary file renamed into place): the
     rules watch reloads, the version in `admin status` changes, and the
     same kinds of messages now get the opposite verdicts;
  3. a damaged model file is refused at reload, naming the file, and the
     model before it keeps serving.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import harness as h

import unittest

RULE = """rules:
  - id: it.model.fraud
    category: test_only
    severity: low
    model: {file: models/m.fzm, min_score: 0.5}
"""

PRIZE = ["you won a prize claim it now", "claim your prize today", "prize winner claim cash now"]
HELLO = ["hello friend see you soon", "hello are we still on for lunch", "see you soon friend"]


def train(tmp, rules, fraud, other):
    corpus = os.path.join(tmp, f"corpus-{uuid.uuid4().hex[:6]}.tsv")
    with open(corpus, "w") as fp:
        for t in fraud:
            fp.write(f"1\t{t}\n")
        for t in other:
            fp.write(f"0\t{t}\n")
    subprocess.run([h.FANZHA, "model", "train", corpus, "-o",
                    os.path.join(rules, "models", "m.fzm"), "--bits", "12", "--chars", "0-0",
                    "--words", "1", "--c", "100"], check=True, capture_output=True, timeout=60)


def sms(eid, text):
    return json.dumps({"id": eid, "ts": int(time.time() * 1000), "type": "sms",
                       "from": "+8613800000001", "to": "+8613900000002", "text": text})


class ModelReload(unittest.TestCase):
    def test_model_score_in_alert_and_reload(self):
        tmp = tempfile.mkdtemp(prefix="fanzha-model-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rules = os.path.join(tmp, "rules")
        os.makedirs(os.path.join(rules, "models"))
        with open(os.path.join(rules, "r.yaml"), "w") as fp:
            fp.write(RULE)
        train(tmp, rules, PRIZE, HELLO)
        sock = os.path.join(tmp, "admin.sock")
        topics = h.create_topics({"events": 1, "alerts": 1, "dlq": 1})
        group = f"g-model-{uuid.uuid4().hex[:6]}"
        f = h.Fanzha("model-reload", topics, group,
                     ("--rules-dir", rules, "--admin-socket", sock,
                      "--rules-watch-debounce-ms", "200", "--dedup-window-ms", "0")).start()

        def status():
            r = subprocess.run([h.FANZHA, "admin", "--socket", sock, "status"],
                               capture_output=True, text=True, timeout=30)
            return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None

        def alerts():
            return {a["event_id"]: a for a in h.alerts_of(h.consume_all(topics["alerts"],
                                                                          idle_s=2.0))}

        try:
            self.assertTrue(h.wait_for(lambda: status() is not None, 60), f.log())
            v1 = status()["ruleset"]
            # 1. prize is fraud, the greeting is not
            h.produce(topics["events"], [("k", sms("a1", "please claim the prize now")),
                                         ("k", sms("a2", "hello friend, lunch soon?"))])
            self.assertTrue(h.wait_for(lambda: "a1" in alerts(), 30), f.log())
            got = alerts()
            self.assertNotIn("a2", got)
            m = got["a1"]["models"]
            self.assertEqual(m[0]["file"], "models/m.fzm")
            self.assertGreater(m[0]["score"], 0.5)
            self.assertEqual(got["a1"]["ruleset"], v1)

            # 2. the labels swapped: a new model file, a new ruleset
            train(tmp, rules, HELLO, PRIZE)
            self.assertTrue(h.wait_for(lambda: status()["ruleset"] != v1, 15), f.log())
            v2 = status()["ruleset"]
            h.produce(topics["events"], [("k", sms("b1", "please claim the prize now")),
                                         ("k", sms("b2", "hello friend, lunch soon?"))])
            self.assertTrue(h.wait_for(lambda: "b2" in alerts(), 30), f.log())
            got = alerts()
            self.assertNotIn("b1", got)
            self.assertEqual(got["b2"]["ruleset"], v2)
            self.assertGreater(got["b2"]["models"][0]["score"], 0.5)

            # 3. a damaged model file: refused, the last good model serves
            failed = status()["reloads_failed"]
            path = os.path.join(rules, "models", "m.fzm")
            with open(path, "rb") as fp:
                data = bytearray(fp.read())
            data[len(data) // 2] ^= 0x40
            with open(path + ".new", "wb") as fp:
                fp.write(data)
            os.rename(path + ".new", path)
            self.assertTrue(h.wait_for(lambda: status()["reloads_failed"] > failed, 15), f.log())
            st = status()
            self.assertIn("m.fzm", st["last_reload_error"])
            self.assertIn("checksum", st["last_reload_error"])
            self.assertEqual(st["ruleset"], v2)
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log())


if __name__ == "__main__":
    h.main()
