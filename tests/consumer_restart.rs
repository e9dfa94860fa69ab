//! A consumer killed with SIGKILL mid-stream and restarted in the same group resumes from
//! its committed offsets: no processed record is lost; the records processed after the
//! last commit are delivered again, and the test counts and reports them.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use compass_connectors::kafka::{KafkaSettings, KafkaSink};
use compass_connectors::topics::TopicAdmin;
use compass_connectors::{Codec, OutboundRecord, Sink};
use compass_schemas::samples;

const TOTAL: usize = 2000;

fn parse(line: &str) -> (i64, i64) {
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    assert!(v.get("value").is_some(), "decoded: {line}");
    (
        v["partition"].as_i64().expect("partition"),
        v["offset"].as_i64().expect("offset"),
    )
}

#[test]
fn killed_consumer_resumes_without_losing_processed_records() {
    let topic = support::unique("restart");
    let group = support::unique("restart.g");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let settings = KafkaSettings::new(support::brokers());
    let admin = TopicAdmin::new(&settings).expect("admin");
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), admin.create_plain(&[(&topic, 4)]))
            .await
            .expect("no broker answered within 20 s: start one with `deploy/local/broker.sh start`")
            .expect("create topic");
        let sink = KafkaSink::new(&settings).expect("producer");
        let codec = Codec::single_object();
        let mut sends = Vec::new();
        for i in 0..TOTAL {
            let q = samples::query_event(&format!("q-{}", i % 50));
            let bytes = codec.encode(&topic, &q).expect("encode");
            sends.push(sink.send(OutboundRecord::new(&topic, q.query_id.into_bytes(), bytes)));
        }
        for s in sends {
            s.await.expect("delivered");
        }
    });

    let consume = |extra: &[&str]| {
        let mut c = support::compass();
        c.args([
            "consume",
            "--topic",
            &topic,
            "--group",
            &group,
            "--type",
            "query-event",
        ])
        .args(["-X", "session.timeout.ms=6000"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        c.spawn().expect("spawn compass consume")
    };

    // Run 1: read 600 lines; pause so that at least one auto-commit (every second) runs;
    // read 300 more while the consumer is busy, and SIGKILL it right there: no clean
    // shutdown, no final commit, records processed since the last auto-commit uncommitted.
    let mut first = consume(&[]);
    let mut lines = BufReader::new(first.stdout.take().expect("stdout")).lines();
    let mut run1 = Vec::new();
    for line in lines.by_ref().take(600) {
        run1.push(parse(&line.expect("line")));
    }
    std::thread::sleep(Duration::from_millis(1500));
    for line in lines.by_ref().take(300) {
        run1.push(parse(&line.expect("line")));
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    // Lines already written to the pipe were processed (the offset is stored only after the
    // line is flushed); read them too.
    for line in lines {
        run1.push(parse(&line.expect("line")));
    }

    // Run 2: the same group, until the topic is drained.
    let second = consume(&["--idle-exit-ms", "8000"]);
    let out = second.wait_with_output().expect("second run");
    assert!(out.status.success(), "second run failed: {:?}", out.status);
    let run2: Vec<(i64, i64)> = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(parse)
        .collect();

    // Within each run, offsets per partition only grow.
    for run in [&run1, &run2] {
        let mut last: BTreeMap<i64, i64> = BTreeMap::new();
        for &(p, o) in run.iter() {
            let prev = last.insert(p, o).unwrap_or(-1);
            assert!(o > prev, "partition {p}: offset {o} after {prev}");
        }
    }
    let first_set: BTreeSet<_> = run1.iter().copied().collect();
    let second_set: BTreeSet<_> = run2.iter().copied().collect();
    let all: BTreeSet<_> = first_set.union(&second_set).copied().collect();
    let duplicates = first_set.intersection(&second_set).count();
    eprintln!(
        "restart test: {TOTAL} records; run 1 processed {} before SIGKILL, run 2 processed {}; \
         lost {}, delivered twice {duplicates}",
        run1.len(),
        run2.len(),
        TOTAL - all.len()
    );
    assert_eq!(all.len(), TOTAL, "no record lost across the kill");
    assert!(
        duplicates < run1.len(),
        "the restart resumed from committed offsets, not from the start"
    );

    runtime.block_on(admin.delete(&[&topic])).expect("delete");
}
