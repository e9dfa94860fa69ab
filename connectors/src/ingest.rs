//! The decode loop shared by every transport: read a record, decode and validate it, hand it
//! to the caller or dead-letter it, and only then mark it processed.
//!
//! Delivery: at-least-once. A record's offset is marked processed only after the handler has
//! returned, or after its dead-letter copy is durably written; a crash in between re-delivers
//! it. Handlers must therefore tolerate duplicates (Compass's are idempotent by key and
//! decision epoch). A transient failure (the schema registry is unreachable) is retried with
//! backoff on the same record, never dead-lettered.

use std::collections::BTreeMap;
use std::time::Duration;

use compass_schemas::Record;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::bus::{BusError, InboundRecord, Sink, Source};
use crate::codec::{Codec, DecodeError};
use crate::dlq::dead_letter;

/// What the handler receives for each good record.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming<T> {
    /// A decoded, valid record.
    Value(T),
    /// A null value: on a compacted topic, the key was deleted.
    Tombstone,
}

/// Counts of what an ingest run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestStats {
    pub processed: u64,
    pub tombstones: u64,
    pub dead_lettered: u64,
    /// Dead-lettered records per reason.
    pub by_reason: BTreeMap<&'static str, u64>,
    pub transient_retries: u64,
}

/// Consume `source` until it closes or `shutdown` turns true; every good record of type `T`
/// goes to `handler`, every bad one to `dlq_topic` through `sink`. Commits on the way out.
pub async fn ingest<T, S, K, F>(
    source: &mut S,
    sink: &K,
    codec: &Codec,
    dlq_topic: &str,
    mut shutdown: watch::Receiver<bool>,
    mut handler: F,
) -> Result<IngestStats, BusError>
where
    T: Record,
    S: Source,
    K: Sink,
    F: FnMut(&InboundRecord, Incoming<T>),
{
    let mut stats = IngestStats::default();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let record = tokio::select! {
            _ = shutdown.changed() => break,
            r = source.recv() => match r? {
                Some(r) => r,
                None => break,
            },
        };
        let mut backoff = Duration::from_millis(50);
        loop {
            let decoded = match record.payload.as_deref() {
                None => Ok(Incoming::Tombstone),
                Some(bytes) => codec.decode::<T>(bytes).map(Incoming::Value),
            };
            match decoded {
                Ok(value) => {
                    if value == Incoming::Tombstone {
                        stats.tombstones += 1;
                    }
                    handler(&record, value);
                    stats.processed += 1;
                }
                Err(e) if e.is_transient() => {
                    stats.transient_retries += 1;
                    warn!(topic = %record.topic, partition = record.partition, offset = record.offset,
                          error = %e, retry_in_ms = backoff.as_millis() as u64, "transient decode failure; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
                Err(e) => {
                    reject(sink, &record, dlq_topic, &e, &mut stats).await?;
                }
            }
            break;
        }
        source.mark_processed(&record)?;
    }
    sink.flush()?;
    source.commit()?;
    Ok(stats)
}

async fn reject<K: Sink>(
    sink: &K,
    record: &InboundRecord,
    dlq_topic: &str,
    error: &DecodeError,
    stats: &mut IngestStats,
) -> Result<(), BusError> {
    let reason = error.reason();
    let delivered = sink
        .send(dead_letter(record, dlq_topic, reason, &error.to_string()))
        .await?;
    stats.dead_lettered += 1;
    *stats.by_reason.entry(reason).or_default() += 1;
    debug!(topic = %record.topic, partition = record.partition, offset = record.offset, reason,
           dlq_offset = delivered.offset, "dead-lettered");
    Ok(())
}
