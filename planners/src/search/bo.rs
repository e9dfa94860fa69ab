//! The constrained search over one cluster's plans, as ask/tell.
//!
//! The search profiles *configurations*: a profile measures each operator's latency (given to
//! [`Search::tell`] in reference-GPU units) and the pipeline's accuracy. Neither depends on
//! placement, so one profile informs every placement of that configuration through the
//! composed model: one GP per operator predicts log reference latency from the whole
//! configuration, and the performance model adds speed, share, transfers and queueing. One GP
//! predicts accuracy. Cost is known exactly from the plan.
//!
//! A profile's accuracy is a mean over a few inputs, told with its standard error
//! ([`Measured`]); the accuracy GP takes that error as known noise, so one lucky profile of
//! 16 inputs cannot make a configuration look certain.
//!
//! [`Search::ask`] proposes the configuration of the plan with the highest
//! improvement(cost) × P(latency ok) × P(accuracy ok) (or P(feasible) before any plan is
//! known feasible); once a feasible incumbent exists it stops when no plan's expected gain
//! is worth a profile, and in any case at the budget. [`Search::ask_batch`] (in `bo/batch.rs`)
//! proposes several configurations at once. [`Search::candidates`] returns the plans
//! predicted feasible, cheapest first.

use std::collections::{BTreeSet, HashMap};

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::acquisition::p_latency_accuracy;
use super::encoding::{encode, Encoding};
use super::gp::Gp;
use super::warm::WarmModel;
use crate::model::{perf, AppModel, Config, Device, OperatorModel, Plan, Query};

mod batch;

/// Tuning of the search.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Random configurations profiled before the surrogates take over.
    pub initial: usize,
    /// Most configurations profiled.
    pub budget: usize,
    /// Stop when the best acquisition falls below this (in USD per hour of improvement,
    /// weighted by feasibility; or feasibility alone before an incumbent exists).
    pub min_gain: f64,
    /// A plan is a candidate when P(feasible) reaches this.
    pub confidence: f64,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            initial: 3,
            budget: 12,
            min_gain: 1e-4,
            confidence: 0.9,
            seed: 0,
        }
    }
}

/// A profile's accuracy: the mean score over its inputs and the standard error of that
/// mean (0 when unknown, e.g. from a single input: then only the fitted noise applies).
/// [`crate::online::stats::Moments::measured`] makes one from accumulated scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub mean: f64,
    pub se: f64,
}

/// A plan's predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub plan: usize,
    pub latency_ms: f64,
    /// Relative standard deviation of the latency prediction (log space).
    pub latency_log_sd: f64,
    pub accuracy: f64,
    pub accuracy_sd: f64,
    pub cost_usd_per_hour: f64,
    pub p_feasible: f64,
}

pub struct Search<'a> {
    app: &'a AppModel,
    plans: &'a [Plan],
    devices: &'a [Device],
    query: &'a Query,
    settings: Settings,
    rng: ChaCha8Rng,
    /// Profiled configurations (mixed-radix index).
    profiled: BTreeSet<u128>,
    op_x: Vec<Vec<Array1<f64>>>,
    op_y: Vec<Vec<f64>>,
    acc_x: Vec<Array1<f64>>,
    acc_y: Vec<f64>,
    /// Known noise variance of each accuracy observation (its standard error squared).
    acc_known: Vec<f64>,
    op_models: Vec<Option<Gp>>,
    acc_model: Option<Gp>,
    /// Other clusters' accuracy models (see [`super::warm`]); empty: a cold start.
    history: Vec<Gp>,
    warm: Option<WarmModel>,
}

/// What the surrogates say about one configuration (independent of placement).
struct ConfigBelief {
    /// Per operator: predicted reference latency, ms.
    reference_ms: Vec<f64>,
    /// Largest per-operator standard deviation of log latency.
    latency_log_sd: f64,
    accuracy: f64,
    accuracy_sd: f64,
}

/// The beliefs as an operator model, for the performance formulas.
struct Means<'s> {
    beliefs: &'s HashMap<u128, ConfigBelief>,
}

impl OperatorModel for Means<'_> {
    fn reference_ms(&self, app: &AppModel, op: usize, config: &Config) -> f64 {
        app.index_of(config)
            .ok()
            .and_then(|i| self.beliefs.get(&i))
            .map_or(f64::NAN, |b| b.reference_ms[op])
    }
    fn accuracy(&self, _: &AppModel, _: &Config, _: &str) -> f64 {
        0.0
    }
}

