//! The baselines' global steps, on the same [`Instance`] interface as the fast matcher.
//!
//! - **Vulcan's way**: every query is planned alone, so each takes its own best plan (the
//!   highest-value candidate, ignoring everyone else), in arrival order, on any machine it is
//!   bound to that has room; a plan that fits nowhere leaves its query unserved (no fallback
//!   to a worse plan). There is no contention-aware global step.
//! - **VideoStorm** (NSDI'17): every query starts at its smallest configuration that fits;
//!   then resources go, one upgrade at a time, to the query whose upgrade adds the most
//!   utility per unit of extra resource, while anything fits. Its single-tier
//!   restriction lives in the instance: build it with single-tier candidates only.
//!
//! By default utility is the objective the matcher maximizes ([`Instance::value`]), so all
//! three are scored on the same scale; `vulcan_by` and `videostorm_by` take the baselines'
//! own utilities instead (see `online::objective`).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

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
    vulcan_by(inst, |q, c| {
        let v = inst.value(q, c, scale);
        (v > inst.unserved_value(q, scale)).then_some(v)
    })
}

/// [`vulcan`] with a utility of the planner's own: `utility(q, c)` is `None` for a candidate
/// the query would not take.
///
/// A query's best plan may be bound to several machines (several candidates of equal
/// utility): it takes the first of them that fits, as a cluster scheduler would place it on
/// any machine with room. What it never does is fall back to a worse plan.
pub fn vulcan_by(inst: &Instance, utility: impl Fn(usize, usize) -> Option<f64>) -> Matching {
    let mut residual: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
    let mut choice = vec![None; inst.queries.len()];
    for (q, query) in inst.queries.iter().enumerate() {
        let scored: Vec<(usize, f64)> = (0..query.candidates.len())
            .filter_map(|c| Some((c, utility(q, c)?)))
            .collect();
        let Some(best) = scored.iter().map(|&(_, u)| u).max_by(f64::total_cmp) else {
            continue;
        };
        let placed = scored
            .iter()
            .find(|&&(c, u)| u >= best - EPS * best.abs().max(1.0) && inst.fits(&residual, q, c));
        if let Some(&(c, _)) = placed {
            inst.take(&mut residual, q, c, 1.0);
            choice[q] = Some(c as u32);
        }
    }
    Matching { choice }
}

/// Greedy allocation by marginal utility per unit of resource.
pub fn videostorm(inst: &Instance) -> Matching {
    let scale = inst.goodput_scale();
    videostorm_by(inst, |q, c| inst.value(q, c, scale))
}

/// [`videostorm`] with a utility of the planner's own.
///
/// Every query first takes its smallest candidate that fits, in order. Then, one upgrade at
/// a time, the (query, candidate) pair of highest utility gained per unit of extra footprint
/// (any candidate of higher utility, not only the next larger: one plan bound to several
/// machines is several candidates of one size) moves its query, while one fits. Pairs wait
/// in a heap and are dropped when stale, so the walk costs O(P log P) in the pairs P.
pub fn videostorm_by(inst: &Instance, utility: impl Fn(usize, usize) -> f64) -> Matching {
    let mut residual: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
    let mut choice: Vec<Option<u32>> = vec![None; inst.queries.len()];
    for (q, query) in inst.queries.iter().enumerate() {
        let smallest = (0..query.candidates.len())
            .filter(|&c| inst.fits(&residual, q, c))
            .min_by(|&a, &b| {
                size(inst, q, a)
                    .total_cmp(&size(inst, q, b))
                    .then(a.cmp(&b))
            });
        if let Some(c) = smallest {
            inst.take(&mut residual, q, c, 1.0);
            choice[q] = Some(c as u32);
        }
    }
    // (gain per extra footprint, query, candidate, the query's candidate it upgrades from)
    let mut heap: BinaryHeap<Upgrade> = BinaryHeap::new();
    let push = |heap: &mut BinaryHeap<Upgrade>, q: usize, cur: usize| {
        let here = utility(q, cur);
        for c in 0..inst.queries[q].candidates.len() {
            let gain = utility(q, c) - here;
            if c != cur && gain > EPS {
                let extra = (size(inst, q, c) - size(inst, q, cur)).max(EPS);
                heap.push(Upgrade {
                    rate: gain / extra,
                    q,
                    c,
                    from: cur,
                });
            }
        }
    };
    for (q, c) in choice.iter().enumerate() {
        if let Some(c) = c {
            push(&mut heap, q, *c as usize);
        }
    }
    while let Some(u) = heap.pop() {
        if choice[u.q] != Some(u.from as u32) {
            continue;
        }
        inst.take(&mut residual, u.q, u.from, -1.0);
        if inst.fits(&residual, u.q, u.c) {
            inst.take(&mut residual, u.q, u.c, 1.0);
            choice[u.q] = Some(u.c as u32);
            push(&mut heap, u.q, u.c);
        } else {
            inst.take(&mut residual, u.q, u.from, 1.0);
        }
    }
    Matching { choice }
}

