"""Metrics and probes, checked with the real tools: Debian's Prometheus
server scrapes a running fanzha and the figures read back through its HTTP
API equal what the test made fanzha do; `promtool check metrics` lints the
exposition; every query of the Grafana dashboard (deploy/grafana) runs on
that Prometheus, returns data, and names only metrics fanzha exports."""
import collections
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

import harness as h

DASHBOARD = os.path.join(h.ROOT, "deploy", "grafana", "fanzha-dashboard.json")


def http_get(url, method="GET", timeout=10):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dashboard_queries():
    with open(DASHBOARD) as f:
        d = json.load(f)
    out = []
    for p in d["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    return out


def for_prometheus(expr):
    """A dashboard query as Grafana sends it with every instance chosen."""
    return expr.replace("$instance", ".*").replace("$__rate_interval", "1m")


class Prometheus:
    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="fz-prom-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: fanzha\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", f"--config.file={cfg}",
             f"--storage.tsdb.path={self.dir}/data", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if http_get(f"http://127.0.0.1:{self.port}/-/ready")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise AssertionError("prometheus did not start:\n" + self.logtext())

    def logtext(self):
        with open(os.path.join(self.dir, "prometheus.log"), errors="replace") as f:
            return f.read()[-3000:]

    def query(self, q):
        st, body, _ = http_get(f"http://127.0.0.1:{self.port}/api/v1/query?" +
                               urllib.parse.urlencode({"query": q}))
        r = json.loads(body)
        if r.get("status") != "success":
            raise AssertionError(f"query {q!r} failed: {body}")
        return r["data"]["result"]

    def value(self, q):
        res = self.query(q)
        return float(res[0]["value"][1]) if res else None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def families(exposition):
    """Metric family names of an exposition, with their types."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M))


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topics = h.create_topics({"events": 3, "alerts": 2, "dlq": 1})
        cls.group = f"g-metrics-{uuid.uuid4().hex[:6]}"
        cls.ev = h.Events(600, seed=13, fraud_rate=0.2, invalid_every=40, dedup_group=10)
        h.produce(cls.topics["events"], cls.ev.records)
        cls.f = h.Fanzha("metrics", cls.topics, cls.group).start()
        cls.port = cls.f.metrics_port()
        cls.base = f"http://127.0.0.1:{cls.port}"
        h.wait_caught_up(cls.group, cls.topics["events"], proc=cls.f)
        cls.prom = Prometheus(f"127.0.0.1:{cls.port}")
        deadline = time.time() + 30  # its first scrape
        while not cls.prom.query("fanzha_ready") and time.time() < deadline:
            time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()
        cls.f.stop()

    def expected(self):
        ev = self.ev
        return {"processed": len(ev.records), "alerts": len(ev.fraud_ids) + 1,
                "suppressed": len(ev.dedup_ids) - 1,
                "invalid": collections.Counter(ev.invalid.values())}

    def test_probes(self):
        st, body, _ = http_get(self.base + "/healthz")
        self.assertEqual((st, body), (200, "ok\n"))
        deadline = time.time() + 20  # the threads publish their tasks every second
        while True:
            st, body, _ = http_get(self.base + "/readyz")
            if "6 assigned" in body or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(st, 200, body)
        self.assertTrue(body.startswith("ready\n"), body)
        self.assertRegex(body, r"partitions: 6 assigned, 0 restoring")  # 3 input + 3 route
        self.assertRegex(body, r"ruleset: rs-[0-9a-f]{16} \(3 rules\)")
        self.assertEqual(http_get(self.base + "/nope")[0], 404)
        self.assertEqual(http_get(self.base + "/metrics", method="POST")[0], 405)
        st, _, hdr = http_get(self.base + "/metrics", method="HEAD")
        self.assertEqual(st, 200)

    def test_promtool_lints_the_exposition(self):
        st, body, hdr = http_get(self.base + "/metrics")
        self.assertEqual(st, 200)
        self.assertEqual(hdr["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           text=True)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        fam = families(body)
        with open(os.path.join(h.ROOT, "docs", "operations.md")) as f:
            documented = set(re.findall(r"`(fanzha_[a-z0-9_]+)`", f.read()))
        self.assertEqual(set(fam) - documented, set(), "metrics missing from docs/operations.md")
        self.assertGreaterEqual(len(fam), 45)
        for name, typ in fam.items():  # the conventions promtool does not check
            self.assertTrue(name.startswith("fanzha_"), name)
            if typ == "counter":
                self.assertTrue(name.endswith("_total"), name)
            if typ == "histogram":
                self.assertTrue(name.endswith("_seconds"), name)

    def test_prometheus_reads_back_the_figures(self):
        want = self.expected()
        q = {"processed": "sum(fanzha_events_processed_total)",
             "alerts": "sum(fanzha_alerts_total)",
             "suppressed": "sum(fanzha_alerts_suppressed_total)"}
        deadline = time.time() + 60
        got = {}
        while time.time() < deadline:
            got = {k: self.prom.value(v) for k, v in q.items()}
            if all(got[k] == want[k] for k in q):
                break
            time.sleep(1)
        self.assertEqual({k: got[k] for k in q}, {k: want[k] for k in q},
                         self.prom.logtext())
        inv = {r["metric"]["reason"]: float(r["value"][1])
               for r in self.prom.query("fanzha_events_invalid_total")}
        self.assertEqual({k: v for k, v in inv.items() if v}, dict(want["invalid"]))
        dead = self.prom.value("sum(fanzha_dead_letters_total)")
        self.assertEqual(dead, sum(want["invalid"].values()))
        # alerts by category and severity: the rules of tests/integration/rules
        cats = {(r["metric"]["category"], r["metric"]["severity"]): float(r["value"][1])
                for r in self.prom.query("fanzha_alerts_total")}
        self.assertEqual(sum(cats.values()), want["alerts"])
        self.assertTrue(set(cats) <= {("impersonate_bank", "high"), ("prize_lottery", "medium"),
                                      ("known_fraud_number", "critical")}, cats)
        # every alert was timed from its event and from its input record
        self.assertEqual(self.prom.value("sum(fanzha_ingest_to_alert_seconds_count)"),
                         want["alerts"])
        self.assertEqual(self.prom.value("sum(fanzha_event_to_alert_seconds_count)"),
                         want["alerts"])
        # the generator's events are from 2025: event time is long before delivery
        # (past the last bound, 1 h: histogram_quantile answers that bound)
        self.assertEqual(self.prom.value(
            "histogram_quantile(0.5, sum by (le) (fanzha_event_to_alert_seconds_bucket))"), 3600)
        self.assertLess(self.prom.value(
            "histogram_quantile(0.99, sum by (le) (fanzha_ingest_to_alert_seconds_bucket))"), 60)
        # caught up: no lag on any partition, input and route
        lag = self.prom.query("fanzha_consumer_lag")
        self.assertEqual(len(lag), 6)
        self.assertEqual({float(r["value"][1]) for r in lag}, {0.0})
        ver = self.prom.query("fanzha_ruleset_info")
        self.assertRegex(ver[0]["metric"]["version"], r"^rs-[0-9a-f]{16}$")
        self.assertEqual(self.prom.value("fanzha_ready"), 1)
        self.assertEqual(self.prom.value('sum(fanzha_rule_matches_total{rule="it.zh.frozen"})'),
                         self.prom.value('sum(fanzha_alerts_total{category="impersonate_bank"})') +
                         want["suppressed"])

    def test_dashboard_queries_run_on_prometheus(self):
        st, body, _ = http_get(self.base + "/metrics")
        fam = families(body)
        queries = dashboard_queries()
        self.assertGreaterEqual(len(queries), 20)
        time.sleep(3)  # rate() over 1m needs two samples
        for title, expr in queries:
            names = set(re.findall(r"\bfanzha_[a-z0-9_]+", expr))
            self.assertTrue(names, f"{title}: {expr} names no fanzha metric")
            for n in names:
                base = re.sub(r"_(bucket|sum|count)$", "", n) if n not in fam else n
                self.assertIn(base, fam, f"dashboard panel {title!r} uses {n}, not exported")
            res = self.prom.query(for_prometheus(expr))
            self.assertTrue(res, f"dashboard panel {title!r}: no data for {expr}")


class Starting(unittest.TestCase):
    """Before the cluster answers, the process is alive but not ready, and
    the probes say what it is waiting for."""

    def test_probes_while_the_cluster_is_away(self):
        dead = free_port()  # nothing listens there
        f = h.Fanzha("starting", {"events": "x", "alerts": "y"}, "g-starting",
                     extra=("--brokers", f"127.0.0.1:{dead}")).start()
        try:
            base = f"http://127.0.0.1:{f.metrics_port()}"
            st, body, _ = http_get(base + "/healthz")
            self.assertEqual((st, body), (200, "ok: starting\n"))
            st, body, _ = http_get(base + "/readyz")
            self.assertEqual(st, 503, body)
            self.assertRegex(body, r"^not ready\nstarting: (loading the rules|resolving the topics)\n")
            st, body, _ = http_get(base + "/metrics")
            self.assertEqual(st, 200)
            self.assertIn("fanzha_ready 0\n", body)
            p = subprocess.run(["promtool", "check", "metrics"], input=body,
                               capture_output=True, text=True)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        finally:
            f.proc.kill()
            f.wait()


if __name__ == "__main__":
    h.main()
