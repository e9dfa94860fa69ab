//! One step of the constrained Bayesian search at the size: three surrogates (cost,
//! latency, accuracy) over 40 observations of 10 features each; a step adds the newest
//! sample to each surrogate (rank-one update) and scores 1,000 candidates with
//! EI(cost) × P(latency ok) × P(accuracy ok), either predicting each candidate afresh or
//! from a candidate cache that folds in only the new observation. Hyperparameter fitting is measured apart: it
//! runs when a cluster's model is refreshed, not every step.
//!
//!     cargo bench -p compass-planners --bench bo_step

use std::hint::black_box;

use compass_planners::search::acquisition::{constrained_ei, Belief, Constraints};
use compass_planners::search::gp::Gp;
use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const D: usize = 10;

fn data(n: usize, seed: u64) -> (Array2<f64>, [Array1<f64>; 3]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, D), |_| rng.random::<f64>());
    let cost = x
        .rows()
        .into_iter()
        .map(|r| (r[0] + 0.5 * r[1]).ln_1p())
        .collect();
    let latency = x
        .rows()
        .into_iter()
        .map(|r| (1.0 + 3.0 * r[2] - r[0] + 0.3 * (5.0 * r[3]).sin()).ln_1p())
        .collect();
    let accuracy = x
        .rows()
        .into_iter()
        .map(|r| 0.5 * r[0] + 0.2 * r[4] - 0.1 * r[5])
        .collect();
    (x, [cost, latency, accuracy])
}

fn step(c: &mut Criterion) {
    let (x, ys) = data(40, 1);
    let (cands, _) = data(1000, 2);
    let models: Vec<Gp> = ys
        .iter()
        .enumerate()
        .map(|(i, y)| Gp::fit(x.view(), y.view(), 2, i as u64).expect("fit"))
        .collect();
    let (next_x, next_y) = data(1, 3);
    let constraints = Constraints {
        latency_at_most: 1.2,
        accuracy: Some((0.3, true)),
    };

    c.bench_function("bo step: 3 surrogates, 40 obs x 1000 candidates", |b| {
        b.iter_batched(
            || models.clone(),
            |mut ms| {
                for (m, y) in ms.iter_mut().zip(next_y.iter()) {
                    m.add(next_x.row(0), y[0]).expect("add");
                }
                let (cm, cv) = ms[0].predict_many(cands.view());
                let (lm, lv) = ms[1].predict_many(cands.view());
                let (am, av) = ms[2].predict_many(cands.view());
                let mut best = (f64::NEG_INFINITY, 0usize);
                for i in 0..cands.nrows() {
                    let s = constrained_ei(
                        Belief {
                            mean: cm[i],
                            sd: cv[i].sqrt(),
                        },
                        Belief {
                            mean: lm[i],
                            sd: lv[i].sqrt(),
                        },
                        Belief {
                            mean: am[i],
                            sd: av[i].sqrt(),
                        },
                        Some(0.4),
                        &constraints,
                    );
                    if s > best.0 {
                        best = (s, i);
                    }
                }
                black_box(best)
            },
            criterion::BatchSize::SmallInput,
        )
    });

    let caches: Vec<_> = models.iter().map(|m| m.cache(cands.view())).collect();
    c.bench_function(
        "bo step with candidate caches: 3 surrogates, 40 obs x 1000 candidates",
        |b| {
            b.iter_batched(
                || (models.clone(), caches.clone()),
                |(mut ms, mut cs)| {
                    for ((m, cache), y) in ms.iter_mut().zip(cs.iter_mut()).zip(next_y.iter()) {
                        m.add(next_x.row(0), y[0]).expect("add");
                        cache.update(m);
                    }
                    let mut best = (f64::NEG_INFINITY, 0usize);
                    for i in 0..cands.nrows() {
                        let belief = |k: usize| {
                            let (mean, var) = cs[k].mean_var(&ms[k], i);
                            Belief {
                                mean,
                                sd: var.sqrt(),
                            }
                        };
                        let s = constrained_ei(
                            belief(0),
                            belief(1),
                            belief(2),
                            Some(0.4),
                            &constraints,
                        );
                        if s > best.0 {
                            best = (s, i);
                        }
                    }
                    black_box(best)
                },
                criterion::BatchSize::SmallInput,
            )
        },
    );

    c.bench_function("fit hyperparameters: 40 obs, 10 dims, 2 restarts", |b| {
        b.iter(|| Gp::fit(black_box(x.view()), ys[1].view(), 2, 7).expect("fit"))
    });
}

criterion_group!(benches, step);
criterion_main!(benches);
