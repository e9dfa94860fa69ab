#!/usr/bin/env python3
"""Talk to Compass from Python with the clients Kafka shops already use.

confluent-kafka (PyPI; it bundles a recent librdkafka) for Kafka, fastavro for Avro. Compass
frames records with Avro single-object encoding when no schema registry is configured:

    0xC3 0x01 | 8-byte CRC-64-AVRO fingerprint of the writer schema | Avro binary body

This script
  1. reads one Assignment from --assignments-topic and prints it as JSON on stdout, and
  2. produces one QueryEvent (an arrival) to --queries-topic, keyed by its query id.

    pip install confluent-kafka fastavro
    python3 examples/python/interop.py --brokers 127.0.0.1:9092 \\
        --assignments-topic compass.assignments --queries-topic compass.queries

Exit codes: 0 done, 1 an error (printed on stderr).
"""

import argparse
import io
import json
import pathlib
import sys
import time
import uuid

import fastavro
from confluent_kafka import Consumer, KafkaError, Producer
from fastavro.schema import fingerprint, to_parsing_canonical_form

SCHEMAS = pathlib.Path(__file__).resolve().parents[2] / "schemas"
MAGIC = b"\xc3\x01"


def load(name):
    schema = fastavro.parse_schema(json.loads((SCHEMAS / name).read_text()))
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
    return schema, fp


def encode(schema, fp, record):
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, record)
    return MAGIC + fp + body.getvalue()


def decode(schema, fp, data):
    if len(data) < 10 or data[:2] != MAGIC:
        raise ValueError(f"not single-object encoded (first bytes {data[:2].hex()})")
    if data[2:10] != fp:
        raise ValueError(f"unknown writer schema fingerprint {data[2:10].hex()}")
    return fastavro.schemaless_reader(io.BytesIO(data[10:]), schema)


def read_one_assignment(brokers, topic, timeout_s):
    schema, fp = load("assignment.avsc")
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"python-interop-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
    })
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(msg.error())
            record = decode(schema, fp, msg.value())
            consumer.commit(message=msg, asynchronous=False)
            return msg.key().decode(), record
    finally:
        consumer.close()
    raise TimeoutError(f"no Assignment on {topic} within {timeout_s} s")


def produce_query(brokers, topic, query_id):
    schema, fp = load("query_event.avsc")
    event = {
        "query_id": query_id,
        "kind": "arrive",
        "event_time_ms": int(time.time() * 1000),
        "spec": {
            "app_id": "video-qa",
            "source_device_id": "laptop-3",
            "rate_per_s": 0.5,
            "weight": 2.0,
            "slo": {
                "latency_ms": 1500.0,
                "latency_percentile": 99.0,
                "accuracy_threshold": 0.6,
                "max_cost_usd_per_hour": None,
            },
            "data_stratum": "long-video",
        },
    }
    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all",
                         "compression.type": "lz4"})
    errors = []
    producer.produce(topic, key=query_id.encode(), value=encode(schema, fp, event),
                     on_delivery=lambda err, _msg: err and errors.append(err))
    if producer.flush(30) != 0 or errors:
        raise RuntimeError(f"QueryEvent not delivered: {errors or 'flush timed out'}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--brokers", default="127.0.0.1:9092")
    p.add_argument("--assignments-topic", default="compass.assignments")
    p.add_argument("--queries-topic", default="compass.queries")
    p.add_argument("--query-id", default="py-query-1")
    p.add_argument("--timeout-s", type=float, default=30.0)
    args = p.parse_args()
    try:
        key, assignment = read_one_assignment(args.brokers, args.assignments_topic, args.timeout_s)
        print(json.dumps({"key": key, "assignment": assignment}, sort_keys=True), flush=True)
        produce_query(args.brokers, args.queries_topic, args.query_id)
    except Exception as e:  # report and exit non-zero: this is a command-line example
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
