//! What a planner wants from a plan on the online path, and which plans it hands the matcher.
//!
//! Compass counts the probability that a plan meets all of a query's SLOs (latency, accuracy
//! and cost) and hands the matcher a diverse set of plans predicted to meet them. The
//! baselines keep objectives of their own, which know nothing of a cost SLO:
//!
//! - **Vulcan**, as the Compass authors' prototype coded it: utility =
//!   [γ·(A − A₀)/A₀ + (1 − γ)·(L_max − L)/L_max] / (R_gpu + R_net)
//!   ([`crate::search::vulcan::utility`]); a plan is acceptable when it is predicted to meet
//!   the latency and accuracy SLOs; each query takes its acceptable plan of highest utility.
//! - **VideoStorm** (NSDI'17): profiles of resource against quality, and a utility with a
//!   quality goal and a lag goal, U = (A − A₀)/A₀ − max(0, L/L_max − 1) ([`videostorm_utility`],
//!   α_Q = α_L = 1), here with the query's accuracy SLO as the quality goal and its latency SLO
//!   as the lag goal. It is handed the resource–utility Pareto front of the single-tier plans,
//!   with no SLO filter: it serves every query it can, at its smallest configuration first,
//!   and upgrades by marginal utility per resource (`matching::baselines`).
//!
//! Both baselines predict from the same surrogates as Compass (the same profiles): the
//! comparison is of what each planner does with the predictions, not of how it got them.

use crate::model::{AppModel, Device, OperatorKind, Plan, SloTargets, Tier};
use crate::search::acquisition::p_latency_accuracy;
use crate::search::bo::{Prediction, Search};
use crate::search::vulcan;

/// Whose objective a planner plans by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Objective {
    /// Compass: the probability of meeting every SLO, then cost.
    #[default]
    Slo,
    /// Vulcan's utility among plans that meet the latency and accuracy SLOs.
    Vulcan,
    /// VideoStorm's quality and lag utility, over its resource–utility Pareto front.
    VideoStorm,
}

/// Vulcan's weight of accuracy against latency (the prototype's default).
pub const VULCAN_GAMMA: f64 = 0.5;

/// GPU memory that stands for a whole GPU when VideoStorm's profile weighs a plan's footprint
/// (80 GiB, the reference A100's; only the order of footprints matters).
const REFERENCE_GPU_MEMORY_MB: f64 = 81_920.0;

/// VideoStorm's utility of a plan for `slo`: the quality above the goal (relative to it; for
/// an error metric, below it; the accuracy itself without an accuracy SLO) less the lag
/// over the goal (relative to it).
pub fn videostorm_utility(slo: &SloTargets, latency_ms: f64, accuracy: f64) -> f64 {
    let quality = match slo.accuracy {
        Some(b) if b.higher_is_better => (accuracy - b.threshold) / b.threshold.abs().max(1e-9),
        Some(b) => (b.threshold - accuracy) / b.threshold.abs().max(1e-9),
        None => accuracy,
    };
    let lag = if latency_ms.is_finite() {
        (latency_ms / slo.latency_ms - 1.0).max(0.0)
    } else {
        10.0
    };
    quality - lag
}

/// VideoStorm's footprint of a plan: each DNN operator's GPU share plus its GPU memory as a
/// fraction of a reference GPU.
fn videostorm_footprint(app: &AppModel, plan: &Plan) -> f64 {
    (0..app.operator_count())
        .filter(|&op| app.kind(op) == OperatorKind::Dnn)
        .map(|op| {
            plan.placements[op].gpu_share
                + app.gpu_memory_mb(&plan.config, op) / REFERENCE_GPU_MEMORY_MB
        })
        .sum()
}

/// Whether every operator that may run on a server does (device 0 is the query's own
/// device): VideoStorm runs a query's pipeline in its cluster, and leaves on the camera only
/// what cannot leave it.
fn on_servers(app: &AppModel, plan: &Plan) -> bool {
    plan.placements
        .iter()
        .enumerate()
        .all(|(op, x)| x.device != 0 || !app.allowed(op, Tier::Cloud))
}

