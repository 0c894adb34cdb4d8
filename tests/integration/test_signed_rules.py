"""Signed compiled rulesets with the real binary: `fanzha rules keygen`,
`rules compile --sign`, and rules_public_key refusing unsigned, wrongly
signed, changed, group-writable and symlinked files (replay shares the
loading path with run); then `fanzha run` keeping the rulesets that loaded,
refusing a tampered reload while the old rules serve, and `fanzha admin
rollback` going back to a kept one, pinned until `admin reload`."""
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import harness as h

import unittest

RULE_NEW = ("rules:\n  - id: it.en.pig\n    category: romance_investment\n"
            "    severity: high\n    fields: [text]\n    pattern: 'pig butchering'\n")
EVENTS = [
    {"id": "s1", "ts": 1764288000000, "type": "sms", "text": "您的账户已被冻结"},
    {"id": "s2", "ts": 1764288000001, "type": "sms", "text": "pig butchering special offer"},
]


def fz(*args, cwd=None):
    return subprocess.run([h.FANZHA, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


class Work:
    """A private directory (0700) with rules, keys and compiled files."""

    def __init__(self, tc):
        self.dir = tempfile.mkdtemp(prefix="fanzha-sign-")
        tc.addCleanup(shutil.rmtree, self.dir)
        os.chmod(self.dir, 0o700)
        self.rules1 = self.path("rules1")
        os.mkdir(self.rules1)
        shutil.copy(os.path.join(h.RULES, "test.yaml"), self.rules1)
        self.rules2 = self.path("rules2")
        shutil.copytree(self.rules1, self.rules2)
        with open(os.path.join(self.rules2, "new.yaml"), "w") as fp:
            fp.write(RULE_NEW)
        self.events = self.path("events.ndjson")
        with open(self.events, "w") as fp:
            for e in EVENTS:
                fp.write(json.dumps(e, ensure_ascii=False) + "\n")
        self.tc = tc

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def keygen(self, name):
        r = fz("rules", "keygen", "-o", self.path(name))
        self.tc.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()[1].rstrip(":")  # "key ID: ..."

    def compile(self, rules, out, key=None):
        r = fz("rules", "compile", rules, "-o", out, *(("--sign", self.path(key + ".sec"))
                                                        if key else ()))
        self.tc.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split("ruleset ")[-1].split()[0]

    def replay(self, compiled, key=None):
        return fz("replay", "--rules", self.path("none"), "--rules-compiled", compiled,
                  *(("--rules-public-key", self.path(key + ".pub")) if key else ()),
                  "--rules-cache-dir", "off", self.events, cwd=self.dir)


class ReplaySigned(unittest.TestCase):
    def test_signed_accepted_everything_else_refused(self):
        w = Work(self)
        kid = w.keygen("k1")
        w.keygen("k2")
        self.assertEqual(os.stat(w.path("k1.sec")).st_mode & 0o777, 0o600)
        signed = w.path("signed.fzr")
        version = w.compile(w.rules1, signed, "k1")

        r = w.replay(signed, "k1")
        self.assertEqual(r.returncode, 0, r.stderr)
        alerts = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        alerts = [a for a in alerts if a.get("type") == "alert"]
        self.assertEqual([a["event_id"] for a in alerts], ["s1"])
        self.assertEqual(alerts[0]["ruleset"], version)
        self.assertEqual(alerts[0]["artifact"]["signer"], kid)
        self.assertTrue(alerts[0]["artifact"]["signed"])

        def refused(path, key, *why):
            r = w.replay(path, key)
            self.assertNotEqual(r.returncode, 0, f"{path} was accepted:\n{r.stderr}")
            self.assertIn(path, r.stderr)
            for s in why:
                self.assertIn(s, r.stderr)

        unsigned = w.path("unsigned.fzr")
        w.compile(w.rules1, unsigned)
        refused(unsigned, "k1", "unsigned, and rules_public_key requires a signature")
        refused(signed, "k2", "not among the 1 trusted key(s)")
        # one byte changed in the middle (the databases): the signature fails
        changed = w.path("changed.fzr")
        with open(signed, "rb") as fp:
            data = bytearray(fp.read())
        data[len(data) // 2] ^= 0x01
        with open(changed, "wb") as fp:
            fp.write(data)
        refused(changed, "k1", "bad signature")
        # without a key the digest still catches it
        r = w.replay(changed)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("does not hash to the digest", r.stderr)
        # group-writable file, writable directory, symbolic link
        os.chmod(signed, 0o664)
        refused(signed, "k1", "writable by group or others")
        os.chmod(signed, 0o644)
        os.chmod(w.dir, 0o777)
        refused(signed, "k1", "its directory")
        os.chmod(w.dir, 0o700)
        link = w.path("link.fzr")
        os.symlink(signed, link)
        refused(link, "k1", "symbolic link")
        self.assertEqual(w.replay(signed, "k1").returncode, 0)
        # a key with rules compiled from a directory: refused, nothing is signed
        r = fz("replay", "--rules", w.rules1, "--rules-public-key", w.path("k1.pub"),
               "--rules-cache-dir", "off", w.events, cwd=w.dir)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("rules_public_key is set, but rules_compiled is not", r.stderr)


class RunRollback(unittest.TestCase):
    def test_reload_refuses_tampered_then_rollback(self):
        w = Work(self)
        kid = w.keygen("k1")
        live = w.path("live", "rules.fzr")
        os.makedirs(os.path.dirname(live), mode=0o700)
        v1 = w.compile(w.rules1, live, "k1")
        sock = w.path("admin.sock")
        topics = h.create_topics({"events": 1, "alerts": 1, "dlq": 1})
        group = f"g-sign-{uuid.uuid4().hex[:6]}"
        f = h.Fanzha("signed-rollback", topics, group,
                     ("--rules", w.path("none"), "--rules-compiled", live,
                      "--rules-public-key", w.path("k1.pub"), "--admin-socket", sock,
                      "--rules-history-dir", w.path("history"), "--rules-keep", "3",
                      "--rules-watch-debounce-ms", "200")).start()

        def admin(*cmd):
            r = subprocess.run([h.FANZHA, "admin", "--socket", sock, *cmd],
                               capture_output=True, text=True, timeout=60)
            return r.returncode, json.loads(r.stdout) if r.stdout.startswith("{") else r.stderr

        def active():
            return admin("status")[1]["ruleset"]

        def send(eid, text):
            h.produce(topics["events"], [("k", json.dumps(
                {"id": eid, "ts": 1764288000000, "type": "sms", "text": text},
                ensure_ascii=False).encode())])

        try:
            self.assertTrue(h.wait_for(lambda: os.path.exists(sock)), f.log())
            h.wait_ready(f)
            st = admin("status")[1]
            self.assertEqual(st["ruleset"], v1)
            self.assertEqual(st["artifact"]["signer"], kid)
            self.assertTrue(st["artifact"]["signed"])
            # a new signed version is picked up by the watch
            v2 = w.compile(w.rules2, w.path("v2.fzr"), "k1")
            os.rename(w.path("v2.fzr"), live)
            self.assertTrue(h.wait_for(lambda: active() == v2), f.log())
            # a tampered file (unsigned) is refused; v2 keeps serving
            w.compile(w.rules1, w.path("bad.fzr"))
            os.rename(w.path("bad.fzr"), live)
            self.assertTrue(h.wait_for(lambda: "reload rejected" in f.log()), f.log())
            self.assertIn("unsigned, and rules_public_key requires a signature", f.log())
            self.assertEqual(active(), v2)
            hist = admin("history")[1]
            self.assertEqual([e["version"] for e in hist["kept"]], [v2, v1])
            for e in os.listdir(w.path("history")):
                self.assertEqual(os.stat(w.path("history", e)).st_mode & 0o777, 0o600)
            # rollback: to the one before (v1), verified again, pinned
            rc, out = admin("rollback")
            self.assertEqual(rc, 0, out)
            self.assertEqual(out["ruleset"], v1)
            st = admin("status")[1]
            self.assertEqual(st["ruleset"], v1)
            self.assertTrue(st["pinned"])
            # (the reply comes after every worker moved to v1)
            send("a1", "pig butchering special offer")  # only v2 has that rule
            send("a2", "您的账户已被冻结")
            self.assertTrue(h.wait_for(lambda: h.processed(f) >= 2, 60), f.log())
            # a file change while pinned is logged, not loaded
            v3 = w.compile(w.rules2, w.path("v3.fzr"), "k1")
            os.rename(w.path("v3.fzr"), live)
            self.assertTrue(h.wait_for(lambda: "pinned by a rollback" in f.log()), f.log())
            self.assertEqual(active(), v1)
            # a kept file that was changed is refused like a fresh one
            kept_v2 = w.path("history", v2 + ".fzr")
            with open(kept_v2, "r+b") as fp:
                fp.seek(100)
                b = fp.read(1)
                fp.seek(100)
                fp.write(bytes([b[0] ^ 1]))
            rc, out = admin("rollback", v2)
            self.assertEqual(rc, 1, out)
            self.assertIn("bad signature", out["message"])
            self.assertEqual(active(), v1)
            rc, out = admin("rollback", "nonsense")
            self.assertEqual(rc, 1, out)
            # an explicit reload lifts the pin
            rc, out = admin("reload")
            self.assertEqual(rc, 0, out)
            self.assertEqual(active(), v3)
            self.assertFalse(admin("status")[1]["pinned"])
            self.assertTrue(h.wait_for(lambda: len(h.consume_all(topics["alerts"], idle_s=1)) >= 1,
                                     60))
        finally:
            f.stop()
        alerts = {a["event_id"]: a for a in h.alerts_of(h.consume_all(topics["alerts"]))}
        self.assertEqual(set(alerts), {"a2"})  # under v1, the pig rule did not exist
        self.assertEqual(alerts["a2"]["ruleset"], v1)
        self.assertEqual(alerts["a2"]["artifact"]["signer"], kid)
        self.assertEqual(f.proc.returncode, 0)


if __name__ == "__main__":
    h.main()
