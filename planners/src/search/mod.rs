//! Per-query search: Gaussian-process surrogates and the constrained acquisition that picks
//! the next plan to profile.
//!
//! - [`gp`]: a Gaussian process with a Matérn 5/2 kernel (one length-scale per input
//!   dimension), hyperparameters fitted by marginal likelihood, and a Cholesky factor that
//!   grows by one row per new sample.
//! - [`acquisition`]: expected improvement in cost times the probabilities that latency and
//!   accuracy meet their SLOs.
//! - [`encoding`]: knob configurations as numbers (one-hot or ordinal).
//! - [`cluster`]: similarity clusters: which queries share one search, and which of its
//!   candidates each member may receive.
//! - [`bo`]: the ask/tell search over one cluster's plans, on composed surrogates.
//! - [`vulcan`]: Vulcan's search (one optimization per placement), the baseline.

pub mod acquisition;
pub mod bo;
pub mod cluster;
pub mod encoding;
pub mod gp;
pub mod vulcan;
pub mod warm;
