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

/// The result of minimizing the bound over the multipliers.
pub(super) struct Dual {
    /// The least bound seen.
    pub bound: f64,
    /// The multipliers that gave it.
    pub mu: Vec<f64>,
    /// The best known profit at the end (`lower`, raised by `visit`).
    pub lower: f64,
}

/// Minimize the bound over `μ ≥ 0`, from `mu`, for the queries marked `open` against the
/// local capacities `cap`, by at most `steps` projected subgradient steps with Polyak's
/// step size toward `lower` (the profit of a known assignment), stopping once
/// `bound < lower + granule` or the knapsack nodes in `work` are spent. `visit` sees every step's chosen plans (for a primal
/// heuristic) and may return a better known profit, which raises `lower`.
#[allow(clippy::too_many_arguments)]
pub(super) fn minimize(
    relax: &Relaxation,
    open: &[bool],
    cap: &[f64],
    mu: Vec<f64>,
    mut lower: f64,
    granule: f64,
    steps: usize,
    work: &mut usize,
    mut visit: impl FnMut(&[usize]) -> Option<f64>,
) -> Dual {
    let n = relax.queries.len();
    let mut mu = mu;
    let mut best = Dual {
        bound: f64::INFINITY,
        mu: mu.clone(),
        lower,
    };
    let mut theta = 1.0;
    let mut idle = 0;
    let mut count = vec![0usize; n];
    let mut warm = Vec::new();
    for _ in 0..steps {
        let eval = relax.evaluate(&mu, open, cap, Some(&mut warm));
        *work = work.saturating_sub(eval.nodes);
        if let Some(l) = visit(&eval.chosen) {
            lower = lower.max(l);
        }
        if eval.bound < best.bound - 1e-9 {
            best.bound = eval.bound;
            best.mu.clone_from(&mu);
            idle = 0;
        } else {
            idle += 1;
            if idle >= 4 {
                theta *= 0.5;
                idle = 0;
            }
        }
        if best.bound < lower + granule - 1e-6 || *work == 0 {
            break;
        }
        count.iter_mut().for_each(|c| *c = 0);
        for &i in &eval.chosen {
            count[relax.plans[i].k] += 1;
        }
        // ∂ bound / ∂ μ_k = 1 − (plans k got), projected onto μ ≥ 0.
        let grad: Vec<f64> = (0..n)
            .map(|k| {
                let g = if open[k] { 1.0 - count[k] as f64 } else { 0.0 };
                if mu[k] <= 0.0 && g > 0.0 {
                    0.0
                } else {
                    g
                }
            })
            .collect();
        let norm: f64 = grad.iter().map(|g| g * g).sum();
        if norm == 0.0 {
            break;
        }
        let step = theta * (eval.bound - lower).max(1e-3) / norm;
        for k in 0..n {
            mu[k] = (mu[k] - step * grad[k]).max(0.0);
        }
    }
    best.lower = lower;
    best
}

