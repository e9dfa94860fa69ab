//! Lagrangian resource prices for one component of a matching instance.
//!
//! The greedy matcher orders (query, candidate) pairs by value per unit of footprint, and a
//! footprint that weighs every resource alike is blind to which resources are actually
//! short: on a contended instance it fills the scarce machine with queries that had cheap
//! alternatives elsewhere. Relaxing the capacity constraints with multipliers gives each
//! resource a price — zero where capacity is slack, high where demand exceeds it — and the
//! pair's *priced* footprint `Σ price_r · use_r` is what the pair really costs the others.
//! This is the dual side of the LP relaxation, found by projected subgradient steps, so it
//! needs no LP solver and stays linear in the number of pairs per step.
//!
//! Deterministic: fixed step schedule, no randomness, no clock.

use std::collections::HashMap;

use super::Instance;

/// Subgradient steps per component. The prices settle in a few dozen steps on the
/// instances in `examples/matching.rs`; more steps changed no matching there.
const STEPS: usize = 40;

/// A pair worth serving: (query, worth, normalized uses by local resource index).
type Pair = (usize, f64, Vec<(usize, f64)>);

/// What candidate `c` of query `q` costs at `price` (per unit of normalized use; resources
/// without a price are free).
pub fn priced_use(inst: &Instance, price: &HashMap<u32, f64>, q: usize, c: usize) -> f64 {
    inst.queries[q].candidates[c]
        .uses
        .iter()
        .map(|&(r, a)| {
            price.get(&r).copied().unwrap_or(0.0) * a
                / inst.resources[r as usize].capacity.max(1e-9)
        })
        .sum()
}

/// Prices per resource for the queries in `group`, against the capacities left in
/// `residual`, counting only pairs worth serving (`worth > 0`) of queries without a choice.
/// Returns (resource → price per unit of normalized use) for the resources the group uses.
pub fn prices(
    inst: &Instance,
    group: &[usize],
    residual: &[f64],
    worth: impl Fn(usize, usize) -> f64,
    open: impl Fn(usize) -> bool,
) -> HashMap<u32, f64> {
    // Local indices for the group's resources, and each pair's normalized use of them.
    let mut local: HashMap<u32, usize> = HashMap::new();
    let mut cap = Vec::new();
    let mut pairs: Vec<Pair> = Vec::new();
    let mut top_worth: f64 = 0.0;
    for &q in group.iter().filter(|&&q| open(q)) {
        for (c, cand) in inst.queries[q].candidates.iter().enumerate() {
            let w = worth(q, c);
            if w <= 0.0 {
                continue;
            }
            top_worth = top_worth.max(w);
            let uses = cand
                .uses
                .iter()
                .map(|&(r, a)| {
                    let full = inst.resources[r as usize].capacity.max(1e-9);
                    let i = *local.entry(r).or_insert_with(|| {
                        cap.push((residual[r as usize] / full).max(0.0));
                        cap.len() - 1
                    });
                    (i, a / full)
                })
                .collect();
            pairs.push((q, w, uses));
        }
    }
    let mut price = vec![0.0f64; cap.len()];
    if pairs.is_empty() {
        return HashMap::new();
    }
    let mut used = vec![0.0f64; cap.len()];
    for step in 0..STEPS {
        // Each query takes its best pair at the current prices, or nothing.
        used.iter_mut().for_each(|u| *u = 0.0);
        let mut i = 0;
        while i < pairs.len() {
            let q = pairs[i].0;
            let mut best: Option<(f64, usize)> = None;
            while i < pairs.len() && pairs[i].0 == q {
                let (_, w, uses) = &pairs[i];
                let reduced = w - uses.iter().map(|&(r, a)| price[r] * a).sum::<f64>();
                if reduced > 0.0 && best.is_none_or(|b| reduced > b.0) {
                    best = Some((reduced, i));
                }
                i += 1;
            }
            if let Some((_, b)) = best {
                for &(r, a) in &pairs[b].2 {
                    used[r] += a;
                }
            }
        }
        // Raise the price of over-used resources, lower it on slack ones (never below 0).
        // The step shrinks geometrically from the largest pair value.
        let size = top_worth * 0.5 * 0.9f64.powi(step as i32);
        for r in 0..cap.len() {
            let excess = used[r] - cap[r];
            price[r] = (price[r] + size * excess).max(0.0);
        }
    }
    local.into_iter().map(|(r, i)| (r, price[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::{Candidate, Mode, QueryDemand, Resource};

    fn resource(name: &str, capacity: f64) -> Resource {
        Resource {
            name: name.into(),
            capacity,
            pool: 0,
        }
    }

    fn query(id: &str, uses: &[(&[(u32, f64)], f64)]) -> QueryDemand {
        QueryDemand {
            id: id.into(),
            weight: 1.0,
            candidates: uses
                .iter()
                .map(|(u, cost)| Candidate {
                    uses: u.to_vec(),
                    cost_usd_per_hour: *cost,
                    meets_slo: true,
                })
                .collect(),
            current: None,
        }
    }

    #[test]
    fn the_short_resource_is_priced_and_the_slack_one_is_free() {
        // Four queries each take all of resource 0 (free) or a tenth of resource 1 (0.5 $/h):
        // everyone would rather use resource 0, which holds one of them.
        let inst = Instance {
            resources: vec![resource("short", 1.0), resource("slack", 10.0)],
            queries: (0..4)
                .map(|i| query(&format!("q{i}"), &[(&[(0, 1.0)], 0.0), (&[(1, 1.0)], 0.5)]))
                .collect(),
            mode: Mode::Goodput,
            churn_penalty: 0.0,
        };
        let scale = inst.goodput_scale();
        let group: Vec<usize> = (0..4).collect();
        let cap: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
        let p = prices(
            &inst,
            &group,
            &cap,
            |q, c| inst.value(q, c, scale),
            |_| true,
        );
        // The LP dual: the short resource is worth the 0.5 $/h a query saves on it.
        assert_eq!(p.get(&1).copied(), Some(0.0), "{p:?}");
        assert!((p[&0] - 0.5).abs() < 0.1, "{p:?}");
    }
}
