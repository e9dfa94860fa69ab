//! The fast matcher against the MILP oracle, and at scale.
//!
//!     cargo run --release -p compass-planners --features milp --example matching
//!
//! `MATCHING_SIZES=20x4,50x5`, `MATCHING_SEEDS=10`, `MATCHING_FIRST_SEED=30`,
//! `ORACLE_SECONDS=10` and `MATCHING_QUALITY_ONLY=1` narrow or widen the quality table.
//!
//! Prints markdown tables: quality and time ratio per instance size and load (instances the
//! oracle proves optimal are marked), then time per epoch and churn at scale.

use std::time::Instant;

use compass_planners::matching::baselines;
use compass_planners::matching::greedy::{self, Options};
use compass_planners::matching::milp;
use compass_planners::matching::random::{self, Spec};
use compass_planners::matching::{Instance, Mode};

/// Timed solves of the fast matcher per instance (the median is reported).
const FAST_RUNS: usize = 5;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Instance sizes (queries x machines) of the quality table: `MATCHING_SIZES=20x4,50x5`.
fn sizes() -> Vec<(usize, usize)> {
    let parse = |s: &str| {
        let (q, m) = s.split_once('x')?;
        Some((q.trim().parse().ok()?, m.trim().parse().ok()?))
    };
    std::env::var("MATCHING_SIZES")
        .ok()
        .and_then(|v| v.split(',').map(parse).collect::<Option<Vec<_>>>())
        .unwrap_or_else(|| vec![(20, 4), (50, 5), (100, 10)])
}

/// Seeds per size and load in the quality table: `MATCHING_SEEDS=10` (default 2), from
/// `MATCHING_FIRST_SEED` (default 0).
fn seeds() -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let first = var("MATCHING_FIRST_SEED").unwrap_or(0);
    first..first + var("MATCHING_SEEDS").unwrap_or(2)
}