impl<'a> Search<'a> {
    /// Search `plans` (placements index into `devices`) for `query`, aiming at its SLOs.
    pub fn new(
        app: &'a AppModel,
        plans: &'a [Plan],
        devices: &'a [Device],
        query: &'a Query,
        settings: Settings,
    ) -> Self {
        let n = app.operator_count();
        Search {
            app,
            plans,
            devices,
            query,
            rng: ChaCha8Rng::seed_from_u64(settings.seed),
            settings,
            profiled: BTreeSet::new(),
            op_x: vec![Vec::new(); n],
            op_y: vec![Vec::new(); n],
            acc_x: Vec::new(),
            acc_y: Vec::new(),
            acc_known: Vec::new(),
            op_models: vec![None; n],
            acc_model: None,
            history: Vec::new(),
            warm: None,
        }
    }

    /// Warm-start the accuracy surrogate from other clusters' accuracy models (the first
    /// [`super::warm::MAX_HISTORY`] are used; see [`super::warm`]). The random initial
    /// profiles are skipped: the history ranks configurations from the first step.
    pub fn with_history(mut self, history: Vec<Gp>) -> Self {
        self.history = history;
        // Nothing to refit on an empty search; the first tell fits everything.
        if self.op_y.iter().any(|y| !y.is_empty()) || !self.acc_y.is_empty() {
            self.refit();
        }
        self
    }

    /// This cluster's own accuracy model, to warm-start other clusters.
    pub fn accuracy_model(&self) -> Option<&Gp> {
        self.acc_model.as_ref()
    }

    /// The warm-start model, when history was given.
    pub fn warm(&self) -> Option<&WarmModel> {
        self.warm.as_ref()
    }

    pub fn profiles(&self) -> usize {
        self.profiled.len()
    }

    /// The next configuration to profile, or `None` when the search is done.
    pub fn ask(&mut self) -> Option<Config> {
        if self.profiled.len() >= self.settings.budget
            || self.profiled.len() as u128 >= self.app.space_size()
        {
            return None;
        }
        if self.profiled.len() < self.settings.initial && self.history.is_empty() {
            let unprofiled: Vec<u128> = (0..self.app.space_size())
                .filter(|i| !self.profiled.contains(i))
                .collect();
            let pick = unprofiled[self.rng.random_range(0..unprofiled.len())];
            return self.app.config(pick).ok();
        }
        let preds = self.predict();
        let best = preds
            .iter()
            .filter(|p| p.p_feasible >= self.settings.confidence && self.is_profiled(p.plan))
            .map(|p| p.cost_usd_per_hour)
            .fold(f64::INFINITY, f64::min);
        let score = |p: &Prediction| {
            if best.is_finite() {
                (best - p.cost_usd_per_hour).max(0.0) * p.p_feasible
            } else {
                p.p_feasible
            }
        };
        let top = preds
            .iter()
            .filter(|p| !self.is_profiled(p.plan))
            .max_by(|a, b| score(a).total_cmp(&score(b)).then(b.plan.cmp(&a.plan)))?;
        // "Not worth a profile" needs an incumbent to improve on; until a plan is known
        // feasible, the search keeps looking (up to its budget).
        if best.is_finite() && score(top) < self.settings.min_gain {
            return None;
        }
        Some(self.plans[top.plan].config.clone())
    }

    fn is_profiled(&self, plan: usize) -> bool {
        self.app
            .index_of(&self.plans[plan].config)
            .is_ok_and(|i| self.profiled.contains(&i))
    }

    /// Record a profile of `config`: each operator's latency in reference-GPU ms (per input,
    /// averaged) and the accuracy measured.
    pub fn tell(&mut self, config: &Config, reference_ms: &[f64], accuracy: Measured) {
        self.observe(config, reference_ms, accuracy);
        self.refit();
    }

