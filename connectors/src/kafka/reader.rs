//! A reader of an explicit set of partitions, for a timely worker that must own its share of
//! the input without group rebalances moving it away.
//!
//! Delivery: at-least-once. The reader never commits by itself (`enable.auto.commit=false`);
//! its owner commits the *next* offset per partition with [`PartitionReader::commit`] once
//! every output derived from the records before it is durable. Caveat: records read after
//! the last commit are read again after a crash. The reader always starts at the beginning:
//! Compass's planner replays its inputs to rebuild its state, and uses the committed offsets
//! for lag and for telling its readers how far it has got.
//!
//! End of partition: [`PartitionReader::caught_up`] says whether a partition has been read to
//! its end, from end-of-partition events and from the watermarks the client caches from its
//! fetch responses (not a ListOffsets request per check: slow on some Kafka-protocol brokers).
//!
//! One client reads every partition of a reader, whatever their topics: each client sends its
//! own fetch requests, and a broker that answers a fetch only when its wait is over (tansu)
//! spends most of its CPU on those requests, so a client per topic multiplied its load. Each
//! partition's records come through a queue of their own, split from the client's, so that an
//! end-of-partition event (which names the partition but not its topic) is never ambiguous.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::bus::{BusError, InboundRecord};
use crate::kafka::source::{inbound_of, CompassContext};
use crate::kafka::KafkaSettings;

/// A topic partition.
pub type Tp = (String, i32);

pub struct PartitionReader {
    /// The one client (none when no partition is assigned); its own queue carries only
    /// events once the partitions are split off, but must still be polled to serve them.
    consumer: Option<Arc<BaseConsumer<CompassContext>>>,
    /// One queue per assigned partition, polled in turn.
    queues: Vec<(Tp, PartitionQueue<CompassContext>)>,
    next: usize,
    assigned: BTreeSet<Tp>,
    at_end: BTreeSet<Tp>,
    /// Offset after the last record read, per partition.
    next_offset: BTreeMap<Tp, i64>,
    last_refresh: Option<Instant>,
    last_transient: Option<Instant>,
}

impl PartitionReader {
    /// Read `partitions` from their beginning as consumer group `group` (used for commits
    /// only; the reader does not join the group's rebalancing). Always the beginning: the
    /// caught-up check takes an unread partition's position to be its low watermark.
    pub fn new(settings: &KafkaSettings, group: &str, partitions: &[Tp]) -> Result<Self, BusError> {
        let mut queues = Vec::new();
        let consumer = if partitions.is_empty() {
            None
        } else {
            let consumer: BaseConsumer<CompassContext> = settings
                .client_config(&[
                    ("group.id", group),
                    ("enable.auto.commit", "false"),
                    ("enable.auto.offset.store", "false"),
                    ("enable.partition.eof", "true"),
                    ("auto.offset.reset", "earliest"),
                    // Latency over broker load: a broker that answers an empty fetch only
                    // after the full wait delays every new record (and every request queued
                    // behind the fetch on the connection) by up to this much.
                    ("fetch.wait.max.ms", "10"),
                    // Backpressure: the client stops fetching once this much is queued
                    // unread (librdkafka's default is 64 MiB per client), so a reader that
                    // falls behind leaves the backlog in Kafka, not in memory.
                    ("queued.max.messages.kbytes", "16384"),
                ])?
                .create_with_context(CompassContext)?;
            let mut tpl = TopicPartitionList::new();
            for (topic, p) in partitions {
                tpl.add_partition_offset(topic, *p, Offset::Beginning)?;
            }
            consumer.assign(&tpl)?;
            // Split after `assign` (which undoes splits) and before the first poll (records
            // fetched before a split stay on the client's queue).
            let consumer = Arc::new(consumer);
            for tp in partitions {
                let queue = consumer
                    .split_partition_queue(&tp.0, tp.1)
                    .ok_or_else(|| BusError::UnknownTopic(tp.0.clone()))?;
                queues.push((tp.clone(), queue));
            }
            Some(consumer)
        };
        Ok(PartitionReader {
            consumer,
            queues,
            next: 0,
            assigned: partitions.iter().cloned().collect(),
            at_end: BTreeSet::new(),
            next_offset: BTreeMap::new(),
            last_refresh: None,
            last_transient: None,
        })
    }