fn main() {
    let limit_s: f64 = std::env::var("ORACLE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    println!("## Goodput mode: fast matcher vs MILP oracle (CBC, {limit_s} s limit)\n");
    println!("| queries | machines | load | seed | oracle goodput | proven | gap | fast goodput | ratio | ratio without prices | ratio without exact search | ratio without Lagrangian step | Vulcan ratio | VideoStorm ratio | oracle ms | fast ms | fast ms, first solve | time ratio |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let (mut worst_unpriced, mut unpriced_at_target): (f64, usize) = (1.0, 0);
    let (mut worst_uncertified, mut uncertified_at_target): (f64, usize) = (1.0, 0);
    // Cost where the Lagrangian step changes nothing in goodput: what skipping the LNS on a
    // proven component gives up.
    let (mut equal_goodput, mut cost_with, mut cost_without) = (0usize, 0.0f64, 0.0f64);
    let mut worst_proven: f64 = 1.0;
    let (mut proven, mut at_target, mut within_time, mut first_within_time) = (0, 0, 0, 0);
    for (q, m) in sizes() {
        for &load in &[0.8, 1.5, 3.0] {
            for seed in seeds() {
                let inst = random::instance(&Spec::new(seed, q, m, load));
                let t = Instant::now();
                let oracle = milp::solve(&inst, limit_s);
                let oracle_ms = ms(t);
                // The matcher runs every epoch, so its time is the median of five solves of
                // the instance (the same result each time: it is deterministic); the first,
                // cold solve is reported beside it. The oracle's is one solve.
                let mut times = Vec::with_capacity(FAST_RUNS);
                let mut fast_matching = None;
                for _ in 0..FAST_RUNS {
                    let t = Instant::now();
                    let m = greedy::solve(&inst, &Options::default());
                    times.push(ms(t));
                    fast_matching = Some(m);
                }
                let first_ms = times[0];
                times.sort_by(f64::total_cmp);
                let fast_ms = times[FAST_RUNS / 2];
                let fast = inst.score(&fast_matching.unwrap_or_else(|| inst.empty()));
                // The same matcher with one part off.
                let with = |opts: Options| inst.score(&greedy::solve(&inst, &opts));
                let unpriced = with(Options {
                    prices: false,
                    ..Options::default()
                })
                .goodput;
                let unexact = with(Options {
                    exact_budget: 0,
                    ..Options::default()
                })
                .goodput;
                let uncertified = with(Options {
                    certify_budget: 0,
                    ..Options::default()
                });
                if uncertified.goodput == fast.goodput {
                    equal_goodput += 1;
                    cost_with += fast.cost_usd_per_hour;
                    cost_without += uncertified.cost_usd_per_hour;
                }
                let uncertified = uncertified.goodput;
                let vulcan = inst.score(&baselines::vulcan(&inst)).goodput;
                let videostorm = inst.score(&baselines::videostorm(&inst)).goodput;
                match oracle {
                    Ok(o) => {
                        let og = inst.score(&o.matching).goodput;
                        let ratio = if og > 0.0 { fast.goodput / og } else { 1.0 };
                        if o.proven_optimal {
                            worst_proven = worst_proven.min(ratio);
                            proven += 1;
                            at_target += usize::from(ratio >= 0.98);
                            within_time += usize::from(fast_ms <= 0.01 * oracle_ms);
                            first_within_time += usize::from(first_ms <= 0.01 * oracle_ms);
                            let r = if og > 0.0 { unpriced / og } else { 1.0 };
                            worst_unpriced = worst_unpriced.min(r);
                            unpriced_at_target += usize::from(r >= 0.98);
                            let r = if og > 0.0 { uncertified / og } else { 1.0 };
                            worst_uncertified = worst_uncertified.min(r);
                            uncertified_at_target += usize::from(r >= 0.98);
                        }
                        let rel = |g: f64| if og > 0.0 { g / og } else { 1.0 };
                        println!(
                            "| {q} | {m} | {load} | {seed} | {og} | {} | {:.4} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {oracle_ms:.1} | {fast_ms:.3} | {first_ms:.3} | {:.5} |",
                            if o.proven_optimal { "yes" } else { "no" },
                            o.gap,
                            fast.goodput,
                            ratio,
                            rel(unpriced),
                            rel(unexact),
                            rel(uncertified),
                            rel(vulcan),
                            rel(videostorm),
                            fast_ms / oracle_ms
                        );
                    }
                    Err(e) => println!("| {q} | {m} | {load} | {seed} | oracle failed: {e} | | | {} | | | | | | | {oracle_ms:.1} | {fast_ms:.3} | {first_ms:.3} | |", fast.goodput),
                }
            }
        }
    }
    println!("\nworst goodput ratio on instances the oracle proved optimal: {worst_proven:.3}");
    println!("proven instances: {proven}; ratio >= 0.98 on {at_target} (without prices: {unpriced_at_target}, worst {worst_unpriced:.3}; without the Lagrangian step: {uncertified_at_target}, worst {worst_uncertified:.3}); fast time <= 1% of the oracle's on {within_time} (first solve: {first_within_time})\n");
    println!("instances where the Lagrangian step leaves goodput as it was: {equal_goodput}; their cost {cost_with:.3} $/h with it, {cost_without:.3} $/h without ({:+.2}%)\n", (cost_with / cost_without.max(1e-12) - 1.0) * 100.0);
    if std::env::var("MATCHING_QUALITY_ONLY").is_ok() {
        return;
    }

    println!("## Cost mode: serve every query (load 0.7)\n");
    println!("| queries | machines | seed | oracle cost $/h | fast cost $/h | fast/oracle | fast serves all |");
    println!("|---|---|---|---|---|---|---|");
    for &(q, m) in &[(20usize, 4usize), (50, 5)] {
        for seed in 0..2u64 {
            let mut spec = Spec::new(seed, q, m, 0.7);
            spec.mode = Mode::Cost;
            let inst = random::instance(&spec);
            let fast = inst.score(&greedy::solve(&inst, &Options::default()));
            match milp::solve(&inst, limit_s) {
                Ok(o) => {
                    let oc = inst.score(&o.matching).cost_usd_per_hour;
                    println!(
                        "| {q} | {m} | {seed} | {oc:.3} | {:.3} | {:.3} | {} |",
                        fast.cost_usd_per_hour,
                        fast.cost_usd_per_hour / oc,
                        fast.served == q
                    );
                }
                Err(e) => println!(
                    "| {q} | {m} | {seed} | {e} | {:.3} | | {} |",
                    fast.cost_usd_per_hour,
                    fast.served == q
                ),
            }
        }
    }

    println!("\n## Scale: time per epoch and churn\n");
    println!("| queries | machines | generate ms | solve ms (1 thread) | solve ms (2 threads) | next epoch: warm ms | churn warm | churn from scratch |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut csv = String::from(
        "queries,machines,solve_ms_1_thread,solve_ms_2_threads,warm_ms,churn_warm,churn_scratch\n",
    );
    for &(q, m) in &[
        (1_000usize, 100usize),
        (3_000, 300),
        (10_000, 1_000),
        (30_000, 3_000),
        (100_000, 10_000),
    ] {
        let t = Instant::now();
        let inst = random::instance(&Spec::new(7, q, m, 1.5));
        let gen_ms = ms(t);
        let t = Instant::now();
        let first = greedy::solve(&inst, &Options::default());
        let one = ms(t);
        let t = Instant::now();
        let _ = greedy::solve(
            &inst,
            &Options {
                threads: 2,
                ..Options::default()
            },
        );
        let two = ms(t);
        // Next epoch: 5% of the queries leave and 5% arrive; everyone else has a current plan.
        let next = next_epoch(&inst, &first.choice, 0.05);
        let t = Instant::now();
        let warm = greedy::solve(&next, &Options::default());
        let warm_ms = ms(t);
        let cold = greedy::solve(
            &next,
            &Options {
                warm_start: false,
                ..Options::default()
            },
        );
        let (cw, cs) = (next.score(&warm).churn, next.score(&cold).churn);
        println!("| {q} | {m} | {gen_ms:.1} | {one:.1} | {two:.1} | {warm_ms:.1} | {cw} | {cs} |");
        csv.push_str(&format!(
            "{q},{m},{one:.3},{two:.3},{warm_ms:.3},{cw},{cs}\n"
        ));
    }
    // For the plot: `MATCHING_CSV=docs/matching-scale.csv`, then scripts/plot_matching.py.
    if let Ok(path) = std::env::var("MATCHING_CSV") {
        if let Err(e) = std::fs::write(&path, csv) {
            eprintln!("cannot write {path}: {e}");
        }
    }
}

/// The same instance one epoch later: every `1/fraction`-th query is replaced by a new one
/// (no current plan); the others carry their chosen candidate as current.
fn next_epoch(inst: &Instance, choice: &[Option<u32>], fraction: f64) -> Instance {
    let stride = (1.0 / fraction).round().max(1.0) as usize;
    let fresh = random::instance(&Spec::new(
        99,
        inst.queries.len(),
        inst.resources.len() / 2,
        1.5,
    ));
    let mut next = inst.clone();
    for (i, q) in next.queries.iter_mut().enumerate() {
        if i % stride == 0 {
            *q = fresh.queries[i].clone();
            q.current = None;
        } else {
            q.current = choice[i];
        }
    }
    next
}
