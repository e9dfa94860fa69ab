//! A budgeted depth-first branch and bound over a few open queries, the repair step of the
//! fast matcher's large-neighbourhood search.
//!
//! Why: on small, tight components the greedy orders, the ejection chains and a greedy
//! refill can all miss an optimum that moves many queries at once (the worst instance in
//! BENCHMARKS.md moved 9 of 20). When a neighbourhood is destroyed (every query served on two
//! resources freed), the queries left open are few enough to search exhaustively when the
//! bound prunes well; when it does not, the node budget stops the search and the matcher
//! keeps what it had. The search starts from the value the neighbourhood had, so it only
//! ever returns something strictly better, and one that ends within its budget proves that
//! neighbourhood has nothing better: the matcher skips it until something else changes.
//!
//! This is a heuristic step of the online matcher, counted in nodes (deterministic, no
//! clock); the exact oracle the matcher is measured against is the MILP in `milp`.
//!
//! The bound at a node is the smaller of two upper bounds on what the unassigned queries can
//! still add: each query's best candidate that fits the residual capacities alone, and the
//! Lagrangian bound `Σ_q max(0, max_c worth − Σ_r λ_r·use) + Σ_r λ_r·residual_r` with the
//! component's resource prices `λ ≥ 0` (valid for any such prices). Both take the maximum
//! over the candidates that still fit alone (a candidate that does not fit can never be
//! chosen below the node); on the 20-query instances of BENCHMARKS.md that halves the nodes a
//! whole-component search visits. Re-pricing at the node (a fresh subgradient pass against
//! the residual capacities) was tried and visited no fewer nodes: the gap left is
//! integrality, not stale prices.

use std::collections::HashMap;

use super::prices::priced_use;
use super::Instance;

/// What a search found.
pub(super) struct Outcome {
    /// A strictly better assignment of the component's queries (in `group` order), with its
    /// value, if one was found.
    pub better: Option<(f64, Vec<Option<u32>>)>,
    /// The search ran to its end: the best it knows (its own or the incumbent) is optimal.
    pub complete: bool,
}

/// A query's candidates worth serving, best first: (candidate, worth, worth less its priced
/// use).
type Options = Vec<(usize, f64, f64)>;

struct Search<'a, 'r> {
    inst: &'a Instance,
    /// Queries in branching order, with their candidates.
    order: Vec<(usize, Options)>,
    /// The priced resources as (index, price per unit of capacity), in index order: the
    /// bound sums over them at every node, and a slice walks faster than the map.
    price: Vec<(usize, f64)>,
    /// Taken from and given back to as the search goes: as it was once the search ends.
    residual: &'r mut [f64],
    /// Choice per position of `order`.
    current: Vec<Option<u32>>,
    best: f64,
    best_choice: Option<Vec<Option<u32>>>,
    nodes: usize,
    budget: usize,
    /// The least improvement worth finding: a node is pruned unless its bound beats the
    /// best by this much.
    min_gain: f64,
}

