//! The simulated world Compass is measured in: the paper's six applications as data files
//! with ground truth calibrated on published figures, device fleets, query traces with drift
//! events, simulated GPU workers that realize latency and accuracy under co-location, and the
//! goodput accountant that counts realized (never predicted) SLO attainment.
//!
//! It uses `compass-schemas` (traces are files of the same records the topics carry) and
//! `compass-planners`' domain model, but never the planner's predictions as ground truth.
//! Everything random is drawn from a seeded ChaCha stream: the same seed gives the same world.

pub mod bound;
pub mod catalog;
pub mod fleet;
pub mod goodput;
mod ocf;
pub mod profiling;
pub mod sim;
pub mod trace;
pub mod truth;
pub mod worker;
