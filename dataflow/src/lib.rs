//! Wires Compass: the timely/differential dataflow that turns the input topics (queries,
//! applications, telemetry, profile samples) into incrementally maintained clusters and
//! candidate plans, runs global matching per resource pool, and emits assignment changes
//! and profile requests.
//!
//! It owns time (epochs, frontiers, the cross-worker flush barrier before offsets are
//! committed) and the plumbing between `compass-connectors` (bytes and brokers) and
//! `compass-planners` (decisions). It holds no planning logic of its own.
