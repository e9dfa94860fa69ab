//! An in-memory bus with Kafka's shape (topics, partitions, keyed partitioning, per-group
//! committed offsets), for the embedded `compass demo` only. It is not a test double for
//! Kafka: integration tests run against a real broker.
//!
//! One consumer per group and topic set (no rebalancing). Records are kept for the life of
//! the bus. Delivery follows the same rule as Kafka here: a group resumes after its last
//! committed offset.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::bus::{BusError, Delivered, InboundRecord, OutboundRecord, Sink, Source};

#[derive(Default)]
struct State {
    topics: HashMap<String, Vec<Vec<InboundRecord>>>,
    /// (group, topic, partition) -> next offset to read.
    committed: HashMap<(String, String, i32), i64>,
    closed: bool,
}

/// A shared in-memory bus; clones share the same topics.
#[derive(Clone, Default)]
pub struct MemoryBus {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Create `topic` with `partitions` partitions; a no-op if it exists.
    pub fn create_topic(&self, topic: &str, partitions: usize) {
        self.state()
            .topics
            .entry(topic.to_string())
            .or_insert_with(|| vec![Vec::new(); partitions.max(1)]);
    }

    /// Wake every consumer and make `recv` return `None` once it has drained its topics.
    pub fn close(&self) {
        self.state().closed = true;
        self.notify.notify_waiters();
    }

    /// Number of records in `topic` over all partitions.
    pub fn len(&self, topic: &str) -> usize {
        self.state()
            .topics
            .get(topic)
            .map_or(0, |ps| ps.iter().map(Vec::len).sum())
    }

    pub fn is_empty(&self, topic: &str) -> bool {
        self.len(topic) == 0
    }

    pub fn sink(&self) -> MemorySink {
        MemorySink { bus: self.clone() }
    }

    /// A consumer of `topics` in `group`, starting after the group's committed offsets.
    pub fn source(&self, group: &str, topics: &[&str]) -> Result<MemorySource, BusError> {
        let state = self.state();
        let mut positions = Vec::new();
        for t in topics {
            let parts = state
                .topics
                .get(*t)
                .ok_or_else(|| BusError::UnknownTopic(t.to_string()))?;
            for p in 0..parts.len() as i32 {
                let next = state
                    .committed
                    .get(&(group.to_string(), t.to_string(), p))
                    .copied()
                    .unwrap_or(0);
                positions.push(Position {
                    topic: t.to_string(),
                    partition: p,
                    next,
                    processed: next,
                });
            }
        }
        Ok(MemorySource {
            bus: self.clone(),
            group: group.to_string(),
            positions,
            cursor: 0,
        })
    }
}

/// FNV-1a: a stable hash, so that a key always maps to the same partition across runs.
fn partition_for(key: &[u8], partitions: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % partitions as u64) as usize
}

pub struct MemorySink {
    bus: MemoryBus,
}

impl Sink for MemorySink {
    async fn send(&self, record: OutboundRecord) -> Result<Delivered, BusError> {
        let delivered = {
            let mut state = self.bus.state();
            if state.closed {
                return Err(BusError::Closed);
            }
            let parts = state
                .topics
                .get_mut(&record.topic)
                .ok_or_else(|| BusError::UnknownTopic(record.topic.clone()))?;
            let partition = partition_for(&record.key, parts.len());
            let log = &mut parts[partition];
            let offset = log.len() as i64;
            log.push(InboundRecord {
                topic: record.topic,
                partition: partition as i32,
                offset,
                key: Some(record.key),
                payload: record.payload,
                headers: record
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k, Some(v)))
                    .collect(),
                timestamp_ms: record.timestamp_ms,
            });
            Delivered {
                partition: partition as i32,
                offset,
            }
        };
        self.bus.notify.notify_waiters();
        Ok(delivered)
    }

    fn flush(&self) -> Result<(), BusError> {
        Ok(())
    }
}

struct Position {
    topic: String,
    partition: i32,
    next: i64,
    processed: i64,
}

pub struct MemorySource {
    bus: MemoryBus,
    group: String,
    positions: Vec<Position>,
    cursor: usize,
}

impl MemorySource {
    /// The next unread record, visiting partitions round-robin.
    fn poll(&mut self) -> Option<InboundRecord> {
        let state = self.bus.state();
        let n = self.positions.len();
        for i in 0..n {
            let idx = (self.cursor + i) % n;
            let pos = &mut self.positions[idx];
            let log = &state.topics[&pos.topic][pos.partition as usize];
            if let Some(r) = log.get(pos.next as usize) {
                pos.next += 1;
                self.cursor = (idx + 1) % n;
                return Some(r.clone());
            }
        }
        None
    }
}

impl Source for MemorySource {
    async fn recv(&mut self) -> Result<Option<InboundRecord>, BusError> {
        loop {
            let notify = self.bus.notify.clone();
            let notified = notify.notified();
            if let Some(r) = self.poll() {
                return Ok(Some(r));
            }
            if self.bus.state().closed {
                return Ok(None);
            }
            notified.await;
        }
    }

    fn mark_processed(&mut self, record: &InboundRecord) -> Result<(), BusError> {
        if let Some(p) = self
            .positions
            .iter_mut()
            .find(|p| p.topic == record.topic && p.partition == record.partition)
        {
            p.processed = p.processed.max(record.offset + 1);
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), BusError> {
        let mut state = self.bus.state();
        for p in &self.positions {
            state.committed.insert(
                (self.group.clone(), p.topic.clone(), p.partition),
                p.processed,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keyed_records_keep_order_and_groups_resume_after_commit() {
        let bus = MemoryBus::new();
        bus.create_topic("t", 3);
        let sink = bus.sink();
        for i in 0..30u8 {
            sink.send(OutboundRecord::new("t", vec![i % 5], vec![i]))
                .await
                .expect("send");
        }
        let mut src = bus.source("g", &["t"]).expect("source");
        let mut seen: HashMap<u8, Vec<u8>> = HashMap::new();
        for _ in 0..20 {
            let r = src.recv().await.expect("recv").expect("record");
            let key = r.key.as_ref().expect("key")[0];
            seen.entry(key)
                .or_default()
                .push(r.payload.as_ref().expect("payload")[0]);
            src.mark_processed(&r).expect("mark");
        }
        src.commit().expect("commit");
        drop(src);
        let mut src = bus.source("g", &["t"]).expect("source");
        bus.close();
        while let Some(r) = src.recv().await.expect("recv") {
            let key = r.key.as_ref().expect("key")[0];
            seen.entry(key)
                .or_default()
                .push(r.payload.as_ref().expect("payload")[0]);
        }
        let total: usize = seen.values().map(Vec::len).sum();
        assert_eq!(total, 30, "every record exactly once across the restart");
        for (k, vals) in seen {
            let expected: Vec<u8> = (0..30u8).filter(|i| i % 5 == k).collect();
            assert_eq!(vals, expected, "per-key order for key {k}");
        }
    }

    #[tokio::test]
    async fn unknown_topics_are_errors() {
        let bus = MemoryBus::new();
        assert!(matches!(
            bus.source("g", &["nope"]),
            Err(BusError::UnknownTopic(_))
        ));
        let err = bus
            .sink()
            .send(OutboundRecord::new("nope", b"k".to_vec(), vec![]))
            .await;
        assert!(matches!(err, Err(BusError::UnknownTopic(_))));
    }
}
