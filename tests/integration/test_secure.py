"""Secure Kafka for real: fanzha end to end through a TLS listener and a
SASL_SSL (SCRAM-SHA-512) listener of a second, temporary broker
(secure_broker.py), configured both with -X key=value and with the
`kafka:` map of a config file; and the two mistakes an operator makes -
a wrong password, a CA that did not sign the broker's certificate - make
`fanzha run` exit within seconds with one line that names the problem and
the broker, instead of retrying forever.

librdkafka before 2.6.1 (Debian 12 has 2.0.2) cannot log in with SCRAM to a
Kafka 4 broker even with the right password (librdkafka PR 4895). SCRAM is
therefore tested against a Kafka 3.9 broker whenever fanzha's librdkafka is
older, and the test checks that against Kafka 4 fanzha then stops with an
error that says so (rather than hangs, or blames the password alone).
"""
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import uuid

import harness as h
import secure_broker as sb

FAIL_WITHIN_S = 30


def librdkafka_version():
    out = subprocess.run([h.FANZHA, "version"], capture_output=True, text=True).stdout
    v = [l.split()[1] for l in out.splitlines() if l.startswith("librdkafka ")][0]
    return tuple(int(re.match(r"\d+", x).group()) for x in v.split(".")[:3])


SCRAM_ON_KAFKA4 = librdkafka_version() >= (2, 6, 1)


def x_args(conf):
    """librdkafka properties as -X arguments (bootstrap.servers is --brokers)."""
    out = []
    for k, v in conf.items():
        if k != "bootstrap.servers":
            out += ["-X", f"{k}={v}"]
    return out


def config_file(conf, top=""):
    """A fanzha config file with brokers, the lines in top and the
    properties in its kafka: map (values quoted: YAML takes JSON strings)."""
    fd, path = tempfile.mkstemp(prefix="fanzha-secure-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(f'brokers: "{conf["bootstrap.servers"]}"\n{top}kafka:\n')
        for k, v in conf.items():
            if k != "bootstrap.servers":
                f.write(f'  {k}: "{v}"\n')
    return path


class SecureBase(unittest.TestCase):
    VERSION = sb.VERSION
    BROKER_EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.broker = sb.SecureBroker(cls.VERSION, cls.BROKER_EXTRA)
        try:
            cls.broker.start()
        except Exception:
            cls.broker.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def fanzha_args(self, conf, form, top=""):
        if form == "cli":
            return x_args(conf)
        path = config_file(conf, top)
        self.addCleanup(os.unlink, path)
        return ["--config", path]

    def end_to_end(self, name, conf, form, top=""):
        """Events in through the listener conf names, alerts and dead letters
        out, fanzha configured by form ('cli': -X, 'file': kafka: map, with
        the options in top). Returns the fanzha process."""
        h.use_broker(conf["bootstrap.servers"], {k: v for k, v in conf.items()
                                                 if k != "bootstrap.servers"})
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1})
        group = f"g-{name}-{uuid.uuid4().hex[:6]}"
        ev = h.Events(400, seed=len(name), fraud_rate=0.2, invalid_every=40)
        h.produce(topics["events"], ev.records)
        f = h.Fanzha(name, topics, group, [*self.fanzha_args(conf, form, top), "--threads", "1"])
        f.start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f, timeout=180)
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log()[-3000:])
        alerts = h.alerts_of(h.consume_all(topics["alerts"], idle_s=2))
        self.assertEqual({a["event_id"] for a in alerts}, ev.fraud_ids)
        self.assertEqual(len(alerts), len(ev.fraud_ids))
        dl = h.consume_all(topics["dlq"], idle_s=1)
        self.assertEqual(len(dl), len(ev.invalid))
        self.assertNotIn("fatal", f.log())
        return f

    def fails_fast(self, name, conf, form, pattern):
        """fanzha run must exit with status 2 (a configuration error) within
        FAIL_WITHIN_S with one log line matching pattern and naming the
        broker's address."""
        h.use_broker(conf["bootstrap.servers"])
        topics = {"events": f"it-events-{uuid.uuid4().hex[:8]}", "alerts": "it-alerts-unused"}
        f = h.Fanzha(name, topics, f"g-{name}", self.fanzha_args(conf, form))
        t0 = time.time()
        f.start()
        try:
            rc = f.wait(FAIL_WITHIN_S + 10)
        except subprocess.TimeoutExpired:
            f.stop()
            self.fail(f"fanzha did not stop within {FAIL_WITHIN_S + 10} s:\n{f.log()[-3000:]}")
        took = time.time() - t0
        log = f.log()
        self.assertEqual(rc, 2, log[-3000:])
        self.assertLess(took, FAIL_WITHIN_S, log[-3000:])
        # fanzha's own lines (librdkafka's are "TIME LEVEL rdkafka FACILITY: ...")
        ours = [l for l in log.splitlines()
                if not re.match(r"\S+ \S+\s+rdkafka ", l) and re.search(pattern, l)]
        self.assertEqual(len(ours), 1, f"expected one line matching {pattern!r}:\n{log[-3000:]}")
        self.assertIn(conf["bootstrap.servers"], ours[0])
        return ours[0]


