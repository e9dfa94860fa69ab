//! Profiles and GPU-seconds until the first truly feasible plan, per application: Compass's
//! search against Vulcan's and against exhaustive profiling.
//!
//!     cargo run --release -p compass-testbed --example search_cost -- [SEEDS] [CSV]
//!
//! With `SEARCH_KNOWN_NOISE=1`, Compass's search is also told each profile's accuracy
//! standard error (its surrogate's known noise); by default it is not, as online.
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
//!
//! GPU-seconds are A100-equivalent busy time while profiling (the paper reports profiling
//! cost in A100 GPU-hours): per input, each operator's latency on its machine times that
//! machine's speed relative to an A100. A search that never reaches a feasible plan is
//! a miss: it ranks above every success in the medians (∞ when it is the median), and the
//! misses are counted.
//!
//! Two tables: the catalogue's SLO classes (often loose: a random first profile is already
//! feasible), and the same queries with the latency SLO tightened until only about 5% of
//! the plans are truly feasible (at least one; see [`tighten`]), where search decides.

use std::io::Write;

use compass_planners::model::{enumerate_plans, OperatorModel, Plan, Query, Tier};
use compass_planners::search::bo::{Search, Settings};
use compass_planners::search::vulcan::Vulcan;
use compass_schemas::{ProfileRequest, StratumQuota};
use compass_testbed::catalog;
use compass_testbed::fleet::{self, FleetSpec, Tables};
use compass_testbed::truth::GroundTruth;
use compass_testbed::worker::{profile_means, Deployed, World};

const INPUTS: i32 = 16;
const BUDGET: usize = 40;

/// What one searcher spent until its recommendation was truly feasible.
#[derive(Clone, Copy, Default)]
struct Spent {
    profiles: usize,
    gpu_s: f64,
    reached: bool,
}

struct Case {
    query: Query,
    places: Vec<usize>,
}

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
            "slos,app,slo_class,user_device,seed,plans,configurations,compass_profiles,compass_gpu_s,compass_reached,vulcan_profiles,vulcan_gpu_s,vulcan_reached,exhaustive_profiles,exhaustive_gpu_s"
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
    for spec in catalog::builtin()? {
        let noisy = GroundTruth::new(spec.clone())?;
        let mut truth = noisy.clone();
        truth.spec.noise.latency_cv = 0.0;
        let app = truth.model.clone();
        let mut cases = Vec::new();
        for class in &spec.slo_class {
            for &user in users {
                // The same conversion as a trace's arrival, on the application's first
                // data stratum.
                let spec_q = spec.query_spec(class, &devices[user].id, &spec.strata[0].name);
                let id = format!("{}-{}", class.name, devices[user].hardware_class);
                let query = Query::from_spec(&id, &spec_q, spec.higher_is_better);
                let mut places = vec![user];
                places.extend_from_slice(shared);
                cases.push(Case { query, places });
            }
        }
        let (mut ours, mut theirs, mut all) = (Vec::new(), Vec::new(), Vec::new());
        let (mut skipped, mut plan_counts) = (0, Vec::new());
        for case in &cases {
            let plans = enumerate_plans(&app, devices, &case.places, 0.5)?;
            // What each plan really delivers does not depend on the SLOs: once per case.
            let outcomes: Vec<Option<(f64, f64, f64)>> = plans
                .iter()
                .map(|p| truth.outcome(p, &case.query, devices))
                .collect();
            let query = if tight {
                match tighten(&outcomes, &case.query) {
                    Some(q) => q,
                    None => {
                        skipped += 1;
                        continue;
                    }
                }
            } else {
                case.query.clone()
            };
            let truly: Vec<bool> = outcomes
                .iter()
                .map(|o| o.is_some_and(|(l, a, c)| query.slo.all_met(l, a, c)))
                .collect();
            if !truly.contains(&true) {
                skipped += 1;
                continue;
            }
            plan_counts.push(plans.len());
            let exhaustive = Spent {
                profiles: plans.len(),
                gpu_s: plans.iter().map(|p| busy_s(&truth, p)).sum(),
                reached: true,
            };
            for seed in 0..seeds {
                // Each searcher gets its own simulated workers with the same seed, so
                // neither's profiles change the noise the other sees.
                let world =
                    || World::new(vec![noisy.clone()], devices.to_vec(), tables.clone(), seed);
                let space = Space {
                    plans: &plans,
                    devices,
                    query: &query,
                    truly: &truly,
                };
                let c = compass(&app, &space, &mut world(), seed);
                let v = vulcan(&truth, &space, &mut world(), seed);
                if let Some(f) = csv.as_mut() {
                    writeln!(
                        f,
                        "{},{},{},{},{seed},{},{},{},{:.3},{},{},{:.3},{},{},{:.3}",
                        if tight { "tight" } else { "catalogue" },
                        spec.app_id,
                        case.query.id.split('-').next().unwrap_or(""),
                        devices[case.places[0]].hardware_class,
                        plans.len(),
                        app.space_size(),
                        c.profiles,
                        c.gpu_s,
                        c.reached,
                        v.profiles,
                        v.gpu_s,
                        v.reached,
                        exhaustive.profiles,
                        exhaustive.gpu_s
                    )?;
                }
                ours.push(c);
                theirs.push(v);
                all.push(exhaustive);
            }
            eprint!(".");
        }
        eprintln!(" {}", spec.app_id);
        if ours.is_empty() {
            println!("| {} | 0 ({skipped}) | | | | | | | | | | |", spec.app_id);
            continue;
        }
        // A miss ranks above every success: it never found what the others found.
        let miss = |s: &Spent, x: f64| if s.reached { x } else { f64::INFINITY };
        let mp = |v: &[Spent]| median(v.iter().map(|s| miss(s, s.profiles as f64)).collect());
        let mg = |v: &[Spent]| median(v.iter().map(|s| miss(s, s.gpu_s)).collect());
        let misses = |v: &[Spent]| v.iter().filter(|s| !s.reached).count();
        println!(
            "| {} | {} ({skipped}) | {:.0} | {:.0} | {:.0} | {:.0} | {:.1}× | {:.1} | {:.1} | {:.1} | {:.1}× | {} / {} of {} |",
            spec.app_id,
            plan_counts.len(),
            median(plan_counts.iter().map(|&n| n as f64).collect()),
            mp(&ours),
            mp(&theirs),
            mp(&all),
            mp(&theirs) / mp(&ours),
            mg(&ours),
            mg(&theirs),
            mg(&all),
            mg(&theirs) / mg(&ours),
            misses(&ours),
            misses(&theirs),
            ours.len()
        );
    }
    Ok(())
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A100-equivalent GPU-seconds of one end-to-end profile of [`INPUTS`] inputs: each
/// operator's busy time on its machine times that machine's speed relative to an A100 (the
/// paper reports profiling cost in A100 GPU-hours), which is its reference latency.
fn busy_s(truth: &GroundTruth, p: &Plan) -> f64 {
    let per_input: f64 = (0..truth.model.operator_count())
        .map(|op| truth.reference_ms(&truth.model, op, &p.config))
        .sum();
    f64::from(INPUTS) * per_input / 1000.0
}

