//! The interface shared by the Kafka transport and the in-memory bus: owned records in and
//! out, a [`Sink`] that resolves once a record is durably written, and a [`Source`] whose
//! offsets advance only for records marked processed.

use std::future::Future;

/// A record read from a topic partition.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone (a deletion on a compacted topic).
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp_ms: Option<i64>,
}

impl InboundRecord {
    /// The value of the first header named `name`, if present and non-null.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// A record to write; the key decides the partition (same key, same partition, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRecord {
    pub topic: String,
    pub key: Vec<u8>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Event time (CreateTime) in ms since the Unix epoch; `None`: the producer's clock.
    pub timestamp_ms: Option<i64>,
}

impl OutboundRecord {
    pub fn new(topic: impl Into<String>, key: impl Into<Vec<u8>>, payload: Vec<u8>) -> Self {
        OutboundRecord {
            topic: topic.into(),
            key: key.into(),
            payload: Some(payload),
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    /// Stamp the record with an explicit event time.
    pub fn at(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Where a written record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

/// Errors of the transports.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(transparent)]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("topic `{0}` does not exist")]
    UnknownTopic(String),
    #[error("the bus is closed")]
    Closed,
    #[error("invalid Kafka setting `{key}={value}`: {reason}")]
    Config {
        key: String,
        value: String,
        reason: String,
    },
}

impl BusError {
    /// Whether waiting and trying again may succeed: the broker is down or restarting, or a
    /// commit could not reach the group coordinator.
    pub fn is_transient(&self) -> bool {
        match self {
            BusError::Kafka(k) => crate::kafka::transient(k),
            _ => false,
        }
    }
}

/// Writes records. `send` resolves when the record is durable (acks=all on Kafka).
pub trait Sink: Send + Sync {
    fn send(
        &self,
        record: OutboundRecord,
    ) -> impl Future<Output = Result<Delivered, BusError>> + Send;
    /// Wait until everything sent so far is durable.
    fn flush(&self) -> Result<(), BusError>;
}

/// Reads records of a consumer group.
///
/// At-least-once: only offsets of records passed to [`Source::mark_processed`] are ever
/// committed, so a crash re-delivers whatever was read but not yet processed.
pub trait Source: Send {
    /// The next record; `None` once the source is closed.
    fn recv(&mut self) -> impl Future<Output = Result<Option<InboundRecord>, BusError>> + Send;
    /// Record that `record` (and everything before it on its partition) has been processed.
    fn mark_processed(&mut self, record: &InboundRecord) -> Result<(), BusError>;
    /// Commit the processed offsets now and wait for the commit.
    fn commit(&mut self) -> Result<(), BusError>;
}
