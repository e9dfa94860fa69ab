//! Stratified estimation of a plan's mean accuracy.
//!
//! Inputs fall into data strata (clean and noisy audio, sparse and crowded scenes) whose
//! shares of the workload are known. The stratified mean Σ W_h·ȳ_h has variance
//! Σ W_h²·s_h²/n_h, far below a simple random sample's when strata differ. The interval uses
//! Student's t with Welch–Satterthwaite degrees of freedom.

use std::collections::BTreeMap;

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Running count, mean and sum of squared deviations (Welford).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Running {
    pub n: u64,
    pub mean: f64,
    m2: f64,
}

impl Running {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Statistics summarized elsewhere: `n` samples with mean `mean` and sum of squared
    /// deviations `m2` (what a Welford accumulator holds).
    pub fn from_moments(n: u64, mean: f64, m2: f64) -> Self {
        Running { n, mean, m2 }
    }

    /// Sample variance (n − 1 denominator); `None` below two samples.
    pub fn variance(&self) -> Option<f64> {
        (self.n >= 2).then(|| self.m2 / (self.n - 1) as f64)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StratifiedError {
    #[error("stratum weights must be positive and finite")]
    BadWeights,
    #[error("unknown stratum `{0}`")]
    UnknownStratum(String),
    #[error("a sample is not finite")]
    NotFinite,
}

/// The stratified estimate of one plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Stratified {
    /// Stratum → (normalized weight, statistics).
    strata: BTreeMap<String, (f64, Running)>,
}

impl Stratified {
    /// Strata with their shares of the workload (normalized here).
    pub fn new(weights: &[(&str, f64)]) -> Result<Self, StratifiedError> {
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        if weights.is_empty()
            || !total.is_finite()
            || weights.iter().any(|(_, w)| !w.is_finite() || *w <= 0.0)
        {
            return Err(StratifiedError::BadWeights);
        }
        Ok(Stratified {
            strata: weights
                .iter()
                .map(|(n, w)| (n.to_string(), (w / total, Running::default())))
                .collect(),
        })
    }

    /// One stratum (the whole workload) with statistics already gathered: how an online
    /// planner, which keeps running moments rather than samples, asks for an interval.
    pub fn single(stratum: &str, stats: Running) -> Self {
        Stratified {
            strata: BTreeMap::from([(stratum.to_string(), (1.0, stats))]),
        }
    }

    pub fn add(&mut self, stratum: &str, value: f64) -> Result<(), StratifiedError> {
        if !value.is_finite() {
            return Err(StratifiedError::NotFinite);
        }
        let s = self
            .strata
            .get_mut(stratum)
            .ok_or_else(|| StratifiedError::UnknownStratum(stratum.into()))?;
        s.1.push(value);
        Ok(())
    }

    /// Samples taken so far.
    pub fn samples(&self) -> u64 {
        self.strata.values().map(|(_, r)| r.n).sum()
    }

    /// Σ W_h ȳ_h, once every stratum has a sample.
    pub fn mean(&self) -> Option<f64> {
        self.strata
            .values()
            .map(|(w, r)| (r.n > 0).then_some(w * r.mean))
            .sum()
    }

    /// Variance of the stratified mean, once every stratum has two samples.
    pub fn variance_of_mean(&self) -> Option<f64> {
        self.strata
            .values()
            .map(|(w, r)| r.variance().map(|v| w * w * v / r.n as f64))
            .sum()
    }

    /// Welch–Satterthwaite degrees of freedom of the stratified mean.
    pub fn dof(&self) -> Option<f64> {
        let terms: Option<Vec<(f64, f64)>> = self
            .strata
            .values()
            .map(|(w, r)| {
                r.variance()
                    .map(|v| (w * w * v / r.n as f64, (r.n - 1) as f64))
            })
            .collect();
        let terms = terms?;
        let num: f64 = terms.iter().map(|(t, _)| t).sum::<f64>().powi(2);
        let den: f64 = terms.iter().map(|(t, df)| t * t / df).sum();
        Some(if den > 0.0 {
            num / den
        } else {
            terms.iter().map(|(_, df)| df).sum()
        })
    }

