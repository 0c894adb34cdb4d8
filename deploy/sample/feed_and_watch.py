"""Quick start, step 2: feed the sample events to Kafka and show what fanzha
makes of them.

Reads deploy/sample/events.ndjson ({"key", "event"} or {"key", "raw"} per
line), stamps every event with a fresh id and the current time, produces
them to the events topic, then prints the alerts and dead letters that
arrive (only those of this run) until every expected record is in or the
timeout passes. Standard library + confluent_kafka (Debian
python3-confluent-kafka).
"""
import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

ap = argparse.ArgumentParser()
ap.add_argument("--brokers", default="127.0.0.1:9092")
ap.add_argument("--events-topic", default="events")
ap.add_argument("--alerts-topic", default="fanzha.alerts")
ap.add_argument("--dlq-topic", default="fanzha.dlq")
ap.add_argument("--timeout", type=float, default=30)
args = ap.parse_args()

here = os.path.dirname(os.path.abspath(__file__))
run = time.strftime("%H%M%S")


def end_offsets(c, topic, wait_s=60):
    # a broker that has just started (again, on the state of an earlier run)
    # lists a topic's partitions before their leaders are back: ask again
    deadline = time.time() + wait_s
    while True:
        try:
            md = c.list_topics(topic, timeout=10)
            tps = []
            for p in md.topics[topic].partitions:
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                tps.append(TopicPartition(topic, p, hi))
            return tps
        except KafkaException as e:
            if time.time() > deadline:
                sys.exit(f"topic '{topic}': no end offsets from the broker in {wait_s} s: {e}")
            time.sleep(1)


reader = Consumer({"bootstrap.servers": args.brokers, "group.id": f"quickstart-reader-{run}",
                   "enable.auto.commit": False})
start = end_offsets(reader, args.alerts_topic) + end_offsets(reader, args.dlq_topic)
reader.assign(start)  # only what this run produces

producer = Producer({"bootstrap.servers": args.brokers})
now = int(time.time() * 1000)
n = 0
with open(os.path.join(here, "events.ndjson"), encoding="utf-8") as f:
    for i, line in enumerate(f):
        rec = json.loads(line)
        if "raw" in rec:
            value = rec["raw"].encode()
        else:
            ev = dict(rec["event"], id=f"qs-{run}-{i + 1:02d}", ts=now + i)
            value = json.dumps(ev, ensure_ascii=False).encode()
        producer.produce(args.events_topic, value=value, key=rec["key"].encode())
        n += 1
producer.flush(30)
print(f"produced {n} sample events to '{args.events_topic}' (ids qs-{run}-NN)\n")

alerts = dead = 0
deadline = time.time() + args.timeout
quiet_since = None
while time.time() < deadline:
    m = reader.poll(0.5)
    if m is None or m.error():
        if (alerts or dead) and quiet_since and time.time() - quiet_since > 3:
            break
        continue
    quiet_since = time.time()
    r = json.loads(m.value())
    if m.topic() == args.alerts_topic and r.get("type") == "campaign":
        print(f"CAMPAIGN {r['state']:<14} {r['rule']['id']:<34} count={r['count']} "
              f"recipients~{r['recipients_estimate']:.0f}  {r['sample'][:40]}")
    elif m.topic() == args.alerts_topic:
        alerts += 1
        what = r.get("text") or f"{r['event_type']} {r.get('from', '')} -> {r.get('to', '')}"
        print(f"ALERT  {r['severity']:<8} {r['rule']['category']:<24} {r['rule']['id']:<34} "
              f"{r['event_id']}  {what[:60]}")
    else:
        dead += 1
        print(f"DEAD   {r['reason']:<8} {r['detail']}  (partition {r['source']['partition']}, "
              f"offset {r['source']['offset']})")
reader.close()
print(f"\n{alerts} alert(s) on '{args.alerts_topic}', {dead} dead letter(s) on '{args.dlq_topic}'")
sys.exit(0 if alerts else 1)