    /// Record many profiles, then fit the surrogates once: how a search is rebuilt from
    /// accumulated statistics. Same result as telling them one by one, at one fit's cost.
    /// A profile without accuracy (`None`) was measured on other data: latency does not
    /// depend on the data stratum, accuracy does, so it informs the latency surrogates and
    /// the configuration still counts as unprofiled for this cluster.
    pub fn tell_many<'c>(
        &mut self,
        profiles: impl IntoIterator<Item = (&'c Config, &'c [f64], Option<Measured>)>,
    ) {
        for (c, ms, acc) in profiles {
            match acc {
                Some(a) => self.observe(c, ms, a),
                None if self.app.index_of(c).is_ok() => self.observe_latency(c, ms),
                None => {}
            }
        }
        self.refit();
    }

    fn observe(&mut self, config: &Config, reference_ms: &[f64], accuracy: Measured) {
        let Ok(index) = self.app.index_of(config) else {
            return;
        };
        self.profiled.insert(index);
        self.observe_latency(config, reference_ms);
        if accuracy.mean.is_finite() {
            self.acc_x.push(encode(self.app, config, Encoding::OneHot));
            self.acc_y.push(accuracy.mean);
            let se = if accuracy.se.is_finite() {
                accuracy.se
            } else {
                0.0
            };
            self.acc_known.push(se * se);
        }
    }

    fn observe_latency(&mut self, config: &Config, reference_ms: &[f64]) {
        let x = encode(self.app, config, Encoding::Ordinal);
        for (op, &ms) in reference_ms.iter().enumerate().take(self.op_x.len()) {
            if ms > 0.0 && ms.is_finite() {
                self.op_x[op].push(x.clone());
                self.op_y[op].push(ms.ln());
            }
        }
    }

    fn refit(&mut self) {
        let seed = self.settings.seed;
        for op in 0..self.op_x.len() {
            self.op_models[op] = fit(&self.op_x[op], &self.op_y[op], seed);
        }
        self.acc_model = fit_noisy(&self.acc_x, &self.acc_y, &self.acc_known, seed);
        self.warm = WarmModel::fit(
            &self.history,
            self.acc_model.as_ref(),
            &self.acc_x,
            &self.acc_y,
            seed,
        );
    }

    /// Predictions for every plan.
    pub fn predict(&self) -> Vec<Prediction> {
        let fallback: Vec<f64> = self
            .op_y
            .iter()
            .map(|ys| {
                if ys.is_empty() {
                    1.0
                } else {
                    (ys.iter().sum::<f64>() / ys.len() as f64).exp()
                }
            })
            .collect();
        // Every plan of a configuration shares its surrogate answers: ask once per
        // configuration, not once per plan.
        let mut beliefs: HashMap<u128, ConfigBelief> = HashMap::new();
        for plan in self.plans {
            let Ok(index) = self.app.index_of(&plan.config) else {
                continue;
            };
            beliefs.entry(index).or_insert_with(|| {
                let xo = encode(self.app, &plan.config, Encoding::Ordinal);
                let per_op: Vec<(f64, f64)> = self
                    .op_models
                    .iter()
                    .zip(&fallback)
                    .map(|(m, fb)| match m {
                        Some(g) => {
                            let (mean, var) = g.predict(xo.view());
                            (mean.exp(), var.sqrt())
                        }
                        None => (*fb, 1.0),
                    })
                    .collect();
                let xa = encode(self.app, &plan.config, Encoding::OneHot);
                let (accuracy, accuracy_sd) = match (&self.warm, &self.acc_model) {
                    (Some(w), _) => {
                        let (m, v) = w.predict(xa.view());
                        (m, v.sqrt())
                    }
                    (None, Some(g)) => {
                        let (m, v) = g.predict(xa.view());
                        (m, v.sqrt())
                    }
                    (None, None) => (f64::NAN, f64::INFINITY),
                };
                ConfigBelief {
                    reference_ms: per_op.iter().map(|p| p.0).collect(),
                    latency_log_sd: per_op.iter().map(|p| p.1).fold(0.0, f64::max),
                    accuracy,
                    accuracy_sd,
                }
            });
        }
        let means = Means { beliefs: &beliefs };
        self.plans
            .iter()
            .enumerate()
            .filter_map(|(i, plan)| {
                let belief = beliefs.get(&self.app.index_of(&plan.config).ok()?)?;
                let est = perf::estimate(&means, self.app, plan, self.query, self.devices).ok()?;
                let (log_sd, accuracy, accuracy_sd) =
                    (belief.latency_log_sd, belief.accuracy, belief.accuracy_sd);
                let slo = &self.query.slo;
                let p_slo = p_latency_accuracy(slo, est.latency_ms, log_sd, accuracy, accuracy_sd);
                let p_cost = if slo.cost_met(est.cost_usd_per_hour) {
                    1.0
                } else {
                    0.0
                };
                Some(Prediction {
                    plan: i,
                    latency_ms: est.latency_ms,
                    latency_log_sd: log_sd,
                    accuracy,
                    accuracy_sd,
                    cost_usd_per_hour: est.cost_usd_per_hour,
                    p_feasible: p_slo * p_cost,
                })
            })
            .collect()
    }

    /// Plans predicted feasible with the configured confidence, cheapest first.
    pub fn candidates(&self) -> Vec<Prediction> {
        let mut c: Vec<Prediction> = self
            .predict()
            .into_iter()
            .filter(|p| p.p_feasible >= self.settings.confidence)
            .collect();
        // At equal cost a measured plan goes first: its belief rests on its own profile, an
        // unmeasured one's on the surrogate's reach from its neighbours.
        let measured = |p: &Prediction| self.is_profiled(p.plan);
        c.sort_by(|a, b| {
            a.cost_usd_per_hour
                .total_cmp(&b.cost_usd_per_hour)
                .then(measured(b).cmp(&measured(a)))
                .then(b.p_feasible.total_cmp(&a.p_feasible))
                .then(a.plan.cmp(&b.plan))
        });
        c
    }
}