class SecureKafka4(SecureBase):
    """The TLS listener of a Kafka 4 broker; SCRAM where librdkafka can."""

    def test_tls_cli(self):
        self.end_to_end("tls-cli", self.broker.ssl_client(), "cli")

    def test_sasl_plain_config_file(self):
        """SASL_SSL on the Kafka 4 broker with the PLAIN mechanism (over TLS),
        which Debian 12's librdkafka logs in with."""
        self.end_to_end("plain-file", self.broker.plain_client(), "file")

    def test_sasl_plain_wrong_password_fails_fast(self):
        line = self.fails_fast("plain-bad", self.broker.plain_client("wrong"), "cli",
                               r"[Aa]uthentication failed")
        self.assertNotIn("wrong", line)

    def test_tls_config_file(self):
        """... with log_format: json: every line one JSON object."""
        f = self.end_to_end("tls-file", self.broker.ssl_client(), "file", "log_format: json\n")
        lines = f.log().splitlines()
        self.assertGreater(len(lines), 5)
        recs = [json.loads(l) for l in lines]  # every line parses
        for r in recs:
            self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(r["level"], ("error", "warn", "info", "debug"))
            self.assertIsInstance(r["msg"], str)
        components = {r["component"] for r in recs}
        self.assertTrue({"main", "stream-0"} <= components, components)
        self.assertTrue(any("stats:" in r["msg"] for r in recs))

    def test_untrusted_certificate_fails_fast(self):
        """A CA that did not sign the broker's certificate."""
        for form in ("cli", "file"):
            with self.subTest(form=form):
                line = self.fails_fast(f"untrusted-{form}",
                                       self.broker.ssl_client(ca=self.broker.rogue_ca), form,
                                       r"TLS connection failed")
                self.assertIn("certificate verify failed", line)
                self.assertIn("ssl.ca.location", line)

    def test_untrusted_certificate_sasl_fails_fast(self):
        line = self.fails_fast("untrusted-sasl", self.broker.sasl_client(ca=self.broker.rogue_ca),
                               "cli", r"TLS connection failed")
        self.assertIn("certificate verify failed", line)

    def test_privacy_over_tls(self):
        """privacy_numbers: hash, privacy_texts: drop through the whole run
        topology: every alert's numbers are the keyed BLAKE2b of the event's
        (Python's hashlib is the oracle), no text, and dead letters carry the
        payload's hash instead of the payload; the schemas accept them."""
        import hashlib
        import jsonschema
        key = b"k" * 24 + uuid.uuid4().hex.encode()
        fd, key_path = tempfile.mkstemp(prefix="fanzha-privacy-", suffix=".key")
        os.write(fd, key + b"\n")
        os.close(fd)
        self.addCleanup(os.unlink, key_path)
        conf = self.broker.ssl_client()
        h.use_broker(conf["bootstrap.servers"], {k: v for k, v in conf.items()
                                                 if k != "bootstrap.servers"})
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1})
        group = f"g-privacy-{uuid.uuid4().hex[:6]}"
        ev = h.Events(300, seed=3, fraud_rate=0.3, invalid_every=30)
        h.produce(topics["events"], ev.records)
        f = h.Fanzha("privacy", topics, group,
                     [*x_args(conf), "--threads", "1", "--privacy-numbers", "hash",
                      "--privacy-texts", "drop", "--privacy-hash-key-file", key_path]).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f, timeout=180)
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log()[-3000:])

        def hx(b):
            return hashlib.blake2b(b, digest_size=16, key=key).hexdigest()
        schema = {k: json.load(open(f"{h.ROOT}/docs/schema/{k}.schema.json"))
                  for k in ("alert", "dead-letter")}
        events = {}
        for _, value in ev.records:
            try:
                e = json.loads(value)
                events[e["id"]] = e
            except (ValueError, KeyError, TypeError):
                pass
        msgs = h.consume_all(topics["alerts"], idle_s=2)
        alerts = h.alerts_of(msgs)
        self.assertEqual({a["event_id"] for a in alerts}, ev.fraud_ids)
        for a in alerts:
            jsonschema.validate(a, schema["alert"])
            e = events[a["event_id"]]
            for k in ("from", "to"):
                self.assertEqual(a[k], hx(e[k].encode()))
            self.assertNotIn("text", a)
        for _, _, k, v in msgs:  # the Kafka key too: the input's key, a number
            a = json.loads(v)
            if a.get("type") == "alert":
                self.assertEqual(k, hx(events[a["event_id"]]["to"].encode()).encode())
        raw = b"".join(v for _, _, _, v in msgs)
        for eid in ev.fraud_ids:  # no alerted number anywhere in the topic
            for k in ("from", "to"):
                self.assertNotIn(events[eid][k].encode(), raw)
        dl = [json.loads(v) for _, _, _, v in h.consume_all(topics["dlq"], idle_s=1)]
        self.assertEqual(len(dl), len(ev.invalid))
        by_offset, keys = {}, {}
        for p, o, k, v in h.read_partitions(topics["events"], {0: -1, 1: -1})[0]:
            by_offset[p, o] = v
            keys[p, o] = k
        for d in dl:
            jsonschema.validate(d, schema["dead-letter"])
            self.assertTrue(d["payload_omitted"])
            self.assertNotIn("payload", d)
            value = by_offset[d["source"]["partition"], d["source"]["offset"]]
            self.assertEqual(d["payload_bytes"], len(value))
            self.assertEqual(d["payload_hash"], hx(value))
        for _, _, k, v in h.consume_all(topics["dlq"], idle_s=1):
            d = json.loads(v)
            self.assertEqual(k, hx(keys[d["source"]["partition"], d["source"]["offset"]]).encode())

    @unittest.skipUnless(SCRAM_ON_KAFKA4, "librdkafka < 2.6.1: SCRAM against Kafka 4 "
                         "is test_scram_needs_new_librdkafka; SCRAM runs on Kafka 3.9")
    def test_scram_cli(self):
        self.end_to_end("scram4-cli", self.broker.sasl_client(), "cli")

    @unittest.skipIf(SCRAM_ON_KAFKA4, "librdkafka >= 2.6.1 logs in to Kafka 4 with SCRAM")
    def test_scram_needs_new_librdkafka(self):
        """The right password, refused because of librdkafka's SCRAM nonce:
        fanzha stops at once and says which librdkafka it would take."""
        line = self.fails_fast("scram4-old", self.broker.sasl_client(), "cli",
                               r"authentication failed for user")
        self.assertIn(f"user '{sb.USER}'", line)
        self.assertIn("2.6.1", line)


