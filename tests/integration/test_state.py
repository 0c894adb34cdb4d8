"""State that stays correct under faults: the defects found when fanzha was
tried as an operator would - each test here failed on the design where the
dedup, campaign and watchlist tables were shared by all partitions of an
instance while offsets and checkpoints were per partition.

- a campaign's first alert survives a crash while it is in flight;
- an instance stalled past its session timeout (a zombie) cannot overwrite
  the statistics of the instance that took its partitions over;
- a restart or reassignment restores state without reading input again,
  and an eager rebalance that hands partitions back keeps their state;
- an instance joining does not stop the others (cooperative rebalancing:
  only the partitions that move are revoked);
- an output the broker refuses for good is dead-lettered and the partition
  goes on (it used to crash-loop the daemon);
- a deleted and recreated input topic is recognised and read from its
  beginning (its events used to be skipped up to the old offsets);
- exactly once: after kill -9, no alert twice and none missing for a
  read_committed reader, and exact statistics;
- a restore waits for a transaction left open on the state topic: the
  checkpoints committed behind it are read, not an older one (a restore
  read the state topic only up to its last stable offset, found
  checkpoints older than the committed offsets and started the tasks
  again under new lineages, their state lost);
- a committed offset of the checkpoint's lineage that lags the checkpoint
  (a broker restart lost the offsets of a committed transaction) is
  restored at the checkpoint; an offset set by hand still starts a new
  lineage.
"""
import collections
import ctypes
import json
import struct
import re
import signal
import threading
import time
import unittest
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import ConfigResource, NewTopic

import harness as h

BASE = 1764288000000


def sms(eid, ts, to, text, frm="+8610690001"):
    return json.dumps({"id": eid, "ts": ts, "type": "sms", "from": frm, "to": to,
                       "text": text}, ensure_ascii=False).encode()


def stats_totals(topic):
    """Latest record per key, summed: the "all" row's counters."""
    latest = {}
    for _, _, key, value in h.consume_all(topic, idle_s=2):
        latest[key] = json.loads(value)
    out = collections.Counter()
    for r in latest.values():
        row = r["rows"][0]
        for k in ("screened", "alerts", "suppressed", "invalid"):
            out[k] += row.get(k, 0)
    return out


def open_transaction(topics):
    """1 if some partition of these topics holds records of a transaction
    not yet committed or aborted: its high watermark is beyond its last
    stable offset (what a read_committed consumer sees as its end)."""
    cs = [Consumer({"bootstrap.servers": h.BROKER, "group.id": "w-" + uuid.uuid4().hex,
                    "isolation.level": iso}) for iso in ("read_uncommitted", "read_committed")]
    try:
        for t in topics:
            md = cs[0].list_topics(t, timeout=10).topics.get(t)
            for p in (md.partitions if md else {}):
                tp = TopicPartition(t, p)
                hw = cs[0].get_watermark_offsets(tp, timeout=10, cached=False)[1]
                lso = cs[1].get_watermark_offsets(tp, timeout=10, cached=False)[1]
                if hw > lso:
                    return True
        return False
    finally:
        for c in cs:
            c.close()


class _TP(ctypes.Structure):  # rd_kafka_topic_partition_t
    _fields_ = [("topic", ctypes.c_char_p), ("partition", ctypes.c_int32),
                ("offset", ctypes.c_int64), ("metadata", ctypes.c_void_p),
                ("metadata_size", ctypes.c_size_t), ("opaque", ctypes.c_void_p),
                ("err", ctypes.c_int), ("_private", ctypes.c_void_p)]


def commit_offsets(group, topic, offsets, timeout=30):
    """Commit {partition: (offset, metadata bytes)} for a group without
    members, as a tool would (confluent_kafka 1.7 commits no metadata:
    librdkafka's C API through ctypes). Until the last member's leave is
    through, the broker refuses it (unknown member): asked again."""
    deadline = time.time() + timeout
    while True:
        e = _commit_offsets(group, topic, offsets)
        if e is None:
            return
        if time.time() > deadline:
            raise AssertionError(f"commit to {group}: {e}")
        time.sleep(0.5)


