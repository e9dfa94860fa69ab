//! The domain model: applications with their knob spaces, devices, queries with SLOs, plans,
//! and the performance model that predicts a plan's latency, accuracy and cost.
//!
//! The formulas live in [`perf`]; what they need to know about operators (latency on the
//! reference hardware, accuracy per data stratum) comes through the [`OperatorModel`] trait,
//! which the testbed's ground truth and the planner's surrogates both implement.

mod app;
mod device;
pub mod perf;
mod plan;
mod query;

pub use app::{AppModel, Config, ModelError};
pub use device::{Device, Link};
pub use perf::{OperatorModel, PlanEstimate};
pub use plan::{enumerate_plans, valid_gpu_share, Placement, Plan, PlanError};
pub use query::{AccuracyBound, Query, SloTargets};

pub use compass_schemas::{OperatorKind, Tier};
