//! The matcher's Lagrangian step on a contended component: prove its goodput optimal, or
//! find the plans that raise it.
//!
//! Why: after the greedy fills and the local search, the matcher cannot tell an optimal
//! assignment from one a unit short, so it used to spend its large-neighbourhood search on
//! every contended component, and the search still missed optima that move many queries
//! at once. The bound of `lagrange` settles most components in a few steps: when it is
//! below the goodput in hand plus one unit (weights are whole numbers), nothing better
//! exists and the search is skipped. Each step's packings also seed a primal heuristic
//! (keep each query's first plan, refill greedily, local search). Where a gap is left, a
//! depth-first search guided by the multipliers (most contested queries first, the
//! relaxation's plan first) looks for one more unit, pruned by the bound at every node;
//! a search that ends within its budget without finding one is a proof as well.
//!
//! What a proof gives up: the large-neighbourhood search also lowers cost at equal
//! goodput, and a proven component skips it (the assignment kept is the best by the
//! objective that the step saw): on the instances of BENCHMARKS.md where goodput is the same
//! either way, cost moved by −0.9% to +0.7%. Goodput comes first in the objective; the time
//! it saves is what keeps the matcher within 1% of the oracle's time on the instances it
//! proves.
//!
//! Runs only where weights are whole numbers (the bound proves nothing otherwise) and the
//! component's share of the work budget allows; deterministic (counted steps and nodes).

use super::greedy::{fill_goodput, Component, Order, EPS};
use super::lagrange::{minimize, Relaxation};
use super::local::improve;
use super::prices::priced_use;

/// Most subgradient steps per component.
const MAX_STEPS: usize = 30;

/// Searches for one more unit, at most (each success raises the target by one).
const MAX_SEARCHES: usize = 3;

/// A component whose share of the budget is below this many knapsack nodes skips the step:
/// one evaluation of the bound on a component of 100 queries over 10 machines costs about
/// 2,000, and a share that buys only a step or two proves nothing (measured: on the
/// 1,000-query instance of the scale table, ten such components doubled the solve time and
/// changed no plan).
const MIN_WORK: usize = 5_000;

/// A component whose share buys fewer than this many evaluations of the bound (each visits
/// at least about one knapsack node per candidate) skips the step: on one pool of 10,000
/// queries over 1,000 machines the share bought less than one, and building the relaxation
/// and one heuristic pass over every query made the solve 5× slower for nothing (measured:
/// 335 vs 68 ms at load 1.5).
const MIN_EVALUATIONS: usize = 8;

/// Improve the component's assignment in `choice` / `residual` (capacities left) as far
/// as the relaxation finds; returns true when its goodput is then proven optimal.
pub(super) fn certify(
    component: Component,
    residual: &mut [f64],
    choice: &mut [Option<u32>],
) -> bool {
    let Component {
        inst,
        group,
        scale,
        opts,
        touched,
        price,
    } = component;
    if !inst.whole_weights(group) {
        return false;
    }
    let mut work = (opts.certify_budget as f64 * group.len() as f64
        / inst.queries.len().max(1) as f64) as usize;
    let pairs: usize = group
        .iter()
        .map(|&q| inst.queries[q].candidates.len())
        .sum();
    if work < MIN_WORK || work < MIN_EVALUATIONS * pairs {
        return false;
    }
    let goodput = |q: usize, c: usize| inst.goodput(q, c);
    let Some(relax) = Relaxation::new(inst, group, goodput) else {
        return false;
    };
    let goodput_of = |choice: &[Option<u32>]| -> f64 {
        group
            .iter()
            .map(|&q| choice[q].map_or(0.0, |c| goodput(q, c as usize)))
            .sum()
    };
    // The bound holds for the whole component only against its free capacities.
    for &q in group {
        if let Some(c) = choice[q] {
            inst.take(residual, q, c as usize, -1.0);
        }
    }
    let free: Vec<f64> = touched.iter().map(|&r| residual[r]).collect();
    let mut cap = relax.capacities(residual);
    let mut best_value = inst.value_of(group, choice, scale);
    let mut best: Vec<Option<u32>> = group.iter().map(|&q| choice[q]).collect();
    let mut lower = goodput_of(choice);
    // Try an assignment that starts from `plans` (relaxation plan indices), keep it if it
    // is better; returns the goodput of the best so far.
    let mut attempt = |plans: &[usize], residual: &mut [f64], choice: &mut [Option<u32>]| {
        for (i, &r) in touched.iter().enumerate() {
            residual[r] = free[i];
        }
        for &q in group {
            choice[q] = None;
        }
        for &i in plans {
            let plan = &relax.plans[i];
            let q = relax.queries[plan.k];
            if choice[q].is_none() && inst.fits(residual, q, plan.c) {
                inst.take(residual, q, plan.c, 1.0);
                choice[q] = Some(plan.c as u32);
            }
        }
        fill_goodput(inst, group, scale, Order::Sum, price, residual, choice);
        for _ in 0..opts.rounds {
            if !improve(inst, group, scale, residual, choice) {
                break;
            }
        }
        let value = inst.value_of(group, choice, scale);
        if value > best_value + EPS {
            best_value = value;
            for (b, &q) in best.iter_mut().zip(group) {
                *b = choice[q];
            }
        }
        group
            .iter()
            .zip(&best)
            .map(|(&q, c)| c.map_or(0.0, |c| goodput(q, c as usize)))
            .sum::<f64>()
    };
    // Start from the resource prices' multipliers: what each query's best plan is worth
    // beyond the priced room it takes (the LP's dual, when the prices are).
    let mu: Vec<f64> = (relax.queries.iter().zip(&relax.of_query))
        .map(|(&q, plans)| {
            plans
                .iter()
                .map(|&i| {
                    let plan = &relax.plans[i];
                    plan.profit - priced_use(inst, price, q, plan.c) / scale
                })
                .fold(0.0, f64::max)
        })
        .collect();
    let open = vec![true; relax.queries.len()];
    let dual = minimize(
        &relax,
        &open,
        &cap,
        mu,
        lower,
        1.0,
        MAX_STEPS,
        &mut work,
        |plans| Some(attempt(plans, residual, choice)),
    );
    lower = dual.lower;
    let mut proven = dual.bound < lower + 1.0 - 1e-6;
    for _ in 0..MAX_SEARCHES {
        if proven {
            break;
        }
        let (found, complete) =
            super::lagrange::search(&relax, &dual.mu, &mut cap, lower + 1.0, &mut work);
        match found {
            Some(plans) => lower = attempt(&plans, residual, choice),
            None => {
                proven = complete;
                break;
            }
        }
    }
    for (i, &r) in touched.iter().enumerate() {
        residual[r] = free[i];
    }
    for (&q, &c) in group.iter().zip(&best) {
        choice[q] = c;
        if let Some(c) = c {
            inst.take(residual, q, c as usize, 1.0);
        }
    }
    proven
}
