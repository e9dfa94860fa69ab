//! `compass topics create|check`: provision and verify the topic catalogue.

use std::process::ExitCode;

use anyhow::Context;
use compass_connectors::topics::{Catalogue, TopicAdmin, DEFAULT_PREFIX};

use super::BrokerArgs;
use crate::report::broker_hint;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    broker: BrokerArgs,
    /// Prefix of every topic name.
    #[arg(long, env = "COMPASS_TOPIC_PREFIX", default_value = DEFAULT_PREFIX, global = true)]
    prefix: String,
    /// A catalogue file to use instead of the built-in topics/catalogue.toml.
    #[arg(long, global = true)]
    catalogue: Option<std::path::PathBuf>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create every missing topic (existing topics are left alone), then check.
    Create {
        /// Replication factor of new topics.
        #[arg(long, default_value_t = 1)]
        replication: i32,
    },
    /// Report drift: missing topics, fewer partitions, another cleanup policy (exit 3).
    Check,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let catalogue = match &args.catalogue {
        None => Catalogue::builtin(&args.prefix),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the catalogue {}", path.display()))?;
            Catalogue::parse(&text, &args.prefix)
                .with_context(|| format!("bad catalogue {}", path.display()))?
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin =
        TopicAdmin::new(&args.broker.settings()).context("cannot create a Kafka admin client")?;
    runtime.block_on(async {
        if let Action::Create { replication } = args.action {
            let created = admin
                .create(&catalogue, replication)
                .await
                .context(broker_hint(&args.broker.brokers))
                .context("creating topics failed")?;
            for t in &created {
                println!("created  {t}");
            }
        }
        let (states, drift) = admin
            .check(&catalogue)
            .await
            .context(broker_hint(&args.broker.brokers))
            .context("reading topic metadata failed")?;
        for s in &states {
            let parts = s.partitions.map_or("-".to_string(), |p| p.to_string());
            let policy = s
                .cleanup_policy
                .as_deref()
                .unwrap_or("(not reported by the broker)");
            println!(
                "topic    {:<32} partitions {:>3}  cleanup.policy {}",
                s.topic, parts, policy
            );
        }
        if drift.is_empty() {
            println!("ok: {} topics match the catalogue", states.len());
            Ok(ExitCode::SUCCESS)
        } else {
            for d in &drift {
                eprintln!("drift: {d}");
            }
            eprintln!("{} topic(s) differ from the catalogue", drift.len());
            Ok(ExitCode::from(3))
        }
    })
}
