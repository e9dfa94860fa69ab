//! Interop with stock clients: examples/python/interop.py (PyPI confluent-kafka and fastavro)
//! decodes an Assignment written here and produces a QueryEvent decoded here.
//!
//! The interpreter is `COMPASS_PYTHON` (`.ci/run` points it at a venv with both packages);
//! without those packages the test fails and says how to install them.

mod support;

use std::process::Command;
use std::time::Duration;

use compass_connectors::kafka::{KafkaSettings, KafkaSink, KafkaSource};
use compass_connectors::topics::TopicAdmin;
use compass_connectors::{Codec, OutboundRecord, Sink, Source};
use compass_schemas::{samples, QueryEvent, QueryEventKind, Record};

#[test]
fn python_clients_read_assignments_and_write_query_events() {
    let python = std::env::var("COMPASS_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import confluent_kafka, fastavro"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "{python} lacks confluent-kafka or fastavro: `pip install confluent-kafka fastavro`, \
         or set COMPASS_PYTHON to an interpreter that has them"
    );

    let assignments = support::unique("py.assignments");
    let queries = support::unique("py.queries");
    let settings = KafkaSettings::new(support::brokers()).with("session.timeout.ms", "6000");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let admin = TopicAdmin::new(&settings).expect("admin");
    let codec = Codec::single_object();
    let written = samples::assignment("q-py", 41);
    runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            admin.create_plain(&[(&assignments, 1), (&queries, 1)]),
        )
        .await
        .expect("no broker answered within 20 s: start one with `deploy/local/broker.sh start`")
        .expect("create topics");
        let sink = KafkaSink::new(&settings).expect("producer");
        let bytes = codec.encode(&assignments, &written).expect("encode");
        sink.send(OutboundRecord::new(
            &assignments,
            written.key().as_bytes().to_vec(),
            bytes,
        ))
        .await
        .expect("send");
    });

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python/interop.py");
    let out = Command::new(&python)
        .args([
            script,
            "--brokers",
            &support::brokers(),
            "--assignments-topic",
            &assignments,
        ])
        .args(["--queries-topic", &queries, "--query-id", "py-q-9"])
        .output()
        .expect("run the Python example");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed: {stderr}");

    // What Python decoded is what Rust wrote.
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(line["key"], "q-py");
    let expected = serde_json::to_value(&written).expect("json");
    // fastavro gives enum symbols as strings and unions as plain values, as serde_json does.
    assert_eq!(
        line["assignment"], expected,
        "Python's decoding of the Assignment"
    );

    // What Python wrote decodes here.
    runtime.block_on(async {
        let mut source =
            KafkaSource::new(&settings, &support::unique("g"), &[&queries]).expect("consumer");
        let record = tokio::time::timeout(Duration::from_secs(30), source.recv())
            .await
            .expect("the QueryEvent within 30 s")
            .expect("recv")
            .expect("open");
        assert_eq!(record.key.as_deref(), Some(&b"py-q-9"[..]));
        let q: QueryEvent = codec
            .decode(record.payload.as_deref().expect("payload"))
            .expect("decode Python's record");
        assert_eq!(q.query_id, "py-q-9");
        assert_eq!(q.kind, QueryEventKind::Arrive);
        let spec = q.spec.expect("spec");
        assert_eq!(spec.app_id, "video-qa");
        assert_eq!(spec.slo.latency_percentile, 99.0);
        assert_eq!(spec.slo.accuracy_threshold, Some(0.6));
        assert_eq!(spec.slo.max_cost_usd_per_hour, None);
        source.close().expect("close");
        admin
            .delete(&[&assignments, &queries])
            .await
            .expect("delete");
    });
}
