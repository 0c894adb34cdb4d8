"""Fault tests: stop the daemon mid-stream (SIGTERM, and kill -9), restart it,
and check that no alert is missing."""
import collections
import signal
import threading
import time
import uuid

import harness as h

import unittest


class Restart(unittest.TestCase):
    N = 40000

    def interrupted_run(self, name, sig, extra=()):
        topics = h.create_topics({"events": 4, "alerts": 2, "dlq": 1})
        group = f"g-{name}-{uuid.uuid4().hex[:6]}"
        ev = h.Events(self.N, seed=11, fraud_rate=0.1)
        # half the stream first; the rest arrives while the first run is
        # being stopped (fanzha takes 40,000 events in well under a second,
        # so a stream produced up front would be finished before the stop)
        half = len(ev.records) // 2
        h.produce(topics["events"], ev.records[:half])
        # first run: interrupt once a part of the stream has been alerted
        f1 = h.Fanzha(name + "-1", topics, group, extra).start()
        deadline = time.time() + 60
        while time.time() < deadline:
            if "processed=" in f1.log():
                line = [l for l in f1.log().splitlines() if "stats:" in l][-1]
                processed = int(line.split("processed=")[1].split()[0])
                if processed >= self.N // 10:
                    break
            time.sleep(0.1)
        def trickle(recs):  # the rest, 500 events every 50 ms (about 2 s)
            for i in range(0, len(recs), 500):
                h.produce(topics["events"], recs[i:i + 500])
                time.sleep(0.05)
        rest = threading.Thread(target=trickle, args=(ev.records[half:],))
        rest.start()
        time.sleep(0.5)
        f1.signal(sig)
        rc1 = f1.wait(90)
        rest.join()
        first = h.alerts_of(h.consume_all(topics["alerts"], idle_s=1.5))
        ends = h.end_offsets(topics["events"])
        done = sum(max(o, 0) for o in h.committed(group, topics["events"], list(ends)).values())
        # second run: must finish the stream
        f2 = h.Fanzha(name + "-2", topics, group).start()
        try:
            h.wait_caught_up(group, topics["events"], proc=f2)
        finally:
            f2.stop()
        self.assertEqual(f2.proc.returncode, 0, f2.log()[-3000:])
        alerts = h.alerts_of(h.consume_all(topics["alerts"]))
        counts = collections.Counter(a["event_id"] for a in alerts)
        missing = ev.fraud_ids - set(counts)
        extra = set(counts) - ev.fraud_ids
        dups = sum(c - 1 for c in counts.values())
        print(f"\n{name}: first run rc={rc1}, {len(first)} alerts before the stop, "
              f"{done}/{self.N} offsets committed at the stop; after restart "
              f"{len(alerts)} alerts for {len(ev.fraud_ids)} fraud events, "
              f"{dups} duplicate(s)")
        self.assertFalse(missing, f"{len(missing)} alerts missing, e.g. {sorted(missing)[:5]}")
        self.assertFalse(extra, f"unexpected alerts {sorted(extra)[:5]}")
        self.assertGreater(len(first), 0, "the stop came before any alert: test proves nothing")
        self.assertLess(done, self.N, "the stop came after the end of the stream")
        return rc1, dups, f1

    def test_sigterm_drains_and_commits(self):
        rc1, dups, f1 = self.interrupted_run("sigterm", signal.SIGTERM)
        self.assertEqual(rc1, 0, f1.log()[-3000:])
        self.assertIn("stopped cleanly", f1.log())
        # a drained, committed stop resumes exactly where it stopped
        self.assertEqual(dups, 0)

    def test_kill9_loses_nothing(self):
        # commit rarely so that the kill lands on alerted but uncommitted work
        rc1, dups, f1 = self.interrupted_run("kill9", signal.SIGKILL,
                                             ("--commit-interval-ms", "2000"))
        self.assertEqual(rc1, -signal.SIGKILL)


if __name__ == "__main__":
    h.main()