/// Search the assignments of `group` against `residual` (the capacities with none of the
/// group's queries placed) for one worth more than `incumbent` (the sum over the group of
/// `worth` of the chosen candidates; unserved adds nothing) by at least `min_gain`, visiting
/// at most `budget` nodes. `residual` is used as scratch and left as it was.
///
/// `min_gain` is where integrality pays: when every worth is a whole number of units, no
/// assignment is better by less than one unit, so a node whose bound is under `best + 1`
/// holds nothing (the rounding a MILP solver applies to an integral objective). With
/// `min_gain` near zero every strict improvement counts.
#[allow(clippy::too_many_arguments)]
pub(super) fn search(
    inst: &Instance,
    group: &[usize],
    residual: &mut [f64],
    worth: impl Fn(usize, usize) -> f64,
    price: &HashMap<u32, f64>,
    incumbent: f64,
    budget: usize,
    min_gain: f64,
) -> Outcome {
    let mut order: Vec<(usize, Options)> = group
        .iter()
        .map(|&q| {
            let mut cands: Options = (0..inst.queries[q].candidates.len())
                .map(|c| (c, worth(q, c)))
                .filter(|&(_, w)| w > 0.0)
                .map(|(c, w)| (c, w, w - priced_use(inst, price, q, c)))
                .collect();
            cands.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            (q, cands)
        })
        .filter(|(_, c)| !c.is_empty())
        .collect();
    // Most valuable first: the bound tightens fastest.
    order.sort_by(|a, b| b.1[0].1.total_cmp(&a.1[0].1).then(a.0.cmp(&b.0)));
    let n = order.len();
    let mut priced: Vec<(usize, f64)> = price
        .iter()
        .map(|(&r, &p)| {
            let r = r as usize;
            (r, p / inst.resources[r].capacity.max(1e-9))
        })
        .collect();
    priced.sort_by_key(|&(r, _)| r);
    let mut s = Search {
        inst,
        order,
        price: priced,
        residual,
        current: vec![None; n],
        best: incumbent,
        best_choice: None,
        nodes: 0,
        budget,
        min_gain: (min_gain - 1e-9).max(1e-9),
    };
    let complete = s.dfs(0, 0.0);
    let better = s.best_choice.map(|by_order| {
        let mut out = vec![None; group.len()];
        let at: HashMap<usize, usize> = group.iter().enumerate().map(|(i, &q)| (q, i)).collect();
        for (k, (q, _)) in s.order.iter().enumerate() {
            out[at[q]] = by_order[k];
        }
        (s.best, out)
    });
    Outcome { better, complete }
}

impl Search<'_, '_> {
    /// Returns false when the budget ran out somewhere below this node.
    fn dfs(&mut self, depth: usize, value: f64) -> bool {
        self.nodes += 1;
        if value > self.best + 1e-9 {
            self.best = value;
            self.best_choice = Some(self.current.clone());
        }
        if depth == self.order.len() {
            return true;
        }
        if value + self.bound(depth) < self.best + self.min_gain {
            return true;
        }
        if self.nodes >= self.budget {
            return false;
        }
        let q = self.order[depth].0;
        let mut complete = true;
        for k in 0..self.order[depth].1.len() {
            let (c, w, _) = self.order[depth].1[k];
            if !self.inst.fits(self.residual, q, c) {
                continue;
            }
            self.inst.take(self.residual, q, c, 1.0);
            self.current[depth] = Some(c as u32);
            complete &= self.dfs(depth + 1, value + w);
            self.current[depth] = None;
            self.inst.take(self.residual, q, c, -1.0);
            if !complete {
                return false;
            }
        }
        // Leave the query out.
        self.dfs(depth + 1, value) && complete
    }

