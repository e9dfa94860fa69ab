//! Kafka transport on rdkafka (bundled librdkafka): a keyed idempotent producer
//! ([`KafkaSink`]) and a consumer-group reader that commits only processed offsets
//! ([`KafkaSource`]). Both are configured from [`KafkaSettings`], whose properties pass
//! through to librdkafka verbatim.

mod config;
mod reader;
mod sink;
mod source;

pub use config::KafkaSettings;
pub use reader::{transient, CommitWatcher, PartitionReader, Tp};
pub use sink::KafkaSink;
pub use source::KafkaSource;