    /// Partition counts of `topics` from the broker's metadata; a missing topic is an error.
    pub fn partition_counts(
        settings: &KafkaSettings,
        topics: &[&str],
        timeout: Duration,
    ) -> Result<BTreeMap<String, i32>, BusError> {
        let consumer: BaseConsumer = settings.client_config(&[])?.create()?;
        let mut out = BTreeMap::new();
        for t in topics {
            let md = consumer.fetch_metadata(Some(t), timeout)?;
            let n = md
                .topics()
                .iter()
                .find(|m| m.name() == *t && m.error().is_none())
                .map_or(0, |m| m.partitions().len());
            if n == 0 {
                return Err(BusError::UnknownTopic((*t).to_string()));
            }
            out.insert((*t).to_string(), n as i32);
        }
        Ok(out)
    }

    /// The next record, waiting at most `timeout`; `None` if none came.
    pub fn poll(&mut self, timeout: Duration) -> Result<Option<InboundRecord>, BusError> {
        let deadline = Instant::now() + timeout;
        let n = self.queues.len();
        if n == 0 {
            std::thread::sleep(timeout);
            return Ok(None);
        }
        loop {
            for _ in 0..n {
                let i = self.next;
                self.next = (i + 1) % n;
                if let Some(r) = self.poll_queue(i)? {
                    return Ok(Some(r));
                }
            }
            if let Some(r) = self.serve_events()? {
                return Ok(Some(r));
            }
            self.refresh_ends();
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
        }
    }

    /// The next record of the `i`th partition's queue, if it holds one; its end-of-partition
    /// events on the way are noted.
    fn poll_queue(&mut self, i: usize) -> Result<Option<InboundRecord>, BusError> {
        let (tp, queue) = &self.queues[i];
        loop {
            match queue.poll(Duration::ZERO) {
                None => return Ok(None),
                Some(Ok(m)) => {
                    let r = note_read(&mut self.at_end, &mut self.next_offset, tp.clone(), &m);
                    return Ok(Some(r));
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    self.at_end.insert(tp.clone());
                }
                Some(Err(e)) if transient(&e) => {
                    // The client reconnects by itself; the records wait on the broker.
                    self.note_transient(&e);
                    return Ok(None);
                }
                Some(Err(e)) => return Err(BusError::Kafka(e)),
            }
        }
    }

