//! An exact, budgeted knapsack over a few items with several capacity dimensions and at most
//! one item per query: the subproblem of one machine in the matcher's Lagrangian bound (see
//! `lagrange`).
//!
//! Why exact: relaxing only "one plan per query" leaves each machine a small knapsack whose
//! integer optimum is far tighter than its LP (on the 20-query instances of BENCHMARKS.md the
//! LP bound is 3–4 goodput units above the optimum, the Lagrangian bound with exact
//! knapsacks within 0.06). The items are few (the candidates on one machine whose reduced
//! profit is positive), so a depth-first search whose bound is the smallest of the
//! per-dimension fractional knapsacks ends in a few hundred nodes; a node budget caps the
//! rare search that would not, and then the answer is the root's fractional bound, still
//! an upper bound. Deterministic: counted nodes, no clock.

/// The items of one search, in flat arrays: item `i` serves query `query[i]` (items of one
/// query exclude each other), adds `profit[i]` and uses `uses[i * dims + d]` of dimension `d`.
#[derive(Debug, Clone, Default)]
pub(super) struct Items {
    pub dims: usize,
    pub query: Vec<usize>,
    pub profit: Vec<f64>,
    pub uses: Vec<f64>,
}

impl Items {
    pub fn clear(&mut self, dims: usize) {
        self.dims = dims;
        self.query.clear();
        self.profit.clear();
        self.uses.clear();
    }

    pub fn push(&mut self, query: usize, profit: f64, uses: &[f64]) {
        self.query.push(query);
        self.profit.push(profit);
        self.uses.extend_from_slice(uses);
    }

    pub fn len(&self) -> usize {
        self.profit.len()
    }

    fn uses(&self, i: usize) -> &[f64] {
        &self.uses[i * self.dims..(i + 1) * self.dims]
    }
}

/// What a search found.
#[derive(Debug, Clone)]
pub(super) struct Packing {
    /// The best packing found: indices into the items.
    pub chosen: Vec<usize>,
    /// An upper bound on every packing's profit: the chosen packing's when the search
    /// ended.
    pub bound: f64,
    /// Nodes visited.
    pub nodes: usize,
}

struct Search<'a> {
    items: &'a Items,
    /// Items in branching order: decreasing profit per unit of the surrogate dimension.
    order: Vec<usize>,
    /// Per dimension, the items in decreasing profit per unit used. (The surrogate
    /// dimension — the sum of the dimensions, each relative to its capacity — orders the
    /// items as the branching does.)
    by_dim: Vec<Vec<usize>>,
    /// Each item's use of the surrogate dimension.
    surrogate: Vec<f64>,
    /// Capacity of each dimension at the root (the surrogate's weights).
    full: Vec<f64>,
    /// Branching position of each item.
    rank: Vec<usize>,
    cap: Vec<f64>,
    /// Queries served on the current path.
    taken: Vec<bool>,
    path: Vec<usize>,
    best: f64,
    best_chosen: Vec<usize>,
    nodes: usize,
    budget: usize,
}

/// The most profitable packing of `items` (profits > 0) into `cap`, at most one item per
/// query (queries are numbered below `queries`), visiting at most `budget` nodes. `start`,
/// a packing known to fit (item indices), is the incumbent to beat.
pub(super) fn solve(
    items: &Items,
    cap: &[f64],
    queries: usize,
    budget: usize,
    start: &[usize],
) -> Packing {
    let dims = cap.len();
    let n = items.len();
    let surrogate: Vec<f64> = (0..n)
        .map(|i| {
            items
                .uses(i)
                .iter()
                .zip(cap)
                .map(|(u, c)| u / c.max(1e-12))
                .sum::<f64>()
        })
        .collect();
    // Sorted by a precomputed key, decreasing, ties by index.
    let sorted = |key: &dyn Fn(usize) -> f64| -> Vec<usize> {
        let mut keyed: Vec<(f64, usize)> = (0..n).map(|i| (key(i), i)).collect();
        keyed.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        keyed.into_iter().map(|(_, i)| i).collect()
    };
    let order = sorted(&|i| items.profit[i] / surrogate[i].max(1e-12));
    let mut rank = vec![0; n];
    for (pos, &i) in order.iter().enumerate() {
        rank[i] = pos;
    }
    let by_dim: Vec<Vec<usize>> = (0..dims)
        .map(|d| sorted(&|i| items.profit[i] / items.uses(i)[d].max(1e-12)))
        .collect();
    let mut s = Search {
        items,
        order,
        by_dim,
        surrogate,
        full: cap.to_vec(),
        rank,
        cap: cap.to_vec(),
        taken: vec![false; queries],
        path: Vec::new(),
        best: start.iter().map(|&i| items.profit[i]).sum(),
        best_chosen: start.to_vec(),
        nodes: 0,
        budget,
    };
    let complete = s.dfs(0, 0.0);
    // The search leaves the capacities and the served queries as at the root, so the root's
    // fractional bound is computed only where it is needed: when the budget cut the search.
    Packing {
        bound: if complete {
            s.best
        } else {
            s.fractional(0).max(s.best)
        },
        nodes: s.nodes,
        chosen: s.best_chosen,
    }
}