/// Up to `k` of the search's predictions for `objective`: Compass's diverse SLO-feasible
/// plans; Vulcan's acceptable plans by utility; VideoStorm's Pareto front of server-only
/// plans, spread evenly along it.
pub(super) fn pick(
    objective: Objective,
    search: &Search,
    plans: &[Plan],
    devices: &[Device],
    slo: &SloTargets,
    confidence: f64,
    k: usize,
) -> Vec<Prediction> {
    if k == 0 {
        return Vec::new();
    }
    match objective {
        Objective::Slo => search.diverse_candidates(k),
        Objective::Vulcan => {
            let mut ranked: Vec<(f64, Prediction)> = search
                .predict()
                .into_iter()
                .filter(|p| {
                    p_latency_accuracy(
                        slo,
                        p.latency_ms,
                        p.latency_log_sd,
                        p.accuracy,
                        p.accuracy_sd,
                    ) >= confidence
                })
                .map(|p| {
                    let plan = &plans[p.plan];
                    let r = vulcan::resources(search.app(), plan, devices);
                    let u = vulcan::utility(slo, VULCAN_GAMMA, p.latency_ms, p.accuracy, r);
                    (u, p)
                })
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.plan.cmp(&b.1.plan)));
            ranked.into_iter().take(k).map(|(_, p)| p).collect()
        }
        Objective::VideoStorm => {
            let mut points: Vec<(f64, f64, Prediction)> = search
                .predict()
                .into_iter()
                .filter(|p| p.accuracy.is_finite() && p.latency_ms.is_finite())
                .filter(|p| on_servers(search.app(), &plans[p.plan]))
                .map(|p| {
                    let f = videostorm_footprint(search.app(), &plans[p.plan]);
                    (f, videostorm_utility(slo, p.latency_ms, p.accuracy), p)
                })
                .collect();
            points.sort_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then(b.1.total_cmp(&a.1))
                    .then(a.2.plan.cmp(&b.2.plan))
            });
            let mut front: Vec<Prediction> = Vec::new();
            let mut best = f64::NEG_INFINITY;
            for (_, u, p) in points {
                if u > best {
                    best = u;
                    front.push(p);
                }
            }
            spread(front, k)
        }
    }
}