/// Depth-first search for an assignment of the relaxation's queries worth at least
/// `target` against the local capacities `cap` (left as they were), pruning every node
/// whose bound at the fixed multipliers `mu` falls short, until the knapsack nodes in
/// `work` are spent. Queries
/// go most contested (highest multiplier) first, each trying the plan the relaxation gave
/// it first, then the others by profit, then none. Returns the plans found and whether the
/// search ended within its budget (without a find, a proof that `target` is out of reach).
pub(super) fn search(
    relax: &Relaxation,
    mu: &[f64],
    cap: &mut [f64],
    target: f64,
    work: &mut usize,
) -> (Option<Vec<usize>>, bool) {
    struct Dfs<'a> {
        relax: &'a Relaxation,
        mu: &'a [f64],
        order: Vec<usize>,
        open: Vec<bool>,
        path: Vec<usize>,
        target: f64,
        work: &'a mut usize,
    }
    /// What a subtree gave.
    enum Found {
        Yes,
        No,
        OutOfBudget,
    }
    impl Dfs<'_> {
        fn go(&mut self, depth: usize, value: f64, cap: &mut [f64]) -> Found {
            if value >= self.target - 1e-9 {
                return Found::Yes;
            }
            if depth == self.order.len() {
                return Found::No;
            }
            if *self.work == 0 {
                return Found::OutOfBudget;
            }
            let eval = self.relax.evaluate(self.mu, &self.open, cap, None);
            *self.work = self.work.saturating_sub(eval.nodes.max(1));
            if value + eval.bound < self.target - 1e-6 {
                return Found::No;
            }
            let k = self.order[depth];
            let mut plans = self.relax.of_query[k].clone();
            if let Some(p) = plans.iter().position(|i| eval.chosen.contains(i)) {
                let first = plans.remove(p);
                plans.insert(0, first);
            }
            self.open[k] = false;
            let mut out = Found::No;
            for i in plans {
                if !self.relax.fits(cap, i) {
                    continue;
                }
                self.relax.take(cap, i, 1.0);
                self.path.push(i);
                let below = self.go(depth + 1, value + self.relax.plans[i].profit, cap);
                self.relax.take(cap, i, -1.0);
                match below {
                    Found::Yes => return Found::Yes,
                    Found::No => {}
                    Found::OutOfBudget => out = Found::OutOfBudget,
                }
                self.path.pop();
                if matches!(out, Found::OutOfBudget) {
                    break;
                }
            }
            if matches!(out, Found::No) {
                out = self.go(depth + 1, value, cap);
            }
            self.open[k] = true;
            out
        }
    }
    let n = relax.queries.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| mu[b].total_cmp(&mu[a]).then(a.cmp(&b)));
    let mut dfs = Dfs {
        relax,
        mu,
        order,
        open: vec![true; n],
        path: Vec::new(),
        target,
        work,
    };
    match dfs.go(0, 0.0, cap) {
        Found::Yes => (Some(dfs.path), true),
        Found::No => (None, true),
        Found::OutOfBudget => (None, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::random::{self, Spec};

    fn goodput(inst: &Instance) -> impl Fn(usize, usize) -> f64 + '_ {
        |q, c| {
            let query = &inst.queries[q];
            if query.candidates[c].meets_slo {
                query.weight
            } else {
                0.0
            }
        }
    }

    /// The most goodput any feasible assignment serves (every combination).
    fn brute(inst: &Instance) -> f64 {
        let k: Vec<usize> = inst
            .queries
            .iter()
            .map(|q| q.candidates.len() + 1)
            .collect();
        let g = goodput(inst);
        let mut best: f64 = 0.0;
        for mut code in 0..k.iter().product::<usize>() {
            let mut residual: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
            let (mut value, mut fits) = (0.0, true);
            for (q, kk) in k.iter().enumerate() {
                let d = code % kk;
                code /= kk;
                if d > 0 {
                    inst.take(&mut residual, q, d - 1, 1.0);
                    value += g(q, d - 1);
                }
            }
            fits &= residual.iter().all(|&r| r >= -1e-9);
            if fits {
                best = best.max(value);
            }
        }
        best
    }

    fn tiny(seed: u64) -> Instance {
        let mut spec = Spec::new(seed, 6, 2, 2.0);
        spec.candidates = 3;
        random::instance(&spec)
    }

    #[test]
    fn the_bound_holds_at_any_multipliers_and_after_minimizing() {
        for seed in 0..30 {
            let inst = tiny(seed);
            let group: Vec<usize> = (0..inst.queries.len()).collect();
            let Some(relax) = Relaxation::new(&inst, &group, goodput(&inst)) else {
                panic!("seed {seed}: tiny blocks");
            };
            let full: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
            let cap = relax.capacities(&full);
            let open = vec![true; relax.queries.len()];
            let best = brute(&inst);
            for m in [0.0, 0.4, 1.0, 2.5] {
                let mu: Vec<f64> = (0..relax.queries.len())
                    .map(|k| m * (1 + k % 3) as f64 / 2.0)
                    .collect();
                let bound = relax.evaluate(&mu, &open, &cap, None).bound;
                assert!(bound >= best - 1e-9, "seed {seed} μ×{m}: {bound} < {best}");
            }
            let mut work = usize::MAX;
            let mu = vec![0.0; relax.queries.len()];
            let dual = minimize(&relax, &open, &cap, mu, 0.0, 1.0, 50, &mut work, |_| None);
            assert!(
                dual.bound >= best - 1e-9,
                "seed {seed}: {} < {best}",
                dual.bound
            );
        }
    }

    #[test]
    fn the_search_reaches_the_optimum_and_proves_one_more_unit_out_of_reach() {
        for seed in 0..30 {
            let inst = tiny(seed);
            let group: Vec<usize> = (0..inst.queries.len()).collect();
            let g = goodput(&inst);
            let Some(relax) = Relaxation::new(&inst, &group, &g) else {
                panic!("seed {seed}: tiny blocks");
            };
            let full: Vec<f64> = inst.resources.iter().map(|r| r.capacity).collect();
            let mut cap = relax.capacities(&full);
            let open = vec![true; relax.queries.len()];
            let best = brute(&inst);
            let mut work = usize::MAX;
            let mu = vec![0.0; relax.queries.len()];
            let dual = minimize(&relax, &open, &cap, mu, 0.0, 1.0, 20, &mut work, |_| None);
            let (found, complete) = search(&relax, &dual.mu, &mut cap, best, &mut work);
            assert!(complete, "seed {seed}");
            let plans = found.unwrap_or_default();
            let mut residual = full.clone();
            let mut value = 0.0;
            for &i in &plans {
                let plan = &relax.plans[i];
                inst.take(&mut residual, relax.queries[plan.k], plan.c, 1.0);
                value += plan.profit;
            }
            assert!(value >= best - 1e-9, "seed {seed}: found {value} < {best}");
            assert!(
                residual.iter().all(|&r| r >= -1e-9),
                "seed {seed}: overloaded"
            );
            let before = relax.capacities(&full);
            assert!(
                cap.iter().zip(&before).all(|(a, b)| (a - b).abs() < 1e-9),
                "the search leaves capacities as they were"
            );
            let (more, complete) = search(&relax, &dual.mu, &mut cap, best + 1.0, &mut work);
            assert!(
                more.is_none() && complete,
                "seed {seed}: beyond the optimum"
            );
        }
    }
}