/// One possible upgrade, ordered by rate, then by query and candidate (lowest first).
struct Upgrade {
    rate: f64,
    q: usize,
    c: usize,
    from: usize,
}

impl PartialEq for Upgrade {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Upgrade {}

impl PartialOrd for Upgrade {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Upgrade {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rate
            .total_cmp(&other.rate)
            .then(other.q.cmp(&self.q))
            .then(other.c.cmp(&self.c))
            .then(other.from.cmp(&self.from))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::matching::random::{self, Spec};

    /// One query, one machine: two copies of a small plan (one plan bound to two machines
    /// looks like this) and a larger plan of higher utility. The upgrade walk must reach the
    /// larger plan past the equal-sized copy.
    #[test]
    fn videostorm_upgrades_past_candidates_of_equal_size() {
        use crate::matching::{Candidate, Mode, QueryDemand, Resource};
        let cand = |a: f64| Candidate {
            uses: vec![(0, a)],
            cost_usd_per_hour: 0.0,
            meets_slo: true,
        };
        let inst = Instance {
            resources: vec![Resource {
                name: "gpu".into(),
                capacity: 1.0,
                pool: 0,
            }],
            queries: vec![QueryDemand {
                id: "q".into(),
                weight: 1.0,
                candidates: vec![cand(0.25), cand(0.25), cand(1.0)],
                current: None,
            }],
            mode: Mode::Goodput,
            churn_penalty: 0.0,
        };
        let utility = [0.0, 0.0, 1.0];
        let m = videostorm_by(&inst, |_, c| utility[c]);
        assert_eq!(m.choice, vec![Some(2)]);
    }

    /// Vulcan's best plan, bound to two machines, goes to the second when the first is full;
    /// it never falls back to the worse plan.
    #[test]
    fn vulcan_places_its_best_plan_on_any_machine_with_room() {
        use crate::matching::{Candidate, Mode, QueryDemand, Resource};
        let on = |r: u32| Candidate {
            uses: vec![(r, 1.0)],
            cost_usd_per_hour: 0.0,
            meets_slo: true,
        };
        let gpu = |name: &str| Resource {
            name: name.into(),
            capacity: 1.0,
            pool: 0,
        };
        let query = |id: &str| QueryDemand {
            id: id.into(),
            weight: 1.0,
            // The best plan on machine 0 or 1, a worse one on machine 2.
            candidates: vec![on(0), on(1), on(2)],
            current: None,
        };
        let inst = Instance {
            resources: vec![gpu("m0"), gpu("m1"), gpu("m2")],
            queries: vec![query("a"), query("b"), query("c")],
            mode: Mode::Goodput,
            churn_penalty: 0.0,
        };
        let utility = [Some(2.0), Some(2.0), Some(1.0)];
        let m = vulcan_by(&inst, |_, c| utility[c]);
        assert_eq!(m.choice, vec![Some(0), Some(1), None]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        #[test]
        fn baselines_never_exceed_capacity(seed in 0u64..5_000, queries in 1usize..80, machines in 1usize..12, load in 0.2f64..4.0) {
            let inst = random::instance(&Spec::new(seed, queries, machines, load));
            prop_assert!(inst.score(&vulcan(&inst)).overloaded.is_empty());
            prop_assert!(inst.score(&videostorm(&inst)).overloaded.is_empty());
            // Utilities of their own, unrelated to the instance's values.
            let utility = |q: usize, c: usize| ((q * 7 + c * 13 + seed as usize) % 11) as f64;
            prop_assert!(inst.score(&videostorm_by(&inst, utility)).overloaded.is_empty());
            prop_assert!(inst.score(&vulcan_by(&inst, |q, c| Some(utility(q, c)))).overloaded.is_empty());
        }
    }
}
