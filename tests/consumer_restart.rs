//! A consumer killed with SIGKILL mid-stream and restarted in the same group resumes from
//! its committed offsets: no processed record is lost; the records processed after the
//! last commit are delivered again, and the test counts and reports them. A consumer that
//! shuts down cleanly commits everything it processed: its successor sees no duplicate.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
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

/// A 4-partition topic holding `TOTAL` QueryEvents; returns the admin that deletes it.
fn filled_topic(runtime: &tokio::runtime::Runtime, topic: &str) -> TopicAdmin {
    let settings = KafkaSettings::new(support::brokers());
    let admin = TopicAdmin::new(&settings).expect("admin");
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), admin.create_plain(&[(topic, 4)]))
            .await
            .expect("no broker answered within 20 s: start one with `deploy/local/broker.sh start`")
            .expect("create topic");
        let sink = KafkaSink::new(&settings).expect("producer");
        let codec = Codec::single_object();
        let mut sends = Vec::new();
        for i in 0..TOTAL {
            let q = samples::query_event(&format!("q-{}", i % 50));
            let bytes = codec.encode(topic, &q).expect("encode");
            sends.push(sink.send(OutboundRecord::new(topic, q.query_id.into_bytes(), bytes)));
        }
        for s in sends {
            s.await.expect("delivered");
        }
    });
    admin
}

fn consume(topic: &str, group: &str, extra: &[&str]) -> Child {
    support::compass()
        .args([
            "consume",
            "--topic",
            topic,
            "--group",
            group,
            "--type",
            "query-event",
        ])
        .args(["-X", "session.timeout.ms=6000"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn compass consume")
}

fn lines_of(out: Output) -> Vec<(i64, i64)> {
    assert!(
        out.status.success(),
        "compass consume failed: {:?}",
        out.status
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(parse)
        .collect()
}

/// Within one run, offsets per partition only grow.
fn assert_in_order(run: &[(i64, i64)]) {
    let mut last: BTreeMap<i64, i64> = BTreeMap::new();
    for &(p, o) in run {
        let prev = last.insert(p, o).unwrap_or(-1);
        assert!(o > prev, "partition {p}: offset {o} after {prev}");
    }
}

#[test]
fn killed_consumer_resumes_without_losing_processed_records() {
    let topic = support::unique("restart");
    let group = support::unique("restart.g");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let admin = filled_topic(&runtime, &topic);

    // Run 1: read 600 lines; pause so that at least one auto-commit (every second) runs;
    // read 300 more while the consumer is busy, and SIGKILL it right there: no clean
    // shutdown, no final commit, records processed since the last auto-commit uncommitted.
    let mut first = consume(&topic, &group, &[]);
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
    // Lines already in the pipe were processed (an offset is stored only after its line
    // is flushed); read them too.
    for line in lines {
        run1.push(parse(&line.expect("line")));
    }

    // Run 2: the same group, until the topic is drained.
    let run2 = lines_of(
        consume(&topic, &group, &["--idle-exit-ms", "8000"])
            .wait_with_output()
            .expect("run 2"),
    );

    assert_in_order(&run1);
    assert_in_order(&run2);
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

#[test]
fn a_clean_shutdown_commits_everything_processed() {
    let topic = support::unique("graceful");
    let group = support::unique("graceful.g");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let admin = filled_topic(&runtime, &topic);
    // `--max` stops polling after 700 records, then commits and leaves the group.
    let run1 = lines_of(
        consume(&topic, &group, &["--max", "700"])
            .wait_with_output()
            .expect("run 1"),
    );
    let run2 = lines_of(
        consume(&topic, &group, &["--idle-exit-ms", "8000"])
            .wait_with_output()
            .expect("run 2"),
    );
    assert_in_order(&run1);
    assert_in_order(&run2);
    let first: BTreeSet<_> = run1.iter().copied().collect();
    let second: BTreeSet<_> = run2.iter().copied().collect();
    let overlap = first.intersection(&second).count();
    eprintln!(
        "graceful test: run 1 {} records, run 2 {}, delivered twice {overlap}",
        run1.len(),
        run2.len()
    );
    assert_eq!(run1.len(), 700);
    assert_eq!(overlap, 0, "no duplicate after a clean shutdown");
    assert_eq!(first.union(&second).count(), TOTAL, "nothing lost");
    runtime.block_on(admin.delete(&[&topic])).expect("delete");
}
