//! `compass load`: drive a planner on Kafka with arrivals at a fixed rate (and an optional
//! burst at ten times it) and report arrival → decision latency, recovery after the burst
//! and the planner's peak memory (see `compass::service::load`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use compass::service::load::{run_load, LoadOptions};
use compass::service::Topics;
use compass_testbed::sim::Scenario;

use crate::report::broker_hint;

#[derive(clap::Args)]
pub struct Args {
    /// The configuration file shared with `compass run` (brokers, topic prefix).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The scenario whose applications, fleet and query specs are used.
    #[arg(long, default_value = "scale")]
    pub scenario: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Arrivals per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Live queries to hold (the oldest departs as each new one arrives once reached).
    #[arg(long, default_value_t = 10_000)]
    pub live: usize,
    /// Seconds at the steady rate once `live` is reached.
    #[arg(long, default_value_t = 60)]
    pub duration_s: u64,
    /// A burst at 10× the rate: START,LENGTH in seconds into the steady phase.
    #[arg(long, value_parser = parse_burst)]
    pub burst: Option<(u64, u64)>,
    /// Seconds to wait for missing decisions at the end.
    #[arg(long, default_value_t = 120)]
    pub drain_s: u64,
    /// The planner's process id, to sample its resident memory.
    #[arg(long)]
    pub planner_pid: Option<u32>,
    /// Write the report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

fn parse_burst(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once(',').ok_or("expected START,LENGTH")?;
    Ok((
        a.trim().parse().map_err(|e| format!("{e}"))?,
        b.trim().parse().map_err(|e| format!("{e}"))?,
    ))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = super::run::load(args.config.as_deref())?;
    let Some(scenario) = Scenario::named(&args.scenario, args.seed) else {
        bail!("unknown scenario `{}`", args.scenario);
    };
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--rate must be a positive number");
    }
    let kafka = config.kafka_settings();
    let opts = LoadOptions {
        kafka: kafka.clone(),
        topics: Topics::new(&config.topics.prefix)?,
        scenario,
        rate: args.rate,
        live: args.live,
        duration: Duration::from_secs(args.duration_s),
        burst: args
            .burst
            .map(|(a, l)| (Duration::from_secs(a), Duration::from_secs(l))),
        drain: Duration::from_secs(args.drain_s),
        planner_pid: args.planner_pid,
    };
    let r = run_load(&opts)
        .context(broker_hint(&kafka.brokers))
        .context("the load run stopped")?;
    println!(
        "arrivals {}  decided {}  undecided {}  steady p50 {:.0} ms p99 {:.0} ms (n {})  burst p50 {:.0} ms p99 {:.0} ms (n {})  recovery {}  peak RSS {}  wall {:.0} s",
        r.arrivals,
        r.decided,
        r.undecided,
        r.steady_ms.p50,
        r.steady_ms.p99,
        r.steady_ms.n,
        r.burst_ms.p50,
        r.burst_ms.p99,
        r.burst_ms.n,
        r.recovery_s.map_or("-".into(), |s| format!("{s:.1} s")),
        r.peak_rss_mb.map_or("-".into(), |m| format!("{m:.0} MB")),
        r.wall_s
    );
    println!(
        "steady split: arrival -> decision p50 {:.0} ms p99 {:.0} ms; decision -> read back p50 {:.0} ms p99 {:.0} ms; slowest 1%: {}",
        r.steady_to_decision_ms.p50,
        r.steady_to_decision_ms.p99,
        r.steady_back_ms.p50,
        r.steady_back_ms.p99,
        r.steady_tail_split_ms.map_or("-".into(), |(a, b)| format!(
            "{a:.0} ms to the decision + {b:.0} ms back"
        ))
    );
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&r)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