def _commit_offsets(group, topic, offsets):
    rk = ctypes.CDLL("librdkafka.so.1")
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    rk.rd_kafka_conf_new.restype = ctypes.c_void_p
    rk.rd_kafka_new.restype = ctypes.c_void_p
    rk.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    rk.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                     ctypes.c_char_p, ctypes.c_size_t]
    rk.rd_kafka_topic_partition_list_new.restype = ctypes.c_void_p
    rk.rd_kafka_topic_partition_list_add.restype = ctypes.POINTER(_TP)
    rk.rd_kafka_topic_partition_list_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                     ctypes.c_int32]
    rk.rd_kafka_commit.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    rk.rd_kafka_topic_partition_list_destroy.argtypes = [ctypes.c_void_p]
    rk.rd_kafka_consumer_close.argtypes = [ctypes.c_void_p]
    rk.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
    rk.rd_kafka_err2str.restype = ctypes.c_char_p
    err = ctypes.create_string_buffer(512)
    conf = rk.rd_kafka_conf_new()
    for k, v in (("bootstrap.servers", h.BROKER), ("group.id", group),
                 ("enable.auto.commit", "false")):
        assert rk.rd_kafka_conf_set(conf, k.encode(), v.encode(), err, 512) == 0, err.value
    c = rk.rd_kafka_new(1, conf, err, 512)  # RD_KAFKA_CONSUMER; conf now owned by c
    assert c, err.value
    lst = rk.rd_kafka_topic_partition_list_new(len(offsets))
    for p, (off, meta) in offsets.items():
        tp = rk.rd_kafka_topic_partition_list_add(lst, topic.encode(), p).contents
        tp.offset = off
        if meta:  # freed with the list
            tp.metadata = libc.malloc(len(meta))
            ctypes.memmove(tp.metadata, meta, len(meta))
            tp.metadata_size = len(meta)
    e = rk.rd_kafka_commit(c, lst, 0)
    rk.rd_kafka_topic_partition_list_destroy(lst)
    rk.rd_kafka_consumer_close(c)
    rk.rd_kafka_destroy(c)
    return rk.rd_kafka_err2str(e).decode() if e else None


def checkpoints(state_topic, group, topic):
    """{partition: (position, lineage hex)} of the tasks of topic, from
    their latest checkpoints (checkpoint.h: "FZC", version, stage, ledger
    flag, then lineage and position, little-endian)."""
    out = {}
    for _, _, key, value in h.consume_all(state_topic, idle_s=2):
        parts = key.decode().split("|") if key else []
        if len(parts) == 3 and parts[0] == group and parts[1] == topic and value:
            lineage, position = struct.unpack_from("<QQ", value, 6)
            out[int(parts[2])] = (position, f"{lineage:016x}")
    return out