impl<'a> Search<'a> {
    /// The application this search plans.
    pub fn app(&self) -> &'a AppModel {
        self.app
    }
    /// Up to `k` candidates that spend resources differently, so that the global matcher has
    /// alternatives under contention: the cheapest, the most accurate, the one that keeps the
    /// most operators on the user's own device, the one that puts the most in the cloud, then
    /// the next cheapest.
    pub fn diverse_candidates(&self, k: usize) -> Vec<Prediction> {
        let all = self.candidates();
        if all.is_empty() || k == 0 {
            return Vec::new();
        }
        let count = |p: &Prediction, tier: crate::model::Tier| {
            self.plans[p.plan]
                .placements
                .iter()
                .filter(|x| self.devices[x.device].tier == tier)
                .count()
        };
        let better_accuracy = |a: &Prediction, b: &Prediction| {
            let higher = self.query.slo.accuracy.is_none_or(|x| x.higher_is_better);
            if higher {
                a.accuracy.total_cmp(&b.accuracy)
            } else {
                b.accuracy.total_cmp(&a.accuracy)
            }
        };
        let picks = [
            Some(0),
            (0..all.len()).max_by(|&a, &b| better_accuracy(&all[a], &all[b]).then(b.cmp(&a))),
            (0..all.len()).max_by(|&a, &b| {
                count(&all[a], crate::model::Tier::Edge)
                    .cmp(&count(&all[b], crate::model::Tier::Edge))
                    .then(b.cmp(&a))
            }),
            (0..all.len()).max_by(|&a, &b| {
                count(&all[a], crate::model::Tier::Cloud)
                    .cmp(&count(&all[b], crate::model::Tier::Cloud))
                    .then(b.cmp(&a))
            }),
        ];
        let mut chosen: Vec<usize> = Vec::new();
        for i in picks.into_iter().flatten().chain(0..all.len()) {
            if chosen.len() >= k {
                break;
            }
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        chosen.into_iter().map(|i| all[i].clone()).collect()
    }
}

/// A GP fitted on `xs`, `ys` (one random restart); `None` without data.
pub(super) fn fit(xs: &[Array1<f64>], ys: &[f64], seed: u64) -> Option<Gp> {
    fit_noisy(xs, ys, &vec![0.0; ys.len()], seed)
}

/// [`fit`] with a known noise variance per observation.
fn fit_noisy(xs: &[Array1<f64>], ys: &[f64], known: &[f64], seed: u64) -> Option<Gp> {
    if xs.is_empty() {
        return None;
    }
    let d = xs[0].len();
    if d == 0 {
        return None;
    }
    let x = Array2::from_shape_fn((xs.len(), d), |(i, j)| xs[i][j]);
    Gp::fit_noisy(x.view(), Array1::from(ys.to_vec()).view(), known, 1, seed).ok()
}
