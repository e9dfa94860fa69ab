//! `compass`: the command-line front of Compass. A thin layer over the library crates;
//! errors are reported as a short message, a detail and a hint.
//!
//! Exit codes:
//! - 0: success
//! - 1: the command failed (broker unreachable, bad configuration, ...)
//! - 2: the command line is wrong
//! - 3: `compass topics check` found drift between the broker and the catalogue

mod cmd;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd::{bench, consume, demo, load, run, topics, worker};

#[derive(Parser)]
#[command(
    name = "compass",
    version,
    about = "SLO-aware query planner for compound AI serving, on Kafka"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: report::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole system in one process on an embedded bus (no broker needed).
    Demo(demo::Args),
    /// Run planners side by side on one benchmark scenario (JSON, table, plot).
    Bench(bench::Args),
    /// Run the planner on Kafka: inputs from the topics, assignments and profile requests out.
    #[command(disable_help_flag = true)]
    Run(run::Args),
    /// Simulated GPU workers, devices and users against a planner on Kafka.
    Worker(worker::Args),
    /// Drive a planner on Kafka with arrivals at a fixed rate; report latency and memory.
    Load(load::Args),
    /// Provision or verify the topic catalogue on a broker.
    Topics(topics::Args),
    /// Read a topic as a consumer group and print each decoded record as a JSON line.
    Consume(consume::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    report::init_logging(cli.log_format);
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Run(args) => run::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Load(args) => load::run(args),
        Command::Topics(args) => topics::run(args),
        Command::Consume(args) => consume::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            report::print_error(&e);
            ExitCode::from(1)
        }
    }
}