    /// Two-sided interval at `confidence` (e.g. 0.95).
    pub fn interval(&self, confidence: f64) -> Option<(f64, f64)> {
        let (m, v, dof) = (self.mean()?, self.variance_of_mean()?, self.dof()?);
        let t = StudentsT::new(0.0, 1.0, dof.max(1.0))
            .ok()?
            .inverse_cdf(0.5 + confidence / 2.0);
        let half = t * v.sqrt();
        Some((m - half, m + half))
    }

    /// How to spread the next `batch` inputs: first two per stratum (a variance needs them),
    /// then in proportion to weight × standard deviation (Neyman allocation), counting what
    /// each stratum already has.
    pub fn allocate(&self, batch: usize) -> Vec<(String, usize)> {
        let mut out: BTreeMap<&str, usize> = BTreeMap::new();
        let mut left = batch;
        for (name, (_, r)) in &self.strata {
            let need = 2usize.saturating_sub(r.n as usize).min(left);
            if need > 0 {
                out.insert(name, need);
                left -= need;
            }
        }
        if left > 0 {
            let score: Vec<(&str, f64, u64)> = self
                .strata
                .iter()
                .map(|(n, (w, r))| {
                    (
                        n.as_str(),
                        w * r.variance().unwrap_or(0.0).sqrt().max(1e-9),
                        r.n + out.get(n.as_str()).copied().unwrap_or(0) as u64,
                    )
                })
                .collect();
            let total_score: f64 = score.iter().map(|(_, s, _)| s).sum();
            let total_n: u64 = score.iter().map(|(_, _, n)| n).sum::<u64>() + left as u64;
            // Target n_h ∝ score_h; give each remaining input to the stratum furthest below
            // its target (deterministic, exact for any batch size).
            let mut have: BTreeMap<&str, f64> =
                score.iter().map(|(n, _, k)| (*n, *k as f64)).collect();
            for _ in 0..left {
                let pick = score
                    .iter()
                    .map(|(n, s, _)| (*n, s / total_score * total_n as f64 - have[n]))
                    .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(a.0)))
                    .map(|(n, _)| n)
                    .unwrap_or("");
                *have.entry(pick).or_default() += 1.0;
                *out.entry(pick).or_default() += 1;
            }
        }
        out.into_iter()
            .filter(|(_, k)| *k > 0)
            .map(|(n, k)| (n.to_string(), k))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_variance_and_interval_by_hand() {
        let mut s = Stratified::new(&[("a", 3.0), ("b", 1.0)]).expect("strata");
        for x in [1.0, 2.0, 3.0] {
            s.add("a", x).expect("add");
        }
        for x in [10.0, 14.0] {
            s.add("b", x).expect("add");
        }
        // W = 0.75, 0.25; means 2 and 12; variances 1 and 8.
        assert!((s.mean().expect("mean") - (0.75 * 2.0 + 0.25 * 12.0)).abs() < 1e-12);
        let v = 0.75f64.powi(2) * 1.0 / 3.0 + 0.25f64.powi(2) * 8.0 / 2.0;
        assert!((s.variance_of_mean().expect("var") - v).abs() < 1e-12);
        let (lo, hi) = s.interval(0.95).expect("interval");
        assert!(lo < 4.5 && hi > 4.5 && hi - lo > 0.0);
        assert!(s.add("c", 1.0).is_err() && s.add("a", f64::NAN).is_err());
    }

    #[test]
    fn allocation_follows_weight_times_spread() {
        let mut s = Stratified::new(&[("calm", 0.5), ("wild", 0.5)]).expect("strata");
        assert_eq!(
            s.allocate(3),
            vec![("calm".to_string(), 2), ("wild".to_string(), 1)]
        );
        for x in [1.0, 1.1] {
            s.add("calm", x).expect("add");
        }
        for x in [0.0, 10.0] {
            s.add("wild", x).expect("add");
        }
        let a: BTreeMap<String, usize> = s.allocate(20).into_iter().collect();
        assert_eq!(a.values().sum::<usize>(), 20);
        assert!(a["wild"] > 3 * a.get("calm").copied().unwrap_or(0), "{a:?}");
    }
}