/// `k` items spread evenly over `all` (its first and last among them), or all of it.
fn spread<T>(all: Vec<T>, k: usize) -> Vec<T> {
    let n = all.len();
    if n <= k {
        return all;
    }
    let keep: Vec<usize> = (0..k)
        .map(|i| if k == 1 { 0 } else { i * (n - 1) / (k - 1) })
        .collect();
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, t)| t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AccuracyBound;

    fn slo(acc: Option<(f64, bool)>) -> SloTargets {
        SloTargets {
            latency_ms: 100.0,
            latency_percentile: 95.0,
            accuracy: acc.map(|(threshold, higher_is_better)| AccuracyBound {
                threshold,
                higher_is_better,
            }),
            max_cost_usd_per_hour: Some(0.01),
        }
    }

    #[test]
    fn videostorm_rewards_quality_and_penalizes_only_lag_over_the_goal() {
        let s = slo(Some((0.5, true)));
        // Faster than the goal earns nothing; slower costs in proportion.
        assert_eq!(
            videostorm_utility(&s, 50.0, 0.6),
            videostorm_utility(&s, 100.0, 0.6)
        );
        assert!(videostorm_utility(&s, 200.0, 0.6) < videostorm_utility(&s, 100.0, 0.6));
        assert!(videostorm_utility(&s, 50.0, 0.7) > videostorm_utility(&s, 50.0, 0.6));
        // An error metric: lower is better.
        let wer = slo(Some((0.1, false)));
        assert!(videostorm_utility(&wer, 50.0, 0.05) > videostorm_utility(&wer, 50.0, 0.08));
        // The cost SLO plays no part.
        let mut free = s;
        free.max_cost_usd_per_hour = None;
        assert_eq!(
            videostorm_utility(&s, 80.0, 0.6),
            videostorm_utility(&free, 80.0, 0.6)
        );
    }

    /// One query (latency ≤ 100 ms, cost ≤ 0.5 $/h, no accuracy SLO) and four plans on one
    /// GPU: each planner takes the plan its own objective prefers.
    #[test]
    fn each_planner_takes_the_plan_its_objective_prefers() {
        use std::collections::HashMap;

        use crate::online::expand::{plan_partition, Algorithm, MatchSettings, Member};
        use crate::online::fixtures::{device as row, query};
        use crate::online::search::{OpChoice, TierPlan};
        use crate::online::Fx;

        // (GPU share, latency ms, accuracy, cost $/h)
        let plans = [
            (0.25, 50.0, 0.90, 1.0),  // 0: fast and small, over the cost SLO
            (1.0, 80.0, 0.95, 2.0),   // 1: the most accurate, over the cost SLO
            (0.25, 300.0, 0.90, 0.2), // 2: misses the latency SLO
            (0.25, 60.0, 0.90, 0.3),  // 3: meets every SLO
        ];
        let source = row("phone", 0, 0);
        let server = row("s0", 2, 1);
        let member = Member {
            query: query("q", &source, Some(0.5)),
            higher_is_better: true,
            source,
            candidates: plans
                .iter()
                .enumerate()
                .map(|(i, &(share, latency, accuracy, cost))| TierPlan {
                    config: i as u64,
                    ops: vec![OpChoice {
                        name: "dnn".into(),
                        knobs: vec![("variant".into(), i.to_string())],
                        gpu_memory_mb: Fx(4_000.0),
                        dnn: true,
                    }],
                    slots: vec![Some("a10".into())],
                    gpu_share: Fx(share),
                    latency_ms: Fx(latency),
                    latency_log_sd: Fx(0.01),
                    accuracy: Fx(accuracy),
                    accuracy_sd: Fx(0.01),
                    cost_usd_per_hour: Fx(cost),
                    p_feasible: Fx(1.0),
                    resources: Fx(share),
                })
                .collect::<Vec<_>>()
                .into(),
            searching: false,
        };
        let chosen = |algorithm, objective| {
            let settings = MatchSettings {
                algorithm,
                objective,
                ..MatchSettings::default()
            };
            let d = plan_partition(&[&member], &[&server], &HashMap::new(), &settings);
            plans
                .iter()
                .position(|p| p.1 == d[0].latency_ms.0)
                .expect("a plan was assigned")
        };
        // Compass: the one plan predicted to meet every SLO.
        assert_eq!(chosen(Algorithm::Compass, Objective::Slo), 3);
        // Vulcan: the highest utility per resource among plans that meet the latency SLO,
        // blind to cost: plan 0.
        assert_eq!(chosen(Algorithm::Vulcan, Objective::Vulcan), 0);
        // VideoStorm: the smallest plan first, then the upgrade to higher quality: plan 1.
        assert_eq!(chosen(Algorithm::VideoStorm, Objective::VideoStorm), 1);
        // On Compass's objective both baselines can only take plan 3.
        assert_eq!(chosen(Algorithm::Vulcan, Objective::Slo), 3);
        assert_eq!(chosen(Algorithm::VideoStorm, Objective::Slo), 3);
    }

    #[test]
    fn spread_keeps_both_ends() {
        assert_eq!(spread((0..10).collect(), 3), vec![0, 4, 9]);
        assert_eq!(spread((0..2).collect(), 6), vec![0, 1]);
        assert_eq!(spread((0..5).collect(), 1), vec![0]);
    }
}
