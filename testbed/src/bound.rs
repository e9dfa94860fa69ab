//! What any planner could at best do on a scenario, from the ground truth: for each live
//! query in each window, whether some plan truly meets all its SLOs, and the least cost of
//! such a plan.
//!
//! Why: the benchmark targets compare planners by ratios (goodput against a baseline, cost
//! against a baseline). Whether a ratio is reachable at all depends on the scenario: if the
//! baseline already pays close to the least cost of meeting the SLOs it meets, no planner can
//! be much cheaper while meeting as many. This bound says how far from the best each planner
//! is, so that a ratio below target can be told apart from a planner that falls short.
//!
//! What the bound ignores, so that it stays a bound:
//! - **Capacity and co-location.** Each query is planned alone on idle machines: no GPU memory
//!   or compute share is taken by others, and no interference slows it down.
//! - **Noise.** A plan counts when its noiseless latency at the query's percentile, its mean
//!   accuracy and its cost meet the SLOs; the simulated workers realize latency and accuracy
//!   per input, so a plan just inside an SLO misses it in some windows.
//! - **Knowledge.** The ground truth is known; no profile is needed.
//!
//! Plans are those a planner of this project may choose: every configuration, every operator
//! on the query's own device or on a machine of any server class alive (one machine stands
//! for its class, as in the planners' search), DNN operators holding one of `shares` of a GPU.

use std::collections::HashMap;

use compass_planners::model::{enumerate_plans, Device, Query};
use compass_schemas::Tier;

use crate::sim::{Scenario, SimError, Simulation};
use crate::worker::World;

/// The bound over a whole scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bound {
    /// Σ over windows of the weights of the live queries some plan can serve within all
    /// their SLOs: no planner's goodput exceeds this (up to noise).
    pub goodput: f64,
    /// Σ over windows of live queries.
    pub query_windows: u64,
    /// Σ over windows of the least cost of serving those queries within their SLOs, USD.
    pub cost_usd: f64,
    /// Per window: (feasible weight, least cost USD).
    pub windows: Vec<(f64, f64)>,
    /// Every feasible query-window as (least cost USD, weight), cheapest per unit of weight
    /// first (see [`Bound::least_cost_for`]).
    pub query_costs: Vec<(f64, f64)>,
}

impl Bound {
    /// A lower bound on what any planner pays to realize `goodput`: the cheapest feasible
    /// query-windows per unit of weight, taken until their weight reaches `goodput` (the last
    /// one in part: the fractional knapsack, whose value no integral choice undercuts).
    /// `None` when `goodput` exceeds [`Bound::goodput`].
    pub fn least_cost_for(&self, goodput: f64) -> Option<f64> {
        if goodput > self.goodput + 1e-9 {
            return None;
        }
        let (mut weight, mut cost) = (0.0, 0.0);
        for &(c, w) in &self.query_costs {
            if weight + w >= goodput {
                let part = if w > 0.0 { (goodput - weight) / w } else { 0.0 };
                return Some(cost + c * part.clamp(0.0, 1.0));
            }
            weight += w;
            cost += c;
        }
        Some(cost)
    }
}

/// The least cost per hour of a plan that truly meets every SLO of `query` alone on idle
/// machines, or `None` when no plan does (or the query's application or device is unknown).
pub fn cheapest_feasible(world: &World, query: &Query, shares: &[f64]) -> Option<f64> {
    let truth = world.truths.get(&query.app_id)?;
    let source = world
        .devices
        .iter()
        .find(|d| d.id == query.source_device_id)?;
    let mut devices: Vec<Device> = vec![source.clone()];
    for d in &world.devices {
        let server = d.tier != Tier::Edge && d.alive;
        if server
            && !devices[1..]
                .iter()
                .any(|s| s.hardware_class == d.hardware_class)
        {
            devices.push(d.clone());
        }
    }
    let all: Vec<usize> = (0..devices.len()).collect();
    let mut best: Option<f64> = None;
    for &share in shares {
        let Ok(plans) = enumerate_plans(&truth.model, &devices, &all, share) else {
            continue;
        };
        for plan in &plans {
            let Some((latency_ms, accuracy, cost)) = truth.outcome(plan, query, &devices) else {
                continue;
            };
            if best.is_some_and(|b| b <= cost) {
                continue;
            }
            if query.slo.all_met(latency_ms, accuracy, cost) {
                best = Some(cost);
            }
        }
    }
    best
}

