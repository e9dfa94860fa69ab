//! The Lagrangian relaxation of one component's goodput that drops "one plan per query":
//! an upper bound that proves most small components' assignments optimal, and the plans it
//! suggests where it does not.
//!
//! Why: the resource-price bound of `exact` (the LP's dual) sits 3–4 goodput units above
//! the optimum on the tight 20-query instances of BENCHMARKS.md, too loose to prune a
//! search that must move nine queries at once. Relaxing the other constraint instead —
//! each query's multiplier `μ_q ≥ 0` is charged for every plan it gets — leaves one small
//! knapsack per block of resources (a machine's memory and compute), solved exactly (see
//! `knapsack`): `Σ_q μ_q + Σ_b knapsack_b(goodput − μ)` is within 0.06 of the optimum
//! there. Minimizing it over `μ` by subgradient steps also hands out, at every step, one
//! packing per machine in which some queries appear twice and some not at all; keeping each
//! query's first plan and refilling greedily is the classic Lagrangian heuristic, and it
//! finds plans the local moves cannot reach.
//!
//! Blocks are the groups of resources that candidates use together (union-find over each
//! candidate's resources): a machine in `matching::random`. Where candidates span many
//! machines (a shared link), blocks merge and the knapsacks grow; a block with more than
//! [`MAX_BLOCK_ITEMS`] worthwhile candidates turns the relaxation off for the component.
//! Deterministic: fixed steps, counted knapsack nodes, no clock.

use std::collections::HashMap;

use super::knapsack::{self, Items};
use super::Instance;

/// Most candidates a block may hold for the relaxation to be used.
pub(super) const MAX_BLOCK_ITEMS: usize = 64;

/// Node budget of one block's knapsack per evaluation.
const KNAPSACK_NODES: usize = 4_000;

/// One candidate of positive profit.
pub(super) struct Plan {
    /// Local query.
    pub k: usize,
    /// Candidate index of the query.
    pub c: usize,
    pub profit: f64,
    block: usize,
    /// Amounts used, by position in the block's resources.
    uses: Vec<f64>,
}

struct Block {
    /// Local resource indices.
    resources: Vec<usize>,
    /// Indices into the plans.
    plans: Vec<usize>,
}

/// The relaxation of one component.
pub(super) struct Relaxation {
    /// The component's queries with a candidate of positive profit; local index = position.
    pub queries: Vec<usize>,
    /// Global index of each local resource.
    pub resources: Vec<usize>,
    pub plans: Vec<Plan>,
    /// Each local query's plans, most profitable first.
    pub of_query: Vec<Vec<usize>>,
    blocks: Vec<Block>,
}

/// One evaluation at some multipliers.
pub(super) struct Evaluation {
    /// The Lagrangian bound on the open queries' profit.
    pub bound: f64,
    /// The plans the blocks chose (indices into the plans), block by block.
    pub chosen: Vec<usize>,
    /// Knapsack nodes visited (the work done).
    pub nodes: usize,
}

/// Union-find root of `x` (absent: its own root), halving the path.
fn find(parent: &mut HashMap<usize, usize>, mut x: usize) -> usize {
    while let Some(&up) = parent.get(&x) {
        if up == x {
            break;
        }
        let grand = parent.get(&up).copied().unwrap_or(up);
        parent.insert(x, grand);
        x = up;
    }
    x
}

impl Relaxation {
    /// The relaxation of `group` for `profit` (candidates of profit ≤ 0 are left out), or
    /// `None` when a block would hold more than [`MAX_BLOCK_ITEMS`] candidates.
    pub fn new(
        inst: &Instance,
        group: &[usize],
        profit: impl Fn(usize, usize) -> f64,
    ) -> Option<Self> {
        let mut queries = Vec::new();
        let mut pairs = Vec::new();
        for &q in group {
            let k = queries.len();
            for c in 0..inst.queries[q].candidates.len() {
                let p = profit(q, c);
                if p > 0.0 {
                    pairs.push((k, q, c, p));
                }
            }
            if pairs.last().is_some_and(|p| p.0 == k) {
                queries.push(q);
            }
        }
        // Local resources, and blocks: union-find over the resources each candidate uses
        // together.
        let mut local: HashMap<u32, usize> = HashMap::new();
        let mut resources = Vec::new();
        let mut parent: HashMap<usize, usize> = HashMap::new();
        for &(_, q, c, _) in &pairs {
            let mut first = None;
            for &(r, _) in &inst.queries[q].candidates[c].uses {
                let l = *local.entry(r).or_insert_with(|| {
                    resources.push(r as usize);
                    resources.len() - 1
                });
                let root = find(&mut parent, l);
                match first {
                    None => first = Some(root),
                    Some(f) if f != root => {
                        parent.insert(root, f);
                    }
                    _ => {}
                }
            }
        }
        let mut index: HashMap<usize, usize> = HashMap::new();
        let mut blocks: Vec<Block> = Vec::new();
        let mut plans = Vec::with_capacity(pairs.len());
        let mut of_query = vec![Vec::new(); queries.len()];
        for &(k, q, c, p) in &pairs {
            let uses = &inst.queries[q].candidates[c].uses;
            let b = match uses.first() {
                Some(&(r, _)) => {
                    let root = find(&mut parent, local[&r]);
                    *index.entry(root).or_insert_with(|| {
                        blocks.push(Block {
                            resources: Vec::new(),
                            plans: Vec::new(),
                        });
                        blocks.len() - 1
                    })
                }
                // Uses nothing: a block of its own without dimensions.
                None => {
                    blocks.push(Block {
                        resources: Vec::new(),
                        plans: Vec::new(),
                    });
                    blocks.len() - 1
                }
            };
            let block = &mut blocks[b];
            let mut amounts = vec![0.0; block.resources.len()];
            for &(r, a) in uses {
                let l = local[&r];
                match block.resources.iter().position(|&x| x == l) {
                    Some(i) => amounts[i] += a,
                    None => {
                        block.resources.push(l);
                        for &other in &block.plans {
                            let plan: &mut Plan = &mut plans[other];
                            plan.uses.push(0.0);
                        }
                        amounts.push(a);
                    }
                }
            }
            block.plans.push(plans.len());
            of_query[k].push(plans.len());
            plans.push(Plan {
                k,
                c,
                profit: p,
                block: b,
                uses: amounts,
            });
        }
        if blocks.iter().any(|b| b.plans.len() > MAX_BLOCK_ITEMS) {
            return None;
        }
        for list in &mut of_query {
            list.sort_by(|&a, &b| plans[b].profit.total_cmp(&plans[a].profit).then(a.cmp(&b)));
        }
        Some(Relaxation {
            queries,
            resources,
            plans,
            of_query,
            blocks,
        })
    }

