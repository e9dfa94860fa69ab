//! The baselines' global steps, on the same [`Instance`] interface as the fast matcher.
//!
//! - **Vulcan's way**: every query is planned alone, so each takes its own best plan (the
//!   highest-value candidate, ignoring everyone else), in arrival order; a plan that no
//!   longer fits leaves its query unserved. There is no contention-aware global step.
//! - **VideoStorm** (NSDI'17): every query starts at its smallest configuration that fits;
//!   then resources go, one upgrade at a time, to the query whose next larger configuration
//!   adds the most utility per unit of extra resource, while anything fits. Its single-tier
//!   restriction lives in the instance: build it with single-tier candidates only.
//!
//! Utility is the objective the matcher maximizes ([`Instance::value`]), so all three are
//! scored on the same scale.

use super::{Instance, Matching};

const EPS: f64 = 1e-9;

fn size(inst: &Instance, q: usize, c: usize) -> f64 {
    inst.queries[q].candidates[c]
        .uses
        .iter()
        .map(|&(r, a)| a / inst.resources[r as usize].capacity.max(EPS))
        .sum()
}

/// Each query, in order, takes its own best candidate if it still fits.
pub fn vulcan(inst: &Instance) -> Matching {
    let scale = inst.goodput_scale();
    let mut residual: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
    let mut choice = vec![None; inst.queries.len()];
    for (q, query) in inst.queries.iter().enumerate() {
        let best = (0..query.candidates.len())
            .filter(|&c| inst.value(q, c, scale) > inst.unserved_value(q, scale))
            .max_by(|&a, &b| {
                inst.value(q, a, scale)
                    .total_cmp(&inst.value(q, b, scale))
                    .then(b.cmp(&a))
            });
        if let Some(c) = best {
            if inst.fits(&residual, q, c) {
                inst.take(&mut residual, q, c, 1.0);
                choice[q] = Some(c as u32);
            }
        }
    }
    Matching { choice }
}

/// Greedy allocation by marginal utility per unit of resource.
pub fn videostorm(inst: &Instance) -> Matching {
    let scale = inst.goodput_scale();
    let mut residual: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
    let mut choice: Vec<Option<u32>> = vec![None; inst.queries.len()];
    // Configurations by size, smallest first (the "Pareto profile" walk).
    let by_size: Vec<Vec<usize>> = inst
        .queries
        .iter()
        .enumerate()
        .map(|(q, query)| {
            let mut cs: Vec<usize> = (0..query.candidates.len()).collect();
            cs.sort_by(|&a, &b| {
                size(inst, q, a)
                    .total_cmp(&size(inst, q, b))
                    .then(a.cmp(&b))
            });
            cs
        })
        .collect();
    for (q, cs) in by_size.iter().enumerate() {
        if let Some(&c) = cs.iter().find(|&&c| inst.fits(&residual, q, c)) {
            inst.take(&mut residual, q, c, 1.0);
            choice[q] = Some(c as u32);
        }
    }
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        for (q, cs) in by_size.iter().enumerate() {
            let Some(cur) = choice[q].map(|c| c as usize) else {
                continue;
            };
            let here = inst.value(q, cur, scale);
            let pos = cs.iter().position(|&c| c == cur).unwrap_or(0);
            if let Some(&next) = cs.get(pos + 1) {
                let gain = inst.value(q, next, scale) - here;
                let extra = (size(inst, q, next) - size(inst, q, cur)).max(EPS);
                inst.take(&mut residual, q, cur, -1.0);
                let ok = inst.fits(&residual, q, next);
                inst.take(&mut residual, q, cur, 1.0);
                if gain > EPS && ok && best.is_none_or(|b| gain / extra > b.0) {
                    best = Some((gain / extra, q, next));
                }
            }
        }
        let Some((_, q, next)) = best else { break };
        if let Some(cur) = choice[q] {
            inst.take(&mut residual, q, cur as usize, -1.0);
        }
        inst.take(&mut residual, q, next, 1.0);
        choice[q] = Some(next as u32);
    }
    Matching { choice }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::matching::random::{self, Spec};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        #[test]
        fn baselines_never_exceed_capacity(seed in 0u64..5_000, queries in 1usize..80, machines in 1usize..12, load in 0.2f64..4.0) {
            let inst = random::instance(&Spec::new(seed, queries, machines, load));
            prop_assert!(inst.score(&vulcan(&inst)).overloaded.is_empty());
            prop_assert!(inst.score(&videostorm(&inst)).overloaded.is_empty());
        }
    }
}