/// Each query's [`cheapest_feasible`] in each state of the world it was asked in
/// ([`Simulation::world_version`]). Every run of one scenario walks the same trace through
/// the same states, so one cache, filled by [`bound`], serves every planner's run after it
/// ([`Simulation::bound_with`]) without asking the truth again.
#[derive(Debug, Clone)]
pub struct Cache {
    shares: Vec<f64>,
    least: HashMap<((usize, usize), String), Option<f64>>,
}

impl Cache {
    pub fn new(shares: &[f64]) -> Self {
        Cache {
            shares: shares.to_vec(),
            least: HashMap::new(),
        }
    }

    /// [`cheapest_feasible`] for `query` in the world of `version`.
    pub fn least(&mut self, world: &World, version: (usize, usize), query: &Query) -> Option<f64> {
        let key = (version, query.id.clone());
        if let Some(&c) = self.least.get(&key) {
            return c;
        }
        let c = cheapest_feasible(world, query, &self.shares);
        self.least.insert(key, c);
        c
    }
}

/// Walk `scenario`'s trace window by window (with its drift events) and bound every window
/// over `cache`'s shares, filling `cache`. `progress` is called after each window with
/// (window, windows).
pub fn bound(
    scenario: Scenario,
    cache: &mut Cache,
    mut progress: impl FnMut(u64, u64),
) -> Result<Bound, SimError> {
    let window_s = scenario.window_s;
    let mut sim = Simulation::new(scenario)?;
    let windows = sim.windows();
    let mut out = Bound::default();
    for w in 0..windows {
        sim.window_inputs(w);
        let version = sim.world_version();
        let (mut weight, mut cost) = (0.0, 0.0);
        for q in sim.live_queries() {
            out.query_windows += 1;
            if let Some(c) = cache.least(&sim.world, version, q) {
                let usd = c * window_s / 3600.0;
                weight += q.weight;
                cost += usd;
                out.query_costs.push((usd, q.weight));
            }
        }
        out.goodput += weight;
        out.cost_usd += cost;
        out.windows.push((weight, cost));
        progress(w + 1, windows);
    }
    // Cheapest per unit of weight first; a weightless query-window last (it adds nothing).
    let per_weight = |(c, w): &(f64, f64)| if *w > 0.0 { c / w } else { f64::INFINITY };
    out.query_costs
        .sort_by(|a, b| per_weight(a).total_cmp(&per_weight(b)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A live query of the `oracle` scenario's world, after its first minute.
    fn world_and_queries() -> (Simulation, Vec<Query>) {
        let mut sim =
            Simulation::new(Scenario::named("oracle", 1).expect("scenario")).expect("sim");
        for w in 0..6 {
            sim.window_inputs(w);
        }
        let queries: Vec<Query> = sim.live_queries().cloned().collect();
        assert!(queries.len() >= 3, "the trace has live queries");
        (sim, queries)
    }

    /// The least cost is the least: at a cost SLO just below it no plan meets the SLOs, at
    /// exactly it one does, and loosening the other SLOs never makes it dearer.
    #[test]
    fn the_least_cost_is_sharp_and_monotone_in_the_slos() {
        let (sim, queries) = world_and_queries();
        let shares = [0.25, 1.0];
        let (mut checked, mut paid) = (0, 0);
        for q in &queries {
            let Some(c) = cheapest_feasible(&sim.world, q, &shares) else {
                continue;
            };
            let mut at = q.clone();
            at.slo.max_cost_usd_per_hour = Some(c);
            assert_eq!(cheapest_feasible(&sim.world, &at, &shares), Some(c));
            if c > 1e-9 {
                let mut below = q.clone();
                below.slo.max_cost_usd_per_hour = Some(c * 0.999 - 1e-9);
                assert_eq!(cheapest_feasible(&sim.world, &below, &shares), None);
                paid += 1;
            }
            let mut loose = q.clone();
            loose.slo.latency_ms *= 10.0;
            loose.slo.accuracy = None;
            let l = cheapest_feasible(&sim.world, &loose, &shares).expect("looser stays feasible");
            assert!(l <= c + 1e-12, "looser SLOs cost more: {l} > {c}");
            checked += 1;
        }
        assert!(
            checked > 0 && paid > 0,
            "{checked} feasible queries, {paid} at a cost"
        );
        // No plan answers in a microsecond.
        let mut impossible = queries[0].clone();
        impossible.slo.latency_ms = 1e-3;
        assert_eq!(cheapest_feasible(&sim.world, &impossible, &shares), None);
    }

    /// A finer share grid (a superset) never costs more and never serves less.
    #[test]
    fn a_finer_share_grid_never_costs_more() {
        let (sim, queries) = world_and_queries();
        for q in &queries {
            let coarse = cheapest_feasible(&sim.world, q, &[1.0]);
            let fine = cheapest_feasible(&sim.world, q, &[0.25, 0.5, 1.0]);
            match (coarse, fine) {
                (Some(c), Some(f)) => assert!(f <= c + 1e-12, "{f} > {c}"),
                (Some(_), None) => panic!("the finer grid lost a feasible query"),
                _ => {}
            }
        }
    }

    /// The fractional knapsack: cheapest per unit of weight first, the last item in part.
    #[test]
    fn least_cost_for_takes_the_cheapest_weight_first() {
        let b = Bound {
            goodput: 4.0,
            query_windows: 5,
            cost_usd: 7.0,
            windows: Vec::new(),
            query_costs: vec![(0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (4.0, 1.0)],
        };
        assert_eq!(b.least_cost_for(0.0), Some(0.0));
        assert_eq!(b.least_cost_for(1.0), Some(0.0));
        assert_eq!(b.least_cost_for(2.5), Some(2.0));
        assert_eq!(b.least_cost_for(4.0), Some(7.0));
        assert_eq!(b.least_cost_for(4.5), None);
    }

    /// Over a scenario: the bound counts every live query-window once, its per-window
    /// figures add up, and its least-cost list is sorted as `least_cost_for` needs.
    #[test]
    fn the_scenario_bound_adds_up() {
        let scenario = || {
            let mut s = Scenario::named("oracle", 1).expect("scenario");
            s.trace.duration_s = 120.0;
            s
        };
        let mut cache = Cache::new(&[0.25, 1.0]);
        let b = bound(scenario(), &mut cache, |_, _| {}).expect("bound");
        assert!(b.query_windows > 0);
        let g: f64 = b.windows.iter().map(|w| w.0).sum();
        let c: f64 = b.windows.iter().map(|w| w.1).sum();
        assert!((g - b.goodput).abs() < 1e-9 && (c - b.cost_usd).abs() < 1e-9);
        let w: f64 = b.query_costs.iter().map(|x| x.1).sum();
        assert!((w - b.goodput).abs() < 1e-9);
        assert_eq!(
            b.least_cost_for(b.goodput)
                .map(|x| (x - b.cost_usd).abs() < 1e-9),
            Some(true)
        );
        let per = |(c, w): &(f64, f64)| c / w;
        assert!(b.query_costs.windows(2).all(|p| per(&p[0]) <= per(&p[1])));
        // The filled cache gives the same bound again without asking the truth.
        let filled = cache.least.len();
        let again = bound(scenario(), &mut cache, |_, _| {}).expect("bound");
        assert_eq!(cache.least.len(), filled);
        assert_eq!(again, b);
    }
}
