//! Profiles and GPU-seconds until the first truly feasible plan, per application: Compass's
//! search against Vulcan's and against exhaustive profiling.
//!
//!     cargo run --release -p compass-testbed --example search_cost -- [SEEDS] [CSV]
//!
//! With `SEARCH_KNOWN_NOISE=1`, Compass's search is also told each profile's accuracy
//! standard error (its surrogate's known noise); by default it is not, as online. With
//! `SEARCH_ROUNDS=N` (N ≥ 2; online `planner.profile_rounds`), Compass measures a
//! recommended configuration again, up to N rounds in all, while its accuracy interval
//! straddles the query's threshold (α = 0.2 over the rounds, the online default).
//!
//! For every application, every SLO class and three user devices (a phone, a laptop, a
//! Jetson), one query over every plan on: the user's device, an edge server (A10), and one
//! cloud machine of each class (A10, A100, H100). Queries whose space has no truly feasible
//! plan are skipped (and counted). Per query and seed:
//!
//! - Compass profiles a configuration on an A100 for 16 inputs and composes the
//!   measurement over every placement; it stops at the first profile after which its
//!   cheapest candidate is truly feasible (budget 40, the prototype's cap).
//! - Vulcan profiles a whole plan end to end on its own placement, 16 inputs, one Bayesian
//!   optimization per placement, until its recommendation is truly feasible (no cap: at
//!   worst every plan).
//! - Exhaustive profiling runs every plan end to end once.
//! - Compass sharing: the application's queries arrive one after another (order drawn from
//!   the seed), all on one data stratum, and each search starts from the profiles the
//!   earlier ones paid for, as the clusters of one application do online (they share its
//!   statistics per configuration and stratum); it pays only for new profiles, none when the
//!   inherited ones already recommend a truly feasible plan. Vulcan plans each query alone
//!   (as the paper's authors coded it).
//!
//! GPU-seconds are A100-equivalent busy time while profiling (the paper reports profiling
//! cost in A100 GPU-hours): per input, each operator's latency on its machine times that
//! machine's speed relative to an A100. A search that never reaches a feasible plan is
//! a miss: it ranks above every success in the medians (∞ when it is the median), and the
//! misses are counted.
//!
//! Two settings, each with a table of medians of the searches alone and a table of means
//! per query with Compass also sharing: the catalogue's SLO classes (often loose: a random first profile is already
//! feasible), and the same queries with the latency SLO tightened until only about 5% of
//! the plans are truly feasible (at least one; see [`tighten`]), where search decides.

use std::io::Write;

use compass_planners::model::{enumerate_plans, Plan, Query, Tier};
use compass_planners::online::rounds::Rounds;
use compass_testbed::catalog;
use compass_testbed::fleet::{self, FleetSpec, Tables};
use compass_testbed::truth::GroundTruth;
use compass_testbed::worker::World;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod rows;
mod searchers;

use rows::{alone_row, sharing_row, Results};
use searchers::{Space, Spent};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(Ok(5), |s| s.parse())?;
    let csv_path = args.next();
    let tables = Tables::builtin()?;
    let devices = fleet::generate(&FleetSpec::sized(200, 1), &tables)?;
    let find = |f: &dyn Fn(&compass_planners::model::Device) -> bool| {
        devices.iter().position(f).ok_or("the fleet lacks a device")
    };
    let users = [
        find(&|d| d.hardware_class == "iphone-15-pro" && d.link.uplink_mbps > 20.0)?,
        find(&|d| d.hardware_class == "laptop-snapdragon-x-elite" && d.link.uplink_mbps > 20.0)?,
        find(&|d| d.hardware_class == "jetson-orin-nano-8gb" && d.link.uplink_mbps > 20.0)?,
    ];
    let shared = [
        find(&|d| d.tier == Tier::EdgeServer)?,
        find(&|d| d.hardware_class == "a10-24gb")?,
        find(&|d| d.hardware_class == "a100-80gb")?,
        find(&|d| d.hardware_class == "h100-80gb")?,
    ];
    let mut csv = match &csv_path {
        Some(p) => Some(std::fs::File::create(p)?),
        None => None,
    };
    if let Some(f) = csv.as_mut() {
        writeln!(
            f,
            "slos,app,slo_class,user_device,seed,plans,configurations,compass_profiles,compass_gpu_s,compass_reached,vulcan_profiles,vulcan_gpu_s,vulcan_reached,exhaustive_profiles,exhaustive_gpu_s,compass_sharing_profiles,compass_sharing_gpu_s,compass_sharing_reached"
        )?;
    }
    for tight in [false, true] {
        println!(
            "\n{}\n",
            if tight {
                "Tight SLOs (latency SLO set so that about 5% of plans are truly feasible):"
            } else {
                "The catalogue's SLO classes:"
            }
        );
        table(
            tight,
            seeds,
            &tables,
            &devices,
            &users,
            &shared,
            csv.as_mut(),
        )?;
    }
    Ok(())
}

