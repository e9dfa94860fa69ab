//! The search for one more unit of profit, pruned by the relaxation's bound.

use super::Relaxation;

/// Depth-first search for an assignment of the relaxation's queries worth at least
/// `target` against the local capacities `cap` (left as they were), pruning every node
/// whose bound at the fixed multipliers `mu` falls short, until the knapsack nodes in
/// `work` are spent. Queries go most contested (highest multiplier) first, each trying the
/// plan the relaxation gave it first, then the others by profit, then none. Returns the
/// plans found and whether the search ended within its budget (without a find, a proof that
/// `target` is out of reach).
pub(in crate::matching) fn search(
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
