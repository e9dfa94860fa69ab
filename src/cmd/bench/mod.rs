//! `compass bench`: every named planner on the same scenario, trace and seed; JSON, a
//! markdown table and PNG plots. Goodput is realized by the simulated workers, never
//! predicted.

mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use compass_dataflow::Settings;
use compass_planners::model::valid_gpu_share;
use compass_planners::online::expand::Algorithm;
use compass_planners::online::objective::Objective;
use compass_planners::online::rounds::Rounds;
use compass_schemas::Tier;
use compass_testbed::bound::{Bound, Cache};
use compass_testbed::sim::Scenario;

use compass::embedded::{self, RunOptions, RunReport};
use report::BoundResult;

#[derive(clap::Args)]
pub struct Args {
    /// constrained-small, constrained-large, abundant, dynamics, single-query, oracle,
    /// scale, ablation.
    #[arg(long, default_value = "constrained-small")]
    pub scenario: String,
    /// Comma-separated: compass, vulcan, videostorm, ilp (build with --features milp),
    /// no-clusters, no-matching, full-solve, vulcan-slo and videostorm-slo (the baselines'
    /// global steps on Compass's SLO-aware candidates and objective), and compass's variants
    /// warm-start, batched, known-noise, rounds and rounds-known-noise. Default:
    /// compass,vulcan,videostorm (with ilp on `oracle`; compass and its ablations on
    /// `ablation`).
    #[arg(long)]
    pub planner: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the JSON report here (the table and plots go beside it).
    #[arg(long, default_value = "bench.json")]
    pub json: PathBuf,
    /// Matching partitions (metro pools and cloud machines dealt among them by hash).
    #[arg(long, default_value_t = 1)]
    pub partitions: u32,
    /// Instead of comparing planners: record compass's run of the scenario, then replay its
    /// input records (Avro, batched by epoch) on 1 and on N worker threads as fast as they
    /// go, and report input records per second.
    #[arg(long, value_name = "N")]
    pub throughput: Option<usize>,
    /// Answer profile requests on N simulated reference GPUs, so that profiling takes
    /// simulated time (a query waits for its search's profiles before it has a plan).
    /// Default: every request answered at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub profile_gpus: Option<u64>,
    /// GPU shares a DNN operator may hold, for every planner (default: 0.25 and 1, the
    /// planners' setting).
    #[arg(long, value_name = "SHARES", value_delimiter = ',')]
    pub shares: Option<Vec<f64>>,
    /// Also bound the scenario from the ground truth (`compass_testbed::bound`): per live
    /// query and window, whether some plan truly meets all its SLOs alone on idle machines,
    /// and the least cost of such a plan, over DNN GPU shares from this list.
    #[arg(long, value_name = "SHARES", value_delimiter = ',', num_args = 0.., default_missing_value = "0.25,1")]
    pub bound: Option<Vec<f64>>,
}