    /// Serve the client's own queue: its events (errors that concern no one partition), and
    /// any record left on it from before the split.
    fn serve_events(&mut self) -> Result<Option<InboundRecord>, BusError> {
        let Some(consumer) = &self.consumer else {
            return Ok(None);
        };
        loop {
            match consumer.poll(Duration::ZERO) {
                None => return Ok(None),
                Some(Ok(m)) => {
                    let tp = (m.topic().to_string(), m.partition());
                    return Ok(Some(note_read(
                        &mut self.at_end,
                        &mut self.next_offset,
                        tp,
                        &m,
                    )));
                }
                // Names no topic: left to the watermark check (`refresh_ends`).
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) if transient(&e) => {
                    self.note_transient(&e);
                    return Ok(None);
                }
                Some(Err(e)) => return Err(BusError::Kafka(e)),
            }
        }
    }

    /// Log a transient error at most every 5 s (they come in bursts while a broker is down).
    fn note_transient(&mut self, e: &KafkaError) {
        if self
            .last_transient
            .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
        {
            self.last_transient = Some(Instant::now());
            tracing::warn!(error = %e, "broker unavailable; the reader waits and retries");
        }
    }

    /// End-of-partition events do not always reach `poll` (librdkafka may hand them to the
    /// error callback instead), and asking the broker for watermarks (ListOffsets) is slow on
    /// some Kafka-protocol brokers, so an idle reader compares its positions with the high
    /// watermarks the client caches from its fetch responses, at most every 5 ms.
    fn refresh_ends(&mut self) {
        if self
            .last_refresh
            .is_some_and(|t| t.elapsed() < Duration::from_millis(5))
            || self.at_end.len() == self.assigned.len()
        {
            return;
        }
        self.last_refresh = Some(Instant::now());
        let Some(consumer) = &self.consumer else {
            return;
        };
        for tp in &self.assigned {
            if !self.at_end.contains(tp) && at_end_by_watermarks(consumer, tp, &self.next_offset) {
                self.at_end.insert(tp.clone());
            }
        }
    }

    /// Whether `tp` has been read to its end (until the next record arrives on it).
    pub fn caught_up(&self, tp: &Tp) -> bool {
        self.at_end.contains(tp)
    }

    /// Whether every assigned partition has been read to its end.
    pub fn all_caught_up(&self) -> bool {
        self.at_end.len() == self.assigned.len()
    }

    pub fn assigned(&self) -> &BTreeSet<Tp> {
        &self.assigned
    }

    /// Commit `next` (the next offset to read, per partition) for the group, synchronously.
    pub fn commit(&self, next: &BTreeMap<Tp, i64>) -> Result<(), BusError> {
        self.commit_with(next, CommitMode::Sync)
    }

    /// Commit `next` without waiting for the broker's answer. Commits of one client reach
    /// the group coordinator in order; a failure is logged by the client context when the
    /// answer arrives (on a later poll), and the next commit of the partition supersedes it.
    pub fn commit_async(&self, next: &BTreeMap<Tp, i64>) -> Result<(), BusError> {
        self.commit_with(next, CommitMode::Async)
    }

    fn commit_with(&self, next: &BTreeMap<Tp, i64>, mode: CommitMode) -> Result<(), BusError> {
        let Some(consumer) = self.consumer.as_ref().filter(|_| !next.is_empty()) else {
            return Ok(());
        };
        let mut tpl = TopicPartitionList::new();
        for ((t, p), o) in next {
            tpl.add_partition_offset(t, *p, Offset::Offset(*o))?;
        }
        match consumer.commit(&tpl, mode) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(e) => Err(BusError::Kafka(e)),
        }
    }

    /// Records not read yet per assigned partition: the high watermark the client last saw
    /// minus the position (no broker round trip; absent before the first fetch response).
    pub fn lag(&self) -> BTreeMap<Tp, i64> {
        let mut out = BTreeMap::new();
        let Some(consumer) = &self.consumer else {
            return out;
        };
        for tp in &self.assigned {
            if let Some((low, high)) = cached_watermarks(consumer, &tp.0, tp.1) {
                let at = self.next_offset.get(tp).copied().unwrap_or(low);
                out.insert(tp.clone(), (high - at).max(0));
            }
        }
        out
    }

    /// Whether every partition in `highs` has been read up to its offset there (high
    /// watermarks asked of the broker, see [`CommitWatcher::high_watermarks`]). Unlike
    /// [`PartitionReader::all_caught_up`], which trusts end-of-partition events and cached
    /// watermarks, this cannot say "done" before the offsets the caller asked for. On a
    /// compacted topic the offsets are still the right end: compaction leaves gaps below the
    /// high watermark, it does not lower it.
    pub fn reached(&self, highs: &BTreeMap<Tp, i64>) -> bool {
        highs
            .iter()
            .all(|(tp, h)| self.next_offset.get(tp).copied().unwrap_or(0) >= *h)
    }

    /// Offset after the last record read, per partition read so far.
    pub fn positions(&self) -> &BTreeMap<Tp, i64> {
        &self.next_offset
    }
}

