"""Integration-test harness: a real Kafka broker, the real fanzha binary.

The broker is the one started by tests/run.sh (deploy/kafka-local.sh);
FANZHA_BROKER names it (default 127.0.0.1:9092). Every test uses fresh
topics and a fresh consumer group, so tests do not see each other's data.
use_broker() points the helpers at another broker whose clients need more
properties (test_secure.py's TLS and SASL_SSL listeners).

The expected alerts are computed here, independently of fanzha: the
generator knows which events it made fraudulent (they carry phrases the
rules in tests/integration/rules match) and gives every event a unique
text, so without a crash every fraud event must alert exactly once.
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unittest
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BROKER = os.environ.get("FANZHA_BROKER", "127.0.0.1:9092")
FANZHA = os.environ.get("FANZHA_BIN", os.path.join(ROOT, "build", "fanzha"))
RULES = os.path.join(HERE, "rules")
LOGDIR = os.environ.get("FANZHA_TEST_LOGDIR", os.path.join(ROOT, "build", "test-logs"))
# librdkafka properties every client of the tests adds (TLS, SASL); see use_broker
CLIENT = {}


def use_broker(bootstrap, client_conf=None):
    """Point the helpers (and Fanzha's --brokers) at another broker, whose
    clients need client_conf (e.g. security.protocol, ssl.ca.location)."""
    global BROKER, CLIENT
    BROKER, CLIENT = bootstrap, dict(client_conf or {})


def client(conf=None):
    """A client configuration for the test broker: bootstrap servers, the
    CLIENT properties, then conf."""
    return {"bootstrap.servers": BROKER, **CLIENT, **(conf or {})}


def admin():
    return AdminClient(client())


def require_broker():
    md = admin().list_topics(timeout=10)
    if not md.brokers:
        raise RuntimeError(f"no Kafka broker answers at {BROKER}; start one with "
                           "deploy/kafka-local.sh start (tests/run.sh does)")


def create_topics(partitions, configs=None):
    """partitions: {suffix: count}; returns {suffix: unique topic name}.
    configs: {suffix: {topic config}}."""
    tag = uuid.uuid4().hex[:8]
    names = {k: f"it-{k}-{tag}" for k in partitions}
    a = admin()  # keep the client alive until the futures resolve
    # "state" holds fanzha's checkpoints: compacted, as in production
    conf = {k: {"cleanup.policy": "compact"} for k in partitions if k in ("state", "stats")}
    for k, c in (configs or {}).items():
        conf.setdefault(k, {}).update(c)
    fs = a.create_topics([NewTopic(names[k], n, 1, config=conf.get(k, {}))
                          for k, n in partitions.items()])
    for f in fs.values():
        f.result(timeout=30)
    # metadata propagates asynchronously; wait until every partition has a leader
    deadline = time.time() + 30
    while time.time() < deadline:
        md = a.list_topics(timeout=10)
        if all(names[k] in md.topics and len(md.topics[names[k]].partitions) == n
               and md.topics[names[k]].error is None for k, n in partitions.items()):
            return names
        time.sleep(0.2)
    raise RuntimeError("topics did not appear in metadata")


def tag(n):
    """A unique all-letter tag for n: fanzha masks digits, URLs and phone
    numbers when it keys campaigns, so events meant to be distinct must
    differ in words, not numbers."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out += "abcdefghijklmnopqrstuvwxyz"[r]
    return out


class Events:
    """A reproducible mix of events with known verdicts."""

    def __init__(self, n, seed=7, fraud_rate=0.2, invalid_every=0, dedup_group=0):
        rng = random.Random(seed)
        self.records = []        # (key, value bytes)
        self.fraud_ids = set()   # events that must alert
        self.invalid = {}        # key of invalid record -> expected reason
        base_ts = 1764288000000
        for i in range(n):
            eid = f"ev-{seed}-{i}"
            sub = f"+86139{rng.randrange(10**6):06d}"
            ts = base_ts + i
            if invalid_every and i % invalid_every == invalid_every - 1:
                kind = (i // invalid_every) % 6
                value, reason = [
                    (b'{"id":"%s","ts":1,"type":"sms"' % eid.encode(), "invalid_json"),
                    (b'{"id":"%s","ts":"yesterday","type":"sms","text":"x"}' % eid.encode(),
                     "wrong_type"),
                    (b'{"id":"%s","type":"sms","text":"x"}' % eid.encode(), "missing_field"),
                    (b'{"id":"%s","ts":1,"type":"fax","text":"x"}' % eid.encode(), "bad_value"),
                    (b'{"id":"%s","ts":1,"type":"sms","text":"\xff\xfe"}' % eid.encode(),
                     "invalid_utf8"),
                    (b'{"id":"%s","ts":1,"type":"sms","text":"%s"}' % (eid.encode(), b"x" * 70000),
                     "too_large"),
                ][kind]
                key = f"bad-{i}"
                self.invalid[key] = reason
                self.records.append((key, value))
                continue
            r = rng.random()
            if r < fraud_rate / 3:
                ev = {"type": "sms", "text": f"【某银行】您的账户已被冻结，请联系客服处理 单号 {tag(seed * 10**6 + i)}"}
            elif r < 2 * fraud_rate / 3:
                ev = {"type": "sms", "text": f"URGENT! Call now to claim your prize, ref {tag(seed * 10**6 + i)}"}
            elif r < fraud_rate:
                ev = {"type": "call", "from": f"+8617000{seed:02d}{i:06d}", "to": sub, "duration_s": 42}
            else:
                ev = rng.choice([
                    {"type": "sms", "text": f"今晚七点老地方吃饭，别迟到 {tag(i)}"},
                    {"type": "sms", "text": f"Your table for two is confirmed, booking {tag(i)}"},
                    {"type": "call", "from": f"+86138{i:07d}", "to": sub, "duration_s": 5},
                    {"type": "transfer", "from": sub, "to": f"6222{i:012d}", "amount": "88.50",
                     "currency": "CNY"},
                ])
            if r < fraud_rate:
                self.fraud_ids.add(eid)
            ev.update({"id": eid, "ts": ts})
            if "from" not in ev:
                ev["from"] = f"+86137{i:07d}"
            ev.setdefault("to", sub)
            self.records.append((sub, json.dumps(ev, ensure_ascii=False).encode()))
        # a campaign: the same text many times, all to one key (one partition)
        self.dedup_ids = []
        for j in range(dedup_group):
            eid = f"dup-{seed}-{j}"
            ev = {"id": eid, "ts": base_ts + n + j, "type": "sms", "from": "+8613300000000",
                  "to": "+8613300000001", "text": "您的银行卡  已被冻结，速回电"}
            self.dedup_ids.append(eid)
            self.records.append(("campaign", json.dumps(ev, ensure_ascii=False).encode()))


def produce(topic, records):
    """records: (key, value) or (key, value, partition)."""
    p = Producer(client({"linger.ms": 20, "enable.idempotence": True,
                         "message.max.bytes": 2000000}))
    for r in records:
        key, value = r[0], r[1]
        kw = {"partition": r[2]} if len(r) > 2 else {}
        while True:
            try:
                p.produce(topic, value=value, key=key.encode() if isinstance(key, str) else key,
                          **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(60)
    if left:
        raise RuntimeError(f"{left} test events not delivered")


def end_offsets(topic, timeout=60, isolation="read_committed"):
    """Ends per partition: read_committed gives the last stable offset (a
    transaction still open holds it back), read_uncommitted the high
    watermark. Right after a broker restart the broker answers
    NOT_LEADER_FOR_PARTITION (or times out) for a while: retried."""
    deadline = time.time() + timeout
    while True:
        c = Consumer(client({"group.id": "probe-" + uuid.uuid4().hex,
                             "isolation.level": isolation}))
        try:
            md = c.list_topics(topic, timeout=10)
            ends = {}
            for p in md.topics[topic].partitions:
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                ends[p] = hi
            return ends
        except KafkaException as e:
            if time.time() > deadline or e.args[0].code() not in (
                    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
                    KafkaError.UNKNOWN_TOPIC_OR_PART):
                raise
            time.sleep(0.5)
        finally:
            c.close()


def committed(group, topic, partitions, timeout=60):
    """The group's committed offsets. A fresh broker answers NOT_COORDINATOR
    or COORDINATOR_LOAD_IN_PROGRESS for a while: those are retried."""
    deadline = time.time() + timeout
    while True:
        c = Consumer(client({"group.id": group}))
        try:
            res = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
            return {tp.partition: tp.offset for tp in res}
        except KafkaException as e:
            if not e.args[0].retriable() and e.args[0].code() not in (
                    KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                    KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError._TIMED_OUT):
                raise
            if time.time() > deadline:
                raise
            time.sleep(0.5)
        finally:
            c.close()


def consume_all(topic, isolation="read_committed", idle_s=3.0, max_s=120):
    """Read a topic from the beginning until nothing new arrives for idle_s.
    read_committed: not while a transaction is still open on the topic (its
    last stable offset below its high watermark) - the markers of a
    committed transaction reach its partitions some time after the offsets
    it carries are committed, later still after a broker restart."""
    c = Consumer(client({"group.id": "reader-" + uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation}))
    c.subscribe([topic])
    out = []
    last = time.time()
    start = time.time()
    while time.time() - start < max_s:
        if time.time() - last >= idle_s:
            if isolation != "read_committed" or (
                    end_offsets(topic) == end_offsets(topic, isolation="read_uncommitted")):
                break
            last = time.time()  # a transaction still open: its records may yet commit
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            continue
        out.append((m.partition(), m.offset(), m.key(), m.value()))
        last = time.time()
    c.close()
    return out


_HELP = None


def supports(option):
    """Does this fanzha take option? (The tests also run against earlier
    binaries, to show that a test fails without the fix it covers.)"""
    global _HELP
    if _HELP is None:
        _HELP = subprocess.run([FANZHA, "run", "--help"], capture_output=True, text=True).stdout
    return option in _HELP


class Fanzha:
    """One fanzha run process."""

    def __init__(self, name, topics, group, extra=(), instance_id=None):
        os.makedirs(LOGDIR, exist_ok=True)
        self.log_path = os.path.join(LOGDIR, f"{name}-{uuid.uuid4().hex[:6]}.log")
        self.args = [FANZHA, "run", "--brokers", BROKER, "--group-id", group,
                     "--input-topics", topics["events"], "--alerts-topic", topics["alerts"],
                     "--dead-letter-topic", topics.get("dlq", ""), "--rules", RULES,
                     # statistics only where a test creates their topics
                     "--stats-topic", topics.get("stats", ""),
                     # checkpoints are required; fanzha creates the topic
                     "--state-topic", topics.get("state") or f"{group}.state",
                     *(("--instance-id", instance_id or f"{name}-{uuid.uuid4().hex[:6]}")
                       if supports("--instance-id") else ()),
                     "--threads", "2", "--commit-interval-ms", "200",
                     "--stats-interval-ms", "1000",
                     # the generator does not model interception (its normal
                     # transfers may come from subscribers it sent fraud to);
                     # tests of interception turn it back on
                     "--intercept-capacity", "0",
                     # several instances run side by side: any free port
                     *(("--metrics-address", "127.0.0.1:0")
                       if supports("--metrics-address") else ()),
                     # a killed instance's partitions move on after 6 s, not 45
                     "-X", "consumer.session.timeout.ms=6000", *extra]
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT)
        return self

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        finally:
            self.logf.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def metrics_port(self, timeout=30):
        """The port of the instance's HTTP endpoints (from its log)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(r"metrics: http://\S+ \(port (\d+)\)", self.log())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no metrics endpoint in the log:\n{self.log()[-3000:]}")


def read_partitions(topic, starts, isolation="read_committed", first_only=False, timeout=30):
    """The records of topic from starts (partition -> offset; negative: from
    the beginning) to each partition's end, as (partition, offset, key,
    value); with first_only, at most one per partition. Returns the records
    and the partitions not read to their end within timeout."""
    c = Consumer(client({"group.id": "reader-" + uuid.uuid4().hex,
                         "enable.auto.commit": False, "isolation.level": isolation,
                         "enable.partition.eof": True}))
    try:
        c.assign([TopicPartition(topic, p, max(0, o)) for p, o in starts.items()])
        todo, out = set(starts), []
        deadline = time.time() + timeout
        while todo and time.time() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    todo.discard(m.partition())
                continue
            out.append((m.partition(), m.offset(), m.key(), m.value()))
            if first_only:
                todo.discard(m.partition())
        return out, todo
    finally:
        c.close()


def records_from(topic, got):
    """The partitions holding a committed record at or after the offsets in
    got (partition -> offset, -1 for none: from the beginning), or not read
    to their end."""
    recs, todo = read_partitions(topic, got, first_only=True)
    return {p for p, _, _, _ in recs} | todo


def wait_caught_up(group, topic, timeout=120, proc=None):
    """Wait until the group's committed offsets reach the end of the input
    topic, then of its internal route topic (<group>.route), whose decide
    tasks write the alerts: everything produced before the call is then
    decided and committed.

    The end is the high watermark, not the last stable offset: a transaction
    left open by a killed instance holds the stable offset back (until the
    coordinator aborts it, up to transaction.timeout.ms plus its abort scan
    later) and every record behind it is still to be decided. A committed
    offset short of the high watermark is caught up when no transaction is
    open and no committed record lies at or after it (the rest are commit
    and abort markers and aborted records, which a consumer never sees)."""
    deadline = time.time() + timeout
    for t in (topic, f"{group}.route") if supports("--internal-partitions") else (topic,):
        ends = {p: hi for p, hi in end_offsets(t, isolation="read_uncommitted").items() if hi > 0}
        while True:
            if proc is not None and proc.proc.poll() is not None:
                raise AssertionError(f"fanzha exited early ({proc.proc.returncode}):\n{proc.log()[-3000:]}")
            got = committed(group, t, list(ends))
            short = {p: got.get(p, -1) for p, hi in ends.items() if got.get(p, -1) < hi}
            if not short:
                break
            if time.time() > deadline:
                raise AssertionError(f"group {group} did not catch up on {t}: committed={got} end={ends}")
            stable = end_offsets(t)
            high = end_offsets(t, isolation="read_uncommitted")
            if all(stable[p] == high[p] for p in short) and not records_from(t, short):
                break
            time.sleep(0.3)


def counter(f, name):
    """A counter from the instance's last statistics line (0 before one)."""
    lines = [l for l in f.log().splitlines() if "stats:" in l]
    return int(lines[-1].split(f" {name}=")[1].split()[0]) if lines else 0


def processed(f):
    """Events the instance has screened, from its last statistics line."""
    return counter(f, "processed")


def wait_for(pred, timeout=30, step=0.05):
    """Poll pred until it is true (True) or timeout seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def wait_ready(f, timeout=60):
    """Wait until an instance has restored its first tasks (they run)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if "task(s) ready" in f.log() or (not supports("--internal-partitions") and
                                          "assigned" in f.log()):
            return True
        if f.proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"fanzha never got ready:\n{f.log()[-3000:]}")


def alerts_of(msgs):
    """The alerts among the records of the alerts topic (campaign summaries
    share the topic; see campaigns_of)."""
    return [r for r in (json.loads(v) for _, _, _, v in msgs) if r.get("type") == "alert"]


def campaigns_of(msgs):
    return [r for r in (json.loads(v) for _, _, _, v in msgs) if r.get("type") == "campaign"]


def main():
    try:
        require_broker()
    except Exception as e:  # no broker is a failure, never a silent skip
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
