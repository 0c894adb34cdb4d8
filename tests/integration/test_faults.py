"""Fault tests beyond a single stop: the broker restarting under a running
daemon, and a second instance joining the group mid-stream (a rebalance
with work in flight). In both, every expected alert must arrive."""
import collections
import os
import signal
import subprocess
import time
import uuid

import harness as h

import unittest

KAFKA_LOCAL = os.path.join(h.ROOT, "deploy", "kafka-local.sh")


def processed(f):
    lines = [l for l in f.log().splitlines() if "stats:" in l]
    return int(lines[-1].split("processed=")[1].split()[0]) if lines else 0


def wait_processed(f, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline and processed(f) < n:
        time.sleep(0.1)


class Faults(unittest.TestCase):
    def check_complete(self, name, topics, ev):
        alerts = h.alerts_of(h.consume_all(topics["alerts"]))
        counts = collections.Counter(a["event_id"] for a in alerts)
        missing = ev.fraud_ids - set(counts)
        print(f"\n{name}: {len(alerts)} alerts for {len(ev.fraud_ids)} fraud events, "
              f"{sum(c - 1 for c in counts.values())} duplicate(s)")
        self.assertFalse(missing, f"{len(missing)} alerts missing, e.g. {sorted(missing)[:5]}")
        self.assertFalse(set(counts) - ev.fraud_ids)

    @unittest.skipUnless(os.environ.get("FANZHA_KAFKA_PORT"),
                         "needs the broker started by tests/run.sh (FANZHA_KAFKA_PORT)")
    def test_broker_restart_mid_stream(self):
        topics = h.create_topics({"events": 4, "alerts": 2, "dlq": 1})
        group = f"g-brk-{uuid.uuid4().hex[:6]}"
        ev = h.Events(30000, seed=21, fraud_rate=0.1)
        h.produce(topics["events"], ev.records)
        f = h.Fanzha("broker-restart", topics, group).start()
        try:
            wait_processed(f, 3000)
            subprocess.run(["bash", KAFKA_LOCAL, "stop"], check=True)
            time.sleep(3)  # the daemon runs on with no broker
            self.assertIsNone(f.proc.poll(), "fanzha died while the broker was down:\n" +
                              f.log()[-2000:])
            subprocess.run(["bash", KAFKA_LOCAL, "start"], check=True)
            h.wait_caught_up(group, topics["events"], timeout=180, proc=f)
        finally:
            f.stop()
        self.assertEqual(f.proc.returncode, 0, f.log()[-3000:])
        self.check_complete("broker restart", topics, ev)

    def test_second_instance_joins_and_first_leaves(self):
        topics = h.create_topics({"events": 6, "alerts": 2, "dlq": 1})
        group = f"g-reb-{uuid.uuid4().hex[:6]}"
        ev = h.Events(40000, seed=23, fraud_rate=0.1)
        h.produce(topics["events"], ev.records)
        a = h.Fanzha("rebalance-a", topics, group).start()
        b = None
        try:
            wait_processed(a, 2000)
            b = h.Fanzha("rebalance-b", topics, group).start()  # rebalance 1
            deadline = time.time() + 30
            while time.time() < deadline and "assigned" not in b.log():
                time.sleep(0.1)
            self.assertIn("assigned", b.log(), "the second instance got no partitions")
            a.signal(signal.SIGTERM)  # rebalance 2: b takes everything
            self.assertEqual(a.wait(90), 0, a.log()[-3000:])
            h.wait_caught_up(group, topics["events"], timeout=180, proc=b)
        finally:
            a.stop()
            if b:
                b.stop()
        self.assertIn("revoked", a.log())
        self.check_complete("rebalance", topics, ev)

    def sigterm_while_waiting(self, name, suffix, waiting, extra=()):
        """SIGTERM while an instance waits for a transaction still open on
        its group's topic <group><suffix> (the state topic: every restore
        reads it to its end; the watch changelog: start-up reads it to its
        end before any partition is assigned). The instance gives up the
        wait and exits 0 at once (an orchestrator's grace period is 30 s),
        commits nothing for what it never restored, and the next instance
        restores everything. `waiting` is a log line that says it waits."""
        from confluent_kafka import Producer
        topics = h.create_topics({"events": 2, "alerts": 1, "dlq": 1})
        group = f"g-{name}-{uuid.uuid4().hex[:6]}"
        ev = h.Events(2000, seed=29, fraud_rate=0.1)
        h.produce(topics["events"], ev.records)
        a = h.Fanzha(f"{name}-a", topics, group, extra).start()
        try:
            h.wait_caught_up(group, topics["events"], timeout=120, proc=a)
        finally:
            a.stop()
        self.assertEqual(a.proc.returncode, 0, a.log()[-3000:])
        before = h.committed(group, topics["events"], [0, 1])
        tx = Producer(h.client({"transactional.id": f"open-{group}",
                                "transaction.timeout.ms": 300000}))
        tx.init_transactions(30)
        tx.begin_transaction()
        tx.produce(group + suffix, key=b"held-open", value=b"x", partition=0)
        tx.flush(30)
        b = h.Fanzha(f"{name}-b", topics, group, extra).start()
        try:
            self.assertTrue(h.wait_for(lambda: waiting in b.log(), 60), b.log()[-3000:])
            time.sleep(3)
            self.assertNotIn("task(s) ready", b.log(), "it did not wait")
            t0 = time.time()
            b.signal(signal.SIGTERM)
            code = b.wait(90)
            took = time.time() - t0
        finally:
            tx.abort_transaction(30)
            b.stop()
        print(f"\n{name}: exit {code} {took:.1f} s after SIGTERM")
        self.assertEqual(code, 0, b.log()[-3000:])
        self.assertLess(took, 20, f"SIGTERM took {took:.0f} s:\n{b.log()[-3000:]}")
        self.assertEqual(h.committed(group, topics["events"], [0, 1]), before)
        c = h.Fanzha(f"{name}-c", topics, group, extra).start()
        try:
            h.wait_ready(c, timeout=90)
            self.assertNotIn("starting lineage", c.log(), c.log()[-3000:])
        finally:
            c.stop()
        self.assertEqual(c.proc.returncode, 0, c.log()[-3000:])
        return b.log()

    def test_sigterm_while_restore_waits(self):
        log = self.sigterm_while_waiting("rst", ".state", "assigned")
        self.assertIn("is abandoned", log)

    def test_sigterm_while_startup_reads_watch_changelog(self):
        log = self.sigterm_while_waiting("wcl", ".watch-changelog", "topics: route",
                                         ("--intercept-capacity", "1000"))
        self.assertIn("stopped during start-up", log)
        self.assertNotIn(": assigned ", log)

if __name__ == "__main__":
    h.main()