def read_alerts(topic, isolation="read_committed"):
    c = Consumer({"bootstrap.servers": h.BROKER, "group.id": "r-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "isolation.level": isolation})
    c.subscribe([topic])
    out, last = [], time.time()
    while time.time() - last < 3:
        m = c.poll(0.2)
        if m is not None and not m.error():
            out.append(json.loads(m.value()))
            last = time.time()
    c.close()
    return [a for a in out if a.get("type") == "alert"]


def stats_line(f):
    lines = [l for l in f.log().splitlines() if "stats:" in l]
    return lines[-1] if lines else ""


def counter(f, name):
    line = stats_line(f)
    return int(line.split(f" {name}=")[1].split()[0]) if f" {name}=" in line else 0


class State(unittest.TestCase):
    def test_campaign_alert_survives_crash(self):
        """The first SMS of a campaign (partition 0) alerts; a variant on
        partition 1 is suppressed. The alert does not reach the broker (the
        alerts topic takes records of at most 2,600 bytes, and a batch of
        several alerts is larger), the variant's partition commits, the
        process dies; restart: the campaign must have alerted. (It used to be
        lost for good: the restart rebuilt the campaign from the committed
        variant, and the first SMS then counted as a repeat. fanzha now
        never commits the variant's partition before every output is on the
        broker, restores the campaign table as of that commit, and sizes its
        batches to the smallest limit of its output topics.)"""
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1, "stats": 1, "state": 1},
                                 {"alerts": {"max.message.bytes": "2600"}})
        group = f"g-camp9-{uuid.uuid4().hex[:6]}"
        text = "【某银行】您的账户{n}已被冻结，请致电 400-{n}-8888 解冻"
        # ordinary traffic ahead of the first SMS on its partition: a restart
        # reaches the first SMS only after it has re-read partition 1
        ham = [(f"h{i}", sms(f"ham-{i}", BASE - 5000 + i, f"+86138{i:08d}",
                             f"明天下午开会 {h.tag(i)}"), 0) for i in range(3000)]
        first = ("v1", sms("camp-first", BASE, "+8613900000001", text.format(n=1111)), 0)
        others = [(f"o{i}", sms(f"other-{i}", BASE + 10 + i, f"+86137{i:08d}",
                                f"URGENT! Call now to claim your prize, ref {h.tag(i)}"), 0)
                  for i in range(6)]
        variant = ("v2", sms("camp-variant", BASE + 1000, "+8613900000002", text.format(n=2222)), 1)
        args = ("--commit-interval-ms", "200", "--checkpoint-interval-ms", "100",
                "-X", "consumer.session.timeout.ms=6000", "-X", "producer.linger.ms=1000")
        f = h.Fanzha("camp9", topics, group, args).start()
        try:
            h.wait_ready(f)
            h.produce(topics["events"], ham + [first] + others)
            deadline = time.time() + 20
            while time.time() < deadline and h.processed(f) < len(ham) + 7:
                time.sleep(0.02)
            h.produce(topics["events"], [variant])  # a repeat of the campaign
            time.sleep(5)
        finally:
            if f.proc.poll() is None:
                f.signal(signal.SIGKILL)
            f.wait()
        f2 = h.Fanzha("camp9-restart", topics, group, ("-X", "consumer.session.timeout.ms=6000"))
        f2.start()
        try:
            h.wait_caught_up(group, topics["events"], timeout=60, proc=f2)
            time.sleep(1)
        except AssertionError:
            pass  # the earlier design died again here; what matters is below
        finally:
            f2.stop()
        alerts = h.alerts_of(h.consume_all(topics["alerts"]))
        ids = {a["event_id"] for a in alerts}
        print(f"\ncampaign after a crash: alerts {sorted(ids)}")
        self.assertTrue(ids & {"camp-first", "camp-variant"},
                        "the campaign's alert was lost: " + f2.log()[-2000:])
        self.assertEqual(ids - {"camp-first", "camp-variant"}, {f"other-{i}" for i in range(6)})

    def test_zombie_cannot_overwrite_statistics(self):
        """Events stream in while instance A is stopped (SIGSTOP) past its
        session timeout, with counts it has not committed; B takes its
        partitions over and counts the rest of the stream. Only then does A
        wake: it must not write, and the statistics must count every event
        exactly once. (The stale instance used to write its interim records
        and checkpoints over the newer, larger ones of B.)"""
        topics = h.create_topics({"events": 4, "alerts": 1, "dlq": 1, "stats": 1, "state": 1})
        group = f"g-zombie-{uuid.uuid4().hex[:6]}"
        ev = h.Events(36000, seed=41, fraud_rate=0.1)
        args = ("--checkpoint-interval-ms", "200", "--commit-interval-ms", "3000",
                "-X", "consumer.session.timeout.ms=6000",
                "-X", "consumer.heartbeat.interval.ms=500")
        stop = threading.Event()

        def trickle():  # 36,000 events over about 18 s
            for i in range(0, len(ev.records), 400):
                if stop.is_set():
                    return
                h.produce(topics["events"], ev.records[i:i + 400])
                time.sleep(0.2)

        a = h.Fanzha("zombie-a", topics, group, args).start()
        b = None
        feeder = threading.Thread(target=trickle)
        try:
            h.wait_ready(a)
            feeder.start()
            time.sleep(4)
            a.signal(signal.SIGSTOP)  # mid-stream: counted, not all committed
            b = h.Fanzha("zombie-b", topics, group, args).start()
            feeder.join()  # A's session expires; B takes everything over
            h.wait_caught_up(group, topics["events"], timeout=120, proc=b)
            time.sleep(2)  # B's records of the window are written
            a.signal(signal.SIGCONT)  # the zombie wakes with work it believes is its own
            time.sleep(4)
        finally:
            stop.set()
            a.signal(signal.SIGCONT)
            a.stop()
            if b:
                b.stop()
        got = stats_totals(topics["stats"])
        print(f"\nzombie: statistics {dict(got)}, events {len(ev.records)}")
        self.assertEqual(got["screened"] + got["invalid"], len(ev.records), dict(got))
        # every text is unique: each fraud event alerts once, nothing is a repeat
        self.assertEqual(got["alerts"], len(ev.fraud_ids), dict(got))
        self.assertEqual(got["suppressed"], 0, dict(got))

    def test_restore_reads_no_input(self):
        """A restart restores every task from its checkpoint and changelogs:
        nothing of the input is read again (it used to re-read 72 h of every
        partition). An eager rebalance that hands partitions back to the
        same process keeps their state in memory."""
        topics = h.create_topics({"events": 4, "alerts": 1, "dlq": 1, "stats": 1, "state": 1})
        group = f"g-restore-{uuid.uuid4().hex[:6]}"
        ev = h.Events(8000, seed=43, fraud_rate=0.2, dedup_group=50)
        h.produce(topics["events"], ev.records)
        f = h.Fanzha("restore-1", topics, group).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
        finally:
            f.stop()
        self.assertEqual(counter(f, "consumed") >= len(ev.records), True, stats_line(f))
        f2 = h.Fanzha("restore-2", topics, group).start()
        try:
            h.wait_ready(f2)
            time.sleep(2.5)
        finally:
            f2.stop()
        self.assertIn("restored at offset", f2.log())
        # the input is not read again (a route record or two at most: none here)
        self.assertEqual(counter(f2, "processed"), 0, stats_line(f2))
        self.assertEqual(counter(f2, "decided"), 0, stats_line(f2))

        # eager (range) rebalancing: B joins and leaves; A keeps what it keeps
        eager = ("-X", "consumer.partition.assignment.strategy=range")
        more = h.Events(4000, seed=44, fraud_rate=0.2)
        a = h.Fanzha("eager-a", topics, group, eager).start()
        b = None
        try:
            h.wait_ready(a)
            h.produce(topics["events"], more.records)
            h.wait_caught_up(group, topics["events"], proc=a)
            b = h.Fanzha("eager-b", topics, group, eager).start()
            h.wait_ready(b)
            time.sleep(2)
            b.stop()
            time.sleep(4)
            h.wait_caught_up(group, topics["events"], proc=a)
        finally:
            a.stop()
            if b:
                b.stop()
        self.assertIn("kept its state", a.log())
        self.assertLessEqual(counter(a, "processed") + counter(b, "processed"),
                             len(more.records), "input read twice: " + stats_line(a))
        ids = collections.Counter(x["event_id"] for x in
                                  h.alerts_of(h.consume_all(topics["alerts"])))
        self.assertEqual(set(ids), ev.fraud_ids | more.fraud_ids | {ev.dedup_ids[0]})

    def test_joining_instance_does_not_stop_the_others(self):
        """Cooperative-sticky assignment (the default): when a second
        instance joins, the first gives up only the partitions that move and
        keeps running the rest - none of them is revoked or restored again -
        while events flow; and every event alerts once."""
        topics = h.create_topics({"events": 6, "alerts": 2, "dlq": 1, "stats": 1, "state": 1})
        group = f"g-join-{uuid.uuid4().hex[:6]}"
        ev = h.Events(12000, seed=47, fraud_rate=0.1)
        a = h.Fanzha("join-a", topics, group, ("--threads", "1")).start()
        b = None
        stop = threading.Event()

        def trickle():
            for i in range(0, len(ev.records), 100):  # about 15 s
                if stop.is_set():
                    return
                h.produce(topics["events"], ev.records[i:i + 100])
                time.sleep(0.1)

        feeder = threading.Thread(target=trickle)
        try:
            h.wait_ready(a)
            feeder.start()
            time.sleep(2)
            before = len(a.log().splitlines())
            held = {l.split("assigned ")[1].split()[0] for l in a.log().splitlines()
                    if "assigned" in l}
            b = h.Fanzha("join-b", topics, group, ("--threads", "1")).start()
            h.wait_ready(b)
            moved = {l.split("assigned ")[1].split()[0] for l in b.log().splitlines()
                     if "assigned" in l}
            processed_at_join = counter(a, "processed")
            self.assertTrue(feeder.is_alive(), "the input ended before the second joined")
            feeder.join()
            h.wait_caught_up(group, topics["events"], proc=a)
        finally:
            stop.set()
            if feeder.is_alive():
                feeder.join()
            a.stop()
            if b:
                b.stop()
        after = a.log().splitlines()[before:]
        # at shutdown A revokes what it still holds: look before that
        stop_at = next((i for i, l in enumerate(after) if "shutting down" in l), len(after))
        revoked = {l.split("revoked ")[1].split()[0] for l in after[:stop_at] if "revoked" in l}
        reassigned = {l.split("assigned ")[1].split()[0] for l in after[:stop_at]
                      if "assigned" in l}
        self.assertTrue(moved, "the second instance got nothing")
        self.assertEqual(revoked, moved & held, "the first instance gave up more than moved")
        self.assertFalse(reassigned, f"partitions handed back to the first: {reassigned}")
        self.assertGreater(len(held - moved), 0)
        self.assertGreater(counter(a, "processed"), processed_at_join)
        ids = collections.Counter(x["event_id"] for x in
                                  h.alerts_of(h.consume_all(topics["alerts"])))
        self.assertEqual(set(ids), ev.fraud_ids)

    def test_poison_output_dead_lettered(self):
        """An alert larger than the alerts topic accepts (a long SMS; a huge
        record key) is dead-lettered with reason output_rejected and the
        partition goes on; every other alert arrives and the daemon stays
        up. (Every refused output used to be fatal: the partition stalled
        and the daemon crash-looped, or crashed on teardown.)"""
        topics = h.create_topics({"events": 1, "alerts": 1, "dlq": 1},
                                 {"alerts": {"max.message.bytes": "20000"}})
        group = f"g-poison-{uuid.uuid4().hex[:6]}"
        ev = h.Events(3000, seed=45, fraud_rate=0.2)
        recs = list(ev.records)
        long_text = "您的账户已被冻结，请联系客服处理 " + "详情" * 6000
        recs.insert(1000, ("k", sms("poison-long", BASE + 1000, "+8613900000009", long_text)))
        recs.insert(2000, ("K" * 24000, sms("poison-key", BASE + 2000, "+8613900000010",
                                           "URGENT! Call now to claim your prize, ref zzz")))
        h.produce(topics["events"], recs)
        f = h.Fanzha("poison", topics, group).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f)
            time.sleep(1)
            self.assertIsNone(f.proc.poll(), "fanzha died: " + f.log()[-3000:])
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log()[-3000:])
        dl = [json.loads(v) for _, _, _, v in h.consume_all(topics["dlq"])]
        rejected = [d for d in dl if d["reason"] == "output_rejected"]
        self.assertEqual(len(rejected), 2, [d["detail"] for d in dl])
        ids = {a["event_id"] for a in h.alerts_of(h.consume_all(topics["alerts"]))}
        self.assertEqual(ids, ev.fraud_ids)

    def test_recreated_input_topic(self):
        """The input topic is deleted and created again, and more events are
        written to it than it held before: fanzha must see that its
        checkpoint belongs to the old topic and read the new one from its
        beginning. (Its events up to the old committed offset used to be
        skipped: half of them in that test.)"""
        name = f"it-events-{uuid.uuid4().hex[:8]}"
        rest = h.create_topics({"alerts": 1, "dlq": 1, "stats": 1, "state": 1})
        topics = dict(rest, events=name)
        group = f"g-recreate-{uuid.uuid4().hex[:6]}"
        adm = h.admin()
        for f_ in adm.create_topics([NewTopic(name, 1, 1)]).values():
            f_.result(30)
        first = h.Events(600, seed=46, fraud_rate=0.2)
        h.produce(name, first.records)
        f = h.Fanzha("recreate-1", topics, group).start()
        try:
            h.wait_caught_up(group, name, proc=f)
        finally:
            f.stop()
        for f_ in adm.delete_topics([name]).values():
            f_.result(30)
        deadline = time.time() + 30
        while time.time() < deadline:  # deletion is asynchronous
            try:
                for f_ in adm.create_topics([NewTopic(name, 1, 1)]).values():
                    f_.result(30)
                break
            except Exception:
                time.sleep(0.5)
        second = h.Events(1500, seed=47, fraud_rate=0.2)
        h.produce(name, second.records)
        f2 = h.Fanzha("recreate-2", topics, group).start()
        try:
            h.wait_caught_up(group, name, proc=f2)
            time.sleep(1)
        finally:
            f2.stop()
        self.assertIn("recreated", f2.log())
        ids = {a["event_id"] for a in h.alerts_of(h.consume_all(topics["alerts"]))}
        missing = second.fraud_ids - ids
        self.assertFalse(missing, f"{len(missing)} alerts of the new topic missing")
        got = stats_totals(topics["stats"])
        self.assertEqual(got["screened"] + got["invalid"],
                         len(first.records) + len(second.records), dict(got))

    def test_restore_waits_for_open_transaction(self):
        """exactly_once: a transaction another producer left open on the
        state topic (a zombie's, one whose coordinator has not ended it
        yet) holds its last stable offset back, and the checkpoints
        committed after it lie beyond. A restore waits until it ends and
        restores them; it used to read up to the stable offset, find
        checkpoints older than the committed offsets, and start every task
        that had moved on again under a new lineage (its dedup entries,
        campaigns and statistics lost: alerts repeated or missing)."""
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1, "stats": 1, "state": 1})
        group = f"g-txopen-{uuid.uuid4().hex[:6]}"
        args = ("--processing-guarantee", "exactly_once")
        ev = h.Events(2000, seed=53, fraud_rate=0.2, dedup_group=50)
        more = h.Events(2000, seed=54, fraud_rate=0.2)
        h.produce(topics["events"], ev.records)
        zombie = Producer({"bootstrap.servers": h.BROKER, "transactional.id": f"zombie-{group}",
                           "transaction.timeout.ms": 60000})
        zombie.init_transactions(30)
        a = h.Fanzha("txopen-a", topics, group, args).start()
        try:
            # both threads in the group: no rebalance aborts a transaction
            # of A (whose restore would wait for the zombie) from here on
            self.assertTrue(h.wait_for(lambda: re.search(r"thread 1: \d+ task\(s\) ready",
                                                          a.log()), 60), a.log()[-3000:])
            h.wait_caught_up(group, topics["events"], proc=a)
            zombie.begin_transaction()
            zombie.produce(topics["state"], key=b"zombie", value=b"not a checkpoint", partition=0)
            self.assertEqual(zombie.flush(30), 0)
            # every task moves on: its checkpoints now lie past the open transaction
            h.produce(topics["events"], more.records)
            h.wait_caught_up(group, topics["events"], proc=a)
        finally:
            a.stop()
        self.assertTrue(open_transaction([topics["state"]]))
        b = h.Fanzha("txopen-b", topics, group, args).start()
        try:
            self.assertTrue(h.wait_for(lambda: "assigned" in b.log(), 60), b.log()[-3000:])
            # it waits, and after 15 s says what for
            held = "a transaction still open holds them back"
            h.wait_for(lambda: held in b.log() or "task(s) ready" in b.log(), 30)
            self.assertNotIn("starting lineage", b.log())
            self.assertNotIn("task(s) ready", b.log(), "restored past an open transaction")
            self.assertIn(held, b.log())
            zombie.abort_transaction(30)
            h.wait_ready(b)
            time.sleep(2)
        finally:
            b.stop()
        self.assertNotIn("starting lineage", b.log())
        self.assertIn("restored at offset", b.log())
        ids = collections.Counter(x["event_id"] for x in
                                  h.alerts_of(h.consume_all(topics["alerts"])))
        self.assertEqual(set(ids), ev.fraud_ids | more.fraud_ids | {ev.dedup_ids[0]})

    def test_restore_at_checkpoint_when_offsets_lost(self):
        """A broker restart was seen to end a committed transaction on the
        state topic (its commit marker written) but not on
        __consumer_offsets (its offsets discarded with the producer's next,
        aborted, transaction): the committed offset lags the checkpoint.
        Every offset fanzha commits carries its lineage, so a restore that
        finds an offset of the checkpoint's lineage behind the checkpoint
        restores the checkpoint (it used to start a new lineage at the
        offset: the records between were counted twice and their state
        lost); an offset set by hand (no lineage) still starts a new one."""
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1, "stats": 1, "state": 1})
        group = f"g-offlost-{uuid.uuid4().hex[:6]}"
        args = ("--processing-guarantee", "exactly_once")
        ev = h.Events(2000, seed=55, fraud_rate=0.2, dedup_group=50)
        h.produce(topics["events"], ev.records)
        a = h.Fanzha("offlost-a", topics, group, args).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=a)
        finally:
            a.stop()
        ck = checkpoints(topics["state"], group, topics["events"])
        self.assertEqual(sorted(ck), [0, 1], a.log()[-3000:])
        # partition 0: the offsets of its last transaction lost (an earlier
        # offset of the same lineage); partition 1: reset by hand
        commit_offsets(group, topics["events"], {
            0: (ck[0][0] - 10, f"fz1:{ck[0][1]}".encode()),
            1: (ck[1][0] - 10, None)})
        b = h.Fanzha("offlost-b", topics, group, args).start()
        try:
            h.wait_ready(b)
            self.assertTrue(h.wait_for(lambda: b.log().count("task(s) ready") >= 2, 30))
            # the checkpoint's offset is committed again
            self.assertTrue(h.wait_for(lambda: h.committed(group, topics["events"], [0]).get(0)
                                       == ck[0][0], 30), b.log()[-3000:])
        finally:
            b.stop()
        log = b.log()
        ev0 = f"{topics['events']}[0]"
        self.assertIn(f"{ev0}: committed offset {ck[0][0] - 10} lags its checkpoint at offset "
                      f"{ck[0][0]}", log)
        self.assertIn(f"restored at the checkpoint, offset {ck[0][0]} (lineage {ck[0][1]})", log)
        self.assertNotIn(f"{ev0}: checkpoint at offset", log)
        self.assertIn(f"{topics['events']}[1]: checkpoint at offset {ck[1][0]}, committed offset "
                      f"{ck[1][0] - 10}: starting lineage", log)
        self.assertEqual(counter(b, "offsets_lost"), 1, stats_line(b))

    def test_exactly_once_kill(self):
        """exactly_once: kill -9 in the middle of the stream, restart. A
        read_committed reader sees every alert once, none missing; the
        dead letters exactly once; the statistics exact."""
        topics = h.create_topics({"events": 4, "alerts": 2, "dlq": 1, "stats": 1, "state": 1})
        group = f"g-eos-{uuid.uuid4().hex[:6]}"
        ev = h.Events(30000, seed=48, fraud_rate=0.15, invalid_every=97)
        args = ("--processing-guarantee", "exactly_once", "--commit-interval-ms", "1000")
        f = h.Fanzha("eos-1", topics, group, args).start()
        try:
            h.wait_ready(f)
            for i in range(0, len(ev.records), 3000):  # a stream, not a backlog
                h.produce(topics["events"], ev.records[i:i + 3000])
                if i == 6000:  # it runs and writes alerts
                    deadline = time.time() + 60
                    while h.counter(f, "alerts") == 0 and time.time() < deadline:
                        time.sleep(0.1)
                    self.assertGreater(h.counter(f, "alerts"), 0, f.log()[-3000:])
                if i == 15000:  # with 3,000 events just written: kill it mid-transaction
                    deadline = time.time() + 20
                    while (not open_transaction([topics["alerts"], f"{group}.route"]) and
                           time.time() < deadline):
                        time.sleep(0.01)
                    f.signal(signal.SIGKILL)
                    f.wait()
                time.sleep(0.1)
        finally:
            if f.proc.poll() is None:
                f.signal(signal.SIGKILL)
                f.wait()
        f2 = h.Fanzha("eos-2", topics, group, args).start()
        try:
            h.wait_caught_up(group, topics["events"], timeout=180, proc=f2)
        finally:
            f2.stop()
        self.assertEqual(f2.proc.returncode, 0, f2.log()[-3000:])
        alerts = read_alerts(topics["alerts"])
        counts = collections.Counter(a["event_id"] for a in alerts)
        dups = sum(c - 1 for c in counts.values())
        raw = read_alerts(topics["alerts"], "read_uncommitted")
        print(f"\nexactly once: {len(alerts)} committed alerts, {dups} duplicate(s); "
              f"{len(raw)} records read uncommitted")
        route = f"{group}.route"
        aborted = (len(raw) - len(alerts) + len(h.consume_all(route, "read_uncommitted")) -
                   len(h.consume_all(route)))
        self.assertGreater(aborted, 0, "the kill left no transaction open: nothing tested")
        self.assertEqual(dups, 0)
        self.assertEqual(set(counts), ev.fraud_ids)
        dl = [json.loads(v) for _, _, _, v in h.consume_all(topics["dlq"])]
        self.assertEqual(len(dl), len(ev.invalid))
        got = stats_totals(topics["stats"])
        self.assertEqual(got["screened"], len(ev.records) - len(ev.invalid), dict(got))
        self.assertEqual(got["invalid"], len(ev.invalid), dict(got))
        self.assertEqual(got["alerts"], len(ev.fraud_ids), dict(got))


if __name__ == "__main__":
    h.main()
