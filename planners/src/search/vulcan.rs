//! Vulcan's search, as a baseline with the same ask/tell shape as [`super::bo::Search`].
//!
//! Following the authors' prototype of Vulcan: every placement gets its own Bayesian
//! optimization, which profiles whole plans end to end (no composition: a measurement informs
//! only its own placement) and maximizes
//! utility = [γ·(A − A₀)/A₀ + (1 − γ)·(L_max − L)/L_max] / (R_gpu + R_net),
//! with R_gpu the GPU shares the plan holds and R_net the megabytes it sends per input. Each
//! query is planned alone. The recommendation is the profiled plan of highest utility that
//! met the SLOs when measured.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::acquisition::expected_improvement;
use super::encoding::{encode, Encoding};
use super::gp::Gp;
use crate::model::{AppModel, Device, OperatorKind, Plan, Query};

pub struct Vulcan<'a> {
    app: &'a AppModel,
    plans: &'a [Plan],
    devices: &'a [Device],
    query: &'a Query,
    /// Weight of accuracy against latency in the utility.
    pub gamma: f64,
    /// Random plans per placement before its surrogate takes over.
    pub initial: usize,
    /// Plan indices per placement.
    placements: Vec<Vec<usize>>,
    next: usize,
    /// Profiled plan → (utility, met the SLOs).
    measured: BTreeMap<usize, (f64, bool)>,
    rng: ChaCha8Rng,
}

impl<'a> Vulcan<'a> {
    pub fn new(
        app: &'a AppModel,
        plans: &'a [Plan],
        devices: &'a [Device],
        query: &'a Query,
        seed: u64,
    ) -> Self {
        let mut groups: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
        for (i, p) in plans.iter().enumerate() {
            groups
                .entry(p.placements.iter().map(|x| x.device).collect())
                .or_default()
                .push(i);
        }
        Vulcan {
            app,
            plans,
            devices,
            query,
            gamma: 0.5,
            initial: 2,
            placements: groups.into_values().collect(),
            next: 0,
            measured: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn profiles(&self) -> usize {
        self.measured.len()
    }

    /// The next plan to profile (round-robin over placements), or `None` when every plan has
    /// been profiled.
    pub fn ask(&mut self) -> Option<usize> {
        for _ in 0..self.placements.len() {
            let group = &self.placements[self.next % self.placements.len()];
            self.next += 1;
            let unprofiled: Vec<usize> = group
                .iter()
                .copied()
                .filter(|i| !self.measured.contains_key(i))
                .collect();
            if unprofiled.is_empty() {
                continue;
            }
            let done: Vec<usize> = group
                .iter()
                .copied()
                .filter(|i| self.measured.contains_key(i))
                .collect();
            if done.len() < self.initial {
                return Some(unprofiled[self.rng.random_range(0..unprofiled.len())]);
            }
            let xs: Vec<Array1<f64>> = done
                .iter()
                .map(|&i| encode(self.app, &self.plans[i].config, Encoding::OneHot))
                .collect();
            let ys: Vec<f64> = done.iter().map(|i| self.measured[i].0).collect();
            let d = xs[0].len();
            let x = Array2::from_shape_fn((xs.len(), d), |(i, j)| xs[i][j]);
            let best = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let Ok(gp) = Gp::fit(x.view(), Array1::from(ys).view(), 1, self.next as u64) else {
                return Some(unprofiled[0]);
            };
            // Maximize utility: expected improvement of its negative.
            return unprofiled.into_iter().max_by(|&a, &b| {
                let ei = |i: usize| {
                    let (m, v) = gp
                        .predict(encode(self.app, &self.plans[i].config, Encoding::OneHot).view());
                    expected_improvement(-m, v.sqrt(), -best)
                };
                ei(a).total_cmp(&ei(b)).then(b.cmp(&a))
            });
        }
        None
    }

    /// Record plan `plan`'s measured end-to-end latency (at the query's percentile) and
    /// accuracy.
    pub fn tell(&mut self, plan: usize, latency_ms: f64, accuracy: f64) {
        let slo = &self.query.slo;
        let r = resources(self.app, &self.plans[plan], self.devices);
        let utility = utility(slo, self.gamma, latency_ms, accuracy, r);
        let met = slo.latency_met(latency_ms) && slo.accuracy_met(accuracy);
        self.measured.insert(plan, (utility, met));
    }

    /// The profiled plan of highest utility that met the SLOs.
    pub fn best(&self) -> Option<usize> {
        self.measured
            .iter()
            .filter(|(_, (_, met))| *met)
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(b.0.cmp(a.0)))
            .map(|(i, _)| *i)
    }
}

/// The resources a plan holds in Vulcan's utility: the GPU shares of its DNN operators plus
/// the megabytes it sends across tiers per input (never below 0.001).
pub fn resources(app: &AppModel, plan: &Plan, devices: &[Device]) -> f64 {
    let gpu: f64 = plan
        .placements
        .iter()
        .enumerate()
        .filter(|(op, _)| app.kind(*op) == OperatorKind::Dnn)
        .map(|(_, p)| p.gpu_share)
        .sum();
    let net: f64 = (0..app.operator_count())
        .flat_map(|op| app.upstream[op].iter().map(move |&u| (u, op)))
        .filter(|&(u, op)| {
            devices[plan.placements[u].device].tier != devices[plan.placements[op].device].tier
        })
        .map(|(u, _)| app.output_bytes(&plan.config, u) / 1e6)
        .sum();
    (gpu + net).max(1e-3)
}

/// Vulcan's utility of a plan with `latency_ms` and `accuracy` for `slo`:
/// [γ·(A − A₀)/A₀ + (1 − γ)·(L_max − L)/L_max] / `resources` (A₀ the accuracy bound, 1
/// without one; for an error metric the accuracy term is (A₀ − A)/A₀). A plan that misses
/// the SLOs scores low but is not excluded: the recommendation filters on the SLOs.
pub fn utility(
    slo: &crate::model::SloTargets,
    gamma: f64,
    latency_ms: f64,
    accuracy: f64,
    resources: f64,
) -> f64 {
    let a0 = slo.accuracy.map_or(1.0, |a| a.threshold.abs().max(1e-9));
    let acc_gain = match slo.accuracy {
        Some(a) if !a.higher_is_better => (a.threshold - accuracy) / a0,
        _ => (accuracy - slo.accuracy.map_or(0.0, |a| a.threshold)) / a0,
    };
    let lat_gain = if latency_ms.is_finite() {
        (slo.latency_ms - latency_ms) / slo.latency_ms
    } else {
        -10.0
    };
    (gamma * acc_gain + (1.0 - gamma) * lat_gain) / resources.max(1e-3)
}