/// Whether a consumer error is one librdkafka recovers from by itself (the broker is down,
/// restarting, or unreachable for a while): the reader then waits instead of failing. Fatal
/// client errors, unknown topics and authorization failures still end the read.
pub fn transient(e: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    let code = match e {
        KafkaError::MessageConsumption(c)
        | KafkaError::Global(c)
        | KafkaError::MetadataFetch(c)
        | KafkaError::OffsetFetch(c)
        | KafkaError::ConsumerCommit(c) => *c,
        _ => return false,
    };
    matches!(
        code,
        C::AllBrokersDown
            | C::BrokerTransportFailure
            | C::BrokerNotAvailable
            | C::NetworkException
            | C::RequestTimedOut
            | C::OperationTimedOut
            | C::LeaderNotAvailable
            | C::NotLeaderForPartition
            | C::NotCoordinator
            | C::CoordinatorNotAvailable
            | C::CoordinatorLoadInProgress
            | C::Resolve
    )
}

/// A record of `tp` read: the partition is no longer at its end, and its position moves.
/// (Takes the reader's fields, not the reader: the message borrows the queue it came from.)
fn note_read(
    at_end: &mut BTreeSet<Tp>,
    next_offset: &mut BTreeMap<Tp, i64>,
    tp: Tp,
    m: &BorrowedMessage<'_>,
) -> InboundRecord {
    at_end.remove(&tp);
    next_offset.insert(tp, m.offset() + 1);
    inbound_of(m)
}

/// Whether the position in `tp` (the offset after the last record read; the low watermark
/// before any) has reached the high watermark the client last saw. False before the first
/// fetch response of the partition.
fn at_end_by_watermarks<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    tp: &Tp,
    next_offset: &BTreeMap<Tp, i64>,
) -> bool {
    cached_watermarks(consumer, &tp.0, tp.1)
        .is_some_and(|(low, high)| next_offset.get(tp).copied().unwrap_or(low) >= high)
}

/// The (low, high) watermarks the client last saw in a fetch response; `None` before the
/// first one. No broker round trip.
fn cached_watermarks<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Option<(i64, i64)> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid while `consumer` lives; librdkafka only reads the
    // NUL-terminated topic name and writes the two out-parameters, which outlive the call.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        && high >= 0
        && low >= 0)
        .then_some((low, high))
}

/// Watches how far another consumer group has committed, without joining it.
pub struct CommitWatcher {
    consumer: BaseConsumer,
}

impl CommitWatcher {
    pub fn new(settings: &KafkaSettings, group: &str) -> Result<Self, BusError> {
        Ok(CommitWatcher {
            consumer: settings.client_config(&[("group.id", group)])?.create()?,
        })
    }

    /// The high watermarks of `partitions` in one ListOffsets request per broker (latest
    /// offset: timestamp -1), from this idle client (a client that is also fetching may queue
    /// the request behind its fetches).
    pub fn high_watermarks(
        &self,
        partitions: &[Tp],
        timeout: Duration,
    ) -> Result<BTreeMap<Tp, i64>, BusError> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions {
            tpl.add_partition_offset(t, *p, Offset::End)?;
        }
        Ok(offsets_of(self.consumer.offsets_for_times(tpl, timeout)?))
    }

    /// The offsets the group has committed on `partitions` (absent: none committed).
    pub fn committed(
        &self,
        partitions: &[Tp],
        timeout: Duration,
    ) -> Result<BTreeMap<Tp, i64>, BusError> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions {
            tpl.add_partition(t, *p);
        }
        Ok(offsets_of(self.consumer.committed_offsets(tpl, timeout)?))
    }
}

/// The concrete offsets in a partition list the broker answered. Consumes the list: a live
/// `TopicPartitionList` from the client keeps the client from shutting down.
fn offsets_of(got: TopicPartitionList) -> BTreeMap<Tp, i64> {
    got.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
            _ => None,
        })
        .collect()
}