/// The planner settings a name stands for.
pub fn settings_for(name: &str, scenario: &str) -> anyhow::Result<Settings> {
    let mut s = Settings::default();
    if scenario == "abundant" {
        s = s.cost_mode();
    }
    match name {
        "compass" => {}
        // Each query planned alone, on profiles of its own, taking the plan of highest
        // Vulcan utility among those predicted to meet its latency and accuracy SLOs.
        "vulcan" => {
            s.per_query_profiles = true;
            s.matching.algorithm = Algorithm::Vulcan;
            s = s.with_objective(Objective::Vulcan);
        }
        // Cloud only; VideoStorm's quality-and-lag utility over its Pareto profile, every
        // query served at its smallest plan first, upgrades by marginal utility.
        "videostorm" => {
            s.single_tier = Some(Tier::Cloud);
            s.matching.algorithm = Algorithm::VideoStorm;
            s = s.with_objective(Objective::VideoStorm);
        }
        // The same global steps on Compass's SLO-aware candidates and objective: how much
        // of the gap is the SLO awareness alone.
        "vulcan-slo" => {
            s.per_query_profiles = true;
            s.matching.algorithm = Algorithm::Vulcan;
        }
        "videostorm-slo" => {
            s.single_tier = Some(Tier::Cloud);
            s.matching.algorithm = Algorithm::VideoStorm;
        }
        "no-clusters" => s.no_clusters = true,
        "no-matching" => s.matching.algorithm = Algorithm::Vulcan,
        // Every matching a full solve: what the incremental repair between them saves.
        "full-solve" => {
            s.matching.full_every = 1;
            s.matching.repair_above = usize::MAX;
        }
        "ilp" if !compass_planners::MILP_AVAILABLE => bail!(
            "the `ilp` planner needs the MILP solver: build with `--features milp` (and the CBC library, Debian `coinor-libcbc-dev`)"
        ),
        "ilp" => s.matching.algorithm = Algorithm::Ilp,
        "warm-start" => s.search.warm_start = true,
        // Four profile requests per cluster at once instead of one.
        "batched" => s.search.profile_batch = 4,
        // Accuracy standard errors told to the search (its surrogate's known noise).
        "known-noise" => s.search.known_noise = true,
        // Precision-aware profiling: an undecided candidate measured in a second round.
        "rounds" => s = s.with_rounds(Rounds::default().max_rounds),
        // Both: the rounds' standard errors told to the search as well.
        "rounds-known-noise" => {
            s = s.with_rounds(Rounds::default().max_rounds);
            s.search.known_noise = true;
        }
        "no-profiler" => bail!(
            "`no-profiler` is `compass` itself: it measures each configuration in one round by default (planner.profile_rounds = 1); the `rounds` planner adds the precision-aware rounds"
        ),
        other => bail!("unknown planner `{other}`"),
    }
    Ok(s)
}

/// The planners a scenario compares unless told otherwise.
fn default_planners(scenario: &str) -> &'static str {
    match scenario {
        "oracle" => "compass,vulcan,videostorm,ilp",
        "ablation" => "compass,no-clusters,warm-start,rounds,no-matching",
        _ => "compass,vulcan,videostorm",
    }
}

/// The steady phase of `--throughput`: epochs, query events per epoch, live queries.
const STEADY_EPOCHS: usize = 50;
const STEADY_PER_EPOCH: usize = 4_000;
const STEADY_LIVE: usize = 10_000;

/// The scenario of `args` and the settings of planner `name`, with `--partitions` applied.
fn setup(args: &Args, name: &str) -> anyhow::Result<(Scenario, Settings)> {
    let mut scenario = Scenario::named(&args.scenario, args.seed)
        .with_context(|| format!("unknown scenario `{}`", args.scenario))?;
    scenario.profile_gpus = args.profile_gpus.map(|n| n as usize);
    let mut settings = settings_for(name, &args.scenario)?;
    settings.partitions = args.partitions.max(1);
    if let Some(shares) = &args.shares {
        settings.search.shares = shares.clone();
    }
    Ok((scenario, settings))
}

fn check_shares(flag: &str, shares: &[f64]) -> anyhow::Result<()> {
    if shares.is_empty() || !shares.iter().all(|&s| valid_gpu_share(s)) {
        bail!("{flag}: every GPU share must lie in (0, 1], got {shares:?}");
    }
    Ok(())
}

/// `--bound`: walk the scenario's trace and bound each window from the ground truth; the
/// filled cache then bounds each planner's run without asking the truth again.
fn run_bound(args: &Args, shares: &[f64]) -> anyhow::Result<(Bound, BoundResult, Cache)> {
    let (scenario, _) = setup(args, "compass")?;
    eprintln!("bound:");
    let t0 = std::time::Instant::now();
    let mut cache = Cache::new(shares);
    let b = compass_testbed::bound::bound(scenario, &mut cache, |w, n| {
        eprint!("\r\x1b[2Kwindow {w}/{n}");
    })?;
    eprintln!();
    let r = BoundResult {
        shares: shares.to_vec(),
        goodput: b.goodput,
        query_windows: b.query_windows,
        cost_usd: b.cost_usd,
        wall_s: t0.elapsed().as_secs_f64(),
    };
    Ok((b, r, cache))
}