/// One query of the benchmark, ready to search: its SLOs (tightened or not), its plans and
/// which of them truly meet every SLO.
struct Prepared {
    query: Query,
    class: String,
    user: String,
    plans: Vec<Plan>,
    truly: Vec<bool>,
    exhaustive: Spent,
}

#[allow(clippy::too_many_arguments)]
fn table(
    tight: bool,
    seeds: u64,
    tables: &Tables,
    devices: &[compass_planners::model::Device],
    users: &[usize],
    shared: &[usize],
    mut csv: Option<&mut std::fs::File>,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("| application | queries (skipped: none feasible) | plans per query | Compass profiles (median) | Vulcan profiles (median) | exhaustive profiles | profiles Vulcan ÷ Compass | Compass GPU-s (median) | Vulcan GPU-s (median) | exhaustive GPU-s | GPU-s Vulcan ÷ Compass | misses Compass / Vulcan |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut sharing_rows = Vec::new();
    let rounds = match std::env::var("SEARCH_ROUNDS") {
        Ok(v) => Some(v.parse::<u64>()?)
            .filter(|&n| n > 1)
            .map(|max_rounds| Rounds {
                max_rounds,
                ..Rounds::default()
            }),
        Err(_) => None,
    };
    for spec in catalog::builtin()? {
        let noisy = GroundTruth::new(spec.clone())?;
        let mut truth = noisy.clone();
        truth.spec.noise.latency_cv = 0.0;
        let app = truth.model.clone();
        let mut r = Results::default();
        let mut prepared = Vec::new();
        for class in &spec.slo_class {
            for &user in users {
                // The same conversion as a trace's arrival, on the application's first
                // data stratum.
                let spec_q = spec.query_spec(class, &devices[user].id, &spec.strata[0].name);
                let id = format!("{}-{}", class.name, devices[user].hardware_class);
                let query = Query::from_spec(&id, &spec_q, spec.higher_is_better);
                let mut places = vec![user];
                places.extend_from_slice(shared);
                let plans = enumerate_plans(&app, devices, &places, 0.5)?;
                match prepare(&truth, query, plans, devices, tight) {
                    Some(mut p) => {
                        p.class = class.name.clone();
                        p.user = devices[user].hardware_class.clone();
                        prepared.push(p);
                    }
                    None => r.skipped += 1,
                }
            }
        }
        let world = |seed| World::new(vec![noisy.clone()], devices.to_vec(), tables.clone(), seed);
        // Sharing: the application's queries arrive one after another (in an order drawn
        // from the seed) and each search starts from the profiles the earlier ones paid for,
        // as clusters of one application and data stratum do online.
        let mut sharing = vec![vec![Spent::default(); seeds as usize]; prepared.len()];
        for seed in 0..seeds {
            let mut order: Vec<usize> = (0..prepared.len()).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            let (mut w, mut known) = (world(seed), Vec::new());
            for k in order {
                sharing[k][seed as usize] = searchers::compass(
                    &app,
                    &space(&prepared[k], devices),
                    &mut w,
                    seed,
                    rounds,
                    &mut known,
                );
            }
        }
        for (k, p) in prepared.iter().enumerate() {
            r.plan_counts.push(p.plans.len());
            for seed in 0..seeds {
                // Each searcher gets its own simulated workers with the same seed, so
                // neither's profiles change the noise the other sees.
                let c = searchers::compass(
                    &app,
                    &space(p, devices),
                    &mut world(seed),
                    seed,
                    rounds,
                    &mut Vec::new(),
                );
                let v = searchers::vulcan(&truth, &space(p, devices), &mut world(seed), seed);
                let s = sharing[k][seed as usize];
                if let Some(f) = csv.as_mut() {
                    writeln!(
                        f,
                        "{},{},{},{},{seed},{},{},{},{:.3},{},{},{:.3},{},{},{:.3},{},{:.3},{}",
                        if tight { "tight" } else { "catalogue" },
                        spec.app_id,
                        p.class,
                        p.user,
                        p.plans.len(),
                        app.space_size(),
                        c.profiles,
                        c.gpu_s,
                        c.reached,
                        v.profiles,
                        v.gpu_s,
                        v.reached,
                        p.exhaustive.profiles,
                        p.exhaustive.gpu_s,
                        s.profiles,
                        s.gpu_s,
                        s.reached,
                    )?;
                }
                r.alone.push(c);
                r.vulcan.push(v);
                r.sharing.push(s);
                r.exhaustive.push(p.exhaustive);
            }
            eprint!(".");
        }
        eprintln!(" {}", spec.app_id);
        println!("{}", alone_row(&spec.app_id, &r));
        sharing_rows.push(sharing_row(&spec.app_id, &r));
    }
    println!(
        "\nPer query, mean over queries and seeds (a miss counts what it spent), Compass alone \
         and sharing its application's profiles:\n"
    );
    println!("| application | queries | Compass alone: profiles | Compass sharing: profiles | Vulcan: profiles | Vulcan ÷ Compass alone | Vulcan ÷ Compass sharing | Compass alone: GPU-s | Compass sharing: GPU-s | Vulcan: GPU-s | GPU-s Vulcan ÷ Compass sharing | queries with no new profile, sharing | misses alone / sharing / Vulcan |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in sharing_rows {
        println!("{row}");
    }
    Ok(())
}

/// The query with its SLOs as benchmarked, its plans' true verdicts and the cost of
/// profiling them all; `None` when no plan is truly feasible.
fn prepare(
    truth: &GroundTruth,
    query: Query,
    plans: Vec<Plan>,
    devices: &[compass_planners::model::Device],
    tight: bool,
) -> Option<Prepared> {
    // What each plan really delivers does not depend on the SLOs: once per query.
    let outcomes: Vec<Option<(f64, f64, f64)>> = plans
        .iter()
        .map(|p| truth.outcome(p, &query, devices))
        .collect();
    let query = if tight {
        tighten(&outcomes, &query)?
    } else {
        query
    };
    let truly: Vec<bool> = outcomes
        .iter()
        .map(|o| o.is_some_and(|(l, a, c)| query.slo.all_met(l, a, c)))
        .collect();
    if !truly.contains(&true) {
        return None;
    }
    let exhaustive = Spent {
        profiles: plans.len(),
        gpu_s: plans.iter().map(|p| searchers::busy_s(truth, p)).sum(),
        reached: true,
    };
    Some(Prepared {
        query,
        class: String::new(),
        user: String::new(),
        plans,
        truly,
        exhaustive,
    })
}

fn space<'a>(p: &'a Prepared, devices: &'a [compass_planners::model::Device]) -> Space<'a> {
    Space {
        plans: &p.plans,
        devices,
        query: &p.query,
        truly: &p.truly,
    }
}

/// `query` with its latency SLO lowered until about 5% of `plans` (at least one) truly
/// meet all its SLOs; `None` when none meets its accuracy and cost SLOs at any latency.
///
/// The bound sits in the widest relative gap between consecutive plan latencies among the
/// 2.5–7.5% fastest (geometric middle), so that no plan is a hair either side of the SLO:
/// a benchmark of search, not of measurement noise. Never looser than the class's SLO.
fn tighten(outcomes: &[Option<(f64, f64, f64)>], query: &Query) -> Option<Query> {
    let mut latencies: Vec<f64> = outcomes
        .iter()
        .flatten()
        .filter(|&&(l, a, c)| l.is_finite() && query.slo.accuracy_met(a) && query.slo.cost_met(c))
        .map(|&(l, _, _)| l)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let n = latencies.len();
    if n == 0 {
        return None;
    }
    let lo = outcomes.len().div_ceil(40).clamp(1, n);
    let hi = (outcomes.len() * 3).div_ceil(40).clamp(lo, n);
    // k plans feasible: the bound lies between latencies[k - 1] and latencies[k].
    let gap = |k: usize| latencies.get(k).map_or(2.0, |next| next / latencies[k - 1]);
    let k = (lo..=hi).max_by(|&a, &b| gap(a).total_cmp(&gap(b)).then(b.cmp(&a)))?;
    let bound = latencies[k - 1] * gap(k).sqrt();
    let mut q = query.clone();
    q.slo.latency_ms = bound.min(query.slo.latency_ms);
    Some(q)
}
