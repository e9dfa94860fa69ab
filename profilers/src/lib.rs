//! Precision-aware profiling: which inputs of which data strata to measure for a candidate
//! plan, the stratified estimate with its Student-t confidence interval, and the early stop
//! once the interval lies clearly on one side of the accuracy threshold.
//!
//! Pure like `compass-planners`: it turns samples into decisions and knows nothing of where
//! samples come from (Kafka, the testbed's simulated workers) or of wall-clock time.
//!
//! - [`stratified`]: per-stratum running statistics, the stratified mean and its interval,
//!   and Neyman allocation of the next inputs (in proportion to weight × standard deviation).
//! - [`decision`]: the sequential test (meets, fails, dominated, undecided) with the error
//!   rate split across looks, and the profiling loop.
//! - [`prefix`]: measurements of an operator prefix, shared by every plan that starts with it.

pub mod decision;
pub mod prefix;
pub mod stratified;
