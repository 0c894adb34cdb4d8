"""The rules watch cannot go quiet. One daemon, its rules directory put
through what operators and Kubernetes do to it:
  1. a ConfigMap update, step by step as the kubelet writes it (a new
     ..<timestamp> directory, a ..data_tmp symlink to it renamed over
     ..data, the old directory removed): reloaded;
  2. the directory deleted and a new one renamed into place: reloaded;
  3. the directory gone: the old ruleset keeps serving and `admin status`
     says so; it comes back: watched again and reloaded;
  4. a list file that is a FIFO or links out of the directory: the reload
     is rejected at once, naming the file, and the old rules keep serving.
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
  - id: it.watch.{tag}
    category: test_only
    severity: low
    fields: [text]
    list: words.txt
"""


class KubeletWriter:
    """The ConfigMap volume layout and its atomic update, as the kubelet's
    AtomicWriter does it."""

    def __init__(self, root):
        self.root = root
        self.n = 0

    def publish(self, files):
        self.n += 1
        ts = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + f"{self.n:09d}"
        new = os.path.join(self.root, ts)
        os.mkdir(new)
        for name, text in files.items():
            with open(os.path.join(new, name), "w") as fp:
                fp.write(text)
        data = os.path.join(self.root, "..data")
        old = os.readlink(data) if os.path.islink(data) else None
        tmp = os.path.join(self.root, "..data_tmp")
        os.symlink(ts, tmp)
        os.rename(tmp, data)
        for name in files:  # the user-visible links, made once
            link = os.path.join(self.root, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)
        if old:
            shutil.rmtree(os.path.join(self.root, old))


class RulesWatch(unittest.TestCase):
    def test_watch_survives_replacement(self):
        top = tempfile.mkdtemp(prefix="fanzha-watch-")
        self.addCleanup(shutil.rmtree, top, True)
        rules = os.path.join(top, "rules")
        os.mkdir(rules)
        kube = KubeletWriter(rules)
        kube.publish({"rules.yaml": RULE.format(tag="one"), "words.txt": "alpha\n"})
        sock = os.path.join(top, "admin.sock")
        topics = h.create_topics({"events": 1, "alerts": 1, "dlq": 1})
        group = f"g-watch-{uuid.uuid4().hex[:6]}"
        f = h.Fanzha("rules-watch", topics, group,
                     ("--rules-dir", rules, "--admin-socket", sock,
                      "--rules-watch-debounce-ms", "200")).start()

        def status():
            r = subprocess.run([h.FANZHA, "admin", "--socket", sock, "status"],
                               capture_output=True, text=True, timeout=30)
            return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None

        def version():
            st = status()
            return st and st["ruleset"]

        try:
            self.assertTrue(h.wait_for(lambda: status() is not None, 60), f.log())
            v1 = version()
            st = status()
            self.assertTrue(st["rules_source_ok"], st)
            self.assertIn("watched", st["rules_source"])

            # 1. the kubelet swaps ..data
            kube.publish({"rules.yaml": RULE.format(tag="two"), "words.txt": "beta\n"})
            self.assertTrue(h.wait_for(lambda: version() != v1, 15), f.log())
            v2 = version()
            self.assertEqual(len([n for n in os.listdir(rules) if n.startswith("..2")]), 1)

            # 2. deleted, and a new directory renamed into place
            new = os.path.join(top, "rules.new")
            os.mkdir(new)
            with open(os.path.join(new, "r.yaml"), "w") as fp:
                fp.write(RULE.format(tag="three"))
            with open(os.path.join(new, "words.txt"), "w") as fp:
                fp.write("gamma\n")
            shutil.rmtree(rules)
            os.rename(new, rules)
            self.assertTrue(h.wait_for(lambda: version() != v2, 15), f.log())
            v3 = version()
            # ... and the new directory is watched: an edit in it reloads
            with open(os.path.join(rules, "words.txt"), "w") as fp:
                fp.write("gamma\ndelta\n")
            self.assertTrue(h.wait_for(lambda: version() != v3, 15), f.log())
            v4 = version()

            # 3. gone: the old rules keep serving, and status says so
            shutil.rmtree(rules)
            self.assertTrue(h.wait_for(lambda: not status()["rules_source_ok"], 5), f.log())
            st = status()
            self.assertEqual(st["ruleset"], v4)
            self.assertIn("keeps serving", st["rules_source"])
            self.assertIn(rules, st["rules_source"])
            self.assertGreaterEqual(st["rules_source_lost"], 1)
            self.assertIn("rules source lost", f.log())
            # back (written in place, not renamed): watched again, reloaded
            os.mkdir(rules)
            with open(os.path.join(rules, "words.txt"), "w") as fp:
                fp.write("epsilon\n")
            with open(os.path.join(rules, "r.yaml"), "w") as fp:
                fp.write(RULE.format(tag="five"))
            self.assertTrue(h.wait_for(lambda: status()["rules_source_ok"], 5), f.log())
            self.assertTrue(h.wait_for(lambda: version() not in (v4, None), 15), f.log())
            v5 = version()
            with open(os.path.join(rules, "words.txt"), "w") as fp:
                fp.write("epsilon\nzeta\n")
            self.assertTrue(h.wait_for(lambda: version() != v5, 15), f.log())
            v6 = version()

            # 4. list files that are not regular files inside the directory
            failed = status()["reloads_failed"]
            outside = os.path.join(top, "outside.txt")
            with open(outside, "w") as fp:
                fp.write("secret\n")
            os.remove(os.path.join(rules, "words.txt"))
            os.symlink("../outside.txt", os.path.join(rules, "words.txt"))
            self.assertTrue(h.wait_for(lambda: status()["reloads_failed"] > failed, 15), f.log())
            self.assertIn("outside the rules directory", status()["last_reload_error"])
            os.remove(os.path.join(rules, "words.txt"))
            os.mkfifo(os.path.join(rules, "words.txt"))
            t0 = time.time()
            r = subprocess.run([h.FANZHA, "admin", "--socket", sock, "reload"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, r)
            self.assertLess(time.time() - t0, 5)
            self.assertIn("words.txt", r.stdout)
            self.assertIn("is a FIFO", r.stdout)
            self.assertEqual(version(), v6)
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log())


if __name__ == "__main__":
    h.main()
