//! The online matcher's epoch at the dataflow's shape: one resource pool (every query can
//! use every machine, as the cloud is shared), 10,000 queries on 1,000 machines at load
//! 1.5 and 3, the previous epoch's plans in force and 5% of the queries new. A full solve
//! (`greedy::solve`) against the incremental repair (`repair::repair`) that the planner runs
//! between full solves, side by side in one run; and the full solve with the offline
//! defaults (`Options::default`), with and without the Lagrangian step.
//!
//!     cargo bench -p compass-planners --bench repair

use std::hint::black_box;

use compass_planners::matching::greedy::{self, Options};
use compass_planners::matching::random::{self, Spec};
use compass_planners::matching::repair::repair;
use compass_planners::matching::Instance;
use compass_planners::online::expand::MatchSettings;
use criterion::{criterion_group, criterion_main, Criterion};

/// The next epoch after a full solve: every twentieth query replaced by a newcomer.
fn next_epoch(load: f64) -> Instance {
    let mut spec = Spec::new(7, 10_000, 1_000, load);
    spec.machines_per_pool = 1_000;
    let mut inst = random::instance(&spec);
    let first = greedy::solve(&inst, &Options::default());
    for (q, query) in inst.queries.iter_mut().enumerate() {
        query.current = if q % 20 == 0 { None } else { first.choice[q] };
    }
    inst
}

fn bench(c: &mut Criterion) {
    // The online path's options.
    let opts = MatchSettings::default().options;
    for load in [1.5, 3.0] {
        let inst = next_epoch(load);
        let full = inst.score(&greedy::solve(&inst, &opts));
        let fixed = inst.score(&repair(&inst, &opts));
        eprintln!(
            "load {load}: goodput full solve {} (churn {}), repair {} (churn {})",
            full.goodput, full.churn, fixed.goodput, fixed.churn
        );
        let mut g = c.benchmark_group(format!("epoch_10k_queries_one_pool_load_{load}"));
        g.sample_size(10);
        g.bench_function("full_solve", |b| {
            b.iter(|| greedy::solve(black_box(&inst), &opts))
        });
        g.bench_function("repair", |b| b.iter(|| repair(black_box(&inst), &opts)));
        // The offline defaults add the Lagrangian step, which must leave a pool this large
        // alone (its share of the budget buys too few evaluations of the bound).
        let offline = Options::default();
        g.bench_function("full_solve_offline_defaults", |b| {
            b.iter(|| greedy::solve(black_box(&inst), &offline))
        });
        let without = Options {
            certify_budget: 0,
            ..Options::default()
        };
        g.bench_function("full_solve_offline_defaults_without_the_step", |b| {
            b.iter(|| greedy::solve(black_box(&inst), &without))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
