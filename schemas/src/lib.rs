//! The Avro record contracts of Compass's topics.
//!
//! The `.avsc` files in this crate's folder are the single source of truth: they are what a
//! Kafka shop registers in its schema registry and what its own clients (Java, Python, Go)
//! generate code from. The Rust types here mirror them; the tests in `drift.rs` encode every
//! type with its derived schema and decode it with the file's schema (and the reverse), so
//! the two cannot drift apart silently.
//!
//! This crate owns the records and their stateless validation (no NaN SLOs, no cyclic
//! pipelines, no knob space beyond a bound). It does no I/O and knows nothing of Kafka:
//! framing and transport live in `compass-connectors`.

mod application;
mod assignment;
mod common;
#[cfg(test)]
mod drift;
mod profile;
mod query_event;
mod record;
pub mod samples;
mod telemetry;
mod validate;

pub use application::{Application, Knob, KnobChoice, Operator, OperatorKind};
pub use assignment::{Assignment, AssignmentStatus, Estimate, PlacedOperator, Plan, Prediction};
pub use common::{KnobSetting, Tier};
pub use profile::{
    OperatorChoice, OperatorMeasurement, ProfileRequest, ProfileSample, StratumQuota,
};
pub use query_event::{QueryEvent, QueryEventKind, QuerySpec, Slo};
pub use record::{rabin, Record, RecordKind};
pub use telemetry::DeviceTelemetry;
pub use validate::{Limits, ValidationError};

/// Re-exported so that users of the records need no direct apache-avro dependency for schemas.
pub use apache_avro::Schema;
