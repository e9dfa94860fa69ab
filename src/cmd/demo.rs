//! `compass demo`: the whole system in one process on the embedded bus.

use std::path::PathBuf;
use std::process::ExitCode;

use compass_dataflow::Settings;
use compass_testbed::sim::Scenario;

use anyhow::Context;

use compass::embedded::{self, percentile, RunOptions};
use compass::plot::{line_chart, Series};

#[derive(clap::Args)]
pub struct Args {
    /// Seed of the fleet, the trace and the simulated workers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the plots and the JSON report.
    #[arg(long, default_value = "compass-demo")]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::demo(args.seed);
    println!(
        "compass demo: {} users, {} simulated seconds in {}-second windows, seed {}",
        scenario.edge_devices, scenario.trace.duration_s, scenario.window_s, scenario.seed
    );
    let report = embedded::run(
        scenario,
        Settings::default(),
        RunOptions {
            progress: true,
            ..RunOptions::default()
        },
    )?;
    println!();
    println!("| metric | value |");
    println!("|---|---|");
    println!(
        "| goodput (Σ weighted queries meeting every SLO, over windows) | {:.1} |",
        report.goodput
    );
    println!("| SLO attainment | {:.1}% |", 100.0 * report.slo_attainment);
    println!("| deployment cost | ${:.2} |", report.cost_usd);
    println!(
        "| arrival → assignment p50 / p99 | {:.1} / {:.1} ms |",
        percentile(&report.latency_ms, 50.0),
        percentile(&report.latency_ms, 99.0)
    );
    println!(
        "| profiles (GPU-seconds) | {} ({:.1}) |",
        report.profiles, report.profile_gpu_seconds
    );
    println!("| searches run | {} |", report.searches);
    println!("| churn (moves) | {} |", report.churn);
    println!("| wall time | {:.1} s |", report.wall_s);
    for (reason, n) in &report.reasons {
        println!("| live queries at the end: {reason} | {n} |");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let t = |w: &embedded::Window| w.window as f64 * report.window_s;
    line_chart(
        &args.out.join("goodput.png"),
        "demo: queries per window",
        "simulated seconds",
        "queries",
        &[
            Series {
                name: "live",
                points: report
                    .windows
                    .iter()
                    .map(|w| (t(w), w.live as f64))
                    .collect(),
            },
            Series {
                name: "assigned",
                points: report
                    .windows
                    .iter()
                    .map(|w| (t(w), w.assigned as f64))
                    .collect(),
            },
            Series {
                name: "met SLOs",
                points: report
                    .windows
                    .iter()
                    .map(|w| (t(w), w.met as f64))
                    .collect(),
            },
        ],
    )?;
    line_chart(
        &args.out.join("planning-latency.png"),
        "demo: planning wall time per window",
        "simulated seconds",
        "ms",
        &[Series {
            name: "planning",
            points: report
                .windows
                .iter()
                .map(|w| (t(w), w.planning_ms))
                .collect(),
        }],
    )?;
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!(
        "plots: {0}/goodput.png, {0}/planning-latency.png; report: {0}/report.json",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
