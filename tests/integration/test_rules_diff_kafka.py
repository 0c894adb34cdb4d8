"""`fanzha rules diff` over a Kafka topic time range, on the real broker.

The events of tests/cases/043-rules-diff (alerting under one ruleset or
the other or both, clean, invalid, one longer than --max-event-bytes) are
produced, with explicit record timestamps, into a three-partition topic in
three time bands a minute apart. `rules diff --topic ... --from-time
--to-time` over the middle band must give the report that `rules diff`
gives over an NDJSON file of exactly those records in partition order:
the same counts and the same examples, except where each example was
found (topic[partition]@offset against file:line), which must name the
record that holds that event. The report must say which partitions and
offsets were read.

Hostile cases: an unknown topic, brokers that do not answer, times that
are not times or lack a UTC offset, a start after the end, EVENTS files
given with --topic, an empty range (between bands, and past the last
record), and a transaction left open on a topic inside the range: the
read waits for the end of the log as it stood when it started, so it fails
after --kafka-timeout (naming the open transaction) while the transaction
stays open, and reads its records once it commits.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

from confluent_kafka import Producer

import harness as h

sys.path.insert(0, os.path.join(h.ROOT, "tests"))
import headless  # noqa: E402

CASE = os.path.join(h.ROOT, "tests", "cases", "043-rules-diff")
OLD = os.path.join(CASE, "old-rules")
NEW = os.path.join(CASE, "new-rules")
OPTS = ["--no-timing", "--rules-cache", "off", "--examples", "2", "--max-event-bytes", "512"]
# the first band, an hour ago (records much older than the topic's retention
# could be deleted under the test); the others follow BAND_MS apart
T0 = (int(time.time()) - 3600) * 1000
BAND_MS = 60000
PER_BAND = 45  # records per band, over the three partitions
PARTITIONS = 3
CHROMIUM_PAGE = os.path.join(h.ROOT, "tests", "rules_diff", "chromium_page.py")


def case_lines():
    with open(os.path.join(CASE, "events.ndjson"), "rb") as f:
        return [ln.rstrip(b"\r\n") for ln in f if ln.strip()]


def band_records(band):
    """(partition, timestamp ms, value) of one band, in production order."""
    lines = case_lines()
    out = []
    for i in range(PER_BAND):
        line = lines[i % len(lines)]
        # a unique id per record, so that an example names its record
        value = line.replace(b'"id": "e', b'"id": "b%d-%d-e' % (band, i), 1)
        value = value.replace(b'"id":"e', b'"id":"b%d-%d-e' % (band, i), 1)
        out.append((i % PARTITIONS, T0 + band * BAND_MS + i * 10, value))
    return out


def produce_ts(topic, records, producer=None):
    """records: (partition, timestamp ms, value). Returns {(partition, offset): value}."""
    # (a Producer is falsy while nothing waits in its queue: `producer or ...` would not do)
    p = producer if producer is not None else Producer(h.client({"linger.ms": 5,
                                                                  "enable.idempotence": True}))
    where = {}

    def delivered(err, msg):
        if err is None:
            where[(msg.partition(), msg.offset())] = msg.value()

    for part, ts, value in records:
        p.produce(topic, value=value, partition=part, timestamp=ts, on_delivery=delivered)
        p.poll(0)
    if producer is None and p.flush(60):
        raise RuntimeError("test records not delivered")
    return where


def rules_diff(*args, timeout=120):
    r = subprocess.run([h.FANZHA, "rules", "diff", OLD, NEW, *args], capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def iso(ms):
    """ms since the epoch as RFC 3339 at +08:00."""
    secs, frac = divmod(ms, 1000)
    t = time.gmtime(secs + 8 * 3600)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03d+08:00" % frac


INVALID_WHERE = re.compile(r"^(?:[^\s\[]+\[\d+\]@\d+|.*?:\d+): ")


def comparable(rep):
    """The report without what depends on where the events were read."""
    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items() if k not in ("where", "inputs", "kafka")}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x
    rep = walk(rep)
    # "line of N bytes" from a file is "record of N bytes" from Kafka
    rep["events"]["invalid_samples"] = [INVALID_WHERE.sub("", s).replace("record of", "line of")
                                        for s in rep["events"]["invalid_samples"]]
    return rep


def examples(x):
    """Every example of a report: (where, id)."""
    if isinstance(x, dict):
        if "where" in x and "id" in x:
            yield x["where"], x["id"]
        for v in x.values():
            yield from examples(v)
    elif isinstance(x, list):
        for v in x:
            yield from examples(v)


class RulesDiffKafka(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topic = h.create_topics({"diff": PARTITIONS})["diff"]
        cls.where = {}
        for band in range(3):
            cls.where.update(produce_ts(cls.topic, band_records(band)))
        cls.tmp = tempfile.mkdtemp(prefix="fz-diffkafka-")

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("FANZHA_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def kafka_args(self, topic=None, *extra):
        return ["--brokers", h.BROKER, "--topic", topic or self.topic, *extra]

    def test_middle_band_equals_ndjson(self):
        band = band_records(1)
        lo, hi = T0 + BAND_MS, T0 + 2 * BAND_MS
        # the middle band's records in partition order, then offset order
        mine = sorted(k for k, v in self.where.items() if v in {r[2] for r in band})
        self.assertEqual(len(mine), PER_BAND)
        nd = os.path.join(self.tmp, "middle.ndjson")
        with open(nd, "wb") as f:
            for k in mine:
                f.write(self.where[k] + b"\n")
        jf, jk = os.path.join(self.tmp, "file.json"), os.path.join(self.tmp, "kafka.json")
        html = os.path.join(self.tmp, "kafka.html")
        rc_f, out_f, err_f = rules_diff(nd, *OPTS, "--json", jf)
        # --from-time as RFC 3339 at +08:00, --to-time as ms since the epoch
        rc_k, out_k, err_k = rules_diff(*self.kafka_args(), "--from-time", iso(lo),
                                        "--to-time", str(hi), *OPTS, "--json", jk,
                                        "--html", html)
        self.assertEqual(rc_f, 0, err_f)
        self.assertEqual(rc_k, 0, err_k)
        with open(jf) as f:
            rf = json.load(f)
        with open(jk) as f:
            rk = json.load(f)
        self.assertEqual(rk["events"]["read"], PER_BAND)
        self.assertGreater(rk["alerts"]["gained"] + rk["alerts"]["lost"], 0)
        self.assertGreater(rk["events"]["invalid"], 0)
        self.assertEqual(comparable(rk), comparable(rf))
        # each example names the record that holds its event
        n = 0
        for where, eid in examples(rk):
            m = re.fullmatch(re.escape(self.topic) + r"\[(\d+)\]@(\d+)", where)
            self.assertTrue(m, where)
            value = json.loads(self.where[(int(m.group(1)), int(m.group(2)))])
            self.assertEqual(value["id"], eid)
            n += 1
        self.assertGreater(n, 0)
        for s in rk["events"]["invalid_samples"]:
            self.assertRegex(s, re.escape(self.topic) + r"\[\d\]@\d+: ")
        # which partitions and offsets were read
        k = rk["kafka"]
        self.assertEqual((k["topic"], k["from_ms"], k["to_ms"]), (self.topic, lo, hi))
        self.assertEqual([p["partition"] for p in k["partitions"]], list(range(PARTITIONS)))
        for p in k["partitions"]:
            offs = [o for (part, o) in mine if part == p["partition"]]
            self.assertEqual(p["start"], min(offs))
            self.assertEqual(p["end"], max(offs) + 1)  # the first record of the last band
            self.assertEqual(p["records"], len(offs))
            self.assertEqual(p["stopped_by"], "time")
            self.assertEqual(p["log_end"], 3 * PER_BAND // PARTITIONS)
        self.assertIn(f"topic {self.topic}", out_k)
        self.assertRegex(out_k, r"partition 0 offsets 15-30 \(15 records, time\)")
        with open(html, encoding="utf-8") as f:
            page = f.read()
        self.assertIn('data-table="partitions"', page)
        self.assertIn('<tr data-partition="2">', page)
        # the page in headless Chromium: every data-count (the partitions' too) is the JSON's
        if headless.find_chromium() or os.environ.get("FANZHA_REQUIRE_CHROMIUM"):
            r = subprocess.run([sys.executable, CHROMIUM_PAGE, "--check", html, jk,
                                os.path.join(self.tmp, "chromium")],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("ok", r.stdout)

    def test_to_time_defaults_to_now(self):
        rc, out, err = rules_diff(*self.kafka_args(), "--from-time", str(T0 + 2 * BAND_MS),
                                  *OPTS, "--json", "-")
        self.assertEqual(rc, 0, err)
        rep = json.loads(out)
        self.assertEqual(rep["events"]["read"], PER_BAND)
        self.assertEqual({p["stopped_by"] for p in rep["kafka"]["partitions"]}, {"end"})

    def test_config_file(self):
        # brokers and librdkafka properties from a fanzha config file, as fanzha stats takes them
        cfg = os.path.join(self.tmp, "fanzha.yaml")
        with open(cfg, "w") as f:
            f.write(f"brokers: {json.dumps(h.BROKER)}\nkafka:\n  client.rack: rack-a\n"
                    + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in h.CLIENT.items()))
        rc, out, err = rules_diff("--config", cfg, "--topic", self.topic, "--from-time",
                                  str(T0 + 2 * BAND_MS), *OPTS, "--json", "-")
        self.assertEqual(rc, 0, err)
        rep = json.loads(out)
        self.assertEqual((rep["events"]["read"], rep["kafka"]["brokers"]), (PER_BAND, h.BROKER))
        with open(cfg, "a") as f:
            f.write("kafka_consumer:\n  no.such.property: 1\n")
        rc, _, err = rules_diff("--config", cfg, "--topic", self.topic, "--from-time", str(T0),
                                *OPTS)
        self.assertEqual(rc, 2, err)
        self.assertIn("no.such.property", err)

    def test_empty_ranges(self):
        # between the bands: each partition stops at the first record of band 1
        rc, out, err = rules_diff(*self.kafka_args(), "--from-time", str(T0 + BAND_MS - 5000),
                                  "--to-time", str(T0 + BAND_MS - 1000), *OPTS, "--json", "-")
        self.assertEqual(rc, 0, err)
        rep = json.loads(out)
        self.assertEqual(rep["events"]["read"], 0)
        self.assertEqual(rep["alerts"], {**rep["alerts"], "gained": 0, "lost": 0, "unchanged": 0})
        for p in rep["kafka"]["partitions"]:
            self.assertEqual((p["records"], p["stopped_by"]), (0, "time"))
            self.assertEqual(p["start"], p["end"])
        # past the last record, and T1 == T2
        for a, b in ((T0 + 10 * BAND_MS, T0 + 11 * BAND_MS), (T0 + BAND_MS, T0 + BAND_MS)):
            rc, out, err = rules_diff(*self.kafka_args(), "--from-time", str(a), "--to-time",
                                      str(b), *OPTS, "--json", "-")
            self.assertEqual(rc, 0, err)
            rep = json.loads(out)
            self.assertEqual(rep["events"]["read"], 0)
            self.assertTrue(all(p["records"] == 0 for p in rep["kafka"]["partitions"]))

    def test_unknown_topic(self):
        t0 = time.monotonic()
        rc, _, err = rules_diff(*self.kafka_args("no-such-topic-" + uuid.uuid4().hex[:8]),
                                "--from-time", str(T0), "--kafka-timeout", "10", *OPTS)
        self.assertEqual(rc, 2, err)
        self.assertIn("--topic", err)
        self.assertIn("Unknown topic", err)
        self.assertLess(time.monotonic() - t0, 30)

    def test_unreachable_brokers(self):
        t0 = time.monotonic()
        rc, _, err = rules_diff("--brokers", "127.0.0.1:1", "--topic", self.topic, "--from-time",
                                str(T0), "--kafka-timeout", "3", *OPTS)
        self.assertEqual(rc, 2, err)
        self.assertIn("--brokers 127.0.0.1:1", err)
        self.assertIn("not reachable", err)
        self.assertLess(time.monotonic() - t0, 20)

    def test_bad_options(self):
        cases = [
            (["--from-time", "yesterday"], "--from-time 'yesterday'"),
            (["--from-time", "2026-13-01T00:00:00Z"], "not a valid date"),
            (["--from-time", "2026-02-29T00:00:00Z"], "not a valid date"),
            (["--from-time", "2026-01-01T00:00:00"], "lacks a UTC offset"),
            (["--from-time", "2026-01-01T00:00:00+08:00", "--to-time", "2025-12-31T15:00:00Z"],
             "--from-time 2026-01-01T00:00:00+08:00 is after --to-time"),
            (["--from-time", str(T0), "--to-time", "soon"], "--to-time 'soon'"),
            (["--from-time", str(T0), "--kafka-timeout", "0"], "--kafka-timeout"),
            (["--from-time", str(T0), "-X", "no.such.property=1"], "no.such.property"),
            (["--from-time", str(T0), "-X", "novalue"], "-X expects key=value"),
            ([], "needs --from-time"),
        ]
        for extra, want in cases:
            rc, _, err = rules_diff(*self.kafka_args(), *extra, *OPTS)
            self.assertEqual(rc, 2, (extra, err))
            self.assertIn(want, err, extra)
        rc, _, err = rules_diff(os.path.join(CASE, "events.ndjson"), *self.kafka_args(),
                                "--from-time", str(T0))
        self.assertEqual(rc, 2, err)
        self.assertIn("EVENTS files", err)
        rc, _, err = rules_diff(os.path.join(CASE, "events.ndjson"), "--from-time", str(T0))
        self.assertEqual(rc, 2, err)
        self.assertIn("--from-time is for a Kafka time range", err)
        rc, _, err = rules_diff("--brokers", h.BROKER, "--from-time", str(T0))
        self.assertEqual(rc, 2, err)

    def test_open_transaction_in_range(self):
        topic = h.create_topics({"txn": 1})["txn"]
        band = [(0, T0 + i * 10, r[2]) for i, r in enumerate(band_records(1))]
        produce_ts(topic, band[:20])
        tp = Producer(h.client({"transactional.id": "fz-diff-" + uuid.uuid4().hex[:8],
                                "linger.ms": 5}))
        tp.init_transactions(30)
        tp.begin_transaction()
        produce_ts(topic, band[20:30], producer=tp)
        tp.flush(30)
        args = [*self.kafka_args(topic), "--from-time", str(T0), "--to-time", str(T0 + 100000),
                *OPTS, "--json", "-"]
        # open: the read waits for the end of the log as it stood, then gives up
        t0 = time.monotonic()
        rc, out, err = rules_diff(*args, "--kafka-timeout", "4")
        self.assertEqual(rc, 2, err)
        self.assertIn("--kafka-timeout 4 s", err)
        self.assertIn("transaction still open", err)
        self.assertLess(time.monotonic() - t0, 30)
        # SIGINT while it waits: it stops at once, as an input error
        proc = subprocess.Popen([h.FANZHA, "rules", "diff", OLD, NEW, *args, "--kafka-timeout",
                                 "120"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(2)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 2, err)
        self.assertIn(b"cancelled", err)
        self.assertLess(time.monotonic() - t0, 10)
        # committed while the read waits: every record, the transaction's too
        committer = threading.Timer(3.0, lambda: tp.commit_transaction(30))
        committer.start()
        try:
            rc, out, err = rules_diff(*args, "--kafka-timeout", "60")
        finally:
            committer.join()
        self.assertEqual(rc, 0, err)
        rep = json.loads(out)
        self.assertEqual(rep["events"]["read"], 30)
        p = rep["kafka"]["partitions"][0]
        self.assertEqual((p["start"], p["records"], p["stopped_by"]), (0, 30, "end"))


if __name__ == "__main__":
    h.main()
