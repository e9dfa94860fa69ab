//! Profile statistics per (application, configuration): count, mean and spread of each
//! operator's reference-GPU latency and of accuracy per data stratum. Folding a sample in is
//! a semigroup step. The step is not commutative in floating point (Welford's update), so
//! where samples can arrive in different orders (several Kafka partitions, several workers)
//! the dataflow keeps each sample as a [`SampleRow`] and folds a configuration's rows in
//! their sorted order ([`ConfigStats::fold`]): the same samples give bit-identical
//! statistics however they arrived, and a sample delivered twice counts once.

use std::collections::BTreeMap;

use compass_schemas::ProfileSample;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Fx;
use crate::model::{AppModel, Config};
use crate::search::bo::Measured;

/// Count, mean and sum of squared deviations (Welford).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Moments {
    pub n: u64,
    pub mean: Fx,
    pub m2: Fx,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean.0;
        self.mean.0 += d / self.n as f64;
        self.m2.0 += d * (x - self.mean.0);
    }

    /// Standard error of the mean (0 below two samples).
    pub fn se(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.sd() / (self.n as f64).sqrt()
        }
    }

    /// The mean (NaN without samples) and its standard error, as a search is told them.
    pub fn measured(&self) -> Measured {
        Measured {
            mean: if self.n == 0 { f64::NAN } else { self.mean.0 },
            se: self.se(),
        }
    }

    /// Sample standard deviation (0 below two samples).
    pub fn sd(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2.0 / (self.n - 1) as f64).max(0.0).sqrt()
        }
    }
}

/// One checked sample as the statistics read it: latencies already in reference-GPU ms,
/// plus the fields that tell samples apart (so that only a true duplicate compares equal).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SampleRow {
    pub op_ms: Vec<Fx>,
    pub stratum: String,
    pub accuracy: Option<Fx>,
    pub gpu_seconds: Fx,
    pub input_id: String,
    pub request_id: Option<String>,
    pub plan_key: String,
    pub hardware_class: String,
    pub event_time_ms: i64,
}

impl SampleRow {
    /// Check `sample` against `app` (same checks as [`ConfigStats::add`]) and scale its
    /// latencies by `speed`, the hardware's speed relative to the reference GPU. Returns the
    /// configuration the sample measured with the row (the check finds it anyway).
    pub fn of(
        app: &AppModel,
        sample: &ProfileSample,
        speed: f64,
    ) -> Result<(Config, Self), StatsError> {
        if sample.app_id != app.id() {
            return Err(StatsError::WrongApp {
                expected: app.id().to_string(),
                found: sample.app_id.clone(),
            });
        }
        let config = config_of(app, sample)?;
        let row = SampleRow {
            op_ms: sample
                .operators
                .iter()
                .map(|m| Fx(m.latency_ms * speed))
                .collect(),
            stratum: sample.stratum.clone(),
            accuracy: sample.accuracy.map(Fx),
            gpu_seconds: Fx(sample.gpu_seconds),
            input_id: sample.input_id.clone(),
            request_id: sample.request_id.clone(),
            plan_key: sample.plan_key.clone(),
            hardware_class: sample.hardware_class.clone(),
            event_time_ms: sample.event_time_ms,
        };
        Ok((config, row))
    }
}

/// Everything measured about one configuration of one application.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConfigStats {
    /// Per operator, latency in reference-GPU milliseconds.
    pub op_ms: Vec<Moments>,
    /// Per data stratum, the accuracy score.
    pub accuracy: BTreeMap<String, Moments>,
    pub samples: u64,
    pub gpu_seconds: Fx,
}

#[derive(Debug, Error, PartialEq)]
pub enum StatsError {
    #[error("sample for `{found}` folded into `{expected}`")]
    WrongApp { expected: String, found: String },
    #[error("sample measures {found} operators, the application has {expected}")]
    Partial { expected: usize, found: usize },
    #[error("sample names an unknown operator, knob or value: {0}")]
    Unknown(String),
    #[error("hardware class `{0}` has no known speed")]
    UnknownHardware(String),
}

/// The configuration a sample's operators ran with.
pub fn config_of(app: &AppModel, sample: &ProfileSample) -> Result<Config, StatsError> {
    if sample.operators.len() != app.operator_count() {
        return Err(StatsError::Partial {
            expected: app.operator_count(),
            found: sample.operators.len(),
        });
    }
    let mut digits = Vec::new();
    for (op, m) in app.app.operators.iter().zip(&sample.operators) {
        if op.name != m.operator {
            return Err(StatsError::Unknown(m.operator.clone()));
        }
        for k in &op.knobs {
            let value = m
                .knobs
                .iter()
                .find(|s| s.knob == k.name)
                .ok_or_else(|| StatsError::Unknown(format!("{}.{}", op.name, k.name)))?;
            let i = k
                .choices
                .iter()
                .position(|c| c.value == value.value)
                .ok_or_else(|| {
                    StatsError::Unknown(format!("{}.{}={}", op.name, k.name, value.value))
                })?;
            digits.push(i as u16);
        }
    }
    Ok(Config(digits))
}

impl ConfigStats {
    /// Fold in one sample measured on hardware of speed `speed` (relative to the reference
    /// GPU): latencies are stored in reference-GPU milliseconds, so samples from different
    /// hardware classes inform one another.
    pub fn add(
        &mut self,
        app: &AppModel,
        sample: &ProfileSample,
        speed: f64,
    ) -> Result<(), StatsError> {
        let (_, row) = SampleRow::of(app, sample, speed)?;
        self.push(&row);
        Ok(())
    }

    /// Fold in one checked sample.
    pub fn push(&mut self, row: &SampleRow) {
        if self.op_ms.len() != row.op_ms.len() {
            self.op_ms = vec![Moments::default(); row.op_ms.len()];
        }
        for (m, x) in self.op_ms.iter_mut().zip(&row.op_ms) {
            if x.0.is_finite() && x.0 > 0.0 {
                m.push(x.0);
            }
        }
        if let Some(a) = row.accuracy.filter(|a| a.0.is_finite()) {
            self.accuracy
                .entry(row.stratum.clone())
                .or_default()
                .push(a.0);
        }
        self.samples += 1;
        self.gpu_seconds.0 += row.gpu_seconds.0.max(0.0);
    }

    /// The statistics of `rows` folded in the order given (callers pass them sorted).
    pub fn fold<'a>(rows: impl IntoIterator<Item = &'a SampleRow>) -> Self {
        let mut s = ConfigStats::default();
        for r in rows {
            s.push(r);
        }
        s
    }

    /// Mean reference latency per operator, when every operator has been measured.
    pub fn reference_ms(&self) -> Option<Vec<f64>> {
        (!self.op_ms.is_empty() && self.op_ms.iter().all(|m| m.n > 0))
            .then(|| self.op_ms.iter().map(|m| m.mean.0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_the_two_pass_formula() {
        let xs = [3.0, 5.0, 4.0, 10.0, 7.5];
        let mut m = Moments::default();
        xs.iter().for_each(|&x| m.push(x));
        let mean = xs.iter().sum::<f64>() / 5.0;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0;
        assert!((m.mean.0 - mean).abs() < 1e-12);
        assert!((m.sd() - var.sqrt()).abs() < 1e-12);
    }
}