    /// An upper bound on what the queries from `depth` on can add.
    fn bound(&self, depth: usize) -> f64 {
        let mut alone = 0.0;
        let mut priced = 0.0;
        for (q, cands) in &self.order[depth..] {
            let mut best_alone: f64 = 0.0;
            let mut best_priced: f64 = 0.0;
            for &(c, w, p) in cands {
                if (w > best_alone || p > best_priced) && self.inst.fits(self.residual, *q, c) {
                    best_alone = best_alone.max(w);
                    best_priced = best_priced.max(p);
                }
            }
            alone += best_alone;
            priced += best_priced;
        }
        if !self.price.is_empty() {
            priced += self
                .price
                .iter()
                .map(|&(r, p)| p * self.residual[r].max(0.0))
                .sum::<f64>();
            alone.min(priced)
        } else {
            alone
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::{Candidate, Mode, QueryDemand, Resource};

    fn one_machine(weights: &[(f64, f64)], cap: f64) -> Instance {
        Instance {
            resources: vec![Resource {
                name: "gpu".into(),
                capacity: cap,
                pool: 0,
            }],
            queries: weights
                .iter()
                .enumerate()
                .map(|(i, &(w, a))| QueryDemand {
                    id: format!("q{i}"),
                    weight: w,
                    candidates: vec![Candidate {
                        uses: vec![(0, a)],
                        cost_usd_per_hour: 0.0,
                        meets_slo: true,
                    }],
                    current: None,
                })
                .collect(),
            mode: Mode::Goodput,
            churn_penalty: 0.0,
        }
    }

    /// Search every query of `inst` on its one machine of capacity `cap`, at unit scale,
    /// and check the capacities are left as they were.
    fn run(
        inst: &Instance,
        cap: f64,
        price: &HashMap<u32, f64>,
        incumbent: f64,
        budget: usize,
    ) -> Outcome {
        let group: Vec<usize> = (0..inst.queries.len()).collect();
        let mut residual = vec![cap];
        let worth = |q: usize, c: usize| inst.value(q, c, 1.0);
        let out = search(
            inst,
            &group,
            &mut residual,
            worth,
            price,
            incumbent,
            budget,
            0.0,
        );
        assert_eq!(
            residual,
            vec![cap],
            "the search leaves the capacities as they were"
        );
        out
    }

    #[test]
    fn finds_the_knapsack_optimum_a_greedy_by_density_misses() {
        // Capacity 8. Density greedy takes the 6-for-5 item (1.2 per unit) first, and then
        // no 4-unit item fits: 6. The optimum is both 5-for-4 items: 10.
        let inst = one_machine(&[(6.0, 5.0), (5.0, 4.0), (5.0, 4.0)], 8.0);
        let out = run(&inst, 8.0, &HashMap::new(), 6.0, 1_000);
        assert!(out.complete);
        let (v, choice) = out.better.expect("a better assignment");
        assert_eq!(v, 10.0);
        assert_eq!(choice, vec![None, Some(0), Some(0)]);
    }

    #[test]
    fn any_prices_keep_the_bound_valid() {
        // The Lagrangian bound holds for every price >= 0: the optimum is still found.
        let inst = one_machine(&[(6.0, 5.0), (5.0, 4.0), (5.0, 4.0)], 8.0);
        for p in [0.0, 0.5, 3.0, 50.0] {
            let price = HashMap::from([(0u32, p)]);
            let out = run(&inst, 8.0, &price, 6.0, 1_000);
            assert!(out.complete, "price {p}");
            assert_eq!(out.better.map(|b| b.0), Some(10.0), "price {p}");
        }
    }

    #[test]
    fn an_optimal_incumbent_yields_nothing_better_but_a_complete_search() {
        let inst = one_machine(&[(6.0, 5.0), (5.0, 4.0), (5.0, 4.0)], 8.0);
        let out = run(&inst, 8.0, &HashMap::new(), 10.0, 1_000);
        assert!(out.complete && out.better.is_none());
    }

    #[test]
    fn a_whole_unit_gain_is_found_and_a_smaller_one_is_not_sought() {
        let inst = one_machine(&[(6.0, 5.0), (5.0, 4.0), (5.0, 4.0)], 8.0);
        let group: Vec<usize> = (0..3).collect();
        let mut residual = vec![8.0];
        let worth = |q: usize, _: usize| inst.queries[q].weight;
        let none = HashMap::new();
        // From 6 the optimum 10 is more than a unit better: found, and proven.
        let out = search(&inst, &group, &mut residual, worth, &none, 6.0, 1_000, 1.0);
        assert!(out.complete);
        assert_eq!(out.better.map(|b| b.0), Some(10.0));
        // From 9.5 nothing is a whole unit better: the search ends, complete, with nothing.
        let out = search(&inst, &group, &mut residual, worth, &none, 9.5, 1_000, 1.0);
        assert!(out.complete && out.better.is_none());
        // Asked for any gain, the same search finds the half unit.
        let out = search(&inst, &group, &mut residual, worth, &none, 9.5, 1_000, 0.0);
        assert_eq!(out.better.map(|b| b.0), Some(10.0));
        assert_eq!(residual, vec![8.0]);
    }

    #[test]
    fn the_budget_stops_the_search_and_says_so() {
        let items: Vec<(f64, f64)> = (0..30)
            .map(|i| (1.0 + (i % 7) as f64, 1.0 + (i % 5) as f64))
            .collect();
        let inst = one_machine(&items, 20.0);
        assert!(!run(&inst, 20.0, &HashMap::new(), 0.0, 50).complete);
        let out = run(&inst, 20.0, &HashMap::new(), 0.0, 1_000_000);
        assert!(out.complete, "a large enough budget ends the search");
    }
}
