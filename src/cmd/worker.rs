//! `compass worker --simulated`: the testbed's users, devices and GPU workers against a
//! planner on Kafka (see `compass::service::simworker`). Prints the realized result as in
//! `compass demo` and can write it as JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use compass::service::simworker::{run_simulated, SimOptions};
use compass::service::Topics;
use compass_testbed::sim::Scenario;

use crate::report::broker_hint;

#[derive(clap::Args)]
pub struct Args {
    /// Simulate the GPU workers, devices and users (the only kind there is for now).
    #[arg(long)]
    pub simulated: bool,
    /// The configuration file shared with `compass run`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// demo, e2e, constrained-small, constrained-large, abundant, dynamics.
    #[arg(long, default_value = "demo")]
    pub scenario: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the run's report (windows, goodput, latency) as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Seconds to wait for the planner in one round.
    #[arg(long, default_value_t = 120)]
    pub patience_s: u64,
    /// Answer profile requests on N simulated reference GPUs (profiling takes simulated
    /// time), as `compass bench --profile-gpus`. Default: every request answered at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub profile_gpus: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.simulated {
        bail!("only simulated workers exist: pass --simulated");
    }
    let config = super::run::load(args.config.as_deref())?;
    let Some(mut scenario) = Scenario::named(&args.scenario, args.seed) else {
        bail!("unknown scenario `{}`", args.scenario);
    };
    scenario.profile_gpus = args.profile_gpus.map(|n| n as usize);
    let kafka = config.kafka_settings();
    let opts = SimOptions {
        kafka: kafka.clone(),
        topics: Topics::new(&config.topics.prefix)?,
        planner_group: config.planner.group.clone(),
        max_rounds: compass_testbed::sim::ROUNDS_PER_WINDOW,
        patience: Duration::from_secs(args.patience_s),
        progress: true,
    };
    let r = run_simulated(scenario, &opts)
        .context(broker_hint(&kafka.brokers))
        .context("the simulated workers stopped")?;
    println!(
        "windows {}  goodput {:.1}  attainment {:.1}%  cost ${:.2}  profiles {}  arrival→assignment p50 {:.0} ms p99 {:.0} ms  wall {:.1} s",
        r.windows.len(),
        r.goodput,
        100.0 * r.slo_attainment,
        r.cost_usd,
        r.profiles,
        compass::embedded::percentile(&r.latency_ms, 50.0),
        compass::embedded::percentile(&r.latency_ms, 99.0),
        r.wall_s
    );
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&r)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
