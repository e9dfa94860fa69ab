//! 1,000 records of which 5% are garbage: every good record reaches the handler, in per-key
//! order; every bad one lands in the dead-letter topic with headers naming its source and
//! the reason; processing never stops.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use compass_connectors::dlq;
use compass_connectors::ingest::{ingest, Incoming};
use compass_connectors::kafka::{KafkaSink, KafkaSource};
use compass_connectors::{Codec, InboundRecord, OutboundRecord, Sink, Source};
use compass_schemas::{samples, QueryEvent};

const TOTAL: usize = 1000;
const KEYS: usize = 20;

/// The bad record at position `i` and the reason the decoder must give for it.
fn garbage(codec: &Codec, i: usize) -> (Vec<u8>, &'static str) {
    let id = format!("bad-{i}");
    let good = codec
        .encode("t", &samples::query_event(&id))
        .expect("encode");
    match (i / 20) % 5 {
        0 => (
            (0..37).map(|b| (b * 31 + i) as u8).collect(),
            "invalid_magic",
        ),
        1 => (good[..good.len() / 2].to_vec(), "malformed_body"),
        2 => (
            vec![0xC3, 0x01, i as u8, (i >> 8) as u8],
            "incomplete_header",
        ),
        3 => {
            let mut b = good.clone();
            b[4] ^= 0x5a;
            (b, "unknown_schema")
        }
        _ => {
            let mut q = samples::query_event(&id);
            if let Some(s) = q.spec.as_mut() {
                s.rate_per_s = -1.0;
            }
            (codec.encode("t", &q).expect("encode"), "invalid_value")
        }
    }
}

#[tokio::test]
async fn garbage_goes_to_the_dlq_with_headers_and_good_records_keep_per_key_order() {
    let topic = support::unique("dlq.in");
    let dlq_topic = support::unique("dlq.out");
    let admin = support::create_topics(&[(&topic, 4), (&dlq_topic, 1)]).await;
    let codec = Codec::single_object();
    let sink = KafkaSink::new(&support::settings()).expect("producer");

    // Produce: key k-(i mod 20); good values carry their sequence number in event_time_ms.
    let mut expected_bad: HashMap<Vec<u8>, &'static str> = HashMap::new();
    let mut expected_good: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut sends = Vec::new();
    for i in 0..TOTAL {
        let key = format!("k-{}", i % KEYS);
        let payload = if i % 20 == 7 {
            let (bytes, reason) = garbage(&codec, i);
            expected_bad.insert(bytes.clone(), reason);
            bytes
        } else {
            let mut q = samples::query_event(&key);
            q.event_time_ms = i as i64;
            expected_good.entry(key.clone()).or_default().push(i as i64);
            codec.encode(&topic, &q).expect("encode")
        };
        sends.push(sink.send(OutboundRecord::new(&topic, key.into_bytes(), payload)));
    }
    for s in sends {
        s.await.expect("delivered");
    }
    let bad_count = TOTAL / 20;
    assert_eq!(
        expected_bad.len(),
        bad_count,
        "every garbage record is distinct"
    );

    // Consume through the ingest loop until every good record has been handled.
    let seen: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut source =
        KafkaSource::new(&support::settings(), &support::unique("g"), &[&topic]).expect("consumer");
    let handler_seen = seen.clone();
    let dlq_name = dlq_topic.clone();
    let run = tokio::spawn(async move {
        let dlq_sink = KafkaSink::new(&support::settings()).expect("dlq producer");
        let stats = ingest::<QueryEvent, _, _, _>(
            &mut source,
            &dlq_sink,
            &codec,
            &dlq_name,
            stop_rx,
            |_r, v| {
                if let Incoming::Value(q) = v {
                    handler_seen
                        .lock()
                        .expect("lock")
                        .push((q.query_id, q.event_time_ms));
                }
            },
        )
        .await;
        source.close().expect("close");
        stats
    });
    let good_count = TOTAL - bad_count;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().expect("lock").len() < good_count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Read the DLQ: all bad records, with headers.
    let mut dlq_source =
        KafkaSource::new(&support::settings(), &support::unique("g"), &[&dlq_topic])
            .expect("dlq consumer");
    let mut dead: Vec<InboundRecord> = Vec::new();
    while dead.len() < bad_count {
        match tokio::time::timeout(Duration::from_secs(30), dlq_source.recv()).await {
            Ok(r) => dead.push(r.expect("recv").expect("open")),
            Err(_) => break,
        }
    }
    stop.send(true).expect("stop");
    let stats = run.await.expect("join").expect("ingest");
    dlq_source.close().expect("close");

    let seen = seen.lock().expect("lock").clone();
    let mut by_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (k, t) in seen {
        by_key.entry(k).or_default().push(t);
    }
    assert_eq!(
        by_key, expected_good,
        "every good record, once, in per-key order"
    );
    assert_eq!(dead.len(), bad_count, "every bad record in the DLQ");
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for d in &dead {
        let payload = d.payload.clone().expect("original bytes kept");
        let want = expected_bad
            .get(&payload)
            .expect("a DLQ record is one of the garbage records");
        let header = |h: &str| String::from_utf8(d.header(h).expect(h).to_vec()).expect("utf8");
        assert_eq!(header(dlq::HEADER_REASON), *want);
        assert_eq!(header(dlq::HEADER_TOPIC), topic);
        let partition: i32 = header(dlq::HEADER_PARTITION).parse().expect("partition");
        let offset: i64 = header(dlq::HEADER_OFFSET).parse().expect("offset");
        assert!((0..4).contains(&partition) && offset >= 0);
        assert!(!header(dlq::HEADER_DETAIL).is_empty());
        assert!(
            d.key.as_deref().is_some_and(|k| k.starts_with(b"k-")),
            "original key kept"
        );
        *reasons.entry(header(dlq::HEADER_REASON)).or_default() += 1;
    }
    assert_eq!(stats.processed as usize, good_count);
    assert_eq!(stats.dead_lettered as usize, bad_count);
    eprintln!(
        "DLQ test: {good_count} good in order, {} dead-lettered by reason {reasons:?}",
        dead.len()
    );
    admin.delete(&[&topic, &dlq_topic]).await.expect("delete");
}