impl Search<'_> {
    fn fits(&self, i: usize) -> bool {
        self.items
            .uses(i)
            .iter()
            .zip(&self.cap)
            .all(|(u, c)| *u <= c + 1e-9)
    }

    /// The fractional knapsack over dimension `d` (or, for `d` = dims, the surrogate) of the
    /// items from branching position `pos` on that still fit alone and serve a query not yet
    /// served; it stops, returning a value above `enough`, once it passes `enough`.
    fn fractional_in(&self, d: usize, pos: usize, enough: f64) -> f64 {
        let dims = self.cap.len();
        // The branching order is the surrogate's: its undecided items are a suffix.
        let (list, mut room) = if d < dims {
            (&self.by_dim[d][..], self.cap[d])
        } else {
            let room = self
                .cap
                .iter()
                .zip(&self.full)
                .map(|(c, f)| c / f.max(1e-12))
                .sum();
            (&self.order[pos..], room)
        };
        let mut sum = 0.0;
        for &i in list {
            if self.rank[i] < pos || self.taken[self.items.query[i]] || !self.fits(i) {
                continue;
            }
            let u = if d < dims {
                self.items.uses(i)[d]
            } else {
                self.surrogate[i]
            };
            let p = self.items.profit[i];
            if u <= room {
                sum += p;
                room -= u;
                if sum > enough {
                    return sum;
                }
            } else {
                return sum + p * room / u;
            }
        }
        sum
    }

    /// The bounds to try: the surrogate first (its list is the cheapest to walk), then each
    /// dimension; with one dimension the surrogate is that dimension.
    fn bounds(&self) -> impl Iterator<Item = usize> {
        let dims = self.cap.len();
        let surrogate = if dims > 1 { Some(dims) } else { None };
        surrogate.into_iter().chain(0..dims)
    }

    /// The smallest of the fractional bounds (each valid, so their minimum is).
    fn fractional(&self, pos: usize) -> f64 {
        self.bounds()
            .map(|d| self.fractional_in(d, pos, f64::INFINITY))
            .fold(f64::INFINITY, f64::min)
    }

    /// Whether some fractional bound shows that nothing from position `pos` on adds more
    /// than `enough`.
    fn prunes(&self, pos: usize, enough: f64) -> bool {
        self.bounds()
            .any(|d| self.fractional_in(d, pos, enough) <= enough)
    }

    /// Returns false when the budget ran out below this node.
    fn dfs(&mut self, pos: usize, value: f64) -> bool {
        self.nodes += 1;
        if value > self.best + 1e-12 {
            self.best = value;
            self.best_chosen.clone_from(&self.path);
        }
        let enough = self.best + 1e-12 - value;
        if pos == self.order.len() || self.prunes(pos, enough) {
            return true;
        }
        if self.nodes >= self.budget {
            return false;
        }
        let i = self.order[pos];
        let q = self.items.query[i];
        if !self.taken[q] && self.fits(i) {
            let dims = self.cap.len();
            for d in 0..dims {
                self.cap[d] -= self.items.uses[i * dims + d];
            }
            self.taken[q] = true;
            self.path.push(i);
            let done = self.dfs(pos + 1, value + self.items.profit[i]);
            self.path.pop();
            self.taken[q] = false;
            for d in 0..dims {
                self.cap[d] += self.items.uses[i * dims + d];
            }
            if !done {
                return false;
            }
        }
        self.dfs(pos + 1, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subset, checked by brute force.
    fn brute(items: &Items, cap: &[f64]) -> f64 {
        let mut best: f64 = 0.0;
        for mask in 0u32..(1 << items.len()) {
            let chosen: Vec<usize> = (0..items.len()).filter(|i| mask & (1 << i) != 0).collect();
            let mut queries: Vec<usize> = chosen.iter().map(|&i| items.query[i]).collect();
            queries.sort_unstable();
            queries.dedup();
            let fits = (0..cap.len())
                .all(|d| chosen.iter().map(|&i| items.uses(i)[d]).sum::<f64>() <= cap[d] + 1e-9);
            if queries.len() == chosen.len() && fits {
                best = best.max(chosen.iter().map(|&i| items.profit[i]).sum());
            }
        }
        best
    }

    #[test]
    fn two_dimensions_and_one_item_per_query_match_brute_force() {
        // Pseudo-random small instances (a fixed linear congruential sequence).
        let mut x: u64 = 12345;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as f64 / (1u64 << 31) as f64
        };
        for _ in 0..200 {
            let n = 1 + (next() * 11.0) as usize;
            let mut items = Items::default();
            items.clear(2);
            for _ in 0..n {
                let q = (next() * 5.0) as usize;
                let p = 1.0 + (next() * 3.0).floor();
                items.push(q, p, &[next(), next()]);
            }
            let cap = [0.3 + next() * 1.5, 0.3 + next() * 1.5];
            let total = |p: &Packing| p.chosen.iter().map(|&i| items.profit[i]).sum::<f64>();
            let p = solve(&items, &cap, 5, 1_000_000, &[]);
            let want = brute(&items, &cap);
            assert!((total(&p) - want).abs() < 1e-9, "{} vs {want}", total(&p));
            assert!((p.bound - want).abs() < 1e-9);
            // Started from its own answer, the search confirms it.
            let again = solve(&items, &cap, 5, 1_000_000, &p.chosen);
            assert!((total(&again) - want).abs() < 1e-9);
        }
    }

    #[test]
    fn a_spent_budget_still_gives_an_upper_bound() {
        let mut items = Items::default();
        items.clear(2);
        for i in 0..24 {
            items.push(i, 1.0 + (i % 5) as f64, &[0.1 + (i % 7) as f64 * 0.05, 0.2]);
        }
        let full = solve(&items, &[1.3, 1.5], 24, 10_000_000, &[]);
        let cut = solve(&items, &[1.3, 1.5], 24, 5, &[]);
        let total = |p: &Packing| p.chosen.iter().map(|&i| items.profit[i]).sum::<f64>();
        assert!(total(&cut) <= full.bound + 1e-9 && cut.bound >= full.bound - 1e-9);
    }
}