/// `--throughput N`: for each named planner (default compass), record its run, then replay
/// it on 1 and N workers; every row in one run, side by side.
fn throughput(args: &Args, workers: usize) -> anyhow::Result<ExitCode> {
    let names = args.planner.clone().unwrap_or_else(|| "compass".into());
    let mut counts = vec![1, workers.max(1)];
    counts.dedup();
    let mut rows = Vec::new();
    let mut recorded_wall = serde_json::Map::new();
    for name in names.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (scenario, settings) = setup(args, name)?;
        eprintln!("recording {name} on {}:", args.scenario);
        let recorded = embedded::run_recorded(
            scenario,
            settings,
            RunOptions {
                progress: true,
                ..RunOptions::default()
            },
            true,
        )?;
        recorded_wall.insert(name.to_string(), recorded.report.wall_s.into());
        let encoded = std::sync::Arc::new(compass::throughput::encode(&recorded.log)?);
        let steady = std::sync::Arc::new(compass::throughput::steady_stream(
            &recorded.log,
            STEADY_EPOCHS,
            STEADY_PER_EPOCH,
            STEADY_LIVE,
        )?);
        for &w in &counts {
            let t = compass::throughput::replay(
                encoded.clone(),
                steady.clone(),
                recorded.settings.clone(),
                w,
            )?;
            eprintln!(
                "{name}, {} worker(s): recorded run: {} records in {} epochs, {:.2} s, {:.0} records/s",
                t.workers, t.records, t.epochs, t.wall_s, t.records_per_s
            );
            if let Some(s) = &t.steady {
                eprintln!(
                    "{name}, {} worker(s): steady stream: {} records in {} epochs, {:.2} s, {:.0} records/s (matching {:.2} s over the workers)",
                    t.workers, s.records, s.epochs, s.wall_s, s.records_per_s, s.matching_s
                );
            }
            let mut row = serde_json::to_value(&t)?;
            if let Some(o) = row.as_object_mut() {
                o.insert("planner".into(), name.into());
            }
            rows.push(row);
        }
    }
    let json = serde_json::json!({
        "scenario": args.scenario,
        "seed": args.seed,
        "recorded_run_wall_s": recorded_wall,
        "throughput": rows,
    });
    std::fs::write(&args.json, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", args.json.display()))?;
    eprintln!("wrote {}", args.json.display());
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(shares) = &args.bound {
        check_shares("--bound", shares)?;
    }
    if let Some(shares) = &args.shares {
        check_shares("--shares", shares)?;
    }
    if let Some(w) = args.throughput {
        if args.bound.is_some() {
            bail!("--bound applies to the planners' runs, not to --throughput's replay");
        }
        return throughput(&args, w);
    }
    let (bound, cache) = match &args.bound {
        Some(shares) => {
            let (b, r, cache) = run_bound(&args, shares)?;
            (Some((b, r)), Some(cache))
        }
        None => (None, None),
    };
    let mut results: Vec<(String, RunReport)> = Vec::new();
    let planners = args
        .planner
        .clone()
        .unwrap_or_else(|| default_planners(&args.scenario).to_string());
    let mut ilp = None;
    for name in planners.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (scenario, settings) = setup(&args, name)?;
        eprintln!("{name}:");
        let r = embedded::run(
            scenario,
            settings,
            RunOptions {
                progress: true,
                bound: cache.clone(),
                ..RunOptions::default()
            },
        )?;
        results.push((name.to_string(), r));
        if name == "ilp" {
            ilp = Some(compass_planners::online::expand::ilp_counts());
        }
    }
    if let Some(c) = ilp {
        eprintln!(
            "ilp: {} partition-epochs solved by CBC, {} of them not proven optimal in the time limit; {} matched by the fast matcher after a solver failure",
            c.solved, c.unproven, c.fallbacks
        );
    }
    report::write(
        &args.json,
        &args.scenario,
        args.seed,
        args.profile_gpus,
        &results,
        bound,
    )?;
    Ok(ExitCode::SUCCESS)
}
