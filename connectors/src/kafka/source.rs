//! Consumer-group reader.
//!
//! Delivery: at-least-once. `enable.auto.offset.store=false`: an offset is stored only when
//! the caller marks its record processed ([`Source::mark_processed`]); librdkafka's
//! periodic auto-commit and the final synchronous commit in [`KafkaSource::close`] then
//! commit only stored offsets. Caveat: records processed after the last commit are
//! delivered again after a crash (kill -9, lost group membership); consumers must tolerate
//! duplicates. There are no transactions (the test broker does not support EndTxn), so
//! exactly-once is achieved by the data (keys and decision epochs), not by Kafka.
//!
//! Shutdown: [`KafkaSource::close`] commits synchronously, unsubscribes (leaving the group,
//! so partitions move to other members at once) and drops the client.

use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientContext, TopicPartitionList};
use tracing::{debug, info, warn};

use crate::bus::{BusError, InboundRecord, Source};
use crate::kafka::KafkaSettings;

/// Routes librdkafka events to `tracing` and drops the per-partition EOF noise.
pub struct CompassContext;

impl ClientContext for CompassContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            return;
        }
        warn!(%error, reason, "kafka client error");
    }
}

impl ConsumerContext for CompassContext {
    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => info!(partitions = tpl.count(), "partitions assigned"),
            Rebalance::Revoke(tpl) => info!(partitions = tpl.count(), "partitions revoked"),
            Rebalance::Error(e) => warn!(error = %e, "rebalance error"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => warn!(error = %e, "offset commit failed"),
        }
    }
}

pub struct KafkaSource {
    consumer: StreamConsumer<CompassContext>,
}

impl KafkaSource {
    /// Join `group` and subscribe to `topics`. A group with no committed offsets starts at
    /// the earliest record.
    pub fn new(settings: &KafkaSettings, group: &str, topics: &[&str]) -> Result<Self, BusError> {
        let consumer: StreamConsumer<CompassContext> = settings
            .client_config(&[
                ("group.id", group),
                ("enable.auto.commit", "true"),
                ("auto.commit.interval.ms", "1000"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                ("session.timeout.ms", "10000"),
                ("heartbeat.interval.ms", "1000"),
            ])?
            .create_with_context(CompassContext)?;
        consumer.subscribe(topics)?;
        debug!(group, ?topics, "subscribed");
        Ok(KafkaSource { consumer })
    }

    pub fn consumer(&self) -> &StreamConsumer<CompassContext> {
        &self.consumer
    }

    /// Commit what was processed, leave the group, and drop the client.
    pub fn close(mut self) -> Result<(), BusError> {
        let committed = self.commit();
        self.consumer.unsubscribe();
        committed
    }
}

impl Source for KafkaSource {
    async fn recv(&mut self) -> Result<Option<InboundRecord>, BusError> {
        loop {
            match self.consumer.recv().await {
                Ok(m) => return Ok(Some(inbound_of(&m))),
                Err(KafkaError::PartitionEOF(_)) => continue,
                Err(e) => return Err(BusError::Kafka(e)),
            }
        }
    }

    fn mark_processed(&mut self, record: &InboundRecord) -> Result<(), BusError> {
        // The legacy per-partition store commits `offset + 1`: the next record to read.
        self.consumer
            .store_offset(&record.topic, record.partition, record.offset)?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), BusError> {
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(e) => Err(BusError::Kafka(e)),
        }
    }
}

/// An owned copy of a consumed message.
pub(crate) fn inbound_of<M: Message>(m: &M) -> InboundRecord {
    let headers = m
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default();
    InboundRecord {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().map(<[u8]>::to_vec),
        headers,
        timestamp_ms: m.timestamp().to_millis(),
    }
}
