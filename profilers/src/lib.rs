//! Precision-aware profiling: which inputs of which data strata to measure for a candidate
//! plan, the stratified estimate with its Student-t confidence interval, and the early stop
//! once the interval lies clearly on one side of the accuracy threshold.
//!
//! Pure like `compass-planners`: it turns samples into decisions and knows nothing of where
//! samples come from (Kafka, the testbed's simulated workers) or of wall-clock time.
