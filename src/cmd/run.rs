//! `compass run`: the planner as a Kafka service (see `compass::service::planner` for its
//! delivery semantics). Stops on SIGTERM or Ctrl-C after finishing, flushing and committing
//! the open epochs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use compass::config::Config;
use compass::service::metrics::{self, Metrics};
use compass::service::planner::{serve, ServeOptions};
use compass::service::{hardware_speeds, Topics};
use tracing::info;

use crate::report::{broker_hint, Hint};

#[derive(clap::Args)]
pub struct Args {
    /// The configuration file (every key overridable by COMPASS__SECTION__KEY).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Timely worker threads in this process (overrides planner.workers).
    #[arg(short = 'w', long)]
    pub workers: Option<usize>,
    /// Processes in the timely cluster (overrides planner.processes).
    #[arg(short = 'n', long)]
    pub processes: Option<usize>,
    /// This process's index in the cluster (overrides planner.process).
    #[arg(short = 'p', long)]
    pub process: Option<usize>,
    /// One host:port per line, per process (overrides planner.hostfile).
    #[arg(short = 'h', long)]
    pub hostfile: Option<PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

/// Load the configuration the way every Kafka command does.
pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Config::load(path, std::env::vars())
        .context(Hint(
            "see compass.example.toml for every key and its default".into(),
        ))
        .context("bad configuration")
}

/// Set `stop` on SIGTERM or Ctrl-C.
pub fn stop_on_signal() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        rt.block_on(async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            info!("stop requested: finishing the open epochs");
            flag.store(true, Ordering::Relaxed);
        });
    });
    Ok(stop)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = load(args.config.as_deref())?;
    if let Some(w) = args.workers {
        config.planner.workers = w.max(1);
    }
    if let Some(n) = args.processes {
        config.planner.processes = n;
    }
    if let Some(i) = args.process {
        config.planner.process = i;
    }
    if let Some(h) = &args.hostfile {
        config.planner.hostfile = h.display().to_string();
    }
    let cluster = compass::cluster::Cluster::of(&config.planner)
        .context(Hint("-n, -p and -h (or planner.processes, process and hostfile) describe the timely cluster".into()))
        .context("bad cluster configuration")?;
    let p = &config.planner;
    let mut settings = compass_dataflow::Settings {
        partitions: p.partitions,
        hardware_speed: hardware_speeds(&p.hardware_speed)?,
        machine_timeout_epochs: p.machine_timeout_ms.div_ceil(p.epoch_ms.max(1)),
        ..Default::default()
    };
    settings.matching.full_every = p.full_every;
    settings.search.profile_batch = p.profile_batch;
    settings.search.profile_inputs = p.profile_inputs;
    settings.search.known_noise = p.known_noise;
    settings.search.shares = p.gpu_shares.clone();
    settings = settings.with_rounds(p.profile_rounds);
    if p.cost_mode {
        settings = settings.cost_mode();
    }
    let kafka = config.kafka_settings();
    info!(brokers = %kafka.brokers, properties = ?kafka.redacted(), group = %p.group, "configuration");
    let opts = ServeOptions {
        kafka: kafka.clone(),
        topics: Topics::new(&config.topics.prefix)?,
        group: p.group.clone(),
        cluster,
        epoch_ms: p.epoch_ms,
        lateness_ms: p.lateness_ms,
        settings,
        profile_class: p.profile_class.clone(),
        exit_when_caught_up: p.exit_when_caught_up,
        metrics: Metrics::new(compass::service::now_ms()),
        limits: config.limits.schema_limits(),
        max_record_bytes: config.limits.max_record_bytes,
    };
    let _endpoint = metrics::maybe_serve(&config.metrics.listen, &opts.metrics)
        .context(Hint("set [metrics] listen (COMPASS__METRICS__LISTEN) to a free host:port, or to \"\" to turn the endpoint off".into()))
        .context("cannot start the metrics endpoint")?;
    let report = serve(opts, stop_on_signal()?)
        .context(broker_hint(&kafka.brokers))
        .context("the planner stopped")?;
    info!(
        records = report.records,
        assignments = report.assignments,
        requests = report.requests,
        dead_lettered = report.dead_lettered,
        late = report.late,
        "planner stopped"
    );
    Ok(ExitCode::SUCCESS)
}
