//! Global matching: choose at most one candidate plan per query under shared capacities.
//!
//! Per-query search hands each query a few candidate plans bound to concrete machines;
//! here they meet. An [`Instance`] lists capacity-limited resources (a machine's GPU memory
//! and GPU compute, a link's bandwidth) and, per query, candidates that each use some of
//! them. Two modes:
//! - **goodput**: maximize the weighted number of queries served by a plan predicted to
//!   meet their SLOs, then minimize cost;
//! - **cost**: serve every query, at least cost.
//!
//! Both charge a churn penalty for moving a query off its current plan. [`greedy`] is the
//! fast online matcher and [`repair`] its incremental step between full solves; `milp`
//! (feature `milp`) is the exact oracle they are measured against.

pub mod baselines;
mod certify;
mod exact;
pub mod greedy;
mod instance;
mod knapsack;
mod lagrange;
mod lns;
mod local;
#[cfg(feature = "milp")]
pub mod milp;
mod prices;
pub mod random;
pub mod repair;
#[cfg(test)]
mod tests;

pub use instance::{Candidate, Instance, Matching, Mode, QueryDemand, Resource, Score};
