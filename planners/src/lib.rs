//! Compass's planning algorithms: the performance model (composed latency, accuracy, cost),
//! per-cluster constrained Bayesian search, similarity clusters with warm start, and global
//! query-plan matching under contention, plus the baselines they are measured against.
//!
//! Pure by contract: no I/O, no clock, no Kafka, no timely. Every function is deterministic
//! given its inputs and a seed, so it can be unit-tested, property-tested and benchmarked
//! alone. `compass-dataflow` calls into this crate; this crate never calls out.

/// Whether this build has the exact MILP oracle (the `milp` feature, CBC).
pub const MILP_AVAILABLE: bool = cfg!(feature = "milp");

pub mod matching;
pub mod model;
pub mod online;
pub mod search;
