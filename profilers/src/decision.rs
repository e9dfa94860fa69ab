//! The sequential test that stops profiling early, and the profiling loop.
//!
//! After each batch, the stratified interval decides: **meets** when it lies wholly on the
//! good side of the accuracy threshold, **fails** when wholly on the bad side, **dominated**
//! when wholly worse than an incumbent's accuracy (the caller passes one only for plans that
//! also cost more), else **undecided**: measure another batch.
//!
//! Looking after every batch would inflate the error rate, so the nominal α is split across
//! the largest number of looks the budget allows (Bonferroni): each look uses a two-sided
//! interval at confidence 1 − 2α/L, whose wrong side has probability at most α/L, so a wrong
//! decision over all looks has probability at most α.

use crate::stratified::Stratified;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Meets,
    Fails,
    Dominated,
    Undecided,
}

/// What is being decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Test {
    pub threshold: f64,
    /// True for accuracy metrics (at least `threshold`), false for error metrics (at most).
    pub higher_is_better: bool,
    /// Probability of a wrong meets/fails decision, over the whole run.
    pub alpha: f64,
    /// Largest number of looks (batches) in a run.
    pub max_looks: usize,
    /// An incumbent's accuracy: a plan whose interval is wholly worse is dominated.
    pub incumbent: Option<f64>,
}

impl Test {
    pub fn confidence(&self) -> f64 {
        1.0 - 2.0 * self.alpha / self.max_looks.max(1) as f64
    }

    /// Decide from the current estimate.
    pub fn look(&self, est: &Stratified) -> Verdict {
        let Some((lo, hi)) = est.interval(self.confidence()) else {
            return Verdict::Undecided;
        };
        // Express the interval as (worst, best) in the metric's direction.
        let (worst, best) = if self.higher_is_better {
            (lo, hi)
        } else {
            (hi, lo)
        };
        let better: fn(f64, f64) -> bool = if self.higher_is_better {
            |a, b| a > b
        } else {
            |a, b| a < b
        };
        if let Some(inc) = self.incumbent {
            if better(inc, best) {
                return Verdict::Dominated;
            }
        }
        if better(worst, self.threshold) || worst == self.threshold {
            Verdict::Meets
        } else if better(self.threshold, best) {
            Verdict::Fails
        } else {
            Verdict::Undecided
        }
    }
}

/// The result of a profiling run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub samples: u64,
    pub mean: Option<f64>,
    /// Standard error of the stratified mean (what a search takes as the mean's noise).
    pub se: Option<f64>,
    pub interval: Option<(f64, f64)>,
}

/// Profile until the test decides or `budget` inputs are spent, `batch` inputs per look;
/// `sample(stratum)` measures one input of that stratum and returns its accuracy score.
pub fn profile<F: FnMut(&str) -> f64>(
    mut est: Stratified,
    test: &Test,
    batch: usize,
    budget: u64,
    mut sample: F,
) -> Outcome {
    let batch = batch.max(1);
    loop {
        for (stratum, k) in est.allocate(batch) {
            for _ in 0..k {
                let v = sample(&stratum);
                // Strata come from the estimate itself; a non-finite score is dropped.
                let _ = est.add(&stratum, v);
            }
        }
        let verdict = test.look(&est);
        if verdict != Verdict::Undecided || est.samples() + batch as u64 > budget {
            return Outcome {
                verdict,
                samples: est.samples(),
                mean: est.mean(),
                se: est.variance_of_mean().map(f64::sqrt),
                interval: est.interval(test.confidence()),
            };
        }
    }
}

#[cfg(test)]
mod tests;
