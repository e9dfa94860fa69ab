//! The bound and the search against brute force on tiny instances.
use super::*;
use crate::matching::random::{self, Spec};
use crate::matching::Instance;

fn goodput(inst: &Instance) -> impl Fn(usize, usize) -> f64 + '_ {
    |q, c| inst.goodput(q, c)
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