class ScramKafka39(SecureBase):
    """SASL_SSL with SCRAM-SHA-512 on the newest broker line every supported
    librdkafka can log in to."""
    VERSION = sb.SCRAM_COMPAT_VERSION

    def test_scram_cli(self):
        self.end_to_end("scram-cli", self.broker.sasl_client(), "cli")

    def test_scram_config_file(self):
        self.end_to_end("scram-file", self.broker.sasl_client(), "file")

    def test_wrong_password_fails_fast(self):
        for form in ("cli", "file"):
            with self.subTest(form=form):
                line = self.fails_fast(f"wrong-password-{form}",
                                       self.broker.sasl_client(password="not-the-password"), form,
                                       r"authentication failed for user")
                self.assertIn(f"user '{sb.USER}'", line)
                self.assertIn("SCRAM-SHA-512", line)
                self.assertNotIn("not-the-password", line)


    def test_stats_wrong_password_fails_fast(self):
        """fanzha stats reads the statistics topic with the same clients."""
        conf = self.broker.sasl_client(password="not-the-password")
        t0 = time.time()
        r = subprocess.run([h.FANZHA, "stats", "--brokers", conf["bootstrap.servers"],
                            "--stats-topic", "fanzha.stats", *x_args(conf)],
                           capture_output=True, text=True, timeout=FAIL_WITHIN_S + 30)
        self.assertLess(time.time() - t0, FAIL_WITHIN_S, r.stderr[-3000:])
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn(f"authentication failed for user '{sb.USER}'", r.stderr)


class ScramRotation(SecureBase):
    """The password changes on the brokers while fanzha runs: the next login
    is refused and fanzha stops (exit 1) instead of retrying forever. The
    broker makes clients log in again every few seconds
    (connections.max.reauth.ms; librdkafka before 2.2 cannot re-authenticate
    in place, so the broker closes the connection and it reconnects)."""
    VERSION = sb.SCRAM_COMPAT_VERSION
    BROKER_EXTRA = "listener.name.sasl_ssl.connections.max.reauth.ms=3000\n"

    def test_password_changed_while_running(self):
        conf = self.broker.sasl_client()
        h.use_broker(conf["bootstrap.servers"], {k: v for k, v in conf.items()
                                                 if k != "bootstrap.servers"})
        topics = h.create_topics({"events": 1, "alerts": 1, "dlq": 1})
        group = f"g-rotate-{uuid.uuid4().hex[:6]}"
        ev = h.Events(100, seed=5, fraud_rate=0.2)
        h.produce(topics["events"], ev.records)
        f = h.Fanzha("rotate", topics, group, [*x_args(conf), "--threads", "1"]).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f, timeout=120)
            self.broker.set_password(sb.USER, "rotated-" + uuid.uuid4().hex)
            t0 = time.time()
            rc = f.proc.wait(FAIL_WITHIN_S + 30)
        except subprocess.TimeoutExpired:
            self.fail(f"fanzha went on after the password changed:\n{f.log()[-3000:]}")
        finally:
            f.stop()
        took = time.time() - t0
        log = f.log()
        self.assertEqual(rc, 1, log[-3000:])
        self.assertLess(took, FAIL_WITHIN_S + 10, log[-3000:])
        fatal = [l for l in log.splitlines() if "fatal: Kafka authentication failed" in l]
        self.assertEqual(len(fatal), 1, log[-3000:])
        self.assertIn(f"user '{sb.USER}'", fatal[0])
        self.assertIn(conf["bootstrap.servers"], fatal[0])


if __name__ == "__main__":
    # the default broker is not used: the test brings its own
    unittest.main(verbosity=2)
