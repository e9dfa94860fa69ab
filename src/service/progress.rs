//! The planner's progress marker: per consumer group, the first decision epoch whose outputs
//! are not known to be durable, on the compacted `planner-progress` topic (key: the group,
//! value: the epoch in UTF-8 decimal).
//!
//! Why a topic of its own: a restarted planner replays its inputs from the beginning to
//! rebuild its state, and without a marker it would re-emit every decision it ever made.
//! Committed input offsets cannot say which epochs were flushed (a partition with no records
//! in an epoch has no offset for it, and the test broker drops commit metadata), so the
//! first worker writes the barrier's epoch here once every worker has flushed the epochs
//! before it, before the offsets are committed. After a restart, outputs of the epochs
//! before the marker are computed (the state needs them) but not produced again.
//!
//! Caveat: a crash after an epoch's outputs are flushed but before the marker is written
//! re-emits that epoch's outputs (same decision epoch, so consumers that keep the highest
//! epoch per query are unaffected): at most the epochs since the last marker are duplicated.

use std::time::{Duration, Instant};

use compass_connectors::kafka::{KafkaSettings, PartitionReader};
use compass_connectors::OutboundRecord;
use tracing::info;

use super::ServiceError;

/// How long reading the marker at start may take before the planner gives up.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The record that marks every epoch before `epoch` as flushed for `group`.
pub fn marker(topic: &str, group: &str, epoch: u64) -> OutboundRecord {
    OutboundRecord::new(topic, group, epoch.to_string().into_bytes())
}

/// The highest epoch marked for `group` (0 when none was), read to the end of `topic`.
pub fn read(kafka: &KafkaSettings, topic: &str, group: &str) -> Result<u64, ServiceError> {
    let counts = PartitionReader::partition_counts(kafka, &[topic], Duration::from_secs(10))?;
    let parts: Vec<_> = (0..counts[topic]).map(|p| (topic.to_string(), p)).collect();
    let mut reader = PartitionReader::new(kafka, &format!("{group}.progress"), &parts)?;
    let started = Instant::now();
    let mut from = 0u64;
    while !reader.all_caught_up() {
        if started.elapsed() > READ_TIMEOUT {
            return Err(ServiceError::Progress(format!(
                "{topic} was not read to its end in {} s",
                READ_TIMEOUT.as_secs()
            )));
        }
        let Some(r) = reader.poll(Duration::from_millis(50))? else {
            continue;
        };
        if r.key.as_deref() != Some(group.as_bytes()) {
            continue;
        }
        let Some(v) = r.payload.as_deref() else {
            from = 0; // a tombstone resets the group's progress
            continue;
        };
        let epoch = std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ServiceError::Progress(format!(
                    "{topic} offset {}: not an epoch: {:?}",
                    r.offset,
                    String::from_utf8_lossy(v)
                ))
            })?;
        from = from.max(epoch);
    }
    if from > 0 {
        info!(
            group,
            epoch = from,
            "resuming: outputs of earlier epochs are not produced again"
        );
    }
    Ok(from)
}
