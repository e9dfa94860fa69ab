//! How the binary talks to people: logging set-up and error reports (a short primary
//! message, then the detail chain, then a hint where one is known).

use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs go to stderr; the level comes from `COMPASS_LOG` (default `warn`), e.g.
/// `COMPASS_LOG=compass=info,librdkafka=warn`.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("COMPASS_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// An error with a hint for the person at the terminal.
#[derive(Debug)]
pub struct Hint(pub String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Hint {}

/// Print `e` as: `error: <primary>`, then `detail:` lines for its causes (skipping causes
/// that only repeat the line above), then the hint if one is attached anywhere in the chain.
pub fn print_error(e: &anyhow::Error) {
    let hint = e.downcast_ref::<Hint>().map(|h| h.0.clone());
    let mut previous = String::new();
    let mut first = true;
    for cause in e.chain() {
        let text = cause.to_string();
        if Some(&text) == hint.as_ref() || (!previous.is_empty() && previous.contains(&text)) {
            continue;
        }
        if first {
            eprintln!("error: {text}");
            first = false;
        } else {
            eprintln!("  detail: {text}");
        }
        previous = text;
    }
    if let Some(h) = hint {
        eprintln!("  hint: {h}");
    }
}

/// The hint for errors that smell of an unreachable broker.
pub fn broker_hint(brokers: &str) -> Hint {
    Hint(format!(
        "is a Kafka broker listening on {brokers}? For a local one: `deploy/local/broker.sh start`; \
         for another cluster pass --brokers or set COMPASS_BROKERS"
    ))
}
