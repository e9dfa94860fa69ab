//! Compass's I/O edge: everything that touches bytes on a wire.
//!
//! - [`codec`]: Avro single-object encoding, or the Confluent wire format with a schema
//!   registry ([`registry`]); typed decode errors that double as dead-letter reasons.
//! - [`topics`]: the topic catalogue (`topics/catalogue.toml`) and its provisioning and
//!   verification against a broker.
//! - [`kafka`]: rdkafka source and sink (at-least-once; see that module's header).
//! - [`memory`]: an in-memory bus with the same interface, for the embedded `compass demo`
//!   only: integration tests use a real broker.
//! - [`ingest`]: the decode loop shared by both: decode, validate, hand over or dead-letter,
//!   and only then mark the record processed.
//!
//! Planning code must not depend on this crate's transports; `compass-planners` knows no
//! Kafka, and `compass-dataflow` reaches Kafka only through the types here.

pub mod bus;
pub mod codec;
pub mod dlq;
pub mod ingest;
pub mod kafka;
pub mod memory;
pub mod registry;
pub mod topics;

pub use bus::{Delivered, InboundRecord, OutboundRecord, Sink, Source};
pub use codec::{Codec, DecodeError, EncodeError, WireFormat};