/// One query's search problem, and the ground truth's verdict on each plan.
struct Space<'a> {
    plans: &'a [Plan],
    devices: &'a [compass_planners::model::Device],
    query: &'a Query,
    truly: &'a [bool],
}

fn compass(
    app: &compass_planners::model::AppModel,
    space: &Space,
    world: &mut World,
    seed: u64,
) -> Spent {
    let (plans, devices, query) = (space.plans, space.devices, space.query);
    let settings = Settings {
        seed,
        budget: BUDGET,
        ..Settings::default()
    };
    let mut search = Search::new(app, plans, devices, query, settings);
    let mut spent = Spent::default();
    while let Some(config) = search.ask() {
        let req = ProfileRequest {
            request_id: format!("c{seed}-{}", spent.profiles),
            app_id: app.id().into(),
            hardware_class: "a100-80gb".into(),
            operators: app.operator_choices(&config, app.operator_count()),
            quotas: vec![StratumQuota {
                stratum: query.stratum.clone(),
                inputs: INPUTS,
            }],
            decision_epoch: 0,
            reason: String::new(),
            event_time_ms: 0,
        };
        let Ok(samples) = world.answer(&req, 0) else {
            break;
        };
        spent.profiles += 1;
        spent.gpu_s += samples.iter().map(|s| s.gpu_seconds).sum::<f64>();
        let (reference, mut accuracy) = profile_means(&samples, app.operator_count());
        if std::env::var_os("SEARCH_KNOWN_NOISE").is_none() {
            accuracy.se = 0.0;
        }
        search.tell(&config, &reference, accuracy);
        if search
            .candidates()
            .first()
            .is_some_and(|p| space.truly[p.plan])
        {
            spent.reached = true;
            break;
        }
    }
    spent
}

fn vulcan(truth: &GroundTruth, space: &Space, world: &mut World, seed: u64) -> Spent {
    let (plans, devices, query) = (space.plans, space.devices, space.query);
    let mut v = Vulcan::new(&truth.model, plans, devices, query, seed);
    let mut spent = Spent::default();
    // A window that holds INPUTS inputs at the query's rate.
    let window_s = f64::from(INPUTS) / query.rate_per_s.max(1e-9);
    while let Some(i) = v.ask() {
        let d = Deployed {
            query: query.clone(),
            plan: plans[i].clone(),
        };
        let r = world.realize(&[d], window_s);
        let Some(r) = r.first() else { break };
        spent.profiles += 1;
        spent.gpu_s += busy_s(truth, &plans[i]);
        v.tell(i, r.latency_ms, r.accuracy);
        if v.best().is_some_and(|b| space.truly[b]) {
            spent.reached = true;
            break;
        }
    }
    spent
}
