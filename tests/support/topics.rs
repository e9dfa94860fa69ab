//! Whole-topic helpers for the broker tests: read every record of some topics, and copy a
//! run's input topics under another prefix (same keys, payloads, headers and event times,
//! so the same partitions and the same epochs), to replay them through another planner.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use compass_connectors::kafka::{CommitWatcher, KafkaSettings, KafkaSink, PartitionReader, Tp};
use compass_connectors::{InboundRecord, OutboundRecord};

use super::brokers;

pub fn settings() -> KafkaSettings {
    KafkaSettings::new(brokers())
}

/// Every record now on `topics`, partition by partition (offset order within each).
pub fn read_all(topics: &[String]) -> Vec<InboundRecord> {
    let s = settings();
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let counts =
        PartitionReader::partition_counts(&s, &names, Duration::from_secs(10)).expect("metadata");
    let parts: Vec<Tp> = counts
        .iter()
        .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
        .collect();
    let highs = CommitWatcher::new(&s, "compass-test-reader")
        .and_then(|w| w.high_watermarks(&parts, Duration::from_secs(10)))
        .expect("high watermarks");
    let mut reader = PartitionReader::new(&s, "compass-test-reader", &parts).expect("reader");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    loop {
        match reader.poll(Duration::from_millis(100)).expect("poll") {
            Some(r) => out.push(r),
            None if reader.all_caught_up() && reader.reached(&highs) => break,
            None => assert!(
                Instant::now() < deadline,
                "topics not read to their end in 60 s"
            ),
        }
    }
    out.sort_by(|a, b| (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset)));
    out
}

/// Copy every record of `from` + each name to `to` + the same name.
pub fn copy(from: &str, to: &str, names: &[&str]) -> usize {
    let topics: Vec<String> = names.iter().map(|n| format!("{from}{n}")).collect();
    let records = read_all(&topics);
    let copies: Vec<OutboundRecord> = records
        .iter()
        .map(|r| {
            let name = r.topic.strip_prefix(from).expect("prefixed topic");
            let mut o = OutboundRecord::new(
                format!("{to}{name}"),
                r.key.clone().unwrap_or_default(),
                Vec::new(),
            );
            o.payload = r.payload.clone();
            o.headers = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect();
            o.timestamp_ms = r.timestamp_ms;
            o
        })
        .collect();
    let n = copies.len();
    let sink = KafkaSink::new(&settings()).expect("producer");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(sink.send_all(copies))
        .expect("copy produced");
    n
}

/// The outputs of a run under `prefix` as (topic name without prefix, key) → sorted
/// payloads: what a consumer that reads everything sees, independent of which worker
/// produced a record and of how the partitions interleave.
pub fn outputs(prefix: &str) -> BTreeMap<(String, Vec<u8>), Vec<Vec<u8>>> {
    let topics = [
        format!("{prefix}assignments"),
        format!("{prefix}profile-requests"),
    ];
    let mut out: BTreeMap<(String, Vec<u8>), Vec<Vec<u8>>> = BTreeMap::new();
    for r in read_all(&topics) {
        let name = r.topic.strip_prefix(prefix).unwrap_or(&r.topic).to_string();
        out.entry((name, r.key.clone().unwrap_or_default()))
            .or_default()
            .push(r.payload.clone().unwrap_or_default());
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}
