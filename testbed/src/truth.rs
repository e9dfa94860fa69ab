//! Ground truth: what an operator really costs and how accurate a configuration really is,
//! read from an application file, with per-input noise for the simulated workers.
//!
//! - Latency of operator `o` on the reference GPU = its base knob's `latency_ms` × the
//!   product of every chosen `latency_factor[o]` in the configuration.
//! - Accuracy on stratum `s` = the accuracy knob's `accuracy[s]` + every chosen
//!   `accuracy_delta[s]` (or `["*"]`) + any drift shift, clamped to the metric's range.
//! - Per input, latency is multiplied by a log-normal factor with mean 1 and the file's
//!   coefficient of variation; the accuracy score is normal around its mean with the file's
//!   standard deviation, clamped to the range. Profiling therefore needs statistics.

use std::collections::BTreeMap;

use compass_planners::model::{
    perf, AppModel, Config, Device, ModelError, OperatorModel, Plan, Query,
};
use compass_schemas::Limits;
use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};

use crate::catalog::AppSpec;

/// One application's ground truth.
#[derive(Debug, Clone)]
pub struct GroundTruth {
    pub spec: AppSpec,
    pub model: AppModel,
    /// Drift: accuracy shifts per stratum that apply from now on (see traces' drift events).
    pub accuracy_shift: BTreeMap<String, f64>,
}

impl GroundTruth {
    pub fn new(spec: AppSpec) -> Result<Self, ModelError> {
        let model = AppModel::new(spec.application(), &Limits::default())?;
        Ok(GroundTruth {
            spec,
            model,
            accuracy_shift: BTreeMap::new(),
        })
    }

    fn choice(&self, config: &Config, op: usize, knob: usize) -> &crate::catalog::ChoiceSpec {
        let c = self.model.op_choices(config, op)[knob] as usize;
        &self.spec.operators[op].knobs[knob].choices[c]
    }

    fn all_choices<'a>(
        &'a self,
        config: &'a Config,
    ) -> impl Iterator<Item = &'a crate::catalog::ChoiceSpec> + 'a {
        (0..self.spec.operators.len()).flat_map(move |op| {
            (0..self.spec.operators[op].knobs.len()).map(move |k| self.choice(config, op, k))
        })
    }

    /// Mean accuracy of `config` on `stratum` before clamping and drift (what the data says).
    pub fn nominal_accuracy(&self, config: &Config, stratum: &str) -> f64 {
        self.all_choices(config)
            .map(|c| {
                c.accuracy.get(stratum).copied().unwrap_or(0.0)
                    + c.accuracy_delta
                        .get(stratum)
                        .or_else(|| c.accuracy_delta.get("*"))
                        .copied()
                        .unwrap_or(0.0)
            })
            .sum()
    }

    fn clamp(&self, a: f64) -> f64 {
        a.clamp(self.spec.accuracy_range[0], self.spec.accuracy_range[1])
    }

    /// Per-input latency multiplier: log-normal with mean 1.
    pub fn latency_noise<R: Rng>(&self, rng: &mut R) -> f64 {
        let cv = self.spec.noise.latency_cv;
        if cv <= 0.0 {
            return 1.0;
        }
        let sigma2 = (1.0 + cv * cv).ln();
        LogNormal::new(-sigma2 / 2.0, sigma2.sqrt())
            .map(|d| d.sample(rng))
            .unwrap_or(1.0)
    }

    /// One input's accuracy score on `stratum`.
    pub fn sample_accuracy<R: Rng>(&self, config: &Config, stratum: &str, rng: &mut R) -> f64 {
        let mean = self.accuracy(&self.model, config, stratum);
        let sd = self.spec.noise.accuracy_sd;
        let noise = if sd > 0.0 {
            Normal::new(0.0, sd).map(|d| d.sample(rng)).unwrap_or(0.0)
        } else {
            0.0
        };
        self.clamp(mean + noise)
    }

    /// Draw a stratum by the file's weights.
    pub fn sample_stratum<R: Rng>(&self, rng: &mut R) -> &str {
        let total: f64 = self.spec.strata.iter().map(|s| s.weight).sum();
        let mut x = rng.random::<f64>() * total;
        for s in &self.spec.strata {
            if x < s.weight {
                return &s.name;
            }
            x -= s.weight;
        }
        &self.spec.strata[self.spec.strata.len() - 1].name
    }
}

impl OperatorModel for GroundTruth {
    fn reference_ms(&self, _app: &AppModel, op: usize, config: &Config) -> f64 {
        let name = &self.spec.operators[op].name;
        let base: f64 = (0..self.spec.operators[op].knobs.len())
            .filter_map(|k| self.choice(config, op, k).latency_ms)
            .next()
            .unwrap_or(0.0);
        self.all_choices(config)
            .filter_map(|c| c.latency_factor.get(name))
            .fold(base, |acc, f| acc * f)
    }

    fn accuracy(&self, _app: &AppModel, config: &Config, stratum: &str) -> f64 {
        let shift = self.accuracy_shift.get(stratum).copied().unwrap_or(0.0);
        self.clamp(self.nominal_accuracy(config, stratum) + shift)
    }
}

impl GroundTruth {
    /// The configuration that picks `value` for each named `(operator, knob)` and the first
    /// choice everywhere else; `None` if a name or value is unknown.
    pub fn config_with(&self, picks: &[(&str, &str, &str)]) -> Option<Config> {
        let mut digits = Vec::new();
        for op in &self.spec.operators {
            for k in &op.knobs {
                let pick = picks.iter().find(|(o, n, _)| *o == op.name && *n == k.name);
                let idx = match pick {
                    Some((_, _, v)) => k.choices.iter().position(|c| c.value == *v)?,
                    None => 0,
                };
                digits.push(idx as u16);
            }
        }
        for (o, n, _) in picks {
            let known = self
                .spec
                .operators
                .iter()
                .any(|op| op.name == *o && op.knobs.iter().any(|k| k.name == *n));
            if !known {
                return None;
            }
        }
        Some(Config(digits))
    }

    /// What `plan` really delivers to `query`, by the performance model over this truth
    /// (no per-input noise): latency at the query's percentile, accuracy on its stratum,
    /// and cost per hour. `None` when the model rejects the plan.
    pub fn outcome(
        &self,
        plan: &Plan,
        query: &Query,
        devices: &[Device],
    ) -> Option<(f64, f64, f64)> {
        let e = perf::estimate(self, &self.model, plan, query, devices).ok()?;
        let accuracy = self.accuracy(&self.model, &plan.config, &query.stratum);
        Some((e.latency_ms, accuracy, e.cost_usd_per_hour))
    }

    /// Index of operator `name`.
    pub fn op(&self, name: &str) -> Option<usize> {
        self.spec.operators.iter().position(|o| o.name == name)
    }
}