    /// The local capacities read from `residual` (indexed by global resource).
    pub fn capacities(&self, residual: &[f64]) -> Vec<f64> {
        self.resources.iter().map(|&r| residual[r]).collect()
    }

    /// Whether plan `i` fits in the local capacities `cap`.
    pub fn fits(&self, cap: &[f64], i: usize) -> bool {
        let plan = &self.plans[i];
        let block = &self.blocks[plan.block];
        block
            .resources
            .iter()
            .zip(&plan.uses)
            .all(|(&r, u)| *u <= cap[r] + 1e-9)
    }

    /// Take (`sign` = 1) or give back (−1) what plan `i` uses of the local capacities.
    pub fn take(&self, cap: &mut [f64], i: usize, sign: f64) {
        let plan = &self.plans[i];
        for (&r, u) in self.blocks[plan.block].resources.iter().zip(&plan.uses) {
            cap[r] -= sign * u;
        }
    }

    /// The bound at multipliers `mu` (by local query) for the queries marked `open`, against
    /// the local capacities `cap`. `warm`, when given, holds each block's last packing
    /// (plan indices) against the same capacities: it starts the block's search and is
    /// replaced by the new packing.
    pub fn evaluate(
        &self,
        mu: &[f64],
        open: &[bool],
        cap: &[f64],
        mut warm: Option<&mut Vec<Vec<usize>>>,
    ) -> Evaluation {
        let mut bound: f64 = (0..self.queries.len())
            .filter(|&k| open[k])
            .map(|k| mu[k])
            .sum();
        let mut chosen = Vec::new();
        let mut nodes = 0;
        let mut items = Items::default();
        let mut which: Vec<usize> = Vec::new();
        let mut start: Vec<usize> = Vec::new();
        if let Some(w) = warm.as_deref_mut() {
            w.resize(self.blocks.len(), Vec::new());
        }
        for (b, block) in self.blocks.iter().enumerate() {
            let room: Vec<f64> = block.resources.iter().map(|&r| cap[r]).collect();
            items.clear(room.len());
            which.clear();
            for &i in &block.plans {
                let plan = &self.plans[i];
                let reduced = plan.profit - mu[plan.k];
                if open[plan.k] && reduced > 1e-12 && self.fits(cap, i) {
                    items.push(plan.k, reduced, &plan.uses);
                    which.push(i);
                }
            }
            start.clear();
            if let Some(w) = warm.as_deref() {
                start.extend(
                    w[b].iter()
                        .filter_map(|i| which.iter().position(|x| x == i)),
                );
            }
            let packing = if items.len() == 0 {
                knapsack::Packing {
                    chosen: Vec::new(),
                    bound: 0.0,
                    nodes: 0,
                }
            } else {
                knapsack::solve(&items, &room, self.queries.len(), KNAPSACK_NODES, &start)
            };
            bound += packing.bound;
            nodes += packing.nodes;
            chosen.extend(packing.chosen.iter().map(|&j| which[j]));
            if let Some(w) = warm.as_deref_mut() {
                w[b].clear();
                w[b].extend(packing.chosen.iter().map(|&j| which[j]));
            }
        }
        Evaluation {
            bound,
            chosen,
            nodes,
        }
    }
}

mod dual;
mod search;
#[cfg(test)]
mod tests;

pub(super) use dual::minimize;
pub(super) use search::search;
