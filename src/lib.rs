//! The embedded harness behind `compass demo` and `compass bench`: the planner's dataflow
//! driven against the testbed's simulated deployment in one process, and PNG charts of the
//! result; the Kafka services behind `compass run` and `compass worker --simulated`, and
//! their configuration. The `compass` binary is a thin command line over this and the library crates.

pub mod cluster;
pub mod config;
pub mod embedded;
pub mod plot;
pub mod service;
pub mod throughput;
